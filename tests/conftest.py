"""Shared paths, an event-logging observer and helpers to write configs and run the CLI."""

from __future__ import annotations

import contextlib
import io
import os
import shutil
import sqlite3
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any, overload

import coverage
import pytest

from sim.config.schema import Config
from sim.experiment.executors import Job, LocalExecutor
from sim.metrics.recorder import GateLedger
from sim.model.rulebook.events import (
    Accessed,
    CovertAttempt,
    Decided,
    Event,
    Held,
    ReviewStarted,
    Shielded,
    Submitted,
    Transferred,
)

ROOT = Path(__file__).resolve().parents[1]
MMC = ROOT / "configs" / "validation" / "mmc.toml"
FACTS = ROOT / "seeds" / "facts.toml"
CLI_TIMEOUT = 300

Entry = tuple[object, ...]


class LogObserver:
    """Record the model's request events as plain tuples, in the order they are reported."""

    def __init__(self) -> None:
        self.log: list[Entry] = []
        self.days: list[tuple[int, float]] = []
        self.events: list[Event] = []
        self.gate = GateLedger()

    def notify(self, event: Event) -> None:
        """Keep the event, tally the gate's bookkeeping, and log request events as tuples."""
        self.events.append(event)
        self.gate.notify(event)
        match event:
            case Submitted(t, request):
                self.log.append(("submitted", t, request.number))
            case ReviewStarted(t, request, wait):
                self.log.append(("review_started", t, request.number, wait))
            case Decided(t, request, outcome, reason):
                self.log.append(("decided", t, request.number, outcome, reason))
            case Accessed():
                self.log.append(("accessed", event.t, event.actor, event.site, event.data_class,
                                 event.channel))
            case Shielded(t, actor, how):
                self.log.append(("shielded", t, actor, how))
            case CovertAttempt(t, actor):
                self.log.append(("covert_attempt", t, actor))
            case Held(_, day, abroad_records):
                # Kept apart from the log: they arrive every simulated day.
                self.days.append((day, abroad_records))
            case Transferred(t, source, target, records):
                self.log.append(("transfer", t, source, target, records))
            case _:
                pass  # queue positions and the gate's bookkeeping: the timelines assert on ledgers


def split_groups(config: Config, copies: int = 3) -> Config:
    """Return the config with each actor group split into `copies` alike groups, their routes copied with them."""
    actors = {f"{name}_{i}": spec for name, spec in config.actors.items() for i in range(copies)}
    routes = tuple(route.model_copy(update={"actor": f"{route.actor}_{i}"}) for route in config.routes
                   for i in (range(copies) if route.actor in config.actors else ()))
    routes += tuple(route for route in config.routes if route.actor not in config.actors)
    return config.model_copy(update={"actors": actors, "routes": routes})


def write_config(tmp_path: Path, text: str, name: str = "config.toml") -> Path:
    """Write a TOML config into tmp_path beside a copy of the fact base, and return its path."""
    seeds = tmp_path / "seeds"
    seeds.mkdir(exist_ok=True)
    if not (seeds / "facts.toml").exists():
        shutil.copyfile(FACTS, seeds / "facts.toml")
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def residency_executable() -> str:
    """Return the installed `residency` console script, preferring the running venv's."""
    beside = Path(sys.executable).parent / "residency"
    if beside.is_file():
        return str(beside)
    found = shutil.which("residency")
    if found is None:
        pytest.fail("the `residency` console script is not installed (pip install -e .)")
    return found


def parallel_workers() -> int:
    """Return how many CLI processes to run at once: the usable cores, at least two."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        cores = os.cpu_count() or 1
    return max(2, cores)


def run_cli(*args: object, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run `residency ARGS...` from the project folder and capture its output as text."""
    env = {**os.environ, "NO_COLOR": "1", "TERM": "dumb"}
    return subprocess.run(
        [residency_executable(), *map(str, args)], cwd=cwd, env=env, capture_output=True,
        text=True, timeout=CLI_TIMEOUT, check=False,
    )


@pytest.fixture
def mmc_path() -> Path:
    """Return the path of the M/M/c validation config."""
    return MMC


@pytest.fixture
def log_observer() -> LogObserver:
    """Return a fresh event-logging observer."""
    return LogObserver()


ARRANGEMENTS = ROOT / "configs" / "arrangements"


def cli_env(**extra: str) -> dict[str, str]:
    """Return the environment the CLI helpers run `residency` in: plain text, no colour."""
    return {**os.environ, "NO_COLOR": "1", "TERM": "dumb", **extra}


