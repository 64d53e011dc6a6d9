"""The shortcuts that keep costs linear change no answer: route table, cached calendars, sized blocks."""

from __future__ import annotations

import datetime as dt
import itertools

import numpy as np
from conftest import ARRANGEMENTS, MMC, split_groups
from hypothesis import given, settings
from hypothesis import strategies as st

from sim.config.checks import unrouted_pairs
from sim.config.loader import load_config
from sim.config.schema import WILDCARD, Config, Route, WorkingHours, route_index
from sim.model.batched.arrivals import MERGE_RUNS, label_order, time_order
from sim.model.calendar import working_windows
from sim.model.rng import BLOCK, FIRST_BLOCK, Streams, generator
from sim.model.rulebook.routing import RouteTable, route_tables

settings.register_profile("scaling", deadline=None, max_examples=80)
settings.load_profile("scaling")

NAMES = ("a", "b", "c")
PATTERNS = st.sampled_from((WILDCARD, *NAMES))
GATES = st.sampled_from(("none", "parent", "steward", "blocked"))
ROUTES = st.lists(st.builds(Route, actor=PATTERNS, site=PATTERNS, data_class=PATTERNS, gate=GATES),
                  max_size=12).map(tuple)


@given(ROUTES)
def test_the_route_table_answers_as_a_scan_of_every_route(routes: tuple[Route, ...]) -> None:
    """For every (actor, site, class) the table gives the route a full scan gives, ties included."""
    table = RouteTable(routes)
    for key in itertools.product(NAMES, repeat=3):
        assert table.index(*key) == route_index(routes, *key)
        expected = routes[i].gate if (i := route_index(routes, *key)) is not None else "blocked"
        assert table.gate(*key) == expected


@given(st.integers(0, 2**32 - 1), st.sampled_from(("uniform", "normal", "exponential")),
       st.integers(1, 8), st.integers(1, 3 * BLOCK))
def test_growing_blocks_give_the_generators_draws_in_order(seed: int, kind: str, width: int, count: int) -> None:
    """However the blocks grow, a stream yields what one draw of the whole length from its generator yields."""
    streams = Streams(seed, 3)
    method = {"uniform": "random", "normal": "standard_normal", "exponential": "standard_exponential"}[kind]
    if kind == "exponential":
        stream, width = streams.exponential("s"), 1
    else:
        stream = getattr(streams, kind)("s", width)
    drawn = [stream.next() if width == 1 else stream.row() for _ in range(count)]
    direct = getattr(generator(seed, 3, "s"), method)((count, width) if width > 1 else count)
    assert np.array_equal(np.array(drawn), direct)
    assert FIRST_BLOCK < BLOCK


def test_a_cached_calendar_is_the_same_and_cannot_be_changed_through_a_caller() -> None:
    """Two calls give equal windows; changing the list one caller got leaves the next call's intact."""
    hours = WorkingHours(start_hour=9, end_hour=17, weekdays_only=True)
    first = working_windows(hours, "Europe/Berlin", dt.date(2026, 3, 20), 20)
    first.clear()
    second = working_windows(hours, "Europe/Berlin", dt.date(2026, 3, 20), 20)
    assert second and second == working_windows(hours, "Europe/Berlin", dt.date(2026, 3, 20), 20)


def unrouted_by_scan(config: Config) -> list[tuple[str, str]]:
    """Return unrouted (actor, class) pairs by the definition: no route matches at any site."""
    def fits(pattern: str, value: str) -> bool:
        return pattern in (WILDCARD, value)
    return [(actor, cls) for actor, spec in config.actors.items() for cls, share in spec.data_classes.items()
            if share > 0 and spec.headcount and spec.requests_per_hour
            and not any(fits(r.actor, actor) and fits(r.site, site) and fits(r.data_class, cls)
                        for r in config.routes for site in config.sites)]


def test_unrouted_pairs_match_the_definition_on_every_shipped_config() -> None:
    """The indexed search finds the same pairs as the scan of every route at every site, also after routes go."""
    for path in [*sorted(ARRANGEMENTS.glob("*.toml")), MMC]:
        config = load_config(path).config
        assert unrouted_pairs(config) == unrouted_by_scan(config), path
        trimmed = config.model_copy(update={"routes": config.routes[len(config.routes) // 2:]})
        assert unrouted_pairs(trimmed) == unrouted_by_scan(trimmed), path


def test_shared_route_tables_are_each_groups_own() -> None:
    """Groups that share route tables by signature get the tables built for each group alone, on every config."""
    for path in [*sorted(ARRANGEMENTS.glob("*.toml")), MMC]:
        config = load_config(path).config
        split = split_groups(config)
        shared = RouteTable(split.routes)
        for name, spec in split.actors.items():
            assert route_tables(split, name, spec, shared) == route_tables(split, name, spec, RouteTable(split.routes))
        assert len(shared._tables) <= len(config.actors)


@given(st.lists(st.lists(st.integers(0, 40), max_size=30), min_size=1, max_size=3 * MERGE_RUNS), st.booleans())
def test_the_time_order_is_numpys_stable_sort(runs: list[list[int]], spread: bool) -> None:
    """Sorted runs one after another, with ties or without, come out in the stable sort's order."""
    times = [np.sort(np.array(run, dtype=float) + (0.001 * k if spread else 0.0)) for k, run in enumerate(runs)]
    t = np.concatenate(times)
    assert np.array_equal(time_order(t, len(runs)), np.argsort(t, kind="stable"))


@given(st.lists(st.integers(-1, 40), max_size=200), st.sampled_from((41, 2**15, 2**20)))
def test_the_label_order_is_numpys_stable_sort(labels: list[int], bound: int) -> None:
    """Integer labels, small or wide, come out in the stable sort's order."""
    array = np.array(labels, dtype=np.int64)
    assert np.array_equal(label_order(array, bound), np.argsort(array, kind="stable"))
