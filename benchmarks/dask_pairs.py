"""Dask against the local pool on the same explore, in pairs taken in turn (issue 23: "no slower").

Each pair runs one `residency explore` on a fresh local Dask cluster and the same explore on
the local pool, in alternating order (Dask first in odd pairs, the pool first in even ones), so
a machine that speeds up or slows down over the session weighs on both alike. The cluster is
what docs/howto/dask.md shows: a scheduler and ``--workers`` one-thread workers started with
Dask's own commands, as processes of their own, with the housekeeping settings the page gives
(``--dask-defaults`` leaves Dask's defaults), without a nanny (``--nanny`` keeps it). Started
before the timed run, stopped after it.

For each run it prints the wall time of the command and the CPU seconds of every process:
the command itself (with its pool workers, on the pool), the scheduler's and each Dask
worker's (read from /proc before they stop). Then each pair's ratio (Dask's wall over the
pool's), their mean and a 95% interval for it (Student's t over the pairs). Both runs of a
pair must give the same explore.json (but for the command line it records); a pair that does
not is reported and counted as a failure (exit 1). Apart from that it is a report: exit 0
whatever the figures.

``--side-by-side`` asks a narrower question: does a job itself cost more CPU on a Dask worker
than on a pool worker? It plans the same explore and runs every job twice at the same time,
one copy on a one-worker cluster (in the worker's task thread, beside its event loop) and one
on a one-process pool, job after job, so both copies meet the same machine in the same
seconds. It prints the CPU both worker processes took over the jobs (read from /proc before and
after each job), the paired per-job ratio's mean with its 95% interval, and checks that both
copies return the same metrics.

Usage::

    python benchmarks/dask_pairs.py                                   # 2 pairs of 32 worlds, a year (a few minutes)
    python benchmarks/dask_pairs.py --worlds 1000 --days 1095 --pairs 6   # issue 23's explore (about 90 minutes)
    python benchmarks/dask_pairs.py --side-by-side --worlds 60 -r 1 --days 1095   # a job's own cost (a few minutes)

Needs the dask extra (``pip install '.[dask]'``) and Linux (/proc) for the per-process CPU.
"""

from __future__ import annotations

import argparse
import functools
import json
import math
import multiprocessing
import os
import pickle
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

BIN = Path(sys.executable).parent
#: The housekeeping settings docs/howto/dask.md gives for a cluster sharing a small machine.
HOUSEKEEPING = {
    "DASK_DISTRIBUTED__ADMIN__TICK__INTERVAL": "1s",
    "DASK_DISTRIBUTED__ADMIN__SYSTEM_MONITOR__INTERVAL": "5s",
    "DASK_DISTRIBUTED__WORKER__MEMORY__MONITOR_INTERVAL": "1s",
}


