"""Run a sweep into a results store, resumably, and read it back; points that draw alike run in one task."""

from __future__ import annotations

import json
import typing
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from sim.config.schema import MAX_REPLICATIONS, Config
from sim.errors import InputError
from sim.experiment.executors import Executor, Job
from sim.experiment.replications import Engine, Progress, alike_groups, replications_for, run_replication, run_together
from sim.experiment.sensitivity import indices, supported
from sim.experiment.sweep_file import LoadedSweep, Point, SweepFile, check_outputs, design_matrix
from sim.metrics import catalogue
from sim.metrics.stats import estimate
from sim.results.store import Row, Store
from sim.version import __version__


@dataclass(frozen=True)
class SweepOutcome:
    """What a sweep run did: rows planned, found already stored, and run now."""

    total: int
    skipped: int
    ran: int


def run_metrics(config: Config, seed: int, replication: int, engine: Engine = "fast") -> dict[str, float]:
    """Run one replication and return only its summary metrics (light to send between processes)."""
    return run_replication(config, seed, replication, engine).metrics


def run_world_metrics(configs: tuple[Config, ...], seed: int, replication: int,
                      engine: Engine = "fast") -> list[dict[str, float]]:
    """Run one replication of each config (the arrangements of one world) and return their metrics in order.

    The configs share one store of drawn batches, so the requests they draw alike are drawn
    once: every metric is what `run_metrics` gives for each config alone.
    """
    return [result.metrics for result in run_together(configs, seed, replication, engine)]


def metric_names(config: Config) -> list[str]:
    """Return the metric paths the model reports for a config (from the catalogue)."""
    return catalogue.metric_paths(config)


def check_sweep(sweep: LoadedSweep, target: float | None, target_metric: str | None) -> None:
    """Fail before anything runs (or is written) on unknown outputs or an unknown --target-metric."""
    known = metric_names(sweep.points[0].loaded.config)
    check_outputs(sweep.spec, str(sweep.path), known)
    if target is not None and (target_metric or sweep.spec.sweep.outputs[0]) not in known:
        raise InputError("--target-metric", target_metric, "this is not a metric the model reports.",
                         "use a path from `residency run CONFIG --json`, such as residual_access.events.")


#: A task of several points run together: the positions of its points (in a list of points) and the replication.
Task = tuple[tuple[int, ...], int]


def world_tasks(points: Sequence[Point], worlds: Iterable[Sequence[int]], replications: int,
                done: set[tuple[str, int]], wanted: Callable[[Point], int] | None = None) -> list[Task]:
    """Return a task per (world, replication) of the points' runs not yet done, world after world.

    `worlds` gives each world's points (or any points run together) as positions in `points`;
    a point runs `wanted(point)` replications where given, else `replications`. A run in `done`
    (run key, replication) is left out, and a run two points share (the same run key) goes to the first.
    """
    tasks: list[Task] = []
    for mine in worlds:
        for replication in range(replications):
            todo = []
            for position in mine:
                point = points[position]
                if (wanted is None or replication < wanted(point)) and (point.run_key, replication) not in done:
                    done.add((point.run_key, replication))  # a world the design repeats runs once
                    todo.append(position)
            if todo:
                tasks.append((tuple(todo), replication))
    return tasks


def run_world_tasks(executor: Executor, points: Sequence[Point], tasks: Sequence[Task], seed: int, store: Store,
                    progress: Progress | None, where: Callable[[Point], str]) -> int:
    """Run each task's points in one job (`run_world_metrics`), commit each row as it finishes; return how many ran.

    The points of a task share one store of drawn batches, so the requests they draw alike
    (common random numbers) are drawn once; every row is what the point's own run gives.
    `where` names a point in progress lines.
    """
    planned = sum(len(todo) for todo, _ in tasks)
    ran = 0
    for job, results in executor.map(run_world_metrics, WorldJobs(points, tasks, seed)):
        for position, metrics in zip(job.tag, results, strict=True):
            point = points[position]
            store.add_row(point.run_key, job.replication, point.index, point.arrangement, job.seed,
                          __version__, metrics)
            ran += 1
            if progress is not None:
                progress(ran, planned, f"{where(point)} replication {job.replication}")
    return ran


class WorldJobs(Sequence[Job]):
    """Tasks of several points (a world's arrangements, a generation's candidates) as jobs, each made when asked for.

    A job's configs are resolved then: the executors take a few jobs at a time, so only the
    configs of the tasks in flight are held, whatever the number of worlds. A world's
    replications follow each other, so the configs of the last task asked for are kept and
    given to the next one of the same points.
    """

    def __init__(self, points: Sequence[Point], tasks: Sequence[tuple[tuple[int, ...], int]], seed: int) -> None:
        self.points, self.tasks, self.seed = points, tasks, seed
        self.last: tuple[tuple[int, ...], tuple[Any, ...]] = ((), ())

    def __len__(self) -> int:
        return len(self.tasks)

    @typing.overload
    def __getitem__(self, index: int) -> Job: ...

    @typing.overload
    def __getitem__(self, index: slice) -> list[Job]: ...

    def __getitem__(self, index: int | slice) -> Job | list[Job]:
        if isinstance(index, slice):
            return [self[i] for i in range(*index.indices(len(self)))]
        todo, replication = self.tasks[index]
        if self.last[0] != todo:
            self.last = (todo, tuple(self.points[position].loaded.config for position in todo))
        return Job(todo, self.last[1], self.seed, replication)


