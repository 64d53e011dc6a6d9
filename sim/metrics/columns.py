"""The event engine's request events, buffered as the columns the batched engine hands over (`Tally`)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.model.rulebook.tally import Reads, Tally

#: Requests the event engine's columns hold before they are passed on (bounds memory).
FLUSH_ROWS = 1 << 14


@dataclass
class EventColumns:
    """The event engine's request events, buffered as the columns a batch of the fast engine gives."""

    size: int = 0  # submissions buffered
    submitted: list[float] = field(default_factory=list)
    decided: dict[str, list[float]] = field(default_factory=lambda: {"granted": [], "denied": [], "expired": []})
    decision_hours: list[float] = field(default_factory=list)
    emergency: int = 0
    no_route: dict[tuple[str, str], int] = field(default_factory=dict)
    starts: list[float] = field(default_factory=list)
    waits: list[float] = field(default_factory=list)
    reads: list[tuple[Any, ...]] = field(default_factory=list)

    def empty(self) -> bool:
        """Return whether no event is buffered (`size` counts submissions only)."""
        return not (self.submitted or self.decision_hours or self.starts or self.reads or self.emergency
                    or self.no_route or any(self.decided.values()))

    def tally(self) -> Tally:
        """Return the buffered events as one `Tally`, every column in the order reported."""
        reads = None
        if self.reads:
            kind, t, records, site, channel, grant, cls, improper, detected_at, mode = (
                np.array(column) for column in zip(*self.reads, strict=True))
            order = np.arange(t.size)
            reads = Reads(t, order, t, kind, records, site, channel, grant, cls, improper.astype(bool),
                          detected_at, mode)
        return Tally(
            submitted=np.array(self.submitted), decided={k: np.array(v) for k, v in self.decided.items()},
            decision_hours=np.array(self.decision_hours), emergency=self.emergency, no_route=self.no_route,
            review_starts=np.array(self.starts), waits=np.array(self.waits), reads=reads)
