"""Sweeps on a real Dask cluster store the same rows as the local pool; missing Dask is a clear error."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from conftest import MMC, Taken, cli_env, run_cli, stored_rows, write_sweep

DASK = str(Path(sys.executable).parent / "dask")

SWEEP = f"""
[sweep]
name = "dask_test"
arrangements = [{json.dumps(str(MMC))}]
design = "grid"
replications = 2
days = 10
outputs = ["friction.wait_hours"]

[[factors]]
path = "gatekeeper.reviewers"
values = [9, 10, 11]

[[factors]]
path = "gatekeeper.review_hours_mean"
values = [0.8, 1.0]
"""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def accepts(port: int) -> bool:
    """Return True if something accepts TCP connections on 127.0.0.1:port."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def stop(process: subprocess.Popen[bytes]) -> None:
    """Terminate a process group this module started, killing it if it does not stop in time."""
    if process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait(timeout=20)


def wait_until(ready: Callable[[], bool], what: str, processes: list[subprocess.Popen[bytes]],
               timeout: float = 60.0) -> None:
    """Poll ready() until it is true; fail if a process dies or time runs out."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if ready():
            return
        for process in processes:
            if process.poll() is not None:
                pytest.fail(f"{process.args!r} exited with {process.returncode} before {what}")
        time.sleep(0.2)
    pytest.fail(f"timed out waiting for {what}")


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """Start a Dask scheduler and one single-threaded worker on localhost; yield the address."""
    logs = tmp_path_factory.mktemp("dask")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    started: list[subprocess.Popen[bytes]] = []
    try:
        with (logs / "scheduler.log").open("wb") as log:
            started.append(subprocess.Popen(
                [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
                stdout=log, stderr=subprocess.STDOUT, cwd=logs, env=cli_env(), start_new_session=True))
        wait_until(lambda: accepts(port), "the scheduler to listen", started)
        worker_log = logs / "worker.log"
        with worker_log.open("wb") as log:
            started.append(subprocess.Popen(
                [DASK, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                stdout=log, stderr=subprocess.STDOUT, cwd=logs, env=cli_env(), start_new_session=True))
        wait_until(lambda: "Registered to" in worker_log.read_text(errors="replace"),
                   "the worker to register", started)
        yield address
    finally:
        for process in reversed(started):
            stop(process)


@pytest.mark.slow
@pytest.mark.unmeasured
def test_dask_cluster_and_local_pool_store_identical_rows(scheduler: str, tmp_path: Path) -> None:
    """The same sweep on a Dask cluster and on two local processes stores the same rows."""
    path = write_sweep(tmp_path, SWEEP)
    on_dask = run_cli("sweep", path, "--out", tmp_path / "dask", "--scheduler", scheduler, "-q")
    assert on_dask.returncode == 0, on_dask.stderr
    local = run_cli("sweep", path, "--out", tmp_path / "local", "--workers", "2", "-q")
    assert local.returncode == 0, local.stderr
    dask_rows, local_rows = sorted(stored_rows(tmp_path / "dask")), sorted(stored_rows(tmp_path / "local"))
    assert len(dask_rows) == 6 * 2
    assert len({(key, rep) for key, rep, _, _ in dask_rows}) == len(dask_rows)
    assert dask_rows == local_rows
    assert "12 rows run, 0 already stored, 12 in all" in on_dask.stderr


@pytest.mark.slow
def test_closed_scheduler_port_is_a_clear_error(tmp_path: Path) -> None:
    """--scheduler at a port nobody listens on exits 2 with a message, not a traceback."""
    path = write_sweep(tmp_path, SWEEP)
    port = free_port()
    result = run_cli("sweep", path, "--out", tmp_path / "out", "--scheduler", f"tcp://127.0.0.1:{port}", "-q")
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert "--scheduler" in message and f"tcp://127.0.0.1:{port}" in message
    assert "no Dask scheduler answered" in message and "Fix:" in message
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
def test_scheduler_without_dask_installed_says_to_install_the_extra(tmp_path: Path) -> None:
    """With `distributed` unimportable, --scheduler exits 2 telling the user to install the dask extra."""
    fake = tmp_path / "fake" / "distributed"
    fake.mkdir(parents=True)
    (fake / "__init__.py").write_text('raise ImportError("distributed is hidden by the test")\n', encoding="utf-8")
    path = write_sweep(tmp_path, SWEEP)
    pythonpath = os.pathsep.join(filter(None, [str(fake.parent), os.environ.get("PYTHONPATH")]))
    result = subprocess.run(
        [str(Path(sys.executable).parent / "residency"), "sweep", str(path), "--out", str(tmp_path / "out"),
         "--scheduler", "tcp://127.0.0.1:1", "-q"],
        env=cli_env(PYTHONPATH=pythonpath), capture_output=True, text=True, timeout=120, check=False,
    )
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert "Dask is not installed" in message
    assert "pip install '.[dask]'" in message


@pytest.mark.slow
def test_a_failed_dask_task_is_one_paragraph_naming_its_log(
    scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An exception in a task on a Dask worker becomes an InputError naming the log of its traceback."""
    import tempfile

    from sim.config.loader import load_config
    from sim.errors import InputError
    from sim.experiment.executors import DaskExecutor, Job

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    config = load_config(MMC).config
    executor = DaskExecutor(scheduler)
    try:
        with pytest.raises(InputError) as failed:
            list(executor.map(int, [Job(0, config, 1, 0)]))  # int() refuses the task's arguments: a stand-in bug
    finally:
        executor.close()
    [log] = tmp_path.glob("residency-worker-error-*.log")
    assert str(log) in failed.value.paragraph() and "TypeError" in log.read_text(encoding="utf-8")


