"""The decision among candidate arrangements: which pairs can be told apart, and which question to ask.

Every arrangement of a world runs the same replications under the same seed (common random
numbers), so within a world the replication-by-replication differences of two arrangements
are paired. A world *tells a pair apart* when a paired t-test on those differences rejects
"no difference" at the 5% level (two-sided); with a single replication there is nothing to
test, and any non-zero difference counts. A pair that is told apart in fewer than half the
worlds is *indistinguishable*: its ordering is replication noise, not a finding, and it is
never the automatic discovery question.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from sim.errors import InputError
from sim.experiment.discovery import Question

#: Level of the per-world paired test.
PAIRED_ALPHA = 0.05
#: A pair told apart in fewer than this share of its worlds is indistinguishable.
DISTINGUISHABLE_SHARE = 0.5

Cells = dict[str, list[list[float | None]]]  # arrangement -> per-world replication values


def check_candidates(candidates: Sequence[str] | None, names: Sequence[str]) -> list[str]:
    """Return the candidates in the order given (every arrangement when none are named), or fail clearly.

    Args:
        candidates: Names given to `--candidates` (repeated, or comma-separated in one value).
        names: The explored arrangements' names.
    """
    if not candidates:
        return list(names)
    chosen: list[str] = []
    for given in candidates:
        for name in (part.strip() for part in given.split(",")):
            if not name:
                continue
            if name not in names:
                raise InputError("--candidates", name, "it is not one of the explored arrangements.",
                                 f"name arrangements by their scenario.name: {', '.join(names)}.")
            if name not in chosen:
                chosen.append(name)
    if len(chosen) < 2:
        raise InputError("--candidates", ",".join(chosen), "a decision needs at least two candidates.",
                         "name two or more arrangements, or leave out --candidates to decide among all.")
    return chosen


def paired_world(left: Sequence[float | None], right: Sequence[float | None]) -> bool | None:
    """Return whether one world tells two arrangements apart (None when no replication has both values)."""
    pairs = [(a, b) for a, b in zip(left, right, strict=False) if a is not None and b is not None]
    if not pairs:
        return None
    differences = np.asarray([a - b for a, b in pairs], dtype=float)
    if len(differences) < 2:
        return float(differences.mean()) != 0.0
    return _told_apart(differences[None, :])[0]


def world_verdicts(left: Sequence[Sequence[float | None]],
                   right: Sequence[Sequence[float | None]]) -> list[bool | None]:
    """Return `paired_world` of every world, the worlds with every replication of both settled as arrays at once.

    The worlds whose replications pair up whole are tested together, grouped by their number of
    replications; the other worlds go through `paired_world` one by one. Both use `_told_apart`.
    """
    verdicts = [paired_world(x, y) if not _complete(x, y) else None for x, y in zip(left, right, strict=True)]
    by_count: dict[int, list[int]] = {}
    for world, (x, y) in enumerate(zip(left, right, strict=True)):
        if _complete(x, y):
            by_count.setdefault(len(x), []).append(world)
    for worlds in by_count.values():
        differences = np.asarray([left[w] for w in worlds], dtype=float) - np.asarray([right[w] for w in worlds],
                                                                                      dtype=float)
        for w, verdict in zip(worlds, _told_apart(differences), strict=True):
            verdicts[w] = verdict
    return verdicts


def _told_apart(differences: np.ndarray) -> list[bool]:
    """Return, for each row of paired differences (two or more each), whether its mean differs from zero.

    A two-sided paired t test at `PAIRED_ALPHA`; with no spread, any nonzero mean tells them apart.
    """
    from scipy import stats  # deferred: scipy.stats is most of the command line's start-up time

    count = differences.shape[1]
    mean, spread = differences.mean(axis=1), differences.std(axis=1, ddof=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        tail = 2.0 * stats.t.sf(np.abs(mean / (spread / math.sqrt(count))), count - 1)
    return [bool(m != 0.0) if s == 0.0 else bool(p < PAIRED_ALPHA)
            for m, s, p in zip(mean.tolist(), spread.tolist(), tail.tolist(), strict=True)]


def _complete(left: Sequence[float | None], right: Sequence[float | None]) -> bool:
    """Return whether two worlds' replications pair up whole: as many of each, two or more, none missing."""
    return len(left) == len(right) >= 2 and None not in left and None not in right


