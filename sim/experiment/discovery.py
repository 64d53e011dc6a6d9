"""Scenario discovery: the boxes of parameter space where a question holds, found with PRIM.

PRIM comes from the maintained `prim` package (Project Platypus), an optional extra:
`pip install '.[explore]'`.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.errors import InputError

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


def load_prim() -> Any:
    """Import PRIM, or fail with how to install it."""
    try:
        import prim
    except ImportError:
        raise InputError("--discover", None, "scenario discovery needs PRIM, which is not installed.",
                         "install the extra with `pip install '.[explore]'` (or `pip install PRIM`), "
                         "or leave out --discover.") from None
    return prim


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
    import pandas as pd

    frame = pd.DataFrame({key: (pd.Series(column, dtype=object) if isinstance(column[0], str)
                                else pd.Series(column, dtype=float)) for key, column in parameters.items()})
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


def _boxes(frame: Any, holds: np.ndarray, most: int) -> list[dict[str, Any]]:
    """Return up to `most` PRIM boxes of the worlds where `holds`, each described by `_chosen`."""
    prim = load_prim()
    algorithm = prim.Prim(frame, holds, threshold=DENSITY_WANTED, threshold_type=">")
    boxes: list[dict[str, Any]] = []
    for _ in range(most):
        box = algorithm.find_box()
        if box is None:
            break
        entry = _chosen(box, frame)
        if entry["coverage"] <= 0.0:
            break
        boxes.append(entry)
        if entry["density"] < DENSITY_WANTED:
            break
    return boxes


def _chosen(box: Any, frame: Any) -> dict[str, Any]:
    """Select the box of best coverage x density among those dense enough, and describe it."""
    trajectory = box.peeling_trajectory
    dense = trajectory[trajectory["density"] >= DENSITY_WANTED]
    index = (int((dense["coverage"] * dense["density"]).idxmax()) if len(dense)
             else int(trajectory["density"].idxmax()))
    box.select(index)
    limits: dict[str, Any] = {}
    weak: dict[str, Any] = {}
    rows = _limits(box)
    for key, low, high, qp in rows:
        if isinstance(low, set | frozenset) or isinstance(high, set | frozenset):
            limit: Any = sorted(str(v) for v in (low if isinstance(low, set | frozenset) else high))
        else:
            limit = [float(low), float(high)]
        # PRIM's quasi-p-value: how likely a restriction this strong is by chance (small samples over-restrict).
        (limits if _number(qp) <= QP_SIGNIFICANT else weak)[str(key)] = limit
    if not limits and weak:  # no restriction is significant alone: keep the strongest, so the box says something
        strongest = str(min(rows, key=lambda row: _number(row[3]))[0])
        limits[strongest] = weak.pop(strongest)
    return {"limits": limits, "weak_limits": weak, "coverage": _number(trajectory.loc[index, "coverage"]),
            "density": _number(trajectory.loc[index, "density"]), "mass": _number(trajectory.loc[index, "mass"]),
            "trajectory": [{"coverage": _number(r["coverage"]), "density": _number(r["density"]),
                            "restricted": int(r["res dim"])} for _, r in trajectory.iterrows()]}


def _limits(box: Any) -> list[tuple[str, Any, Any, float]]:
    """Return (parameter, low, high, quasi-p-value) of each restricted dimension of the selected box.

    This is what `PrimBox.limits` reports, read from the same attributes: PRIM 1.0's property
    writes a categorical dimension's set of values into a float table, which pandas 2.1 and
    later refuse (`TypeError: Invalid value '{...}' for dtype 'float64'`).
    """
    current = box._cur_box
    quasi_p = box._calculate_quasi_p(current)
    lims = box._box_lims[current]
    rows = [(str(key), lims[key][0], lims[key][1], float(value)) for key, value in quasi_p.items()]
    return sorted(rows, key=lambda row: row[3])


def _number(value: Any) -> float:
    number = float(value)
    return number if math.isfinite(number) else 0.0
