"""PRIM, the patient rule induction method (Friedman and Fisher 1999), over numpy arrays.

Scenario discovery asks in which part of the parameter space a yes/no question holds. PRIM
answers with a box: starting from every world, it peels, step by step, the slice of one
parameter (a share `peel_alpha` of the worlds at the low or the high end of a number, or every
world of one alternative of a categorical parameter) whose removal raises the share of worlds
where the question holds the most per world removed, until fewer than `mass_min` of the worlds
would be left. The
boxes along the way form the peeling trajectory: coverage (the share of all the worlds where
the question holds that the box holds) falls as density (the share of the box's worlds where
it holds) rises, and the analyst picks a box from it. A second box is peeled from the worlds
the first one does not hold (the covering approach). No pasting step is taken.

Each restricted parameter of a box carries a quasi-p-value (as in the EMA Workbench): the
chance, under a binomial law, of at least the box's count of cases if the restriction were
dropped, i.e. how likely a restriction this strong is by chance.

Written here, in the package, because the maintained Python implementation (the `prim`
package) is GPL-3.0 and this package is MIT; the method is the published one, in numpy.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

PEEL_ALPHA = 0.05
MASS_MIN = 0.05


@dataclass(frozen=True)
class Step:
    """One box of a peeling trajectory: its limits and its statistics over the worlds it was peeled from."""

    numeric: dict[str, tuple[float, float]]
    categories: dict[str, frozenset[str]]
    inside: np.ndarray
    coverage: float
    density: float
    mass: float
    restricted: int


@dataclass
class Box:
    """A peeling trajectory over the `remaining` worlds, and the limits of each parameter at its start."""

    steps: list[Step]
    remaining: np.ndarray
    full_numeric: dict[str, tuple[float, float]] = field(default_factory=dict)
    full_categories: dict[str, frozenset[str]] = field(default_factory=dict)

    def limits(self, index: int) -> dict[str, Any]:
        """Return the restricted parameters of step `index`: [low, high] for a number, the kept alternatives else."""
        step = self.steps[index]
        return self.restrictions(step.numeric, step.categories)

    def restrictions(self, numeric: dict[str, tuple[float, float]],
                     categories: dict[str, frozenset[str]]) -> dict[str, Any]:
        """Return the limits among `numeric` and `categories` that differ from the box's start."""
        found: dict[str, Any] = {k: limit for k, limit in numeric.items() if limit != self.full_numeric[k]}
        found.update({k: kept for k, kept in categories.items() if kept != self.full_categories[k]})
        return found


