"""Planning's shortcuts (`Resolver`, `RunKeys`) give what the long way gives: configs, provenance, keys, errors."""

from __future__ import annotations

import datetime as dt

import pytest
from conftest import ROOT

from sim.config.loader import LoadedConfig, load_config, override_record, toml_literal, with_values
from sim.config.overrides import path_tree, share_along, share_untouched
from sim.config.paths import get_path
from sim.config.resolver import Records, Resolver
from sim.errors import InputError
from sim.experiment.explore import dimensions_of, plan
from sim.experiment.sweep_file import RunKeys, run_key

ARRANGEMENTS = sorted((ROOT / "configs" / "arrangements").glob("*.toml"))
SEED = 11


def arrangements() -> list[LoadedConfig]:
    """Return the shipped arrangements at a short horizon."""
    return [load_config(p, [("scenario.days", "30", "--days")]) for p in ARRANGEMENTS]


def same(fast: LoadedConfig, slow: LoadedConfig) -> None:
    """Fail unless two resolved configs agree in every part a run or a report reads."""
    assert fast.config == slow.config
    assert fast.config.model_dump(mode="json") == slow.config.model_dump(mode="json")
    assert fast.provenance == slow.provenance
    assert list(fast.provenance) == list(slow.provenance)
    assert fast.overrides == slow.overrides


def test_sampled_worlds_resolve_and_key_as_the_long_way() -> None:
    loaded = arrangements()
    history = {loaded[0].name: (dt.date(2021, 3, 1), 40)}
    exploration = plan(loaded, 5, 1, SEED, history=history)
    by_name = {item.name: item for item in loaded}
    paths = {d.key: d.path for d in exploration.dimensions}
    main = len(exploration.points)
    for point in [*exploration.points, *exploration.history]:
        on_record = point.index >= main
        world = (point.index - main) // len(history) if on_record else point.index // len(loaded)
        values = [(paths[key], value, f"explore world {world}") for key, value in point.factors.items()]
        if on_record:
            values += [("scenario.start_date", dt.date(2021, 3, 1), "history matching"),
                       ("scenario.days", 40, "history matching")]
        item = by_name[point.arrangement]
        slow = with_values(item, values)
        same(point.loaded, slow)
        assert point.run_key == run_key(slow, SEED)
        assert point.run_key == RunKeys(item, [key for key, _, _ in values], SEED).key(slow)


def test_values_equal_to_the_base_keep_the_base_key() -> None:
    for item in arrangements():
        paths = sorted({**item.ranges, **item.alternatives})
        data = item.config.model_dump()
        values = [(path, get_path(data, path), "explore world 0") for path in paths]
        fast = Resolver(item, paths).resolve(values)
        same(fast, with_values(item, values))
        assert RunKeys(item, paths, SEED).key(fast) == run_key(item, SEED)


def test_the_shortcuts_are_taken_for_the_shipped_arrangements() -> None:
    loaded = arrangements()
    for dimension in dimensions_of(loaded):
        for item in loaded:
            if item.name in dimension.arrangements:
                paths = [d.path for d in dimensions_of([item])]
                assert Resolver(item, paths).slots is not None
                assert RunKeys(item, paths, SEED).pieces is not None


def test_a_refused_value_fails_as_the_long_way_does() -> None:
    item = arrangements()[0]
    paths = sorted(item.ranges)
    data = item.config.model_dump()
    values = [(path, get_path(data, path), "explore world 3") for path in paths]
    values[0] = (values[0][0], -5.0, "explore world 3")
    with pytest.raises(InputError) as slow:
        with_values(item, values)
    with pytest.raises(InputError) as fast:
        Resolver(item, paths).resolve(values)
    assert str(fast.value) == str(slow.value)


def test_paths_the_shortcut_cannot_take_go_the_long_way() -> None:
    item = arrangements()[0]
    path = sorted(item.ranges)[0]
    for paths in ([path, path], [path.rsplit(".", 1)[0], path], ["no.such.path"]):
        resolver = Resolver(item, paths)
        assert resolver.slots is None
    with pytest.raises(InputError) as slow:
        with_values(item, [("no.such.path", 1, "--set")])
    with pytest.raises(InputError) as fast:
        Resolver(item, ["no.such.path"]).resolve([("no.such.path", 1, "--set")])
    assert str(fast.value) == str(slow.value)


def test_share_along_is_share_untouched() -> None:
    item = arrangements()[0]
    paths = sorted(item.ranges)[:6]
    resolved = with_values(item, [(p, get_path(item.config.model_dump(), p), "x") for p in paths])
    split = [p.split(".") for p in paths]
    assert share_along(resolved.config, item.config, path_tree(split)) == \
        share_untouched(resolved.config, item.config, split)
    assert path_tree([["a", "b"], ["a"], ["c"], ["a", "d"]]) == {"a": None, "c": None}


def test_records_are_shared_only_for_the_same_value_and_type() -> None:
    """A world's records are reused for the same key, flag, type and value; equal values of another type or sign
    (1, 1.0 and True; 0.0 and -0.0) each get their own text."""
    records = Records()
    for value in (1, 1.0, True, 0.0, -0.0, "1", [1, 2]):
        assert records.of("k.x", value, "explore world 3") == override_record("k.x", toml_literal(value),
                                                                              "explore world 3")
    assert records.of("k.x", 2.5, "f") is records.of("k.x", 2.5, "f")
    assert records.of("k.x", 2.5, "f") is not records.of("k.y", 2.5, "f")
    assert records.of("k.x", -0.0, "f")[2] == "k.x=-0.0" and records.of("k.x", 0.0, "f")[2] == "k.x=0.0"
