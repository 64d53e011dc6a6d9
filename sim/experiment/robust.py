"""Robust comparison across plausible worlds: bands, win probabilities, regret and what drives them."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.experiment.decision import best_share, regret_against
from sim.metrics.stats import estimate

#: The headline metrics reported across worlds (those the model reports; missing ones are skipped).
HEADLINE_METRICS = ("residual_access.events", "residual_access.distinct_records",
                    "at_rest_abroad.record_days", "friction.decision_hours")
Cells = dict[str, list[list[float | None]]]  # arrangement -> per-world replication values


def world_means(cells: Cells) -> dict[str, np.ndarray]:
    """Return each arrangement's per-world mean over replications (NaN where undefined)."""
    means = {}
    for name, worlds in cells.items():
        counts = {len(reps) for reps in worlds}
        if len(counts) == 1 and all(v is not None for reps in worlds for v in reps) and 0 not in counts:
            # Every world has all its replications: one reduction along the rows, each row summed as np.mean sums it.
            means[name] = np.asarray(worlds, dtype=float).reshape(len(worlds), -1).mean(axis=1)
            continue
        values = []
        for reps in worlds:
            known = [v for v in reps if v is not None]
            values.append(float(np.mean(known)) if known else math.nan)
        means[name] = np.asarray(values, dtype=float)
    return means


def band(values: np.ndarray) -> dict[str, float | None]:
    """Return the 5th, 50th and 95th percentiles across worlds (None where no world has a value)."""
    known = values[np.isfinite(values)]
    if known.size == 0:
        return {"p05": None, "p50": None, "p95": None}
    p05, p50, p95 = np.percentile(known, [5, 50, 95])
    return {"p05": float(p05), "p50": float(p50), "p95": float(p95)}


def replication_noise(worlds: list[list[float | None]]) -> float | None:
    """Return the median across worlds of the 95% half-width of a world's mean (replication noise)."""
    widths = []
    for reps in worlds:
        value = estimate([v for v in reps if v is not None])
        if value.mean is not None and value.high is not None:
            widths.append(value.high - value.mean)
    return float(np.median(widths)) if widths else None


def wilson(successes: float, trials: int) -> list[float]:
    """Return the Wilson score 95% interval of a proportion."""
    if trials == 0:
        return [0.0, 1.0]
    z = 1.959963984540054
    share = successes / trials
    centre = (share + z * z / (2 * trials)) / (1 + z * z / trials)
    half = z * math.sqrt(share * (1 - share) / trials + z * z / (4 * trials * trials)) / (1 + z * z / trials)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def p_less(left: np.ndarray, right: np.ndarray) -> dict[str, Any]:
    """Return the share of worlds where `left` is below `right` (ties count half), with its interval."""
    both = np.isfinite(left) & np.isfinite(right)
    n = int(both.sum())
    if n == 0:
        return {"mean": None, "ci95": None, "worlds": 0, "ties": 0}
    ties = int(np.sum(left[both] == right[both]))
    wins = float(np.sum(left[both] < right[both]) + 0.5 * ties)
    return {"mean": wins / n, "ci95": wilson(wins, n), "worlds": n, "ties": ties}


