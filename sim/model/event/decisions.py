"""Decisions: what becomes of a request once it has a route, and what an access counts as."""

from __future__ import annotations

import dataclasses
import math

import simpy

from sim.config.schema import CHANNELS, Config
from sim.model.event.gatekeeper import StewardGate
from sim.model.rulebook.draws import (
    U_AUDIT,
    U_CONTROL,
    U_DECISION,
    U_OVERRIDE,
    U_SITE,
    Z_AUDIT_DELAY,
    Z_PARENT_DELAY,
)
from sim.model.rulebook.events import (
    Accessed,
    Decided,
    Grant,
    Observer,
    Request,
    Shield,
    Shielded,
)
from sim.model.rulebook.routing import Actor, control_probability, keys_share
from sim.model.rulebook.rules import (
    GATES,
    channels,
    choose_sites,
    detections,
    expiries,
    improper,
    parent_decisions,
    route_variants,
    shields,
    steward_decisions,
    unknown,
)
from sim.model.rulebook.tally import ACCESS, CIPHERTEXT
from sim.model.slow.holdings import Holdings


class Decisions:
    """The event engine's request driver: each request settled by the rules (`rules`) as a batch of one."""

    def __init__(
        self, env: simpy.Environment, config: Config, observer: Observer, holdings: Holdings,
        actors: dict[str, Actor], shifts: list[tuple[float, float]] | None, horizon: float,
    ) -> None:
        self.env = env
        self.config = config
        self.observer = observer
        self.holdings = holdings
        self.actors = actors
        self.horizon = horizon
        gate = config.gatekeeper
        self.gate = StewardGate(env, gate.reviewers if gate else 0, shifts, horizon, observer,
                                self._steward_decision)
        self.emergency_purposes = gate.emergency_purposes if gate else ()
        self.expiry_hours = gate.expiry_hours if gate else None
        self.allowed = frozenset((purpose, cls) for purpose, classes in
                                 (gate.policy.items() if gate else ()) for cls in classes)
        self.counted = frozenset(config.policy.counted_classes)
        # Where a gatekeeper guards the data, the parent's own approval goes around it.
        self.parent_is_policy = gate is None
        self._override: dict[str, float] = {}  # employer -> chance the parent overrides a denial
        self.parent_pending = 0

    def dispatch(self, actor: Actor, request: Request) -> None:
        """Route a new request and send it down its gate's path."""
        now = self.env.now
        notify = self.observer.notify
        options = actor.candidates[request.data_class]
        if actor.route_draws is not None and actor.tables is not None:
            spec = actor.spec
            variant = route_variants(actor.route_draws.next(), spec.least_resistance_share, keys_share(spec),
                                     actor.preferred_candidates is not None, actor.mixes_keys)
            options = actor.tables[variant][request.data_class]
        shares = self.holdings.share
        chosen = choose_sites([shares[site][request.data_class] for site, _ in options], request.uniforms[U_SITE])
        if chosen < 0:
            notify(Decided(now, request, "denied", "no_route"))
            return
        request.site, request.gate = options[chosen]
        match request.gate:
            case "none":
                notify(Decided(now, request, "granted", "no_gate"))
                self._access(now, actor, request, "no_gate")
            case "parent":
                self._parent_decision(actor, request)
            case "steward" | "key_release":
                self._steward(now, actor, request)
            case other:
                unknown("routes.gate", other, GATES)

    def _steward(self, now: float, actor: Actor, request: Request) -> None:
        """Hand a request to the gatekeeper's queue (the steward's review, or the key holder's release).

        An emergency purpose is granted now and reviewed after.
        """
        gate = self.config.gatekeeper
        assert gate is not None, "validation guarantees a gatekeeper behind steward routes"
        emergency = request.purpose in self.emergency_purposes
        if emergency:
            self.observer.notify(Decided(now, request, "granted", "emergency"))
            self._access(now, actor, request, "emergency")
            request = dataclasses.replace(request, post_review=True)
        request.expires_at = expiries(gate, now, emergency)
        self.gate.submit(request)

    def _parent_decision(self, actor: Actor, request: Request) -> None:
        """Decide at the parent; reported now, ahead of time, with the decision's own time."""
        when, decided, approved = parent_decisions(
            self.config.parent_approval, self.env.now, request.uniforms[U_DECISION],
            request.normals[Z_PARENT_DELAY], self.horizon)
        if not decided:
            self.parent_pending += 1
            return
        if approved:
            self.observer.notify(Decided(when, request, "granted", "parent"))
            self._access(when, actor, request, "parent_approval")
        else:
            self.observer.notify(Decided(when, request, "denied", "parent"))

    def _steward_decision(self, now: float, request: Request) -> None:
        gate = self.config.gatekeeper
        assert gate is not None, "validation guarantees a gatekeeper behind steward routes"
        notify = self.observer.notify
        allowed = (request.purpose, request.data_class) in self.allowed
        actor = self.actors[request.actor]
        employer = actor.spec.employer
        override = self._override.get(employer)
        if override is None:
            override = self._override[employer] = control_probability(self.config, gate.organisation, employer)
        policy, error, _, overridden = steward_decisions(
            gate, allowed, request.uniforms[U_DECISION], request.uniforms[U_OVERRIDE], override)
        if policy:
            notify(Decided(now, request, "granted", "policy"))
            self._access(now, actor, request, "policy")
        elif error:
            notify(Decided(now, request, "granted", "error"))
            self._access(now, actor, request, "error")
        else:
            notify(Decided(now, request, "denied", "policy" if not allowed else "error"))
            if overridden:
                self._access(now, actor, request, "override")

    # -- accesses -------------------------------------------------------------------------
    def improper(self, grant: Grant, request: Request) -> bool:
        """Return whether policy forbids a read so granted, wherever the site is (`rules.improper`)."""
        allowed = (request.purpose, request.data_class) in self.allowed
        return bool(improper(grant, allowed, not self.parent_is_policy))

    def _access(self, t: float, actor: Actor, request: Request, grant: Grant) -> None:
        """Account for data read; decide whether it is residual cross-border access."""
        site_name = request.site or ""
        if not (actor.foreign and request.data_class in self.counted):
            # Domestic reads and uncounted classes are never residual: the common case.
            self.observer.notify(Accessed(t, request, actor.name, site_name, request.data_class,
                                          request.records, actor.foreign, None, None))
            return
        config = self.config
        site = config.sites[site_name]
        kind = shields(config.controls, grant, request.gate == "steward", request.gate == "key_release",
                       request.uniforms[U_CONTROL],
                       control_probability(config, site.key_custody, actor.spec.employer))
        if kind != ACCESS:
            how: Shield = "ciphertext" if kind == CIPHERTEXT else "deidentified"
            self.observer.notify(Shielded(t, actor.name, how, site_name, request.records))
            return
        abroad = site.jurisdiction not in config.policy.allowed_rest
        channel = CHANNELS[channels(grant, abroad)]
        wrong = self.improper(grant, request)
        detected_at = self._detection(t, site.access_logged, wrong,
                                      request.uniforms[U_AUDIT], request.normals[Z_AUDIT_DELAY])
        self.observer.notify(Accessed(t, request, actor.name, site_name, request.data_class,
                                      request.records, True, channel, detected_at, grant, wrong))

    def _detection(self, t: float, logged: bool, improper: bool, u: float, z: float) -> float | None:
        """Return when the audit finds an improper access, or None if it never does."""
        found: float = detections(self.config.controls, t, improper, logged, u, z)
        return None if math.isnan(found) else found
