"""The stewardship gate: reviewers on shifts working one first-come, first-served queue.

Reviews are scheduled with event callbacks rather than one process per request, which keeps
the per-request cost to two scheduled events (arrival and review end). The gate keeps no
statistics: it reports queue changes, reviewer work and rostered hours as events, and the
observer accumulates them.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator
from typing import Any

import simpy

from sim.model.calendar import rostered_hours
from sim.model.rulebook.events import (
    Decided,
    LeftQueue,
    Observer,
    QueueChanged,
    Queued,
    Request,
    ReviewerBusy,
    ReviewStarted,
    ShiftsPlanned,
)


class StewardGate:
    """A pool of reviewers that works its queue only while on shift.

    A review under way when a shift ends is finished; the reviewer then waits for the next
    shift. A request still queued past its expiry leaves the queue, expired, at that instant.
    """

    def __init__(
        self,
        env: simpy.Environment,
        reviewers: int,
        shifts: list[tuple[float, float]] | None,
        horizon: float,
        observer: Observer,
        decide: Callable[[float, Request], None],
    ) -> None:
        self.env = env
        self.reviewers = reviewers
        self.free = reviewers
        self.horizon = horizon
        self.observer = observer
        self.decide = decide
        self.queue: deque[Request] = deque()
        self.on_shift = shifts is None
        self.reviewing = 0
        self._shift_end = horizon if shifts is None else 0.0
        observer.notify(ShiftsPlanned(env.now, rostered_hours(reviewers, shifts, horizon)))
        if shifts is not None:
            env.process(self._shifts(shifts))

    def submit(self, request: Request) -> None:
        """Take a request: start its review at once if a reviewer is free, else queue it."""
        if self.on_shift and self.free:
            self._start(request, 0.0)
        else:
            self._mark()
            if not request.post_review:
                self.observer.notify(Queued(self.env.now, request, len(self.queue)))
            self.queue.append(request)

    def _mark(self) -> None:
        self.observer.notify(QueueChanged(self.env.now, len(self.queue)))

    def _start(self, request: Request, wait: float) -> None:
        now = self.env.now
        self.free -= 1
        if not request.post_review:
            self.reviewing += 1
            self.observer.notify(ReviewStarted(now, request, wait))
        duration = request.review_hours
        end = min(now + duration, self.horizon)
        # A review that runs past the end of its shift is overtime: worked, so available too.
        overtime = end - max(self._shift_end, now) if end > self._shift_end else 0.0
        self.observer.notify(ReviewerBusy(now, end, overtime))
        done = self.env.timeout(duration, request)
        done.callbacks.append(self._done)

    def _done(self, event: simpy.Event) -> None:
        request: Request = event._value
        self.free += 1
        if not request.post_review:
            self.reviewing -= 1
            self.decide(self.env.now, request)
        if self.queue:
            self._pull()

    def _pull(self) -> None:
        queue = self.queue
        while self.on_shift and self.free and queue:
            self._mark()
            request = queue.popleft()
            now = self.env.now
            if now > request.expires_at:
                # It left the queue at its deadline, not now.
                self.observer.notify(LeftQueue(now, request.expires_at))
                self.observer.notify(Decided(request.expires_at, request, "expired", "expiry"))
                continue
            self._start(request, now - request.t_submit)

    def _shifts(self, shifts: list[tuple[float, float]]) -> Generator[Any, Any, None]:
        env = self.env
        for start, end in shifts:
            if start > env.now:
                yield env.timeout(start - env.now)
            self._shift_end = end
            self.on_shift = True
            self._pull()
            yield env.timeout(end - env.now)
            self.on_shift = False

    def close(self) -> int:
        """Settle the queue at the horizon and return how many requests are still pending."""
        self._mark()
        pending = self.reviewing
        for request in self.queue:
            if request.post_review:
                continue
            if request.expires_at <= self.horizon:
                self.observer.notify(LeftQueue(self.horizon, request.expires_at))
                self.observer.notify(Decided(request.expires_at, request, "expired", "expiry"))
            else:
                pending += 1
        self.queue.clear()
        return pending
