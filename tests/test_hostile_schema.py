"""Hypothesis-generated configs: valid ones load, invalid ones give InputError, never another exception."""

from __future__ import annotations

import copy
import math
from typing import Any

from conftest import MMC
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim.config.loader import load_config, validate
from sim.config.schema import Config
from sim.errors import InputError

BASE: dict[str, Any] = load_config(MMC).config.model_dump(mode="json")

#: Numeric parameters of the M/M/c config with a range the schema must accept.
VALID_RANGES: dict[tuple[str, ...], tuple[float, float, bool]] = {
    ("actors", "requesters", "requests_per_hour"): (0.0, 20.0, False),
    ("actors", "requesters", "headcount"): (0, 50, True),
    ("gatekeeper", "reviewers"): (1, 50, True),
    ("gatekeeper", "review_hours_mean"): (0.01, 100.0, False),
    ("gatekeeper", "false_approval"): (0.0, 1.0, False),
    ("data", "protected", "records"): (0.0, 1e9, False),
    ("scenario", "days"): (1, 400, True),
    ("controls", "audit_delay_sigma"): (0.0, 3.0, False),
}
ANY_VALUE = st.one_of(
    st.none(), st.booleans(), st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=True, allow_infinity=True), st.text(max_size=12),
    st.lists(st.integers(), max_size=3), st.dictionaries(st.text(max_size=4), st.integers(), max_size=2),
)
PATHS = [*VALID_RANGES, ("scenario", "name"), ("scenario", "start_date"), ("gatekeeper", "timezone"),
         ("actors", "requesters", "purposes"), ("routes",), ("organisations", "stewards", "parent"),
         ("gatekeeper", "review_distribution"), ("actors", "requesters", "hours", "end_hour")]


def with_value(path: tuple[str, ...], value: Any) -> dict[str, Any]:
    """Return a copy of the base config with one value replaced."""
    data = copy.deepcopy(BASE)
    node = data
    for part in path[:-1]:
        node = node[part]
    node[path[-1]] = value
    return data


@st.composite
def valid_configs(draw: st.DrawFn) -> dict[str, Any]:
    """Draw a config with every numeric parameter inside its plausible range."""
    data = copy.deepcopy(BASE)
    for path, (low, high, integer) in VALID_RANGES.items():
        value = (draw(st.integers(min_value=int(low), max_value=int(high))) if integer else
                 draw(st.floats(min_value=low, max_value=high, allow_nan=False, allow_infinity=False)))
        node = data
        for part in path[:-1]:
            node = node[part]
        node[path[-1]] = value
    data["scenario"]["name"] = draw(st.from_regex(r"[a-z][a-z0-9_-]{0,20}", fullmatch=True))
    return data


@settings(max_examples=100, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(valid_configs())
def test_valid_configs_load(data: dict[str, Any]) -> None:
    """Every config inside the plausible ranges validates."""
    assert isinstance(validate(data, "generated"), Config)


@settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(PATHS), ANY_VALUE)
def test_any_value_anywhere_is_accepted_or_an_input_error(path: tuple[str, ...], value: Any) -> None:
    """Any value at any parameter either validates to finite numbers or raises InputError naming the key."""
    try:
        config = validate(with_value(path, value), "generated")
    except InputError as error:
        assert error.key is not None and error.fix
        return
    for number in _numbers(config.model_dump()):
        assert math.isfinite(number)


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(sorted(VALID_RANGES)), st.sampled_from([math.inf, -math.inf, math.nan, 1e308, -1e-300]))
def test_non_finite_or_absurd_numbers_are_refused(path: tuple[str, ...], value: float) -> None:
    """Infinite, NaN, absurdly large and negative values are InputErrors naming their key."""
    try:
        validate(with_value(path, value), "generated")
    except InputError as error:
        assert error.key is not None and error.key.startswith(".".join(path[:2]))
        return
    raise AssertionError(f"{'.'.join(path)} = {value} was accepted")


def _numbers(node: Any) -> list[float]:
    if isinstance(node, dict):
        return [n for v in node.values() for n in _numbers(v)]
    if isinstance(node, list | tuple):
        return [n for v in node for n in _numbers(v)]
    if isinstance(node, float):
        return [node]
    return []
