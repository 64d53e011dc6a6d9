"""Checks that report every problem of a config at once, and the warnings a run should carry.

`problems(path)` is what `residency validate` prints: unknown keys first (with did-you-mean),
then missing provenance, unknown fact ids, schema errors and broken references. `warnings`
names what a valid config silently leaves out, such as (actor, data class) pairs no route
serves. `parameter_sources` gives every parameter a run uses its source, schema defaults too.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any, cast

from pydantic import BaseModel, ValidationError, model_validator

from sim.config.facts import Fact, find_fact_base, load_facts
from sim.config.loader import (
    INCLUDE_KEY,
    PROVENANCE_KEY,
    LoadedConfig,
    Provenance,
    deep_merge,
    did_you_mean,
    error_from_pydantic,
    include_path,
    is_sourced_leaf,
    is_unsourced,
    parse_provenance,
    read_toml,
)
from sim.config.paths import join
from sim.config.references import control_probability, reference_problems
from sim.config.schema import WILDCARD, Config, route_gate
from sim.errors import InputError

DEFAULT = "schema default"
SETTING = "scenario setting"


class _Unreferenced(Config):
    """The schema without its cross-reference check, so that every broken reference can be listed."""

    @model_validator(mode="after")
    def _references_resolve(self) -> _Unreferenced:
        return self


def problems(path: Path) -> list[InputError]:
    """Return every problem of a config file (and the files it includes), unknown keys first."""
    facts_path = find_fact_base(path.resolve().parent)
    facts = load_facts(facts_path) if facts_path else {}
    found: list[InputError] = []
    try:
        plain = _collect(path, (), facts, facts_path, found)
    except InputError as error:
        return [*found, error]
    schema = _schema_problems(plain, str(path))
    unknown = [e for e in schema if e.problem.startswith("this key is not a parameter")]
    under_unknown = [e for e in found if any(e.key and u.key and e.key.startswith(u.key + ".") for u in unknown)]
    return unknown + [e for e in found if e not in under_unknown] + [e for e in schema if e not in unknown]


def spec_problems(path: Path, root: type[BaseModel]) -> list[InputError]:
    """Return every schema problem of a sweep or lesson file against its model, unknown keys first."""
    try:
        raw = read_toml(path)
        root.model_validate(raw)
    except InputError as error:
        return [error]
    except ValidationError as exc:
        found = [error_from_pydantic(cast(ValidationError, _OneError(e)), str(path), root=root) for e in exc.errors()]
        return sorted(found, key=lambda e: not e.problem.startswith("this key is not a parameter"))
    return []


def _collect(path: Path, chain: tuple[Path, ...], facts: dict[str, Fact], facts_path: Path | None,
             found: list[InputError]) -> dict[str, Any]:
    """Read a config and the files it includes, stripping provenance file by file and collecting problems."""
    raw = read_toml(path)
    include = raw.pop(INCLUDE_KEY, None)
    provenance: dict[str, Provenance] = {}
    plain = _strip(raw, "", False, provenance, str(path), found)
    found += _fact_problems(provenance, facts, str(path), facts_path)
    if include is None:
        return dict(plain)
    if not isinstance(include, str):
        raise InputError(str(path), INCLUDE_KEY, "include must be a file name in quotes.",
                         'write `include = "world"` (a shipped base) or a path such as "../common/world.toml".')
    base = include_path(path, include)
    if base in chain or len(chain) > 8 or not base.is_file():
        raise InputError(str(path), INCLUDE_KEY, f"the included file {base} does not exist or includes itself.",
                         "give a path relative to this config's folder or a shipped base's name "
                         '(`include = "world"`).')
    return deep_merge(_collect(base, (*chain, path.resolve()), facts, facts_path, found), plain)


def _strip(node: Any, key: str, covered: bool, out: dict[str, Provenance], source: str,
           found: list[InputError]) -> Any:
    """Strip provenance like the loader does, collecting every problem instead of stopping at one."""
    if isinstance(node, dict):
        if is_sourced_leaf(node):
            try:
                out[key] = parse_provenance(node, key, source)
            except InputError as error:
                found.append(error)
            return node["value"]
        if PROVENANCE_KEY in node:
            try:
                out[join(key, PROVENANCE_KEY)] = parse_provenance(node[PROVENANCE_KEY], join(key, PROVENANCE_KEY),
                                                                  source)
                covered = True
            except InputError as error:
                found.append(error)
        return {k: _strip(v, join(key, k), covered, out, source, found)
                for k, v in node.items() if k != PROVENANCE_KEY}
    if isinstance(node, list) and any(isinstance(item, dict) for item in node):
        return [_strip(v, join(key, str(i)), covered, out, source, found) for i, v in enumerate(node)]
    if not covered and not is_unsourced(key):
        found.append(InputError(
            source, key, "this parameter does not say where its value comes from.",
            f'write it as `{key.rsplit(".", 1)[-1]} = {{ value = ..., fact = "<id>" }}` or '
            '`{ value = ..., assume = "<one-line reason>" }`, or give its table a '
            '`provenance = { fact = "..." }` line.'))
    return node


def _fact_problems(provenance: dict[str, Provenance], facts: dict[str, Fact], source: str,
                   facts_path: Path | None) -> list[InputError]:
    """Return one problem per cited fact id the fact base lacks."""
    found = []
    where = str(facts_path) if facts_path else "seeds/facts.toml (not found)"
    for key, prov in provenance.items():
        for fact_id in prov.detail.split(",") if prov.kind == "fact" else ():
            if fact_id not in facts:
                found.append(InputError(source, key, f"it cites fact {fact_id!r}, which is not in {where}.",
                                        did_you_mean(fact_id, facts) or "cite an existing fact id or add the "
                                        "fact to seeds/facts.toml with its source."))
    return found


def _schema_problems(plain: dict[str, Any], source: str) -> list[InputError]:
    """Return every schema error, then every broken reference if the fields themselves are valid."""
    try:
        config = _Unreferenced.model_validate(plain)
    except ValidationError as exc:
        return [error_from_pydantic(cast(ValidationError, _OneError(e)), source) for e in exc.errors()]
    return [InputError(source, key, problem, "define it, or correct the name to one of those listed.")
            for key, problem in reference_problems(config)]


class _OneError:
    """One of pydantic's errors, shaped like a ValidationError for the loader's message builder."""

    def __init__(self, error: Any) -> None:
        self.error = error

    def errors(self) -> list[Any]:
        """Return the one error."""
        return [self.error]


def unrouted_pairs(config: Config) -> list[tuple[str, str]]:
    """Return (actor, data class) pairs an actor asks for that no route serves at any site.

    A pair is unrouted when no route matches it at all (an explicit `gate = "blocked"` is a
    decision, not an omission); every request for it is denied as `no_route`.
    """
    pairs = []
    # Routes that match some site, by actor pattern: each group scans only the routes that may be its own.
    placed = [route for route in config.routes
              if route.site in config.sites or (route.site == WILDCARD and config.sites)]
    by_actor: dict[str, list[str]] = {}
    for route in placed:
        by_actor.setdefault(route.actor, []).append(route.data_class)
    for actor, spec in config.actors.items():
        served = {*by_actor.get(WILDCARD, ()), *by_actor.get(actor, ())}
        for data_class, share in spec.data_classes.items():
            if share <= 0 or spec.headcount == 0 or spec.requests_per_hour == 0:
                continue
            if WILDCARD not in served and data_class not in served:
                pairs.append((actor, data_class))
    return pairs


def unrouted_metric(actor: str, data_class: str) -> str:
    """Return the metric path that counts the requests an unrouted pair lost."""
    return f"requests.unrouted.{actor}.{data_class}"


def warnings(loaded: LoadedConfig) -> list[str]:
    """Return what a valid config silently leaves out, one sentence each."""
    found = []
    for actor, data_class in unrouted_pairs(loaded.config):
        found.append(f"{loaded.path}: actor group {actor!r} asks for {data_class!r} data but no route serves it at "
                     f"any site, so every such request is denied as no_route (metric "
                     f"{unrouted_metric(actor, data_class)}). Add a [[routes]] entry for it, or "
                     f'`gate = "blocked"` to make the denial explicit.')
    found += inert_controls(loaded)
    return found


def inert_controls(loaded: LoadedConfig) -> list[str]:
    """Return a warning for each ranged control that cannot act in this config.

    An organisation's independence acts only against a parent: without one, no value in its
    range changes a result, and explore would spend a dimension on nothing.
    """
    found = []
    for name, org in loaded.config.organisations.items():
        key = f"organisations.{name}.independence"
        if org.parent is None and key in loaded.ranges:
            found.append(f"{loaded.path}: {key} has a range, but {name!r} has no parent, so its independence "
                         "cannot act (no one can pressure it through the ownership chain). Give it a `parent`, "
                         "or drop the range and say in `assume` why it cannot act.")
    return found


def parameter_sources(loaded: LoadedConfig) -> dict[str, str]:
    """Return every parameter the run uses and its source; schema defaults are marked as such."""
    sources: dict[str, str] = {}
    for key in _leaves(loaded.config.model_dump(mode="json"), ""):
        prov = _source_of(key, loaded.provenance)
        if prov is not None:
            sources[key] = prov.describe(loaded.facts)
        elif is_unsourced(key):
            sources[key] = SETTING
        else:
            sources[key] = DEFAULT
    return sources


def _source_of(key: str, provenance: dict[str, Provenance]) -> Provenance | None:
    """Return the provenance of a key or of the nearest sourced table above it."""
    parts = key.split(".")
    for depth in range(len(parts), 0, -1):
        found = provenance.get(".".join(parts[:depth]))
        if found is not None:
            return found
    return None


def _leaves(node: Any, prefix: str) -> list[str]:
    """Return the dotted paths of a dumped config's values (lists of plain values are one value)."""
    if isinstance(node, dict):
        return [leaf for k, v in node.items() for leaf in _leaves(v, join(prefix, str(k)))] if node else [prefix]
    if isinstance(node, list) and any(isinstance(item, dict) for item in node):
        return [leaf for i, v in enumerate(node) for leaf in _leaves(v, join(prefix, str(i)))]
    return [prefix]


