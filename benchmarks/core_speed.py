"""Speed and memory of the full model, measured against a bare SimPy M/M/c queue.

What it measures, in one process unless said otherwise:

1. The full model (``run_replication``) on ``configs/validation/mmc.toml`` for a simulated
   year at 60 requests an hour, 10 reviewers and 0.15-hour exponential reviews (utilisation
   0.9, about 525,600 requests). Only the replication is timed, not loading the config.
2. An idiomatic bare SimPy M/M/c queue with the same rates and horizon: a ``simpy.Resource``,
   a source process with exponential gaps from ``random.Random`` (the cheapest scalar draws,
   so the baseline is not slowed by its random numbers), one process per customer using the
   ``with resource.request() as req`` idiom, and waits kept in a running sum.
3. A sanity line: both mean waits against Erlang C (``sim.analytic.mmc_mean_wait``).
4. Peak memory of the model's year, its two-year run, and a year at twice the request rate
   (reviews twice as fast, so the load stays 0.9), each in a fresh child process.
5. Requests per second of a year of ``configs/arrangements/oracle.toml``, if it exists.
6. The fast engine (issue 10, the default) against the event engine and bare SimPy: the
   model's M/M/c year on each engine; ten replications of a year of Oracle against a bare
   SimPy M/M/c serving the same number of requests (load 0.9); one year of every shipped
   arrangement on each engine; and peak memory of the Oracle year and of the event engine's
   M/M/c year, each in a fresh child process.

The compiled kernels (``sim/model/compiled.py``, issue 23) are loaded before anything is
timed, as in a long run or a worker of many runs; the line ``kernels:`` says which, and what
loading them cost once.

How to read it: ``ratio bare/model`` is the bare queue's wall time over the model's on the
same requests; at 1.0 or more the full model is no slower than SimPy's own M/M/c idiom
(target). It is one run of each unless ``--repeat N`` is given (then the best of N); expect
a few per cent of noise between runs. Peak memory is the child's high-water resident set
(``VmHWM`` in /proc/self/status); ``ru_maxrss`` is printed beside it but on Linux it also
carries the parent's resident set at the moment of exec, so it can only be higher. Memory
should stay flat as requests per day double and grow only slightly with simulated days:
the model keeps daily arrays and a fixed histogram, never a list of requests.

Usage: ``python benchmarks/core_speed.py [--quick] [--repeat N] [--seed S] [--profile]``.
``--quick`` shrinks every run to 30 simulated days (a smoke run of a few seconds);
``--profile`` instead prints the model run's 15 hottest functions by own time. The exit
code is 0 whatever the figures (it is a report, not a test) unless something crashes.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import io
import json
import math
import pstats
import random
import resource
import subprocess
import sys
import time
from collections.abc import Generator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import simpy

from sim.config.loader import load_config
from sim.errors import InputError
from sim.experiment.replications import run_replication
from sim.model import compiled
from sim.model.analytic import mmc_mean_wait, mmc_utilisation
from sim.model.batched.fast import Engine

ROOT = Path(__file__).resolve().parent.parent
MMC_CONFIG = ROOT / "configs" / "validation" / "mmc.toml"
ORACLE_CONFIG = ROOT / "configs" / "arrangements" / "oracle.toml"

RATE = 60.0  # requests per hour: about 525,600 in a 365-day year
SERVERS = 10
REVIEW_MEAN = 0.15  # hours; load = 60 * 0.15 / 10 = 0.9
YEAR_DAYS = 365
QUICK_DAYS = 30
HOURS_PER_DAY = 24.0
DEFAULT_SEED = 20220617
SPEED_TARGET = 30.0  # bare time / model time (the fast engine, the default; issue 23)
EVENT_TARGET = 1.0  # bare time / event engine time (the reference engine)
ORACLE_TARGET = 8.0  # bare time / fast engine time, ten Oracle years against as many bare requests
ORACLE_REPLICATIONS = 10
ARRANGEMENTS = ROOT / "configs" / "arrangements"
MEMORY_TARGET_MB = 300.0
WAIT_TOLERANCE = {True: 0.30, False: 0.10}  # relative, by --quick; a sanity check only
CHILD_FLAG = "--child-memory"


@dataclass(frozen=True)
class Timing:
    """One timed run: how many requests, how long it took, and the mean wait it found."""

    label: str
    requests: int
    seconds: float
    mean_wait: float
    cpu: float = math.nan  # the process's CPU seconds over the same span (steadier on a shared machine)

    @property
    def per_second(self) -> float:
        """Return the requests simulated per second of wall time."""
        return self.requests / self.seconds if self.seconds > 0 else float("nan")

    def line(self) -> str:
        """Return 'N requests in X s (Y req/s)'."""
        return f"{self.requests:,} requests in {self.seconds:.2f} s ({self.per_second:,.0f} req/s)"


def mmc_overrides(days: int, rate: float, review_mean: float) -> list[tuple[str, str, str]]:
    """Return the --set overrides that turn mmc.toml into the benchmark's queue.

    A rate above the schema's 100 requests per person-hour is spread over more requesters.
    """
    heads = max(1, math.ceil(rate / 100.0))
    return [
        ("scenario.days", str(days), "--set"),
        ("actors.requesters.headcount", str(heads), "--set"),
        ("actors.requesters.requests_per_hour", repr(rate / heads), "--set"),
        ("gatekeeper.reviewers", str(SERVERS), "--set"),
        ("gatekeeper.review_hours_mean", repr(review_mean), "--set"),
    ]


def time_model(
    path: Path, overrides: Sequence[tuple[str, str, str]], seed: int, label: str,
    engine: Engine = "fast", replications: int = 1,
) -> Timing:
    """Load a config (untimed), then time `replications` replications of the full model on an engine."""
    config = load_config(path, overrides).config
    gc.collect()
    requests, waits = 0, 0.0
    start, cpu = time.perf_counter(), time.process_time()
    for replication in range(replications):
        metrics = run_replication(config, seed, replication, engine).metrics
        requests += int(metrics["requests.submitted"])
        waits += metrics["friction.wait_hours"]
    seconds = time.perf_counter() - start
    return Timing(label, requests, seconds, waits / replications, time.process_time() - cpu)


def bare_mmc(rate: float, review_mean: float, servers: int, hours: float, seed: int) -> Timing:
    """Time SimPy's textbook M/M/c: a Resource, a source and one process per customer."""
    env = simpy.Environment()
    reviewers = simpy.Resource(env, capacity=servers)
    rng = random.Random(seed)
    expovariate = rng.expovariate
    service_rate = 1.0 / review_mean
    arrived = served = 0
    wait_sum = 0.0

    def customer(service: float) -> Generator[Any, Any, None]:
        nonlocal served, wait_sum
        arrival = env.now
        with reviewers.request() as req:
            yield req
            wait_sum += env.now - arrival
            served += 1
            yield env.timeout(service)

    def source() -> Generator[Any, Any, None]:
        nonlocal arrived
        while True:
            yield env.timeout(expovariate(rate))
            arrived += 1
            env.process(customer(expovariate(service_rate)))

    env.process(source())
    gc.collect()
    start, cpu = time.perf_counter(), time.process_time()
    env.run(until=hours)
    seconds = time.perf_counter() - start
    mean_wait = wait_sum / served if served else float("nan")
    return Timing("bare simpy M/M/c", arrived, seconds, mean_wait, time.process_time() - cpu)


