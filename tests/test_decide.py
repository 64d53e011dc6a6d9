"""The decision among candidates: ties named, discovery tested against a null, value of information."""

from __future__ import annotations

import numpy as np
import pytest

from sim.errors import InputError
from sim.experiment.decision import (
    best_share,
    check_candidates,
    flip_question,
    paired_world,
    regret_against,
    ties,
    world_verdicts,
)
from sim.experiment.discovery import discover, parse_question
from sim.experiment.voi import ALPHAS, RidgeFits, design, value_of_information

WORLDS = 120


def planted(seed: int) -> tuple[np.ndarray, dict[str, list[float]]]:
    """Return one parameter that decides and five that do not, over WORLDS worlds."""
    rng = np.random.default_rng(seed)
    decides = rng.uniform(0.0, 1.0, WORLDS)
    others = rng.uniform(0.0, 1.0, (WORLDS, 5))
    return decides, {"decides": list(decides), **{f"idle{i}": list(others[:, i]) for i in range(5)}}


def test_one_parameter_that_decides_the_winner_takes_nearly_all_the_evpi() -> None:
    rng = np.random.default_rng(3)
    decides, parameters = planted(3)
    means = {"a": 1000.0 * decides + rng.normal(0.0, 30.0, WORLDS), "b": 500.0 + rng.normal(0.0, 30.0, WORLDS)}
    section = value_of_information(means, parameters, None, "residual_access.events")
    evpi = section["evpi"]
    assert evpi > 100.0  # a wins below 0.5, b above: knowing `decides` saves about 125
    assert next(iter(section["parameters"])) == "decides"
    assert section["parameters"]["decides"]["evppi"] >= 0.9 * evpi and section["parameters"]["decides"]["resolved"]
    for key, entry in section["parameters"].items():
        assert 0.0 <= entry["evppi"] <= evpi and entry["se"] >= 0.0
        if key != "decides":
            assert entry["evppi"] < 0.2 * evpi


@pytest.mark.parametrize("replications", [1, 2, 3, 5])
def test_worlds_told_apart_as_arrays_are_those_told_apart_one_by_one(replications: int) -> None:
    rng = np.random.default_rng(replications)
    base = rng.lognormal(2.0, 2.0, (80, replications))
    noise = rng.normal(0.0, 1.0, (80, replications)) * rng.choice([0.0, 0.1, 10.0], (80, 1))
    left: list[list[float | None]] = [list(map(float, row)) for row in base]
    right: list[list[float | None]] = [list(map(float, row)) for row in base + noise + rng.choice([0.0, 0.5], (80, 1))]
    right[3] = right[3][:-1]  # a replication missing, or a missing value: those worlds go one by one
    left[5][0] = None
    assert world_verdicts(left, right) == [paired_world(x, y) for x, y in zip(left, right, strict=True)]


@pytest.mark.parametrize("worlds", [12, 40, 300])
def test_the_shared_ridge_fits_are_ridgecv_to_the_bit(worlds: int) -> None:
    from sklearn.linear_model import RidgeCV

    rng = np.random.default_rng(worlds)
    columns = [list(rng.uniform(0.0, 50.0, worlds)), list(rng.lognormal(0.0, 2.0, worlds)),
               list(rng.choice(["a", "b", "c"], worlds))]
    x = design(columns)
    centred = x - x.mean(axis=0)
    losses = rng.normal(0.0, 1.0, (worlds, 3)) * [1.0, 10.0, 1000.0] + 40.0 * centred[:, :1]
    fits = RidgeFits(centred)
    for c in range(losses.shape[1]):  # a column of the losses, as evppi passes it
        model = RidgeCV(alphas=ALPHAS).fit(centred, losses[:, c])
        alpha, fitted = fits.fit(losses[:, c])
        assert alpha == model.alpha_ and np.array_equal(fitted, model.predict(centred))


def test_where_no_parameter_matters_every_evppi_is_near_zero() -> None:
    rng = np.random.default_rng(5)
    _, parameters = planted(5)
    means = {"a": 500.0 + rng.normal(0.0, 100.0, WORLDS), "b": 500.0 + rng.normal(0.0, 100.0, WORLDS)}
    section = value_of_information(means, parameters, None, "residual_access.events")
    assert section["evpi"] > 20.0  # the worlds differ by noise, which no parameter explains
    assert all(entry["evppi"] < 0.25 * section["evpi"] for entry in section["parameters"].values())


def test_a_group_is_worth_at_least_its_best_member_and_at_most_the_evpi() -> None:
    rng = np.random.default_rng(9)
    decides, parameters = planted(9)
    parameters = {"deletions.0.median_days": parameters["decides"], "deletions.0.sigma": parameters["idle0"],
                  "controls.gate_hours": parameters["idle1"]}
    means = {"a": 1000.0 * decides + rng.normal(0.0, 30.0, WORLDS), "b": 500.0 + rng.normal(0.0, 30.0, WORLDS)}
    section = value_of_information(means, parameters, None, "residual_access.events")
    group = section["groups"]["deletion"]
    assert group["parameters"] == ["deletions.0.median_days", "deletions.0.sigma"]
    assert section["parameters"]["deletions.0.median_days"]["evppi"] - 3 * group["se"] <= group["evppi"]
    assert group["evppi"] <= section["evpi"]


