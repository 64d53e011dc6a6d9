"""Scenario discovery: the boxes of parameter space where a question holds, found with PRIM.

PRIM is the package's own (sim/experiment/prim.py, numpy only), so discovery is always available.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.errors import InputError
from sim.experiment.prim import Box, Prim

QUESTION = re.compile(r"^\s*([A-Za-z_][\w-]*)\s*(<=|>=|<|>)\s*([A-Za-z_][\w-]*|[-+]?[\d.]+(?:[eE][-+]?\d+)?)\s*$")
DENSITY_WANTED = 0.8
MAX_BOXES = 2
QP_SIGNIFICANT = 0.05
#: Shuffles of the labels behind each box's p-value, and the level a box must beat to be a finding.
PERMUTATIONS = 99
BOX_ALPHA = 0.05


@dataclass(frozen=True)
class Question:
    """A yes/no question about each world: `a < b` between arrangements, or `a > 5000` on one."""

    text: str
    left: str
    operator: str
    right: str | float

    def holds(self, means: dict[str, np.ndarray]) -> np.ndarray:
        """Return, per world, whether the question holds (False where a value is missing)."""
        left = means[self.left]
        right = means[self.right] if isinstance(self.right, str) else np.full_like(left, self.right)
        with np.errstate(invalid="ignore"):
            result = {"<": left < right, ">": left > right, "<=": left <= right, ">=": left >= right}[self.operator]
        return np.asarray(result & np.isfinite(left) & np.isfinite(right), dtype=bool)

    def phrase(self, metric: str) -> str:
        """Return the question in words."""
        words = {"<": "less than", ">": "more than", "<=": "at most", ">=": "at least"}[self.operator]
        right = self.right if isinstance(self.right, str) else f"{self.right:g}"
        return f"where {self.left} leaves {words} {right} ({metric})"


def parse_question(text: str, names: list[str]) -> Question:
    """Read `A < B` (two arrangements) or `A > NUMBER` (a threshold on one arrangement's metric)."""
    match = QUESTION.match(text)
    fix = (f'write `--discover "oracle > joint_venture"` or `--discover "oracle > 5000"`; '
           f'arrangements: {", ".join(names)}.')
    if match is None:
        raise InputError("--discover", text, "the question must be `A < B` or `A > NUMBER`.", fix)
    left, operator, right = match.groups()
    for name in (left, right):
        if re.match(r"[A-Za-z_]", name) and name not in names:
            raise InputError("--discover", text, f"{name!r} is not one of the explored arrangements.", fix)
    value: str | float = right if right in names else float(right)
    return Question(text.strip(), left, operator, value)


def discover(question: Question, metric: str, means: dict[str, np.ndarray], parameters: dict[str, list[Any]],
             tie: bool = False, permutations: int = PERMUTATIONS, seed: int = 0) -> dict[str, Any]:
    """Find up to two PRIM boxes where the question holds, each tested against a label-permutation null.

    Each box's p-value is the share of `permutations` shuffles of the yes/no labels (over the
    same parameters) whose first PRIM box scores at least as high on coverage x density,
    counting the observed labels as one of them. The verdict is "indistinguishable" when the
    question compares two arrangements that replication noise cannot tell apart (`tie`: no box
    is fitted), "found" when the first box beats the null at the 5% level, else "not significant".
    """
    holds = question.holds(means)
    found: dict[str, Any] = {"question": question.text, "phrase": question.phrase(metric),
                             "cases": int(holds.sum()), "worlds": int(holds.size), "boxes": [],
                             "holds": [bool(h) for h in holds], "verdict": "not significant",
                             "parameters_searched": sorted(parameters), "permutations": permutations}
    if tie:
        found["verdict"] = "indistinguishable"
        return found
    if not parameters or holds.all() or not holds.any():
        return found
    frame = {key: list(column) for key, column in parameters.items()}
    found["boxes"] = _boxes(frame, holds, MAX_BOXES)
    if not found["boxes"]:
        return found
    rng = np.random.default_rng(seed)
    null = []
    for _ in range(permutations):
        shuffled = _boxes(frame, rng.permutation(holds), 1)
        null.append(_score(shuffled[0]) if shuffled else 0.0)
    scores = np.asarray(null)
    for box in found["boxes"]:
        box["p_value"] = round(float((1 + np.sum(scores >= _score(box) - 1e-12)) / (1 + permutations)), 6)
    found["verdict"] = "found" if found["boxes"][0]["p_value"] <= BOX_ALPHA else "not significant"
    return found


def _score(box: dict[str, Any]) -> float:
    """Return what a box is chosen by and tested on: coverage x density."""
    return float(box["coverage"]) * float(box["density"])


def _boxes(frame: dict[str, list[Any]], holds: np.ndarray, most: int) -> list[dict[str, Any]]:
    """Return up to `most` PRIM boxes of the worlds where `holds`, each described by `_chosen`."""
    algorithm = Prim(frame, holds)
    boxes: list[dict[str, Any]] = []
    for _ in range(most):
        box = algorithm.find_box()
        if box is None:
            break
        index, entry = _chosen(algorithm, box)
        if entry["coverage"] <= 0.0:
            break
        boxes.append(entry)
        algorithm.take(box, index)
        if entry["density"] < DENSITY_WANTED:
            break
    return boxes


def _chosen(algorithm: Prim, box: Box) -> tuple[int, dict[str, Any]]:
    """Select the box of best coverage x density among those dense enough, and describe it."""
    steps = box.steps
    dense = [i for i, step in enumerate(steps) if step.density >= DENSITY_WANTED]
    index = (max(dense, key=lambda i: (steps[i].coverage * steps[i].density, -i)) if dense
             else max(range(len(steps)), key=lambda i: (steps[i].density, -i)))
    limits: dict[str, Any] = {}
    weak: dict[str, Any] = {}
    quasi_p = algorithm.quasi_p(box, index)
    for key, limit in sorted(box.limits(index).items(), key=lambda item: quasi_p[item[0]]):
        described: Any = sorted(limit) if isinstance(limit, frozenset) else [float(limit[0]), float(limit[1])]
        # PRIM's quasi-p-value: how likely a restriction this strong is by chance (small samples over-restrict).
        (limits if quasi_p[key] <= QP_SIGNIFICANT else weak)[key] = described
    if not limits and weak:  # no restriction is significant alone: keep the strongest, so the box says something
        strongest = min(weak, key=lambda key: quasi_p[key])
        limits[strongest] = weak.pop(strongest)
    step = steps[index]
    return index, {"limits": limits, "weak_limits": weak, "coverage": _number(step.coverage),
                   "density": _number(step.density), "mass": _number(step.mass),
                   "trajectory": [{"coverage": _number(s.coverage), "density": _number(s.density),
                                   "restricted": s.restricted} for s in steps]}


def _number(value: Any) -> float:
    number = float(value)
    return number if math.isfinite(number) else 0.0
