"""Wall time of an experiment's replications run in this process, in a local pool, and on Dask.

What it measures, in one process:

1. The four shipped arrangements (``configs/arrangements/status_quo.toml``, ``oracle.toml``,
   ``microsoft.toml`` and ``google.toml``), 30 replications each under one seed, over the
   configs' own horizon (365 days), run with ``run_scenarios`` three ways:

   a. sequentially in this process (``LocalExecutor(1)``);
   b. on the local process pool with 2 workers (``LocalExecutor(2)``), whose time includes
      spawning the workers and their imports, since every ``map`` call pays for them;
   c. on a Dask ``LocalCluster`` of 2 worker processes with 1 thread each, through
      ``DaskExecutor``. The cluster's start-up and the client's connection are timed and
      printed apart; the run's time covers submitting, running and collecting the tasks
      (including the workers' first import of ``sim``).

   Loading the configs is done once, untimed, before any of the runs.
2. A check that the three runs agree: every replication's metrics dict is equal across
   executors (NaN counts as equal to NaN, as the model reports NaN for undefined metrics),
   and so are the daily series. Worker processes import ``sim`` from disk when they start,
   so if a file under ``sim/`` changes during the benchmark the script says so: a difference
   may then come from the edit, not from the executor.
3. The CPU seconds each run used: this process's (the client, and Dask's scheduler) plus
   the workers' (for the pool, every process descended from this one, sampled from
   ``/proc`` four times a second so that workers forked by a forkserver count too; for Dask,
   each worker's ``time.process_time()``), and that over the wall time times the processes
   working (``busy``). A busy share well under
   100% means the workers waited: on start-up, on the parent, or on other jobs' processes.
4. How busy the machine was with other work: the CPU seconds every process used during the
   run (from ``/proc/stat``, Linux only) less the run's own (``others``), the time the
   hypervisor took the virtual CPUs away (``steal``), and the load average before and after
   (``os.getloadavg()``, which counts the benchmark's own processes too). Where other work
   used more than a tenth of a core on average during a run, its timing is marked as
   contended and the verdicts should not be trusted; run it again on a quiet machine.

How to read it: ``pool speed-up`` is the sequential time over the pool's; with 2 workers on
2 cores the target is 1.7 or more. ``dask / pool`` is Dask's run time over the pool's; the
target is 1.15 or less (Dask's scheduling costs no more than 15%). It is one run of each
unless ``--repeat N`` is given (then the best of N, run in turns, each Dask run on a fresh
cluster); expect several per cent of noise, more if the load average is above the cores.

Usage: ``python benchmarks/experiment_speed.py [--quick] [--replications N] [--days D]
[--workers W] [--seed S] [--repeat N]``. ``--quick`` runs 4 replications of 60 days (a smoke run of some
seconds); ``--replications`` and ``--days`` override either default. The exit code is 0
whatever the figures (it is a report, not a test) unless something crashes.
"""

from __future__ import annotations

import argparse
import math
import os
import re
import resource
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sim.config.loader import LoadedConfig, load_config
from sim.experiment.executors import DaskExecutor, Executor, LocalExecutor
from sim.experiment.replications import ScenarioResult, run_scenarios

ROOT = Path(__file__).resolve().parent.parent
ARRANGEMENTS = ROOT / "configs" / "arrangements"
NAMES = ("status_quo", "oracle", "microsoft", "google")

REPLICATIONS = 30
QUICK_REPLICATIONS = 4
QUICK_DAYS = 60
WORKERS = 2
DEFAULT_SEED = 20220617
SPEEDUP_TARGET = 1.7  # sequential time / pool time, 2 workers
DASK_TARGET = 1.15  # dask time / pool time
MAX_MISMATCHES_SHOWN = 5
CONTENDED_CORES = 0.1  # other work's average share of a core above which a timing is suspect


@dataclass(frozen=True)
class Run:
    """One timed run of every arrangement's replications on one executor."""

    label: str
    seconds: float
    cpu_seconds: float
    processes: int
    results: list[ScenarioResult]
    load_before: float
    load_after: float
    others_seconds: float | None
    steal_seconds: float | None

    @property
    def tasks(self) -> int:
        """Return the number of replications run."""
        return sum(len(result.replications) for result in self.results)

    @property
    def busy(self) -> float:
        """Return the CPU time used over the wall time of the processes working."""
        return self.cpu_seconds / (self.seconds * self.processes) if self.seconds > 0 else float("nan")

    @property
    def contended(self) -> bool:
        """Return whether other work (or the hypervisor) took over a tenth of a core on average."""
        taken = (self.others_seconds or 0.0) + (self.steal_seconds or 0.0)
        return self.seconds > 0 and taken / self.seconds > CONTENDED_CORES

    def machine(self) -> str:
        """Return 'others X s, steal Y s, load a -> b' (what else the machine was doing)."""
        if self.others_seconds is None or self.steal_seconds is None:
            others = "others n/a"
        else:
            others = f"others {self.others_seconds:.1f} s, steal {self.steal_seconds:.1f} s"
        return f"{others}, load {self.load_before:.2f} -> {self.load_after:.2f}"

    def line(self) -> str:
        """Return 'X s, cpu Y s (busy Z%), W s a replication; others ...'."""
        each = self.seconds / self.tasks if self.tasks else float("nan")
        return (f"{self.seconds:7.2f} s, cpu {self.cpu_seconds:6.2f} s (busy {self.busy:4.0%}), "
                f"{each:.3f} s a replication; {self.machine()}{'  CONTENDED' if self.contended else ''}")


