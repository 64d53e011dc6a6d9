"""The fact base in seeds/: sourced facts that configs cite by id, with the numbers they state."""

from __future__ import annotations

import datetime as dt
import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.config.resources import shipped_path
from sim.errors import InputError

FACT_FILE = Path("seeds") / "facts.toml"


@dataclass(frozen=True)
class Quantity:
    """A number a fact states: a value (low == high) or a range, in a unit, of something."""

    low: float
    high: float
    unit: str
    of: str = ""

    def describe(self) -> str:
        """Return the quantity as text, such as `258 days` or `137-289 days`."""
        span = f"{self.low:,g}" if self.low == self.high else f"{self.low:,g}-{self.high:,g}"
        return f"{span} {self.unit}" + (f" ({self.of})" if self.of else "")


@dataclass(frozen=True)
class Incident:
    """When an improper access happened and when it first became public."""

    access: tuple[dt.date, dt.date]
    disclosed: tuple[dt.date, dt.date]
    mode: str = ""

    def delay_days(self) -> tuple[int, int]:
        """Return the shortest and longest delay from access to disclosure the dates allow."""
        return ((self.disclosed[0] - self.access[1]).days, (self.disclosed[1] - self.access[0]).days)


@dataclass(frozen=True)
class Observation:
    """What an incident says about one model output over a window, and how sure it is."""

    output: str
    window: tuple[dt.date, dt.date]
    low: float | None
    high: float | None
    uncertainty: str


@dataclass(frozen=True)
class Fact:
    """One fact from the public record, paraphrased, with its source and the numbers it states."""

    id: str
    text: str
    date: dt.date | None
    publication: str
    title: str
    published: dt.date | None
    quantities: tuple[Quantity, ...] = ()
    incident: Incident | None = None
    observation: Observation | None = None

    def citation(self) -> str:
        """Return a short citation: publication, title and date."""
        when = self.published.isoformat() if self.published else "undated"
        return f"{self.publication}, \u201c{self.title}\u201d, {when}"

    def states(self) -> str:
        """Return the numbers the fact states, or says that it states none."""
        if not self.quantities:
            return "no number"
        return "; ".join(q.describe() for q in self.quantities)


def find_fact_base(start: Path) -> Path | None:
    """Return the nearest seeds/facts.toml at or above `start`, else the project's own."""
    for folder in [start, *start.parents]:
        candidate = folder / FACT_FILE
        if candidate.is_file():
            return candidate
    bundled = shipped_path(FACT_FILE)
    return bundled if bundled.is_file() else None


def load_facts(path: Path) -> dict[str, Fact]:
    """Read a fact base file into a mapping from fact id to fact."""
    try:
        raw = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise InputError(
            str(path), None, f"the fact base cannot be read ({exc}).",
            "restore seeds/facts.toml from the repository or correct its TOML syntax.",
        ) from exc
    facts: dict[str, Fact] = {}
    for i, entry in enumerate(raw.get("fact", [])):
        fact = parse_fact(entry, str(path), f"fact.{i}")
        facts[fact.id] = fact
    return facts


def parse_fact(entry: Any, source: str, key: str) -> Fact:
    """Turn one [[fact]] table into a Fact, naming the entry when a field is malformed."""
    try:
        details = entry["source"]
        return Fact(
            id=entry["id"], text=entry["fact"], date=entry.get("date"),
            publication=details["publication"], title=details["title"],
            published=details.get("date"),
            quantities=parse_quantities(entry.get("quantity", []), source, f"{key}.quantity"),
            incident=parse_incident(entry.get("incident"), source, f"{key}.incident"),
            observation=parse_observation(entry.get("observation"), source, f"{key}.observation"),
        )
    except (KeyError, TypeError) as exc:
        raise InputError(
            source, key, f"the entry lacks {exc}.",
            "give every [[fact]] an id, a fact, and a source with publication and title.",
        ) from exc


def parse_quantities(node: Any, source: str, key: str) -> tuple[Quantity, ...]:
    """Read `quantity`: one `{value|range, unit, of}` table or a list of them."""
    items = [node] if isinstance(node, dict) else node
    if not isinstance(items, list):
        raise _bad_quantity(source, key)
    return tuple(_quantity(item, source, f"{key}.{i}") for i, item in enumerate(items))


def _quantity(item: Any, source: str, key: str) -> Quantity:
    if not isinstance(item, dict) or not isinstance(item.get("unit"), str):
        raise _bad_quantity(source, key)
    value, span = item.get("value"), item.get("range")
    if _is_number(value) and span is None:
        return Quantity(float(item["value"]), float(item["value"]), item["unit"], str(item.get("of", "")))
    if (value is None and isinstance(span, list) and len(span) == 2
            and all(_is_number(v) for v in span) and span[0] <= span[1]):
        return Quantity(float(span[0]), float(span[1]), item["unit"], str(item.get("of", "")))
    raise _bad_quantity(source, key)


def _bad_quantity(source: str, key: str) -> InputError:
    return InputError(
        source, key, "the quantity is malformed.",
        'write `quantity = { value = 258, unit = "days", of = "..." }` or '
        '`{ range = [lo, hi], unit = "..." }` with lo <= hi, or a list of such tables.',
    )


def parse_incident(node: Any, source: str, key: str) -> Incident | None:
    """Read `incident = { access = [first, last], disclosed = [first, last], mode = "..." }`."""
    if node is None:
        return None
    if isinstance(node, dict):
        access, disclosed = _date_pair(node.get("access")), _date_pair(node.get("disclosed"))
        if access and disclosed and access[0] <= access[1] <= disclosed[0]:
            return Incident(access, disclosed, str(node.get("mode", "")))
    raise InputError(
        source, key, "the incident's dates are malformed.",
        "give `access` and `disclosed` as [first day, last day] date pairs, access ending "
        "before disclosure begins.",
    )


def parse_observation(node: Any, source: str, key: str) -> Observation | None:
    """Read `observation = { output, window, value | range | at_least, uncertainty }`."""
    if node is None:
        return None
    if isinstance(node, dict) and isinstance(node.get("output"), str):
        window = _date_pair(node.get("window"))
        bounds = _observed_bounds(node)
        if window and bounds:
            return Observation(node["output"], window, bounds[0], bounds[1],
                               str(node.get("uncertainty", "")))
    raise InputError(
        source, key, "the observation is malformed.",
        "give `output` (a metric path), `window` (two dates) and one of `value`, "
        "`range = [lo, hi]` or `at_least`.",
    )


def _observed_bounds(node: dict[str, Any]) -> tuple[float | None, float | None] | None:
    if _is_number(node.get("value")):
        return float(node["value"]), float(node["value"])
    span = node.get("range")
    if isinstance(span, list) and len(span) == 2 and all(_is_number(v) for v in span):
        return float(span[0]), float(span[1])
    if _is_number(node.get("at_least")):
        return float(node["at_least"]), None
    return None


def _date_pair(node: Any) -> tuple[dt.date, dt.date] | None:
    if (isinstance(node, list) and len(node) == 2
            and all(isinstance(d, dt.date) and not isinstance(d, dt.datetime) for d in node)
            and node[0] <= node[1]):
        return node[0], node[1]
    return None


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)
