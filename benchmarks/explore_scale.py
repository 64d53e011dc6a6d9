"""Wall time of `residency explore` at scale: 200 worlds x the shipped arrangements x 3 replications x 3 years.

What it does: loads the arrangements (default: every file in ``configs/arrangements/``; the
issue's target counts six), samples the worlds over their ranges, and runs every (world,
arrangement, replication) into a fresh results store in a temporary folder, on the local
pool (``--workers``, default the cores) or on a Dask cluster (``--scheduler``), exactly as
the command does; then it builds explore.json (bands, win probabilities, regret, importance,
and PRIM discovery where the ``prim`` package is installed). It prints the tasks run, the
wall time of the runs and of the analysis, tasks per second, the CPU seconds of this process
and its children, the load average before and after (other jobs on a shared machine slow it
down), and, when run smaller than the target, the time the target would take at the
measured rate.

Identical worlds run once (their rows are shared), so with no ranged parameter every world
collapses to one; the rate is then measured on the distinct tasks only.

Usage: ``python benchmarks/explore_scale.py [--worlds N] [--replications R] [--days D]
[--workers K | --scheduler ADDR] [--quick]``. The defaults are the target (200 worlds, 3
replications, 1095 days); ``--quick`` runs 4 worlds of 30 days. It is a report, not a test:
the exit code is 0 whatever the figures.
"""

from __future__ import annotations

import argparse
import os
import resource
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sim.config.loader import load_config  # noqa: E402
from sim.errors import InputError  # noqa: E402
from sim.experiment.discovery import load_prim  # noqa: E402
from sim.experiment.executors import make_executor  # noqa: E402
from sim.experiment.explore import plan, run_exploration  # noqa: E402
from sim.experiment.explore_summary import summarise  # noqa: E402
from sim.results.store import Store  # noqa: E402

TARGET = {"worlds": 200, "arrangements": 6, "replications": 3, "days": 1095}


def cpu_seconds() -> float:
    """Return the CPU seconds of this process and its finished children."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    """Run the exploration once and print its timings."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--worlds", type=int, default=TARGET["worlds"])
    parser.add_argument("--replications", type=int, default=TARGET["replications"])
    parser.add_argument("--days", type=int, default=TARGET["days"])
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--scheduler", default=None)
    parser.add_argument("--seed", type=int, default=20220617)
    parser.add_argument("--quick", action="store_true", help="4 worlds of 30 days")
    parser.add_argument("configs", nargs="*", type=Path)
    args = parser.parse_args()
    if args.quick:
        args.worlds, args.days = 4, 30
    paths = args.configs or sorted((ROOT / "configs" / "arrangements").glob("*.toml"))
    loaded = [load_config(p, [("scenario.days", str(args.days), "--days")]) for p in paths]
    exploration = plan(loaded, args.worlds, args.replications, args.seed)
    distinct = len({p.run_key for p in exploration.points}) * args.replications
    print(f"{args.worlds} worlds x {len(loaded)} arrangements x {args.replications} replications x {args.days} days "
          f"over {len(exploration.dimensions)} ranged parameters: {distinct} distinct tasks")
    load_before = os.getloadavg()
    executor = make_executor(args.workers, args.scheduler)
    with tempfile.TemporaryDirectory() as folder:
        store = Store(Path(folder))
        cpu, started = cpu_seconds(), time.monotonic()
        outcome = run_exploration(exploration, store, executor)
        ran = time.monotonic() - started
        executor.close()
        analysed = time.monotonic()
        try:
            load_prim()
            prim = True
        except InputError:
            prim = False
        document = summarise(exploration, store, "residual_access.events", [], None, prim)
        analysis = time.monotonic() - analysed
        cpu = cpu_seconds() - cpu
        store.close()
    rate = outcome.ran / ran if ran > 0 else 0.0
    print(f"runs: {outcome.ran} tasks in {ran:.1f} s ({rate:.2f} tasks/s); analysis {analysis:.1f} s "
          f"(PRIM {'on' if prim else 'not installed'}); CPU {cpu:.0f} s")
    print(f"load average before {load_before[0]:.1f}, after {os.getloadavg()[0]:.1f} (cores: {os.cpu_count()})")
    target_tasks = TARGET["worlds"] * TARGET["arrangements"] * TARGET["replications"]
    per_task_days = ran / max(outcome.ran, 1) / args.days
    estimate = per_task_days * TARGET["days"] * target_tasks
    print(f"target {TARGET['worlds']} x {TARGET['arrangements']} x {TARGET['replications']} x {TARGET['days']} days "
          f"({target_tasks} tasks) at this rate: about {estimate / 60:.0f} min (target: 10 min)")
    print("conclusion: " + " ".join(document["conclusion"][:2]))


if __name__ == "__main__":
    main()
