"""The gatekeeper's ledger: queue area, reviewer work and available hours, accumulated from its events."""

from __future__ import annotations

from sim.model.rulebook.events import Event, LeftQueue, QueueChanged, ReviewerBusy, ShiftsPlanned


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
