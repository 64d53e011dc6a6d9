"""The Python API: DataFrames in the output vocabulary, equal to what the CLI writes, and scripts without a guard."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from conftest import run_cli

import sim
from sim.errors import InputError
from sim.report import figures

INTERVAL = ["mean", "ci95_low", "ci95_high"]


@pytest.fixture(scope="module")
def comparison() -> sim.Comparison:
    """Compare two shipped arrangements by name over a short horizon."""
    return sim.compare(["oracle", "status_quo"], replications=3, days=20, seed=7)


def test_root_exports_the_api() -> None:
    """`import sim` gives load, run, compare, sweep and attribute."""
    for name in ("load", "run", "compare", "sweep", "attribute"):
        assert callable(getattr(sim, name))
    with pytest.raises(AttributeError):
        _ = sim.nosuch  # type: ignore[attr-defined]


def test_summary_columns_and_interval_order(comparison: sim.Comparison) -> None:
    """Summaries have the contract's columns, the baseline leads, and every interval holds its mean."""
    summary = comparison.summary
    assert list(summary.columns) == ["arrangement", "metric", *INTERVAL]
    assert comparison.names == ["status_quo", "oracle"]
    single = comparison["oracle"].summary
    assert list(single.columns) == ["metric", *INTERVAL]
    bounded = summary.dropna(subset=["ci95_low"])
    assert (bounded["ci95_low"] <= bounded["mean"] + 1e-9).all()
    assert (bounded["mean"] <= bounded["ci95_high"] + 1e-9).all()


def test_differences_are_paired(comparison: sim.Comparison) -> None:
    """differences equal the mean of replication-by-replication differences from the baseline."""
    diff = comparison.differences
    assert list(diff.columns) == ["arrangement", "baseline", "metric", *INTERVAL]
    assert set(diff["arrangement"]) == {"oracle"} and set(diff["baseline"]) == {"status_quo"}
    reps = comparison.replications
    metric = "residual_access.events"
    by = reps.set_index(["arrangement", "replication"])[metric]
    expected = (by["oracle"] - by["status_quo"]).mean()
    got = diff.set_index("metric").loc[metric, "mean"]
    assert got == pytest.approx(expected)
    # Common random numbers: both arrangements see the same requests.
    submitted = reps.set_index(["arrangement", "replication"])["requests.submitted"]
    assert (submitted["oracle"] == submitted["status_quo"]).all()


def test_replications_numbered_from_zero_and_daily(comparison: sim.Comparison) -> None:
    """Replications are numbered 0..R-1; the daily series has a row per day with interval columns."""
    reps = comparison["oracle"].replications
    assert list(reps["replication"]) == [0, 1, 2]
    daily = comparison["oracle"].daily
    assert len(daily) == 20 and list(daily["day"]) == list(range(20))
    assert {"submitted_mean", "submitted_ci95_low", "submitted_ci95_high"} <= set(daily.columns)
    assert daily["submitted_mean"].sum() == pytest.approx(reps["requests.submitted"].mean())


@pytest.mark.slow
def test_api_equals_cli(tmp_path: Path, comparison: sim.Comparison) -> None:
    """The CLI's comparison.csv, --json and daily.csv hold the API's numbers under the same names."""
    result = run_cli("compare", "oracle", "status_quo", "-r", "3", "--days", "20", "--seed", "7", "--json", "-q",
                     "--out", tmp_path)
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    api = comparison.summary.set_index(["arrangement", "metric"])
    assert document["oracle"]["residual_access"]["events"]["mean"] == pytest.approx(
        api.loc[("oracle", "residual_access.events"), "mean"])
    lo, hi = document["oracle"]["paired_difference"]["residual_access"]["events"]["ci95"]
    diff = comparison.differences.set_index("metric").loc["residual_access.events"]
    assert (lo, hi) == pytest.approx((diff["ci95_low"], diff["ci95_high"]))
    assert document["oracle"]["paired_difference"]["baseline"] == "status_quo"
    assert "paired_difference" not in document["status_quo"]
    with (tmp_path / "oracle" / "daily.csv").open(encoding="utf-8") as handle:
        header = next(csv.reader(handle))
    assert not any(c.endswith(("_lo", "_hi")) for c in header)
    written = pd.read_csv(tmp_path / "oracle" / "daily.csv")
    api_daily = comparison["oracle"].daily
    assert written["submitted_mean"].tolist() == pytest.approx(api_daily["submitted_mean"].tolist())
    written_reps = pd.read_csv(tmp_path / "oracle" / "replications.csv")
    assert written_reps["replication"].tolist() == [0, 1, 2]


def test_overrides_and_bad_input() -> None:
    """Overrides reach parameters by dotted path and are recorded; bad names raise InputError."""
    loaded = sim.load("oracle", overrides={"gatekeeper.reviewers": 7})
    assert loaded.config.gatekeeper is not None and loaded.config.gatekeeper.reviewers == 7
    assert "gatekeeper.reviewers=7" in loaded.overrides
    with pytest.raises(InputError, match="shipped config"):
        sim.load("nosuch")
    with pytest.raises(InputError, match="baseline"):
        sim.compare(["oracle", "google"], replications=2, days=2, baseline="nosuch")
    with pytest.raises(InputError, match="both named"):
        sim.compare(["oracle", "oracle"], replications=2, days=2)


def test_figures_accept_api_results(comparison: sim.Comparison) -> None:
    """Figure functions take a comparison or a run directly."""
    figure = figures.residual_by_channel(comparison)
    labels = [text.get_text() for ax in figure.axes for text in ax.texts + ax.get_xticklabels() + ax.get_yticklabels()]
    for title in ("Status quo", "Oracle (Project Texas)"):  # each arrangement's display name, from its config
        assert any(title in label.replace("\n", " ") for label in labels), (title, labels)  # labels may wrap
    timeline = figures.daily_timeline(comparison["oracle"])
    assert timeline.axes


SCRIPT = """
import sim
result = sim.compare(["status_quo", "oracle"], replications=2, days=3)
print(result.summary.shape[0] > 0, result.differences.shape[0] > 0)
"""


@pytest.mark.slow
def test_plain_script_without_main_guard(tmp_path: Path) -> None:
    """A script with no `if __name__ == "__main__"` guard runs (the API runs a script's replications in-process)."""
    script = tmp_path / "script.py"
    script.write_text(SCRIPT, encoding="utf-8")
    result = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True, text=True,
                            timeout=300, check=False)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "True True"