def best(runs: list[Timing]) -> Timing:
    """Return the fastest of several runs of the same thing."""
    return min(runs, key=lambda run: run.seconds)


def peak_kib() -> tuple[int, int]:
    """Return this process's (VmHWM, ru_maxrss) in KiB; VmHWM is -1 off Linux."""
    maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]), maxrss
    except OSError:
        pass
    return -1, maxrss


def child_memory(days: int, rate: float, review_mean: float, seed: int, engine: Engine = "fast",
                 oracle: bool = False) -> None:
    """Run the model once in this (fresh) process and print its peak memory as JSON."""
    config = (load_config(ORACLE_CONFIG, [("scenario.days", str(days), "--set")]).config if oracle else
              load_config(MMC_CONFIG, mmc_overrides(days, rate, review_mean)).config)
    before, _ = peak_kib()
    start = time.perf_counter()
    result = run_replication(config, seed, 0, engine)
    seconds = time.perf_counter() - start
    hwm, maxrss = peak_kib()
    print(json.dumps({
        "days": days, "rate": rate, "requests": int(result.metrics["requests.submitted"]),
        "seconds": seconds, "before_kib": before, "hwm_kib": hwm, "maxrss_kib": maxrss,
    }))


@dataclass(frozen=True)
class MemoryRun:
    """A child process measuring the peak memory of one model run."""

    label: str
    process: subprocess.Popen[str]

    def result(self) -> dict[str, Any] | None:
        """Wait for the child; return its figures, or None (and say why) if it failed."""
        out, err = self.process.communicate()
        if self.process.returncode != 0:
            print(f"  {self.label}: child failed (exit {self.process.returncode})\n{err}")
            return None
        figures: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
        return figures


