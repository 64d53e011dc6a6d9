"""Bulk contributions of a batch of requests to a replication's metrics (the fast engine's events).

The fast engine reports the common path of many requests at once: counts by the day of
their event, and float addends in exactly the order the event engine reports them, so an
observer adding them in sequence reaches the same sums to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class GateTotals:
    """The gate's running sums at the horizon, as `GateLedger` would hold them."""

    queue_area: float
    busy_hours: float
    available_hours: float


@dataclass
class Tally:
    """What a batch of requests adds: event instants per kind, and ordered addends."""

    submitted: np.ndarray = field(default_factory=lambda: np.empty(0))  # instants
    decided: dict[str, np.ndarray] = field(default_factory=dict)  # outcome -> instants
    decision_hours: np.ndarray = field(default_factory=lambda: np.empty(0))  # in report order
    emergency: int = 0
    no_route: dict[tuple[str, str], int] = field(default_factory=dict)  # (actor, class) -> lost
    review_starts: np.ndarray = field(default_factory=lambda: np.empty(0))  # in start order
    waits: np.ndarray = field(default_factory=lambda: np.empty(0))  # in start order
    class_events: dict[str, int] = field(default_factory=dict)  # cross-border reads not residual
    gate: GateTotals | None = None