def load1() -> float:
    """Return the one-minute load average."""
    return os.getloadavg()[0]


class Meter:
    """Measures the CPU seconds that a run's worker processes use; this base counts none."""

    def start(self) -> None:
        """Begin measuring."""

    def stop(self) -> float:
        """Stop measuring and return the workers' CPU seconds since start."""
        return 0.0


class ReadingMeter(Meter):
    """Measures by the difference of two readings of a cumulative CPU counter."""

    def __init__(self, read: Callable[[], float]) -> None:
        self.read = read
        self.first = 0.0

    def start(self) -> None:
        """Take the first reading."""
        self.first = self.read()

    def stop(self) -> float:
        """Return the second reading less the first."""
        return self.read() - self.first


def children_cpu() -> float:
    """Return the CPU seconds of this process's reaped children."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


STAT_LINE = re.compile(rb"^(\d+) \(.*\) \S+ (\d+)(?: \S+){9} (\d+) (\d+) ")


def descendants_cpu(root: int) -> dict[int, tuple[int, float]]:
    """Return (parent, CPU seconds so far) of every live process descended from `root` (/proc)."""
    parent: dict[int, int] = {}
    cpu: dict[int, float] = {}
    tick = os.sysconf("SC_CLK_TCK")
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as stat:
                match = STAT_LINE.match(stat.read())
        except OSError:  # the process ended meanwhile
            continue
        if match:
            pid, ppid, utime, stime = (int(x) for x in match.groups())
            parent[pid] = ppid
            cpu[pid] = (utime + stime) / tick
    found: dict[int, tuple[int, float]] = {}
    for pid, seconds in cpu.items():
        ancestor = parent.get(pid)
        while ancestor is not None and ancestor != root:
            ancestor = parent.get(ancestor)
        if ancestor == root:
            found[pid] = (parent[pid], seconds)
    return found


class DescendantsMeter(Meter):
    """Measures every process descended from this one, however it was started.

    A pool's workers are this process's children when spawned, and getrusage(RUSAGE_CHILDREN)
    counts them exactly once they are reaped. Forked from a forkserver they are its children,
    which that never sees; so a thread also samples /proc four times a second (about 2 ms a
    sample) and keeps each such descendant's last figure, missing only what it used after the
    last sample before it ended. Off Linux only the reaped children count.
    """

    def __init__(self, interval: float = 0.25) -> None:
        self.interval = interval
        self.proc = os.path.isdir("/proc")
        self.base: dict[int, tuple[int, float]] = {}
        self.last: dict[int, tuple[int, float]] = {}
        self.reaped = 0.0
        self.done = threading.Event()
        self.thread: threading.Thread | None = None

    def sample(self) -> None:
        """Record the latest CPU figure of every live descendant."""
        self.last.update(descendants_cpu(os.getpid()))

    def watch(self) -> None:
        """Sample until told to stop."""
        while not self.done.wait(self.interval):
            self.sample()

    def start(self) -> None:
        """Note the descendants alive now (a forkserver, say) and start sampling."""
        self.reaped = children_cpu()
        if self.proc:
            self.base = descendants_cpu(os.getpid())
            self.last = dict(self.base)
            self.done.clear()
            self.thread = threading.Thread(target=self.watch, daemon=True)
            self.thread.start()

    def stop(self) -> float:
        """Stop sampling; return the descendants' CPU since start."""
        reaped = children_cpu() - self.reaped
        if not self.proc or self.thread is None:
            return reaped
        self.done.set()
        self.thread.join()
        me = os.getpid()
        alive = descendants_cpu(me)
        self.last.update(alive)
        sampled = 0.0
        for pid, (parent, seconds) in self.last.items():
            if parent != me or pid in alive:  # a grandchild, or a child not reaped (no rusage yet)
                sampled += seconds - self.base.get(pid, (parent, 0.0))[1]
        return reaped + sampled


