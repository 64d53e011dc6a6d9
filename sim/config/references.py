"""Cross-references of a scenario: every name a config uses must be one it defines, every date one it supports."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sim.config.names import CALENDAR, WILDCARD

# The schema calls these while validating a Config, so they take it untyped: the schema imports
# this module, never the other way round.
Config = Any


def reference_problems(config: Config) -> list[tuple[str, str]]:
    """List (key, problem) for every name that refers to something the config lacks."""
    orgs, sites, classes = set(config.organisations), set(config.sites), set(config.data)
    problems: list[tuple[str, str]] = []

    def need(kind: str, name: str | None, known: set[str], where: str) -> None:
        if name is not None and name != WILDCARD and name not in known:
            choices = ", ".join(sorted(known)) or "none defined"
            problems.append((where, f"names {kind} {name!r}, which is not defined (defined: {choices})."))

    for name, org in config.organisations.items():
        need("organisation", org.parent, orgs, f"organisations.{name}.parent")
    problems += ownership_cycles(config)
    problems += date_problems(config)
    for name, site in config.sites.items():
        need("organisation", site.operator, orgs, f"sites.{name}.operator")
        need("organisation", site.key_custody, orgs, f"sites.{name}.key_custody")
        for cls in site.holdings:
            need("data class", cls, classes, f"sites.{name}.holdings")
    for group in ("replication", "migrations"):
        for i, item in enumerate(getattr(config, group)):
            need("site", item.source, sites, f"{group}.{i}.source")
            need("site", item.target, sites, f"{group}.{i}.target")
            need("data class", item.data_class, classes, f"{group}.{i}.data_class")
    for i, deletion in enumerate(config.deletions):
        need("site", deletion.site, sites, f"deletions.{i}.site")
        need("data class", deletion.data_class, classes, f"deletions.{i}.data_class")
    gate = config.gatekeeper
    policy = gate.policy if gate is not None else {}
    for name, actor in config.actors.items():
        need("organisation", actor.employer, orgs, f"actors.{name}.employer")
        for cls in actor.data_classes:
            need("data class", cls, classes, f"actors.{name}.data_classes")
        for site_name in actor.preferred_sites:
            need("site", site_name, sites, f"actors.{name}.preferred_sites")
        for purpose in actor.purposes:
            if gate is not None and purpose not in policy:
                problems.append((
                    f"actors.{name}.purposes",
                    f"uses purpose {purpose!r}, which gatekeeper.policy does not cover "
                    "(add it to gatekeeper.policy with the data classes it allows).",
                ))
    if gate is not None:
        need("organisation", gate.organisation, orgs, "gatekeeper.organisation")
    for i, route in enumerate(config.routes):
        if route.gate in ("steward", "key_release") and gate is None:
            problems.append((f"routes.{i}.gate", f"sends requests to the {route.gate} gate, but the "
                             "config has no [gatekeeper] table (add one, or use another gate)."))
        elif route.gate == "key_release" and gate is not None:
            keyed = [route.site] if route.site != WILDCARD else list(sites)
            for site_name in keyed:
                holder = config.sites[site_name].key_custody if site_name in config.sites else gate.organisation
                if holder != gate.organisation:
                    problems.append((f"routes.{i}.gate", f"sends requests for {site_name} to the key holder's "
                                     f"release, but {site_name}'s keys are held by {holder!r}, not by the "
                                     f"gatekeeper {gate.organisation!r} (name the site whose keys the "
                                     "gatekeeper holds, or use another gate)."))
    for purpose, allowed in policy.items():
        for cls in allowed:
            need("data class", cls, classes, f"gatekeeper.policy.{purpose}")
    for i, route in enumerate(config.routes):
        need("actor group", route.actor, set(config.actors), f"routes.{i}.actor")
        need("site", route.site, sites, f"routes.{i}.site")
        need("data class", route.data_class, classes, f"routes.{i}.data_class")
    for cls in config.policy.counted_classes:
        need("data class", cls, classes, "policy.counted_classes")
    return problems


def ownership_cycles(config: Config) -> list[tuple[str, str]]:
    """Return a problem for each organisation whose chain of parents leads back to itself."""
    problems = []
    for name in config.organisations:
        chain, node = [name], config.organisations[name].parent
        while node is not None and node in config.organisations and node not in chain:
            chain.append(node)
            node = config.organisations[node].parent
        if node == name:
            problems.append((f"organisations.{name}.parent", "the ownership chain goes round in a circle ("
                             + " -> ".join([*chain, name]) + "); an organisation cannot own itself."))
    return problems


def date_problems(config: Config) -> list[tuple[str, str]]:
    """Return a problem for each date outside the calendar, the horizon's end included."""
    start = config.scenario.start_date
    problems = []
    if CALENDAR[0] <= start <= CALENDAR[1] and start + dt.timedelta(days=config.scenario.days) > CALENDAR[1]:
        problems.append(("scenario.days", f"the run would end after {CALENDAR[1]}, the end of the calendar the "
                         "model supports."))
    dated = [(f"migrations.{i}.start", m.start) for i, m in enumerate(config.migrations)]
    dated += [(f"deletions.{i}.start", d.start) for i, d in enumerate(config.deletions)]
    dated += [(f"replication.{i}.until", r.until) for i, r in enumerate(config.replication) if r.until]
    for key, value in dated:
        if not CALENDAR[0] <= value <= CALENDAR[1]:
            problems.append((key, f"the date {value} lies outside {CALENDAR[0]} to {CALENDAR[1]}, the calendar "
                             "the model supports."))
    return problems


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
