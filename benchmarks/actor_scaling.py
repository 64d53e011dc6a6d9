"""Time per request as a world grows: actor groups, reviewers and days (a report, not a test).

Each actor group of the chosen arrangement is split into K copies with 1/K of its headcount
(its routes copied with it), so the request stream keeps the same rate and mix while the model
has K times the actor groups to look through. A flat line means no cost grows with the number
of groups; issue 10 asks for time per request within 1.5x from 2 to 100 groups. The same is
done for the number of reviewers (at the same load) and the number of simulated days.

    .venv/bin/python benchmarks/actor_scaling.py             # oracle, 60 days, groups 2..100
    .venv/bin/python benchmarks/actor_scaling.py --days 30   # shorter
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.config.loader import load_config
from sim.config.schema import Config
from sim.experiment.replications import run_replication

ROOT = Path(__file__).resolve().parents[1]
GROUPS = (2, 10, 50, 100)


def split_actors(config: Config, copies: int) -> Config:
    """Return the config with each actor group split into `copies` groups of equal headcount."""
    data: dict[str, Any] = config.model_dump()
    actors: dict[str, Any] = {}
    renames: dict[str, list[str]] = {}
    for name, group in data["actors"].items():
        renames[name] = [f"{name}_{i}" for i in range(copies)]
        for index, new in enumerate(renames[name]):
            part = dict(group)
            part["headcount"] = group["headcount"] // copies + (1 if index < group["headcount"] % copies else 0)
            part["covert_attempts_per_year"] = group["covert_attempts_per_year"] / copies
            part["code_covert_attempts_per_year"] = group["code_covert_attempts_per_year"] / copies
            actors[new] = part
    routes: list[dict[str, Any]] = []
    for route in data["routes"]:
        if route["actor"] in renames:
            routes.extend({**route, "actor": new} for new in renames[route["actor"]])
        else:
            routes.append(route)
    data["actors"] = actors
    data["routes"] = routes
    return Config.model_validate(data)


def seconds_per_request(config: Config, seed: int) -> tuple[float, float]:
    """Run one replication; return (microseconds per request, requests)."""
    start = time.perf_counter()
    result = run_replication(config, seed, 0)
    elapsed = time.perf_counter() - start
    requests = result.metrics["requests.submitted"]
    return 1e6 * elapsed / max(requests, 1.0), requests


def with_days(config: Config, days: int) -> Config:
    """Return the config over another horizon."""
    return config.model_copy(update={"scenario": config.scenario.model_copy(update={"days": days})})


def main(argv: Sequence[str]) -> int:
    """Print time per request against actor groups, reviewers and days."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--arrangement", default="oracle")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=20220617)
    args = parser.parse_args(argv)
    base = with_days(load_config(ROOT / "configs" / "arrangements" / f"{args.arrangement}.toml").config,
                     args.days)
    originals = len(base.actors)
    seconds_per_request(with_days(base, 7), args.seed)  # warm up: imports and first-call caches
    print(f"{args.arrangement}, {args.days} days, seed {args.seed}")
    print(f"{'actor groups':>12}  {'requests':>10}  {'us/request':>10}  {'vs first':>8}")
    first = None
    for groups in GROUPS:
        copies = max(1, groups // originals)
        micro, requests = seconds_per_request(split_actors(base, copies), args.seed)
        first = first or micro
        print(f"{copies * originals:>12}  {requests:>10,.0f}  {micro:>10.2f}  {micro / first:>7.2f}x", flush=True)
    print(f"{'days':>12}  {'requests':>10}  {'us/request':>10}  {'vs first':>8}")
    first = None
    for days in (args.days // 2, args.days, args.days * 2):
        micro, requests = seconds_per_request(with_days(base, days), args.seed)
        first = first or micro
        print(f"{days:>12}  {requests:>10,.0f}  {micro:>10.2f}  {micro / first:>7.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