def check_names(loaded: Sequence[LoadedConfig]) -> None:
    """Fail when two configs share a scenario name (their folders and rows would overwrite each other)."""
    seen: dict[str, Path] = {}
    for item in loaded:
        if item.name in seen:
            raise InputError(str(item.path), "scenario.name",
                             f"{seen[item.name]} and this file are both named {item.name!r}, so their results "
                             "would overwrite each other.",
                             "give one of them another `name` under [scenario].")
        seen[item.name] = item.path


def check_baseline(baseline: str, names: Sequence[str], source: str) -> None:
    """Fail when the baseline is not one of the compared scenarios."""
    if baseline not in names:
        raise InputError(source, baseline, f"the baseline {baseline!r} is not among the compared scenarios "
                         f"({', '.join(names)}).",
                         "name one of them as the baseline (--baseline NAME), or add the baseline's config to "
                         "the list (shipped arrangements can be given by name, such as status_quo).")


#: Scenario fields that name an arrangement without changing what it models.
NAMING_FIELDS = frozenset({"name", "title", "display", "colour", "description"})


def same_parameters(loaded: list[LoadedConfig]) -> list[str]:
    """Return a warning for each pair of configs that resolve to the same model parameters.

    Two such configs are one arrangement under two names: their results are equal by
    construction, and a comparison between them measures nothing.
    """
    def modelled(item: LoadedConfig) -> dict[str, Any]:
        dumped = item.config.model_dump(mode="json")
        dumped["scenario"] = {k: v for k, v in dumped["scenario"].items() if k not in NAMING_FIELDS}
        return dumped

    found = []
    seen: list[tuple[LoadedConfig, dict[str, Any]]] = []
    for item in loaded:
        params = modelled(item)
        for other, other_params in seen:
            if params == other_params:
                found.append(f"{item.path} and {other.path} resolve to the same parameters: "
                             f"{item.name!r} and {other.name!r} are one arrangement under two names and give "
                             "equal results by construction. Make them differ in what they model, or "
                             "compare only one.")
        seen.append((item, params))
    return found