def ties(cells: Cells, candidates: Sequence[str]) -> dict[str, dict[str, Any]]:
    """Return, for each candidate pair `a|b`, how many worlds tell it apart and whether it is a tie."""
    found: dict[str, dict[str, Any]] = {}
    for a, b in itertools.combinations(candidates, 2):
        verdicts = world_verdicts(cells[a], cells[b])
        tested = [v for v in verdicts if v is not None]
        apart = sum(tested)
        found[f"{a}|{b}"] = {"left": a, "right": b, "worlds": len(tested), "distinguishable_worlds": int(apart),
                             "indistinguishable": not tested or apart < DISTINGUISHABLE_SHARE * len(tested),
                             "apart": [v is True for v in verdicts]}
    return found


def indistinguishable(pair_ties: dict[str, dict[str, Any]], left: str, right: str) -> bool:
    """Return whether two candidates were found indistinguishable (False for a pair not tested)."""
    entry = pair_ties.get(f"{left}|{right}") or pair_ties.get(f"{right}|{left}")
    return bool(entry and entry["indistinguishable"])


def flip_question(pair_ties: dict[str, dict[str, Any]], means: dict[str, np.ndarray]) -> Question | None:
    """Return the distinguishable pair whose ordering flips most often among the worlds that tell it apart.

    The question is asked the way round that holds in fewer worlds (`a < b` where a wins the
    minority of them); None when no distinguishable pair flips at all.
    """
    best: tuple[float, str, str] | None = None
    for entry in pair_ties.values():
        if entry["indistinguishable"]:
            continue
        a, b = entry["left"], entry["right"]
        apart = np.asarray(entry["apart"], dtype=bool)
        wins = int(np.sum(means[a][apart] < means[b][apart]))
        total = int(apart.sum())
        minority = min(wins, total - wins) / total if total else 0.0
        if minority > 0.0 and (best is None or minority > best[0]):
            best = (minority, a, b) if wins <= total - wins else (minority, b, a)
    if best is None:
        return None
    return Question(f"{best[1]} < {best[2]}", best[1], "<", best[2])


def regret_against(means: dict[str, np.ndarray], candidates: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """Return every arrangement's regret against the best candidate of each world: max, p90, mean.

    A reference (an arrangement not among the candidates) can have a negative regret: it leaves
    less than any candidate in that world.
    """
    stacked = np.vstack([means[n] for n in candidates])
    everything = np.vstack([means[n] for n in means])
    usable = np.all(np.isfinite(everything), axis=0)
    best = stacked[:, usable].min(axis=0) if usable.any() else np.zeros(0)
    table: dict[str, dict[str, float | None]] = {}
    for name, values in means.items():
        gaps = values[usable] - best
        table[name] = ({"max": float(gaps.max()), "p90": float(np.percentile(gaps, 90)), "mean": float(gaps.mean())}
                       if gaps.size else {"max": None, "p90": None, "mean": None})
    return table


def best_share(means: dict[str, np.ndarray], candidates: Sequence[str]) -> dict[str, float | None]:
    """Return each candidate's share of worlds in which it leaves the least (ties shared equally)."""
    stacked = np.vstack([means[n] for n in candidates])
    usable = np.all(np.isfinite(stacked), axis=0)
    if not usable.any():
        return dict.fromkeys(candidates)
    values = stacked[:, usable]
    lowest = values == values.min(axis=0)
    shares = (lowest / lowest.sum(axis=0)).sum(axis=1) / values.shape[1]
    return {name: float(share) for name, share in zip(candidates, shares, strict=True)}
