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
from sim.model import compiled
from sim.model.batched import arrivals
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