@pytest.mark.slow
def test_dask_takes_jobs_only_as_the_cluster_frees_up_and_runs_short_ones_several_to_a_task(scheduler: str) -> None:
    """The Dask executor keeps a few tasks per worker thread submitted, not every job; short jobs share tasks.

    The first task runs one job; once its time is known, a task takes as many one-day runs as
    fill about DASK_TASK_SECONDS (at most DASK_MOST_JOBS), so there are far fewer tasks than jobs, and
    every job's result still comes back once.
    """
    from sim.config.loader import load_config
    from sim.experiment.executors import DASK_MOST_JOBS, IN_FLIGHT_PER_WORKER, DaskExecutor, Job
    from sim.experiment.sweep import run_metrics

    config = load_config(MMC, [("scenario.days", "1", "--days")]).config
    jobs = Taken([Job(i, config, 1, i) for i in range(600)])
    executor = DaskExecutor(scheduler)
    seen = []
    try:
        for count, (job, _) in enumerate(executor.map(run_metrics, jobs), start=1):
            # the module's cluster has one worker thread: at most IN_FLIGHT_PER_WORKER tasks are in flight, besides
            # the one whose results are being given; the bound is well under the 600 jobs
            assert jobs.read <= (IN_FLIGHT_PER_WORKER * 1 + 1) * DASK_MOST_JOBS + count
            seen.append(job.tag)
    finally:
        executor.close()
    assert sorted(seen) == list(range(600))
    assert executor.tasks < 600 / 4


def test_a_dask_tasks_failed_job_carries_the_results_of_the_jobs_before_it() -> None:
    """A task runs its jobs in turn; when one fails, its exception carries the earlier jobs' results, pickled."""
    import pickle

    from sim.experiment.executors import DONE_BEFORE_FAILURE, run_pickled

    payload = pickle.dumps([("4", 1, 0), ("5", 1, 1), ("not a number", 1, 2), ("7", 1, 3)])
    with pytest.raises(ValueError) as failed:
        run_pickled(lambda config, seed, replication: int(config) * 10 + replication, payload)
    assert pickle.loads(getattr(failed.value, DONE_BEFORE_FAILURE)) == [40, 51]
    results, seconds = pickle.loads(run_pickled(lambda config, seed, replication: int(config), pickle.dumps(
        [("4", 1, 0), ("5", 1, 1)])))
    assert results == [4, 5] and seconds >= 0.0


def test_an_input_error_pickles_whole_with_what_it_carries() -> None:
    """An InputError raised in a worker reaches the command with its four fields and any attribute added."""
    import pickle

    from sim.errors import InputError

    error = InputError("a.toml", "actors.x", "It is wrong.", "Make it right.")
    error.note = "kept"  # type: ignore[attr-defined]
    back = pickle.loads(pickle.dumps(error))
    assert (back.source, back.key, back.problem, back.fix) == ("a.toml", "actors.x", "It is wrong.", "Make it right.")
    assert back.paragraph() == error.paragraph() == str(back) and back.note == "kept"


@pytest.mark.slow
def test_a_failed_job_in_a_dask_task_of_several_keeps_the_results_before_it(
    scheduler: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The jobs that ran before a failed one in the same task are given back before the error, none lost.

    On one worker thread the tasks run in turn, so every job submitted before the failed one
    finishes first: whether it shared the failed job's task or not, its result must come back.
    """
    import tempfile

    from sim.config.loader import load_config
    from sim.errors import InputError
    from sim.experiment.executors import DaskExecutor, Job
    from sim.experiment.sweep import run_metrics

    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    config = load_config(MMC, [("scenario.days", "1", "--days")]).config
    bad = 30  # a negative seed: numpy refuses it when the run draws, a stand-in bug in the middle of a task
    jobs = [Job(i, config, -1 if i == bad else 1, i) for i in range(40)]
    executor = DaskExecutor(scheduler)
    seen = []
    try:
        with pytest.raises(InputError) as failed:
            for job, _ in executor.map(run_metrics, jobs):
                seen.append(job.tag)
    finally:
        executor.close()
    assert set(range(bad)) <= set(seen) and bad not in seen
    assert executor.tasks < bad  # some task ran several jobs
    assert "replication 30 of" in failed.value.paragraph() and "ValueError" in failed.value.paragraph()