class Prim:
    """Find PRIM boxes of the worlds where `holds` is true, over parameters given as columns."""

    def __init__(self, columns: dict[str, list[Any]], holds: np.ndarray, peel_alpha: float = PEEL_ALPHA,
                 mass_min: float = MASS_MIN) -> None:
        self.holds = np.asarray(holds, dtype=bool)
        self.numbers = {k: np.asarray(v, dtype=float) for k, v in columns.items() if not isinstance(v[0], str)}
        self.keys = list(self.numbers)
        self.matrix = (np.column_stack([self.numbers[k] for k in self.keys]) if self.keys
                       else np.empty((self.holds.size, 0)))
        self.labels = {k: np.asarray(v, dtype=object) for k, v in columns.items() if isinstance(v[0], str)}
        self.peel_alpha = peel_alpha
        self.mass_min = mass_min
        self.remaining = np.ones(self.holds.size, dtype=bool)
        self.total_cases = int(self.holds.sum())

    def find_box(self) -> Box | None:
        """Peel a box from the worlds no earlier box holds; None when none of them has the question hold."""
        if not self.holds[self.remaining].any():
            return None
        inside = self.remaining.copy()
        numeric = {k: (float(v[inside].min()), float(v[inside].max())) for k, v in self.numbers.items()}
        categories = {k: frozenset(str(x) for x in v[inside]) for k, v in self.labels.items()}
        box = Box([], self.remaining.copy(), dict(numeric), dict(categories))
        box.steps.append(self._step(inside, numeric, categories, box))
        while True:
            peeled = self._peel(inside, numeric, categories)
            if peeled is None:
                break
            inside, numeric, categories = peeled
            box.steps.append(self._step(inside, numeric, categories, box))
        return box

    def take(self, box: Box, index: int) -> None:
        """Set the worlds of step `index` of `box` aside, so that the next box is peeled from the rest."""
        self.remaining &= ~box.steps[index].inside

    def quasi_p(self, box: Box, index: int) -> dict[str, float]:
        """Return each restricted parameter's quasi-p-value at step `index` (binomial, the restriction dropped)."""
        from scipy import stats  # deferred: scipy.stats is slow to import

        step = box.steps[index].inside
        cases, size = int(self.holds[step].sum()), int(step.sum())
        found: dict[str, float] = {}
        for key in box.limits(index):
            without = box.remaining.copy()
            for other, (low, high) in box.steps[index].numeric.items():
                if other != key:
                    without &= (self.numbers[other] >= low) & (self.numbers[other] <= high)
            for other, kept in box.steps[index].categories.items():
                if other != key:
                    without &= np.isin(self.labels[other], list(kept))
            share = float(self.holds[without].mean()) if without.any() else 0.0
            found[key] = float(stats.binom.sf(cases - 1, size, share))
        return found

    def _step(self, inside: np.ndarray, numeric: dict[str, tuple[float, float]],
              categories: dict[str, frozenset[str]], box: Box) -> Step:
        cases = int(self.holds[inside].sum())
        size = int(inside.sum())
        restricted = len(box.restrictions(numeric, categories))
        return Step(dict(numeric), dict(categories), inside, cases / self.total_cases if self.total_cases else 0.0,
                    cases / size if size else 0.0, size / self.holds.size, restricted)

    def _peel(self, inside: np.ndarray, numeric: dict[str, tuple[float, float]],
              categories: dict[str, frozenset[str]]) -> tuple[np.ndarray, dict[str, tuple[float, float]],
                                                              dict[str, frozenset[str]]] | None:
        """Return the box after the best peel, or None when every peel leaves less than `mass_min` of the worlds.

        The best peel gains the most density per world it removes (the EMA Workbench's default
        objective, "lenient 1"): a peel of a whole alternative, a third of the box, is not chosen
        for a chance gain in density that a thin slice of a number gives at less cost.
        """
        least = self.mass_min * self.holds.size
        before = int(inside.sum())
        density = float(self.holds[inside].mean())
        best: tuple[float, int] | None = None
        chosen: Any = None
        if self.keys:  # every number's low and high slice at once: one column of candidates per side
            inner, cases = self.matrix[inside], self.holds[inside].astype(float)
            low, high = _quantiles(inner, self.peel_alpha)
            keeps = np.stack([inner >= low, inner <= high], axis=2).reshape(len(inner), -1)  # key0 low, key0 high, ...
            sizes = keeps.sum(axis=0)
            gains = (cases @ keeps) / np.maximum(sizes, 1) - density
            valid = (sizes < before) & (sizes >= least)
            if valid.any():
                scores = np.where(valid, gains / np.maximum(before - sizes, 1), -np.inf)
                top = scores.max()
                index = int(np.flatnonzero((scores == top) & (sizes == sizes[scores == top].max()))[0])
                rows = np.flatnonzero(inside)
                keep = np.zeros_like(inside)
                keep[rows[keeps[:, index]]] = True
                best = (float(top), int(sizes[index]))
                column = index // 2
                cut = float(low[column] if index % 2 == 0 else high[column])
                chosen = (keep, self.keys[column], ("low" if index % 2 == 0 else "high", cut))
        for key, labels in self.labels.items():
            present = sorted(categories[key])
            if len(present) < 2:
                continue
            for label in present:
                keep = inside & (labels != label)
                size = int(keep.sum())
                if size == before or size < least:
                    continue
                score = ((float(self.holds[keep].mean()) - density) / (before - size), size)
                if best is None or score > best:
                    best, chosen = score, (keep, key, label)
        if chosen is None:
            return None
        keep, key, what = chosen
        numeric, categories = dict(numeric), dict(categories)
        if key in self.numbers:  # the new limit is the peel's cut (between the last kept and first peeled world)
            side, cut = what
            lower, upper = numeric[key]
            numeric[key] = (cut, upper) if side == "low" else (lower, cut)
        else:
            categories[key] = categories[key] - {what}
        return keep, numeric, categories


def _quantiles(values: np.ndarray, alpha: float) -> tuple[np.ndarray, np.ndarray]:
    """Return each column's `alpha` and `1 - alpha` quantiles (linear interpolation, as numpy's default)."""
    ordered = np.sort(values, axis=0)
    found = []
    for share in (alpha, 1.0 - alpha):
        position = share * (len(ordered) - 1)
        below = int(np.floor(position))
        above = min(below + 1, len(ordered) - 1)
        found.append(ordered[below] + (ordered[above] - ordered[below]) * (position - below))
    return found[0], found[1]
