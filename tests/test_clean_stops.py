"""A stopped command leaves no lock and no empty folder; a failed worker is one paragraph and a log."""

from __future__ import annotations

import os
import signal
import tempfile
import time
from pathlib import Path

import pytest
from conftest import MMC, main_in_process, popen_cli

from sim.config.loader import load_config
from sim.errors import InputError
from sim.experiment.executors import Job, LocalExecutor
from sim.results.atomic import LOCK_NAME, FolderLock, prepare_folder, release_all


def test_a_released_lock_removes_the_empty_folders_it_created(tmp_path: Path) -> None:
    """A folder (and its parents) made for output and left empty goes with the lock; one with files stays."""
    empty = tmp_path / "a" / "b"
    FolderLock(prepare_folder(empty))
    release_all()
    assert not (tmp_path / "a").exists()
    kept = tmp_path / "kept"
    lock = FolderLock(prepare_folder(kept))
    (kept / "summary.json").write_text("{}")
    lock.close()
    assert sorted(p.name for p in kept.iterdir()) == ["summary.json"]
    existing = tmp_path / "existing"
    existing.mkdir()
    FolderLock(prepare_folder(existing)).close()
    assert existing.is_dir()  # a folder the user made is never removed


@pytest.mark.slow
@pytest.mark.parametrize("command", [
    # Long enough (tens of seconds) that the stop, half a second after the lock, lands while replications run.
    ("compare", "status_quo", "oracle", "--days", "3650", "-r", "40", "--workers", "1", "-q"),
    ("attribute", "oracle", "--days", "3650", "-r", "10", "--workers", "1", "-q"),
    ("run", "oracle", "--days", "3650", "-r", "40", "--workers", "1", "-q"),
], ids=["compare", "attribute", "run"])
def test_ctrl_c_leaves_no_lock_and_no_empty_folder(tmp_path: Path, command: tuple[str, ...]) -> None:
    """Ctrl-C while replications run: exit 130, no lock file, and the new output folder is gone."""
    out = tmp_path / "new" / "out"
    process = popen_cli(*command, "--out", out, cwd=tmp_path)
    deadline = time.monotonic() + 60
    while not (out / LOCK_NAME).exists() and process.poll() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(0.5)
    assert process.poll() is None, process.communicate()
    os.kill(process.pid, signal.SIGINT)
    _, stderr = process.communicate(timeout=60)
    assert process.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    assert not (tmp_path / "new").exists(), sorted(str(p) for p in tmp_path.rglob("*"))


@pytest.mark.parametrize("command", ["compare", "run"])
@pytest.mark.parametrize("stop_at", [1, 4])
def test_a_stop_while_files_are_written_leaves_no_temporary_file_and_no_new_folder(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, command: str, stop_at: int) -> None:
    """Ctrl-C while files are written (the new folder's write probe, then a staged result): exit 130 with a
    message, and nothing of the new folder stays."""
    written = Path.write_bytes
    calls: list[Path] = []

    def write_bytes(path: Path, data: bytes) -> int:
        calls.append(path)
        if len(calls) == stop_at:
            raise KeyboardInterrupt
        return written(path, data)

    monkeypatch.setattr(Path, "write_bytes", write_bytes)
    configs = ["status_quo", "oracle"] if command == "compare" else ["oracle"]
    stopped = main_in_process(command, *configs, "--days", "20", "-r", "1", "-q", "--out", tmp_path / "new" / "out")
    assert len(calls) == stop_at
    assert stopped.returncode == 130 and "interrupted" in stopped.stderr, stopped.stderr
    assert not (tmp_path / "new").exists(), sorted(str(p) for p in tmp_path.rglob("*"))


