"""Design the terms: a multi-objective search over levers, every candidate on the same plausible worlds.

The worlds are explore's: every ranged parameter of the config and of the reference arrangements
is sampled once (a lever's own range is pinned, not sampled), and every candidate set of terms
runs in each world under the same seeds (common random numbers), so candidates compare paired.
Each objective is a robust statistic across worlds (by default the 90th percentile of the
per-world mean); yearly cost comes from the lever file. Optuna's NSGA-II sampler proposes the
candidates a generation at a time; the rows go to the results database as they finish, and
since the sampler is seeded and fed the stored rows, the same command resumes where it stopped.
"""

from __future__ import annotations

import functools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from sim.config.levers import Lever, LoadedLevers
from sim.config.loader import LoadedConfig, did_you_mean, with_overrides, with_values
from sim.errors import InputError
from sim.experiment.executors import Executor
from sim.experiment.explore import Exploration, plan
from sim.experiment.replications import Progress
from sim.experiment.sweep import WorldJobs, run_world_metrics, run_world_tasks, world_tasks
from sim.experiment.sweep_file import Point, run_key
from sim.results.store import Store

KIND = "design"
#: The cost objective's name: yearly dollars with one-off costs spread over the lever file's years.
COST = "cost.yearly_usd"
DEFAULT_OBJECTIVES = ("residual_access.events", "friction.decision_hours")
BOOTSTRAP = 400  # resamples of the worlds behind each objective's 95% interval
Sense = str  # "min" or "max"


@dataclass(frozen=True)
class Target:
    """A question: which terms keep METRIC on the right side of a bound in a share of worlds.

    The bound is a number, or a reference arrangement's value in the same world (paired).
    """

    metric: str
    op: str
    value: float
    confidence: float
    against: str = ""

    def holds(self, value: float, bound: float) -> bool:
        """Return whether a world's value meets the target's bound in that world."""
        return value <= bound if self.op == "<=" else value >= bound

    def text(self) -> str:
        """Return the target as typed."""
        return f"{self.metric}{self.op}{self.against or format(self.value, 'g')}"


def parse_target(text: str, confidence: float, known: Sequence[str], names: Sequence[str] = ()) -> Target:
    """Read `METRIC<=VALUE`, `METRIC>=VALUE` or `METRIC<=ARRANGEMENT` (a reference, world by world)."""
    match = re.fullmatch(r"\s*([\w.{}]+)\s*(<=|>=)\s*([-+\w.]+)\s*", text)
    if match is None:
        raise InputError("--target", text, "a target reads METRIC<=VALUE, METRIC>=VALUE or METRIC<=ARRANGEMENT.",
                         'write --target "residual_access.events<=5000" or "residual_access.events<=joint_venture".')
    metric, op, bound = match.groups()
    _check_metric("--target", metric, known)
    if not 0.0 < confidence <= 1.0:
        raise InputError("--confidence", str(confidence), "the confidence is a share of worlds, above 0 and at most 1.",
                         "use for example --confidence 0.9.")
    try:
        return Target(metric, op, float(bound), confidence)
    except ValueError:
        pass
    if bound not in names:
        raise InputError("--target", text, f"{bound!r} is neither a number nor a reference arrangement.",
                         f"give a number or one of the lever file's references: {', '.join(names) or 'none'}.")
    return Target(metric, op, math.nan, confidence, bound)


def parse_objectives(names: Sequence[str], known: Sequence[str]) -> dict[str, Sense]:
    """Read `METRIC` or `METRIC:max` objectives (lower is better unless `:max`)."""
    chosen: dict[str, Sense] = {}
    for name in names or DEFAULT_OBJECTIVES:
        metric, _, sense = name.partition(":")
        sense = sense or "min"
        if sense not in ("min", "max"):
            raise InputError("--objective", name, f"unknown sense {sense!r}.",
                             "write METRIC (lower is better) or METRIC:max (higher is better).")
        _check_metric("--objective", metric, known)
        chosen[metric] = sense
    return chosen


