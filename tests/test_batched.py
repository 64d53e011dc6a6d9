"""The batched request layer against the event engine: the same instants, to the bit (issue 10)."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
from conftest import ARRANGEMENTS, MMC

from sim.config.loader import load_config
from sim.config.schema import Config
from sim.metrics.recorder import Recorder
from sim.model import compiled
from sim.model.batched import arrivals, fast, fastgate
from sim.model.calendar import working_windows
from sim.model.event.world import World
from sim.model.rng import Streams, generator
from sim.model.rulebook.events import Event, Submitted

CONFIGS = [*sorted(ARRANGEMENTS.glob("*.toml")), MMC]
SEED, REPLICATION, DAYS = 20220617, 1, 45


class Arrivals:
    """Collect each actor group's submission instants from the event engine."""

    def __init__(self) -> None:
        self.times: dict[str, list[float]] = {}

    def notify(self, event: Event) -> None:
        """Keep submissions; ignore every other event."""
        if isinstance(event, Submitted):
            self.times.setdefault(event.request.actor, []).append(event.t)


def short(path: Path) -> Config:
    """Return a shipped config over a shorter horizon."""
    config = load_config(path).config
    return config.model_copy(update={"scenario": config.scenario.model_copy(update={"days": DAYS})})


def batched_arrivals(config: Config) -> dict[str, np.ndarray]:
    """Return each group's arrival instants computed by the batched layer."""
    found = {}
    scenario = config.scenario
    for name, spec in config.actors.items():
        rate = spec.headcount * spec.requests_per_hour
        if rate <= 0.0:
            continue
        windows = working_windows(spec.hours, spec.timezone, scenario.start_date, scenario.days)
        draw = generator(SEED, REPLICATION, f"actor.{name}.arrivals").standard_exponential
        found[name] = arrivals.ArrivalCursor(windows, rate, draw).until(math.inf)
    return found


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
@pytest.mark.parametrize("chunk", [5, 4096])
def test_arrival_instants_equal_the_event_engines(path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every group's submission instants are identical floats, whatever the draws' chunk size."""
    monkeypatch.setattr(arrivals, "CHUNK", chunk)
    config = short(path)
    observer = Arrivals()
    World(config, Streams(SEED, REPLICATION), observer).run()
    fast = batched_arrivals(config)
    assert set(fast) == {name for name, times in fast.items() if len(times)} >= set(observer.times)
    for name, times in fast.items():
        assert np.array_equal(times, np.array(observer.times.get(name, []))), name


def test_the_clock_recursion_is_solved_exactly() -> None:
    """The fixed point equals the sequential `now + (t - now)` the simulation clock computes."""
    local = np.add.accumulate(np.exp(4.0 * generator(1, 0, "gaps").standard_normal(20_000)))  # gaps 1e-7..1e7
    now, expected = 0.0, []
    for t in local.tolist():
        now = now + (t - now)
        expected.append(now)
    assert np.array_equal(arrivals.clock_times(local), np.array(expected))


@pytest.mark.parametrize("path", [ARRANGEMENTS / "oracle.toml", MMC], ids=lambda p: p.stem)
@pytest.mark.parametrize("margin", [1, 16])
@pytest.mark.parametrize("span", [7.5, 100.0, 1e9])
def test_groups_filled_together_arrive_as_each_alone(path: Path, span: float, margin: int,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    """`GroupArrivals` gives each group the clocks its own cursor gives, whatever the batches and the head's margin."""
    monkeypatch.setattr(arrivals, "HEAD_MARGIN", margin)
    monkeypatch.setattr(compiled, "_chosen", compiled.PYTHON)  # the passes over all groups
    assert_as_each_alone(short(path), span)


@pytest.mark.parametrize("version", ["python", "numba"])
@pytest.mark.parametrize("refill", [1, 7, 512])
@pytest.mark.parametrize("span", [3.0, 100.0, 1e9])
def test_the_arrivals_kernel_gives_each_groups_own_instants(version: str, refill: int, span: float,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """`compiled.sparse_arrivals`, as Python and as compiled by Numba, gives every group its own cursor's clocks.

    Over many groups and windows, batch spans and refill sizes (one gap at a time runs every
    group short at every arrival).
    """
    loop = compiled.sparse_arrivals
    if version == "numba":
        pytest.importorskip("numba")
        fast = compiled.compile_numba()
        assert fast is not None and fast.sparse_arrivals is not None
        loop = fast.sparse_arrivals
    monkeypatch.setattr(arrivals, "REFILL", refill)
    monkeypatch.setattr(compiled, "_chosen", dataclasses.replace(compiled.PYTHON, sparse_arrivals=loop))
    assert_as_each_alone(short(ARRANGEMENTS / "oracle.toml"), span)


def assert_as_each_alone(config: Config, span: float) -> None:
    """Assert that `GroupArrivals` gives each of many groups, batch by batch, the clocks its own cursor gives."""
    scenario = config.scenario
    sources: list[arrivals.Source | None] = []
    alone: list[np.ndarray] = []
    for copy in range(12):
        for name, spec in config.actors.items():
            rate = spec.headcount * spec.requests_per_hour / (1 + copy) ** 3
            windows = working_windows(spec.hours, spec.timezone, scenario.start_date, scenario.days)
            stream = f"actor.{name}.{copy}.arrivals"
            draw = generator(SEED, REPLICATION, stream).standard_exponential
            sources.append((windows, rate, draw) if rate > 0.0 else None)
            alone.append(arrivals.ArrivalCursor(windows, rate, generator(SEED, REPLICATION, stream)
                                                .standard_exponential).until(math.inf) if rate > 0.0 else np.empty(0))
    together = arrivals.GroupArrivals(sources)
    assert together.few is not None and together.cursors  # both kinds of group are in the test
    found: list[list[np.ndarray]] = [[] for _ in sources]
    limit = 0.0
    while limit < scenario.days * 24.0:
        limit += span
        clock, group = together.until(limit)
        assert np.all(np.diff(group) >= 0)
        for k in np.unique(group).tolist():
            found[k].append(clock[group == k])
    for k, expected in enumerate(alone):
        assert np.array_equal(np.concatenate(found[k]) if found[k] else np.empty(0), expected), k


def test_days_of_instants_in_time_order_are_found_as_any_others() -> None:
    recorder = Recorder(load_config(MMC, [("scenario.days", "40", "--set")]).config)
    rng = np.random.default_rng(3)
    starts = np.arange(-3, 44) * 24.0  # day starts themselves, either side of them, before 0 and past the horizon
    edges = np.concatenate((starts, np.nextafter(starts, -math.inf), np.nextafter(starts, math.inf),
                            [-0.0, 0.0, -math.inf, math.inf]))
    instants = np.sort(np.concatenate((edges, rng.random(5_000) * 1_100.0 - 50.0)))
    expected = np.array([min(int(t // 24.0) if math.isfinite(t) else (-1 if t < 0 else 39), 39)
                         for t in instants.tolist()])
    expected = np.maximum(expected, -1)
    for order in (instants, instants[::-1].copy()):  # in time order (searched by day), and not
        found = recorder._days_of(order)
        assert np.array_equal(found, expected if order is instants else expected[::-1])
    shuffled = rng.permutation(np.concatenate((instants, [math.nan])))  # as a search over the day starts puts them
    assert np.array_equal(recorder._days_of(shuffled), np.searchsorted(recorder.day_starts, shuffled, side="right") - 1)


def queue_changes_one_by_one(joins: list[float], departures: list[tuple[float, float]], queued: int,
                             limit: float) -> tuple[list[tuple[float, int, float]], list[tuple[float, float]], int]:
    """Return the queue's changes before `limit` (joins first at one instant, else as listed), the rest, the length."""
    rows = sorted([(t, 0, i, math.nan) for i, t in enumerate(joins)]
                  + [(t, 1, i, past) for i, (t, past) in enumerate(departures)])
    changes, later = [], []
    for t, kind, _, past in rows:
        if t >= limit:
            later.append((t, past))
            continue
        changes.append((t, queued, past))
        queued += 1 if kind == 0 else -1
    return changes, later, queued


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_queue_changes_merge_joins_before_departures_as_listed(seed: int) -> None:
    rng = np.random.default_rng(seed)
    state = fastgate.GateState(2, fastgate.shift_clocks(None, 100.0), 100.0)
    carried: list[tuple[float, float]] = []
    queued = 0
    for limit in (10.0, 20.0, 30.0, math.inf):  # instants on a coarse grid: many ties, across batches too
        joins = np.sort(rng.integers(int(limit) - 10 if limit < math.inf else 30, 40, 30) / 2.0)
        leaves = np.sort(rng.integers(0, 80, 30) / 2.0 + limit - 10 if limit < math.inf else rng.integers(60, 90, 30))
        past = np.where(rng.random(30) < 0.3, rng.random(30), math.nan)
        expected, carried, queued = queue_changes_one_by_one(
            joins.tolist(), carried + list(zip(leaves.tolist(), past.tolist(), strict=True)), queued, limit)
        t, length, gone = fastgate._queue_changes(state, joins, leaves, past, limit)
        got = list(zip(t.tolist(), length.tolist(), gone.tolist(), strict=True))
        assert len(got) == len(expected)
        for (ta, la, pa), (tb, lb, pb) in zip(got, expected, strict=True):
            assert (ta, la) == (tb, lb) and (pa == pb or (math.isnan(pa) and math.isnan(pb)))
        assert state.queued == queued


def test_lookups_in_a_table_of_one_value_are_filled() -> None:
    rows, group, purpose = np.array([0, 2, 3]), np.array([1, 0, 1, 0]), np.array([0, 1, 1, 2])
    for table in (np.ones((2, 3), dtype=bool), np.full((2, 3), 0.25), np.arange(6.0).reshape(2, 3)):
        found = fast._gather(table, rows, group, purpose)
        assert found.dtype == table.dtype
        assert np.array_equal(found, table[group[rows], purpose[rows]])


def test_picks_and_columns_are_views_only_where_they_take_every_row() -> None:
    values = np.arange(12.0).reshape(4, 3)
    every, some = np.ones(4, dtype=bool), np.array([True, False, True, True])
    assert np.shares_memory(fastgate.pick(values[:, 0], every), values)
    assert np.array_equal(fastgate.pick(values[:, 0], some), [0.0, 6.0, 9.0])
    assert np.array_equal(fast._column(values, np.arange(4), 1), values[:, 1])
    assert np.shares_memory(fast._column(values, np.arange(4), 1), values)
    assert np.array_equal(fast._column(values, np.array([1, 3]), 2), [5.0, 11.0])
    assert np.array_equal(fast._column(values[:, 0], np.array([0, 2])), [0.0, 6.0])
