"""--target-ci adds replications until an interval is narrow enough, and says what it did."""

from __future__ import annotations

import json
import math
import re
from pathlib import Path
from typing import Any

import pytest
from conftest import MMC, run_cli, write_sweep

from sim.experiment.replications import relative_half_width, replications_for
from sim.experiment.sweep import summary_records
from sim.results.store import Store

# requests.submitted on M/M/c over 10 days is a Poisson count of ~1,900: a 2% interval needs a few
# replications. (friction.wait_hours is too noisy over 10 days to reach 2% within 200 replications.)
# --max-replications 40 bounds the cost should replications_for ever overshoot.
RUN = ("run", MMC, "--days", "10", "-r", "2", "--workers", "1", "--json")


def reached(stderr: str) -> tuple[int, str]:
    """Return the replication count --target-ci reports on stderr, and the whole line."""
    message = " ".join(stderr.split())
    match = re.search(r"--target-ci \S+ on \S+: (\d+) replications[^-]*", message)
    assert match, message
    return int(match[1]), match[0]


@pytest.mark.slow
def test_run_adds_replications_until_the_interval_is_within_target() -> None:
    """`run --target-ci 0.02` runs more than -r replications and ends with a half-width under 2% of the mean."""
    result = run_cli(*RUN, "--target-ci", "0.02", "--target-metric", "requests.submitted",
                     "--max-replications", "40")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    count, _ = reached(result.stderr)
    assert 2 < count <= 40
    assert document["run"]["replications"] == count
    leaf = document["requests"]["submitted"]
    low, high = leaf["ci95"]
    assert (high - low) / 2 <= 0.02 * abs(leaf["mean"])


@pytest.mark.slow
def test_run_stops_at_max_replications_and_says_the_target_was_not_reached() -> None:
    """With --max-replications 3 an unreachable target stops at 3 and says so."""
    result = run_cli(*RUN, "--target-ci", "0.02", "--target-metric", "friction.wait_hours",
                     "--max-replications", "3")
    assert result.returncode == 0, result.stderr
    count, line = reached(result.stderr)
    assert count == 3 and "the target was not reached" in line
    document = json.loads(result.stdout)
    assert document["run"]["replications"] == 3
    low, high = document["friction"]["wait_hours"]["ci95"]
    assert (high - low) / 2 > 0.02 * document["friction"]["wait_hours"]["mean"]


@pytest.mark.parametrize(("flags", "names"), [
    (("--target-ci", "0"), "--target-ci"),
    (("--target-ci", "-0.1"), "--target-ci"),
    (("--target-ci", "0.05", "--target-metric", "friction.wait_hour"), "--target-metric"),
])
def test_bad_target_flags_exit_2(flags: tuple[str, ...], names: str) -> None:
    """A target that is not a positive fraction, or a metric the model does not report, exits 2."""
    result = run_cli(*RUN, *flags)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert names in message and "Fix:" in message
    assert result.stdout == ""


SWEEP = f"""
[sweep]
name = "target_test"
arrangements = [{json.dumps(str(MMC))}]
design = "grid"
replications = 3
days = 10
outputs = ["requests.submitted"]

[[factors]]
path = "actors.requesters.requests_per_hour"
values = [0.05, 8.0]
"""


@pytest.mark.slow
def test_sweep_target_ci_adds_rows_where_the_interval_was_too_wide(tmp_path: Path) -> None:
    """`sweep --target-ci` grows only points whose interval over the sweep's replications was too wide."""
    path = write_sweep(tmp_path, SWEEP)
    result = run_cli("sweep", path, "--out", tmp_path / "out", "--workers", "1", "-q", "--target-ci", "0.05",
                     "--max-replications", "12")
    assert result.returncode == 0, result.stderr
    store = Store(tmp_path / "out", create=False)
    try:
        rows = list(store.rows())
        records = summary_records(store, ["requests.submitted"])
    finally:
        store.close()
    values: dict[int, list[float]] = {}
    for row in rows:
        values.setdefault(row.point, []).append(row.metrics["requests.submitted"])
    grew = []
    for point, series in values.items():
        first = series[:3]
        if replications_for(first, 0.05, 12) <= 3:
            assert len(series) == 3, f"point {point} was precise enough and still grew"
        else:
            grew.append(point)
            assert len(series) > 3
        assert relative_half_width(series) <= 0.05 or len(series) == 12
    assert 0 in grew, "the low-rate point (about 12 requests) needs more than the sweep's 3 replications"
    assert len(rows) > 2 * 3
    assert f"{len(rows)} rows run, 0 already stored, {len(rows)} in all" in " ".join(result.stderr.split())
    counts: dict[int, Any] = {r["point"]: r["replications"] for r in records}
    assert counts == {p: len(v) for p, v in values.items()}


def test_sweep_with_an_unknown_target_metric_is_a_clear_error(tmp_path: Path) -> None:
    """`sweep --target-ci --target-metric NOPE` exits 2 naming the flag, before running anything."""
    path = write_sweep(tmp_path, SWEEP)
    result = run_cli("sweep", path, "--out", tmp_path / "out", "--workers", "1", "-q", "--target-ci", "0.1",
                     "--target-metric", "requests.submited")
    assert result.returncode == 2, result.stderr[-2000:]
    assert "Traceback" not in result.stderr
    assert "--target-metric" in result.stderr and "Fix:" in result.stderr


def test_replications_for_does_not_overshoot_from_two_replications() -> None:
    """From 2 replications, the planner asks for at most 3x the normal-theory estimate of what is needed."""
    values = [1900.0, 1950.0]  # mean 1925, standard deviation 35.4: relative spread 1.8%
    mean, sd = sum(values) / 2, abs(values[1] - values[0]) / math.sqrt(2)
    needed = (1.96 * sd / (0.02 * mean)) ** 2
    assert replications_for(values, 0.02, 200) <= 3 * max(needed, 3)


def test_a_target_met_at_the_maximum_is_not_reported_as_missed() -> None:
    """When the first replications already meet the target and equal the maximum, no 'not reached' warning."""
    result = run_cli("run", MMC, "--days", "10", "-r", "5", "--workers", "1", "--json", "--target-ci", "0.5",
                     "--target-metric", "requests.submitted", "--max-replications", "5")
    assert result.returncode == 0, result.stderr
    leaf = json.loads(result.stdout)["requests"]["submitted"]
    assert (leaf["ci95"][1] - leaf["ci95"][0]) / 2 <= 0.5 * leaf["mean"]
    count, line = reached(result.stderr)
    assert count == 5
    assert "not reached" not in line