def main_in_process(*args: object, cwd: Path | None = None, merged: bool = False) -> subprocess.CompletedProcess[str]:
    """Run the CLI through main() in this process (no start-up per command), as run_cli returns it.

    `merged`: stdout and stderr go into one text, in the order written (returned as stdout).
    """
    from sim.cli import main

    out = io.StringIO()
    err = out if merged else io.StringIO()
    previous = Path.cwd()
    if cwd is not None:
        os.chdir(cwd)
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main([str(a) for a in args])
        code = 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    finally:
        os.chdir(previous)
    return subprocess.CompletedProcess([str(a) for a in args], code, out.getvalue(), "" if merged else err.getvalue())


def popen_cli(*args: object, cwd: Path = ROOT) -> subprocess.Popen[str]:
    """Start `residency ARGS...` in the background, in its own session, with pipes for its output."""
    return subprocess.Popen(
        [residency_executable(), *map(str, args)], cwd=cwd, env=cli_env(), stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True, start_new_session=True,
    )


def write_sweep(folder: Path, text: str, name: str = "sweep.toml") -> Path:
    """Write a sweep file into folder and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def stored_rows(folder: Path) -> list[tuple[str, int, int, str]]:
    """Return the (run_key, replication, point, metrics JSON) rows of a folder's results.db."""
    import sqlite3

    db = sqlite3.connect(folder / "results.db", timeout=30.0)
    try:
        return list(db.execute("SELECT run_key, replication, point, metrics FROM rows"))
    finally:
        db.close()


SMALL_COMPARE = ("status_quo", "oracle", "microsoft")


@pytest.fixture(scope="session")
def small_compare(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return a read-only results folder of a small real comparison (3 arrangements, 3 replications, 150 days)."""
    folder = tmp_path_factory.mktemp("small_compare") / "results"
    result = run_cli("compare", *(ROOT / "configs" / "arrangements" / f"{name}.toml" for name in SMALL_COMPARE),
                     "-r", "3", "--days", "150", "--out", folder, "--workers", "2", "-q")
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


def committed(folder: Path) -> int:
    """Return how many rows a folder's results.db holds now (0 while it or its tables do not exist yet).

    The database is opened read-only, so asking never creates it under a running command.
    """
    try:
        db = sqlite3.connect(f"file:{folder / 'results.db'}?mode=ro", uri=True, timeout=5.0)
        try:
            return int(db.execute("SELECT count(*) FROM rows").fetchone()[0])
        finally:
            db.close()
    except sqlite3.Error:
        return 0


#: The variables through which coverage measures the processes a test starts (`patch = ["subprocess"]`).
COVERAGE_VARIABLES = ("COVERAGE_PROCESS_CONFIG", "COVERAGE_PROCESS_START")


def _pause_coverage() -> list[coverage.Coverage]:
    """Stop every coverage measurement running in this process and return them, latest first.

    An xdist worker runs more than one: pytest-cov's own, and the one coverage starts in every Python
    process it patches (the worker is such a process), which takes over again when the latest stops.
    """
    stopped = []
    while (running := coverage.Coverage.current()) is not None:
        running.stop()
        stopped.append(running)
    return stopped


@pytest.hookimpl(wrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None) -> object:
    """Run a test marked `unmeasured` without coverage's tracer, in this process and in those it starts.

    The mark is for tests whose work other tests already measure line by line, or which coverage cannot
    measure: the engines' agreement and the model's properties run the same lines many times over (the
    tracer about triples their time), whole documented sessions (tutorials, notebooks, the site build)
    re-run commands the CLI tests measure, and a process killed with SIGKILL never writes its data. The
    pause covers the test's set-up too, so a module fixture it is first to use runs unmeasured as well.
    """
    if not item.get_closest_marker("unmeasured"):
        return (yield)
    saved = {name: os.environ.pop(name) for name in COVERAGE_VARIABLES if name in os.environ}
    stopped = _pause_coverage()
    try:
        return (yield)
    finally:
        for measurement in reversed(stopped):
            measurement.start()
        os.environ.update(saved)


class Sizing(LocalExecutor):
    """A local executor (in this process, for one worker) that records how many runs each task it is given holds."""

    def __init__(self, workers: int = 1, slots: int | None = None) -> None:
        super().__init__(workers)
        self.sizes: list[int] = []
        self.claimed = slots

    def map(self, fn: Any, jobs: Any) -> Any:
        self.sizes.extend(len(job.tag) for job in jobs)
        return super().map(fn, jobs)

    def slots(self) -> int:
        return self.claimed if self.claimed is not None else super().slots()


class Taken(Sequence[Job]):
    """Jobs that remember how far they were read."""

    def __init__(self, jobs: list[Job]) -> None:
        self.jobs, self.read = jobs, 0

    def __len__(self) -> int:
        return len(self.jobs)

    @overload
    def __getitem__(self, index: int) -> Job: ...

    @overload
    def __getitem__(self, index: slice) -> list[Job]: ...

    def __getitem__(self, index: int | slice) -> Job | list[Job]:
        if isinstance(index, slice):
            return self.jobs[index]
        self.read = max(self.read, index + 1)
        return self.jobs[index]
