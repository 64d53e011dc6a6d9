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
from sim.model.rng import Stream, Streams
from sim.model.rulebook.draws import COVERT_NORMALS, COVERT_UNIFORMS, REQUEST_NORMALS, REQUEST_UNIFORMS, ROUTE_UNIFORMS
from sim.model.rulebook.events import CovertMode, Observer
from sim.model.rulebook.routing import Actor, RouteTable, cumulative, route_tables
from sim.model.rulebook.rules import check
from sim.model.slow.covert import Covert
from sim.model.slow.holdings import Holdings


def actor_streams(name: str, spec: ActorGroup) -> list[str]:
    """Return the streams an actor group may draw from: its requests' and its covert modes'."""
    streams = [f"actor.{name}.{part}" for part in ("arrivals", "request.u", "request.z", "request.route")]
    for mode, rate in covert_rates(spec):
        if rate > 0:
            streams += [f"{covert_prefix(name, mode)}.{part}" for part in ("arrivals", "u", "z")]
    return streams


def covert_rates(spec: ActorGroup) -> tuple[tuple[CovertMode, float], ...]:
    """Return each covert mode of an actor group with its attempts per year."""
    return (("human_exfiltration", spec.covert_attempts_per_year),
            ("code_borne", spec.code_covert_attempts_per_year))


def covert_prefix(name: str, mode: CovertMode) -> str:
    """Return the prefix of the streams of an actor group's covert mode (`actor_streams`)."""
    return f"actor.{name}.{'covert_code' if mode == 'code_borne' else 'covert'}"


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
        self._shared: dict[tuple[Any, ...], Any] = {}  # parts alike groups share (`_alike`)
        streams.prepare([stream for name, spec in config.actors.items() for stream in actor_streams(name, spec)])
        self.actors = [self._build_actor(name, spec, streams)
                       for name, spec in config.actors.items()]
        self.actors_by_name.update((actor.name, actor) for actor in self.actors)
        for actor in self.actors:
            self._start(actor, streams)

    def _drive(self) -> None:
        """Build what a request driver runs inside the world before any actor starts (nothing here)."""

    def _start(self, actor: Actor, streams: Streams) -> None:
        """Start an actor group's processes: its covert attempts, one process per mode.

        Each mode's first attempt is drawn here, from the mode's own stream as its process
        would draw it; a mode whose first attempt falls at or after the horizon never acts, so
        it gets no process (most of a hundred small groups attempt nothing in a short run, and
        starting a process for each cost more than the rest of the group's build).
        """
        for mode, per_year in covert_rates(actor.spec):
            if per_year > 0:
                rate = per_year / (365.0 * HOURS_PER_DAY)
                gaps = streams.exponential(f"{covert_prefix(actor.name, mode)}.arrivals")
                first = gaps.next() / rate
                if first < self.horizon:  # SimPy's clock at the attempt: 0 + first
                    self.env.process(self._covert(actor, streams, mode, rate, gaps, first))

    # -- building -------------------------------------------------------------------------
    def _build_actor(self, name: str, spec: ActorGroup, streams: Streams) -> Actor:
        """Build an actor group; groups alike in a part share that part's lists (`_alike`), which nothing writes to."""
        purposes, purpose_cum = self._alike(spec.purposes)
        classes, class_cum = self._alike(spec.data_classes)
        config = self.config
        scenario = config.scenario
        tables, orders, keys = route_tables(config, name, spec, self.route_table)
        calendar = ("calendar", spec.hours, spec.timezone)
        windows = self._shared.get(calendar)
        if windows is None:
            windows = self._shared[calendar] = working_windows(spec.hours, spec.timezone, scenario.start_date,
                                                               scenario.days)
        return Actor(
            name=name, spec=spec,
            foreign=spec.location not in config.policy.allowed_read,
            windows=windows,
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

    def _alike(self, mix: dict[str, float]) -> tuple[list[str], list[float]]:
        """Return a mix's names and cumulative shares (`cumulative`), the same lists for every group with that mix.

        A hundred groups split from a few kinds of team share a few lists, so the fast engine
        can key what it builds from them by identity (`FastWorld._piece`).
        """
        key = ("mix", *mix.items())
        found = self._shared.get(key)
        if found is None:
            found = self._shared[key] = cumulative(mix)
        return found

    # -- covert channels ------------------------------------------------------------------
    def _covert(self, actor: Actor, streams: Streams, mode: CovertMode, rate: float, gaps: Stream,
                first: float) -> Generator[Any, Any, None]:
        """Make one mode's covert attempts at Poisson times (`rate` per hour), each from the mode's own streams.

        `first` is the wait for the first attempt, already drawn from `gaps` (`_start`).
        """
        prefix = covert_prefix(actor.name, mode)
        uniforms = streams.uniform(f"{prefix}.u", COVERT_UNIFORMS)
        normals = streams.normal(f"{prefix}.z", COVERT_NORMALS)
        wait = first
        while True:
            yield self.env.timeout(wait)
            self.covert.attempt(actor, mode, uniforms.row(), normals.row())
            wait = gaps.next() / rate
