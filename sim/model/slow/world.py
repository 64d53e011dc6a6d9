"""The slow world both request drivers share: the clock, holdings, actors and covert attempts.

It settles no request: the event driver (`World`) adds each group's arrivals and settles them one
by one, the batched driver (`FastWorld`) settles them in batches between steps of this world.
"""

from __future__ import annotations

import itertools
from collections.abc import Generator
from typing import Any

import simpy

from sim.config.schema import ActorGroup, Config
from sim.model.calendar import HOURS_PER_DAY, working_windows
from sim.model.rng import Streams
from sim.model.rulebook.draws import COVERT_NORMALS, COVERT_UNIFORMS, REQUEST_NORMALS, REQUEST_UNIFORMS, ROUTE_UNIFORMS
from sim.model.rulebook.events import CovertMode, Observer
from sim.model.rulebook.routing import Actor, RouteTable, cumulative, route_tables
from sim.model.rulebook.rules import check
from sim.model.slow.covert import Covert
from sim.model.slow.holdings import Holdings


def actor_streams(name: str, spec: ActorGroup) -> list[str]:
    """Return the streams an actor group may draw from: its requests' and its covert modes'."""
    streams = [f"actor.{name}.{part}" for part in ("arrivals", "request.u", "request.z", "request.route")]
    for mode, rate in (("covert", spec.covert_attempts_per_year), ("covert_code", spec.code_covert_attempts_per_year)):
        if rate > 0:
            streams += [f"actor.{name}.{mode}.{part}" for part in ("arrivals", "u", "z")]
    return streams


class SlowWorld:
    """What both request drivers share in one replication: the clock, holdings, actors, covert attempts.

    It runs no requests: the event driver (`World`) adds each group's arrivals and settles them
    one by one, the batched driver (`FastWorld`) steps this world between its batches.
    """

    def __init__(self, config: Config, streams: Streams, observer: Observer) -> None:
        """Build the slow world and start its processes (holdings, covert attempts), and the driver's own (`_drive`)."""
        check(config)
        self.config = config
        self.observer = observer
        self.env = simpy.Environment()
        scenario = config.scenario
        self.horizon = scenario.days * HOURS_PER_DAY
        self.holdings = Holdings(self.env, config, streams, observer)
        gate = config.gatekeeper
        #: The gate's working windows (None: around the clock), for either driver's gate.
        self.shifts = None if gate is None or gate.hours.around_the_clock else working_windows(
            gate.hours, gate.timezone, scenario.start_date, scenario.days)
        self.actors_by_name: dict[str, Actor] = {}
        self.route_table = RouteTable(config.routes)
        self.covert = Covert(self.env, config, observer, self.holdings, self.route_table)
        self._drive()
        self.gatekeeper = gate
        self._numbers = itertools.count()
        streams.prepare([stream for name, spec in config.actors.items() for stream in actor_streams(name, spec)])
        self.actors = [self._build_actor(name, spec, streams)
                       for name, spec in config.actors.items()]
        self.actors_by_name.update((actor.name, actor) for actor in self.actors)
        for actor in self.actors:
            self._start(actor, streams)

    def _drive(self) -> None:
        """Build what a request driver runs inside the world before any actor starts (nothing here)."""

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
            self.covert.attempt(actor, mode, uniforms.row(), normals.row())
