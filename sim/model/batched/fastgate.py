"""The steward gate as a next-free-time recursion, equal to `StewardGate` to the bit (issue 10).

Reviewers are identical and the queue is first-come, first-served, so a request's start
depends only on the requests before it: it starts at the later of its arrival and the
earliest moment a reviewer is free, moved to the next shift start if that moment is off
shift. The gate keeps no statistics: it gives its reviews (start, end, overtime) in start order
and its queue changes in time order, as the event engine reports them, and the recorder sums them.
"""

from __future__ import annotations

import heapq
import math
from dataclasses import dataclass, field

import numpy as np

from sim.model.compiled import Kernels, kernels
from sim.model.rulebook.tally import GateColumns

#: What became of a request handed to the gate.
STARTED, EXPIRED, WAITING = 0, 1, 2


def shift_clocks(shifts: list[tuple[float, float]] | None, horizon: float) -> list[tuple[float, float, float]]:
    """Return each shift's (start clock, end clock, rostered end) as `StewardGate._shifts` reaches them.

    The shift process waits `start - now` and `end - now`, and SimPy adds each delay to its
    clock, so the clocks are computed with the same additions. Without shifts the gate is on
    from the start and its shift ends at the horizon.
    """
    if shifts is None:
        return [(-math.inf, math.inf, horizon)]
    now, out = 0.0, []
    for start, end in shifts:
        if start > now:
            now = now + (start - now)
        begin = now
        now = now + (end - now)
        out.append((begin, now, end))
    return out


@dataclass
class GateState:
    """The gate's state, carried from one batch of requests to the next."""

    reviewers: int
    windows: list[tuple[float, float, float]]
    horizon: float
    free: list[float] = field(default_factory=list)  # heap of the reviewers' next free instants
    window: int = 0
    # Queue departures not yet reported: instant, and hours past the expiry (NaN if started).
    pulls: tuple[np.ndarray, np.ndarray] = field(default_factory=lambda: (np.empty(0), np.empty(0)))
    waiting: list[tuple[bool, float]] = field(default_factory=list)  # never pulled: (post review, expiry)
    queued: int = 0
    reviewing: int = 0

    def __post_init__(self) -> None:
        self.free = [0.0] * self.reviewers
        self.opens = np.array([begin for begin, _, _ in self.windows])
        self.ends = np.array([end for _, end, _ in self.windows])
        self.rostered_ends = np.array([rostered for _, _, rostered in self.windows])
        self.plain = len(self.windows) == 1 and self.windows[0][0] == -math.inf


@dataclass
class GateBatch:
    """What the gate made of one batch of submissions, in submission order."""

    status: np.ndarray
    start: np.ndarray  # the instant each left the queue (started or expired); >= horizon if never
    columns: GateColumns  # the reviews started and the queue's changes up to the batch's limit


