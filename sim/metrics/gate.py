"""The gatekeeper's ledger: queue area, reviewer work and available hours, accumulated from its events or columns."""

from __future__ import annotations

import math
from array import array

import numpy as np

from sim.model.compiled import kernels
from sim.model.rulebook.events import Event, LeftQueue, QueueChanged, ReviewerBusy, ShiftsPlanned
from sim.model.rulebook.tally import GateColumns


def running_sum(start: float, addends: np.ndarray) -> float:
    """Return `start` plus the addends added one by one, in order (never pairwise; `compiled.total`)."""
    if not addends.size:
        return start
    return float(kernels().total(float(start), np.ascontiguousarray(addends, dtype=float)))


#: Values (three a gate event) the ledger holds before it adds them (bounds memory; the sums do not depend on it).
FLUSH_EVENTS = 1 << 14


class GateLedger:
    """Accumulate the gatekeeper's queue area, reviewer work and available hours from its columns.

    The event engine's gate events are held as the same columns (`GateColumns`) the batched engine
    gives, so both engines' sums are added by one method (`columns`), each in the order reported.
    """

    def __init__(self) -> None:
        self._queue_area = 0.0
        self._busy_hours = 0.0
        self._available_hours = 0.0
        self._last_change = 0.0
        self._reviews = array("d")  # start, end, overtime: three values a review
        self._changes = array("d")  # instant, length before, hours past expiry: three values a change

    @property
    def queue_area(self) -> float:
        """The queue's length integrated over time, expired requests counted up to their expiry."""
        self._flush()
        return self._queue_area

    @property
    def busy_hours(self) -> float:
        """The reviewers' working hours."""
        self._flush()
        return self._busy_hours

    @property
    def available_hours(self) -> float:
        """The rostered hours and the overtime worked."""
        self._flush()
        return self._available_hours

    def notify(self, event: Event) -> None:
        """Take a gate event; ignore every other kind."""
        if isinstance(event, QueueChanged):
            self.queue_changed(event)
        elif isinstance(event, LeftQueue):
            self.left_queue(event)
        elif isinstance(event, ReviewerBusy):
            self.reviewer_busy(event)
        elif isinstance(event, ShiftsPlanned):
            self.shifts_planned(event)

    def queue_changed(self, event: QueueChanged) -> None:
        """Hold a change of the queue: its instant and its length before."""
        changes = self._changes
        changes.extend((event.t, event.length, math.nan))
        if len(changes) >= FLUSH_EVENTS:
            self._flush()

    def left_queue(self, event: LeftQueue) -> None:
        """Hold an expired request's departure (right after the queue change at its instant)."""
        self._changes.extend((event.t, 0.0, event.t - event.expired_at))

    def reviewer_busy(self, event: ReviewerBusy) -> None:
        """Hold a review: its start, its end and its overtime."""
        reviews = self._reviews
        reviews.extend((event.t, event.until, event.overtime))
        if len(reviews) >= FLUSH_EVENTS:
            self._flush()

    def shifts_planned(self, event: ShiftsPlanned) -> None:
        """Start the hours available from the roster."""
        self._flush()
        self._available_hours = event.hours

    def _flush(self) -> None:
        if not (self._reviews or self._changes):
            return
        reviews = np.frombuffer(self._reviews, dtype=np.float64).reshape(-1, 3)
        changes = np.frombuffer(self._changes, dtype=np.float64).reshape(-1, 3)
        self._reviews, self._changes = array("d"), array("d")
        self.columns(GateColumns(reviews[:, 0], reviews[:, 1], reviews[:, 2],
                                 changes[:, 0], changes[:, 1], changes[:, 2]))

    def columns(self, gate: GateColumns) -> None:
        """Take the gate's columns: reviews' hours and overtime in start order, then queue changes in time order.

        Each sum is added in the order the events would have come, so it equals the events' sums to the bit.
        """
        self._busy_hours = running_sum(self._busy_hours, gate.busy_until - gate.busy_from)
        self._available_hours = running_sum(self._available_hours, gate.overtime)
        t = gate.queue_t
        if not t.size:
            return
        # Each change adds the length times the time since the last, then less any hours past expiry.
        self._queue_area = float(kernels().queue_area(
            float(self._queue_area), float(self._last_change), np.ascontiguousarray(t, dtype=float),
            np.ascontiguousarray(gate.queue_length, dtype=float), np.ascontiguousarray(gate.queue_past, dtype=float)))
        self._last_change = float(t[-1])
