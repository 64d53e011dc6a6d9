"""What the model tells its observers: requests, decisions, accesses and holdings, as records.

Every event is a frozen record with a time `t` in simulated hours. Observers receive them
through one method, `notify`, in the order the model reports them. That order is the order
of the simulation clock with two documented exceptions, where an event is reported *ahead of
time* (its `t` lies later than the clock at the moment of reporting):

- a parent company's decision (`Decided` with reason "parent") and the access it grants are
  reported when the request reaches the parent, with `t` set to the moment of the decision;
- a request that expires in the queue (`Decided` with reason "expiry") is reported when the
  gate next looks at its queue, with `t` set to its deadline (that is, *behind* time).

An access's `detected_at` is likewise a future time. Observers that need time order (the
teaching trace) sort by `t`; accumulators (the recorder) need no order.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal, Protocol, get_args

from sim.config.schema import Channel

Outcome = Literal["granted", "denied", "expired"]
#: Why a request ended as it did: the gate or path that settled it.
Reason = Literal["policy", "error", "parent", "no_route", "no_gate", "emergency", "expiry"]
#: The gate a route puts in front of a site (routes that are "blocked" are never taken).
Gate = Literal["none", "parent", "steward", "key_release"]
#: How a control made an access harmless.
Shield = Literal["deidentified", "ciphertext", "code_review", "egress_monitoring", "no_reach"]
#: The two covert modes: code planted in the system, and people exporting data by hand.
CovertMode = Literal["code_borne", "human_exfiltration"]
COVERT_MODES: tuple[CovertMode, ...] = get_args(CovertMode)
#: How a read was granted, whatever the site: the same read through the same gate has the same
#: grant at every site.
Grant = Literal["policy", "error", "emergency", "override", "parent_approval", "no_gate", "covert"]
GRANTS: tuple[Grant, ...] = get_args(Grant)


@dataclass(slots=True, eq=False)
class Request:
    """One access request and the draws that settle its fate."""

    number: int
    actor: str
    t_submit: float
    purpose: str
    data_class: str
    records: float
    review_hours: float
    uniforms: list[float]
    normals: list[float]
    site: str | None = None
    gate: Gate | None = None
    post_review: bool = False
    expires_at: float = float("inf")


@dataclass(frozen=True, slots=True)
class Submitted:
    """A request was made."""

    t: float
    request: Request


@dataclass(frozen=True, slots=True)
class Queued:
    """A request joined the gatekeeper's queue behind `ahead` others."""

    t: float
    request: Request
    ahead: int


@dataclass(frozen=True, slots=True)
class ReviewStarted:
    """A reviewer took up a request after `wait` hours in the queue."""

    t: float
    request: Request
    wait: float


@dataclass(frozen=True, slots=True)
class Decided:
    """A request ended: granted, denied or expired, for `reason`."""

    t: float
    request: Request
    outcome: Outcome
    reason: Reason


@dataclass(frozen=True, slots=True)
class Accessed:
    """Data read by an actor; `channel` is set when it is residual cross-border access.

    `grant` says how the read was granted and `improper` whether policy forbids it (so the
    audit may find it); both are set for residual access.
    """

    t: float
    request: Request | None
    actor: str
    site: str
    data_class: str
    records: float
    cross_border: bool
    channel: Channel | None
    detected_at: float | None
    grant: Grant | None = None
    improper: bool = False
    covert_mode: CovertMode | None = None


@dataclass(frozen=True, slots=True)
class Shielded:
    """An access turned harmless: de-identified, ciphertext, or a covert try stopped."""

    t: float
    actor: str
    how: Shield
    site: str = ""
    records: float = 0.0


@dataclass(frozen=True, slots=True)
class CovertAttempt:
    """Someone tried to go around official channels."""

    t: float
    actor: str
    mode: CovertMode = "human_exfiltration"


@dataclass(frozen=True, slots=True)
class Held:
    """The protected records at rest outside the allowed jurisdictions on a day."""

    t: float
    day: int
    abroad_records: float


@dataclass(frozen=True, slots=True)
class Transferred:
    """A cross-border replication transfer of protected records."""

    t: float
    source: str
    target: str
    records: float


@dataclass(frozen=True, slots=True)
class QueueChanged:
    """The gatekeeper's queue held `length` requests from its previous change until `t`."""

    t: float
    length: int


@dataclass(frozen=True, slots=True)
class LeftQueue:
    """A request that expired at `expired_at` was taken out of the queue at `t`."""

    t: float
    expired_at: float


@dataclass(frozen=True, slots=True)
class ReviewerBusy:
    """A reviewer works from `t` to `until` (cut at the horizon); `overtime` hours fall past the shift."""

    t: float
    until: float
    overtime: float


@dataclass(frozen=True, slots=True)
class ShiftsPlanned:
    """The reviewers' rostered hours over the whole horizon (all reviewers together)."""

    t: float
    hours: float


Event = (Submitted | Queued | ReviewStarted | Decided | Accessed | Shielded | CovertAttempt | Held
         | Transferred | QueueChanged | LeftQueue | ReviewerBusy | ShiftsPlanned)


class Observer(Protocol):
    """Receives the model's events; metrics and traces implement it."""

    def notify(self, event: Event) -> None:
        """Take one event (see the module's note on events reported ahead of time)."""