def start_memory_run(label: str, days: int, rate: float, review_mean: float,
                     seed: int, engine: Engine = "fast", oracle: bool = False) -> MemoryRun:
    """Start this script in a child process to measure one run's peak memory."""
    command = [sys.executable, str(Path(__file__).resolve()), CHILD_FLAG,
               str(days), repr(rate), repr(review_mean), "--seed", str(seed), "--child-engine", engine]
    if oracle:
        command.append("--child-oracle")
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                               text=True)
    return MemoryRun(label, process)


def mb(kib: float) -> float:
    """Convert KiB to MB (MiB, as ru_maxrss and VmHWM count)."""
    return kib / 1024.0


def verdict(ok: bool) -> str:
    """Return PASS or MISS."""
    return "PASS" if ok else "MISS"


def profile_model(days: int, seed: int) -> None:
    """Print the 15 hottest functions of one model run, by own time."""
    config = load_config(MMC_CONFIG, mmc_overrides(days, RATE, REVIEW_MEAN)).config
    compiled.load()
    run_replication(config, seed, 1)  # first calls (kernels, caches) left out of the profile
    profiler = cProfile.Profile()
    profiler.enable()
    result = run_replication(config, seed, 0)
    profiler.disable()
    text = io.StringIO()
    pstats.Stats(profiler, stream=text).sort_stats("tottime").print_stats(15)
    print(f"cProfile of the full model, mmc, {days} days, "
          f"{int(result.metrics['requests.submitted']):,} requests (times include profiling "
          "overhead):")
    print(text.getvalue())


def oracle_against_bare(days: int, seed: int, repeat: int) -> float:
    """Time ten Oracle replications on the fast engine and a bare M/M/c on as many requests; return bare/fast."""
    overrides = [("scenario.days", str(days), "--set")]
    runs = [time_model(ORACLE_CONFIG, overrides, seed, "oracle fast", "fast", ORACLE_REPLICATIONS)
            for _ in range(max(1, repeat))]
    fast = best(runs)
    hours = days * HOURS_PER_DAY
    rate = fast.requests / hours
    bare = best([bare_mmc(rate, 0.9 * SERVERS / rate, SERVERS, hours, seed) for _ in range(max(1, repeat))])
    print(f"  oracle x{ORACLE_REPLICATIONS} fast: {fast.line()}")
    print(f"  bare simpy M/M/c, as many requests: {bare.line()}", flush=True)
    return bare.seconds / fast.seconds


