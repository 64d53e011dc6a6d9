"""Plausible ranges and categorical alternatives that a parameter's entry may carry.

An entry such as `independence = { value = 0.9, range = [0.6, 0.99], assume = "..." }` says
what the parameter is set to and which other values are plausible. The entry (value, range,
provenance) is one unit: a file that sets the parameter again replaces it whole, so an
arrangement that gives only `value` pins the parameter.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from sim.errors import InputError

DISTRIBUTIONS = ("uniform", "loguniform", "triangular")
RANGE_KEYS = frozenset({"range", "distribution", "alternatives", "range_fact", "range_assume"})


@dataclass(frozen=True)
class Range:
    """A numeric parameter's plausible interval, how to sample it and where it comes from.

    Attributes:
        low: The lowest plausible value.
        high: The highest plausible value.
        distribution: `uniform`, `loguniform` or `triangular` (whose mode is the value).
        value: The parameter's configured value (inside the range).
        integer: Whether the parameter takes whole numbers (sampled values are rounded).
        source: The file that defines the entry.
        cite: `fact <id>` or `assumption: <why>` for the range itself.
    """

    low: float
    high: float
    distribution: str
    value: float
    integer: bool
    source: str
    cite: str

    def at(self, unit: float) -> float | int:
        """Return the value at quantile `unit` (0 to 1) of the range's distribution."""
        unit = min(max(unit, 0.0), 1.0)
        if self.high == self.low:
            drawn = self.low
        elif self.distribution == "loguniform":
            drawn = math.exp(math.log(self.low) + unit * (math.log(self.high) - math.log(self.low)))
        elif self.distribution == "triangular":
            drawn = _triangular_quantile(unit, self.low, self.value, self.high)
        else:
            drawn = self.low + unit * (self.high - self.low)
        drawn = min(max(drawn, self.low), self.high)  # exp(log(x)) can miss a bound by an ulp
        return round(drawn) if self.integer else drawn

    def quantile_of(self, value: float) -> float:
        """Return the share of the range's distribution below `value` (the inverse of `at`)."""
        if value <= self.low:
            return 0.0
        if value >= self.high:
            return 1.0
        if self.distribution == "loguniform":
            return math.log(value / self.low) / math.log(self.high / self.low)
        if self.distribution == "triangular":
            return _triangular_cdf(value, self.low, self.value, self.high)
        return (value - self.low) / (self.high - self.low)


@dataclass(frozen=True)
class Alternatives:
    """The other values a categorical parameter could plausibly take, its own value included."""

    choices: tuple[str, ...]
    source: str
    cite: str

    def at(self, unit: float) -> str:
        """Return the choice at quantile `unit` (0 to 1), each choice taking an equal share."""
        index = min(int(unit * len(self.choices)), len(self.choices) - 1)
        return self.choices[max(index, 0)]


def _triangular_quantile(unit: float, low: float, mode: float, high: float) -> float:
    split = (mode - low) / (high - low)
    if unit < split:
        return low + math.sqrt(unit * (high - low) * (mode - low))
    return high - math.sqrt((1.0 - unit) * (high - low) * (high - mode))


def _triangular_cdf(value: float, low: float, mode: float, high: float) -> float:
    if value <= mode:
        return (value - low) ** 2 / ((high - low) * (mode - low)) if mode > low else 0.0
    return 1.0 - (high - value) ** 2 / ((high - low) * (high - mode))


def has_spread(node: dict[str, Any]) -> bool:
    """Return True when an entry carries a range or alternatives."""
    return bool(RANGE_KEYS & set(node))


def parse_spread(node: dict[str, Any], key: str, source: str, cite: str) -> Range | Alternatives | None:
    """Read an entry's `range`/`distribution` or `alternatives`, checking them against its value."""
    if not has_spread(node):
        return None
    cite = _own_cite(node, key, source) or cite
    if "alternatives" in node:
        return _parse_alternatives(node, key, source, cite)
    if "range" not in node:
        raise InputError(source, key, "`distribution` (or `range_fact`/`range_assume`) is given without `range`.",
                         "add `range = [low, high]` beside the value, or remove the distribution.")
    return _parse_range(node, key, source, cite)


def _own_cite(node: dict[str, Any], key: str, source: str) -> str:
    fact, assume = node.get("range_fact"), node.get("range_assume")
    if fact is None and assume is None:
        return ""
    if isinstance(fact, str) and fact.strip() and assume is None:
        return f"fact {fact.strip()}"
    if isinstance(assume, str) and assume.strip() and fact is None:
        return f"assumption: {assume.strip()}"
    raise InputError(source, key, "the range's own provenance is malformed.",
                     'give at most one of `range_fact = "<id>"` and `range_assume = "<reason>"`, non-empty.')


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _parse_range(node: dict[str, Any], key: str, source: str, cite: str) -> Range:
    bounds, value = node["range"], node["value"]
    example = f"`{key.rsplit('.', 1)[-1]} = {{ value = 0.9, range = [0.6, 0.99], assume = \"...\" }}`"
    if not _is_number(value):
        raise InputError(source, key, f"a range needs a numeric value (got {value!r}).",
                         "give ranges only to numbers; a text parameter may list `alternatives = [...]`.")
    if not (isinstance(bounds, list) and len(bounds) == 2 and all(_is_number(b) for b in bounds)):
        raise InputError(source, key, f"the range must be two numbers (got {bounds!r}).", f"write {example}.")
    low, high = float(bounds[0]), float(bounds[1])
    if not all(math.isfinite(x) for x in (low, high)):
        raise InputError(source, key, f"the range [{low:g}, {high:g}] is not finite.", "give finite bounds.")
    if not low <= value <= high:
        raise InputError(source, key, f"the value {value:g} lies outside its range [{low:g}, {high:g}].",
                         "widen the range to include the value, or correct the value.")
    distribution = node.get("distribution", "uniform")
    if distribution not in DISTRIBUTIONS:
        raise InputError(source, key, f"unknown distribution {distribution!r}.",
                         f"use one of {', '.join(DISTRIBUTIONS)} (uniform when omitted).")
    if distribution == "loguniform" and low <= 0:
        raise InputError(source, key, f"a loguniform range needs a positive low end (got {low:g}).",
                         "raise the low end above 0, or use `distribution = \"uniform\"`.")
    return Range(low, high, distribution, float(value), isinstance(value, int), source, cite)


def _parse_alternatives(node: dict[str, Any], key: str, source: str, cite: str) -> Alternatives:
    choices, value = node["alternatives"], node["value"]
    if "range" in node or "distribution" in node:
        raise InputError(source, key, "an entry has both `alternatives` and a `range`.",
                         "numbers take a range, text takes alternatives: keep the one that fits.")
    if not isinstance(value, str):
        raise InputError(source, key, f"alternatives need a text value (got {value!r}).",
                         "give numbers a `range = [low, high]` instead.")
    if not (isinstance(choices, list) and choices and all(isinstance(c, str) for c in choices)):
        raise InputError(source, key, f"alternatives must be a list of texts (got {choices!r}).",
                         f'write `alternatives = ["{value}", "..."]`.')
    if value not in choices:
        raise InputError(source, key, f"the value {value!r} is not among its alternatives {choices}.",
                         "list the value itself among the alternatives.")
    return Alternatives(tuple(dict.fromkeys(choices)), source, cite)
