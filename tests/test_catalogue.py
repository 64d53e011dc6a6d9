"""The catalogue of metrics: it names exactly what the model reports, and every table derives from it."""

from __future__ import annotations

from pathlib import Path

import pytest
from conftest import MMC, ROOT

from sim.cli.common import out
from sim.cli.core import print_summary
from sim.config.loader import load_config
from sim.experiment.executors import LocalExecutor
from sim.experiment.replications import run_replication, run_scenarios
from sim.metrics import catalogue
from sim.report.units import kind_of

CONFIGS = [*sorted((ROOT / "configs" / "arrangements").glob("*.toml")), MMC]


@pytest.mark.parametrize("path", CONFIGS, ids=lambda p: p.stem)
def test_catalogue_names_exactly_what_a_run_reports(path: Path) -> None:
    """A short run of every shipped config reports the catalogue's paths, no more and no fewer."""
    loaded = load_config(path, [("scenario.days", "3", "--days")])
    reported = run_replication(loaded.config, 1, 0).metrics
    declared = catalogue.metric_paths(loaded.config)
    assert len(declared) == len(set(declared))
    assert set(reported) == set(declared)
    assert all(catalogue.find(name) is not None for name in reported)


def test_every_entry_is_declared_once_with_a_label_and_unit() -> None:
    """Paths are unique; every metric has a kind, a unit and a label."""
    paths = [m.path for m in catalogue.METRICS]
    assert len(paths) == len(set(paths))
    for metric in catalogue.METRICS:
        assert metric.kind in ("count", "share", "hours", "days")
        assert metric.unit and metric.label
        assert metric.headline <= catalogue.EVERY_TABLE


def test_the_headline_sets_nest() -> None:
    """Residual access heads every comparison, and the compare table shows no metric the run table lacks."""
    compare = {m.path for m in catalogue.headline(catalogue.COMPARE)}
    assert "residual_access.events" in compare
    assert compare <= {m.path for m in catalogue.headline(catalogue.RUN)}


def test_the_run_table_prints_the_catalogues_headline_metrics_in_its_order() -> None:
    """`residency run` prints a row for each of the catalogue's run headline metrics, with its label, in order."""
    loaded = load_config(MMC, [("scenario.days", "3", "--days")])
    [result] = run_scenarios([loaded], 1, 1, executor=LocalExecutor(1))
    width = out.width
    try:
        out.width = 200
        with out.capture() as captured:
            print_summary(result)
    finally:
        out.width = width
    rows = [line.split("│")[1].strip() for line in captured.get().splitlines() if line.count("│") >= 3]
    labels = [m.label for m in catalogue.headline(catalogue.RUN)]
    assert rows[:len(labels)] == labels


@pytest.mark.parametrize(("path", "kind"), [
    ("friction.wait_hours_p95", "hours"),
    ("friction.utilisation", "share"),
    ("detection.detected_share", "share"),
    ("detection.mean_days_to_detect", "days"),
    ("residual_access.by_channel.covert.records", "count"),
    ("foreign_access_by_class.public.events", "count"),
    ("by_year.2023.friction.decision_hours", "hours"),
    ("not.a.metric", "count"),
])
def test_kind_is_looked_up_not_guessed(path: str, kind: str) -> None:
    """Kinds come from the catalogue, for templated and per-year paths too; unknown paths are counts."""
    assert kind_of(path) == kind


def test_labels_differ_only_where_a_table_says_more() -> None:
    """A table's label falls back to the metric's own label."""
    wait = catalogue.find("friction.wait_hours")
    assert wait is not None
    assert wait.label_in(catalogue.RUN) == wait.label
    assert wait.label_in(catalogue.REPORT) != wait.label
    denied = catalogue.find("requests.denied")
    assert denied is not None and denied.label_in(catalogue.REPORT) == denied.label
