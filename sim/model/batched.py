"""Batched pieces of the request layer that reproduce the event engine bit for bit (issue 10).

First piece: an actor group's arrival instants, computed with numpy from the same stream and
with the same float arithmetic as `World._arrivals` and SimPy's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: Gaps drawn at a time while a window is being filled (any size gives the same instants).
CHUNK = 4096


def local_times(
    windows: Sequence[tuple[float, float]], rate: float, draw: Callable[[int], np.ndarray],
) -> np.ndarray:
    """Return the instants the arrivals loop reaches, as its running sum `t` computes them.

    `draw(n)` returns the next n unit-mean exponential draws of the group's arrival stream.
    Within a window `t` starts at the window's start and adds one gap per request while the
    sum stays below the window's end; the gap that overshoots is carried into the next window,
    shortened by what was left of this one. `np.add.accumulate` adds in sequence, as the loop does.
    """
    found: list[np.ndarray] = []
    pending = np.empty(0)
    gap = float(draw(1)[0]) / rate
    for start, end in windows:
        t = start
        while True:
            if pending.size == 0:
                pending = draw(CHUNK) / rate
            sums = np.add.accumulate(np.concatenate(([t, gap], pending[:-1])))[1:]
            inside = int(np.searchsorted(sums >= end, True))  # first sum that reaches the end
            found.append(sums[:inside])
            if inside < sums.size:
                if inside:
                    t, gap, pending = float(sums[inside - 1]), float(pending[inside - 1]), pending[inside:]
                gap -= end - t
                break
            t, gap, pending = float(sums[-1]), float(pending[-1]), np.empty(0)
    return np.concatenate(found) if found else np.empty(0)


def clock_times(local: np.ndarray) -> np.ndarray:
    """Return SimPy's clock at each arrival: `now + (t - now)` from the previous arrival's clock.

    The process waits `t - now` and SimPy adds that delay to `now`. For 0 <= now <= t rounding
    to nearest gives back `t` exactly, so one pass confirms the clock equals the loop's `t`;
    the recursion is still solved to its fixed point (each pass settles one more arrival) so
    the result does not rest on that argument.
    """
    clock = local.copy()
    while True:
        before = np.concatenate(([0.0], clock[:-1]))
        updated = before + (local - before)
        if np.array_equal(updated, clock):
            return clock
        clock = updated
