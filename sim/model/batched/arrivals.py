"""Batched pieces of the request layer that reproduce the event engine bit for bit (issue 10).

First piece: an actor group's arrival instants, computed with numpy from the same stream and
with the same float arithmetic as `World._arrivals` and SimPy's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

#: Gaps drawn at a time while a window is being filled (any size gives the same instants).
CHUNK = 4096
#: A group whose longest window expects fewer arrivals than this runs the arrivals loop on a list.
FEW = 24.0


def clock_times(local: np.ndarray, first: float = 0.0) -> np.ndarray:
    """Return SimPy's clock at each arrival: `now + (t - now)` from the previous arrival's clock.

    `first` is the clock before the first of them (the start, or the batch's previous arrival).

    The process waits `t - now` and SimPy adds that delay to `now`. For 0 <= now <= t rounding
    to nearest gives back `t` exactly, so one pass confirms the clock equals the loop's `t`;
    the recursion is still solved to its fixed point (each pass settles one more arrival) so
    the result does not rest on that argument.
    """
    clock = local.copy()
    while True:
        before = np.concatenate(([first], clock[:-1]))
        updated = before + (local - before)
        if np.array_equal(updated, clock):
            return clock
        clock = updated


class ArrivalCursor:
    """An actor group's arrivals, handed out batch by batch, equal to `World._arrivals` and SimPy's clock.

    It keeps the arrivals loop's state (the window, `t`, the pending gap) between batches, so
    where the batches end does not change a single instant.
    """

    def __init__(
        self, windows: Sequence[tuple[float, float]], rate: float, draw: Callable[[int], np.ndarray],
    ) -> None:
        self.windows = list(windows)
        self.rate = rate
        self.draw = draw
        self.index = 0
        self.gap = float(draw(1)[0]) / rate
        self.t = self.windows[0][0] if self.windows else 0.0
        self.pending = np.empty(0)
        self.clock = 0.0
        bounds = np.array(self.windows, dtype=float).reshape(-1, 2)
        longest = float((bounds[:, 1] - bounds[:, 0]).max()) if bounds.size else 0.0
        #: Whether every window expects fewer than FEW arrivals (then `_sparse` fills them, from a list).
        self.sparse = longest * rate < FEW
        self._gaps: list[float] = []
        self._used = 0

    def until(self, limit: float) -> np.ndarray:
        """Return SimPy's clock at each arrival before `limit` not handed out yet."""
        local = self._sparse(limit) if self.sparse else self._dense(limit)
        if local.size == 0:
            return local
        clock = clock_times(local, self.clock)
        self.clock = float(clock[-1])
        return clock

    def _sparse(self, limit: float) -> np.ndarray:
        """Return the instants before `limit` of a group that expects few arrivals in any window.

        The arrivals loop itself, on a list of gaps: cheaper than array calls when a window
        holds one or two requests, as it does for each of a hundred small groups.
        """
        windows = self.windows
        count = len(windows)
        gaps, used = self._gaps, self._used
        drawn = len(gaps)
        t, gap, index = self.t, self.gap, self.index
        taken: list[float] = []
        append = taken.append
        while index < count:
            start, end = windows[index]
            if start >= limit:
                break
            stop = end if end <= limit else limit
            while t + gap < stop:
                t += gap
                append(t)
                if used == drawn:
                    gaps, used = (self.draw(CHUNK) / self.rate).tolist(), 0
                    drawn = len(gaps)
                gap = gaps[used]
                used += 1
            if stop < end:
                break
            index += 1
            gap -= end - t
            t = windows[index][0] if index < count else 0.0
        self.t, self.gap, self.index, self._gaps, self._used = t, gap, index, gaps, used
        return np.array(taken)

    def _dense(self, limit: float) -> np.ndarray:
        """Return the instants before `limit`, window by window with array sums."""
        found: list[np.ndarray] = []
        windows = self.windows
        while self.index < len(windows):
            start, end = windows[self.index]
            if start >= limit:
                break
            stop = end if end <= limit else limit
            t, gap, pending = self.t, self.gap, self.pending
            while pending.size == 0 or t + gap < stop:
                if pending.size == 0:
                    pending = self.draw(CHUNK) / self.rate
                # Add up only about as many gaps as the window can hold: a short window of a
                # small group must not cost a pass over the whole block (the sums are the same).
                head = pending[:max(int((stop - t) * self.rate * 1.25), 0) + 16]
                sums = np.add.accumulate(np.concatenate(([t, gap], head[:-1])))[1:]
                inside = int(np.searchsorted(sums >= stop, True))
                found.append(sums[:inside])
                if inside < sums.size:
                    if inside:
                        t, gap, pending = float(sums[inside - 1]), float(pending[inside - 1]), pending[inside:]
                    break
                t, gap, pending = float(sums[-1]), float(head[-1]), pending[head.size:]
            if stop < end:
                self.t, self.gap, self.pending = t, gap, pending
                break
            self.index += 1
            self.t = windows[self.index][0] if self.index < len(windows) else 0.0
            self.gap, self.pending = gap - (end - t), pending
        return np.concatenate(found) if found else np.empty(0)
