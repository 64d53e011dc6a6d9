"""What a scientist expects of the notebook API: short reprs, numeric columns, intervals inside the support,
one name for the arrangement column, explore and list, and no write outside a folder the call names."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

import sim
from sim.errors import InputError
from sim.metrics import catalogue
from sim.metrics.stats import estimate, support_estimate
from sim.report import figures

SHORT_REPR = 300


@pytest.fixture(scope="module")
def comparison() -> sim.Comparison:
    """Compare two shipped arrangements over a short horizon, in this process."""
    return sim.compare(["status_quo", "oracle"], replications=3, days=15, seed=11, workers=1)


@settings(deadline=None)  # the first call imports scipy
@example([0.0, 5e-324])  # a mean next to zero: exp(half / mean) would overflow
@given(st.lists(st.floats(min_value=0.0, max_value=1e6), min_size=2, max_size=12))
def test_intervals_of_non_negative_values_stay_at_or_above_zero(values: list[float]) -> None:
    """The support-respecting interval holds the mean and never goes below zero."""
    value = support_estimate(values)
    assert value.low is not None and value.high is not None and value.mean is not None
    assert 0.0 <= value.low <= value.mean * (1 + 1e-12) + 1e-12
    assert value.mean <= value.high * (1 + 1e-12) + 1e-12


@settings(deadline=None)
@example([0.0, 2.2250738585e-313])  # a share next to zero: its logit-scale width once overflowed exp()
@given(st.lists(st.floats(min_value=0.0, max_value=1.0), min_size=2, max_size=12))
def test_intervals_of_shares_stay_inside_zero_and_one(values: list[float]) -> None:
    """A share's interval stays inside [0, 1]."""
    value = support_estimate(values, upper=1.0)
    assert value.low is not None and value.high is not None
    assert 0.0 <= value.low <= value.high <= 1.0


def test_a_signed_metric_keeps_the_t_interval() -> None:
    """Values with a negative one (a difference) get the plain t interval; a t interval would go below zero here."""
    assert support_estimate([-1.0, 2.0, 5.0]) == estimate([-1.0, 2.0, 5.0])
    assert (estimate([0.0, 0.0, 1.0, 10.0]).low or 0.0) < 0.0 <= (support_estimate([0.0, 0.0, 1.0, 10.0]).low or 0.0)


def test_results_have_short_reprs_and_numeric_columns(comparison: sim.Comparison) -> None:
    """Every result's repr is one short line; every column that holds numbers has a numeric dtype."""
    for result in (comparison, comparison["oracle"]):
        assert len(repr(result)) < SHORT_REPR and "\n" not in repr(result)
    for frame in (comparison.summary, comparison.daily, comparison.replications, comparison.differences):
        text = [c for c in frame.columns if c not in ("arrangement", "metric", "baseline", "date")]
        assert all(frame[c].dtype.kind in "fiub" for c in text), frame.dtypes.to_dict()


def test_count_intervals_never_go_below_zero(comparison: sim.Comparison) -> None:
    """No interval of a count, hours or share metric in the summary or the daily series is below zero."""
    summary = comparison.summary.dropna(subset=["ci95_low"])
    assert (summary["ci95_low"] >= 0).all()
    shares = summary[summary.metric.map(catalogue.kind_of) == "share"]
    assert (shares["ci95_high"] <= 1.0 + 1e-12).all()
    daily = comparison.daily.filter(like="_ci95_low")
    assert (daily.fillna(0.0) >= 0).all().all()


def test_comparison_csv_says_arrangement_and_keeps_scenario(tmp_path: Path) -> None:
    """comparison.csv names the column `arrangement`, as the API does, and keeps `scenario` as an alias."""
    from sim.cli import main

    with pytest.raises(SystemExit) as done:
        main(["compare", "status_quo", "oracle", "--days", "2", "-r", "2", "--workers", "1", "-q", "--json",
              "--out", str(tmp_path)])
    assert done.value.code in (0, None)
    with (tmp_path / "comparison.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    columns = list(rows[0])
    assert columns[0] == "arrangement" and columns[-1] == "scenario"
    assert all(row["arrangement"] == row["scenario"] for row in rows)


def test_figures_show_themselves_in_a_notebook(comparison: sim.Comparison) -> None:
    """A figure has a PNG form of its own, so Jupyter shows it without `%matplotlib inline`."""
    picture = figures.residual_by_channel(comparison)._repr_png_()  # type: ignore[attr-defined]
    assert picture.startswith(b"\x89PNG")


def test_list_names_every_shipped_kind() -> None:
    """sim.list shows the names every call accepts; an unknown kind is refused."""
    shipped = sim.list()
    assert {"oracle", "oracle_stewards", "backup"} <= set(shipped["name"])
    assert set(sim.list("sweep")["kind"]) == {"sweep"}
    with pytest.raises(InputError):
        sim.list("nosuch")


def test_writing_calls_write_only_where_they_are_told(tmp_path: Path) -> None:
    """sim.sweep and sim.explore refuse to run without `out`, and with it write nothing elsewhere."""
    previous = Path.cwd()
    os.chdir(tmp_path)
    try:
        with pytest.raises(InputError, match="out"):
            sim.sweep("oracle_deletion", days=2, replications=1)
        with pytest.raises(InputError, match="out"):
            sim.explore(["status_quo"], worlds=2, replications=1, days=2)
        swept = sim.sweep("oracle_deletion", out="s", days=2, replications=1, workers=1)
        explored = sim.explore(["status_quo", "oracle"], out="e", worlds=2, replications=1, days=2, workers=1)
    finally:
        os.chdir(previous)
    assert {p.name for p in tmp_path.iterdir()} == {"s", "e"}
    assert len(repr(swept)) < SHORT_REPR and len(repr(explored)) < SHORT_REPR
    assert not swept.summary.empty and list(explored.regret["arrangement"])
    assert set(explored.pairwise["arrangement"]) == {"status_quo", "oracle"}
    with pytest.raises(InputError, match="workers"):
        sim.run("oracle", days=1, replications=1, workers=0)
