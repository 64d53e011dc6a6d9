"""The event driver's world: the slow world (`SlowWorld`) with each request an event of its own.

Routing lives in `routing`, what becomes of a request in `decisions` and the gate in
`gatekeeper`; what each site holds, the actors and their covert attempts in the slow world.
"""

from __future__ import annotations

from collections.abc import Generator
from typing import Any

from sim.model.event.decisions import Decisions
from sim.model.rng import Streams
from sim.model.rulebook.draws import (
    REQUEST_NORMALS,
    U_CLASS,
    U_PURPOSE,
    U_REVIEW,
    Z_RECORDS,
    Z_REVIEW,
)
from sim.model.rulebook.events import Request, Submitted
from sim.model.rulebook.routing import Actor, pick
from sim.model.rulebook.rules import records, review_hours
from sim.model.slow.world import SlowWorld


class World(SlowWorld):
    """One replication of one scenario on the event engine: the slow world and each request as an event."""

    def _drive(self) -> None:
        """Build the requests' decisions and the steward gate, whose shifts start before any actor."""
        self.decisions = Decisions(self.env, self.config, self.observer, self.holdings, self.actors_by_name,
                                   self.shifts, self.horizon)
        self.gate = self.decisions.gate

    def _start(self, actor: Actor, streams: Streams) -> None:
        """Start an actor group's arrivals, then its covert attempts."""
        self.env.process(self._arrivals(actor))
        super()._start(actor, streams)

    def run(self) -> int:
        """Run to the horizon and return how many requests are still pending."""
        self.env.run(until=self.horizon)
        return self.gate.close() + self.decisions.parent_pending

    # -- requests -------------------------------------------------------------------------
    def _arrivals(self, actor: Actor) -> Generator[Any, Any, None]:
        """Make requests at a constant rate per working hour, at Poisson times.

        The gaps are drawn on a clock that runs only in working hours and then mapped onto
        the calendar, so the k-th request uses the same draws whatever the calendar.
        """
        rate = actor.spec.headcount * actor.spec.requests_per_hour
        if rate <= 0.0:
            return
        env, gaps = self.env, actor.gaps
        gap = gaps.next() / rate
        for start, end in actor.windows:
            t = start
            while t + gap < end:
                t += gap
                yield env.timeout(t - env.now)
                self._request(actor)
                gap = gaps.next() / rate
            gap -= end - t

    def _request(self, actor: Actor) -> None:
        now = self.env.now
        spec = actor.spec
        u, z = actor.uniforms.row(), actor.normals.row()
        gate = self.gatekeeper
        review = 0.0 if gate is None else review_hours(gate, u[U_REVIEW], z[Z_REVIEW])
        purposes, classes = actor.purposes, actor.classes
        # Positional arguments, in Request's field order: this runs once per request.
        request = Request(
            next(self._numbers), actor.name, now,
            purposes[0] if len(purposes) == 1 else pick(purposes, actor.purpose_cum, u[U_PURPOSE]),
            classes[0] if len(classes) == 1 else pick(classes, actor.class_cum, u[U_CLASS]),
            records(spec.records_median, spec.records_sigma, z[Z_RECORDS]),
            review, u, z,
        )
        self.observer.notify(Submitted(now, request))
        self.decisions.dispatch(actor, request)

    def inject(
        self, actor: str, purpose: str, data_class: str, *, records: float = 1.0,
        review_hours: float = 1.0, uniforms: list[float] | None = None,
    ) -> Request:
        """Submit a hand-made request now, bypassing the random draws (exact timelines).

        By default the request takes the first route that holds the data, is decided exactly
        as policy says, is not overridden, and no control or audit touches it.
        """
        request = Request(
            number=next(self._numbers), actor=actor, t_submit=self.env.now, purpose=purpose,
            data_class=data_class, records=records, review_hours=review_hours,
            uniforms=uniforms or [0.0, 0.0, 0.0, 0.999, 0.999, 0.999, 0.999, 0.5],
            normals=[0.0] * REQUEST_NORMALS,
        )
        self.observer.notify(Submitted(self.env.now, request))
        self.decisions.dispatch(self.actors_by_name[actor], request)
        return request
