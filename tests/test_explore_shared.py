"""One task per world and replication draws the shared requests once: every metric stays what each run gives alone."""

from __future__ import annotations

import math

import pytest
from conftest import ROOT

from sim.config.loader import load_config
from sim.experiment.explore import plan
from sim.experiment.replications import alike_groups, run_replication, run_scenarios
from sim.experiment.sweep import run_metrics, run_world_metrics
from sim.model.batched.fastshare import SharedDraws

ARRANGEMENTS = sorted((ROOT / "configs" / "arrangements").glob("*.toml"))


def same(left: dict[str, float], right: dict[str, float]) -> bool:
    """Return whether two runs' metrics are equal to the bit (NaN equal to NaN)."""
    return left.keys() == right.keys() and all(
        math.isnan(a) and math.isnan(b) if math.isnan(a) else a == b for a, b in
        ((left[k], right[k]) for k in left))


@pytest.mark.slow
def test_a_worlds_arrangements_run_together_give_each_runs_metrics() -> None:
    loaded = [load_config(p, [("scenario.days", "60", "--days")]) for p in ARRANGEMENTS]
    exploration = plan(loaded, 2, 1, 11)
    per_world = len(loaded)
    for world in range(2):
        configs = tuple(p.loaded.config for p in exploration.points[world * per_world:(world + 1) * per_world])
        for replication in (0, 1):
            together = run_world_metrics(configs, 11, replication)
            alone = [run_metrics(config, 11, replication) for config in configs]
            assert len(together) == len(alone) == per_world
            for shared, own in zip(together, alone, strict=True):
                assert same(shared, own)
                assert shared["residual_access.events"] >= 0


def test_a_different_world_draws_afresh() -> None:
    loaded = [load_config(p, [("scenario.days", "20", "--days")]) for p in ARRANGEMENTS[:2]]
    exploration = plan(loaded, 2, 1, 5)
    configs = (exploration.points[0].loaded.config, exploration.points[per := len(loaded)].loaded.config)
    together = run_world_metrics(configs, 5, 0)
    alone = [run_metrics(config, 5, 0) for config in configs]
    assert all(same(a, b) for a, b in zip(together, alone, strict=True))
    assert per == 2


def test_the_shared_store_keeps_a_few_draw_keys_and_results_do_not_depend_on_it() -> None:
    """Runs of three draw keys taking turns: with one key kept at a time every run still gives its own metrics."""
    rates = (0.01, 0.02, 0.03)  # another request rate: another draw key
    base = ARRANGEMENTS[0]
    configs = [load_config(base, [("scenario.days", "20", "--days"),
                                  ("actors.cn_engineers.requests_per_hour", str(rate), "--set")]).config
               for rate in rates]
    order = [0, 1, 0, 2, 1, 0]
    alone = [run_metrics(configs[i], 3, 0) for i in order]
    for keep in (1, 2, 3):
        shared = SharedDraws(keep)
        for i, own in zip(order, alone, strict=True):
            assert same(run_replication(configs[i], 3, 0, "fast", shared).metrics, own)
            assert 1 <= len(shared.held) <= keep  # the draw keys whose batches are held
            assert len(shared) == sum(len(entries) for entries in shared.held.values())
    assert len({run_metrics(config, 3, 0)["requests.submitted"] for config in configs}) == 3  # three keys indeed


def test_compared_arrangements_run_together_give_each_runs_whole_result() -> None:
    """`run_scenarios` runs arrangements alike a few to a task: metrics, daily series, histogram are each run's own."""
    loaded = [load_config(p, [("scenario.days", "30", "--days")]) for p in ARRANGEMENTS[:4]]
    configs = [item.config for item in loaded]
    assert alike_groups(configs, 1_000, 1) == [[0, 1, 2, 3]]  # the shipped arrangements draw alike
    results = run_scenarios(loaded, 9, 2)
    for item, scenario in zip(loaded, results, strict=True):
        for replication, together in enumerate(scenario.replications):
            alone = run_replication(item.config, 9, replication)
            assert same(together.metrics, alone.metrics)
            assert repr(together.daily) == repr(alone.daily) and together.wait_histogram == alone.wait_histogram
