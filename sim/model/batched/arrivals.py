"""Batched pieces of the request layer that reproduce the event engine bit for bit (issue 10).

First piece: an actor group's arrival instants, computed with numpy from the same stream and
with the same float arithmetic as `World._arrivals` and SimPy's clock.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

from sim.model.compiled import kernels

#: Gaps drawn at a time while a window is being filled (any size gives the same instants).
CHUNK = 4096
#: A group whose longest window expects fewer arrivals than this runs the arrivals loop on a list.
FEW = 24.0
#: Gaps each sparse group draws at a time when filled together (any size gives the same instants).
REFILL = 512
#: Gaps taken beyond a window's expected arrivals when sparse groups are filled together (`FewArrivals`).
HEAD_MARGIN = 16
#: Sorted runs above which `time_order` tries an unstable sort first: numpy's stable sort (timsort) merges
#: the runs, costing more with each run (52,000 times in 100 runs: 1.8 ms), an introsort does not (0.6 ms
#: with its check). Measured on 52,000 times: they cost the same at about four runs. Either gives the same order.
MERGE_RUNS = 4


def time_order(t: np.ndarray, runs: int) -> np.ndarray:
    """Return `np.argsort(t, kind="stable")` for times (no NaN) that come as `runs` sorted runs, one after another.

    With many runs, an unstable sort is taken instead when it leaves no two times equal: the
    order of distinct times is unique, so it is the stable sort's. Where two times are equal,
    only the stable sort says which comes first, and it is taken.
    """
    if runs <= MERGE_RUNS:
        return np.argsort(t, kind="stable")
    order = np.argsort(t)
    ordered = t.take(order)
    if (ordered[1:] == ordered[:-1]).any():
        return np.argsort(t, kind="stable")
    return order


def narrow_labels(labels: np.ndarray, bound: int) -> np.ndarray:
    """Return integer labels in [-1, bound) as 16-bit integers when `bound` fits 16 bits, else as they are.

    numpy sorts 16-bit integers stably by radix, in one pass (52,000 labels of 100 groups: 0.2 ms
    against 1.7 ms as 64-bit integers), in the same order. Labels kept narrow already are not copied.
    """
    return labels.astype(np.int16, copy=False) if bound <= np.iinfo(np.int16).max else labels


def label_order(labels: np.ndarray, bound: int) -> np.ndarray:
    """Return `np.argsort(labels, kind="stable")` for integer labels in [-1, bound), sorted narrow where they fit."""
    return np.argsort(narrow_labels(labels, bound), kind="stable")


def clock_times(local: np.ndarray, first: float | np.ndarray = 0.0, heads: np.ndarray | None = None) -> np.ndarray:
    """Return SimPy's clock at each arrival: `now + (t - now)` from the previous arrival's clock.

    `first` is the clock before the first of them (the start, or the batch's previous arrival).
    With `heads`, `local` holds several groups' arrivals one group after another, each group's
    starting at its position in `heads`, with its clock before it in `first` (an array): every
    group's clocks come out of the one pass.

    The process waits `t - now` and SimPy adds that delay to `now`. For 0 <= now <= t rounding
    to nearest gives back `t` exactly, so one pass confirms the clock equals the loop's `t`;
    the recursion is still solved to its fixed point (each pass settles one more arrival) so
    the result does not rest on that argument.
    """
    clock = local.copy()
    while True:
        before = np.concatenate(([0.0], clock[:-1]))
        if heads is None:
            before[0] = first
        else:
            before[heads] = first
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
        local = self.instants(limit)
        if local.size == 0:
            return local
        clock = clock_times(local, self.clock)
        self.clock = float(clock[-1])
        return clock

    def instants(self, limit: float) -> np.ndarray:
        """Return the arrivals loop's instants before `limit` not handed out yet (before SimPy's clock)."""
        return self._sparse(limit) if self.sparse else self._dense(limit)

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


#: A group's arrivals: its working windows (a sequence or an array of (start, end) rows), rate and gap draw.
Source = tuple[Sequence[tuple[float, float]] | np.ndarray, float, Callable[[int], np.ndarray]]


class GroupArrivals:
    """The arrivals of many actor groups, batch by batch: each group's equal to its own `ArrivalCursor`'s.

    Groups whose windows each expect few arrivals (`ArrivalCursor.sparse`), as each of a
    hundred small groups does, are filled together (`FewArrivals`); the others keep a cursor
    of their own. SimPy's clock is then solved for every group in one pass (`clock_times`).
    """

    def __init__(self, sources: Sequence[Source | None]) -> None:
        """Take each group's (windows, rate, gap draw), or None for a group that makes no requests.

        Windows may come as an array of (start, end) rows; groups on one calendar can share it.
        """
        longest: dict[int, float] = {}
        few: list[tuple[int, np.ndarray, float, Callable[[int], np.ndarray]]] = []
        self.cursors: dict[int, ArrivalCursor] = {}
        for k, source in enumerate(sources):
            if source is None:
                continue
            windows, rate, draw = source
            bounds = windows if isinstance(windows, np.ndarray) else np.array(windows, dtype=float).reshape(-1, 2)
            if id(bounds) not in longest:
                longest[id(bounds)] = float((bounds[:, 1] - bounds[:, 0]).max()) if bounds.size else 0.0
            if bounds.size and longest[id(bounds)] * rate < FEW:  # as `ArrivalCursor.sparse`
                few.append((k, bounds, rate, draw))
            else:
                self.cursors[k] = ArrivalCursor(bounds.tolist(), rate, draw)
        self.few = FewArrivals(few) if few else None
        self.clock = np.zeros(len(sources))

    def until(self, limit: float) -> tuple[np.ndarray, np.ndarray]:
        """Return SimPy's clock at each arrival before `limit` not handed out yet, and each one's group.

        They come group after group (in the order the groups were given), in time order within a group.
        """
        times, owners = [], []
        if self.few is not None:
            local, group = self.few.instants(limit)
            times.append(local)
            owners.append(group)
        for k, cursor in self.cursors.items():
            local = cursor.instants(limit)
            times.append(local)
            owners.append(np.full(local.size, k, dtype=np.int64))
        if not times:
            return np.empty(0), np.empty(0, dtype=np.int64)
        local, group = np.concatenate(times), np.concatenate(owners)
        if not local.size:
            return local, group
        order = label_order(group, self.clock.size)
        local, group = local.take(order), group.take(order)
        starts = np.flatnonzero(np.concatenate(([True], group[1:] != group[:-1])))
        clock = clock_times(local, self.clock[group[starts]], starts)
        lasts = np.concatenate((starts[1:], [group.size])) - 1
        self.clock[group[lasts]] = clock[lasts]
        return clock, group


class FewArrivals:
    """Sparse groups' arrivals filled together: each pass takes every group's current window at once.

    The arrivals loop of each group (`ArrivalCursor._sparse`) with its state (window, `t`, the
    pending gap, the drawn gaps) held in arrays across the groups: within a window a group's
    instants are the running sum of its gaps from the window's start, summed row by row
    (`np.add.accumulate` along a row adds in the loop's order), so they are the loop's to the bit.
    With Numba the loop itself runs compiled, group by group, on the same state
    (`compiled.sparse_arrivals`).
    """

    def __init__(self, groups: Sequence[tuple[int, np.ndarray, float, Callable[[int], np.ndarray]]]) -> None:
        """Take each group's number, windows (rows of start, end), rate and gap draw; draw each first gap."""
        self.groups = np.array([k for k, _, _, _ in groups], dtype=np.int64)
        self.draws = [draw for _, _, _, draw in groups]
        self.rate = np.array([rate for _, _, rate, _ in groups])
        self.count = np.array([len(bounds) for _, bounds, _, _ in groups], dtype=np.int64)
        width = int(self.count.max()) + 1
        self.starts = np.full((len(groups), width), np.inf)
        self.ends = np.full((len(groups), width), np.inf)
        for row, (_, bounds, _, _) in enumerate(groups):
            self.starts[row, :len(bounds)], self.ends[row, :len(bounds)] = bounds[:, 0], bounds[:, 1]
        #: Where `t` stands when each window opens: its start, and 0 past the last (as the loop has it).
        self.opens = np.where(self.starts < np.inf, self.starts, 0.0)
        self.index = np.zeros(len(groups), dtype=np.int64)
        self.t = self.starts[:, 0].copy()
        self.gap = np.array([float(draw(1)[0]) / rate for _, _, rate, draw in groups])
        self.gaps = np.empty((len(groups), 0))  # drawn gaps (over the rate), used up to `used`, drawn up to `drawn`
        self.used = np.zeros(len(groups), dtype=np.int64)
        self.drawn = np.zeros(len(groups), dtype=np.int64)

    def instants(self, limit: float) -> tuple[np.ndarray, np.ndarray]:
        """Return the loop's instants before `limit` not handed out yet, and each one's group (pass by pass).

        Each pass takes every group's current window; a group whose window is not open before
        `limit` sits the pass out (a stop of -inf: no instant, no change). The compiled loop
        gives the same instants group by group instead (how `GroupArrivals` reads them either way).
        """
        loop = kernels().sparse_arrivals
        if loop is not None:
            return self._compiled(loop, limit)
        found: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        rows = np.arange(self.rate.size)
        waiting = np.ones(rows.size, dtype=bool)  # not yet stopped at `limit` in this call
        t, gap, index, used = self.t, self.gap, self.index, self.used
        while True:
            begin, end = self.starts[rows, index], self.ends[rows, index]  # past the last window: +inf
            active = waiting & (begin < limit)
            if not active.any():
                break
            stop = np.where(active, np.minimum(end, limit), -np.inf)
            # About as many gaps as the fullest window can hold (any width gives the same instants).
            width = int(max(float(((stop - t) * self.rate).max()) * 1.25, 0.0)) + HEAD_MARGIN
            block = self._block(active, width)  # each row: t, the pending gap, then its next `width` gaps
            block[:, 0], block[:, 1] = t, gap
            full = np.add.accumulate(block, axis=1)  # full[:, n]: the n-th instant from t (full[:, 0] is t)
            sums = full[:, 1:width + 1]
            below = sums < stop[:, None]  # the sums never fall: a prefix of each row
            inside = below.sum(axis=1)
            found.append(sums[below])
            owners.append(np.repeat(self.groups, inside))
            last, pending = full[rows, inside], block[rows, inside + 1]  # a row sitting out: t and gap again
            used += inside
            done = active & (inside < width)  # else the window may hold more than the head: take it up again
            cut = done & (stop < end)
            waiting &= ~cut
            closed = done ^ cut
            gap = np.where(closed, pending - (end - last), pending)
            index += closed
            t = np.where(closed, self.opens[rows, index], last)
        self.t, self.gap = t, gap
        if not found:
            return np.empty(0), np.empty(0, dtype=np.int64)
        return np.concatenate(found), np.concatenate(owners)

    def _compiled(self, loop: Callable[..., tuple[np.ndarray, np.ndarray, np.ndarray]],
                  limit: float) -> tuple[np.ndarray, np.ndarray]:
        """Return what `instants` returns, from the compiled loop; groups that run out of gaps draw more and go on."""
        found: list[np.ndarray] = []
        owners: list[np.ndarray] = []
        rows = np.arange(self.rate.size)
        while rows.size:
            local, row, short = loop(limit, rows, self.starts, self.ends, self.count, self.index, self.t, self.gap,
                                     self.gaps, self.used, self.drawn)
            found.append(local)
            owners.append(self.groups[row])
            rows = rows[short]
            self._refill(rows, 0)
        return np.concatenate(found), np.concatenate(owners)

    def _block(self, active: np.ndarray, width: int) -> np.ndarray:
        """Return each group's next `width` drawn gaps after two columns for `t` and the pending gap.

        Groups taking part with too few drawn gaps draw more first; a group sitting the pass out
        gets whatever lies in its row's place (it reads none of it).
        """
        self._refill(np.flatnonzero(active & (self.used + width > self.drawn)), width)
        size = self.gaps.shape[1]
        places = (self.used + np.arange(-2, size * self.used.size - 2, size))[:, None] + np.arange(width + 2)
        block: np.ndarray = self.gaps.take(places, mode="clip")
        return block

    def _refill(self, short: np.ndarray, width: int) -> None:
        """Draw more gaps for the `short` rows: at least `REFILL` and twice `width` in all, the undrawn kept first."""
        if short.size:
            size = max(self.gaps.shape[1], 2 * width, REFILL)
            if size > self.gaps.shape[1]:
                wider = np.empty((self.gaps.shape[0], size))
                wider[:, :self.gaps.shape[1]] = self.gaps
                self.gaps = wider
            for row in short.tolist():
                left = int(self.drawn[row] - self.used[row])
                self.gaps[row, :left] = self.gaps[row, self.used[row]:self.drawn[row]]
                self.gaps[row, left:] = self.draws[row](size - left) / self.rate[row]
                self.used[row], self.drawn[row] = 0, size
