"""benchmarks/dask_pairs.py, issue 23's Dask comparison, still runs: one small pair agrees on explore.json."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from conftest import cli_env

pytest.importorskip("distributed")

SCRIPT = Path(__file__).resolve().parents[1] / "benchmarks" / "dask_pairs.py"


def run_script(tmp_path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    """Run the script with `args` in `tmp_path`, its temporary folders there too."""
    return subprocess.run([sys.executable, str(SCRIPT), *args], env=cli_env(TMPDIR=str(tmp_path)),
                          capture_output=True, text=True, timeout=300, check=False, cwd=tmp_path)


@pytest.mark.slow
def test_one_small_pair_runs_on_both_executors_and_writes_the_same_explore(tmp_path: Path) -> None:
    """A pair of 2-world explores: a fresh cluster and the pool each run it; the script checks they agree."""
    result = run_script(tmp_path, "--worlds", "2", "--replications", "1", "--days", "20", "--pairs", "1")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert any(line.startswith("pair 1 (dask then pool): ratio ") and line.endswith("explore.json the same")
               for line in lines), result.stdout
    dask = next(line for line in lines if line.strip().startswith("dask "))
    assert "scheduler" in dask and "worker 1" in dask and "worker 2" in dask
    assert "mean of 1 pairs" in lines[-1]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("dask-pairs-")]  # its folder is removed


@pytest.mark.slow
def test_side_by_side_runs_each_job_on_both_executors_and_finds_the_same_metrics(tmp_path: Path) -> None:
    """--side-by-side: every job of a small explore runs on a Dask worker and a pool worker, with equal results."""
    result = run_script(tmp_path, "--side-by-side", "--worlds", "3", "-r", "1", "--days", "20")
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("2 jobs side by side (the first, which warms both, not counted): CPU of the Dask")
    assert lines[1].startswith("per job, Dask over the pool: ")
    assert lines[-1] == "every job returned the same metrics on both"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("dask-pairs-")]  # its folder is removed
