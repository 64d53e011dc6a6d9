"""The wait histogram: log-spaced bins of queue waits, their edges and quantiles."""

from __future__ import annotations

import math

import numpy as np

# Wait histogram: bin 0 holds zero waits, bin 1 waits under 1e-3 h, then 200 log-spaced bins
# per decade up to 1e5 h (relative resolution about 1.2%).
HIST_MIN_LOG, HIST_PER_DECADE, HIST_DECADES = -3, 200, 8
HIST_BINS = 2 + HIST_PER_DECADE * HIST_DECADES + 1


def hist_index(wait: float) -> int:
    """Return the histogram bin of a wait in hours."""
    if wait <= 0.0:
        return 0
    if wait < 10.0**HIST_MIN_LOG:
        return 1
    index = 2 + int((math.log10(wait) - HIST_MIN_LOG) * HIST_PER_DECADE)
    return min(index, HIST_BINS - 1)


def hist_indexes(waits: np.ndarray) -> np.ndarray:
    """Return `hist_index` of each positive wait, exactly as the scalar function gives it.

    numpy's log10 may differ from libm's in the last bits (SIMD versions differ between CPUs),
    which moves a bin only for a wait within about 1e-12 of a bin edge on the bin scale; waits
    within 1e-6 of an edge are binned again with `hist_index` itself, the rest keep numpy's bin.
    """
    out = np.ones(waits.size, dtype=np.int64)
    above = waits >= 10.0**HIST_MIN_LOG
    with np.errstate(divide="ignore"):
        scaled = (np.log10(waits[above]) - HIST_MIN_LOG) * HIST_PER_DECADE
    index = np.minimum(2 + np.floor(scaled).astype(np.int64), HIST_BINS - 1)
    near = np.abs(scaled - np.round(scaled)) < 1e-6
    index[near] = [hist_index(wait) for wait in waits[above][near].tolist()]
    out[above] = index
    return out


def hist_edges(index: int) -> tuple[float, float]:
    """Return the lower and upper wait (hours) of a histogram bin."""
    if index == 0:
        return 0.0, 0.0
    if index == 1:
        return 0.0, 10.0**HIST_MIN_LOG
    low = HIST_MIN_LOG + (index - 2) / HIST_PER_DECADE
    return 10.0**low, 10.0 ** (low + 1 / HIST_PER_DECADE)


def hist_quantile(counts: list[int], q: float) -> float:
    """Return the q-quantile of a wait histogram, interpolating inside the bin."""
    total = sum(counts)
    if total == 0:
        return math.nan
    target = q * total
    running = 0.0
    for index, count in enumerate(counts):
        if count and running + count >= target:
            low, high = hist_edges(index)
            return low + (high - low) * (target - running) / count
        running += count
    return hist_edges(len(counts) - 1)[1]
