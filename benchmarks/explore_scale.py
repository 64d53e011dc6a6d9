"""Explore at scale: runs per second, the share of time in simulation, the serial steps and memory.

Two parts (issue 23, point 6):

1. **Throughput.** A small explore (``--run-worlds`` worlds x the arrangements x
   ``--replications`` x ``--days``) runs on the local pool (``--workers``, default the cores)
   or on a Dask cluster (``--scheduler``), as `residency explore` does, then builds
   explore.json. It prints runs per second and the share of all CPU (this process and its
   workers) spent inside the simulation (each task's own CPU, timed in the worker), and,
   from the measured rate, the time 1,000 worlds x 3 replications x 3 years would take.
2. **Serial steps at scale.** For each of ``--sizes`` (default 200 and 1,000 worlds), a fresh
   child process plans the exploration (Latin hypercube, every point's resolved config and run
   key), fills a results store with one row per (point, replication), and builds explore.json
   (bands, pairwise, regret, importance, PRIM, history matching with
   ``--history-match``). The rows are real metrics from one short run per arrangement and
   replication, scaled per world (``0.5 + world / worlds``) so that worlds differ: the serial
   steps' cost depends on the number of rows and metrics, not on their values, and the
   machine's two cores are left to the other work. It prints planning and summary seconds
   (wall and CPU) and the child's peak resident memory after each step (``VmHWM``).

Usage::

    python benchmarks/explore_scale.py                         # the quick default (a minute or two)
    python benchmarks/explore_scale.py --sizes 200,1000 --run-worlds 8 --days 1095
    python benchmarks/explore_scale.py --sizes 1000 --no-run   # only the serial steps

It is a report, not a test: the exit code is 0 whatever the figures (other jobs on a shared
machine move wall times by 10 to 30%; CPU seconds are steadier).
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.config.loader import LoadedConfig, load_config  # noqa: E402
from sim.experiment.executors import Job, make_executor  # noqa: E402
from sim.experiment.explore import plan, run_exploration, world_table  # noqa: E402
from sim.experiment.explore_summary import summarise, summary_metrics  # noqa: E402
from sim.experiment.sweep import run_metrics  # noqa: E402
from sim.results.store import Store  # noqa: E402
from sim.version import __version__  # noqa: E402

METRIC = "residual_access.events"
TARGET = {"worlds": 1000, "replications": 3, "days": 1095, "minutes": 10}


def cpu_seconds() -> float:
    """Return the CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def peak_mb() -> float:
    """Return this process's peak resident set so far, in MB (``VmHWM``)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> tuple[Any, float]:
    """Run a task and return its result with the CPU seconds it took (in the worker)."""
    started = time.process_time()
    result = fn(*args, **kwargs)
    return result, time.process_time() - started


class Timed:
    """An executor that adds up its tasks' CPU seconds, measured where they run."""

    def __init__(self, inner: Any) -> None:
        self.inner, self.engine, self.seconds = inner, inner.engine, 0.0

    def map(self, fn: Callable[..., Any], jobs: Sequence[Job]) -> Iterator[tuple[Job, Any]]:
        """Run the jobs on the inner executor, keeping each task's CPU seconds."""
        for job, (result, seconds) in self.inner.map(functools.partial(timed, fn), jobs):
            self.seconds += seconds
            yield job, result

    def slots(self) -> int:
        """Return the inner executor's slots."""
        return int(self.inner.slots())

    def close(self) -> None:
        """Close the inner executor."""
        self.inner.close()


def per_run(exploration: Any, store: Store, executor: Any) -> int:
    """Run every (point, replication) as its own task, as explore did before one task per world."""
    store.claim("explore", exploration.definition())
    store.add_points([(p.index, p.arrangement, p.factors, p.run_key) for p in exploration.points])
    jobs = [Job(p.index, p.loaded.config, exploration.seed, r) for p in exploration.points
            for r in range(exploration.replications)]
    for job, metrics in executor.map(run_metrics, jobs):
        point = exploration.points[job.tag]
        store.add_row(point.run_key, job.replication, point.index, point.arrangement, job.seed, __version__, metrics)
    return len(jobs)


def load(paths: list[Path], days: int) -> list[LoadedConfig]:
    """Load the arrangements at a horizon."""
    return [load_config(p, [("scenario.days", str(days), "--days")]) for p in paths]


def throughput(paths: list[Path], args: argparse.Namespace) -> None:
    """Run a small explore on the executor and print runs/s and the simulation's share of CPU."""
    cpu, started = cpu_seconds(), time.monotonic()
    loaded = load(paths, args.days)
    exploration = plan(loaded, args.run_worlds, args.replications, args.seed)
    executor = Timed(make_executor(args.workers, args.scheduler))
    load_before = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder))
        run_started = time.monotonic()
        runs = per_run(exploration, store, executor) if args.per_run else \
            run_exploration(exploration, store, executor).ran
        ran = time.monotonic() - run_started
        executor.close()
        summarise(exploration, store, METRIC, [], None)
        store.close()
    wall, cpu = time.monotonic() - started, cpu_seconds() - cpu
    rate, simulated = runs / ran, executor.seconds
    print(f"throughput ({'a task per run' if args.per_run else 'a task per world and replication'}): "
          f"{args.run_worlds} worlds x {len(loaded)} arrangements x {args.replications} replications "
          f"x {args.days} days = {runs} runs in {ran:.1f} s: {rate:.2f} runs/s "
          f"({simulated / runs * 1000:.0f} ms CPU of simulation per run)")
    # A cluster's workers are not this process's children: their CPU is not in `cpu`, so no share can be given.
    share = (f"simulation {simulated:.1f} s of CPU on the cluster's workers (the rest of theirs is not visible "
             f"here), {cpu:.1f} s in this process" if args.scheduler else
             f"simulation {simulated:.1f} s of {cpu:.1f} s CPU in all processes ({simulated / cpu:.1%})")
    print(f"  {share}; whole command {wall:.1f} s wall; load average {load_before:.1f} -> {os.getloadavg()[0]:.1f} "
          f"on {os.cpu_count()} cores")
    target = TARGET["worlds"] * len(loaded) * TARGET["replications"]
    minutes = target / rate * TARGET["days"] / args.days / 60
    print(f"  {TARGET['worlds']} worlds x {len(loaded)} x {TARGET['replications']} x {TARGET['days']} days "
          f"({target} runs) at this rate: about {minutes:.0f} min (target {TARGET['minutes']} min)")