def arrangements_on_both_engines(days: int, seed: int) -> list[tuple[str, float]]:
    """Time one replication of every shipped arrangement on each engine; return event/fast per arrangement."""
    ratios = []
    for path in sorted(ARRANGEMENTS.glob("*.toml")):
        overrides = [("scenario.days", str(days), "--set")]
        fast = time_model(path, overrides, seed, path.stem, "fast")
        event = time_model(path, overrides, seed, path.stem, "event")
        print(f"  {path.stem}: fast {fast.line()}; event {event.seconds:.2f} s", flush=True)
        ratios.append((path.stem, event.seconds / fast.seconds))
    return ratios


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    """Parse the command line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--quick", action="store_true",
                        help=f"shrink every run to {QUICK_DAYS} simulated days (smoke run)")
    parser.add_argument("--repeat", type=int, default=1,
                        help="time the model and the bare queue N times each; keep the best")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED, help="random seed")
    parser.add_argument("--profile", action="store_true",
                        help="print the model run's hottest functions instead of benchmarking")
    parser.add_argument(CHILD_FLAG, nargs=3, metavar=("DAYS", "RATE", "MEAN"),
                        help=argparse.SUPPRESS)
    parser.add_argument("--child-engine", choices=("fast", "event"), default="fast", help=argparse.SUPPRESS)
    parser.add_argument("--child-oracle", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


def main(argv: Sequence[str]) -> int:
    """Run the benchmark and print its report."""
    args = parse_args(argv)
    if args.child_memory:
        days, rate, mean = args.child_memory
        child_memory(int(days), float(rate), float(mean), args.seed,
                     "event" if args.child_engine == "event" else "fast", args.child_oracle)
        return 0
    days = QUICK_DAYS if args.quick else YEAR_DAYS
    if args.profile:
        profile_model(days, args.seed)
        return 0
    hours = days * HOURS_PER_DAY
    load = mmc_utilisation(RATE, REVIEW_MEAN, SERVERS)
    print(f"M/M/c: lambda {RATE:g}/h, {SERVERS} reviewers, mean review {REVIEW_MEAN:g} h "
          f"(load {load:.2f}), {days} days, seed {args.seed}"
          + (" [--quick]" if args.quick else ""))
    mmc = mmc_overrides(days, RATE, REVIEW_MEAN)

    # Load the compiled kernels now, as a long run or a worker of many runs does after its first
    # two million reviewed requests (sim/model/compiled.py), and say what that cost once.
    start = time.perf_counter()
    kernels = compiled.load()
    print(f"kernels: {kernels.name}, loaded in {time.perf_counter() - start:.2f} s (once per process)")
    # Warm both paths up (imports, first-call caches) on a day's worth of requests.
    time_model(MMC_CONFIG, mmc_overrides(1, RATE, REVIEW_MEAN), args.seed, "warm-up")
    bare_mmc(RATE, REVIEW_MEAN, SERVERS, HOURS_PER_DAY, args.seed)

    model_runs: list[Timing] = []
    event_runs: list[Timing] = []
    bare_runs: list[Timing] = []
    for _ in range(max(1, args.repeat)):
        model_runs.append(time_model(MMC_CONFIG, mmc, args.seed, "full model mmc"))
        print(f"  full model mmc:   {model_runs[-1].line()}", flush=True)
        event_runs.append(time_model(MMC_CONFIG, mmc, args.seed, "event engine mmc", "event"))
        print(f"  event engine mmc: {event_runs[-1].line()}", flush=True)
        bare_runs.append(bare_mmc(RATE, REVIEW_MEAN, SERVERS, hours, args.seed))
        print(f"  bare simpy M/M/c: {bare_runs[-1].line()}", flush=True)
    model, event, bare = best(model_runs), best(event_runs), best(bare_runs)
    ratio = bare.seconds / model.seconds

    erlang = mmc_mean_wait(RATE, REVIEW_MEAN, SERVERS)
    tolerance = WAIT_TOLERANCE[args.quick]
    print(f"mean wait vs Erlang C {erlang:.4f} h (sanity, tolerance {tolerance:.0%}):")
    for run in (bare, model, event):
        off = run.mean_wait / erlang - 1.0
        print(f"  {run.label + ':':18s} {run.mean_wait:.4f} h ({off:+.1%})  "
              f"{'ok' if abs(off) <= tolerance else 'CHECK'}")

    oracle: Timing | None = None
    oracle_note = ""
    if not ORACLE_CONFIG.exists():
        oracle_note = f"skipped: {ORACLE_CONFIG.relative_to(ROOT)} does not exist yet"
    else:
        try:
            oracle = time_model(ORACLE_CONFIG, [("scenario.days", str(days), "--set")],
                                args.seed, "oracle")
        except InputError as error:
            oracle_note = f"skipped: the config does not load ({error})"
    print(f"oracle {days} days: {oracle.line() if oracle else oracle_note}", flush=True)
    oracle_ratio = oracle_against_bare(days, args.seed, args.repeat) if oracle else None
    engines = arrangements_on_both_engines(days, args.seed)

    print("peak memory, each run in a fresh child process (VmHWM; ru_maxrss in brackets):",
          flush=True)
    doubled = f"{days} d at {2 * RATE:g}/h, review {REVIEW_MEAN / 2:g} h"
    children = [
        start_memory_run(f"{days} d at {RATE:g}/h", days, RATE, REVIEW_MEAN, args.seed),
        start_memory_run(f"{2 * days} d at {RATE:g}/h", 2 * days, RATE, REVIEW_MEAN, args.seed),
        start_memory_run(doubled, days, 2 * RATE, REVIEW_MEAN / 2, args.seed),
        start_memory_run(f"{days} d at {RATE:g}/h, event engine", days, RATE, REVIEW_MEAN, args.seed, "event"),
        start_memory_run(f"oracle {days} d", days, RATE, REVIEW_MEAN, args.seed, oracle=True),
    ]
    peaks: list[dict[str, Any] | None] = []
    for child in children:
        figures = child.result()
        peaks.append(figures)
        if figures is not None:
            print(f"  {child.label + ':':34s} {figures['requests']:>9,} requests, peak "
                  f"{mb(figures['hwm_kib']):6.1f} MB [{mb(figures['maxrss_kib']):6.1f} MB], "
                  f"{mb(figures['before_kib']):.1f} MB before the run")
    year_peak = peaks[0]

    period = "year" if days == YEAR_DAYS else f"{days} days"
    print()
    print(f"bare simpy M/M/c: {bare.line()}")
    print(f"full model mmc:   {model.line()}")
    print(f"event engine mmc: {event.line()}")
    print(f"ratio bare/model: {ratio:.2f} (target >= {SPEED_TARGET:.1f}, the fast engine)  "
          f"{verdict(ratio >= SPEED_TARGET)}")
    cpu_ratio = min(run.cpu for run in bare_runs) / min(run.cpu for run in model_runs)
    print(f"ratio bare/model in CPU time: {cpu_ratio:.2f} (the same runs, each the least CPU of its kind)")
    event_ratio = bare.seconds / event.seconds
    print(f"ratio bare/event: {event_ratio:.2f} (target >= {EVENT_TARGET:.1f}, the event engine)  "
          f"{verdict(event_ratio >= EVENT_TARGET)}")
    print(f"ratio event/fast mmc: {event.seconds / model.seconds:.2f}")
    if oracle_ratio is not None:
        print(f"ratio bare/fast, oracle x{ORACLE_REPLICATIONS}: {oracle_ratio:.2f} "
              f"(target >= {ORACLE_TARGET:.1f})  {verdict(oracle_ratio >= ORACLE_TARGET)}")
    for name, ratio_engines in engines:
        print(f"ratio event/fast {name}: {ratio_engines:.2f}")
    flat = [p for p in peaks if p is not None]
    if len(flat) == len(peaks):
        growth = mb(peaks[2]["hwm_kib"]) / mb(peaks[0]["hwm_kib"])  # type: ignore[index]
        print(f"peak memory as the rate doubles: x{growth:.2f} (flat is about 1)")
        oracle_peak = mb(peaks[4]["hwm_kib"])  # type: ignore[index]
        print(f"peak memory oracle {period}: {oracle_peak:.1f} MB (target < {MEMORY_TARGET_MB:.0f} MB)  "
              f"{verdict(oracle_peak < MEMORY_TARGET_MB)}")
    if year_peak is not None:
        peak = mb(year_peak["hwm_kib"])
        print(f"peak memory mmc {period}: {peak:.1f} MB (target < {MEMORY_TARGET_MB:.0f} MB)  "
              f"{verdict(peak < MEMORY_TARGET_MB)}")
    else:
        print(f"peak memory mmc {period}: not measured (the child failed)")
    print(f"oracle {period}: {oracle.line() if oracle else oracle_note}")
    return 0 if all(figures is not None for figures in peaks) else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
