"""The gatekeeper's ledger: queue area, reviewer work and available hours, accumulated from its events or columns."""

from __future__ import annotations

import numpy as np

from sim.model.rulebook.events import Event, LeftQueue, QueueChanged, ReviewerBusy, ShiftsPlanned
from sim.model.rulebook.tally import GateColumns


def running_sum(start: float, addends: np.ndarray) -> float:
    """Return `start` plus the addends added one by one, in order (never pairwise)."""
    if not addends.size:
        return start
    return float(np.add.accumulate(np.concatenate(([start], addends)))[-1])


class GateLedger:
    """Accumulate the gatekeeper's queue area, reviewer work and available hours from its events."""

    def __init__(self) -> None:
        self.queue_area = 0.0
        self.busy_hours = 0.0
        self.available_hours = 0.0
        self._last_change = 0.0

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
        """Add the queue's length times the hours since its previous change."""
        self.queue_area += event.length * (event.t - self._last_change)
        self._last_change = event.t

    def left_queue(self, event: LeftQueue) -> None:
        """Take back the area an expired request was counted for past its deadline."""
        self.queue_area -= event.t - event.expired_at

    def reviewer_busy(self, event: ReviewerBusy) -> None:
        """Add a review's hours, and its overtime to the hours available."""
        self.busy_hours += event.until - event.t
        if event.overtime:
            self.available_hours += event.overtime

    def shifts_planned(self, event: ShiftsPlanned) -> None:
        """Start the hours available from the roster."""
        self.available_hours = event.hours

    def columns(self, gate: GateColumns) -> None:
        """Take the gate's columns: reviews' hours and overtime in start order, then queue changes in time order.

        Each sum is added in the order the events would have come, so it equals the events' sums to the bit.
        """
        self.busy_hours = running_sum(self.busy_hours, gate.busy_until - gate.busy_from)
        self.available_hours = running_sum(self.available_hours, gate.overtime)
        t = gate.queue_t
        if not t.size:
            return
        previous = np.concatenate(([self._last_change], t[:-1]))
        addends = np.empty(2 * t.size)
        addends[0::2] = gate.queue_length * (t - previous)
        addends[1::2] = np.where(np.isnan(gate.queue_past), 0.0, -gate.queue_past)
        self.queue_area = running_sum(self.queue_area, addends)
        self._last_change = float(t[-1])
