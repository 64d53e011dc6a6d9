"""The use cases the command line and the Python API share, written once: compare, and the --target-ci check."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from sim.config.checks import check_baseline, check_names
from sim.config.loader import LoadedConfig
from sim.config.schema import DEFAULT_BASELINE
from sim.errors import InputError
from sim.experiment.executors import Executor
from sim.experiment.replications import Progress, run_scenarios
from sim.results.scenario import ScenarioResult


@dataclass(frozen=True)
class ComparePlan:
    """Configs to compare under common random numbers, with the baseline, seed and replications they share."""

    loaded: list[LoadedConfig]
    baseline: str
    seed: int
    replications: int


def plan_compare(loaded: Sequence[LoadedConfig], baseline: str | None, seed: int | None,
                 replications: int | None, source: str = "baseline") -> ComparePlan:
    """Check configs for a comparison and settle its baseline, seed and replications.

    The baseline defaults to `status_quo` when it is among the configs, else the first one; the
    seed and the replications default to the first config's. `source` names the baseline's
    option in an error (`--baseline` on the command line).
    """
    if not loaded:
        raise InputError("compare", None, "there are no configs to compare.", "give at least one config.")
    check_names(loaded)
    names = [item.name for item in loaded]
    chosen = baseline or (DEFAULT_BASELINE if DEFAULT_BASELINE in names else names[0])
    check_baseline(chosen, names, source)
    first = loaded[0].config.scenario
    return ComparePlan(list(loaded), chosen, seed if seed is not None else first.seed,
                       replications if replications is not None else first.replications)


def baseline_first(results: list[ScenarioResult], baseline: str) -> list[ScenarioResult]:
    """Put the baseline's result first, the others in their order."""
    return sorted(results, key=lambda result: result.loaded.name != baseline)


def run_compare(plan: ComparePlan, executor: Executor, progress: Progress | None = None) -> list[ScenarioResult]:
    """Run a comparison's replications under common random numbers; the baseline's result comes first."""
    results = run_scenarios(plan.loaded, plan.seed, plan.replications, progress=progress, executor=executor)
    return baseline_first(results, plan.baseline)


def check_target_ci(target_ci: float | None) -> None:
    """Fail unless --target-ci is absent or a positive finite fraction of the mean."""
    if target_ci is not None and not (math.isfinite(target_ci) and target_ci > 0):
        raise InputError("--target-ci", None, f"the target must be a positive fraction (got {target_ci}).",
                         "give a fraction of the mean, such as 0.05 for 5%.")
