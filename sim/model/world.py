"""The simulated world: actor groups asking for data, routes, gates, controls and sites."""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from sim.config.schema import GATE_ORDER, ROLE_ORDER, ActorGroup, Config, route_gate
from sim.model.calendar import HOURS_PER_DAY, working_windows
from sim.model.events import Observer, Request
from sim.model.gatekeeper import StewardGate
from sim.model.holdings import Holdings
from sim.model.rng import Stream, Streams

# Fixed positions in each request's row of uniform and normal draws. Every request consumes
# the same number of draws whatever happens to it, so arrangements stay in step (CRN).
U_PURPOSE, U_CLASS, U_SITE, U_DECISION, U_OVERRIDE, U_CONTROL, U_AUDIT, U_REVIEW = range(8)
Z_RECORDS, Z_REVIEW, Z_PARENT_DELAY, Z_AUDIT_DELAY = range(4)
COVERT_U_SITE, COVERT_U_REVIEW, COVERT_U_AUDIT = range(3)
COVERT_Z_RECORDS, COVERT_Z_AUDIT_DELAY = range(2)


@dataclass
class Actor:
    """An actor group with its streams and the lookup tables built once per run."""

    name: str
    spec: ActorGroup
    foreign: bool
    windows: list[tuple[float, float]]
    purposes: list[str]
    purpose_cum: list[float]
    classes: list[str]
    class_cum: list[float]
    candidates: dict[str, list[tuple[str, str]]]
    gaps: Stream
    uniforms: Stream
    normals: Stream


def cumulative(mix: dict[str, float]) -> tuple[list[str], list[float]]:
    """Return the names of a mix and their cumulative shares, ending exactly at 1."""
    names = list(mix)
    cum = list(itertools.accumulate(mix[n] for n in names))
    if cum:
        cum[-1] = 1.0
    return names, cum


def pick(names: list[str], cum: list[float], u: float) -> str:
    """Return the name whose cumulative share first exceeds `u`."""
    return names[min(bisect.bisect_right(cum, u), len(names) - 1)]


def control_probability(config: Config, org: str, over: str) -> float:
    """Return the chance that organisation `over` can make `org` act for it.

    One if they are the same; otherwise the product of (1 - independence) up the chain of
    parents from `org` to `over`; zero if `over` is not among `org`'s parents.
    """
    chance = 1.0
    current: str | None = org
    seen: set[str] = set()
    while current is not None and current not in seen:
        if current == over:
            return chance
        seen.add(current)
        spec = config.organisations[current]
        chance *= 1.0 - spec.independence
        current = spec.parent
    return 0.0


