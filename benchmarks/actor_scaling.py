"""Time per request as a world grows: actor groups, reviewers and days (a report, not a test).

Each actor group of the chosen arrangement is split into K copies with 1/K of its headcount
(its routes copied with it), so the request stream keeps the same rate and mix while the model
has K times the actor groups to look through. A flat line means no cost grows with the number
of groups; issue 10 asks for time per request within 1.5x from 2 to 100 groups. The same is
done for the number of reviewers (headcount scaled with them, so the load stays the same) and
the number of simulated days. Each table is printed for the fast engine (the default) and the
event engine (`World`, the reference), so the two can be read side by side.

Over 60 days (the default) a run of 100 groups is a few milliseconds, most of it building each
group; issue 23's figures (1.88 to 2.06 times at 100 groups) and its target (1.3 times) were
measured over 365 and 1,095 days, where a run settles 50,000 to 150,000 requests. The compiled
kernels are loaded at once (`--kernels numba`, as a worker has them once it has settled a few
runs), or never (`--kernels python`, the path without Numba); the header says which ran.

    .venv/bin/python benchmarks/actor_scaling.py                  # oracle, 60 days, both engines
    .venv/bin/python benchmarks/actor_scaling.py --days 30        # shorter
    .venv/bin/python benchmarks/actor_scaling.py --engine fast --days 365     # issue 23's horizons
    .venv/bin/python benchmarks/actor_scaling.py --engine fast --days 1095 --kernels python
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from sim.config.loader import load_config
from sim.config.schema import Config
from sim.experiment.memory import settle_heap
from sim.experiment.replications import run_replication
from sim.model import compiled
from sim.model.batched.fast import ENGINES, Engine
from sim.model.rng import Streams
from sim.model.rulebook.draws import REQUEST_NORMALS, REQUEST_UNIFORMS

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


def seconds_per_request(config: Config, seed: int, engine: Engine) -> tuple[float, float]:
    """Run one replication; return (microseconds of CPU per request, requests)."""
    start = time.process_time()
    result = run_replication(config, seed, 0, engine=engine)
    elapsed = time.process_time() - start
    requests = result.metrics["requests.submitted"]
    return 1e6 * elapsed / max(requests, 1.0), requests


def with_days(config: Config, days: int) -> Config:
    """Return the config over another horizon."""
    return config.model_copy(update={"scenario": config.scenario.model_copy(update={"days": days})})


def with_reviewers(config: Config, factor: int) -> Config:
    """Return the config with `factor` times the reviewers and the headcount (the same load)."""
    gate = config.gatekeeper
    assert gate is not None, "the reviewer table needs an arrangement with a steward gate"
    actors = {name: spec.model_copy(update={"headcount": spec.headcount * factor})
              for name, spec in config.actors.items()}
    return config.model_copy(update={"gatekeeper": gate.model_copy(update={"reviewers": gate.reviewers * factor}),
                                     "actors": actors})


def draw_streams(groups: int, rows: int, seed: int) -> None:
    """Make and draw what `groups` actor groups' own streams give a run of `rows` requests each.

    Five generators a group (arrivals, the request uniforms and normals, the route stream and a
    covert mode's arrivals), their first draws, and one batch's draws into the group's rows, as
    the fast engine makes them: what a group costs whatever else the engine shares.
    """
    streams = Streams(seed, 0)
    parts = ("arrivals", "request.u", "request.z", "request.route", "covert.arrivals", "covert.u", "covert.z")
    streams.prepare([f"actor.g{k}.{part}" for k in range(groups) for part in parts])
    u, z, route = np.empty((groups * rows, REQUEST_UNIFORMS)), np.empty((groups * rows, REQUEST_NORMALS)), np.empty(
        groups * rows)
    for k in range(groups):
        gaps = streams.rng(f"actor.g{k}.arrivals").standard_exponential
        gaps(1)
        gaps(rows + 16)
        streams.exponential(f"actor.g{k}.covert.arrivals").next()
        a, b = k * rows, (k + 1) * rows
        streams.rng(f"actor.g{k}.request.u").random(out=u[a:b])
        streams.rng(f"actor.g{k}.request.z").standard_normal(out=z[a:b])
        streams.rng(f"actor.g{k}.request.route").random(out=route[a:b])


def streams_floor(requests: float, first_ms: float, groups: int, seed: int, repeat: int) -> None:
    """Print what each group's own streams cost alone, and the ratio they set for `groups` groups against 2.

    Common random numbers need each group's own streams (two arrangements that share a group
    see the same draws), so this is a floor for the actor-group ratio while that holds.
    """
    times: dict[int, list[float]] = {groups: [], 2: []}
    for _ in range(max(repeat, 5) * 10):
        for count in times:
            start = time.process_time()
            draw_streams(count, int(requests // count), seed)
            times[count].append(1e3 * (time.process_time() - start))
    many, two = statistics.median(times[groups]), statistics.median(times[2])
    print(f"{'':>12}  each group's own streams alone: {many:.2f} ms for {groups} groups, {two:.2f} ms for 2 "
          f"(a floor of {(first_ms + many - two) / first_ms:.2f}x for {groups} groups over this horizon)")


def table(title: str, rows: Sequence[tuple[int, Config]], seed: int, engine: Engine, repeat: int) -> float:
    """Print CPU microseconds per request for each (size, config), and each row against the first.

    Each row is run `repeat` times, the rows taking turns (so that a slow spell of the machine
    falls on all of them), and its median is printed: one run each, the first row also paid
    for the process's first-call costs and garbage collections fell where they happened to.
    """
    print(f"{title:>12}  {'requests':>10}  {'us/request':>10}  {'vs first':>8}")
    times: list[list[float]] = [[] for _ in rows]
    requests = [0.0] * len(rows)
    for _ in range(repeat):
        for i, (_, config) in enumerate(rows):
            micro, requests[i] = seconds_per_request(config, seed, engine)
            times[i].append(micro)
    first = statistics.median(times[0])
    for (size, _), samples, count in zip(rows, times, requests, strict=True):
        micro = statistics.median(samples)
        print(f"{size:>12}  {count:>10,.0f}  {micro:>10.2f}  {micro / first:>7.2f}x", flush=True)
    return first * requests[0] / 1e3  # the first row's milliseconds per run


def main(argv: Sequence[str]) -> int:
    """Print time per request against actor groups, reviewers and days, for each engine."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--arrangement", default="oracle")
    parser.add_argument("--days", type=int, default=60)
    parser.add_argument("--seed", type=int, default=20220617)
    parser.add_argument("--engine", choices=ENGINES, action="append",
                        help="an engine to measure (repeatable; default both)")
    parser.add_argument("--repeat", type=int, default=5, help="runs of each row, taking turns (the median is shown)")
    parser.add_argument("--kernels", choices=("numba", "python"), default="numba",
                        help="load the compiled kernels at once (default; Python's if Numba is missing), or never")
    args = parser.parse_args(argv)
    os.environ[compiled.SWITCH] = "1" if args.kernels == "numba" else "0"
    kernels = compiled.load().name
    base = with_days(load_config(ROOT / "configs" / "arrangements" / f"{args.arrangement}.toml").config,
                     args.days)
    originals = len(base.actors)
    for engine in args.engine or ENGINES:
        seconds_per_request(with_days(base, 7), args.seed, engine)  # warm up: imports and first-call caches
        settle_heap()  # as the executors do before running replications (the CLI's own process, or each worker)
        print(f"\n{args.arrangement}, {args.days} days, seed {args.seed}, {engine} engine, {kernels} kernels, "
              f"CPU medians of {args.repeat} runs")
        copies = [max(1, groups // originals) for groups in GROUPS]
        first_ms = table("actor groups", [(c * originals, split_actors(base, c)) for c in copies], args.seed, engine,
                         args.repeat)
        requests = run_replication(base, args.seed, 0, engine=engine).metrics["requests.submitted"]
        streams_floor(requests, first_ms, copies[-1] * originals, args.seed, args.repeat)
        if base.gatekeeper is not None:
            table("reviewers", [(base.gatekeeper.reviewers * k, with_reviewers(base, k)) for k in (1, 2, 4)],
                  args.seed, engine, args.repeat)
        table("days", [(d, with_days(base, d)) for d in (args.days // 2, args.days, args.days * 2)],
              args.seed, engine, args.repeat)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