def _check_metric(flag: str, metric: str, known: Sequence[str]) -> None:
    if metric not in known:
        hint = did_you_mean(metric, dict.fromkeys(known))
        raise InputError(flag, metric, "this is not a metric the model reports.",
                         (hint + " " if hint else "") + "Use a path of the metric catalogue, such as "
                         "residual_access.events or friction.decision_hours.")


@dataclass(frozen=True)
class DesignPlan:
    """The levers, the sampled worlds (base config first, then the references) and the objectives."""

    levers: LoadedLevers
    exploration: Exploration
    objectives: dict[str, Sense]
    quantile: float
    target: Target | None

    @property
    def worlds(self) -> int:
        """Return the number of worlds."""
        return self.exploration.worlds

    @property
    def seed(self) -> int:
        """Return the seed every candidate runs under."""
        return self.exploration.seed

    @property
    def base(self) -> LoadedConfig:
        """Return the config the levers set, with their ranges pinned."""
        return self.exploration.arrangements[0]

    def world_config(self, world: int) -> LoadedConfig:
        """Return the base config as resolved in one world."""
        return self._world_configs[world]

    @functools.cached_property
    def _world_configs(self) -> list[LoadedConfig]:
        """The base config in each world, resolved once: every candidate sets its terms on them."""
        per_world = len(self.exploration.arrangements)
        return [self.exploration.points[world * per_world].loaded for world in range(self.worlds)]

    def metrics(self) -> list[str]:
        """Return every metric a candidate is summarised by: the objectives, then the target's."""
        extra = [self.target.metric] if self.target and self.target.metric not in self.objectives else []
        return [*self.objectives, *extra]

    def candidate_points(self, number: int, terms: dict[str, Any]) -> list[Point]:
        """Resolve a candidate's terms in every world (indices after the exploration's points)."""
        values = self.levers.values(terms, "design terms")
        offset = len(self.exploration.points) + number * self.worlds
        points = []
        for world in range(self.worlds):
            loaded = with_values(self.world_config(world), values)
            points.append(Point(offset + world, self.base.name, dict(terms), loaded, run_key(loaded, self.seed)))
        return points

    def definition(self) -> dict[str, Any]:
        """Return what the results folder holds (the worlds and the levers; not the budget)."""
        return {"worlds": self.exploration.definition(),
                "levers": self.levers.spec.model_dump(mode="json")}


def plan_design(base: LoadedConfig, levers: LoadedLevers, references: Sequence[LoadedConfig], worlds: int,
                replications: int, seed: int, objectives: dict[str, Sense], quantile: float = 0.9,
                target: Target | None = None) -> DesignPlan:
    """Pin the levers' ranges in the base config and sample the worlds over it and the references."""
    if not 0.0 < quantile < 1.0:
        raise InputError("--quantile", str(quantile), "the quantile across worlds lies strictly between 0 and 1.",
                         "use for example --quantile 0.9 (the 90th percentile of the per-world means).")
    pins = levers.settings({path: levers.shipped[path] for path in levers.ranges}, "design lever (pins its range)")
    pinned = with_overrides(base, pins)
    others = [item for item in references if item.name != base.name]
    exploration = plan([pinned, *others], worlds, replications, seed)
    return DesignPlan(levers, exploration, objectives, quantile, target)


def terms_of(levers: LoadedLevers, params: dict[str, Any]) -> dict[str, Any]:
    """Return a candidate's terms in file order, whole numbers where the parameter is one."""
    return {lever.path: (round(params[lever.path]) if lever.path in levers.integer else params[lever.path])
            for lever in levers.levers}


def check_terms(levers: LoadedLevers, given: dict[str, str]) -> dict[str, Any]:
    """Read `--terms PATH=VALUE` pairs: every lever once, each within its bounds."""
    by_path = {lever.path: lever for lever in levers.levers}
    terms: dict[str, Any] = {}
    for path, text in given.items():
        lever = by_path.get(path)
        if lever is None:
            raise InputError("--terms", path, f"this is not a lever of {levers.path}.",
                             f"use one of {', '.join(by_path)}.")
        terms[path] = _lever_value(lever, path in levers.integer, text)
    missing = [path for path in by_path if path not in terms]
    if missing:
        raise InputError("--terms", missing[0], "every lever needs a value.", "give --terms PATH=VALUE for each lever.")
    return terms_of(levers, terms)