def test_a_stop_no_command_handles_still_says_interrupted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """typer turns an unhandled KeyboardInterrupt into a silent exit 130; main says what happened."""
    def stop(*_: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr("sim.cli.core.print_summary", stop)
    stopped = main_in_process("run", "oracle", "--days", "20", "-r", "1", "-q", "--out", tmp_path / "out")
    assert stopped.returncode == 130 and "interrupted" in stopped.stderr, stopped.stderr
    assert (tmp_path / "out" / "summary.json").exists()  # written before the stop: kept


@pytest.mark.slow
def test_a_failed_worker_is_one_paragraph_naming_its_log(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """An exception in a pool worker becomes an InputError naming the log that holds the whole traceback."""
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    config = load_config(MMC).config
    jobs = [Job(i, config, 1, i) for i in range(2)]
    with pytest.raises(InputError) as failed:
        list(LocalExecutor(2).map(int, jobs))  # int() refuses the task's arguments: a stand-in for a bug
    message = failed.value.paragraph()
    assert "\n" not in message and "TypeError" in message
    [log] = tmp_path.glob("residency-worker-error-*.log")
    assert str(log) in message
    text = log.read_text(encoding="utf-8")
    assert "Traceback" in text and "TypeError" in text


@pytest.mark.slow
def test_a_failed_workers_log_goes_into_the_output_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With an output folder, the failed task's log is written there and nothing into the temporary folder."""
    system_temp = tmp_path / "system-temp"
    system_temp.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(system_temp))
    config = load_config(MMC).config
    out = tmp_path / "out"
    with pytest.raises(InputError) as failed:
        list(LocalExecutor(2, log_folder=out).map(int, [Job(i, config, 1, i) for i in range(2)]))
    [log] = out.glob("worker-error-*.log")
    assert str(log) in failed.value.paragraph() and "TypeError" in log.read_text(encoding="utf-8")
    assert not list(system_temp.iterdir())


def test_pool_workers_ignore_ctrl_c_from_their_first_instruction() -> None:
    """Workers started inside the guard are born with SIGINT ignored (before any initializer), the parent's
    handler is restored after it: Ctrl-C during a worker's start-up prints no traceback from its bootstrap."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    from sim.experiment.executors import workers_born_ignoring_ctrl_c

    before = signal.getsignal(signal.SIGINT)
    with workers_born_ignoring_ctrl_c():
        pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
        future = pool.submit(signal.getsignal, signal.SIGINT)  # no initializer: what the worker was born with
    with pool:
        assert future.result(timeout=60) == signal.SIG_IGN
    assert signal.getsignal(signal.SIGINT) == before


def _worker_pid(config: object, seed: int, replication: int, engine: str = "fast") -> int:
    """A task that says which process ran it."""
    return os.getpid()


def _worker_fails(config: object, seed: int, replication: int, engine: str = "fast") -> int:
    """A task that fails like a bug in a worker."""
    raise ValueError("a stand-in for a bug")


@pytest.mark.slow
def test_a_kept_pool_starts_its_workers_once_and_a_failed_map_gives_it_up(tmp_path: Path) -> None:
    """With keep_pool, a second map runs on the same worker processes; a failure stops them, the next map
    starts new ones, and close stops the kept workers. Without keep_pool each map has its own."""
    config = load_config(MMC).config
    jobs = [Job(i, config, 1, i) for i in range(6)]
    executor = LocalExecutor(2, log_folder=tmp_path, keep_pool=True)
    try:
        first = {pid for _, pid in executor.map(_worker_pid, jobs)}
        second = {pid for _, pid in executor.map(_worker_pid, jobs)}
        assert first == second and os.getpid() not in first
        with pytest.raises(InputError):
            list(executor.map(_worker_fails, jobs))
        third = {pid for _, pid in executor.map(_worker_pid, jobs)}
        assert not third & first
    finally:
        executor.close()
    for pid in third:  # close waited for them: none is left running
        assert not Path(f"/proc/{pid}").exists() or "zombie" in Path(f"/proc/{pid}/status").read_text().lower()
    alone = LocalExecutor(2)
    assert not {pid for _, pid in alone.map(_worker_pid, jobs)} & {pid for _, pid in alone.map(_worker_pid, jobs)}