class World:
    """One replication of one scenario, ready to run."""

    def __init__(self, config: Config, streams: Streams, observer: Observer) -> None:
        self.config = config
        self.observer = observer
        self.env = simpy.Environment()
        scenario = config.scenario
        self.horizon = scenario.days * HOURS_PER_DAY
        self.holdings = Holdings(self.env, config, streams, observer)
        gate = config.gatekeeper
        shifts = None if gate is None or gate.hours.around_the_clock else working_windows(
            gate.hours, gate.timezone, scenario.start_date, scenario.days)
        self.gate = StewardGate(self.env, gate.reviewers if gate else 0, shifts, self.horizon,
                                observer, self._steward_decision)
        self.review_mu = (math.log(gate.review_hours_mean) - gate.review_hours_sigma**2 / 2
                          if gate else 0.0)
        self.emergency_purposes = gate.emergency_purposes if gate else ()
        self.expiry_hours = gate.expiry_hours if gate else None
        # Hot-path constants, read once rather than through the frozen config per request.
        self.exponential_review = gate is not None and gate.review_distribution == "exponential"
        self.review_mean = gate.review_hours_mean if gate else 0.0
        self.review_sigma = gate.review_hours_sigma if gate else 0.0
        self.allowed = frozenset((purpose, cls) for purpose, classes in
                                 (gate.policy.items() if gate else ()) for cls in classes)
        self.counted = frozenset(config.policy.counted_classes)
        self.has_gate = gate is not None
        self._override: dict[str, float] = {}  # employer -> chance the parent overrides a denial
        self.parent_pending = 0
        self._numbers = itertools.count()
        self.actors = [self._build_actor(name, spec, streams)
                       for name, spec in config.actors.items()]
        self.actors_by_name = {actor.name: actor for actor in self.actors}
        for actor in self.actors:
            self.env.process(self._arrivals(actor))
            if actor.spec.covert_attempts_per_year > 0:
                self.env.process(self._covert(actor, streams))

    def run(self) -> int:
        """Run to the horizon and return how many requests are still pending."""
        self.env.run(until=self.horizon)
        return self.gate.close() + self.parent_pending

    # -- building -------------------------------------------------------------------------
    def _build_actor(self, name: str, spec: ActorGroup, streams: Streams) -> Actor:
        purposes, purpose_cum = cumulative(spec.purposes)
        classes, class_cum = cumulative(spec.data_classes)
        scenario = self.config.scenario
        return Actor(
            name=name, spec=spec,
            foreign=spec.location not in self.config.policy.allowed_read,
            windows=working_windows(spec.hours, spec.timezone, scenario.start_date, scenario.days),
            purposes=purposes, purpose_cum=purpose_cum, classes=classes, class_cum=class_cum,
            candidates={cls: self._candidates(name, spec, cls) for cls in self.config.data},
            gaps=streams.exponential(f"actor.{name}.arrivals"),
            uniforms=streams.uniform(f"actor.{name}.request.u", 8),
            normals=streams.normal(f"actor.{name}.request.z", 4),
        )

    def route(self, actor: str, site: str, data_class: str) -> str:
        """Return the gate of the most specific route matching (actor, site, class)."""
        return route_gate(self.config.routes, actor, site, data_class)

    def _candidates(self, actor: str, spec: ActorGroup, data_class: str) -> list[tuple[str, str]]:
        """Return (site, gate) pairs an actor may try, in the order it tries them.

        Routes more likely to yield readable data come first (a read that bypasses the steward
        gate is readable only as far as the actor's company controls the key holder); then the
        weakest gate, the preferred site, and the site's role.
        """
        preferred = {site: i for i, site in enumerate(spec.preferred_sites)}
        options = []
        for site_name, site in self.config.sites.items():
            gate = self.route(actor, site_name, data_class)
            if gate == "blocked":
                continue
            readable = 1.0
            if gate != "steward" and self.config.controls.key_custody_enforced:
                readable = control_probability(self.config, site.key_custody, spec.employer)
            rank = (-round(readable, 6), GATE_ORDER[gate], preferred.get(site_name, len(preferred)),
                    ROLE_ORDER[site.role], site_name)
            options.append((rank, site_name, gate))
        return [(site_name, gate) for _, site_name, gate in sorted(options)]

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
        if not self.has_gate:
            review = 0.0
        elif self.exponential_review:
            review = -self.review_mean * math.log(1.0 - u[U_REVIEW])
        else:
            review = math.exp(self.review_mu + self.review_sigma * z[Z_REVIEW])
        purposes, classes = actor.purposes, actor.classes
        # Positional arguments, in Request's field order: this runs once per request.
        request = Request(
            next(self._numbers), actor.name, now,
            purposes[0] if len(purposes) == 1 else pick(purposes, actor.purpose_cum, u[U_PURPOSE]),
            classes[0] if len(classes) == 1 else pick(classes, actor.class_cum, u[U_CLASS]),
            spec.records_median * math.exp(spec.records_sigma * z[Z_RECORDS]),
            review, u, z,
        )
        self.observer.submitted(now, request)
        self._dispatch(actor, request)

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
            normals=[0.0, 0.0, 0.0, 0.0],
        )
        self.observer.submitted(self.env.now, request)
        self._dispatch(self.actors_by_name[actor], request)
        return request

    def _dispatch(self, actor: Actor, request: Request) -> None:
        now = self.env.now
        choice = self._choose_site(actor, request.data_class, request.uniforms[U_SITE])
        if choice is None:
            self.observer.decided(now, request, "denied", "no_route")
            return
        request.site, request.gate = choice
        if request.gate == "none":
            self.observer.decided(now, request, "granted", "no_gate")
            self._access(now, actor, request, "approved_by_policy")
        elif request.gate == "parent":
            self._parent_decision(actor, request)
        elif request.purpose in self.emergency_purposes:
            self.observer.decided(now, request, "granted", "emergency")
            self._access(now, actor, request, "emergency_path")
            self.gate.submit(dataclasses.replace(request, post_review=True))
        else:
            expiry = self.expiry_hours
            request.expires_at = now + expiry if expiry is not None else math.inf
            self.gate.submit(request)

    def _choose_site(self, actor: Actor, data_class: str, u: float) -> tuple[str, str] | None:
        """Pick where a request is served, trying the weakest gate first.

        Each site holds a share of the class's records. Shares are taken to overlap as little
        as they can (a move leaves disjoint halves; a full copy covers everything), so a
        candidate serves the request with probability share / (share not yet covered).
        """
        shares = self.holdings.share
        covered = 0.0
        for site, gate in actor.candidates[data_class]:
            share = shares[site][data_class]
            if share <= 0.0:
                continue
            chance = share / (1.0 - covered) if covered < 1.0 else 1.0
            if chance >= 1.0 or u < chance:
                return site, gate
            u = (u - chance) / (1.0 - chance)
            covered += share
        return None

    def _parent_decision(self, actor: Actor, request: Request) -> None:
        spec = self.config.parent_approval
        delay = spec.delay_hours_median * math.exp(spec.delay_sigma * request.normals[Z_PARENT_DELAY])
        when = self.env.now + delay
        if when >= self.horizon:
            self.parent_pending += 1
            return
        if request.uniforms[U_DECISION] < spec.approve_probability:
            self.observer.decided(when, request, "granted", "parent")
            self._access(when, actor, request, "approved_by_policy")
        else:
            self.observer.decided(when, request, "denied", "parent")

    def _steward_decision(self, now: float, request: Request) -> None:
        gate = self.config.gatekeeper
        assert gate is not None, "validation guarantees a gatekeeper behind steward routes"
        u = request.uniforms[U_DECISION]
        allowed = (request.purpose, request.data_class) in self.allowed
        actor = self.actors_by_name[request.actor]
        if allowed and u >= gate.false_denial:
            self.observer.decided(now, request, "granted", "policy")
            self._access(now, actor, request, "approved_by_policy")
        elif not allowed and u < gate.false_approval:
            self.observer.decided(now, request, "granted", "error")
            self._access(now, actor, request, "approved_in_error")
        else:
            self.observer.decided(now, request, "denied", "policy" if not allowed else "error")
            employer = actor.spec.employer
            override = self._override.get(employer)
            if override is None:
                override = self._override[employer] = control_probability(self.config, gate.organisation, employer)
            if request.uniforms[U_OVERRIDE] < override:
                self._access(now, actor, request, "parent_override")

    # -- accesses -------------------------------------------------------------------------
    def _access(self, t: float, actor: Actor, request: Request, path: str) -> None:
        """Account for data read; decide whether it is residual cross-border access."""
        site_name = request.site or ""
        if not (actor.foreign and request.data_class in self.counted):
            # Domestic reads and uncounted classes are never residual: the common case.
            self.observer.accessed(t, request, actor.name, site_name, request.data_class,
                                   request.records, actor.foreign, None, None)
            return
        config = self.config
        site = config.sites[site_name]
        u = request.uniforms[U_CONTROL]
        if request.gate == "steward" and u < config.controls.gateway_deidentify_share:
            self.observer.shielded(t, actor.name, "deidentified")
            return
        if request.gate != "steward" and path != "parent_override" and config.controls.key_custody_enforced and (
                u >= control_probability(config, site.key_custody, actor.spec.employer)):
            self.observer.shielded(t, actor.name, "ciphertext")
            return
        abroad = site.jurisdiction not in config.policy.allowed_rest
        channel = "legacy_or_backup_abroad" if abroad else path
        detected_at = self._detection(t, site.access_logged, channel,
                                      request.uniforms[U_AUDIT], request.normals[Z_AUDIT_DELAY])
        self.observer.accessed(t, request, actor.name, site_name, request.data_class,
                               request.records, True, channel, detected_at)

    def _detection(self, t: float, logged: bool, channel: str, u: float, z: float) -> float | None:
        """Return when the audit finds an improper access, or None if it never does."""
        controls = self.config.controls
        if channel in ("approved_by_policy", "emergency_path") or not logged:
            return None
        if u >= controls.audit_detect_probability:
            return None
        delay_days = controls.audit_delay_days_median * math.exp(controls.audit_delay_sigma * z)
        return t + delay_days * HOURS_PER_DAY

    # -- covert channels ------------------------------------------------------------------
    def _covert(self, actor: Actor, streams: Streams) -> Generator[Any, Any, None]:
        rate = actor.spec.covert_attempts_per_year / (365.0 * HOURS_PER_DAY)
        gaps = streams.exponential(f"actor.{actor.name}.covert.arrivals")
        uniforms = streams.uniform(f"actor.{actor.name}.covert.u", 3)
        normals = streams.normal(f"actor.{actor.name}.covert.z", 2)
        while True:
            yield self.env.timeout(gaps.next() / rate)
            self._covert_attempt(actor, uniforms.row(), normals.row())

    def _covert_attempt(self, actor: Actor, u: list[float], z: list[float]) -> None:
        now, config = self.env.now, self.config
        self.observer.covert_attempt(now, actor.name)
        target_class = config.policy.counted_classes[0]
        holders = [(site, shares[target_class]) for site, shares in self.holdings.share.items()
                   if shares[target_class] > 0.0]
        if not holders:
            return
        total = sum(share for _, share in holders)
        names, cum = cumulative({site: share / total for site, share in holders})
        site_name = pick(names, cum, u[COVERT_U_SITE])
        if u[COVERT_U_REVIEW] < config.controls.code_review_coverage:
            self.observer.shielded(now, actor.name, "code_review")
            return
        spec = actor.spec
        records = spec.covert_records_median * math.exp(spec.covert_records_sigma * z[COVERT_Z_RECORDS])
        channel = "covert" if actor.foreign else None
        detected_at = None
        if channel is not None:
            detected_at = self._detection(now, config.sites[site_name].access_logged, channel,
                                          u[COVERT_U_AUDIT], z[COVERT_Z_AUDIT_DELAY])
        self.observer.accessed(now, None, actor.name, site_name, target_class, records,
                               actor.foreign, channel, detected_at)
