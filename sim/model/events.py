"""What the model tells its observers: requests, decisions, accesses and holdings."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


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
    gate: str | None = None
    post_review: bool = False
    expires_at: float = float("inf")


class Observer(Protocol):
    """Receives the model's events; metrics and traces implement it."""

    def submitted(self, t: float, request: Request) -> None:
        """Note that a request was made."""

    def queued(self, t: float, request: Request, ahead: int) -> None:
        """Note that a request joined the gatekeeper's queue behind `ahead` others."""

    def review_started(self, t: float, request: Request, wait: float) -> None:
        """Note that a reviewer took up a request after `wait` hours in the queue."""

    def decided(self, t: float, request: Request, outcome: str, why: str) -> None:
        """Note a request's end: outcome is granted, denied or expired; why says by what."""

    def accessed(
        self, t: float, request: Request | None, actor: str, site: str, data_class: str,
        records: float, cross_border: bool, channel: str | None, detected_at: float | None,
    ) -> None:
        """Note data read by an actor; channel is set when it is residual cross-border access."""

    def shielded(self, t: float, actor: str, how: str) -> None:
        """Note an access turned harmless: de-identified, ciphertext, or a covert try stopped."""

    def covert_attempt(self, t: float, actor: str) -> None:
        """Note a covert attempt to go around official channels."""

    def holdings(self, day: int, abroad_records: float) -> None:
        """Note the protected records at rest outside the allowed jurisdictions on a day."""

    def transfer(self, t: float, source: str, target: str, records: float) -> None:
        """Note a cross-border replication transfer of protected records."""