def _lever_value(lever: Lever, integer: bool, text: str) -> Any:
    value: Any = text
    if lever.numeric:
        try:
            value = int(text) if integer else float(text)
        except ValueError:
            raise InputError("--terms", lever.path, f"{text!r} is not a number.", "give a number.") from None
    if not lever.contains(value):
        bounds = lever.choices if lever.choices is not None else f"[{lever.low:g}, {lever.high:g}]"
        raise InputError("--terms", lever.path, f"{text} is outside the lever's bounds {bounds}.",
                         "give a value within the lever file's bounds.")
    return value


@dataclass(frozen=True)
class Candidate:
    """One evaluated set of terms: its cost, per-world means and objectives with intervals."""

    number: int
    terms: dict[str, Any]
    cost: dict[str, float]
    per_world: dict[str, list[float]]
    objectives: dict[str, dict[str, float]]
    target_share: float | None

    def values(self, plan: DesignPlan) -> list[float]:
        """Return the objectives in the search's order, cost last."""
        return [self.objectives[name]["value"] for name in [*plan.objectives, COST]]


Summary = tuple[dict[str, list[float]], dict[str, dict[str, float]], float | None]


def summarise(plan: DesignPlan, rows: dict[str, dict[int, dict[str, float]]], keys: Sequence[str],
              cost: dict[str, float] | None, bounds: Sequence[float] | None) -> Summary:
    """Return per-world means, objectives (value and 95% bootstrap interval) and the target's share."""
    per_world: dict[str, list[float]] = {}
    for metric in plan.metrics():
        per_world[metric] = [float(np.mean([values[metric] for values in rows[key].values()])) for key in keys]
    objectives = {metric: _robust(per_world[metric], plan.quantile if sense == "min" else 1 - plan.quantile,
                                  plan.seed) for metric, sense in plan.objectives.items()}
    if cost is not None:
        total = cost["total_yearly"]
        objectives[COST] = {"value": total, "low": total, "high": total}
    return per_world, objectives, target_share(plan, per_world, bounds)


def target_share(plan: DesignPlan, per_world: dict[str, list[float]], bounds: Sequence[float] | None) -> float | None:
    """Return the share of worlds in which the target holds (None without a target)."""
    if plan.target is None or bounds is None:
        return None
    values = per_world[plan.target.metric]
    return float(np.mean([plan.target.holds(v, b) for v, b in zip(values, bounds, strict=True)]))


def target_bounds(plan: DesignPlan, reference: dict[str, dict[str, Any]]) -> list[float] | None:
    """Return the target's bound in each world: its number, or the reference arrangement's value there."""
    target = plan.target
    if target is None:
        return None
    if target.against:
        return list(reference[target.against]["per_world"][target.metric])
    return [target.value] * plan.worlds


def _robust(values: list[float], quantile: float, seed: int) -> dict[str, float]:
    data = np.asarray(values, dtype=float)
    rng = np.random.default_rng(seed)
    draws = np.quantile(data[rng.integers(0, len(data), size=(BOOTSTRAP, len(data)))], quantile, axis=1)
    return {"value": float(np.quantile(data, quantile)), "low": float(np.quantile(draws, 0.025)),
            "high": float(np.quantile(draws, 0.975))}


def stored_rows(store: Store) -> dict[str, dict[int, dict[str, float]]]:
    """Return run key -> replication -> metrics for every stored row (resumed or new)."""
    keys = {point: key for point, key in store.db.execute("SELECT point, run_key FROM points")}
    rows: dict[str, dict[int, dict[str, float]]] = {}
    for row in store.rows():
        rows.setdefault(keys[row.point], {})[row.replication] = row.metrics
    return rows


@dataclass(frozen=True)
class Search:
    """What a search found: every candidate and the reference arrangements on the same worlds."""

    candidates: list[Candidate]
    reference: dict[str, dict[str, Any]]  # arrangement -> {"objectives", "per_world", "target_share", "cost"?}


