"""Set a design up from what the user named: the config, the lever file, the references and the question."""

from __future__ import annotations

import math
import shlex
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from sim.config.levers import load_levers
from sim.config.loader import LoadedConfig, load_config
from sim.config.resources import CONFIGS, shipped_config, shipped_path
from sim.errors import InputError
from sim.experiment.design import DesignPlan, parse_objectives, parse_target, plan_design, search
from sim.experiment.design_summary import document
from sim.experiment.executors import Executor
from sim.experiment.replications import Progress
from sim.experiment.sweep import metric_names
from sim.results.store import Store

DESIGNS = CONFIGS / "design"


def config_file(name_or_path: str | Path) -> Path:
    """Return a config argument's file: the path itself, else the shipped config of that name."""
    path = Path(name_or_path)
    return path if path.is_file() else shipped_config(str(name_or_path)) or path


def levers_file(name_or_path: str | Path) -> Path:
    """Return a lever file: the path itself, else the shipped lever file of that name (configs/design/)."""
    path = Path(name_or_path)
    if path.is_file() or "/" in str(name_or_path) or str(name_or_path).endswith(".toml"):
        return path
    shipped = shipped_path(DESIGNS) / f"{name_or_path}.toml"
    return shipped if shipped.is_file() else path


def _reference(levers_path: Path, index: int, name: str, overrides: Sequence[tuple[str, str, str]]) -> LoadedConfig:
    candidate = levers_path.parent / name
    path = candidate if candidate.is_file() else shipped_config(name)
    if path is None:
        raise InputError(str(levers_path), f"design.references.{index}", f"no arrangement {name!r} was found.",
                         "name a shipped arrangement (joint_venture, microsoft, ...) or a file beside the lever file.")
    return load_config(path, overrides)


def prepare(config: str | Path, levers: str | Path, overrides: Sequence[tuple[str, str, str]], worlds: int,
            replications: int, seed: int | None, objectives: Sequence[str], target: str | None,
            confidence: float, quantile: float) -> DesignPlan:
    """Load the config and the lever file, check the question and sample the worlds."""
    base = load_config(config_file(config), overrides)
    lever_path = levers_file(levers)
    loaded_levers = load_levers(lever_path, base)
    references = [_reference(lever_path, i, name, overrides)
                  for i, name in enumerate(loaded_levers.spec.design.references)]
    known = metric_names(base.config)
    chosen = parse_objectives(objectives, known)
    names = [item.name for item in references if item.name != base.name]
    question = parse_target(target, confidence, known, names) if target is not None else None
    run_seed = seed if seed is not None else base.config.scenario.seed
    return plan_design(base, loaded_levers, references, worlds, replications, run_seed, chosen, quantile, question)


def point_prefix(config: str | Path, levers: str | Path, plan: DesignPlan, objectives: Sequence[str],
                 target: str | None, sets: Sequence[str], out: Path) -> str:
    """Return the command that re-runs one point on the same worlds (its --terms are added after)."""
    parts = ["residency", "design", str(config), "--levers", str(levers), "--worlds", str(plan.worlds),
             "-r", str(plan.exploration.replications), "--days", str(plan.base.config.scenario.days),
             "--seed", str(plan.seed)]
    for objective in objectives:
        parts += ["--objective", objective]
    if plan.quantile != 0.9:
        parts += ["--quantile", repr(plan.quantile)]
    if target is not None and plan.target is not None:
        parts += ["--target", target, "--confidence", repr(plan.target.confidence)]
    for item in sets:
        parts += ["--set", item]
    parts += ["-o", str(out / "point")]
    return shlex.join(parts)


def run_design(config: str | Path, levers: str | Path, overrides: Sequence[tuple[str, str, str]], *, worlds: int,
               replications: int, seed: int | None, trials: int, population: int | None, objectives: Sequence[str],
               target: str | None, confidence: float, quantile: float, out: Path | None,
               executor_of: Callable[[], Executor], progress: Progress | None = None) -> tuple[Path, dict[str, Any]]:
    """Run (or resume) a design into its folder and return the folder and design.json's content."""
    plan = prepare(config, levers, overrides, worlds, replications, seed, objectives, target, confidence, quantile)
    folder = out or Path("reports") / "design" / plan.levers.spec.design.name
    size = population or default_population(trials)
    executor = executor_of()
    store = Store(folder)
    try:
        found = search(plan, store, executor, trials, size, progress)
    finally:
        executor.close()
        store.close()
    sets = [f"{key}={value}" for key, value, flag in overrides if flag == "--set"]
    prefix = point_prefix(config, levers, plan, objectives, target, sets, folder)
    doc = document(plan, found, prefix, plan.base.config.scenario.days, trials, size)
    return folder, doc


def default_population(trials: int) -> int:
    """Return the candidates per generation: a third of the budget, 4 to 24."""
    return max(4, min(24, math.ceil(trials / 3)))
