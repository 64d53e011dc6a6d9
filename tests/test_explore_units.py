"""The pieces of explore: win shares, regret, first-order indices, questions, observations, PRIM's absence."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from conftest import ROOT

from sim.config.loader import load_config
from sim.errors import InputError
from sim.experiment.discovery import discover, parse_question
from sim.experiment.history import Observation, Window, implausibility, load_observations, window_values
from sim.experiment.robust import (
    first_order,
    first_orders,
    importance,
    importances,
    p_less,
    regret,
    wilson,
    world_means,
)
from sim.experiment.sweep import metric_names


def test_p_less_counts_ties_half_and_its_interval_holds_it() -> None:
    entry = p_less(np.array([1.0, 2.0, 3.0, 4.0]), np.array([2.0, 2.0, 1.0, 5.0]))
    assert entry["mean"] == pytest.approx(2.5 / 4) and entry["ties"] == 1
    low, high = entry["ci95"]
    assert low < entry["mean"] < high
    assert wilson(0, 10)[0] == 0.0 and wilson(10, 10)[1] == pytest.approx(1.0)


def test_regret_is_the_gap_to_each_worlds_best() -> None:
    table = regret({"a": np.array([1.0, 5.0, 2.0]), "b": np.array([3.0, 1.0, 2.0])})
    assert table["a"]["max"] == 4.0 and table["b"]["max"] == 2.0
    assert table["a"]["mean"] == pytest.approx(4.0 / 3)


def first_order_by_masks(parameter: list[object], output: np.ndarray) -> float | None:
    """The binned first-order index written one bin mask at a time (each gap squared by multiplying)."""
    values = np.asarray(output, dtype=float)
    known = np.isfinite(values)
    if known.sum() < 4 or float(np.var(values[known])) == 0.0:
        return None
    column = [p for p, k in zip(parameter, known, strict=True) if k]
    values = values[known]
    if all(isinstance(p, str) for p in column):
        labels = np.unique(np.asarray(column), return_inverse=True)[1]
    else:
        order = np.argsort(np.asarray(column, dtype=float), kind="stable")
        bins = max(2, round(np.sqrt(len(values))))
        labels = np.empty(len(values), dtype=int)
        labels[order] = np.arange(len(values)) * bins // len(values)
    gaps = {b: values[labels == b].mean() - values.mean() for b in np.unique(labels)}
    explained = sum((labels == b).sum() * (gap * gap) for b, gap in gaps.items()) / len(values)
    return float(min(1.0, explained / float(np.var(values))))


@pytest.mark.parametrize("kind", ["uniform", "integers", "labels"])
def test_first_orders_of_many_outputs_are_each_first_order_to_the_bit(kind: str) -> None:
    rng = np.random.default_rng(len(kind))
    worlds = 701
    parameter: list[object] = (list(rng.uniform(0.0, 1.0, worlds)) if kind == "uniform" else
                               [int(v) for v in rng.integers(0, 6, worlds)] if kind == "integers" else
                               list(rng.choice(["x", "y", "z"], worlds)))
    output = rng.lognormal(2.0, 2.0, worlds) * rng.choice([-1.0, 1.0], worlds)
    output[[5, 90]] = np.nan  # a world without a value is left out of that output's index
    complete = np.nan_to_num(output, nan=1.5)
    # Rows with a missing world (settled one by one), rows with every world (settled together), a flat row.
    outputs = np.stack([*(rng.permutation(output) for _ in range(20)), *(rng.permutation(complete) for _ in range(20)),
                        np.full(worlds, 3.0)])
    assert first_orders(parameter, outputs) == [first_order_by_masks(parameter, row) for row in outputs]


def test_importances_of_all_pairs_at_once_are_each_pairs_importance() -> None:
    """Scoring every pair at once, each parameter binned once, gives each pair's `importance` to the bit."""
    rng = np.random.default_rng(11)
    worlds = 333
    means = {name: rng.lognormal(1.0, 1.0, worlds) for name in "abc"}
    means["c"][7] = np.nan  # a world without a value
    parameters = {"p": list(rng.uniform(size=worlds)), "q": list(rng.choice(["x", "y"], worlds)),
                  "r": [int(v) for v in rng.integers(0, 4, worlds)]}
    applies = {"p": {"a", "b"}, "q": {"c"}, "r": {"a", "b", "c"}}
    pairs = [("a", "b"), ("b", "a"), ("a", "c"), ("c", "b")]
    found = importances(parameters, applies, means, pairs)
    for a, b in pairs:
        relevant = {k: v for k, v in parameters.items() if applies[k] & {a, b}}
        expected = importance(relevant, means[a] - means[b])
        assert found[(a, b)] == expected and list(found[(a, b)]) == list(expected)


