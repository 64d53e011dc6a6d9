"""Bulk contributions of a batch of requests to a replication's metrics (the fast engine's events).

The fast engine reports the common path of many requests at once: counts by the day of
their event, and float addends in exactly the order the event engine reports them, so an
observer adding them in sequence reaches the same sums to the bit.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass
class GateColumns:
    """The gate's reviews in start order and its queue's changes in time order, as the event engine reports them."""

    busy_from: np.ndarray  # each review's start
    busy_until: np.ndarray  # its end (the horizon at the latest)
    overtime: np.ndarray  # the hours of it past its shift's rostered end (0 within the shift)
    queue_t: np.ndarray  # the instant of each change of the queue
    queue_length: np.ndarray  # the queue's length just before it
    queue_past: np.ndarray  # hours a request left the queue past its expiry (NaN: a join or a start)


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
    gate: GateColumns | None = None  # the gate's columns (the batched engine's)
    reads: Reads | None = None  # residual and shielded reads, in report order


#: What a read in `Reads` became: residual access, or made harmless by a control.
ACCESS, DEIDENTIFIED, CIPHERTEXT = range(3)


@dataclass
class Reads:
    """Residual reads and the reads a control shielded, one row each, in the order they are reported.

    Codes index the config's sites and data classes, `CHANNELS`, `GRANTS` and `COVERT_MODES`
    (-1: not covert); `detected_at` is NaN where the audit never finds the read.
    """

    reported: np.ndarray
    order: np.ndarray
    t: np.ndarray
    kind: np.ndarray
    records: np.ndarray
    site: np.ndarray
    channel: np.ndarray
    grant: np.ndarray
    cls: np.ndarray
    improper: np.ndarray
    detected_at: np.ndarray
    mode: np.ndarray

    @classmethod
    def join(cls, parts: list[Reads]) -> Reads:
        """Return the rows of several batches of reads, sorted by report instant then order."""
        columns = {name: np.concatenate([getattr(p, name) for p in parts]) for name in cls.__dataclass_fields__}
        order = np.lexsort((columns["order"], columns["reported"]))
        return cls(**{name: column[order] for name, column in columns.items()})

    def split(self, limit: float) -> tuple[Reads, Reads]:
        """Return the rows reported before `limit`, and the rest (both still in order)."""
        cut = int(np.searchsorted(self.reported, limit, side="left"))
        return (Reads(**{n: getattr(self, n)[:cut] for n in self.__dataclass_fields__}),
                Reads(**{n: getattr(self, n)[cut:] for n in self.__dataclass_fields__}))

    @classmethod
    def empty(cls) -> Reads:
        """Return no rows."""
        floats, ints = np.empty(0), np.empty(0, dtype=np.int64)
        return cls(floats, ints, floats, ints, floats, ints, ints, ints, ints, np.empty(0, dtype=bool), floats, ints)
