"""Routes: which sites an actor group may read a data class at, through which gate, in which order."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Mapping
from dataclasses import dataclass

from sim.config.schema import GATE_ORDER, ROLE_ORDER, ActorGroup, Config, route_gate
from sim.model.events import Gate
from sim.model.rng import Stream

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


def candidates(config: Config, actor: str, spec: ActorGroup, data_class: str) -> list[Candidate]:
    """Return (site, gate) pairs an actor may try, in the order it tries them.

    Routes more likely to yield readable data come first (a read that bypasses the steward
    gate is readable only as far as the actor's company controls the key holder); then the
    weakest gate, the preferred site, and the site's role.
    """
    preferred = {site: i for i, site in enumerate(spec.preferred_sites)}
    options = []
    for site_name, site in config.sites.items():
        gate = route_gate(config.routes, actor, site_name, data_class)
        if gate == "blocked":
            continue
        readable = 1.0
        if gate != "steward" and config.controls.key_custody_enforced:
            readable = control_probability(config, site.key_custody, spec.employer)
        rank = (-round(readable, 6), GATE_ORDER[gate], preferred.get(site_name, len(preferred)),
                ROLE_ORDER[site.role], site_name)
        options.append((rank, site_name, gate))
    return [(site_name, gate) for _, site_name, gate in sorted(options)]


def choose_site(
    options: list[Candidate], shares: Mapping[str, Mapping[str, float]], data_class: str, u: float,
) -> Candidate | None:
    """Pick where a request is served, trying the candidates in order.

    Each site holds a share of the class's records. Shares are taken to overlap as little
    as they can (a move leaves disjoint halves; a full copy covers everything), so a
    candidate serves the request with probability share / (share not yet covered).
    """
    covered = 0.0
    for site, gate in options:
        share = shares[site][data_class]
        if share <= 0.0:
            continue
        chance = share / (1.0 - covered) if covered < 1.0 else 1.0
        if chance >= 1.0 or u < chance:
            return site, gate
        u = (u - chance) / (1.0 - chance)
        covered += share
    return None
