"""The Python API of `residency design`: search a lever file's terms and get the front as DataFrames."""

from __future__ import annotations

import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from sim.config.loader import toml_literal
from sim.experiment.executors import make_executor
from sim.model.batched.fast import Engine

__all__ = ["DesignResult", "run_api_design"]


def run_api_design(
    config: str | Path, levers: str | Path, *, worlds: int = 20, replications: int = 2, days: int | None = None,
    seed: int | None = None, trials: int = 60, population: int | None = None,
    objectives: Iterable[str] = (), target: str | None = None, confidence: float = 0.9, quantile: float = 0.9,
    out: str | Path | None = None, overrides: Mapping[str, Any] | None = None, workers: int = 1,
    scheduler: str | None = None, engine: Engine = "fast",
) -> DesignResult:
    """Search a lever file's terms across plausible worlds (as `residency design`) and return the front.

    The same arguments give the same design.json as the command; it is written into `out`
    (default reports/design/NAME), whose results database makes a second call resume.
    """
    from sim.experiment.design_setup import run_design
    from sim.results.runs import to_json, write_manifest

    settings = [(key, toml_literal(value), "--set") for key, value in (overrides or {}).items()]
    settings += [(key, str(value), flag) for flag, key, value in (("--seed", "scenario.seed", seed),
                                                                   ("--days", "scenario.days", days))
                 if value is not None]
    folder, document = run_design(
        config, levers, settings, worlds=worlds, replications=replications, seed=seed, trials=trials,
        population=population, objectives=list(objectives), target=target, confidence=confidence, quantile=quantile,
        out=Path(out) if out is not None else None,
        executor_of=lambda: make_executor(workers, scheduler, engine))
    # The command line that gives the same design.json: the points' prefix without their folder, with the budget.
    prefix = document["front"][0]["command"].rsplit(" -o ", 1)[0]
    command = f"{prefix} --trials {trials} --population {document['population']} -o {shlex.quote(str(folder))}"
    document["command"] = command
    write_manifest(folder, "design", command, [document["config"]], None, document["seed"], replications,
                   {"engine": engine})
    (folder / "design.json").write_text(to_json(document), encoding="utf-8")
    return DesignResult(document)


@dataclass(frozen=True)
class DesignResult:
    """A design: `levers`, `front`, `reference` and `candidates` as DataFrames, `target` as a dict.

    Objective columns hold the robust statistic across worlds (`document["statistic"]`), each
    with its 95% bootstrap interval over worlds in `<objective>.ci95_low` and `.ci95_high`.
    """

    document: dict[str, Any]

    @property
    def levers(self) -> pd.DataFrame:
        """Return one row per lever: path, bounds or choices, shipped value and cost."""
        return pd.json_normalize(self.document["levers"])

    @property
    def front(self) -> pd.DataFrame:
        """Return one row per point of the front: its number, terms, objectives with intervals, command."""
        return pd.DataFrame.from_records([_point_row(p) for p in self.document["front"]])

    @property
    def reference(self) -> pd.DataFrame:
        """Return one row per reference arrangement (the shipped terms first) on the same worlds."""
        rows = [{"arrangement": name, "display": entry["display"], **_objective_columns(entry["objectives"]),
                 "target_share": entry["target_share"]}
                for name, entry in self.document["reference"]["arrangements"].items()]
        return pd.DataFrame.from_records(rows)

    @property
    def candidates(self) -> pd.DataFrame:
        """Return every evaluated candidate: number, terms, objectives and the target's share of worlds."""
        return pd.DataFrame.from_records([{"number": c["number"], **c["terms"], **c["objectives"],
                                           "target_share": c["target_share"]} for c in self.document["candidates"]])

    @property
    def target(self) -> dict[str, Any] | None:
        """Return the target's answer: met, the cheapest point meeting it and its share of worlds."""
        target = self.document["target"]
        return None if target is None else dict(target)


def _objective_columns(objectives: Mapping[str, Mapping[str, float]]) -> dict[str, float]:
    columns: dict[str, float] = {}
    for name, entry in objectives.items():
        columns |= {name: entry["value"], f"{name}.ci95_low": entry["low"], f"{name}.ci95_high": entry["high"]}
    return columns


def _point_row(point: Mapping[str, Any]) -> dict[str, Any]:
    return {"number": point["number"], **point["terms"], **_objective_columns(point["objectives"]),
            "target_share": point["target_share"], "command": point["command"]}