@dataclass
class Run:
    """One timed command: its wall seconds and the CPU seconds of each process that took part."""

    executor: str
    wall: float
    cpu: dict[str, float] = field(default_factory=dict)
    summary: dict[str, object] = field(default_factory=dict)


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def process_cpu(pid: int) -> float:
    """Return the CPU seconds (user and system) a live process has used, from /proc; NaN elsewhere."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return math.nan
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def timed_command(command: list[str], env: dict[str, str], log: Path) -> tuple[float, float]:
    """Run a command to its end, its messages into `log`; return its wall seconds and the CPU of it and its children.

    The CPU is what wait4 reports: the command's own and that of the children it waited for
    (a pool's workers).
    """
    started = time.perf_counter()
    with log.open("wb") as messages:
        process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=messages)
        _, status, usage = os.wait4(process.pid, 0)
    wall = time.perf_counter() - started
    process.returncode = os.waitstatus_to_exitcode(status)
    if process.returncode != 0:
        error = log.read_text(encoding="utf-8", errors="replace")[-4000:]
        raise SystemExit(f"dask_pairs: {' '.join(command)} exited {process.returncode}:\n{error}")
    return wall, usage.ru_utime + usage.ru_stime


class Cluster:
    """A scheduler and one-thread workers started with Dask's commands, stopped on exit."""

    def __init__(self, workers: int, nanny: bool, env: dict[str, str], folder: Path) -> None:
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.log = (folder / "cluster.log").open("ab")
        self.workers: list[subprocess.Popen[bytes]] = []
        self.scheduler = self._start([str(BIN / "dask"), "scheduler", "--host", "127.0.0.1", "--port",
                                      str(self.port), "--no-dashboard"], env)
        try:
            self._wait(self._accepts, "the scheduler to listen")
            extra = [] if nanny else ["--no-nanny"]
            for _ in range(workers):  # one by one: a failure stops those already started
                self.workers.append(self._start([str(BIN / "dask"), "worker", self.address, "--nthreads", "1",
                                                 "--memory-limit", "0", "--no-dashboard", "--local-directory",
                                                 str(folder), *extra], env))
            self._wait(lambda: self._registered() >= workers, f"{workers} workers to register")
        except BaseException:  # a process that died, a timeout or Ctrl-C: leave nothing running
            self.stop()
            raise

    def _start(self, command: list[str], env: dict[str, str]) -> subprocess.Popen[bytes]:
        return subprocess.Popen(command, env=env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True)

    def _accepts(self) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(0.5)
            return sock.connect_ex(("127.0.0.1", self.port)) == 0

    def _registered(self) -> int:
        from distributed import Client

        with Client(self.address, timeout="10s") as client:
            return len(client.scheduler_info(n_workers=-1)["workers"])

    def _wait(self, ready: Callable[[], bool], what: str, timeout: float = 90.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if ready():
                return
            if any(p.poll() is not None for p in (self.scheduler, *self.workers)):
                raise SystemExit(f"dask_pairs: a cluster process exited before {what}:\n{self._log_tail()}")
            time.sleep(0.3)
        raise SystemExit(f"dask_pairs: timed out waiting for {what}:\n{self._log_tail()}")

    def _log_tail(self) -> str:
        """Return the end of what the cluster's processes wrote (their log goes with the temporary folder)."""
        self.log.flush()
        return Path(self.log.name).read_text(encoding="utf-8", errors="replace")[-4000:]

    def cpu(self) -> dict[str, float]:
        """Return the CPU seconds so far of the scheduler and of each worker process (a nanny's child included)."""
        out = {"scheduler": process_cpu(self.scheduler.pid)}
        for number, worker in enumerate(self.workers, start=1):
            pids = [worker.pid, *children(worker.pid)]
            out[f"worker {number}"] = sum(process_cpu(pid) for pid in pids)
        return out

    def stop(self) -> None:
        """Stop the workers, then the scheduler (a worker whose scheduler went first waits out its timeouts)."""
        for group in (self.workers, [self.scheduler]):
            for process in group:
                if process.poll() is None:
                    os.killpg(process.pid, signal.SIGTERM)
            for process in group:
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
                    process.wait(timeout=20)
        self.log.close()


def children(pid: int) -> list[int]:
    """Return the ids of a process's children (a nanny's worker), from /proc (none where it cannot be read)."""
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            parent = int(stat.read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if parent == pid:
            found.append(int(stat.parent.name))
    return found


def explore_command(args: argparse.Namespace, out: Path) -> list[str]:
    """Return the `residency explore` command of the comparison, writing into `out`."""
    return [str(BIN / "residency"), "explore", "--worlds", str(args.worlds), "-r", str(args.replications),
            "--days", str(args.days), "--seed", str(args.seed), "-q", "--out", str(out)]


def run_dask(args: argparse.Namespace, folder: Path, tag: str) -> Run:
    """Start a fresh cluster, time the explore on it, read every process's CPU, stop the cluster."""
    env = dict(os.environ)
    if not args.dask_defaults:
        env.update(HOUSEKEEPING)
    cluster = Cluster(args.workers, args.nanny, env, folder)
    try:
        before = cluster.cpu()
        wall, client = timed_command([*explore_command(args, folder / tag), "--scheduler", cluster.address], env,
                                     folder / f"{tag}.log")
        after = cluster.cpu()
    finally:
        cluster.stop()
    cpu = {"command": client, **{name: after[name] - before[name] for name in after}}
    return Run("dask", wall, cpu, summary(folder / tag))


def run_pool(args: argparse.Namespace, folder: Path, tag: str) -> Run:
    """Time the explore on the local pool of `--workers` processes."""
    wall, cpu = timed_command([*explore_command(args, folder / tag), "--workers", str(args.workers)],
                              dict(os.environ), folder / f"{tag}.log")
    return Run("pool", wall, {"command and its workers": cpu}, summary(folder / tag))


def summary(out: Path) -> dict[str, object]:
    """Return an explore's explore.json without the command line it records (which names the executor)."""
    data: dict[str, object] = json.loads((out / "explore.json").read_text(encoding="utf-8"))
    data.pop("command", None)
    return data


def interval(ratios: list[float]) -> str:
    """Return the mean of the ratios with a 95% Student-t interval (only the mean for one pair)."""
    mean = statistics.fmean(ratios)
    if len(ratios) < 2:
        return f"{mean:.3f} (one pair: no interval)"
    from scipy.stats import t

    half = t.ppf(0.975, len(ratios) - 1) * statistics.stdev(ratios) / math.sqrt(len(ratios))
    return f"{mean:.3f}, 95% interval {mean - half:.3f} to {mean + half:.3f}"


def describe(run: Run) -> str:
    """Return one line: the executor, its wall time and each process's CPU."""
    cpu = ", ".join(f"{name} {seconds:.1f}" for name, seconds in run.cpu.items())
    return f"{run.executor:4} {run.wall:7.1f} s wall; CPU s: {cpu}; all {sum(run.cpu.values()):.1f}"


class SideBySide:
    """An executor for `sim.explore` that runs each job on a Dask worker and a pool worker at once and times both.

    The pool is the one `LocalExecutor` starts for several workers (spawned, prepared by
    `prepare_worker`), with one process. It yields the pool's result, so the explore goes on
    as usual; each job's CPU (the worker processes' own, from /proc: the Dask worker's event
    loop included) is kept in `cpu`.
    """

    def __init__(self, cluster: Cluster) -> None:
        from sim.experiment.executors import DaskExecutor

        self.cluster = cluster
        self.dask = DaskExecutor(cluster.address)
        self.engine = self.dask.engine
        self.pool: ProcessPoolExecutor | None = None
        self.cpu: list[tuple[float, float]] = []  # (Dask worker, pool worker) CPU seconds of each job
        self.differing = 0

    def _both(self, fn: Callable[..., Any], job: Any) -> tuple[Any, Any]:
        """Run one job on both executors at the same time; return (Dask's result, the pool's)."""
        assert self.pool is not None
        on_pool = self.pool.submit(functools.partial(fn, engine=self.engine), job.config, job.seed, job.replication)
        [(_, on_dask)] = list(self.dask.map(fn, [job]))
        return on_dask, on_pool.result()

    def map(self, fn: Callable[..., Any], jobs: Sequence[Any]) -> Iterator[tuple[Any, Any]]:
        """Run the jobs one after another, each on both workers at once; yield the pool's results."""
        from sim.experiment.executors import prepare_worker

        if self.pool is not None:  # a caller that maps again gets a fresh worker, timed from its second job
            self.pool.shutdown()
        self.pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                        initializer=prepare_worker, initargs=(os.getpid(), fn.__module__))
        pool_pid = 0
        for number, job in enumerate(jobs):
            if number == 0:  # the first job starts and warms both workers: not timed
                on_dask, on_pool = self._both(fn, job)
                pool_pid = next(iter(self.pool._processes))  # private, but the only handle on the worker
            else:
                before = self.cluster.cpu()["worker 1"], process_cpu(pool_pid)
                on_dask, on_pool = self._both(fn, job)
                after = self.cluster.cpu()["worker 1"], process_cpu(pool_pid)
                self.cpu.append((after[0] - before[0], after[1] - before[1]))
            self.differing += pickle.dumps(on_dask) != pickle.dumps(on_pool)  # bit for bit, NaN included
            yield job, on_pool

    def slots(self) -> int:
        """One job at a time (on each side)."""
        return 1

    def close(self) -> None:
        """Leave the cluster and stop the pool's worker."""
        self.dask.close()
        if self.pool is not None:
            self.pool.shutdown()


def side_by_side(args: argparse.Namespace) -> int:
    """Plan the explore, run each job on a one-worker cluster and a one-process pool at once, print the ratios."""
    import sim
    import sim.experiment.executors as executors

    env = dict(os.environ)
    if not args.dask_defaults:
        env.update(HOUSEKEEPING)
    with tempfile.TemporaryDirectory(prefix="dask-pairs-") as name:
        folder = Path(name)
        cluster = Cluster(1, args.nanny, env, folder)
        try:
            both = SideBySide(cluster)
            planned = executors.make_executor
            executors.make_executor = lambda *_args, **_kwargs: both  # sim.explore takes its executor from here
            try:
                sim.explore(out=folder / "explore", worlds=args.worlds, replications=args.replications,
                            days=args.days, seed=args.seed)
            finally:
                executors.make_executor = planned
        finally:
            cluster.stop()
    dask = sum(d for d, _ in both.cpu)
    pool = sum(p for _, p in both.cpu)
    ratios = [d / p for d, p in both.cpu if p > 0]
    print(f"{len(both.cpu)} jobs side by side (the first, which warms both, not counted): CPU of the Dask worker "
          f"{dask:.2f} s, of the pool worker {pool:.2f} s, ratio {dask / pool:.4f}")
    print(f"per job, Dask over the pool: {interval(ratios)}; median {statistics.median(ratios):.4f} "
          f"(CPU is read in ticks of {1 / os.sysconf('SC_CLK_TCK'):.2f} s: short jobs scatter)")
    if both.differing:
        print(f"{both.differing} jobs returned different metrics on the two executors")
    else:
        print("every job returned the same metrics on both")
    return 1 if both.differing else 0


def main(argv: list[str] | None = None) -> int:
    """Run the pairs and print each run, each ratio and their mean with its interval."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--worlds", type=int, default=32)
    parser.add_argument("-r", "--replications", type=int, default=3)
    parser.add_argument("--days", type=int, default=365)
    parser.add_argument("--seed", type=int, default=20220617)
    parser.add_argument("--pairs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2, help="Dask workers, and pool processes")
    parser.add_argument("--nanny", action="store_true", help="start the Dask workers with their nanny")
    parser.add_argument("--dask-defaults", action="store_true",
                        help="leave Dask's housekeeping intervals as they are (not the docs' settings)")
    parser.add_argument("--side-by-side", action="store_true",
                        help="run each job on one Dask worker and one pool worker at once and compare their CPU")
    args = parser.parse_args(argv)
    for name in ("worlds", "replications", "days", "pairs", "workers"):
        if getattr(args, name) < 1:
            parser.error(f"--{name} must be at least 1")
    if shutil.which("dask", path=str(BIN)) is None:
        print("dask_pairs: no `dask` command next to this Python; install the extra: pip install '.[dask]'")
        return 2
    if args.side_by_side:
        return side_by_side(args)
    print(f"dask_pairs: explore --worlds {args.worlds} -r {args.replications} --days {args.days}, "
          f"{args.workers} Dask workers ({'with' if args.nanny else 'without'} nanny, "
          f"{'Dask defaults' if args.dask_defaults else 'the docs housekeeping settings'}) "
          f"against a pool of {args.workers}; {args.pairs} pairs in turn")
    ratios: list[float] = []
    differing = 0
    with tempfile.TemporaryDirectory(prefix="dask-pairs-") as name:
        folder = Path(name)
        for pair in range(1, args.pairs + 1):
            runs: dict[str, Run] = {}
            for step in (run_dask, run_pool) if pair % 2 else (run_pool, run_dask):
                tag = f"{step.__name__}-{pair}"
                run = step(args, folder, tag)
                runs[run.executor] = run
                shutil.rmtree(folder / tag, ignore_errors=True)  # its explore.json is read: the store can go
            ratio = runs["dask"].wall / runs["pool"].wall
            ratios.append(ratio)
            same = runs["dask"].summary == runs["pool"].summary
            differing += not same
            print(f"pair {pair} ({' then '.join(runs)}): ratio {ratio:.3f}; "
                  f"explore.json {'the same' if same else 'DIFFERENT'}")
            for run in runs.values():
                print(f"  {describe(run)}")
    print(f"Dask wall over the pool's, mean of {len(ratios)} pairs: {interval(ratios)} "
          f"(no slower: the mean at or under 1.000)")
    if differing:
        print(f"{differing} pairs gave different explore.json: the executors disagree")
    return 1 if differing else 0


if __name__ == "__main__":
    sys.exit(main())
