"""Metrics per calendar year: the years add up to the whole run, and --json reports them."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

from sim.config.loader import load_config
from sim.experiment.replications import run_replication
from sim.metrics import catalogue

ARRANGEMENTS = sorted((ROOT / "configs" / "arrangements").glob("*.toml"))


@pytest.mark.slow
@pytest.mark.parametrize("path", ARRANGEMENTS, ids=lambda p: p.stem)
def test_years_sum_to_the_whole(path: Path) -> None:
    """Every additive metric's per-year figures sum to its whole-run figure (600 days: three years)."""
    config = load_config(path, [("scenario.days", "600", "--days")]).config
    years = catalogue.years(config)
    assert years == [2022, 2023, 2024]
    metrics = run_replication(config, 3, 0).metrics
    summed = [m for m in catalogue.METRICS if m.yearly == "sum"]
    assert summed
    for metric in summed:
        for name in catalogue.expand(metric, config):
            parts = [metrics[f"by_year.{year}.{name}"] for year in years]
            assert math.fsum(parts) == pytest.approx(metrics[name], rel=1e-9, abs=1e-9), name
    for year in years:  # figures of a year's own: people exposed that year, shares of that year
        prefix = f"by_year.{year}."
        assert metrics[prefix + "exposure.distinct_records"] <= metrics["exposure.distinct_records"] * (1 + 1e-9)
    whole = metrics["exposure.distinct_records"]
    assert whole <= math.fsum(metrics[f"by_year.{y}.exposure.distinct_records"] for y in years) * (1 + 1e-9)


@pytest.mark.slow
def test_json_reports_each_year_with_the_usual_leaf() -> None:
    """`run --json` has by_year.<YYYY>.<path> leaves {mean, ci95} for the years the horizon touches."""
    result = run_cli("run", ROOT / "configs" / "arrangements" / "oracle.toml", "-r", "2", "--days", "220",
                     "--workers", "1", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert sorted(document["by_year"]) == ["2022", "2023"]
    for year in ("2022", "2023"):
        node = document["by_year"][year]["residual_access"]["events"]
        assert set(node) == {"mean", "ci95"}
        assert node["ci95"][0] <= node["mean"] <= node["ci95"][1]
    total = document["residual_access"]["events"]["mean"]
    parts = [document["by_year"][y]["residual_access"]["events"]["mean"] for y in ("2022", "2023")]
    assert math.fsum(parts) == pytest.approx(total)
