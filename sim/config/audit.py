"""Audit citations: a numeric parameter that cites facts must lie within a quantity they state."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.config.detection_fit import FIT_TOLERANCE, fit_detection_delay
from sim.config.facts import Fact, Quantity
from sim.config.loader import (
    INCLUDE_KEY,
    LoadedConfig,
    Provenance,
    include_path,
    read_toml,
    strip_provenance,
)
from sim.config.paths import get_path
from sim.config.ranges import Range

#: Each unit's dimension and its size in that dimension's base unit (hours, per year, ...).
UNITS: dict[str, tuple[str, float]] = {
    "ms": ("time", 1 / 3_600_000), "minutes": ("time", 1 / 60), "hours": ("time", 1.0),
    "days": ("time", 24.0), "weeks": ("time", 168.0), "months": ("time", 24 * 365.25 / 12),
    "years": ("time", 24 * 365.25),
    "per_year": ("rate", 1.0), "per_month": ("rate", 12.0), "per_week": ("rate", 365.25 / 7),
    "per_day": ("rate", 365.25),
    "share": ("share", 1.0), "percent": ("share", 0.01),
    "users": ("users", 1.0), "records": ("users", 1.0),
    "people": ("people", 1.0),
    "lognormal_sigma": ("lognormal_sigma", 1.0),
    "per_person_hour": ("per_person_hour", 1.0),
    "hour_of_day": ("hour_of_day", 1.0),
}

#: The unit of each numeric parameter, by the last part of its dotted path.
PARAMETER_UNITS: dict[str, str] = {
    "days": "days", "median_days": "days", "duration_days": "days",
    "audit_delay_days_median": "days",
    "interval_hours": "hours", "expiry_hours": "hours", "delay_hours_median": "hours",
    "review_hours_mean": "hours",
    "records": "users", "records_median": "users", "covert_records_median": "users",
    "headcount": "people", "reviewers": "people",
    "covert_attempts_per_year": "per_year", "requests_per_hour": "per_person_hour",
    "sigma": "lognormal_sigma", "delay_sigma": "lognormal_sigma",
    "review_hours_sigma": "lognormal_sigma", "records_sigma": "lognormal_sigma",
    "covert_records_sigma": "lognormal_sigma", "audit_delay_sigma": "lognormal_sigma",
    "start_hour": "hour_of_day", "end_hour": "hour_of_day",
    "independence": "share", "approve_probability": "share", "false_approval": "share",
    "false_denial": "share", "code_review_coverage": "share", "gateway_deidentify_share": "share",
    "audit_detect_probability": "share", "incomplete_probability": "share",
    "residue_share": "share",
}
#: Tables whose numeric entries are shares of something (holdings, mixes).
SHARE_TABLES = ("holdings", "purposes", "data_classes")
#: Parameters a fit to dated incidents can supply, and the unit of each.
FITTED_PARAMETERS = {"audit_delay_days_median": "days", "audit_delay_sigma": "lognormal_sigma"}


@dataclass(frozen=True)
class Finding:
    """A parameter whose citation does not hold the number it uses."""

    file: str
    key: str
    value: float
    facts: tuple[str, ...]
    states: str
    fix: str


@dataclass(frozen=True)
class AuditResult:
    """Every numeric citation checked in one config, and those that do not hold."""

    config: str
    checked: int
    findings: tuple[Finding, ...]


def audit(loaded: LoadedConfig) -> AuditResult:
    """Check every numeric parameter of a config that cites facts against what they state."""
    data = loaded.config.model_dump(mode="python")
    origins = origin_files(loaded.path)
    checked, findings = 0, []
    for key, prov in sorted(loaded.provenance.items()):
        file = origins.get(key, str(loaded.path))
        cited = [(leaf, value, prov) for leaf, value in numeric_leaves(key, get_path(data, key))]
        cited += range_ends(key, prov)
        for leaf, value, source in cited:
            if source.kind != "fact":
                continue
            checked += 1
            finding = check(leaf, value, source, loaded.facts, file)
            if finding is not None:
                findings.append(finding)
    return AuditResult(str(loaded.path), checked, tuple(findings))


def range_ends(key: str, prov: Provenance) -> list[tuple[str, float, Provenance]]:
    """Return both ends of a parameter's plausible range with the provenance the range cites."""
    spread = prov.spread
    if not isinstance(spread, Range):
        return []
    kind, _, detail = spread.cite.partition(" ")
    source = Provenance("fact", detail) if kind == "fact" else Provenance("assume", detail)
    return [(f"{key}.range.low", spread.low, source), (f"{key}.range.high", spread.high, source)]