def test_the_paired_test_sees_noise_as_noise_and_a_gap_as_a_gap() -> None:
    assert paired_world([100.0, 140.0, 90.0], [101.0, 138.0, 91.0]) is False  # differences -1, 2, -1
    assert paired_world([100.0, 140.0, 90.0], [60.0, 101.0, 49.0]) is True  # 40, 39, 41
    assert paired_world([None, None], [1.0, 2.0]) is None
    rng = np.random.default_rng(1)
    base = rng.normal(1000.0, 300.0, (20, 3))  # common random numbers: both see the same world noise
    cells = {"a": [list(row) for row in base], "b": [list(row + rng.normal(0.0, 1.0, 3)) for row in base],
             "c": [list(row + 200.0) for row in base]}
    found = ties(cells, ["a", "b", "c"])
    assert found["a|b"]["indistinguishable"] and not found["a|c"]["indistinguishable"]


def test_the_automatic_question_is_never_a_tie() -> None:
    rng = np.random.default_rng(2)
    base = rng.normal(1000.0, 300.0, (30, 3))
    flip = np.where(np.arange(30) < 10, -100.0, 100.0)  # c beats a in 10 of 30 worlds, by far more than noise
    cells = {"a": [list(row) for row in base], "b": [list(row + rng.normal(0.0, 1.0, 3)) for row in base],
             "c": [list(row + f) for row, f in zip(base, flip, strict=True)]}
    means = {n: np.asarray([np.mean(r) for r in rows]) for n, rows in cells.items()}
    question = flip_question(ties(cells, ["a", "b", "c"]), means)
    assert question is not None and {question.left, question.right} in ({"a", "c"}, {"b", "c"})
    assert question.left == "c"  # asked the way round that holds in the minority
    only_tie = flip_question(ties(cells, ["a", "b"]), means)
    assert only_tie is None


def test_discovery_on_a_tie_records_the_verdict_and_no_box() -> None:
    means = {"a": np.arange(10.0), "b": np.arange(10.0) + 0.1}
    found = discover(parse_question("a < b", ["a", "b"]), "m", means, {"x": list(np.arange(10.0))}, tie=True)
    assert found["verdict"] == "indistinguishable" and found["boxes"] == []


@pytest.mark.slow
def test_prim_on_coin_flip_labels_is_not_significant_and_a_real_box_is() -> None:
    rng = np.random.default_rng(11)
    worlds = 100
    columns = {f"p{i}": list(rng.uniform(0.0, 1.0, worlds)) for i in range(6)}
    coin = rng.uniform(0.0, 1.0, worlds) < 0.3
    noise = discover(parse_question("a < b", ["a", "b"]), "m",
                     {"a": np.where(coin, 0.0, 2.0), "b": np.ones(worlds)}, columns, permutations=49)
    assert noise["verdict"] == "not significant"
    assert all(box["p_value"] > 0.05 for box in noise["boxes"])
    real = np.asarray(columns["p0"]) < 0.3
    found = discover(parse_question("a < b", ["a", "b"]), "m",
                     {"a": np.where(real, 0.0, 2.0), "b": np.ones(worlds)}, columns, permutations=49)
    assert found["verdict"] == "found" and found["boxes"][0]["p_value"] <= 0.05
    assert "p0" in found["boxes"][0]["limits"]


def test_candidates_are_checked_and_regret_is_against_the_best_candidate() -> None:
    assert check_candidates(["a,b", "c"], ["a", "b", "c", "d"]) == ["a", "b", "c"]
    assert check_candidates(None, ["a", "b"]) == ["a", "b"]
    with pytest.raises(InputError, match="not one of the explored"):
        check_candidates(["a", "zz"], ["a", "b"])
    with pytest.raises(InputError, match="at least two"):
        check_candidates(["a"], ["a", "b"])
    means = {"a": np.array([1.0, 5.0]), "b": np.array([3.0, 2.0]), "ref": np.array([0.0, 0.0])}
    regrets = regret_against(means, ["a", "b"])
    assert regrets["a"]["max"] == 3.0 and regrets["b"]["max"] == 2.0 and regrets["ref"]["max"] == -1.0
    assert best_share(means, ["a", "b"]) == {"a": 0.5, "b": 0.5}


def test_a_tiny_evppi_told_from_zero_is_not_named_worth_finding_out_first() -> None:
    """Beside larger estimates lost in noise, an EVPPI smaller than their standard error is not the answer."""
    from sim.experiment.explore_conclusion import _information

    voi = {"evpi": 572.0, "worlds": 48, "groups": {},
           "parameters": {"actors.cn_engineers.headcount": {"evppi": 572.0, "se": 517.0, "resolved": False},
                          "gatekeeper.review_hours_sigma": {"evppi": 0.4, "se": 0.1, "resolved": True}}}
    [line] = _information({"value_of_information": voi, "metric": "residual_access.events"}, str)
    assert line.startswith("No single unknown is clearly worth finding out first") and "(0 ± 0)" in line
    voi["parameters"]["gatekeeper.review_hours_sigma"] = {"evppi": 530.0, "se": 100.0, "resolved": True}
    [line] = _information({"value_of_information": voi, "metric": "residual_access.events"}, str)
    assert line.startswith("Worth finding out first")
