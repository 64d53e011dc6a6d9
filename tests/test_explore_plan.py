"""Planning an exploration: typed values give what their TOML text gives, share the rest, and fail alike."""

from __future__ import annotations

import gc
from pathlib import Path

import pytest
from conftest import MMC, ROOT, Taken

from sim.config.levers import load_levers
from sim.config.loader import LoadedConfig, load_config, toml_literal, with_overrides, with_values
from sim.errors import InputError
from sim.experiment.design import plan_design
from sim.experiment.executors import IN_FLIGHT_PER_WORKER, Job, LocalExecutor
from sim.experiment.explore import plan, world_table
from sim.experiment.memory import collection_paused
from sim.experiment.sweep import WorldJobs, run_metrics
from sim.experiment.sweep_file import run_key
from sim.results.store import Store

ARRANGEMENTS = sorted((ROOT / "configs" / "arrangements").glob("*.toml"))


def arrangements() -> list[LoadedConfig]:
    """Return the shipped arrangements at a short horizon."""
    return [load_config(p, [("scenario.days", "30", "--days")]) for p in ARRANGEMENTS]


def test_typed_values_resolve_as_their_toml_text_does() -> None:
    loaded = arrangements()
    exploration = plan(loaded, 3, 1, 7)
    per_world = len(loaded)
    for point in exploration.points:
        item = loaded[point.index % per_world]
        world = f"explore world {point.index // per_world}"
        paths = {d.key: d.path for d in exploration.dimensions}
        texts = [(paths[key], toml_literal(value), world) for key, value in point.factors.items()]
        expected = with_overrides(item, texts)
        assert point.loaded.config == expected.config
        assert point.loaded.config.model_dump(mode="json") == expected.config.model_dump(mode="json")
        assert point.run_key == run_key(expected, 7)
        assert point.loaded.provenance == expected.provenance
        assert point.loaded.overrides == expected.overrides


def test_a_resolved_point_shares_what_no_value_reaches() -> None:
    item = load_config(MMC)
    resolved = with_values(item, [("gatekeeper.reviewers", 12, "explore world 0")])
    assert resolved.config.gatekeeper is not None and item.config.gatekeeper is not None
    assert resolved.config.gatekeeper.reviewers == 12 and item.config.gatekeeper.reviewers == 10
    for name in type(item.config).model_fields:
        if name != "gatekeeper":
            assert getattr(resolved.config, name) is getattr(item.config, name)
    for name in type(item.config.gatekeeper).model_fields:
        if name != "reviewers":
            assert getattr(resolved.config.gatekeeper, name) is getattr(item.config.gatekeeper, name)


@pytest.mark.parametrize("value", [-3, "ten"])
def test_a_refused_value_fails_as_its_set_does(value: object) -> None:
    item = load_config(MMC)
    with pytest.raises(InputError) as typed:
        with_values(item, [("gatekeeper.reviewers", value, "explore world 4")])
    with pytest.raises(InputError) as text:
        with_overrides(item, [("gatekeeper.reviewers", toml_literal(value), "explore world 4")])
    assert (typed.value.source, typed.value.key, typed.value.problem, typed.value.fix) == \
        (text.value.source, text.value.key, text.value.problem, text.value.fix)
    assert "explore world 4" in typed.value.source and typed.value.key == "gatekeeper.reviewers"


def test_an_unknown_path_fails_as_its_set_does() -> None:
    item = load_config(MMC)
    with pytest.raises(InputError) as typed:
        with_values(item, [("gatekeeper.reviewrs", 3, "explore world 0")])
    assert typed.value.key == "gatekeeper.reviewrs" and "reviewers" in typed.value.problem


def test_plan_needs_a_world(tmp_path: Path) -> None:
    with pytest.raises(InputError):
        plan([load_config(MMC)], 0, 1, 7)