def search(plan: DesignPlan, store: Store, executor: Executor, trials: int, population: int,
           progress: Progress | None = None, replace: bool = False) -> Search:
    """Run NSGA-II for `trials` candidates a generation at a time, resuming from the stored rows."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    if trials < 1 or population < 2:
        raise InputError("--trials", str(trials), "the search needs at least one trial and a population of two.",
                         "use --trials 1 or more and --population 2 or more.")
    store.claim(KIND, plan.definition(), replace)
    store.add_points([(p.index, p.arrangement, p.factors, p.run_key) for p in plan.exploration.points])
    reference = _run_reference(plan, store, executor, progress)
    bounds = target_bounds(plan, reference)
    directions = ["minimize" if sense == "min" else "maximize" for sense in plan.objectives.values()] + ["minimize"]
    study = optuna.create_study(directions=directions,
                                sampler=optuna.samplers.NSGAIISampler(population_size=population, seed=plan.seed))
    distributions = {lever.path: _distribution(lever, lever.path in plan.levers.integer)
                     for lever in plan.levers.levers}
    shipped = plan.levers.shipped
    if all(lever.contains(shipped[lever.path]) for lever in plan.levers.levers):
        study.enqueue_trial(dict(shipped))  # the shipped terms are the first candidate
    candidates: list[Candidate] = []
    while len(candidates) < trials:
        batch = [study.ask(distributions) for _ in range(min(population, trials - len(candidates)))]
        numbered = [(len(candidates) + i, terms_of(plan.levers, trial.params)) for i, trial in enumerate(batch)]
        points = [p for number, terms in numbered for p in plan.candidate_points(number, terms)]
        store.add_points([(p.index, p.arrangement, p.factors, p.run_key) for p in points])
        # One task per (world, replication) runs the generation's candidates there: what they draw alike
        # (their requests) is drawn once, and every row is what the candidate's own run gives.
        worlds = [range(world, len(points), plan.worlds) for world in range(plan.worlds)]
        tasks = world_tasks(points, worlds, plan.exploration.replications, store.done())
        run_world_tasks(executor, points, tasks, plan.seed, store, progress,
                        _namer(plan, trials, len(candidates) // population + 1))
        rows = stored_rows(store)
        for (number, terms), trial in zip(numbered, batch, strict=True):
            keys = [p.run_key for p in points[(number - numbered[0][0]) * plan.worlds:][:plan.worlds]]
            cost = plan.levers.cost(terms)
            per_world, objectives, share = summarise(plan, rows, keys, cost, bounds)
            candidate = Candidate(number, terms, cost, per_world, objectives, share)
            study.tell(trial, candidate.values(plan))
            candidates.append(candidate)
    return Search(candidates, reference)


def _namer(plan: DesignPlan, trials: int, generation: int) -> Callable[[Point], str]:
    offset = len(plan.exploration.points)
    return lambda p: f"generation {generation} candidate {(p.index - offset) // plan.worlds + 1}/{trials}"


def evaluate_terms(plan: DesignPlan, terms: dict[str, Any], executor: Executor,
                   progress: Progress | None = None) -> Candidate:
    """Run one set of terms on the plan's worlds from scratch (no store) and summarise it.

    A target set against a reference arrangement runs that arrangement's worlds too.
    """
    points = plan.candidate_points(0, terms)
    against = plan.target.against if plan.target is not None else ""
    names = plan.exploration.names
    if against:
        index = names.index(against)
        points += [plan.exploration.points[w * len(names) + index] for w in range(plan.worlds)]
    # A task per (world, replication): the terms' run and the reference's there draw their requests once.
    worlds = [range(world, len(points), plan.worlds) for world in range(plan.worlds)]
    tasks = world_tasks(points, worlds, plan.exploration.replications, set())
    planned = sum(len(todo) for todo, _ in tasks)
    rows: dict[str, dict[int, dict[str, float]]] = {}
    count = 0
    for job, results in executor.map(run_world_metrics, WorldJobs(points, tasks, plan.seed)):
        for position, metrics in zip(job.tag, results, strict=True):
            rows.setdefault(points[position].run_key, {})[job.replication] = metrics
            count += 1
            if progress is not None:
                progress(count, planned, f"{points[position].arrangement} replication {job.replication}")
    reference = {}
    if against:
        reference[against] = {"per_world": summarise(plan, rows, [p.run_key for p in points[plan.worlds:]],
                                                     None, None)[0]}
    cost = plan.levers.cost(terms)
    keys = [p.run_key for p in points[:plan.worlds]]
    per_world, objectives, share = summarise(plan, rows, keys, cost, target_bounds(plan, reference))
    return Candidate(0, terms, cost, per_world, objectives, share)


def _run_reference(plan: DesignPlan, store: Store, executor: Executor,
                   progress: Progress | None) -> dict[str, dict[str, Any]]:
    points = plan.exploration.points
    names = plan.exploration.names
    worlds = [range(world * len(names), (world + 1) * len(names)) for world in range(plan.worlds)]
    tasks = world_tasks(points, worlds, plan.exploration.replications, store.done())
    run_world_tasks(executor, points, tasks, plan.seed, store, progress,
                    lambda p: f"reference world {p.index // len(names) + 1}/{plan.worlds} {p.arrangement}")
    rows = stored_rows(store)
    reference: dict[str, dict[str, Any]] = {}
    for index, name in enumerate(names):
        keys = [points[w * len(names) + index].run_key for w in range(plan.worlds)]
        cost = plan.levers.cost(dict(plan.levers.shipped)) if index == 0 and _costable(plan.levers) else None
        per_world, objectives, _ = summarise(plan, rows, keys, cost, None)
        arrangement = plan.exploration.arrangements[index].config.scenario
        reference[name] = {"objectives": objectives, "per_world": per_world, "cost": cost,
                           "display": arrangement.display or name, "colour": arrangement.colour}
    bounds = target_bounds(plan, reference)
    for entry in reference.values():
        entry["target_share"] = target_share(plan, entry["per_world"], bounds)
    return reference


def _costable(levers: LoadedLevers) -> bool:
    return all(lever.contains(levers.shipped[lever.path]) for lever in levers.levers)


def _distribution(lever: Lever, integer: bool) -> Any:
    from optuna.distributions import CategoricalDistribution, FloatDistribution, IntDistribution

    if lever.choices is not None:
        return CategoricalDistribution(list(lever.choices))
    low, high, log = float(lever.low or 0.0), float(lever.high or 0.0), lever.scale == "log"
    if integer:
        return IntDistribution(math.ceil(low), math.floor(high), log=log)
    return FloatDistribution(low, high, log=log)


def front(plan: DesignPlan, candidates: Sequence[Candidate]) -> list[Candidate]:
    """Return the candidates no other dominates (one per distinct terms), cheapest first."""
    signs = [1.0 if sense == "min" else -1.0 for sense in plan.objectives.values()] + [1.0]
    unique: dict[str, Candidate] = {}
    for candidate in candidates:
        unique.setdefault(json.dumps(candidate.terms, sort_keys=True), candidate)
    scored = [(c, [s * v for s, v in zip(signs, c.values(plan), strict=True)]) for c in unique.values()]
    kept = [c for c, mine in scored
            if not any(all(o <= m for o, m in zip(other, mine, strict=True)) and other != mine
                       for _, other in scored)]
    return sorted(kept, key=lambda c: (c.objectives[COST]["value"], c.values(plan), c.number))


def cheapest_meeting(plan: DesignPlan, candidates: Sequence[Candidate]) -> Candidate | None:
    """Return the cheapest candidate meeting the target in at least the confidence's share of worlds."""
    target = plan.target
    if target is None:
        return None
    meeting = [c for c in candidates if c.target_share is not None and c.target_share >= target.confidence]
    if not meeting:
        return None
    return min(meeting, key=lambda c: (c.objectives[COST]["value"], c.values(plan), c.number))