def test_world_means_of_whole_replications_are_each_worlds_mean_to_the_bit() -> None:
    """Worlds with every replication are averaged in one array; the values are np.mean's, world by world."""
    rng = np.random.default_rng(5)
    for replications in (1, 3, 9, 20):
        cells = {"a": rng.lognormal(0.0, 3.0, (50, replications)).tolist()}
        expected = [float(np.mean(reps)) for reps in cells["a"]]
        assert world_means(cells)["a"].tolist() == expected
    gaps = {"a": [[1.0, None, 2.0], [None, None, None], [0.1, 0.2, 0.7]]}
    assert world_means(gaps)["a"][0] == 1.5 and np.isnan(world_means(gaps)["a"][1])


def test_first_order_finds_the_parameter_that_decides() -> None:
    rng = np.random.default_rng(3)
    decisive, idle = rng.uniform(size=200), rng.uniform(size=200)
    output = np.where(decisive < 0.3, -1.0, 1.0)
    assert first_order(list(decisive), output) > 0.85  # type: ignore[operator]
    assert first_order(list(idle), output) < 0.15  # type: ignore[operator]
    assert first_order(list(idle), np.ones(200)) is None


def test_questions_read_pairs_and_thresholds() -> None:
    assert parse_question("oracle > joint_venture", ["oracle", "joint_venture"]).right == "joint_venture"
    assert parse_question("oracle >= 5e3", ["oracle"]).right == 5000.0
    with pytest.raises(InputError, match="not one of"):
        parse_question("oracel < google", ["oracle", "google"])


def observation(**changes: object) -> Observation:
    """Return an observation of 10 events in a 30-day window, sd 1, changed as asked."""
    fields: dict[str, object] = {"id": "o", "fact": "f", "arrangement": "a", "output": "m", "value": 10.0, "sd": 1.0,
                                 "window": Window(start="2022-01-01", end="2022-01-30"), "assume": "test"}
    return Observation.model_validate(fields | changes)


def test_implausibility_uses_one_realisations_variance_and_fails_the_undefined() -> None:
    assert implausibility(observation(), [10.0, 10.0]) == pytest.approx(0.0)
    # 40 where 10 were seen: the model variance of one 40-count is at least 40 (Poisson), not 0.
    assert implausibility(observation(), [40.0, 40.0]) == pytest.approx(30.0 / (1.0 + 40.0) ** 0.5)
    assert implausibility(observation(), [30.0, 50.0]) == pytest.approx(30.0 / (1.0 + 200.0) ** 0.5)
    assert implausibility(observation(direction="at_least"), [80.0, 80.0]) == 0.0
    assert implausibility(observation(scale="as_is", discrepancy_sd=1.0), [12.0]) == pytest.approx(2 / 2 ** 0.5)
    assert implausibility(observation(), [None]) == float("inf")
    assert implausibility(observation(undefined="flag"), [None]) is None


def test_a_count_is_read_by_date_where_the_run_covers_the_window() -> None:
    item = observation(window=Window(start="2022-12-01", end="2023-01-30"))  # 31 days of 2022, 30 of 2023
    cells = {"m": {"a": [[365.0]]}, "by_year.2022.m": {"a": [[31.0 * 4]]}, "by_year.2023.m": {"a": [[334.0]]}}
    # The run covers 2022-12-01..2023-11-30: December 2022 holds 124, 2023's 334 fall over 334 days.
    values, how = window_values(item, cells, 0, dt.date(2022, 12, 1), 365)
    assert how == "by date" and values[0] == pytest.approx(124.0 + 30.0)
    values, how = window_values(item, cells, 0, dt.date(2024, 1, 1), 365)
    assert how.startswith("steady rate") and values[0] == pytest.approx(61.0)


def test_shipped_observations_cite_facts_and_name_outputs() -> None:
    observations = load_observations(ROOT / "configs" / "explore" / "observations.toml")
    known = metric_names(load_config(ROOT / "configs" / "arrangements" / "status_quo.toml").config)
    assert observations.items and all(item.output in known for item in observations.items)


def test_discovery_bounds_a_categorical_parameter_beside_a_numeric_one() -> None:
    """A question that holds for one alternative and low values of a number gives a box naming both."""
    rng = np.random.default_rng(7)
    worlds = 240
    custody = [str(c) for c in rng.choice(["parent", "provider", "independent"], size=worlds)]
    share = rng.uniform(0.0, 1.0, size=worlds)
    noise = rng.uniform(0.0, 1.0, size=worlds)
    holds = np.array([c == "parent" for c in custody]) & (share < 0.5)
    means = {"a": np.where(holds, 2.0, 1.0), "b": np.full(worlds, 1.5)}
    found = discover(parse_question("a > b", ["a", "b"]), "residual_access.events", means,
                     {"sites.x.key_custody": custody, "controls.share": list(share), "controls.noise": list(noise)},
                     permutations=19)
    box = found["boxes"][0]
    assert box["limits"]["sites.x.key_custody"] == ["parent"]
    low, high = box["limits"]["controls.share"]
    assert low == pytest.approx(0.0, abs=0.05)
    assert high == pytest.approx(0.5, abs=0.1)
    assert box["density"] >= 0.8 and box["coverage"] >= 0.5
    assert "controls.noise" not in box["limits"]