def run_sweep(
    sweep: LoadedSweep,
    store: Store,
    executor: Executor,
    progress: Progress | None = None,
    target: float | None = None,
    target_metric: str | None = None,
    maximum: int = MAX_REPLICATIONS,
    replace: bool = False,
) -> SweepOutcome:
    """Run every (point, replication) not yet stored, committing each row as it finishes."""
    spec = sweep.spec.sweep
    check_sweep(sweep, target, target_metric)
    store.claim("sweep", sweep.definition(), replace)
    store.add_points([(p.index, p.arrangement, p.factors, p.run_key) for p in sweep.points])
    wanted = {p.index: spec.replications for p in sweep.points}
    skipped = ran = 0
    first_pass = True
    groups = alike_groups([p.loaded.config for p in sweep.points], sum(wanted.values()), executor.slots())
    while True:
        tasks = world_tasks(sweep.points, groups, max(wanted.values(), default=0), store.done(),
                            lambda point: wanted[point.index])
        if first_pass:
            skipped, first_pass = sum(wanted.values()) - sum(len(todo) for todo, _ in tasks), False
        store.set_meta("planned", str(sum(wanted.values())))
        ran += run_world_tasks(executor, sweep.points, tasks, spec.seed, store, progress,
                               lambda point: f"point {point.index + 1}/{len(sweep.points)}")
        if target is None:
            break
        grown = _grow_for_precision(sweep, store, wanted, target, target_metric or spec.outputs[0], maximum)
        if not grown:
            break
    if supported(spec.design) and sweep.matrix is not None:
        store.set_sensitivity(spec.design, indices(sweep.spec, sweep.matrix, list(store.rows()), spec.seed,
                                                   points_by_arrangement(store)))
    return SweepOutcome(sum(wanted.values()), skipped, ran)


def _grow_for_precision(sweep: LoadedSweep, store: Store, wanted: dict[int, int], target: float,
                        metric: str, maximum: int) -> bool:
    """Raise each point's replication count where its interval is still too wide."""
    by_point: dict[int, list[float]] = {}
    for row in store.rows():
        by_point.setdefault(row.point, []).append(row.metrics[metric])
    grown = False
    for point in sweep.points:
        values = by_point.get(point.index, [])
        need = replications_for(values, target, maximum)
        if need > wanted[point.index]:
            wanted[point.index] = need
            grown = True
    return grown


def recompute_sensitivity(store: Store) -> list[tuple[str, str, str, str, str, float, float | None]]:
    """Compute a stored sampled sweep's sensitivity indices again from its rows."""
    definition = json.loads(store.meta("definition") or "{}")
    spec = SweepFile.model_validate(definition["spec"])
    matrix = design_matrix(spec)
    if matrix is None or not supported(spec.sweep.design):
        return []
    store.set_sensitivity(spec.sweep.design, indices(spec, matrix, list(store.rows()), spec.sweep.seed,
                                                     points_by_arrangement(store)))
    return store.sensitivity()


def points_by_arrangement(store: Store) -> dict[str, list[int]]:
    """Return each arrangement's points in order: one design matrix's worth per arrangement."""
    grouped: dict[str, list[int]] = {}
    for point, arrangement, _ in store.points():
        grouped.setdefault(arrangement, []).append(point)
    return grouped


def row_records(store: Store) -> list[dict[str, Any]]:
    """Return every stored row as a flat record: point, factors, replication, metrics."""
    factors = {p: (a, f) for p, a, f in store.points()}
    records = []
    for row in store.rows():
        arrangement, values = factors.get(row.point, (row.arrangement, {}))
        records.append({"point": row.point, "arrangement": arrangement, **values,
                        "replication": row.replication, "seed": row.seed, "version": row.version,
                        **row.metrics})
    return records


def summary_records(store: Store, outputs: list[str] | None = None) -> list[dict[str, Any]]:
    """Return per-point means with 95% intervals of the outputs (all metrics if none named)."""
    grouped: dict[int, list[Row]] = {}
    for row in store.rows():
        grouped.setdefault(row.point, []).append(row)
    factors = {p: (a, f) for p, a, f in store.points()}
    records = []
    for point, rows in sorted(grouped.items()):
        arrangement, values = factors.get(point, (rows[0].arrangement, {}))
        record: dict[str, Any] = {"point": point, "arrangement": arrangement, **values, "replications": len(rows)}
        for name in outputs or sorted(rows[0].metrics):
            value = estimate([r.metrics[name] for r in rows])
            record[f"{name}.mean"] = value.mean
            record[f"{name}.ci95_low"] = value.low
            record[f"{name}.ci95_high"] = value.high
        records.append(record)
    return records


def stored_outputs(store: Store) -> list[str] | None:
    """Return a stored sweep's outputs of interest, if the store holds a sweep."""
    definition = json.loads(store.meta("definition") or "{}")
    outputs = definition.get("spec", {}).get("sweep", {}).get("outputs")
    return list(outputs) if outputs else None