def pick(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Return the values a mask marks: `values` itself, not a copy, where it marks them all (the common case)."""
    return values if rows.all() else values[rows]


def _starts(state: GateState, arrival: np.ndarray, review: np.ndarray, expiry: np.ndarray,
            never: bool) -> tuple[list[float] | np.ndarray, list[int] | np.ndarray]:
    """Return each request's start (or the instant it is found expired) and the expired ones' positions.

    `never` says no request in the batch can expire; without shifts the loop is then the bare
    Kiefer-Wolfowitz recursion. With Numba the same loop runs compiled (`compiled.gate_plain`,
    `compiled.gate_shifts`), on the reviewers' heap as an array.
    """
    compiled = kernels(arrival.size)
    if compiled.gate_plain is not None:
        return _compiled_starts(compiled, state, arrival, review, expiry, never)
    arrivals, reviews, expiries = arrival.tolist(), review.tolist(), expiry.tolist()
    free = state.free
    starts: list[float] = []
    gone: list[int] = []
    append, replace = starts.append, heapq.heapreplace
    if state.plain and never:
        for a, d in zip(arrivals, reviews, strict=True):
            m = free[0]
            x = a if a >= m else m
            replace(free, x + d)
            append(x)
        return starts, gone
    windows, w, inf = state.windows, state.window, math.inf
    nwin = len(windows)
    opens, closes = windows[w][:2] if w < nwin else (inf, inf)
    for i, (a, d, e) in enumerate(zip(arrivals, reviews, expiries, strict=True)):
        m = free[0]
        x = a if a >= m else m
        if x >= closes:
            while w < nwin and windows[w][1] <= x:
                w += 1
            opens, closes = windows[w][:2] if w < nwin else (inf, inf)
        if x < opens:
            x = opens
        if x > e:
            gone.append(i)
        else:
            replace(free, x + d)
        append(x)
    state.window = w
    return starts, gone


def _compiled_starts(compiled: Kernels, state: GateState, arrival: np.ndarray, review: np.ndarray,
                     expiry: np.ndarray, never: bool) -> tuple[np.ndarray, np.ndarray]:
    """Return what `_starts` returns, from the compiled loop on the reviewers' heap as an array."""
    assert compiled.gate_plain is not None and compiled.gate_shifts is not None
    heap = np.array(state.free, dtype=float)
    if state.plain and never:
        found = compiled.gate_plain(heap, arrival, review)
        expired = np.empty(0, dtype=np.int64)
    else:
        found, gone, state.window = compiled.gate_shifts(heap, state.opens, state.ends, state.window, arrival,
                                                         review, expiry)
        expired = np.flatnonzero(gone)
    state.free = heap.tolist()
    return found, expired


def run_gate(
    state: GateState, arrivals: np.ndarray, reviews: np.ndarray, expiries: np.ndarray,
    post: np.ndarray, limit: float,
) -> GateBatch:
    """Settle a batch of submissions in arrival order and give the gate's columns up to `limit`.

    Reviews are given in start order; queue changes (joins, departures, expiries) in time order
    up to `limit`, the later departures carried to the next batch.
    """
    horizon = state.horizon
    listed, gone = _starts(state, np.ascontiguousarray(arrivals, dtype=float),
                           np.ascontiguousarray(reviews, dtype=float), np.ascontiguousarray(expiries, dtype=float),
                           bool(np.isinf(expiries).all()))
    x = np.asarray(listed, dtype=float)
    duration = reviews
    expired = np.zeros(x.size, dtype=bool)
    expired[gone] = True
    waiting = x >= horizon
    expired &= ~waiting
    started = ~waiting & ~expired
    s = pick(x, started)
    end = np.minimum(s + pick(duration, started), horizon)
    if state.plain:  # no shifts: the rostered end is the horizon, which no review passes
        overtime = np.zeros(s.size)
    else:
        rostered_end = state.rostered_ends[np.searchsorted(state.ends, s, side="right")]
        over = end > rostered_end
        overtime = np.where(over, end - np.maximum(rostered_end, s), 0.0)
    state.reviewing += int(np.count_nonzero(started & ~post & (x + duration >= horizon)))
    state.waiting.extend(zip(post[waiting].tolist(), expiries[waiting].tolist(), strict=True))
    queued = x > arrivals
    leaving = queued & ~waiting
    if len(gone):
        past = np.full(x.size, np.nan)
        past[expired] = x[expired] - expiries[expired]
        late = past[leaving]
    else:  # none expired: every departure is a start
        late = np.full(int(np.count_nonzero(leaving)), np.nan)
    t, length, late = _queue_changes(state, arrivals[queued], x[leaving], late, limit)
    status = np.where(started, STARTED, np.where(expired, EXPIRED, WAITING))
    return GateBatch(status, x, GateColumns(s, end, overtime, t, length, late))


def _queue_changes(state: GateState, joins: np.ndarray, leaves: np.ndarray, past: np.ndarray,
                   limit: float) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return the queue's changes up to `limit` in time order: instant, length before, hours past expiry.

    Joins come before departures at one instant, otherwise changes keep the order listed: joins
    are listed first, then the departures carried from earlier batches, then the new ones, and
    one stable sort by instant orders them (each part is in time order already, which the sort
    merges in a pass). The departures past `limit` are carried in time order, which keeps
    their order at any one instant, so the next batch sorts them to the same place.
    """
    carried, carried_past = state.pulls
    t = np.concatenate((joins, carried, leaves))
    order = np.argsort(t, kind="stable")
    t = t[order]
    gone = np.concatenate((np.full(joins.size, np.nan), carried_past, past))[order]
    cut = int(np.searchsorted(t, limit, side="left"))
    state.pulls = (t[cut:], gone[cut:])
    t, gone = t[:cut], gone[:cut]
    if not t.size:
        return t, np.empty(0, dtype=np.int64), gone
    step = np.where(order[:cut] < joins.size, 1, -1)
    before = state.queued + np.cumsum(step) - step
    state.queued = int(before[-1] + step[-1])
    return t, before, gone


def close_gate(state: GateState) -> tuple[int, list[float], GateColumns]:
    """Settle the queue at the horizon; return the pending count, the expiries of requests expired there,
    and the queue's last changes (as `StewardGate.close` reports them: its length at the horizon, then
    each request found expired there)."""
    horizon = state.horizon
    t, length, gone = _queue_changes(state, np.empty(0), np.empty(0), np.empty(0), math.inf)
    pending = state.reviewing
    expired: list[float] = []
    for is_post, expires in state.waiting:
        if is_post:
            continue
        if expires <= horizon:
            expired.append(expires)
        else:
            pending += 1
    state.waiting.clear()
    last = np.array(expired)
    t = np.concatenate((t, np.full(1 + last.size, horizon)))
    length = np.concatenate((length, [state.queued], np.zeros(last.size, dtype=np.int64)))
    gone = np.concatenate((gone, [math.nan], horizon - last))
    state.queued = 0
    none = np.empty(0)
    return pending, expired, GateColumns(none, none, none, t, length, gone)
