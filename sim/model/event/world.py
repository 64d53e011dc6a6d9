"""The simulated world: building one replication, and the arrivals of requests and covert tries.

Routing lives in `routing`, what becomes of a request in `decisions`, the gate in
`gatekeeper` and what each site holds in `holdings`.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator
from typing import Any

import simpy

from sim.config.schema import ActorGroup, Config
from sim.model.calendar import HOURS_PER_DAY, working_windows
from sim.model.event.decisions import Decisions
from sim.model.rng import Streams
from sim.model.rulebook.draws import (
    COVERT_NORMALS,
    COVERT_UNIFORMS,
    REQUEST_NORMALS,
    REQUEST_UNIFORMS,
    ROUTE_UNIFORMS,
    U_CLASS,
    U_PURPOSE,
    U_REVIEW,
    Z_RECORDS,
    Z_REVIEW,
)
from sim.model.rulebook.events import CovertMode, Observer, Request, Submitted
from sim.model.rulebook.routing import Actor, RouteTable, cumulative, pick, route_tables
from sim.model.rulebook.rules import check, records, review_hours
from sim.model.slow.holdings import Holdings


class SlowWorld:
    """What both request drivers share in one replication: the clock, holdings, actors, covert attempts.

    It runs no requests: the event engine (`World`) adds each group's arrivals and settles them
    one by one, the batched engine (`fast.FastWorld`) steps this world between its batches.
    """

    def __init__(self, config: Config, streams: Streams, observer: Observer) -> None:
        """Build the slow world and start its processes (holdings, shifts, covert attempts)."""
        check(config)
        self.config = config
        self.observer = observer
        self.env = simpy.Environment()
        scenario = config.scenario
        self.horizon = scenario.days * HOURS_PER_DAY
        self.holdings = Holdings(self.env, config, streams, observer)
        gate = config.gatekeeper
        #: The gate's working windows (None: around the clock), for either driver's gate.
        self.shifts = shifts = None if gate is None or gate.hours.around_the_clock else working_windows(
            gate.hours, gate.timezone, scenario.start_date, scenario.days)
        self.actors_by_name: dict[str, Actor] = {}
        self.decisions = Decisions(self.env, config, observer, self.holdings, self.actors_by_name,
                                   shifts, self.horizon)
        self.gate = self.decisions.gate
        self.gatekeeper = gate
        self._numbers = itertools.count()
        self.route_table = RouteTable(config.routes)
        self.actors = [self._build_actor(name, spec, streams)
                       for name, spec in config.actors.items()]
        self.actors_by_name.update((actor.name, actor) for actor in self.actors)
        for actor in self.actors:
            self._start(actor, streams)

    def _start(self, actor: Actor, streams: Streams) -> None:
        """Start an actor group's processes: its covert attempts, one process per mode."""
        if actor.spec.covert_attempts_per_year > 0:
            self.env.process(self._covert(actor, streams, "human_exfiltration"))
        if actor.spec.code_covert_attempts_per_year > 0:
            self.env.process(self._covert(actor, streams, "code_borne"))

    # -- building -------------------------------------------------------------------------
    def _build_actor(self, name: str, spec: ActorGroup, streams: Streams) -> Actor:
        purposes, purpose_cum = cumulative(spec.purposes)
        classes, class_cum = cumulative(spec.data_classes)
        config = self.config
        scenario = config.scenario
        tables, orders, keys = route_tables(config, name, spec, self.route_table)
        return Actor(
            name=name, spec=spec,
            foreign=spec.location not in config.policy.allowed_read,
            windows=working_windows(spec.hours, spec.timezone, scenario.start_date, scenario.days),
            purposes=purposes, purpose_cum=purpose_cum, classes=classes, class_cum=class_cum,
            candidates=tables[0],
            gaps=streams.exponential(f"actor.{name}.arrivals"),
            uniforms=streams.uniform(f"actor.{name}.request.u", REQUEST_UNIFORMS),
            normals=streams.normal(f"actor.{name}.request.z", REQUEST_NORMALS),
            preferred_candidates=tables[1] if orders else None,
            route_draws=(streams.uniform(f"actor.{name}.request.route", ROUTE_UNIFORMS)
                         if orders or keys else None),
            tables=tables, mixes_keys=keys,
        )

    # -- covert channels ------------------------------------------------------------------
    def _covert(self, actor: Actor, streams: Streams, mode: CovertMode) -> Generator[Any, Any, None]:
        """Make one mode's covert attempts at Poisson times, each from the mode's own streams."""
        code = mode == "code_borne"
        per_year = actor.spec.code_covert_attempts_per_year if code else actor.spec.covert_attempts_per_year
        rate = per_year / (365.0 * HOURS_PER_DAY)
        prefix = f"actor.{actor.name}.{'covert_code' if code else 'covert'}"
        gaps = streams.exponential(f"{prefix}.arrivals")
        uniforms = streams.uniform(f"{prefix}.u", COVERT_UNIFORMS)
        normals = streams.normal(f"{prefix}.z", COVERT_NORMALS)
        while True:
            yield self.env.timeout(gaps.next() / rate)
            self.decisions.covert_attempt(actor, mode, uniforms.row(), normals.row())


class World(SlowWorld):
    """One replication of one scenario on the event engine: the slow world and each request as an event."""

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