def system_cpu() -> tuple[float, float] | None:
    """Return the whole machine's (busy, steal) CPU seconds so far, or None off Linux."""
    try:
        with open("/proc/stat", encoding="ascii") as stat:
            fields = [int(x) for x in stat.readline().split()[1:9]]
    except (OSError, ValueError):
        return None
    user, nice, system, _idle, _iowait, irq, softirq, steal = fields
    tick = os.sysconf("SC_CLK_TCK")
    return (user + nice + system + irq + softirq) / tick, steal / tick


def time_run(label: str, loaded: Sequence[LoadedConfig], seed: int, replications: int,
             executor: Executor, processes: int, meter: Meter) -> Run:
    """Time run_scenarios on an executor and print the figure as soon as it is known."""
    before = load1()
    meter.start()
    cpu = time.process_time()
    machine = system_cpu()
    start = time.perf_counter()
    results = run_scenarios(loaded, seed, replications, executor=executor)
    seconds = time.perf_counter() - start
    machine_after = system_cpu()
    cpu = time.process_time() - cpu + meter.stop()
    others = steal = None
    if machine is not None and machine_after is not None:
        others = max(0.0, machine_after[0] - machine[0] - cpu)
        steal = machine_after[1] - machine[1]
    run = Run(label, seconds, cpu, processes, results, before, load1(), others, steal)
    print(f"  {label + ':':18s} {run.line()}", flush=True)
    return run


def same_value(a: Any, b: Any) -> bool:
    """Return whether two values are equal, counting NaN as equal to NaN."""
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return bool(a == b)


def same_dict(a: dict[str, Any], b: dict[str, Any], same: Callable[[Any, Any], bool]) -> bool:
    """Return whether two dicts have the same keys and equal values under `same`."""
    return a.keys() == b.keys() and all(same(a[key], b[key]) for key in a)


def same_series(a: list[float], b: list[float]) -> bool:
    """Return whether two daily series are equal, counting NaN as equal to NaN."""
    return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))


def mismatches(reference: Run, other: Run) -> list[str]:
    """Return a description of every replication whose metrics or daily series differ."""
    found: list[str] = []
    for ref, oth in zip(reference.results, other.results, strict=True):
        name = ref.loaded.name
        if len(ref.replications) != len(oth.replications):
            found.append(f"{name}: {len(ref.replications)} vs {len(oth.replications)} replications")
            continue
        for r, (x, y) in enumerate(zip(ref.replications, oth.replications, strict=True)):
            if not same_dict(x.metrics, y.metrics, same_value):
                keys = sorted(k for k in x.metrics.keys() | y.metrics.keys()
                              if not same_value(x.metrics.get(k), y.metrics.get(k)))
                found.append(f"{name} replication {r}: metrics differ ({', '.join(keys[:3])}"
                             f"{', ...' if len(keys) > 3 else ''})")
            elif not same_dict(x.daily, y.daily, same_series):
                found.append(f"{name} replication {r}: daily series differ")
    return found


def source_stamps() -> dict[Path, int]:
    """Return the modification time of every Python file under sim/."""
    return {path: path.stat().st_mtime_ns for path in sorted((ROOT / "sim").rglob("*.py"))}


def changed_sources(before: dict[Path, int]) -> list[str]:
    """Return the files under sim/ added, removed or modified since `before` was taken."""
    after = source_stamps()
    return [str(path.relative_to(ROOT)) for path in sorted(before.keys() | after.keys())
            if before.get(path) != after.get(path)]


def verdict(ok: bool) -> str:
    """Return PASS or MISS."""
    return "PASS" if ok else "MISS"


def run_dask(loaded: Sequence[LoadedConfig], seed: int, replications: int,
             workers: int) -> tuple[Run, float, float]:
    """Start a local Dask cluster (untimed by the run), run on it; return the run and start-ups."""
    # Imported here, not at the top: the spawned pool workers re-import this script as
    # __mp_main__, and should not pay for importing distributed.
    from distributed import LocalCluster

    start = time.perf_counter()
    with LocalCluster(n_workers=workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster:
        cluster_seconds = time.perf_counter() - start
        start = time.perf_counter()
        executor = DaskExecutor(cluster.scheduler_address)
        connect_seconds = time.perf_counter() - start
        client = executor.client

        def dask_workers_cpu() -> float:
            return float(sum(client.run(time.process_time).values()))

        try:
            run = time_run(f"dask ({workers})", loaded, seed, replications, executor, workers,
                           ReadingMeter(dask_workers_cpu))
        finally:
            executor.close()
    return run, cluster_seconds, connect_seconds


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"{QUICK_REPLICATIONS} replications of {QUICK_DAYS} days (smoke run)")
    parser.add_argument("--replications", type=int, default=None,
                        help=f"replications per arrangement (default {REPLICATIONS})")
    parser.add_argument("--days", type=int, default=None,
                        help="simulated days (default: the configs' own, 365)")
    parser.add_argument("--workers", type=int, default=WORKERS,
                        help=f"worker processes for the pool and Dask (default {WORKERS})")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--repeat", type=int, default=1,
                        help="run each executor N times, in turns; keep the best of each")
    return parser.parse_args(argv)