def check(key: str, value: float, prov: Provenance, facts: dict[str, Fact], file: str) -> Finding | None:
    """Return a finding if no quantity the cited facts state (or fit) holds `value`."""
    cited = tuple(prov.detail.split(","))
    unit = parameter_unit(key)
    stated = [q for fid in cited for q in facts[fid].quantities] + fitted(key, cited, facts)
    if any(holds(value, unit, q) for q in stated):
        return None
    states = "; ".join(f"{fid}: {facts[fid].states()}" for fid in cited)
    return Finding(file, key, value, cited, states, fix_for(key, value, unit, cited, stated))


def holds(value: float, unit: str | None, quantity: Quantity) -> bool:
    """Return True if `value` (in `unit`) lies within the quantity, converted to that unit."""
    bounds = converted(quantity, unit)
    if bounds is None:
        return False
    low, high = bounds
    slack = 1e-9 * max(abs(low), abs(high), 1.0)
    return low - slack <= value <= high + slack


def converted(quantity: Quantity, unit: str | None) -> tuple[float, float] | None:
    """Return the quantity's bounds in `unit`, or None if the units do not convert."""
    if unit is None:
        return quantity.low, quantity.high
    if quantity.unit not in UNITS or unit not in UNITS:
        return (quantity.low, quantity.high) if quantity.unit == unit else None
    (dim_q, size_q), (dim_p, size_p) = UNITS[quantity.unit], UNITS[unit]
    if dim_q != dim_p:
        return None
    return quantity.low * size_q / size_p, quantity.high * size_q / size_p


def fitted(key: str, cited: tuple[str, ...], facts: dict[str, Fact]) -> list[Quantity]:
    """Return what a fit to the cited dated incidents supplies for this parameter, if any."""
    name = key.removesuffix(".range.low").removesuffix(".range.high").rsplit(".", 1)[-1]
    incidents = [facts[fid] for fid in cited if facts[fid].incident is not None]
    if name not in FITTED_PARAMETERS or len(incidents) < 2:
        return []
    fit = fit_detection_delay(incidents)
    centre = fit.median_days if FITTED_PARAMETERS[name] == "days" else fit.sigma
    return [Quantity(centre * (1 - FIT_TOLERANCE), centre * (1 + FIT_TOLERANCE),
                     FITTED_PARAMETERS[name], "lognormal fitted to the cited incidents")]


def fix_for(key: str, value: float, unit: str | None, cited: tuple[str, ...],
            stated: list[Quantity]) -> str:
    """Say how to make the citation hold: a value within what the facts state, or an assumption."""
    name = key.removesuffix(".range.low").removesuffix(".range.high").rsplit(".", 1)[-1]
    names = ", ".join(cited)
    assume = (f'make it an assumption that names the fact: `{name} = {{ value = {value:g}, '
              f'assume = "<why> (fact {names})" }}`')
    usable = [(q, converted(q, unit)) for q in stated]
    within = [f"{_span(b)} {unit or q.unit}" for q, b in usable if b is not None]
    if within:
        return f"use a value within {' or '.join(within)}, or {assume}."
    what = f"a quantity in {unit}" if unit else "a number"
    return f"{assume[0].upper()}{assume[1:]}, or cite a fact that states {what}."


def _span(bounds: tuple[float, float]) -> str:
    low, high = bounds
    return f"{low:,.4g}" if low == high else f"{low:,.4g} to {high:,.4g}"


def parameter_unit(key: str) -> str | None:
    """Return the unit of a parameter by its dotted path, or None if it is not known."""
    parts = key.removesuffix(".range.low").removesuffix(".range.high").split(".")
    if len(parts) >= 2 and parts[-2] in SHARE_TABLES:
        return "share"
    return PARAMETER_UNITS.get(parts[-1])


def numeric_leaves(key: str, value: Any) -> list[tuple[str, float]]:
    """Return (dotted path, number) for a number or each number in a table of numbers."""
    if isinstance(value, bool):
        return []
    if isinstance(value, int | float):
        return [(key, float(value))]
    if isinstance(value, dict):
        return [leaf for k, v in value.items() for leaf in numeric_leaves(f"{key}.{k}", v)]
    return []


def origin_files(path: Path) -> dict[str, str]:
    """Map each sourced key to the file of the include chain that sets it (the nearest wins)."""
    origins: dict[str, str] = {}
    seen: set[Path] = set()
    current: Path | None = path
    while current is not None and current.resolve() not in seen:
        seen.add(current.resolve())
        raw = read_toml(current)
        include = raw.pop(INCLUDE_KEY, None)
        own: dict[str, Provenance] = {}
        strip_provenance(raw, "", None, own, str(current))
        for key in own:
            origins.setdefault(key, str(current))
        current = _included(current, include) if isinstance(include, str) else None
    return origins


def _included(path: Path, include: str) -> Path:
    """Return the file an include names: beside the config (kept relative), else a shipped base by name."""
    beside = Path(os.path.normpath(path.parent / include))
    return beside if beside.is_file() else include_path(path, include)
