"""A sweep killed or interrupted mid-run keeps its committed rows and resumes to the same result."""

from __future__ import annotations

import json
import os
import re
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import pytest
from conftest import MMC, committed, popen_cli, run_cli, stored_rows, write_sweep

POINTS, REPLICATIONS = 10, 4

# 40 tasks of about 0.1 s each (M/M/c queue, 400 days; the fast engine settles a year in about 0.1 s):
# several seconds in one process, so a stop lands while tasks run.
SWEEP = f"""
[sweep]
name = "resume_test"
arrangements = [{json.dumps(str(MMC))}]
design = "grid"
replications = {REPLICATIONS}
days = 400
outputs = ["friction.wait_hours"]

[[factors]]
path = "gatekeeper.reviewers"
values = [9, 10, 11, 12, 13]

[[factors]]
path = "gatekeeper.review_hours_mean"
values = [0.8, 1.0]
"""

pytestmark = pytest.mark.slow  # every test here runs and kills real sweeps



def wait_for_rows(process: subprocess.Popen[str], folder: Path, at_least: int, timeout: float = 60.0) -> int:
    """Poll results.db until at least `at_least` rows are committed; fail if the run ends first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        count = committed(folder)
        if count >= at_least:
            return count
        if process.poll() is not None:
            pytest.fail(f"the sweep ended before {at_least} rows were committed: {process.communicate()}")
        time.sleep(0.03)
    process.kill()
    pytest.fail(f"fewer than {at_least} rows after {timeout} s")


def row_set(folder: Path) -> list[tuple[str, int, int, str]]:
    """Return the stored (run_key, replication, point, metrics) rows, sorted."""
    return sorted(stored_rows(folder))


def assert_complete(rows: list[tuple[str, int, int, str]]) -> None:
    """Check a finished sweep: every (point, replication) once, no (run_key, replication) twice."""
    assert len(rows) == POINTS * REPLICATIONS
    assert len({(key, rep) for key, rep, _, _ in rows}) == len(rows)
    assert {(point, rep) for _, rep, point, _ in rows} == {
        (p, r) for p in range(POINTS) for r in range(REPLICATIONS)}


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[tuple[str, int, int, str]]]:
    """Run the sweep uninterrupted (two workers) and return its file and its rows."""
    folder = tmp_path_factory.mktemp("reference")
    path = write_sweep(folder, SWEEP)
    result = run_cli("sweep", path, "--out", folder / "out", "--workers", "2", "-q")
    assert result.returncode == 0, result.stderr
    rows = row_set(folder / "out")
    assert_complete(rows)
    return path, rows


@pytest.mark.unmeasured
def test_sigkill_loses_no_committed_row_and_resume_matches_an_uninterrupted_run(
    tmp_path: Path, reference: tuple[Path, list[tuple[str, int, int, str]]],
) -> None:
    """SIGKILL mid-sweep leaves a readable database; rerunning completes it to the reference rows."""
    path, expected = reference
    out = tmp_path / "out"
    process = popen_cli("sweep", path, "--out", out, "--workers", "1", "-q")
    try:
        wait_for_rows(process, out, at_least=4)
        os.kill(process.pid, signal.SIGKILL)
        process.communicate(timeout=30)
    finally:
        if process.poll() is None:
            process.kill()
            process.communicate()
    assert process.returncode == -signal.SIGKILL

    db = sqlite3.connect(out / "results.db")
    try:
        assert db.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    finally:
        db.close()
    partial = row_set(out)
    assert 4 <= len(partial) < POINTS * REPLICATIONS, "kill the sweep before it finishes"
    for _, _, _, metrics in partial:
        assert "friction.wait_hours" in json.loads(metrics)
    assert set(partial) <= set(expected), "a committed row differs from the uninterrupted run's"

    resumed = run_cli("sweep", path, "--out", out, "--workers", "1", "-q")
    assert resumed.returncode == 0, resumed.stderr
    ran = POINTS * REPLICATIONS - len(partial)
    assert f"{ran} rows run, {len(partial)} already stored, {POINTS * REPLICATIONS} in all" in resumed.stderr
    final = row_set(out)
    assert_complete(final)
    assert final == expected


def test_rerunning_a_finished_sweep_runs_nothing(reference: tuple[Path, list[tuple[str, int, int, str]]]) -> None:
    """A second run into a finished folder runs 0 rows and leaves the rows as they were."""
    path, expected = reference
    again = run_cli("sweep", path, "--out", path.parent / "out", "--workers", "1", "-q")
    assert again.returncode == 0, again.stderr
    assert "0 rows run" in again.stderr
    assert row_set(path.parent / "out") == expected
    assert f"{len(expected)} already stored" in again.stderr
    assert row_set(path.parent / "out") == expected


@pytest.mark.parametrize("workers", ["1", "2"])
def test_ctrl_c_exits_130_and_keeps_the_committed_rows(
    workers: str, tmp_path: Path, reference: tuple[Path, list[tuple[str, int, int, str]]],
) -> None:
    """SIGINT to the sweep's process group (as Ctrl-C sends) exits 130 and says how to resume."""
    path, expected = reference
    out = tmp_path / "out"
    process = popen_cli("sweep", path, "--out", out, "--workers", workers, "-q")
    try:
        wait_for_rows(process, out, at_least=3)
        os.killpg(process.pid, signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
            process.communicate()
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr
    message = " ".join(stderr.split())
    match = re.search(r"interrupted: (\d+) finished rows are committed in (\S+);", message)
    assert match, message
    assert "run the same command again to resume" in message
    assert Path(match[2]) == out / "results.db"
    kept = row_set(out)
    assert int(match[1]) == len(kept)
    assert 3 <= len(kept) < POINTS * REPLICATIONS
    assert set(kept) <= set(expected)


def test_resume_accepts_the_same_sweep_named_by_another_path(
    tmp_path: Path, reference: tuple[Path, list[tuple[str, int, int, str]]],
) -> None:
    """Resuming from the sweep's own folder (a relative path) is the same sweep, not another one."""
    path, expected = reference
    again = run_cli("sweep", path.name, "--out", path.parent / "out", "--workers", "1", "-q", cwd=path.parent)
    assert again.returncode == 0, again.stderr
    assert "0 rows run" in again.stderr
    assert row_set(path.parent / "out") == expected
