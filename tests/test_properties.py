"""Properties that are the specification: working windows, the wait histogram, routes, merging, streams."""

from __future__ import annotations

import datetime as dt
import itertools
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import MMC, ROOT
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from sim.config.loader import _copied_along, check_spreads, load_config, read_sourced, toml_literal, with_overrides
from sim.config.overrides import set_path
from sim.config.paths import get_path
from sim.config.schema import WILDCARD, Route, WorkingHours, route_gate
from sim.metrics.recorder import HIST_BINS, HIST_MIN_LOG, hist_edges, hist_index
from sim.metrics.stats import t_quantile
from sim.model.calendar import to_datetime, working_windows
from sim.model.rng import BLOCK, Stream, Streams, generator

settings.register_profile("residency", deadline=None, max_examples=60,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile("residency")

# -- working windows across daylight-saving changes ------------------------------------------
# Zones whose clocks change between 01:00 and 03:00 local (or never), so windows from 04:00 on
# are whole wall-clock hours on every day, the days the clocks change included.
ZONES = ("UTC", "America/New_York", "America/Los_Angeles", "Europe/London", "Europe/Berlin",
         "Australia/Sydney", "Pacific/Auckland", "Asia/Shanghai", "Asia/Kolkata")
QUARTERS = st.integers(min_value=16, max_value=96).map(lambda q: q / 4)  # 04:00 to 24:00


@st.composite
def windows_case(draw: st.DrawFn) -> tuple[WorkingHours, str, dt.date, int]:
    """Draw working hours, a zone, a start date (DST changes included) and a horizon."""
    start = draw(QUARTERS.filter(lambda h: h < 24))
    end = draw(QUARTERS.filter(lambda h: h > start))
    hours = WorkingHours(start_hour=start, end_hour=end, weekdays_only=draw(st.booleans()))
    day = draw(st.dates(min_value=dt.date(2020, 1, 1), max_value=dt.date(2027, 12, 31)))
    return hours, draw(st.sampled_from(ZONES)), day, draw(st.integers(min_value=1, max_value=40))


def at_work(hours: WorkingHours, zone: str, start: dt.date, t: float) -> bool:
    """Return whether the local wall clock of simulated hour t is inside the working hours."""
    local = to_datetime(start, t, zone)
    clock = local.hour + local.minute / 60 + local.second / 3600
    return hours.start_hour <= clock < hours.end_hour and not (hours.weekdays_only and local.weekday() >= 5)


@given(windows_case(), st.lists(st.integers(min_value=0), min_size=1, max_size=20))
def test_an_instant_is_in_a_window_exactly_when_the_local_clock_says_work(
    case: tuple[WorkingHours, str, dt.date, int], picks: list[int]
) -> None:
    """Any instant (half a minute off the quarter hours) is in a window iff its local time is in working hours."""
    hours, zone, start, days = case
    windows = working_windows(hours, zone, start, days)
    for pick in picks:
        t = (pick % (days * 1440) + 0.5) / 60
        inside = any(a <= t < b for a, b in windows)
        assert inside == at_work(hours, zone, start, t), (t, to_datetime(start, t, zone))


@given(windows_case())
def test_windows_are_ordered_disjoint_whole_working_days(case: tuple[WorkingHours, str, dt.date, int]) -> None:
    """Windows are sorted, apart and inside the horizon; an unclipped one lasts end - start hours, DST or not."""
    hours, zone, start, days = case
    windows = working_windows(hours, zone, start, days)
    horizon = days * 24.0
    for (_, end), (next_start, _) in itertools.pairwise(windows):
        assert end < next_start
    for a, b in windows:
        assert 0.0 <= a < b <= horizon
        if 0.0 < a and b < horizon and hours.end_hour < 24:
            assert b - a == pytest.approx(hours.end_hour - hours.start_hour)


# -- the wait histogram ----------------------------------------------------------------------
WAITS = st.floats(min_value=1e-9, max_value=9.9e4, allow_nan=False)


@given(WAITS)
def test_a_wait_lies_within_the_edges_of_its_bin(wait: float) -> None:
    """hist_edges(hist_index(w)) brackets w (up to the last digit of log10)."""
    low, high = hist_edges(hist_index(wait))
    assert low * (1 - 1e-12) <= wait <= high * (1 + 1e-12)


@given(st.integers(min_value=2, max_value=HIST_BINS - 2))
def test_a_bins_middle_maps_back_to_the_bin_and_edges_meet(index: int) -> None:
    """The geometric middle of bin i falls in bin i, and bin i ends where bin i + 1 begins."""
    low, high = hist_edges(index)
    assert hist_index(math.sqrt(low * high)) == index
    assert high == pytest.approx(hist_edges(index + 1)[0], rel=1e-12)


@given(WAITS, WAITS)
def test_longer_waits_never_fall_in_lower_bins(a: float, b: float) -> None:
    """hist_index is monotone, zero waits have bin 0 and the tiniest bin 1."""
    low, high = sorted((a, b))
    assert hist_index(low) <= hist_index(high)
    assert hist_index(0.0) == 0 and hist_index(10.0 ** (HIST_MIN_LOG - 1)) == 1


# -- route matching --------------------------------------------------------------------------
NAMES = ("a", "b", "c")
PATTERNS = st.sampled_from((WILDCARD, *NAMES))
GATES = st.sampled_from(("none", "parent", "steward", "blocked"))
ROUTE = st.builds(Route, actor=PATTERNS, site=PATTERNS, data_class=PATTERNS, gate=GATES)
ROUTES = st.lists(ROUTE, max_size=8).map(tuple)
KEY = st.tuples(*(st.sampled_from(NAMES),) * 3)


def matches(route: Route, key: tuple[str, str, str]) -> bool:
    """Return whether a route's patterns cover (actor, site, class)."""
    return all(p in (WILDCARD, v) for p, v in zip((route.actor, route.site, route.data_class), key, strict=True))


def specificity(route: Route) -> int:
    """Return how many of a route's patterns are named rather than wildcards."""
    return sum(p != WILDCARD for p in (route.actor, route.site, route.data_class))


@given(ROUTES, KEY, GATES)
def test_an_exact_route_added_last_decides(routes: tuple[Route, ...], key: tuple[str, str, str], gate: str) -> None:
    """A route naming the actor, site and class exactly, added last, always gives its gate."""
    exact = Route(actor=key[0], site=key[1], data_class=key[2], gate=gate)  # type: ignore[arg-type]
    assert route_gate((*routes, exact), *key) == gate


@given(ROUTES, KEY)
def test_routes_that_do_not_match_change_nothing(routes: tuple[Route, ...], key: tuple[str, str, str]) -> None:
    """Dropping the routes that do not match leaves the answer; with none matching it is blocked."""
    kept = tuple(r for r in routes if matches(r, key))
    assert route_gate(routes, *key) == route_gate(kept, *key)
    if not kept:
        assert route_gate(routes, *key) == "blocked"


@given(ROUTES, KEY, GATES)
def test_a_catch_all_first_only_fills_the_gaps(routes: tuple[Route, ...], key: tuple[str, str, str], gate: str) -> None:
    """A `*` route put first decides only where no other route matches."""
    catch_all = Route(gate=gate)  # type: ignore[arg-type]
    expected = route_gate(routes, *key) if any(matches(r, key) for r in routes) else gate
    assert route_gate((catch_all, *routes), *key) == expected


@given(st.permutations(range(8)), ROUTES, KEY)
def test_order_matters_only_between_equally_specific_routes(
    order: list[int], routes: tuple[Route, ...], key: tuple[str, str, str]
) -> None:
    """Reordering routes keeps the answer when the matching ones differ in specificity."""
    matching = [specificity(r) for r in routes if matches(r, key)]
    assume(len(matching) == len(set(matching)))
    shuffled = tuple(routes[i] for i in order if i < len(routes))
    assert route_gate(shuffled, *key) == route_gate(routes, *key)


# -- config merging: include and overrides ---------------------------------------------------
LEAF = st.one_of(st.integers(-1000, 1000), st.text("xyz ", max_size=4), st.lists(st.integers(0, 9), max_size=3))
TABLES = st.recursive(LEAF, lambda inner: st.dictionaries(st.sampled_from("abcd"), inner, min_size=1, max_size=3),
                      max_leaves=10)
DOCUMENT = st.dictionaries(st.sampled_from("abcd"), TABLES, min_size=1, max_size=4)


def leaves(node: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """Return a nested table's leaves (anything but a table) by dotted path."""
    found: dict[str, Any] = {}
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        found.update(leaves(value, path) if isinstance(value, dict) else {path: value})
    return found


def write_toml(path: Path, document: dict[str, Any], reason: str, include: str | None = None) -> None:
    """Write a document as TOML, every value sourced by one table-wide assumption."""
    lines = [f'include = "{include}"'] if include else []
    lines.append(f'provenance = {{ assume = "{reason}" }}')
    lines += [f"{key} = {toml_literal(value)}" for key, value in document.items()]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


@given(DOCUMENT, DOCUMENT)
def test_an_include_merges_tables_and_the_including_file_wins(
    tmp_path: Path, base: dict[str, Any], top: dict[str, Any]
) -> None:
    """Every leaf of the including file survives; a base leaf survives unless the top replaces its path."""
    write_toml(tmp_path / "base.toml", base, "base")
    write_toml(tmp_path / "top.toml", top, "top", include="base.toml")
    merged, provenance = read_sourced(tmp_path / "top.toml", {}, None, ())
    top_leaves, base_leaves = leaves(top), leaves(base)

    def replaced(path: str) -> bool:
        return any(path == q or path.startswith(q + ".") or q.startswith(path + ".") for q in top_leaves)

    expected = {**{p: v for p, v in base_leaves.items() if not replaced(p)}, **top_leaves}
    assert leaves(merged) == expected
    assert {p: prov.detail for p, prov in provenance.items()} == {p: "top" if p in top_leaves else "base"
                                                                 for p in expected}


MMC_LOADED = load_config(MMC)
SETTABLE = {"gatekeeper.reviewers": st.integers(1, 50), "gatekeeper.review_hours_mean": st.floats(0.1, 10.0),
            "actors.requesters.requests_per_hour": st.floats(0.1, 20.0), "scenario.days": st.integers(1, 400)}
OVERRIDES = st.lists(st.sampled_from(sorted(SETTABLE)).flatmap(lambda k: st.tuples(st.just(k), SETTABLE[k])),
                     min_size=1, max_size=6)


def value_at(data: dict[str, Any], path: str) -> Any:
    """Return the value at a dotted path of nested tables."""
    for part in path.split("."):
        data = data[part]
    return data


@given(OVERRIDES, st.integers(0, 6))
def test_overrides_last_one_wins_and_applying_them_in_two_goes_is_the_same(
    pairs: list[tuple[str, float]], split: int
) -> None:
    """Each key takes its last --set value and is sourced as an override; (a then b) equals (a + b)."""
    overrides = [(key, toml_literal(value), "--set") for key, value in pairs]
    once = with_overrides(MMC_LOADED, overrides)
    twice = with_overrides(with_overrides(MMC_LOADED, overrides[:split]), overrides[split:])
    assert once.config == twice.config and once.provenance == twice.provenance
    data = once.config.model_dump()
    for key, value in dict(pairs).items():
        assert value_at(data, key) == value
        assert once.provenance[key].kind == "override"


# -- random streams --------------------------------------------------------------------------
STREAM_NAMES = st.text("abcdefgh_.", min_size=1, max_size=12)
SEEDS = st.integers(0, 2**32 - 1)


@given(SEEDS, st.integers(0, 1000), STREAM_NAMES)
def test_the_same_key_gives_the_same_draws(seed: int, replication: int, name: str) -> None:
    """(seed, replication, name) fixes a stream, however many other streams were drawn from before."""
    first = generator(seed, replication, name).random(64)
    streams = Streams(seed, replication)
    streams.rng(name + "_other").random(1000)
    assert np.array_equal(streams.rng(name).random(64), first)


@given(SEEDS, st.integers(0, 1000), STREAM_NAMES, STREAM_NAMES, st.integers(0, 1000))
def test_different_keys_give_unrelated_draws(seed: int, replication: int, a: str, b: str, other: int) -> None:
    """Two names (or two replications) give different, uncorrelated draws."""
    assume(a != b and other != replication)
    x = generator(seed, replication, a).random(4096)
    for y in (generator(seed, replication, b).random(4096), generator(seed, other, a).random(4096)):
        assert not np.array_equal(x, y)
        assert abs(np.corrcoef(x, y)[0, 1]) < 0.1  # 6 standard errors of a correlation over 4096 draws


@given(SEEDS, STREAM_NAMES, st.integers(1, 3), st.integers(1, 2 * BLOCK + 10))
def test_buffered_streams_give_the_generators_draws_in_order(seed: int, name: str, width: int, count: int) -> None:
    """Draws through a Stream's blocks equal drawing from the generator directly, across block boundaries."""
    stream = Stream(generator(seed, 0, name).random, width)
    drawn = [stream.next() if width == 1 else stream.row() for _ in range(count)]
    direct = generator(seed, 0, name).random(BLOCK * width * (count // BLOCK + 1))
    expected = direct.reshape(-1, width)[:count] if width > 1 else direct[:count]
    assert np.array_equal(np.array(drawn), expected)


@given(st.integers(1, 10_000), st.floats(0.5, 0.999999))
def test_t_quantile_is_scipy_stats_t_ppf_to_the_bit(dof: int, probability: float) -> None:
    """The t quantile taken from scipy.special (no scipy.stats import) is scipy.stats' own, bit for bit."""
    from scipy import stats

    assert t_quantile(probability, dof) == float(stats.t.ppf(probability, dof))


def test_checking_the_spreads_leaves_the_loaded_config_as_it_was() -> None:
    """Each range end is validated on a copy along its own path: the resolved config and its dump do not move."""
    loaded = load_config(ROOT / "configs" / "arrangements" / "oracle.toml")
    assert loaded.ranges and loaded.alternatives, "the shipped world spans ranges and alternatives"
    before = loaded.config.model_dump()
    check_spreads(loaded)
    assert loaded.config.model_dump() == before
    for key in [*loaded.ranges, *loaded.alternatives]:
        copied = _copied_along(before, key)
        set_path(copied, key, "changed", "--test")
        assert get_path(copied, key) == "changed" and get_path(before, key) != "changed"
    assert loaded.config.model_dump() == before