def test_reading_some_metrics_gives_the_full_tables_cells(tmp_path: Path) -> None:
    exploration = plan([load_config(MMC)], 2, 2, 7)
    store = Store(tmp_path)
    store.claim("explore", exploration.definition())
    store.add_points([(p.index, p.arrangement, p.factors, p.run_key) for p in exploration.points])
    values = [{"a.b": 1.5, "a.b.c": -2.0, "nan": float("nan"), "big": 1e300, "whole": 3},
              {"a.b": 0.1 + 0.2, "a.b.c": 7e-9, "big": -1e-300, "whole": 4}]
    for point in exploration.points:
        for replication in range(2):
            store.add_row(point.run_key, replication, point.index, point.arrangement, 7, "v", values[replication])
    whole = world_table(store, exploration.names, 2)
    some = world_table(store, exploration.names, 2, ["a.b", "nan", "whole", "absent"])
    assert set(some) == {"a.b", "nan", "whole"}
    for metric in ("a.b", "whole"):
        assert some[metric] == whole[metric]
    assert repr(some["nan"]) == repr(whole["nan"])
    store.db.execute("UPDATE rows SET metrics = ? WHERE replication = 1", ('{"a.b": true}',))
    with pytest.raises(InputError) as caught:
        world_table(store, exploration.names, 2, ["a.b"])
    assert "not a JSON object of numbers" in caught.value.problem
    store.close()


def test_the_collector_pauses_for_a_step_and_resumes_as_it_was() -> None:
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collection_paused():
        assert not gc.isenabled()
        raise RuntimeError("a failed step")
    assert gc.isenabled()
    gc.disable()
    try:
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_a_design_candidate_resolves_as_its_toml_settings_do() -> None:
    levers = load_levers(ROOT / "configs" / "design" / "oracle.toml", load_config(ARRANGEMENTS[4]))
    design = plan_design(load_config(ARRANGEMENTS[4], [("scenario.days", "30", "--days")]), levers, [], 3, 1, 7,
                         {"residual_access.events": "min"})
    terms = {lever.path: lever.high if lever.high is not None else next(iter(lever.choices or [None]))
             for lever in levers.levers}
    for world, point in enumerate(design.candidate_points(0, terms)):
        expected = with_overrides(design.world_config(world), levers.settings(terms, "design terms"))
        assert point.loaded.config == expected.config and point.run_key == run_key(expected, 7)
        assert point.loaded.provenance == expected.provenance


def test_points_keep_how_to_resolve_and_jobs_resolve_each_world_once() -> None:
    """A point keeps no config (planning's memory does not grow with them); its jobs' configs are the same."""
    loaded = arrangements()
    exploration = plan(loaded, 4, 2, 7)
    assert not any(isinstance(point.source, LoadedConfig) for point in exploration.points)
    per_world = len(loaded)
    tasks = [(tuple(range(w * per_world, (w + 1) * per_world)), r) for w in range(4) for r in range(2)]
    jobs = WorldJobs(exploration.points, tasks, 7)
    assert len(jobs) == 8 and [job.replication for job in jobs] == [0, 1] * 4
    for job in jobs:  # each point's config is checked against the long way above
        assert job.config == tuple(exploration.points[position].loaded.config for position in job.tag)
    assert jobs[0].config is jobs[1].config  # a world's replications share its resolved configs
    assert jobs[1].config is not jobs[2].config


@pytest.mark.slow
def test_the_pool_takes_jobs_only_as_workers_free_up() -> None:
    """The local pool holds a few jobs per worker at a time, not every job of the run."""
    config = load_config(MMC, [("scenario.days", "2", "--days")]).config
    jobs = Taken([Job(i, config, 1, i) for i in range(40)])
    window = IN_FLIGHT_PER_WORKER * 2
    seen = []
    for count, (job, metrics) in enumerate(LocalExecutor(2).map(run_metrics, jobs), start=1):
        assert jobs.read <= window + count  # one new job submitted for each finished one
        seen.append(job.tag)
        assert repr(metrics) == repr(run_metrics(config, 1, job.tag))  # (repr: NaN is NaN)
    assert sorted(seen) == list(range(40))
