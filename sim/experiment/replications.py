"""Replications under common random numbers, and running until an interval is narrow enough."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

from sim.config.loader import LoadedConfig
from sim.config.schema import Config
from sim.experiment.executors import Executor, Job, LocalExecutor, default_workers
from sim.metrics.recorder import Recorder, ReplicationResult
from sim.metrics.stats import estimate, t_quantile
from sim.model.batched.fast import Engine, FastWorld
from sim.model.batched.fastshare import SharedDraws
from sim.model.event.world import World
from sim.model.rng import Streams
from sim.results.scenario import ScenarioResult

Progress = Callable[[int, int, str], None]

__all__ = ["Engine", "Progress", "ScenarioResult", "default_workers", "engine_for", "engine_used",
           "run_replication", "run_scenarios", "run_to_precision", "run_together"]


def engine_for(config: Config, requested: Engine) -> tuple[Engine, str | None]:
    """Return the engine that runs a config, and why it is not the one requested (None if it is).

    Both engines settle requests with the same rules (`sim.model.rulebook.rules`), so every config runs
    on the engine requested and the reason is always None (kept for the manifest's contract).
    """
    return requested, None


def engine_used(configs: Sequence[Config], requested: Engine) -> dict[str, str]:
    """Return the manifest's record of the engine that ran a set of configs (`engine`, and `engine_reason`)."""
    return {"engine": requested}  # every config runs on the engine requested (`engine_for`)


def run_replication(config: Config, seed: int, replication: int, engine: Engine = "fast",
                    shared: dict[Any, Any] | None = None) -> ReplicationResult:
    """Run one replication of a config with an engine and return its metrics.

    Both engines give the same results to the bit; the fast one (the default) settles
    requests in batches, the event one request by request. `shared` (fast engine) keeps the
    batches' draws for other configs run with it in the same replication, which draw the same
    requests once instead of again (`sim.model.batched.fastshare`); the results do not change.
    """
    recorder = Recorder(config)
    streams = Streams(seed, replication)
    engine, _ = engine_for(config, engine)
    world = (FastWorld(config, streams, recorder, shared=shared) if engine == "fast"
             else World(config, streams, recorder))
    pending = world.run()
    return recorder.finish(pending)


def run_together(configs: Sequence[Config], seed: int, replication: int,
                 engine: Engine = "fast") -> list[ReplicationResult]:
    """Run one replication of each config, in turn, and return their results in order.

    The configs share one store of drawn batches, so the requests they draw alike are drawn
    once (for the draw keys used last: `SharedDraws`); every result is what `run_replication`
    gives each config alone. One config alone has nothing to share and draws only what it reads.
    """
    shared = SharedDraws() if len(configs) > 1 else None
    return [run_replication(config, seed, replication, engine, shared) for config in configs]


def _draws(config: Config) -> tuple[Any, ...]:
    """Return what a config's request draws depend on, but for the seed (`alike_groups`)."""
    return config.actors, list(config.data), config.scenario.days, config.scenario.start_date


#: Runs a task takes together at most, where they draw their requests alike (`alike_groups`): drawn once,
#: a shipped grid of eight takes about a fifth less CPU.
TASK_RUNS = 8
#: Tasks kept per slot of the executor (worker process or thread) at least: runs are grouped fewer to a task
#: where they would not be, so a small experiment on many cores keeps every core busy.
TASKS_PER_SLOT = 4


def alike_groups(configs: Sequence[Config], runs: int, slots: int) -> list[list[int]]:
    """Return the configs' positions in groups of consecutive configs that draw their requests alike.

    Configs alike in their actor groups, data classes and calendar (rates, working hours,
    start and horizon) draw the same batches in a replication (`fastshare.draw_key` says exactly
    which; configs grouped that draw otherwise only share less); a config unlike the one before
    starts a group. A group holds at most `TASK_RUNS`, and fewer where `runs` (the experiment's runs)
    would otherwise make fewer than `TASKS_PER_SLOT` tasks for each of `slots`.
    """
    size = max(1, min(TASK_RUNS, runs // (TASKS_PER_SLOT * max(1, slots))))
    groups: list[list[int]] = []
    first: Config | None = None
    for position, config in enumerate(configs):
        if first is None or len(groups[-1]) >= size or _draws(config) != _draws(first):
            groups.append([])
            first = config
        groups[-1].append(position)
    return groups


def run_scenarios(
    loaded: Sequence[LoadedConfig],
    seed: int,
    replications: int,
    workers: int = 1,
    progress: Progress | None = None,
    executor: Executor | None = None,
    first: int = 0,
) -> list[ScenarioResult]:
    """Run every config for the same replications under one seed (common random numbers).

    Replication r of every config draws from the streams of (seed, r), so where two configs
    share a part, that part sees the same draws in both. `first` numbers the replications
    from an offset, to extend an earlier run.
    """
    executor = executor or LocalExecutor(workers)
    configs = [item.config for item in loaded]
    groups = alike_groups(configs, len(configs) * replications, executor.slots())
    # a task per replication and group of configs alike: they draw their requests once (`run_together`)
    jobs = [Job(tuple(group), tuple(configs[i] for i in group), seed, first + r)
            for r in range(replications) for group in groups]
    results: list[list[ReplicationResult | None]] = [[None] * replications for _ in loaded]
    done = 0
    for job, together in executor.map(run_together, jobs):
        for i, result in zip(job.tag, together, strict=True):
            results[i][job.replication - first] = result
            done += 1
            if progress is not None:
                progress(done, len(configs) * replications, f"{loaded[i].name} replication {job.replication}")
    return [ScenarioResult(item, seed, [res for res in results[i] if res is not None])
            for i, item in enumerate(loaded)]


def relative_half_width(values: Sequence[float]) -> float:
    """Return the 95% interval's half-width over |mean| (infinite where undefined)."""
    value = estimate(values)
    if value.mean is None or value.high is None or value.mean == 0:
        return math.inf
    return (value.high - value.mean) / abs(value.mean)


def replications_for(values: Sequence[float], target: float, maximum: int) -> int:
    """Return how many replications should bring the relative half-width under `target`."""
    n = len(values)
    current = relative_half_width(values)
    if current <= target:
        return n
    if math.isinf(current):
        return min(maximum, max(2 * n, n + 2))
    # The half-width is t(n-1) s / sqrt(n): divide out today's t quantile (12.7 at n = 2), then aim a
    # little past the normal-theory estimate; run_to_precision checks again and adds more if needed.
    spread = current * math.sqrt(n) / t_quantile(0.975, n - 1)
    return min(maximum, max(n + 1, math.ceil(1.1 * (1.96 * spread / target) ** 2)))


def run_to_precision(
    loaded: Sequence[LoadedConfig],
    seed: int,
    replications: int,
    target: float,
    metric: str,
    maximum: int,
    executor: Executor,
    progress: Progress | None = None,
) -> list[ScenarioResult]:
    """Add replications until every config's interval of `metric` is within `target` of its mean.

    All configs keep the same number of replications, so paired differences stay paired.
    """
    results = run_scenarios(loaded, seed, replications, progress=progress, executor=executor)
    while True:
        n = len(results[0].replications)
        wanted = max(replications_for([r.metrics[metric] for r in res.replications], target, maximum)
                     for res in results)
        if wanted <= n:
            return results
        more = run_scenarios(loaded, seed, wanted - n, progress=progress, executor=executor, first=n)
        results = [ScenarioResult(a.loaded, seed, a.replications + b.replications)
                   for a, b in zip(results, more, strict=True)]
