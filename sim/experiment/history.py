"""History matching: rule out the worlds whose outputs the public record contradicts.

Each observation cites a fact, names the arrangement the record saw, the window it covers,
the model output it corresponds to, the observed value and its uncertainty. A world's
implausibility for an observation is the standard |z - E[f(x)]| / sqrt(var_obs + var_model +
var_discrepancy); a world whose largest implausibility exceeds the cut-off (3) is ruled out
(Vernon et al. 2010).

A count is read by date where the run covers the window: each calendar year's count
(`by_year.<YYYY>.<output>`) contributes the share of that year's simulated days that fall in
the window. A window outside the simulated calendar is read at the run's steady rate, and the
observation says so; explore avoids that by running each observed arrangement once more on the
record's own calendar (`history_calendars`: from `warm_up_days` before its first window to the end
of its last), so the run starts before the window and counts by date. The model variance is that
of one realisation in the window (the spread of the replications' window counts, and at least a
Poisson count's), not that of a mean. A level whose uncertainty is a factor rather than a spread
(`log = true`) is compared on a log scale, where a mean of positive delays cannot come near zero.
A world where the output is undefined (no replication has a value) fails the observation
(`undefined = "fail"`, the default) or is flagged and left out of it (`"flag"`): never a pass.
An observation whose `fitted` parameters (fitted to the same facts it reports) are not all
ranged in the exploration is shown but not used as evidence: it would test a value against
the facts it was fitted to.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from pydantic import Field, model_validator

from sim.config.facts import find_fact_base, load_facts
from sim.config.loader import did_you_mean, read_validated
from sim.config.schema import Strict, config_problem
from sim.errors import InputError

CUTOFF = 3.0
Table = dict[str, dict[str, list[list[float | None]]]]


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
    undefined: Literal["fail", "flag"] = Field(
        "fail", description="A world where the output is undefined: `fail` rules it out, `flag` leaves it out.")
    fitted: tuple[str, ...] = Field((), description="Parameter paths fitted to the same facts: the observation is "
                                    "evidence only where all of them are ranged.")
    min_days: int | None = Field(None, gt=0, description="A level (`as_is`) that a shorter run cannot show (a delay "
                                 "longer than the run is never seen): runs shorter than this leave it out as evidence.")
    log: bool = Field(False, description="Compare on a log scale (a positive level known within a factor): `sd` and "
                      "`discrepancy_sd` are then in natural-log units.")

    @model_validator(mode="after")
    def _window_in_order(self) -> Observation:
        if self.window.end < self.window.start:
            raise config_problem("window.end", "the window ends before it starts.", "swap start and end.")
        if self.log and (self.value <= 0 or self.scale != "as_is"):
            raise config_problem("log", "a log-scale observation needs a positive value and scale = \"as_is\".",
                                 "give a positive value and scale = \"as_is\", or set log = false.")
        return self


class ObservationFile(Strict):
    """A file of observations."""

    cutoff: float = Field(CUTOFF, gt=0.0, description="Largest implausibility a world may have and not be ruled out "
                          "(3: Pukelsheim's three-sigma rule holds 95% of any unimodal distribution within 3 sd).")
    warm_up_days: int = Field(30, ge=0, description="Days a run on the record's calendar starts before its first "
                              "window, so that queues and backlogs have filled when the window opens.")
    observation: tuple[Observation, ...] = Field(min_length=1)


@dataclass(frozen=True)
class Observations:
    """Validated observations and the file they came from."""

    path: Path
    items: tuple[Observation, ...]
    warm_up_days: int = 30
    cutoff: float = CUTOFF


def load_observations(path: Path) -> Observations:
    """Read and check an observations file, including that every cited fact exists."""
    spec = read_validated(path, ObservationFile)
    facts_path = find_fact_base(path.resolve().parent)
    facts = load_facts(facts_path) if facts_path else {}
    for i, item in enumerate(spec.observation):
        for cited in [item.fact] if isinstance(item.fact, str) else item.fact:
            if cited not in facts:
                raise InputError(str(path), f"observation.{i}.fact", f"it cites fact {cited!r}, which is not in "
                                 f"{facts_path or 'seeds/facts.toml'}.",
                                 did_you_mean(cited, facts) or "cite an existing fact id.")
    return Observations(path, spec.observation, spec.warm_up_days, spec.cutoff)


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


def history_calendars(observations: Observations | None,
                      calendars: dict[str, tuple[dt.date, int]]) -> dict[str, tuple[dt.date, int]]:
    """Return the calendar (first day, days) of a run on the record's dates for each arrangement that needs one.

    An explored arrangement whose counted windows do not all lie inside its own calendar runs
    once more per world to the end of its last window, from `warm_up_days` before its first window
    when that opens before its own first day (else from its own first day, as it began), so every
    window is counted by date.

    Args:
        observations: The observations (none: no extra runs).
        calendars: Each explored arrangement's first day and simulated days.
    """
    found: dict[str, tuple[dt.date, int]] = {}
    if observations is None:
        return found
    for name, (start, days) in calendars.items():
        windows = [item.window for item in observations.items if item.arrangement == name and item.scale == "window"]
        end = start + dt.timedelta(days=days - 1)
        if all(start <= w.start and w.end <= end for w in windows):
            continue
        earliest = min(w.start for w in windows)
        first = start if start <= earliest else earliest - dt.timedelta(days=observations.warm_up_days)
        last = max(w.end for w in windows)
        found[name] = (first, (last - first).days + 1)
    return found


def window_values(item: Observation, cells: dict[str, dict[str, list[list[float | None]]]], world: int,
                  start: dt.date, days: int) -> tuple[list[float | None], str]:
    """Return one world's per-replication values of an observation's output in its window, and how they were read.

    Args:
        item: The observation.
        cells: metric -> arrangement -> per-world replication values.
        world: The world.
        start: The simulated calendar's first day.
        days: The simulated days.
    """
    whole = cells.get(item.output, {}).get(item.arrangement, [[]] * (world + 1))[world]
    if item.scale == "as_is":
        return list(whole), "as is"
    end = start + dt.timedelta(days=days - 1)
    if start <= item.window.start and item.window.end <= end:
        total: list[float | None] = []
        for year in range(item.window.start.year, item.window.end.year + 1):
            yearly = cells.get(f"by_year.{year}.{item.output}", {}).get(item.arrangement)
            if yearly is None:
                break
            first, last = max(start, dt.date(year, 1, 1)), min(end, dt.date(year, 12, 31))
            inside = (min(last, item.window.end) - max(first, item.window.start)).days + 1
            share = inside / ((last - first).days + 1)
            values = yearly[world]
            total = ([None if v is None else v * share for v in values] if not total else
                     [None if a is None or v is None else a + v * share for a, v in zip(total, values, strict=False)])
        else:
            return total, "by date"
    factor = item.window.days / days
    return [None if v is None else v * factor for v in whole], "steady rate (the window is not simulated)"


def implausibility(item: Observation, values: list[float | None], poisson: bool | None = None) -> float | None:
    """Return one world's implausibility for one observation from its values in the window.

    The model variance is that of one realisation: the replications' spread, and for a count
    at least its mean (a Poisson count's). An undefined output gives infinity under
    `undefined = "fail"` and None (left out, flagged) under `"flag"`.
    """
    known = [v for v in values if v is not None and math.isfinite(v)]
    if not known:
        return math.inf if item.undefined == "fail" else None
    if item.log:  # a level at or below zero is infinitely far from a positive one on this scale
        if min(known) <= 0:
            return math.inf
        known = [math.log(v) for v in known]
        expected = float(np.mean(known))
        var_model = float(np.var(known, ddof=1)) if len(known) > 1 else 0.0
        gap = math.log(item.value) - expected
        if (item.direction == "at_least" and gap < 0) or (item.direction == "at_most" and gap > 0):
            gap = 0.0
        return abs(gap) / math.sqrt(item.sd ** 2 + var_model + item.discrepancy_sd ** 2)
    expected = float(np.mean(known))
    var_model = float(np.var(known, ddof=1)) if len(known) > 1 else 0.0
    count = item.scale == "window" if poisson is None else poisson
    if count:
        var_model = max(var_model, abs(expected))
    gap = item.value - expected
    if (item.direction == "at_least" and gap < 0) or (item.direction == "at_most" and gap > 0):
        gap = 0.0
    return abs(gap) / math.sqrt(item.sd ** 2 + var_model + item.discrepancy_sd ** 2)


def evidence(item: Observation, ranged: dict[str, set[str]]) -> str | None:
    """Return why an observation is not used as evidence (its fitted parameters are not ranged), else None."""
    pinned = [path for path in item.fitted if path not in ranged.get(item.arrangement, set())]
    if pinned:
        return (f"not used as evidence: {', '.join(pinned)} {'is' if len(pinned) == 1 else 'are'} fitted to the "
                "same facts and neither ranged nor set")
    return None


def match(observations: Observations, table: dict[str, dict[str, list[list[float | None]]]],
          worlds: int, days: int, parameters: dict[str, list[Any]], start: dt.date | None = None,
          ranged: dict[str, set[str]] | None = None,
          history: dict[str, tuple[Table, dt.date, int]] | None = None) -> tuple[np.ndarray, dict[str, Any]]:
    """Return the mask of worlds not ruled out and the `history_match` section of explore.json.

    Args:
        observations: The observations.
        table: metric -> arrangement -> per-world replication values.
        worlds: How many worlds.
        days: The simulated days.
        parameters: Each parameter's values per world.
        start: The simulated calendar's first day (windows are read at the steady rate when None).
        ranged: Each arrangement's ranged parameter paths (every observation is evidence when None).
        history: Per arrangement, the table, first day and days of its runs on the record's calendar; its
            counted windows are read there.
    """
    worst = np.zeros(worlds)
    per_observation: dict[str, Any] = {}
    first = start if start is not None else dt.date(1, 1, 1)
    for item in observations.items:
        entry: dict[str, Any] = {"fact": item.fact, "arrangement": item.arrangement, "output": item.output,
                                 "value": item.value, "sd": item.sd, "discrepancy_sd": item.discrepancy_sd,
                                 "scale": "log" if item.log else "linear",
                                 "direction": item.direction, "window": [str(item.window.start),
                                                                         str(item.window.end)],
                                 "assume": item.assume, "evaluated": 0, "ruled_out": 0, "undefined": 0, "used": True}
        per_observation[item.id] = entry
        if item.output not in table or item.arrangement not in table[item.output]:
            entry["used"], entry["why"] = False, "its arrangement is not explored"
            continue
        why = evidence(item, ranged) if ranged is not None else None
        if why is None and item.min_days is not None and item.scale == "as_is" and days < item.min_days:
            why = (f"not used as evidence: the runs' {days} days are fewer than the {item.min_days} this level needs "
                   f"(use --days {item.min_days} or more)")
        scores, how = [], "as is"
        source, since, length = table, first, days
        if history and item.scale == "window" and item.arrangement in history:
            source, since, length = history[item.arrangement]
        for w in range(worlds):
            values, how = window_values(item, source, w, since, length)
            scores.append(implausibility(item, values))
        entry["read"] = how
        values_arr = np.asarray([math.nan if s is None else s for s in scores])
        known = ~np.isnan(values_arr)
        entry["evaluated"] = int(known.sum())
        entry["undefined"] = int(np.sum(np.isinf(values_arr)) + np.sum(~known))
        entry["ruled_out"] = int(np.sum(values_arr[known] > observations.cutoff))
        entry["implausibility"] = [None if not k else round(float(min(v, 1e9)), 6) for v, k in zip(values_arr, known,
                                                                                                  strict=True)]
        if why is not None:
            entry["used"], entry["why"] = False, why
            continue
        worst[known] = np.maximum(worst[known], values_arr[known])
    keep = worst <= observations.cutoff
    section: dict[str, Any] = {"cutoff": observations.cutoff, "ruled_out": int(worlds - keep.sum()),
                               "remaining": int(keep.sum()),
                               "observations": per_observation, "ranges_before": _ranges(parameters, None),
                               "ranges_after": _ranges(parameters, keep), "alternatives_after": {},
                               "implausibility_max": [round(float(min(v, 1e9)), 6) for v in worst],
                               "minimum_implausibility": minimum_implausibility(parameters, worst)}
    for key, column in parameters.items():
        if column and isinstance(column[0], str):
            section["alternatives_after"][key] = sorted({v for v, k in zip(column, keep, strict=True) if k})
    return keep, section


def minimum_implausibility(parameters: dict[str, list[Any]], worst: np.ndarray, bins: int = 8) -> dict[str, Any]:
    """Return, per numeric parameter, the smallest implausibility of the worlds in each of `bins` slices of its range.

    A slice whose minimum is above the cut-off holds no world the record allows (an optical depth plot's
    companion, Vernon et al. 2010).
    """
    found: dict[str, Any] = {}
    for key, column in parameters.items():
        if not column or isinstance(column[0], str):
            continue
        values = np.asarray(column, dtype=float)
        low, high = float(values.min()), float(values.max())
        if high <= low:
            continue
        edges = np.linspace(low, high, bins + 1)
        slot = np.clip(np.searchsorted(edges, values, side="right") - 1, 0, bins - 1)
        found[key] = {"edges": [round(float(e), 6) for e in edges],
                      "minimum": [None if not np.any(slot == b) else round(float(min(worst[slot == b].min(), 1e9)), 6)
                                  for b in range(bins)]}
    return found


def _ranges(parameters: dict[str, list[Any]], keep: np.ndarray | None) -> dict[str, list[float]]:
    ranges = {}
    for key, column in parameters.items():
        if not column or isinstance(column[0], str):
            continue
        values = [float(v) for i, v in enumerate(column) if keep is None or keep[i]]
        if values:
            ranges[key] = [min(values), max(values)]
    return ranges