def best(runs: Sequence[Run]) -> Run:
    """Return the fastest of several runs on the same executor."""
    return min(runs, key=lambda run: run.seconds)


def main(argv: Sequence[str]) -> int:
    """Run the benchmark and print its report."""
    args = parse_args(argv)
    replications = args.replications or (QUICK_REPLICATIONS if args.quick else REPLICATIONS)
    days = args.days or (QUICK_DAYS if args.quick else None)
    overrides = [("scenario.days", str(days), "--set")] if days else []
    stamps = source_stamps()
    loaded = [load_config(ARRANGEMENTS / f"{name}.toml", overrides) for name in NAMES]
    horizon = sorted({item.config.scenario.days for item in loaded})
    workers = args.workers
    print(f"{len(loaded)} arrangements ({', '.join(NAMES)}), {replications} replications each, "
          f"{'/'.join(map(str, horizon))} days, seed {args.seed}, {workers} workers"
          + (" [--quick]" if args.quick else ""))
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    print(f"usable cores {cores}; load average {' '.join(f'{x:.2f}' for x in os.getloadavg())} "
          "(1, 5, 15 min)", flush=True)

    seqs: list[Run] = []
    pools: list[Run] = []
    dasks: list[Run] = []
    startups: list[tuple[float, float]] = []
    for _ in range(max(1, args.repeat)):
        seqs.append(time_run("sequential (1)", loaded, args.seed, replications, LocalExecutor(1), 1,
                             Meter()))
        pools.append(time_run(f"local pool ({workers})", loaded, args.seed, replications,
                              LocalExecutor(workers), workers, DescendantsMeter()))
        run, cluster_seconds, connect_seconds = run_dask(loaded, args.seed, replications, workers)
        dasks.append(run)
        startups.append((cluster_seconds, connect_seconds))
        print(f"  dask start-up (not in its time): cluster {cluster_seconds:.2f} s, "
              f"client connect {connect_seconds:.2f} s", flush=True)
    seq, pool, dask = best(seqs), best(pools), best(dasks)
    cluster_seconds, connect_seconds = startups[dasks.index(dask)]

    speedup = seq.seconds / pool.seconds
    relative = dask.seconds / pool.seconds
    print()
    if args.repeat > 1:
        print(f"best of {args.repeat}:")
    for run in (seq, pool, dask):
        print(f"{run.label + ':':17s} {run.seconds:7.2f} s  cpu {run.cpu_seconds:6.2f} s (busy {run.busy:4.0%}); "
              f"{run.machine()}{'  CONTENDED' if run.contended else ''}")
    print(f"dask start-up, not in its time: cluster {cluster_seconds:.2f} s, client connect {connect_seconds:.2f} s")
    reference = seqs[0]
    for label, runs in ((f"local pool ({workers})", pools), (f"dask ({workers})", dasks),
                        ("sequential (1)", seqs[1:])):
        found = [text for run in runs for text in mismatches(reference, run)]
        if not runs:
            continue
        if found:
            print(f"metrics {label} vs sequential: {len(found)} replications DIFFER")
            for text in found[:MAX_MISMATCHES_SHOWN]:
                print(f"  {text}")
        else:
            print(f"metrics {label} vs sequential: identical "
                  f"({reference.tasks} replications{f' x {len(runs)} runs' if len(runs) > 1 else ''})")
    edited = changed_sources(stamps)
    if edited:
        print(f"note: {len(edited)} files under sim/ changed during the run ({', '.join(edited[:4])}"
              f"{', ...' if len(edited) > 4 else ''}); workers import sim/ afresh, so a difference above "
              "may come from the edit, not the executor")
    print(f"pool speed-up over sequential: {speedup:.2f} (target >= {SPEEDUP_TARGET:.2f})  "
          f"{verdict(speedup >= SPEEDUP_TARGET)}")
    print(f"dask time / pool time:         {relative:.2f} (target <= {DASK_TARGET:.2f})  "
          f"{verdict(relative <= DASK_TARGET)}")
    contended = [run.label for run in (seq, pool, dask) if run.contended]
    if contended:
        print(f"CONTENDED: other work used more than {CONTENDED_CORES:g} of a core on average during "
              f"{', '.join(contended)}; the verdicts are not reliable, run again on a quiet machine "
              "(or with --repeat)")
    print(f"load average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
