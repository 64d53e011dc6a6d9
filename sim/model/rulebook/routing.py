"""Routes: which sites an actor group may read a data class at, through which gate, in which order."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial

from sim.config.references import control_probability as control_probability
from sim.config.schema import GATE_ORDER, WILDCARD, ActorGroup, Config, GateKind, Route, route_index
from sim.model.rng import Stream
from sim.model.rulebook.events import Gate
from sim.model.rulebook.rules import REVIEWED, first_order, second_order

Candidate = tuple[str, Gate]


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
    candidates: dict[str, list[Candidate]]
    gaps: Stream
    uniforms: Stream
    normals: Stream
    #: With route_choice = share: the preferred-site order, and one uniform per request
    #: (stream `actor.<name>.request.route`) that picks between the two orders.
    preferred_candidates: dict[str, list[Candidate]] | None = None
    route_draws: Stream | None = None
    #: The four route tables a request may follow, by `rules.route_variants` code: the first or
    #: second order (+1), unaware of keys or routing around them (+2); absent ones repeat others.
    tables: list[dict[str, list[Candidate]]] | None = None
    #: Whether the route uniform also decides routing around keys (0 < routes_around_keys_share < 1).
    mixes_keys: bool = False


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


class RouteTable:
    """The routes of a config, indexed by actor so a lookup scans only the routes that can match.

    A lookup returns what `route_index` over all routes returns (most specific wins, ties go
    to the later route); building it is linear in the routes, so a world with many actor
    groups no longer pays routes x actors x sites x classes.
    """

    def __init__(self, routes: tuple[Route, ...]) -> None:
        self.routes = routes
        self._wild = [i for i, route in enumerate(routes) if route.actor == WILDCARD]
        self._own: dict[str, list[int]] = {}
        for i, route in enumerate(routes):
            if route.actor != WILDCARD:
                self._own.setdefault(route.actor, []).append(i)
        self._subsets: dict[str, tuple[Route, ...]] = {}
        self._positions: dict[str, list[int]] = {}
        # What each route says about the gates an actor meets, with its own actor as "this actor" (`signature`).
        self._contents = [(route.actor == WILDCARD, route.site, route.data_class, route.gate) for route in routes]
        self._tables: dict[tuple[object, ...], tuple[list[dict[str, list[Candidate]]], bool, bool]] = {}

    def built_once(self, key: tuple[object, ...],
                   build: Callable[[], tuple[list[dict[str, list[Candidate]]], bool, bool]],
                   ) -> tuple[list[dict[str, list[Candidate]]], bool, bool]:
        """Return the route tables `build` gives for `key`, built once per key.

        The tables also read the config's sites and controls, which the key leaves out: a
        RouteTable serves one config (each world builds its own).
        """
        found = self._tables.get(key)
        if found is None:
            found = self._tables[key] = build()
        return found

    def _subset(self, actor: str) -> tuple[Route, ...]:
        """Return the routes that can match `actor`, in config order (their positions in `_positions`)."""
        subset = self._subsets.get(actor)
        if subset is None:
            subset = self._subsets[actor] = tuple(self.routes[i] for i in self._places(actor))
        return subset

    def _places(self, actor: str) -> list[int]:
        """Return the positions, in config order, of the routes that can match `actor`."""
        positions = self._positions.get(actor)
        if positions is None:
            own = self._own.get(actor)
            positions = self._positions[actor] = sorted(self._wild + own) if own else self._wild
        return positions

    def index(self, actor: str, site: str, data_class: str) -> int | None:
        """Return the position of the most specific route matching (actor, site, class), or None."""
        found = route_index(self._subset(actor), actor, site, data_class)
        return None if found is None else self._positions[actor][found]

    def signature(self, actor: str) -> tuple[tuple[bool, str, str, GateKind], ...]:
        """Return what decides every gate `actor` meets: the routes that can match it, by content.

        A route naming the actor counts as naming "this actor", so two groups whose routes
        differ only in the name they give get the same signature, and the same gates.
        """
        contents = self._contents
        return tuple([contents[i] for i in self._places(actor)])

    def gate(self, actor: str, site: str, data_class: str) -> GateKind:
        """Return the gate of the route that decides (actor, site, class), or "blocked"."""
        index = self.index(actor, site, data_class)
        return "blocked" if index is None else self.routes[index].gate


def candidates(
    config: Config, actor: str, spec: ActorGroup, data_class: str, least_resistance: bool = True,
    table: RouteTable | None = None, around_keys: bool | None = None,
) -> list[Candidate]:
    """Return (site, gate) pairs an actor may try, in the order it tries them.

    If the group routes around keys, routes more likely to yield readable data come first (a
    read that bypasses the steward gate and the key holder's release is readable only as far
    as the actor's company controls the key holder); otherwise it reads where it would and may
    get ciphertext. Then least resistance tries the weakest gate, the preferred site and the
    site's role (in the group's `role_order`); the preferred-site order tries the preferred
    site, the role and then the gate. `around_keys` overrides the group's own choice.
    """
    around = keys_share(spec) >= 1.0 if around_keys is None else around_keys
    preferred = {site: i for i, site in enumerate(spec.preferred_sites)}
    roles = spec.roles
    table = table if table is not None else RouteTable(config.routes)
    options = []
    for site_name, site in config.sites.items():
        gate = table.gate(actor, site_name, data_class)
        if gate == "blocked":
            continue
        readable = 1.0
        if around and gate not in REVIEWED and config.controls.key_custody_enforced:
            readable = control_probability(config, site.key_custody, spec.employer)
        weak, liked, role = GATE_ORDER[gate], preferred.get(site_name, len(preferred)), roles[site.role]
        order = (weak, liked, role) if least_resistance else (liked, role, weak)
        options.append(((-round(readable, 6), *order, site_name), site_name, gate))
    return [(site_name, gate) for _, site_name, gate in sorted(options)]


def keys_share(spec: ActorGroup) -> float:
    """Return the share of a group's requests that route around keys (all of them with routes_around_keys)."""
    return 1.0 if spec.routes_around_keys else spec.routes_around_keys_share


