"""The steward gate as a next-free-time recursion, equal to `StewardGate` to the bit (issue 10).

Reviewers are identical and the queue is first-come, first-served, so a request's start
depends only on the requests before it: it starts at the later of its arrival and the
earliest moment a reviewer is free, moved to the next shift start if that moment is off
shift. The gate's running sums (queue area, reviewer hours, overtime, waits) are added in the
order the event engine reports them: starts in queue order, queue changes in time order.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from dataclasses import dataclass, field

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
    """The gate's state and running sums, carried from one batch of requests to the next."""

    reviewers: int
    windows: list[tuple[float, float, float]]
    horizon: float
    free: list[float] = field(default_factory=list)  # heap of the reviewers' next free instants
    pulls: deque[tuple[float, float, bool]] = field(default_factory=deque)  # (pull, expiry, expired)
    waiting: list[tuple[bool, float]] = field(default_factory=list)  # never pulled: (post review, expiry)
    queued: int = 0
    last_change: float = 0.0
    queue_area: float = 0.0
    busy_hours: float = 0.0
    available_hours: float = 0.0
    wait_sum: float = 0.0
    window: int = 0
    reviewing: int = 0

    def __post_init__(self) -> None:
        self.free = [0.0] * self.reviewers


@dataclass
class GateBatch:
    """What the gate made of one batch of submissions, in submission order."""

    status: list[int]
    start: list[float]
    wait: list[float]


def run_gate(
    state: GateState, arrivals: list[float], reviews: list[float], expiries: list[float],
    post: list[bool],
) -> GateBatch:
    """Settle a batch of submissions in arrival order and update the gate's sums.

    Returns each submission's status, start (the instant it left the queue, for expired
    requests too; infinite if never) and wait (for started requests).
    """
    free, pulls, waiting, windows = state.free, state.pulls, state.waiting, state.windows
    horizon, nwin = state.horizon, len(windows)
    area, last, queued, busy = state.queue_area, state.last_change, state.queued, state.busy_hours
    available, wait_sum, w, reviewing = state.available_hours, state.wait_sum, state.window, state.reviewing
    status: list[int] = []
    starts: list[float] = []
    waits: list[float] = []
    inf = math.inf
    for a, duration, expires, is_post in zip(arrivals, reviews, expiries, post, strict=True):
        while pulls and pulls[0][0] < a:
            x, e, gone = pulls.popleft()
            area += queued * (x - last)
            last = x
            queued -= 1
            if gone:
                area -= x - e
        m = free[0] if free else inf
        x = a if a >= m else m
        while w < nwin and windows[w][1] <= x:
            w += 1
        if w == nwin:
            x = inf
        elif x < windows[w][0]:
            x = windows[w][0]
        if x == a:
            wait = 0.0
        else:
            area += queued * (a - last)
            last = a
            queued += 1
            if x >= horizon:
                waiting.append((is_post, expires))
                status.append(WAITING)
                starts.append(inf)
                waits.append(0.0)
                continue
            if x > expires:
                pulls.append((x, expires, True))
                status.append(EXPIRED)
                starts.append(x)
                waits.append(0.0)
                continue
            pulls.append((x, expires, False))
            wait = x - a
        done = x + duration
        heapq.heapreplace(free, done)
        end = min(done, horizon)
        busy += end - x
        shift_end = windows[w][2]
        if end > shift_end:
            overtime = end - max(shift_end, x)
            if overtime:
                available += overtime
        if not is_post:
            wait_sum += wait
            if done >= horizon:
                reviewing += 1
        status.append(STARTED)
        starts.append(x)
        waits.append(wait)
    state.queue_area, state.last_change, state.queued, state.busy_hours = area, last, queued, busy
    state.available_hours, state.wait_sum, state.window, state.reviewing = available, wait_sum, w, reviewing
    return GateBatch(status, starts, waits)


def close_gate(state: GateState) -> tuple[int, list[float]]:
    """Settle the queue at the horizon; return the pending count and the expiries of requests expired there."""
    horizon = state.horizon
    area, last, queued = state.queue_area, state.last_change, state.queued
    for x, e, gone in state.pulls:
        area += queued * (x - last)
        last = x
        queued -= 1
        if gone:
            area -= x - e
    state.pulls.clear()
    area += queued * (horizon - last)
    pending = state.reviewing
    expired: list[float] = []
    for is_post, expires in state.waiting:
        if is_post:
            continue
        if expires <= horizon:
            area -= horizon - expires
            expired.append(expires)
        else:
            pending += 1
    state.waiting.clear()
    state.queue_area, state.last_change, state.queued = area, horizon, 0
    return pending, expired
