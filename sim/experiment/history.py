"""History matching: rule out the worlds whose outputs the public record contradicts.

Each observation cites a fact, names the arrangement the record saw, the window it covers,
the model output it corresponds to, the observed value and its uncertainty. A world's
implausibility for an observation is the standard |z - E[f(x)]| / sqrt(var_obs + var_model +
var_discrepancy); a world whose largest implausibility exceeds the cut-off (3) is ruled out.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, ValidationError, model_validator

from sim.config.facts import find_fact_base, load_facts
from sim.config.loader import did_you_mean, error_from_pydantic, read_toml
from sim.config.schema import Strict, config_problem
from sim.errors import InputError

CUTOFF = 3.0


class Window(Strict):
    """The period an observation covers (both days included)."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        """Return the window's length in days."""
        return (self.end - self.start).days + 1


class Observation(Strict):
    """One observation from the public record and the model output it corresponds to."""

    id: str
    fact: str | list[str] = Field(description="The fact in seeds/facts.toml that reports it (or a list of facts).")
    arrangement: str = Field(description="The arrangement the record observed.")
    output: str = Field(description="The metric path it corresponds to.")
    window: Window
    scale: Literal["window", "as_is"] = Field(
        "window", description="`window`: a count, scaled from the simulated days to the window; `as_is`: a level.")
    value: float
    sd: float = Field(gt=0.0, description="Standard deviation of the observation's uncertainty.")
    discrepancy_sd: float = Field(0.0, ge=0.0, description="Standard deviation of the model's structural error.")
    direction: Literal["both", "at_least", "at_most"] = Field(
        "both", description="`at_least`: the record shows a lower bound (only model values below it count).")
    assume: str = Field(min_length=1, description="How the fact's words were read as this number.")

    @model_validator(mode="after")
    def _window_in_order(self) -> Observation:
        if self.window.end < self.window.start:
            raise config_problem("window.end", "the window ends before it starts.", "swap start and end.")
        return self


class ObservationFile(Strict):
    """A file of observations."""

    observation: tuple[Observation, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Observations:
    """Validated observations and the file they came from."""

    path: Path
    items: tuple[Observation, ...]


def load_observations(path: Path) -> Observations:
    """Read and check an observations file, including that every cited fact exists."""
    raw = read_toml(path)
    try:
        spec = ObservationFile.model_validate(raw)
    except ValidationError as exc:
        raise error_from_pydantic(exc, str(path), root=ObservationFile) from None
    facts_path = find_fact_base(path.resolve().parent)
    facts = load_facts(facts_path) if facts_path else {}
    for i, item in enumerate(spec.observation):
        for cited in [item.fact] if isinstance(item.fact, str) else item.fact:
            if cited not in facts:
                raise InputError(str(path), f"observation.{i}.fact", f"it cites fact {cited!r}, which is not in "
                                 f"{facts_path or 'seeds/facts.toml'}.",
                                 did_you_mean(cited, facts) or "cite an existing fact id.")
    return Observations(path, spec.observation)


def check_against(observations: Observations, names: list[str], metrics: list[str]) -> list[str]:
    """Fail on an unknown output; return the ids of observations on arrangements not explored."""
    skipped = []
    for i, item in enumerate(observations.items):
        if item.output not in metrics:
            raise InputError(str(observations.path), f"observation.{i}.output",
                             f"{item.output!r} is not a metric the model reports.",
                             (did_you_mean(item.output, dict.fromkeys(metrics)) + " ").lstrip()
                             + "Use a path from `residency run CONFIG --json`.")
        if item.arrangement not in names:
            skipped.append(item.id)
    return skipped


def implausibility(item: Observation, replications: list[float | None], days: int) -> float | None:
    """Return one world's implausibility for one observation (None where the output is undefined)."""
    known = [v for v in replications if v is not None]
    if not known:
        return None
    factor = item.window.days / days if item.scale == "window" else 1.0
    expected = float(np.mean(known)) * factor
    var_model = (float(np.var(known, ddof=1)) / len(known) if len(known) > 1 else 0.0) * factor * factor
    gap = item.value - expected
    if (item.direction == "at_least" and gap < 0) or (item.direction == "at_most" and gap > 0):
        gap = 0.0
    return abs(gap) / math.sqrt(item.sd ** 2 + var_model + item.discrepancy_sd ** 2)


def match(observations: Observations, table: dict[str, dict[str, list[list[float | None]]]],
          worlds: int, days: int, parameters: dict[str, list[Any]]) -> tuple[np.ndarray, dict[str, Any]]:
    """Return the mask of worlds not ruled out and the `history_match` section of explore.json."""
    worst = np.zeros(worlds)
    per_observation: dict[str, Any] = {}
    for item in observations.items:
        cells = table.get(item.output, {}).get(item.arrangement)
        if cells is None:
            per_observation[item.id] = {"fact": item.fact, "evaluated": 0, "ruled_out": 0}
            continue
        scores = [implausibility(item, cells[w], days) for w in range(worlds)]
        values = np.asarray([math.nan if s is None else s for s in scores])
        known = np.isfinite(values)
        worst[known] = np.maximum(worst[known], values[known])
        per_observation[item.id] = {"fact": item.fact, "arrangement": item.arrangement, "output": item.output,
                                    "value": item.value, "evaluated": int(known.sum()),
                                    "ruled_out": int(np.sum(values[known] > CUTOFF))}
    keep = worst <= CUTOFF
    section: dict[str, Any] = {"cutoff": CUTOFF, "ruled_out": int(worlds - keep.sum()), "remaining": int(keep.sum()),
                               "observations": per_observation, "ranges_before": _ranges(parameters, None),
                               "ranges_after": _ranges(parameters, keep), "alternatives_after": {},
                               "implausibility_max": [round(float(v), 6) for v in worst]}
    for key, column in parameters.items():
        if column and isinstance(column[0], str):
            section["alternatives_after"][key] = sorted({v for v, k in zip(column, keep, strict=True) if k})
    return keep, section


def _ranges(parameters: dict[str, list[Any]], keep: np.ndarray | None) -> dict[str, list[float]]:
    ranges = {}
    for key, column in parameters.items():
        if not column or isinstance(column[0], str):
            continue
        values = [float(v) for i, v in enumerate(column) if keep is None or keep[i]]
        if values:
            ranges[key] = [min(values), max(values)]
    return ranges