def route_tables(
    config: Config, actor: str, spec: ActorGroup, table: RouteTable | None = None,
) -> tuple[list[dict[str, list[Candidate]]], bool, bool]:
    """Return the group's four route tables (`Actor.tables`), whether it mixes two orders, and whether keys.

    Tables the group never draws repeat the ones it does, so each is built at most once. Groups
    whose routes and route behaviour are alike (`table_signature`) share the tables `table`
    built for the first of them: build them once per kind of group, not once per group.
    """
    table = table if table is not None else RouteTable(config.routes)
    return table.built_once(table_signature(actor, spec, table), partial(_route_tables, config, actor, spec, table))


def table_signature(actor: str, spec: ActorGroup, table: RouteTable) -> tuple[object, ...]:
    """Return what a group's route tables depend on: its routes (`RouteTable.signature`) and route behaviour."""
    return (table.signature(actor), spec.route_choice, spec.routes_around_keys, spec.routes_around_keys_share,
            tuple(spec.preferred_sites), spec.role_order, spec.employer)


def _route_tables(
    config: Config, actor: str, spec: ActorGroup, table: RouteTable,
) -> tuple[list[dict[str, list[Candidate]]], bool, bool]:
    """Build a group's route tables (`route_tables`, without sharing)."""
    first = first_order(spec.route_choice) == "least_resistance"
    orders = second_order(spec.route_choice)
    share = keys_share(spec)
    keys = 0.0 < share < 1.0

    def build(least: bool, around: bool) -> dict[str, list[Candidate]]:
        return {cls: candidates(config, actor, spec, cls, least, table, around) for cls in config.data}

    plain = build(first, share >= 1.0)
    second = build(False, share >= 1.0) if orders else plain
    aware = build(first, True) if keys else plain
    aware_second = (build(False, True) if orders else aware) if keys else second
    return [plain, second, aware, aware_second], orders, keys


def sites_ever_holding(config: Config, data_class: str) -> set[str]:
    """Return the sites that hold a class at the start or receive it by replication or migration."""
    held = {name for name, site in config.sites.items() if site.holdings.get(data_class, 0.0) > 0.0}
    held |= {r.target for r in config.replication if r.data_class == data_class}
    held |= {m.target for m in config.migrations if m.data_class == data_class}
    return held


def deciding_routes(config: Config) -> dict[int, str]:
    """Return the routes that decide residual access, each with why.

    A route decides when it is the one that lets a foreign actor group reach a counted class
    at a site that ever holds it: every residual read passes through such a route.
    """
    found: dict[int, str] = {}
    table = RouteTable(config.routes)
    for actor, spec in config.actors.items():
        if spec.location in config.policy.allowed_read:
            continue
        for cls in config.policy.counted_classes:
            for site in sorted(sites_ever_holding(config, cls)):
                index = table.index(actor, site, cls)
                if index is not None and config.routes[index].gate != "blocked":
                    found.setdefault(index, f"opens {cls} at {site} to {actor}")
    return found


def deciding_choices(config: Config) -> dict[str, str]:
    """Return `<actor>.<behaviour key>` of foreign groups whose route behaviour decides residual access.

    The choice decides when the group has open routes to a counted class through different
    gates, or when a route without the steward reaches a site whose keys its side may not control;
    the site order decides when sites of different roles are open through one gate.
    """
    found: dict[str, str] = {}
    table = RouteTable(config.routes)
    for actor, spec in config.actors.items():
        if spec.location in config.policy.allowed_read:
            continue
        for cls in config.policy.counted_classes:
            open_routes = [(site, table.gate(actor, site, cls))
                           for site in sorted(sites_ever_holding(config, cls))]
            open_routes = [(site, gate) for site, gate in open_routes if gate != "blocked"]
            gates = {gate for _, gate in open_routes}
            keyed = [site for site, gate in open_routes if gate not in REVIEWED and control_probability(
                config, config.sites[site].key_custody, spec.employer) < 1.0]
            if len(gates) > 1:
                found[f"{actor}.route_choice"] = f"{cls} is open through {', '.join(sorted(gates))} gates"
            if keyed:
                found[f"{actor}.routes_around_keys"] = found[f"{actor}.routes_around_keys_share"] = (
                    f"keys at {', '.join(keyed)} are held by a side {actor}'s employer may not control")
            for gate in sorted(gates):
                alike = sorted({config.sites[site].role for site, kind in open_routes if kind == gate})
                if len(alike) > 1:
                    found.setdefault(f"{actor}.role_order", f"{cls} is open at {', '.join(alike)} sites "
                                                            f"through one {gate} gate")
    return found