def order_notes(loaded: LoadedConfig) -> list[str]:
    """Return a note for each tie the fixed site order breaks between plaintext and ciphertext.

    Where an actor group reaches two sites holding a counted class through equally weak gates,
    and its company surely holds the keys of one but not of the other, which of them a request reads is
    decided by the group's `role_order` with `routes_around_keys = false`, not by
    a modelled behaviour: the result then rests on that order.
    """
    config = loaded.config
    holding = {name for name, site in config.sites.items()
               if any(site.holdings.get(cls, 0.0) > 0 for cls in config.policy.counted_classes)}
    holding |= {m.target for m in config.migrations} | {r.target for r in config.replication}
    notes = []
    for actor, spec in config.actors.items():
        if spec.location in config.policy.allowed_read:
            continue
        for cls in config.policy.counted_classes:
            by_gate: dict[str, dict[bool, list[str]]] = {}
            for name in sorted(holding):
                gate = route_gate(config.routes, actor, name, cls)
                if gate in ("parent", "none"):
                    # Plaintext for sure, or ciphertext unless the key holder yields to pressure.
                    keys = control_probability(config, config.sites[name].key_custody, spec.employer) >= 1.0
                    by_gate.setdefault(gate, {}).setdefault(keys, []).append(name)
            for shared, split in by_gate.items():
                if len(split) == 2:
                    notes.append(
                        f"{loaded.path}: {actor} reaches {', '.join(split[True])} (plaintext) and "
                        f"{', '.join(split[False])} (ciphertext) for {cls} data through the same gate ({shared}); "
                        f"which one a request reads is decided by the site order (role_order {spec.role_order}) "
                        "and routes_around_keys, not by a modelled behaviour. Bracket the route (alternatives "
                        "parent/blocked), give role_order alternatives, or set routes_around_keys to see how "
                        "much the result rests on it.")
    return notes