def pairwise(means: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    """Return, for each ordered pair, p_less and the paired difference across worlds."""
    table: dict[str, dict[str, Any]] = {}
    for a, left in means.items():
        for b, right in means.items():
            if a == b:
                continue
            difference = left - right
            table.setdefault(a, {})[b] = {"p_less": p_less(left, right), "median_difference": band(difference)["p50"],
                                          "difference": band(difference)}
    return table


def regret(means: dict[str, np.ndarray]) -> dict[str, dict[str, float | None]]:
    """Return each arrangement's regret (its gap to the best arrangement of each world): max, p90, mean."""
    names = list(means)
    stacked = np.vstack([means[n] for n in names])
    usable = np.all(np.isfinite(stacked), axis=0)
    best = stacked[:, usable].min(axis=0) if usable.any() else np.zeros(0)
    table: dict[str, dict[str, float | None]] = {}
    for i, name in enumerate(names):
        gaps = stacked[i, usable] - best
        table[name] = ({"max": float(gaps.max()), "p90": float(np.percentile(gaps, 90)), "mean": float(gaps.mean())}
                       if gaps.size else {"max": None, "p90": None, "mean": None})
    return table


def ranking(regrets: dict[str, dict[str, float | None]]) -> list[str]:
    """Return the arrangements ordered by maximum regret, then 90th-percentile regret."""
    def key(name: str) -> tuple[float, float]:
        entry = regrets[name]
        return (math.inf if entry["max"] is None else entry["max"], math.inf if entry["p90"] is None else entry["p90"])

    return sorted(regrets, key=key)


def first_order(parameter: Sequence[Any], output: np.ndarray) -> float | None:
    """Return the first-order (Sobol) index of a parameter estimated from given data by binning.

    Worlds are split into about sqrt(N) equal-count bins of the parameter (one bin per value
    for a categorical one); the index is the variance of the bin means over the variance of
    the output. With no spread in the output it is undefined (None).
    """
    return first_orders(parameter, np.asarray(output, dtype=float).reshape(1, -1))[0]


def first_orders(parameter: Sequence[Any], outputs: np.ndarray,
                 bins: tuple[np.ndarray, np.ndarray] | None = None) -> list[float | None]:
    """Return `first_order` of a parameter on each row of `outputs` (outputs x worlds), the same values.

    The rows with every world's value share one binning of the parameter (`bins`, when the
    caller has it: `_bins(parameter)`) and are settled as arrays, row by row as numpy reduces
    them (so each row's sums are those of that row alone).
    """
    outputs = np.asarray(outputs, dtype=float)
    known = np.isfinite(outputs)
    found: list[float | None] = [None] * len(outputs)
    whole = [r for r in range(len(outputs)) if known[r].all()]
    for r in (r for r in range(len(outputs)) if not known[r].all()):  # rows with missing worlds: one by one
        keep = known[r]
        values = outputs[r][keep]
        if keep.sum() >= 4 and float(np.var(values)) != 0.0:
            found[r] = _explained(_bins([p for p, k in zip(parameter, keep, strict=True) if k]), values[None, :])[0]
    if whole and outputs.shape[1] >= 4:
        spread = np.var(outputs[whole], axis=1)
        varied = [r for r, v in zip(whole, spread.tolist(), strict=True) if v != 0.0]
        if varied:
            shared = _bins(parameter) if bins is None else bins
            for r, index in zip(varied, _explained(shared, outputs[varied]), strict=True):
                found[r] = index
    return found


def _bins(column: Sequence[Any]) -> tuple[np.ndarray, np.ndarray]:
    """Return the worlds grouped by bin (stably: each bin's worlds in their order) and each bin's count."""
    if all(isinstance(p, str) for p in column):
        labels = np.unique(np.asarray(column), return_inverse=True)[1]
    else:
        order = np.argsort(np.asarray(column, dtype=float), kind="stable")
        bins = max(2, round(math.sqrt(len(column))))
        labels = np.empty(len(column), dtype=int)
        labels[order] = np.arange(len(column)) * bins // len(column)
    counts = np.bincount(labels)
    return np.argsort(labels, kind="stable"), counts[counts > 0]


def _explained(bins: tuple[np.ndarray, np.ndarray], values: np.ndarray) -> list[float]:
    """Return, for each row of `values`, the variance of its bin means over its variance (at most 1)."""
    grouping, counts = bins
    ordered = values[:, grouping]
    starts = np.cumsum(counts) - counts
    means = np.empty((len(values), len(counts)))
    # Each bin's mean is its contiguous run of worlds reduced alone. The bins of one size are gathered as the rows
    # of one C-ordered 2-d array, reduced along its rows as a contiguous slice is (numpy's pairwise sum of each
    # row); a 3-d array reduced along its last axis, or a Fortran-ordered one, would add in another order.
    for size in np.unique(counts).tolist():
        which = np.flatnonzero(counts == size)
        # (advanced indexing may hand back a Fortran-ordered array: made C-ordered, each row's worlds are adjacent)
        taken = np.ascontiguousarray(ordered[:, (starts[which][:, None] + np.arange(size)).ravel()]).reshape(-1, size)
        means[:, which] = taken.mean(axis=1).reshape(len(values), len(which))
    # Summed bin by bin, in order (a running sum adds left to right): the one-world-at-a-time formula's rounding.
    gaps = means - values.mean(axis=1)[:, None]
    # Squared by multiplying, which IEEE rounds exactly on every machine: numpy's `power` and libm's `pow` differ
    # from it (and from each other) in a last bit now and then, and which of them numpy uses changed in numpy 2.4.
    terms = counts * (gaps * gaps)
    explained = np.cumsum(terms, axis=1)[:, -1]
    totals = np.var(values, axis=1)
    return [float(min(1.0, e / values.shape[1] / float(t))) for e, t in zip(explained.tolist(), totals.tolist(),
                                                                            strict=True)]


def importance(parameters: dict[str, list[Any]], difference: np.ndarray) -> dict[str, float]:
    """Return each parameter's first-order index on a paired difference, largest first."""
    scores = {key: first_order(column, difference) for key, column in parameters.items()}
    return _ranked(scores)


def importances(parameters: dict[str, list[Any]], applies: dict[str, set[str]], means: dict[str, np.ndarray],
                pairs: Sequence[tuple[str, str]]) -> dict[tuple[str, str], dict[str, float]]:
    """Return `importance` of each pair's difference over the parameters that apply to either of the pair.

    The same values as pair by pair; each parameter is binned once and scored on all its pairs' differences at once.
    """
    scores: dict[tuple[str, str], dict[str, float | None]] = {pair: {} for pair in pairs}
    for key, column in parameters.items():
        mine = [(a, b) for a, b in pairs if applies[key] & {a, b}]
        if mine:
            found = first_orders(column, np.stack([means[a] - means[b] for a, b in mine]), _bins(column))
            for pair, score in zip(mine, found, strict=True):
                scores[pair][key] = score
    return {pair: _ranked(found) for pair, found in scores.items()}


def _ranked(scores: dict[str, float | None]) -> dict[str, float]:
    kept = {key: round(score, 6) for key, score in scores.items() if score is not None}
    return dict(sorted(kept.items(), key=lambda item: -item[1]))


def comparison(table: dict[str, Cells], metric: str, parameters: dict[str, list[Any]],
               applies: dict[str, set[str]], keep: np.ndarray | None = None,
               candidates: Sequence[str] | None = None) -> dict[str, Any]:
    """Return the robust comparison of the worlds selected by `keep` (all when None).

    Regret is the gap to the best *candidate* of each world, and the ranking orders the
    candidates; the other arrangements are references, ranked after them by the same regret.

    Args:
        table: metric -> arrangement -> per-world replication values.
        metric: The metric compared (lower is better).
        parameters: Each dimension's values by world.
        applies: Each dimension's arrangements, to score only the parameters a pair depends on.
        keep: A boolean mask of the worlds to compare.
        candidates: The arrangements the decision is among (all when None).
    """
    selected = {m: {name: [w for w, k in zip(worlds, _mask(worlds, keep), strict=True) if k]
                    for name, worlds in cells.items()} for m, cells in table.items()}
    chosen = {key: [v for v, k in zip(column, _mask(column, keep), strict=True) if k]
              for key, column in parameters.items()}
    means = world_means(selected[metric])
    arrangements: dict[str, Any] = {}
    for name in means:
        arrangements[name] = {}
        for path in dict.fromkeys((*HEADLINE_METRICS, metric)):
            if path in selected:
                entry: dict[str, Any] = band(world_means({name: selected[path][name]})[name])
                entry["replication_noise"] = replication_noise(selected[path][name])
                arrangements[name][path] = entry
    pairs = pairwise(means)
    ordered = [(a, b) for a, row in pairs.items() for b in row]
    for (a, b), scores in importances(chosen, applies, means, ordered).items():
        pairs[a][b]["importance"] = scores
    chosen_names = list(candidates) if candidates else list(means)
    regrets = regret_against(means, chosen_names) if means else {}
    references = [n for n in means if n not in chosen_names]
    return {"worlds": len(next(iter(means.values()))) if means else 0, "metric": metric,
            "arrangements": arrangements, "pairwise": pairs, "regret": regrets,
            "ranking": ranking({n: regrets[n] for n in chosen_names}) if means else [],
            "references": ranking({n: regrets[n] for n in references}),
            "best_share": best_share(means, chosen_names) if means else {}}


def _mask(column: Sequence[Any], keep: np.ndarray | None) -> list[bool]:
    return [True] * len(column) if keep is None else [bool(k) for k in keep]
