"""Losing the Dask scheduler mid-sweep is an input error: exit 2, one paragraph, the rows kept."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from pathlib import Path

import pytest
from conftest import MMC, cli_env, committed, popen_cli, write_sweep
from test_dask import DASK, accepts, free_port, stop, wait_until

pytestmark = pytest.mark.slow

SWEEP = f"""
[sweep]
name = "lost_scheduler"
arrangements = ["{MMC}"]
replications = 4
days = 600  # long enough that the scheduler is lost while tasks run
outputs = ["friction.wait_hours"]

[[factors]]
path = "gatekeeper.reviewers"
values = [9, 10, 11, 12, 13, 14]
"""



def test_losing_the_scheduler_is_a_clear_error(tmp_path: Path) -> None:
    """SIGKILL of the scheduler during a sweep: exit 2 naming --scheduler, no traceback, rows kept."""
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    started: list[subprocess.Popen[bytes]] = []
    try:
        started.append(subprocess.Popen(
            [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, cwd=tmp_path, env=cli_env(),
            start_new_session=True))
        wait_until(lambda: accepts(port), "the scheduler to listen", started)
        log = tmp_path / "worker.log"
        with log.open("wb") as handle:
            started.append(subprocess.Popen(
                [DASK, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard"],
                stdout=handle, stderr=subprocess.STDOUT, cwd=tmp_path, env=cli_env(), start_new_session=True))
        wait_until(lambda: "Registered to" in log.read_text(errors="replace"), "the worker to register", started)
        out = tmp_path / "out"
        sweep = popen_cli("sweep", write_sweep(tmp_path, SWEEP), "--out", out, "--scheduler", address, "-q")
        deadline = time.monotonic() + 120
        while committed(out) < 1 and time.monotonic() < deadline and sweep.poll() is None:
            time.sleep(0.1)
        os.killpg(started[0].pid, signal.SIGKILL)
        _, stderr = sweep.communicate(timeout=180)
    finally:
        for process in reversed(started):
            stop(process)
    message = " ".join(stderr.split())
    assert sweep.returncode == 2, stderr
    assert "Traceback" not in stderr
    assert "--scheduler" in message and "scheduler was lost" in message and "resumes" in message
    assert committed(out) >= 1
