"""The command line end to end: compare, run --out, facts."""

from __future__ import annotations

import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESIDENCY = str(Path(sys.executable).parent / "residency")


def cli(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess[str]:
    """Run the residency command and capture its output."""
    return subprocess.run([RESIDENCY, *args], cwd=cwd, capture_output=True, text=True, check=False)


@pytest.mark.slow
@pytest.mark.unmeasured
def test_compare_defaults_to_every_arrangement_and_writes_reports(tmp_path: Path) -> None:
    """`residency compare` runs every shipped arrangement, baseline first, and writes its files."""
    done = cli("compare", "-r", "2", "--days", "20", "--out", str(tmp_path), "--workers", "2")
    assert done.returncode == 0, done.stderr
    names = sorted(p.stem for p in (ROOT / "configs" / "arrangements").glob("*.toml"))
    table = done.stdout
    assert table.index("status_quo") < min(table.index(n) for n in names if n != "status_quo")
    assert "Δ residual vs status_quo" in table
    assert "common random numbers" in table
    for name in names:
        for file in ("summary.json", "daily.csv", "resolved_config.json"):
            assert (tmp_path / name / file).is_file()
    with (tmp_path / "comparison.csv").open() as handle:
        rows = list(csv.DictReader(handle))
    assert {row["scenario"] for row in rows} == set(names)
    residual = [r for r in rows if r["metric"] == "residual_access.events"]
    assert len(residual) == len(names)
    for row in residual:
        if row["scenario"] == "status_quo":
            assert row["diff_vs_baseline"] == ""
        else:
            assert float(row["diff_ci95_low"]) <= float(row["diff_vs_baseline"]) <= float(row["diff_ci95_high"])


@pytest.mark.slow
def test_compare_json_is_keyed_by_arrangement(tmp_path: Path) -> None:
    """`compare --json` prints one document per arrangement with the contract's leaves."""
    configs = [str(ROOT / "configs" / "arrangements" / f"{n}.toml") for n in ("status_quo", "oracle")]
    done = cli("compare", *configs, "-r", "2", "--days", "10", "--json", "--out", str(tmp_path))
    assert done.returncode == 0, done.stderr
    document = json.loads(done.stdout)
    assert set(document) == {"status_quo", "oracle"}
    leaf = document["oracle"]["residual_access"]["events"]
    assert set(leaf) == {"mean", "ci95"} and len(leaf["ci95"]) == 2


def test_run_out_records_seed_version_overrides_and_sources(tmp_path: Path) -> None:
    """`run --out` writes the resolved config with its seed, version, overrides and sources."""
    config = ROOT / "configs" / "arrangements" / "oracle.toml"
    done = cli("run", str(config), "-r", "1", "--days", "5", "--seed", "11",
               "--set", "gatekeeper.reviewers=77", "--out", str(tmp_path), "-q")
    assert done.returncode == 0, done.stderr
    resolved = json.loads((tmp_path / "resolved_config.json").read_text())
    assert resolved["run"]["seed"] == 11
    assert resolved["run"]["version"]
    assert "gatekeeper.reviewers=77" in resolved["run"]["overrides"]
    assert resolved["config"]["gatekeeper"]["reviewers"] == 77
    assert resolved["provenance"]["gatekeeper.reviewers"].startswith("override")
    assert resolved["provenance"]["gatekeeper.expiry_hours"].startswith("fact azure-lockbox-expiry")
    daily = (tmp_path / "daily.csv").read_text().splitlines()
    assert len(daily) == 1 + 5 and daily[1].split(",")[1] == "2022-06-17"


def test_facts_lists_every_parameter_with_its_source() -> None:
    """`residency facts` prints parameters with fact citations and named assumptions."""
    done = cli("facts", str(ROOT / "configs" / "arrangements" / "oracle.toml"))
    assert done.returncode == 0, done.stderr
    assert "gatekeeper.reviewers" in done.stdout
    assert "assumption:" in done.stdout
    assert "fact oracle-all-us-traffic-2022-06" in done.stdout