def sample_rows(paths: list[Path], replications: int, seed: int) -> dict[str, list[dict[str, float]]]:
    """Return real metrics of one short run per arrangement and replication (the rows' shape)."""
    rows: dict[str, list[dict[str, float]]] = {}
    for item in load(paths, 7):
        rows[item.name] = [run_metrics(item.config, seed, r) for r in range(replications)]
    return rows


def serial(paths: list[Path], worlds: int, args: argparse.Namespace) -> dict[str, float]:
    """Plan, fill a store and summarise at `worlds` worlds in this process; return the figures."""
    loaded = load(paths, args.days)
    samples = sample_rows(paths, args.replications, args.seed)
    observations = None
    if args.history_match:
        from sim.experiment.history import load_observations

        observations = load_observations(args.history_match)
    base = peak_mb()
    cpu, started = time.process_time(), time.monotonic()
    exploration = plan(loaded, worlds, args.replications, args.seed)
    figures = {"plan_s": time.monotonic() - started, "plan_cpu": time.process_time() - cpu,
               "plan_mb": peak_mb(), "base_mb": base}
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder))
        store.claim("explore", exploration.definition())
        store.add_points([(p.index, p.arrangement, p.factors, p.run_key) for p in exploration.points])
        per_world = len(exploration.arrangements)
        store.db.executemany(
            "INSERT INTO rows (run_key, replication, point, arrangement, seed, version, metrics) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((p.run_key, r, p.index, p.arrangement, args.seed, __version__,
              json.dumps({k: v * (0.5 + (p.index // per_world) / worlds) for k, v in
                          samples[p.arrangement][r].items()}, sort_keys=True))
             for p in exploration.points for r in range(args.replications)))
        store.db.commit()
        cpu, started = time.process_time(), time.monotonic()
        world_table(store, exploration.names, worlds, summary_metrics(METRIC, observations))
        figures["table_cpu"] = time.process_time() - cpu
        cpu, started = time.process_time(), time.monotonic()
        summarise(exploration, store, METRIC, [], observations)
        figures |= {"summary_s": time.monotonic() - started, "summary_cpu": time.process_time() - cpu,
                    "summary_mb": peak_mb()}
        store.close()
    return figures


def main() -> None:
    """Print the throughput of a small explore and the serial steps at each size."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", default="200,1000", help="worlds for the serial steps, comma-separated")
    parser.add_argument("--run-worlds", type=int, default=2, help="worlds of the throughput run")
    parser.add_argument("--replications", type=int, default=TARGET["replications"])
    parser.add_argument("--days", type=int, default=365, help="days of the throughput run's tasks")
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--scheduler", default=None)
    parser.add_argument("--seed", type=int, default=20220617)
    parser.add_argument("--history-match", type=Path, default=None, help="an observations file to match")
    parser.add_argument("--no-run", action="store_true", help="only the serial steps")
    parser.add_argument("--per-run", action="store_true", help="one task per run, as before one task per world")
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    parser.add_argument("configs", nargs="*", type=Path)
    args = parser.parse_args()
    paths = args.configs or sorted((ROOT / "configs" / "arrangements").glob("*.toml"))
    if args.child is not None:  # one size in a fresh process, so its peak memory is its own
        print(json.dumps(serial(paths, args.child, args)))
        return
    print(f"explore_scale: {len(paths)} arrangements, "
          f"version {__version__}")
    if not args.no_run:
        throughput(paths, args)
    for worlds in (int(s) for s in args.sizes.split(",") if s.strip()):
        command = [sys.executable, __file__, "--child", str(worlds), "--replications", str(args.replications),
                   "--days", str(args.days), "--seed", str(args.seed), *map(str, args.configs)]
        if args.history_match:
            command += ["--history-match", str(args.history_match)]
        out = subprocess.run(command, capture_output=True, text=True, check=False)
        if out.returncode != 0:
            print(f"serial steps at {worlds} worlds failed:\n{out.stderr}")
            continue
        f = json.loads(out.stdout.strip().splitlines()[-1])
        print(f"serial steps at {worlds} worlds x {len(paths)} x {args.replications}: "
              f"plan {f['plan_s']:.2f} s ({f['plan_cpu']:.2f} CPU), peak {f['plan_mb']:.0f} MB "
              f"(+{f['plan_mb'] - f['base_mb']:.0f} over the loaded process); "
              f"summary {f['summary_s']:.2f} s ({f['summary_cpu']:.2f} CPU, of which reading the rows "
              f"{f['table_cpu']:.2f}), peak {f['summary_mb']:.0f} MB; "
              f"together {f['plan_s'] + f['summary_s']:.1f} s (target under 10 s)")


if __name__ == "__main__":
    main()
