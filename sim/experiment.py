"""Replications, common random numbers and the local process pool."""

from __future__ import annotations

import multiprocessing
import os
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ProcessPoolExecutor, as_completed
from dataclasses import dataclass

from sim.config.loader import LoadedConfig
from sim.config.schema import Config
from sim.metrics import Recorder, ReplicationResult
from sim.model.world import World
from sim.rng import Streams

Progress = Callable[[int, int, str], None]


@dataclass(frozen=True)
class ScenarioResult:
    """All replications of one loaded config under one seed."""

    loaded: LoadedConfig
    seed: int
    replications: list[ReplicationResult]


def run_replication(config: Config, seed: int, replication: int) -> ReplicationResult:
    """Run one replication of a config and return its metrics."""
    recorder = Recorder(config)
    world = World(config, Streams(seed, replication), recorder)
    pending = world.run()
    gate = world.gate
    return recorder.finish(pending, gate.queue_area, gate.busy_hours, gate.available_hours)


def default_workers() -> int:
    """Return the number of worker processes to use by default: the usable cores."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def run_scenarios(
    loaded: Sequence[LoadedConfig],
    seed: int,
    replications: int,
    workers: int = 1,
    progress: Progress | None = None,
) -> list[ScenarioResult]:
    """Run every config for the same replications under one seed (common random numbers).

    Replication r of every config draws from the streams of (seed, r), so where two configs
    share a part, that part sees the same draws in both.
    """
    tasks = [(i, r) for i in range(len(loaded)) for r in range(replications)]
    results: list[list[ReplicationResult | None]] = [[None] * replications for _ in loaded]
    done = 0

    def finished(i: int, r: int, result: ReplicationResult) -> None:
        nonlocal done
        results[i][r] = result
        done += 1
        if progress is not None:
            progress(done, len(tasks), f"{loaded[i].name} replication {r + 1}")

    if workers <= 1 or len(tasks) == 1:
        for i, r in tasks:
            finished(i, r, run_replication(loaded[i].config, seed, r))
    else:
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=min(workers, len(tasks)), mp_context=context) as pool:
            futures: dict[Future[ReplicationResult], tuple[int, int]] = {
                pool.submit(run_replication, loaded[i].config, seed, r): (i, r) for i, r in tasks
            }
            for future in as_completed(futures):
                i, r = futures[future]
                finished(i, r, future.result())
    return [
        ScenarioResult(item, seed, [res for res in results[i] if res is not None])
        for i, item in enumerate(loaded)
    ]
