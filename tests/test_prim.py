"""The package's own PRIM: the peeling trajectory's laws, and boxes found where they were planted."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from sim.experiment.prim import MASS_MIN, Prim


def planted(worlds: int = 400, seed: int = 3) -> tuple[dict[str, list[object]], np.ndarray]:
    """Return columns (two numbers that matter, one that does not, a categorical) and where the question holds."""
    rng = np.random.default_rng(seed)
    columns: dict[str, list[object]] = {"a": list(rng.uniform(0, 1, worlds)), "b": list(rng.uniform(0, 10, worlds)),
                                        "noise": list(rng.uniform(0, 1, worlds)),
                                        "custody": [str(c) for c in rng.choice(["x", "y", "z"], worlds)]}
    holds = (np.asarray(columns["a"]) > 0.6) & (np.asarray(columns["b"]) < 5.0)
    return columns, holds


def test_the_trajectory_trades_coverage_for_density_down_to_the_least_mass() -> None:
    """Along the peel, coverage never rises, mass falls every step, and the last box keeps at least mass_min."""
    columns, holds = planted()
    box = Prim(columns, holds).find_box()
    assert box is not None
    steps = box.steps
    assert steps[0].coverage == 1.0 and steps[0].mass == 1.0 and steps[0].restricted == 0
    assert steps[0].density == pytest.approx(holds.mean())
    assert all(b.coverage <= a.coverage for a, b in itertools.pairwise(steps))
    assert all(b.mass < a.mass for a, b in itertools.pairwise(steps))
    assert steps[-1].mass >= MASS_MIN
    for step in steps:  # each statistic is what the box's worlds say
        assert step.density == pytest.approx(holds[step.inside].mean())
        assert step.coverage == pytest.approx(holds[step.inside].sum() / holds.sum())


def test_the_densest_box_is_the_planted_one_and_leaves_the_noise_alone() -> None:
    """Where the question holds for a > 0.6 and b < 5, the dense end of the trajectory restricts a and b only."""
    columns, holds = planted()
    algorithm = Prim(columns, holds)
    box = algorithm.find_box()
    assert box is not None
    index = max((i for i, step in enumerate(box.steps) if step.density >= 0.95),
                key=lambda i: box.steps[i].density * box.steps[i].coverage)  # as discovery picks its box
    limits = box.limits(index)
    assert set(limits) <= {"a", "b"} and limits["a"][0] == pytest.approx(0.6, abs=0.05)
    assert limits["b"][1] == pytest.approx(5.0, abs=0.5)
    quasi_p = algorithm.quasi_p(box, index)
    assert all(p < 0.01 for p in quasi_p.values())


def test_a_categorical_alternative_is_peeled_whole() -> None:
    """A question that holds only where custody is x is boxed by dropping the other alternatives."""
    columns, _ = planted()
    holds = np.asarray(columns["custody"]) == "x"
    box = Prim(columns, holds).find_box()
    assert box is not None
    best = max(range(len(box.steps)), key=lambda i: (box.steps[i].density, box.steps[i].coverage))
    assert box.limits(best)["custody"] == frozenset({"x"}) and box.steps[best].density == 1.0


def test_the_second_box_is_peeled_from_the_worlds_the_first_does_not_hold() -> None:
    """Covering: after `take`, the worlds of the first box are out of every later box."""
    columns, holds = planted()
    algorithm = Prim(columns, holds)
    first = algorithm.find_box()
    assert first is not None
    algorithm.take(first, len(first.steps) - 1)
    second = algorithm.find_box()
    if second is not None:
        assert not (second.steps[0].inside & first.steps[-1].inside).any()


def test_no_case_no_box_and_same_input_same_box() -> None:
    """No world where the question holds gives no box; the peel is deterministic."""
    columns, holds = planted()
    assert Prim(columns, np.zeros_like(holds)).find_box() is None
    one, two = Prim(columns, holds).find_box(), Prim(columns, holds).find_box()
    assert one is not None and two is not None
    assert [s.inside.tolist() for s in one.steps] == [s.inside.tolist() for s in two.steps]
