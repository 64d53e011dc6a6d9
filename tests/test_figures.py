"""Figures are built from small real runs, and what they draw equals the numbers in the results files."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
import math
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ARRANGEMENTS, MMC, SMALL_COMPARE, popen_cli, write_sweep
from matplotlib.axes import Axes
from matplotlib.colors import to_hex, to_rgb
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch
from matplotlib.text import Text

from sim import __version__
from sim.config.loader import load_config
from sim.config.schema import CHANNEL_TITLES, CHANNELS, Config, Route, route_gate
from sim.experiment.sweep import summary_records
from sim.metrics.units import factor_label, metric_label
from sim.report import arrangement, attribution_page, compare_page, document, sweep_page
from sim.report import figures as plots
from sim.report.experiment_figures import indistinguishable, sensitivity_bars, sensitivity_warnings, sweep_heatmap
from sim.report.maps import dataflow_map
from sim.report.style import (
    CHANNEL_COLOURS,
    GATE_COLOURS,
    LEAK_COLOUR,
    OKABE_ITO,
    OTHER_PLACE,
    PLACE_COLOURS,
    arrangement_colours,
    needs_log,
)
from sim.results.store import Store

ORACLE = ARRANGEMENTS / "oracle.toml"
SHIPPED = ("status_quo", "oracle", "microsoft", "google", "joint_venture")
LEAK = LEAK_COLOUR.lower()

GRID_1 = """
[sweep]
name = "line_test"
arrangements = [{oracle}]
design = "grid"
replications = 2
days = 20
outputs = ["friction.wait_hours", "residual_access.events"]

[[factors]]
path = "gatekeeper.reviewers"
values = [100, 25, 50]
"""

GRID_2 = GRID_1.replace("line_test", "heatmap_test").replace("replications = 2", "replications = 1") + """
[[factors]]
path = "gatekeeper.review_hours_mean"
values = [2.0, 8.0]
"""

SOBOL = """
[sweep]
name = "sobol_test"
arrangements = [{oracle}]
design = "sobol"
samples = 8
replications = 1
days = 20
outputs = ["residual_access.events"]

[[factors]]
path = "actors.cn_engineers.requests_per_hour"
low = 0.004
high = 0.025

[[factors]]
path = "controls.code_review_coverage"
low = 0.0
high = 0.9
"""


# -- helpers ----------------------------------------------------------------------------------
def capture(builder: Callable[[Path, Path, str], document.Report], folder: Path, out: Path) -> dict[str, Figure]:
    """Run a report builder and return the figures it saved, by name."""
    figures: dict[str, Figure] = {}
    original = document.save

    def keep(figure: Figure, where: Path, name: str, fmt: str, caption: str) -> document.FigureFile:
        figures[name] = figure
        return original(figure, where, name, fmt, caption)

    with pytest.MonkeyPatch.context() as patch:
        for page in (compare_page, sweep_page, attribution_page):
            patch.setattr(page, "save", keep)
        builder(folder, out, "png")
    return figures


def leaf(document: dict[str, Any], path: str) -> dict[str, Any]:
    """Return the {"mean", "ci95"} leaf at a dotted path of a summary document."""
    node = document
    for part in path.split("."):
        node = node[part]
    return node


def read_csv(path: Path) -> list[dict[str, str]]:
    """Return a CSV file's rows as dictionaries."""
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def lines(ax: Axes, gid: str) -> list[Line2D]:
    """Return the lines of an Axes with a given gid."""
    return [line for line in ax.get_lines() if line.get_gid() == gid]


def one_line(ax: Axes, gid: str) -> Line2D:
    """Return the one line of an Axes with a given gid."""
    found = lines(ax, gid)
    assert len(found) == 1, f"expected one line {gid!r}, found {len(found)}"
    return found[0]


def floats(values: Any) -> list[float]:
    """Return an artist's data as plain floats."""
    return [float(v) for v in values]


def segments(container: ErrorbarContainer) -> list[list[tuple[float, float]]]:
    """Return the whisker segments of an errorbar as lists of (x, y) points."""
    return [[(float(x), float(y)) for x, y in segment] for collection in container.lines[2]
            for segment in collection.get_segments()]


def point_container(ax: Axes, name: str) -> ErrorbarContainer:
    """Return the errorbar container labelled with an arrangement's name."""
    found = [c for c in ax.containers if isinstance(c, ErrorbarContainer) and c.get_label() == name]
    assert len(found) == 1
    return found[0]


def caption_of(figure: Figure) -> str:
    """Return the figure's caption line (the one that names the seed)."""
    found = [t.get_text() for t in figure.texts if t.get_text().startswith("seed ")]
    assert len(found) == 1, [t.get_text() for t in figure.texts]
    return found[0]


# -- fixtures ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def compare_figures(small_compare: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Figure]:
    """Return the figures the compare report draws for the small comparison."""
    return capture(compare_page.compare_report, small_compare, tmp_path_factory.mktemp("compare_report"))


@pytest.fixture(scope="module")
def summaries(small_compare: Path) -> dict[str, dict[str, Any]]:
    """Return each arrangement's summary.json."""
    return {name: json.loads((small_compare / name / "summary.json").read_text(encoding="utf-8"))
            for name in SMALL_COMPARE}


@pytest.fixture(scope="module")
def configs(small_compare: Path) -> dict[str, Config]:
    """Return each arrangement's resolved config."""
    return {name: Config.model_validate(arrangement.load_arrangement(small_compare / name)[1]["config"])
            for name in SMALL_COMPARE}


@pytest.fixture(scope="module")
def experiments(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """Run three tiny sweeps (grid of one and two factors, Sobol) and an attribution, all at once."""
    root = tmp_path_factory.mktemp("experiments")
    oracle = json.dumps(str(ORACLE))
    folders = {name: root / name for name in ("grid_1", "grid_2", "sobol", "attribute")}
    commands = {name: ("sweep", write_sweep(root, text.format(oracle=oracle), f"{name}.toml"), "--out", folders[name],
                       "-q", "--workers", "1")
                for name, text in (("grid_1", GRID_1), ("grid_2", GRID_2), ("sobol", SOBOL))}
    commands["attribute"] = ("attribute", ORACLE, "-r", "2", "--set", "scenario.days=60", "--out",
                             folders["attribute"], "-q", "--workers", "2")
    started = {name: popen_cli(*args) for name, args in commands.items()}
    for name, process in started.items():
        stdout, stderr = process.communicate(timeout=300)
        assert process.returncode == 0, f"{name}: {stdout}{stderr}"
    return folders


@pytest.fixture(scope="module")
def experiment_figures(experiments: dict[str, Path],
                       tmp_path_factory: pytest.TempPathFactory) -> dict[str, dict[str, Figure]]:
    """Return the figures of each experiment's report, by experiment and figure name."""
    out = tmp_path_factory.mktemp("experiment_reports")
    builders = {"grid_1": sweep_page.sweep_report, "grid_2": sweep_page.sweep_report, "sobol": sweep_page.sweep_report,
                "attribute": attribution_page.attribution_report}
    return {name: capture(builders[name], folder, out / name) for name, folder in experiments.items()}


# -- residual by channel ----------------------------------------------------------------------
def tick_names(ax: Axes, configs: dict[str, Config]) -> list[str]:
    """Return the arrangements (by name) whose display names label the x axis, in order."""
    by_label = {config.scenario.display or config.scenario.name: name for name, config in configs.items()}
    return [by_label[label.get_text().replace("\n", " ")] for label in ax.get_xticklabels()]  # labels wrap


@pytest.mark.slow
def test_residual_by_channel_bars_are_the_channel_means(compare_figures: dict[str, Figure],
                                                        summaries: dict[str, dict[str, Any]],
                                                        configs: dict[str, Config]) -> None:
    """Each bar is its channel's mean in summary.json; channels with no access anywhere get no bar."""
    ax = compare_figures["residual_by_channel"].axes[0]
    names = tick_names(ax, configs)
    assert names == list(SMALL_COMPARE)
    summed = dict.fromkeys(names, 0.0)
    for channel in CHANNELS:
        means = [leaf(summaries[n], f"residual_access.by_channel.{channel}.events")["mean"] for n in names]
        bars = [p for p in ax.patches if p.get_gid() == f"channel:{channel}"]
        if not any(m > 0 for m in means):
            assert not bars
            continue
        assert len(bars) == len(names)
        for bar, name, mean in zip(sorted(bars, key=lambda b: b.get_x()), names, means, strict=True):
            assert round(bar.get_x() + bar.get_width() / 2) == names.index(name)
            assert bar.get_height() == pytest.approx(mean, rel=1e-12, abs=1e-12)
            assert bar.get_y() == 0
            summed[name] += bar.get_height()
    for name in names:  # every residual access has exactly one channel
        assert summed[name] == pytest.approx(leaf(summaries[name], "residual_access.events")["mean"], rel=1e-9)
        total = [c for c in ax.collections if c.get_gid() == f"total:{name}"]
        assert len(total) == 1
        ((_, y0), (_, y1)), = total[0].get_segments()  # type: ignore[attr-defined]
        assert y0 == y1 == pytest.approx(leaf(summaries[name], "residual_access.events")["mean"], rel=1e-12)


@pytest.mark.slow
def test_residual_by_channel_whiskers_span_the_total_interval(compare_figures: dict[str, Figure],
                                                              summaries: dict[str, dict[str, Any]],
                                                              configs: dict[str, Config]) -> None:
    """The whisker beside each group runs from the low to the high end of the total's 95% interval."""
    ax = compare_figures["residual_by_channel"].axes[0]
    names = tick_names(ax, configs)
    whiskers = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert len(whiskers) == len(names)
    for container in whiskers:
        assert all(collection.get_gid() == "total-ci" for collection in container.lines[2])
        ((x0, low), (x1, high)), = segments(container)
        assert x0 == x1
        ci = leaf(summaries[names[round(x0 - 0.45)]], "residual_access.events")["ci95"]
        assert sorted((low, high)) == pytest.approx(ci, rel=1e-12)


@pytest.mark.slow
def test_residual_by_channel_takes_a_log_scale_when_values_span_orders_of_magnitude(
        compare_figures: dict[str, Figure], summaries: dict[str, dict[str, Any]]) -> None:
    """Microsoft's handful of accesses and the status quo's thousands share a log axis; close values keep linear."""
    values = [leaf(summaries[n], f"residual_access.by_channel.{c}.events")["mean"] for n in SMALL_COMPARE
              for c in CHANNELS]
    positive = [v for v in values if v > 0]
    assert max(positive) / min(positive) > 100, "the small comparison should span orders of magnitude"
    assert compare_figures["residual_by_channel"].axes[0].get_yscale() == "log"
    close = [plots.Arrangement(f"a{i}", "", {"residual_access.events": (v, v, v),
                                             "residual_access.by_channel.covert.events": (v, v, v)})
             for i, v in enumerate((40.0, 90.0, 400.0))]
    assert plots.residual_by_channel(close, "seed 1").axes[0].get_yscale() == "linear"
    assert needs_log([5.0, 10_000.0]) and not needs_log([5.0, 400.0]) and not needs_log([0.0, 0.0])


@pytest.mark.slow
def test_residual_by_channel_has_title_units_and_caption(compare_figures: dict[str, Figure],
                                                         small_compare: Path) -> None:
    """The channel figure has a title, axis labels with units, and a legend naming every channel."""
    figure = compare_figures["residual_by_channel"]
    ax = figure.axes[0]
    assert figure.get_suptitle()
    assert "in 150 days" in ax.get_ylabel() and "log scale" in ax.get_ylabel()  # totals over the run's span
    assert ax.get_xlabel() == "arrangement"
    legend = ax.get_legend()
    assert legend is not None
    texts = [t.get_text() for t in legend.get_texts()]
    assert texts[-1] == "total, with 95% interval"
    assert set(texts[:-1]) <= {CHANNEL_TITLES[c] for c in CHANNELS} and texts[:-1]
    manifest = json.loads((small_compare / "manifest.json").read_text(encoding="utf-8"))
    caption = caption_of(figure)
    assert f"seed {manifest['seed']}" in caption
    assert f"{manifest['replications']} replications" in caption
    assert f"residency {manifest['version']}" in caption
    assert manifest["version"] == __version__


@pytest.mark.slow
def test_every_compare_figure_has_title_labels_and_caption(compare_figures: dict[str, Figure],
                                                           small_compare: Path) -> None:
    """Every figure of the compare report has a title, labelled axes and the caption of the run."""
    manifest = json.loads((small_compare / "manifest.json").read_text(encoding="utf-8"))
    expected = {"residual_by_channel", "daily_timeline", "friction_vs_residual", "wait_ecdf", "exceedance",
                *(f"dataflow_{name}" for name in SMALL_COMPARE)}
    assert set(compare_figures) == expected
    for name, figure in compare_figures.items():
        assert figure.get_suptitle(), name
        caption = caption_of(figure)
        assert f"seed {manifest['seed']}" in caption and f"{manifest['replications']} replications" in caption
        for ax in figure.axes:
            if ax.axison:
                assert ax.get_ylabel(), name
        assert any(ax.get_xlabel() for ax in figure.axes if ax.axison) or name.startswith("dataflow_"), name


# -- daily timeline ---------------------------------------------------------------------------
def test_rolling_mean_by_hand() -> None:
    """The trailing mean is defined over complete windows only: NaN before the first full window."""
    nan = math.nan
    assert plots.rolling_mean([1.0, 2.0, 3.0, 4.0, 5.0], window=3) == pytest.approx([nan, nan, 2.0, 3.0, 4.0],
                                                                                  nan_ok=True)
    assert plots.rolling_mean([7.0] * 10)[6:] == pytest.approx([7.0] * 4)
    assert plots.rolling_mean([0, 0, 0, 0, 0, 0, 14, 0])[6:] == pytest.approx([2, 2])
    assert all(math.isnan(v) for v in plots.rolling_mean([2.0, 4.0], window=7))
    assert plots.rolling_mean([]) == []
    # Zeros after a busy week are exactly zero (no rounding residue a log axis would show).
    assert plots.rolling_mean([0.1, 0.2, 0.7, 0, 0, 0], window=3)[-1] == 0.0


@pytest.mark.slow
def test_daily_timeline_draws_the_daily_series(compare_figures: dict[str, Figure], small_compare: Path) -> None:
    """The top panel is the 7-day trailing mean of residual events; the bottom, records abroad in millions."""
    top, bottom = compare_figures["daily_timeline"].axes[:2]
    for name in SMALL_COMPARE:
        rows = read_csv(small_compare / name / "daily.csv")
        days = [plots.day_number(dt.date.fromisoformat(r["date"])) for r in rows]
        abroad = one_line(bottom, f"protected_records_abroad:{name}")
        assert floats(abroad.get_xdata()) == days
        assert floats(abroad.get_ydata()) == pytest.approx(
            [float(r["protected_records_abroad_mean"]) / 1e6 for r in rows], rel=1e-12)
        residual = one_line(top, f"residual_events:{name}")
        assert floats(residual.get_xdata()) == days
        log = top.get_yscale() == "log"
        smoothed = [math.nan if log and not v > 0 else v
                    for v in plots.rolling_mean([float(r["residual_events_mean"]) for r in rows])]
        assert floats(residual.get_ydata()) == pytest.approx(smoothed, rel=1e-12, nan_ok=True)
        assert all(math.isnan(v) for v in floats(residual.get_ydata())[:6])
        assert len(lines(top, f"band:residual_events:{name}")) == 2  # the interval is drawn
    assert "7-day" in top.get_ylabel() and "millions" in bottom.get_ylabel()


@pytest.mark.slow
def test_daily_timeline_marks_the_milestones(compare_figures: dict[str, Figure], configs: dict[str, Config]) -> None:
    """Each milestone date gets a dotted line in both panels, and the key lists every date."""
    figure = compare_figures["daily_timeline"]
    dates = {when for config in configs.values() for when, _ in arrangement.milestones(config)}
    assert dates, "the small run should cross some migration or deletion dates"
    for ax in figure.axes[:2]:
        marks = [line for line in ax.get_lines() if str(line.get_gid()).startswith("milestone:")]
        assert len(marks) == len(dates)
        for mark in marks:
            when = dt.date.fromisoformat(str(mark.get_gid()).split(":", 1)[1])
            assert set(floats(mark.get_xdata())) == {plots.day_number(when)}
        assert {dt.date.fromisoformat(str(m.get_gid()).split(":", 1)[1]) for m in marks} == dates
    (key,) = [t for t in figure.axes[1].texts if t.get_gid() == "milestone-key"]
    text = key.get_text()
    assert sum(line[:1].isdigit() for line in text.splitlines()) == len(dates)
    for when in dates:
        assert f"{when:%d %b %Y}" in text
    for config in configs.values():
        for when, label in arrangement.milestones(config):
            assert label in text and config.scenario.display in text, (when, label)


def test_milestones_stay_inside_the_simulated_days() -> None:
    """A milestone on the day after the last simulated day is not drawn on the timeline."""
    config = load_config(ORACLE).config
    start = config.scenario.start_date
    first = min(when for when, _ in arrangement.milestones(config) if when > start)
    cut = load_config(ORACLE, [("scenario.days", str((first - start).days), "--days")]).config
    last_day = start + dt.timedelta(days=cut.scenario.days - 1)
    assert all(when <= last_day for when, _ in arrangement.milestones(cut))


# -- friction against residual ----------------------------------------------------------------
@pytest.mark.slow
def test_friction_vs_residual_points_and_interval_crosses(compare_figures: dict[str, Figure],
                                                          summaries: dict[str, dict[str, Any]],
                                                          configs: dict[str, Config]) -> None:
    """Each arrangement sits at (time to decision, residual access) with its 95% interval in both directions."""
    ax = compare_figures["friction_vs_residual"].axes[0]
    for name in SMALL_COMPARE:
        x, y = leaf(summaries[name], "friction.decision_hours"), leaf(summaries[name], "residual_access.events")
        container = point_container(ax, configs[name].scenario.display)
        point = container.lines[0]
        assert point.get_gid() == f"point:{name}"
        assert floats(point.get_xdata()) == pytest.approx([x["mean"]], rel=1e-12)
        assert floats(point.get_ydata()) == pytest.approx([y["mean"]], rel=1e-12)
        drawn = segments(container)
        across = [s for s in drawn if s[0][1] == s[1][1]]
        upright = [s for s in drawn if s[0][0] == s[1][0]]
        assert len(across) == (x["ci95"] is not None) and len(upright) == (y["ci95"] is not None)
        for (x0, _), (x1, _) in across:
            assert sorted((x0, x1)) == pytest.approx(x["ci95"], rel=1e-12)
        for (_, y0), (_, y1) in upright:
            assert sorted((y0, y1)) == pytest.approx(y["ci95"], rel=1e-12)


def dominates(a: tuple[float, float], b: tuple[float, float]) -> bool:
    """Return whether a is at least as good as b on both coordinates and better on one (lower is better)."""
    return a[0] <= b[0] and a[1] <= b[1] and a != b


def test_pareto_front_by_hand() -> None:
    """The front keeps exactly the points no other point dominates, ordered by x."""
    points = [(5.0, 1.0), (1.0, 9.0), (2.0, 4.0), (3.0, 4.0), (2.5, 6.0), (4.0, 2.0), (6.0, 1.0), (1.0, 9.5),
              (7.0, 0.5), (2.0, 4.0)]
    front = plots.pareto_front(points)
    assert front == [(1.0, 9.0), (2.0, 4.0), (4.0, 2.0), (5.0, 1.0), (7.0, 0.5)]
    assert front == sorted(front)
    for p in front:
        assert not any(dominates(q, p) for q in points)
    for p in set(points) - set(front):
        assert any(dominates(q, p) for q in front)
    assert plots.pareto_front([]) == []
    assert plots.pareto_front([(3.0, 3.0)]) == [(3.0, 3.0)]


@pytest.mark.slow
def test_sweep_pareto_front_is_drawn(experiments: dict[str, Path],
                                     experiment_figures: dict[str, dict[str, Figure]]) -> None:
    """The sweep's Pareto figure plots every point and the front pareto_front computes from them."""
    points = [(r["friction.decision_hours.mean"], r["residual_access.events.mean"])
              for r in records_of(experiments["sobol"])]
    assert len(set(points)) > 1
    ax = experiment_figures["sobol"]["sweep_pareto"].axes[0]
    (scatter,) = [c for c in ax.collections if c.get_gid() == "sweep-points"]
    assert [v for p in sorted(map(tuple, scatter.get_offsets().tolist())) for v in p] == pytest.approx(
        [v for p in sorted(points) for v in p], rel=1e-12)
    front = one_line(ax, "pareto-front")
    expected = plots.pareto_front(points)
    assert floats(front.get_xdata()) == pytest.approx([p[0] for p in expected], rel=1e-12)
    assert floats(front.get_ydata()) == pytest.approx([p[1] for p in expected], rel=1e-12)


# -- waits ------------------------------------------------------------------------------------
def test_ecdf_from_histogram_by_hand() -> None:
    """The ECDF steps at each bin's upper edge to the cumulative share, in edge order."""
    xs, ys = plots.ecdf_from_histogram([(2.0, 4.0, 2), (0.0, 1.0, 2), (1.0, 2.0, 0)])
    assert xs == [1.0, 2.0, 4.0]
    assert ys == pytest.approx([0.5, 0.5, 1.0])
    assert plots.ecdf_from_histogram([]) == ([], [])


@pytest.mark.slow
def test_wait_ecdf_draws_the_wait_histogram(compare_figures: dict[str, Figure], small_compare: Path,
                                            summaries: dict[str, dict[str, Any]]) -> None:
    """Each gated arrangement's ECDF is its wait histogram's; its p95 line is the summary's p95 mean."""
    ax = compare_figures["wait_ecdf"].axes[0]
    drawn = 0
    for name in SMALL_COMPARE:
        bins = [(float(r["wait_hours_low"]), float(r["wait_hours_high"]), int(r["count"]))
                for r in read_csv(small_compare / name / "wait_histogram.csv")]
        if not bins:
            assert not lines(ax, f"ecdf:{name}") and not lines(ax, f"p95:{name}")
            continue
        drawn += 1
        step = one_line(ax, f"ecdf:{name}")
        xs, ys = plots.ecdf_from_histogram(bins)
        # A log axis starts at the smallest positive bin edge: the share that never queued sits there.
        smallest = min(x for x in xs if x > 0)
        assert floats(step.get_xdata()) == pytest.approx([max(x, smallest) for x in xs])
        assert floats(step.get_ydata()) == pytest.approx(ys)
        assert all(a <= b for a, b in itertools.pairwise(xs))
        assert all(a <= b for a, b in itertools.pairwise(ys))
        assert ys[-1] == pytest.approx(1.0)
        p95 = one_line(ax, f"p95:{name}")
        p95_mean = leaf(summaries[name], "friction.wait_hours_p95")["mean"]
        assert floats(p95.get_xdata()) == pytest.approx([p95_mean], rel=1e-12)
        assert floats(p95.get_ydata()) == [0.95]
    assert drawn >= 1
    assert ax.get_xscale() == "log"


@pytest.mark.slow
def test_arrangement_without_steward_gate_draws_no_ecdf(compare_figures: dict[str, Figure], small_compare: Path,
                                                        configs: dict[str, Config]) -> None:
    """status_quo has no steward route, no waits, and no ECDF in the figure."""
    config = configs["status_quo"]
    assert config.gatekeeper is None or all(route.gate != "steward" for route in config.routes)
    assert read_csv(small_compare / "status_quo" / "wait_histogram.csv") == []
    ax = compare_figures["wait_ecdf"].axes[0]
    assert not [line for line in ax.get_lines() if str(line.get_gid()).endswith(":status_quo")]


# -- exceedance -------------------------------------------------------------------------------
def test_exceedance_points_by_hand() -> None:
    """P(X > x) at each sorted value counts the strictly larger values."""
    assert plots.exceedance_points([3.0, 1.0, 3.0, 2.0]) == ([1.0, 2.0, 3.0, 3.0], [0.75, 0.5, 0.0, 0.0])


@pytest.mark.slow
def test_exceedance_draws_the_replications(compare_figures: dict[str, Figure], small_compare: Path) -> None:
    """Each curve's points are the sorted replication values and the share of replications above each."""
    ax = compare_figures["exceedance"].axes[0]
    for name in SMALL_COMPARE:
        values = [float(r["residual_access.events"]) for r in read_csv(small_compare / name / "replications.csv")]
        ordered = sorted(values)
        above = [sum(v > x for v in values) / len(values) for x in ordered]
        curve = one_line(ax, f"exceedance:{name}")
        assert floats(curve.get_xdata()) == ordered
        assert floats(curve.get_ydata()) == pytest.approx(above)
        assert floats(curve.get_ydata())[-1] == 0.0
        # Three replications: a band of ±78% would cover the figure, so none is drawn and the note says why.
        assert not [c for c in ax.collections if c.get_gid() == f"band:{name}"]
    notes = [t.get_text() for t in compare_figures["exceedance"].texts if t.get_gid() == "note"]
    assert any("no confidence band" in text and f"-r {plots.BAND_REPLICATIONS}" in text for text in notes)


def test_exceedance_band_is_drawn_once_replications_narrow_it() -> None:
    """With enough replications the band is drawn, clipped to [0, 1], of the Dvoretzky-Kiefer-Wolfowitz width."""
    n = plots.BAND_REPLICATIONS
    assert plots.dkw_half_width(n) <= plots.BAND_WIDEST < plots.dkw_half_width(n - 1)
    values = [100.0 + k for k in range(n)]
    arrangement = plots.Arrangement("many", "", {"residual_access.events": (110.0, 105.0, 115.0)},
                                    {"residual_access.events": values}, {}, display="Many", colour="#0072B2")
    ax = plots.exceedance([arrangement], "seed 1").axes[0]
    (band,) = [c for c in ax.collections if c.get_gid() == "band:many"]
    tops = band.get_paths()[0].vertices[:, 1]
    assert max(tops) == pytest.approx(1.0) and min(tops) == pytest.approx(0.0)
    assert plots.dkw_half_width(n) == pytest.approx(math.sqrt(math.log(40) / (2 * n)))


# -- sweep and attribution figures ------------------------------------------------------------
def records_of(folder: Path) -> list[dict[str, Any]]:
    """Return a sweep folder's per-point summaries."""
    store = Store(folder, create=False)
    try:
        return summary_records(store)
    finally:
        store.close()


@pytest.mark.slow
def test_sweep_line_draws_the_point_means(experiments: dict[str, Path],
                                          experiment_figures: dict[str, dict[str, Figure]]) -> None:
    """A one-factor grid draws each output's mean at each factor value, in factor order."""
    records = sorted(records_of(experiments["grid_1"]), key=lambda r: r["gatekeeper.reviewers"])
    assert [r["gatekeeper.reviewers"] for r in records] == [25, 50, 100]
    for output in ("friction.wait_hours", "residual_access.events"):
        ax = experiment_figures["grid_1"][f"sweep_line_{output.replace('.', '_')}"].axes[0]
        line = one_line(ax, "line:oracle")
        assert floats(line.get_xdata()) == [25.0, 50.0, 100.0]
        assert floats(line.get_ydata()) == pytest.approx([r[f"{output}.mean"] for r in records], rel=1e-12)
        assert ax.get_xlabel() == "Gatekeeper: reviewers" and ax.get_ylabel() == metric_label(output)


@pytest.mark.slow
def test_sweep_heatmap_image_is_the_grid_of_means(experiments: dict[str, Path],
                                                  experiment_figures: dict[str, dict[str, Figure]]) -> None:
    """A two-factor grid's heatmap holds each point's mean at (factor 2 row, factor 1 column)."""
    records = records_of(experiments["grid_2"])
    xs = sorted({r["gatekeeper.reviewers"] for r in records})
    ys = sorted({r["gatekeeper.review_hours_mean"] for r in records})
    assert (xs, ys) == ([25, 50, 100], [2.0, 8.0])
    for output in ("friction.wait_hours", "residual_access.events"):
        grid = [[next(r[f"{output}.mean"] for r in records
                      if r["gatekeeper.reviewers"] == x and r["gatekeeper.review_hours_mean"] == y) for x in xs]
                for y in ys]
        ax = experiment_figures["grid_2"][f"sweep_heatmap_oracle_{output.replace('.', '_')}"].axes[0]
        (image,) = [i for i in ax.get_images() if i.get_gid() == "heatmap"]
        assert isinstance(image, AxesImage)
        assert image.get_array().tolist() == [pytest.approx(row, rel=1e-12) for row in grid]
        assert [t.get_text() for t in ax.get_xticklabels()] == [f"{x:,}" for x in xs]
        assert [float(t.get_text()) for t in ax.get_yticklabels()] == ys


@pytest.mark.slow
def test_sensitivity_bars_equal_the_stored_indices(experiments: dict[str, Path],
                                                   experiment_figures: dict[str, dict[str, Figure]]) -> None:
    """Each Sobol bar's length is the stored S1 or ST index of its factor, its whisker the stored conf."""
    store = Store(experiments["sobol"], create=False)
    stored = store.sensitivity()
    store.close()
    assert sorted({r[3] for r in stored}) == ["actors.cn_engineers.requests_per_hour", "controls.code_review_coverage"]
    total = {r[3]: r[5] for r in stored if r[4] == "ST" and r[1] == "oracle" and r[2] == "residual_access.events"}
    factors = sorted(total, key=lambda f: total[f])  # drawn bottom to top: the largest total effect on top
    ax = experiment_figures["sobol"]["sensitivity_oracle_residual_access_events"].axes[0]
    containers = [c for c in ax.containers if isinstance(c, BarContainer)]
    for measure in ("S1", "ST"):
        mine = {r[3]: (r[5], r[6]) for r in stored if r[4] == measure and r[1] == "oracle"
                and r[2] == "residual_access.events"}
        bars = sorted((p for p in ax.patches if p.get_gid() == f"index:{measure}"), key=lambda p: p.get_y())
        assert [b.get_width() for b in bars] == pytest.approx([mine[f][0] for f in factors], rel=1e-12)
        labels = [t.get_text().removesuffix(" ⚠") for t in ax.get_yticklabels()]
        titles = {key: group.title for key, group in load_config(ORACLE).config.actors.items()}
        assert labels == [factor_label(f, titles) for f in factors]
        (container,) = [c for c in containers if c.patches[0].get_gid() == f"index:{measure}"]
        assert container.errorbar is not None
        whiskers = sorted(segments(container.errorbar), key=lambda s: s[0][1])
        assert [(a + b) / 2 for (a, _), (b, _) in whiskers] == pytest.approx([mine[f][0] for f in factors])
        assert [abs(b - a) / 2 for (a, _), (b, _) in whiskers] == pytest.approx(
            [mine[f][1] or 0.0 for f in factors], rel=1e-9, abs=1e-12)


@pytest.mark.slow
def test_attribution_waterfall_walks_from_as_configured_to_all_off(
        experiments: dict[str, Path], experiment_figures: dict[str, dict[str, Figure]]) -> None:
    """Bars climb from as_configured by each control's prevented mean; the last bar is all_controls_off."""
    document = json.loads((experiments["attribute"] / "attribution.json").read_text(encoding="utf-8"))
    ax = experiment_figures["attribute"]["attribution_waterfall"].axes[0]
    bars = sorted(ax.patches, key=lambda p: p.get_x())
    gids = [b.get_gid() for b in bars]
    controls = [name for name in document["controls"] if name != "all_controls_off"]
    assert gids == ["bar:as configured", *(f"bar:{name}" for name in controls), "bar:overlap", "bar:all off"]
    level = document["as_configured"]["mean"]
    assert bars[0].get_y() == 0 and bars[0].get_height() == pytest.approx(level, rel=1e-12)
    whiskers = iter(c for c in ax.containers if isinstance(c, ErrorbarContainer))
    for bar, name in zip(bars[1:-2], controls, strict=True):
        prevented = document["controls"][name]["prevented"]
        assert bar.get_y() == pytest.approx(level, rel=1e-12)
        assert bar.get_height() == pytest.approx(prevented["mean"], rel=1e-12, abs=1e-12)
        ci = prevented["ci95"] or [prevented["mean"]] * 2
        ((_, low), (_, high)), = segments(next(whiskers))
        assert sorted((low, high)) == pytest.approx([level + ci[0], level + ci[1]], rel=1e-12, abs=1e-9)
        level += prevented["mean"]
    all_off = document["controls"]["all_controls_off"]["with_control_off"]["mean"]
    overlap, last = bars[-2], bars[-1]
    assert overlap.get_y() == pytest.approx(level, rel=1e-12)
    assert overlap.get_y() + overlap.get_height() == pytest.approx(all_off, rel=1e-12)
    assert last.get_y() == 0 and last.get_height() == pytest.approx(all_off, rel=1e-12)


# -- data-flow maps ---------------------------------------------------------------------------
def leaks_by_rule(config: Config, leaks: dict[str, float], actor: str, site: str, gate: str) -> bool:
    """Return whether a route leaks: a foreign reader, and its channel counted residual accesses."""
    if config.actors[actor].location in config.policy.allowed_read:
        return False
    if config.sites[site].jurisdiction not in config.policy.allowed_rest:
        return leaks["legacy_or_backup_abroad"] > 0
    if gate == "steward":
        return any(leaks[c] > 0 for c in ("approved_in_error", "emergency_path", "parent_override"))
    return leaks["approved_by_policy"] > 0


def routes_drawn(figure: Figure) -> dict[str, FancyArrowPatch]:
    """Return a data-flow map's route arrows by gid."""
    return {str(p.get_gid()): p for p in figure.axes[0].patches
            if isinstance(p, FancyArrowPatch) and str(p.get_gid()).startswith("route:")}


@pytest.mark.slow
def test_dataflow_map_draws_nodes_routes_and_leaks(compare_figures: dict[str, Figure], configs: dict[str, Config],
                                                   summaries: dict[str, dict[str, Any]]) -> None:
    """One node per actor group and site, one arrow per open route, thick and coloured exactly where it leaks."""
    for name, config in configs.items():
        figure = compare_figures[f"dataflow_{name}"]
        nodes = sorted(str(p.get_gid()) for p in figure.axes[0].patches if str(p.get_gid()).startswith("node:"))
        assert nodes == sorted([*(f"node:actor:{a}" for a in config.actors), *(f"node:site:{s}" for s in config.sites)])
        counted = config.policy.counted_classes[0]
        assert counted == "protected"
        leaks = {c: leaf(summaries[name], f"residual_access.by_channel.{c}.events")["mean"] for c in CHANNELS}
        gates = {(a, s): route_gate(config.routes, a, s, counted) for a in config.actors for s in config.sites}
        routes = routes_drawn(figure)
        assert set(routes) == {f"route:{a}:{s}" for (a, s), gate in gates.items() if gate != "blocked"}
        closed = {str(line.get_gid()) for line in figure.axes[0].get_lines()
                  if str(line.get_gid()).startswith("route:")}
        assert closed == {f"route:{a}:{s}" for (a, s), gate in gates.items() if gate == "blocked"}
        marks = {str(t.get_gid()): t.get_text() for t in figure.axes[0].texts if str(t.get_gid()).startswith("mark:")}
        assert set(marks) == {f"mark:{a}:{s}" for (a, s), gate in gates.items() if gate == "blocked"}
        assert set(marks.values()) <= {"✕", "?"}
        for (actor, site), gate in gates.items():
            if gate == "blocked":
                continue
            arrow = routes[f"route:{actor}:{site}"]
            assert arrow.get_arrowstyle().__class__.__name__ == "CurveFilledB"  # one head, at the site
            red = to_hex(arrow.get_edgecolor()) == LEAK
            assert red == leaks_by_rule(config, leaks, actor, site, gate), (name, actor, site, gate)
            assert arrow.get_linewidth() > 2 if red else arrow.get_linewidth() < 2


@pytest.mark.slow
def test_dataflow_map_known_cases(compare_figures: dict[str, Figure]) -> None:
    """status_quo's China-based engineers leak through the parent's approval; Microsoft blocks them."""
    status_quo = routes_drawn(compare_figures["dataflow_status_quo"])
    assert to_hex(status_quo["route:cn_engineers:virginia"].get_edgecolor()) == LEAK
    assert all(to_hex(a.get_edgecolor()) != LEAK for gid, a in status_quo.items()
               if gid.startswith("route:us_engineers:"))
    microsoft = routes_drawn(compare_figures["dataflow_microsoft"])
    assert microsoft and not [gid for gid in microsoft if gid.startswith("route:cn_engineers:")]
    legend = compare_figures["dataflow_microsoft"].axes[0].get_legend()
    assert legend is not None and "United States" in [t.get_text() for t in legend.get_texts()]


def test_unrouted_pairs_are_flagged_apart_from_blocked_ones() -> None:
    """A pair no route names is drawn with a '?', a pair a route blocks with a cross."""
    config = load_config(ORACLE).config
    routes = (Route(actor="us_engineers", gate="steward"),
              Route(actor="cn_engineers", site="singapore", gate="blocked"))
    figure = dataflow_map(config.model_copy(update={"routes": routes}), dict.fromkeys(CHANNELS, 0.0), "seed 1", "x")
    marks = {str(t.get_gid()): t.get_text() for t in figure.axes[0].texts if str(t.get_gid()).startswith("mark:")}
    assert marks == {"mark:cn_engineers:singapore": "✕", "mark:cn_engineers:oracle_us": "?",
                     "mark:cn_engineers:virginia": "?"}


# -- colours ----------------------------------------------------------------------------------
@pytest.mark.slow
def test_arrangement_colours_agree_across_figures(compare_figures: dict[str, Figure],
                                                  configs: dict[str, Config]) -> None:
    """Each arrangement has its configured colour in every figure, and different arrangements differ."""
    palette = {name: config.scenario.colour.lower() for name, config in configs.items()}
    assert len(set(palette.values())) == len(palette) and all(palette.values())
    timeline = compare_figures["daily_timeline"].axes
    points = compare_figures["friction_vs_residual"].axes[0]
    for name in SMALL_COMPARE:
        seen = {
            "residual line": one_line(timeline[0], f"residual_events:{name}").get_color(),
            "abroad line": one_line(timeline[1], f"protected_records_abroad:{name}").get_color(),
            "point": point_container(points, configs[name].scenario.display).lines[0].get_color(),
            "exceedance": one_line(compare_figures["exceedance"].axes[0], f"exceedance:{name}").get_color(),
        }
        for line in lines(compare_figures["wait_ecdf"].axes[0], f"ecdf:{name}"):
            seen["ecdf"] = line.get_color()
        assert {key: to_hex(value) for key, value in seen.items()} == dict.fromkeys(seen, palette[name])
    ticks = {to_hex(t.get_color()) for t in compare_figures["residual_by_channel"].axes[0].get_xticklabels()}
    assert len(ticks) == 1 and not ticks & set(palette.values())  # bars carry channel colours, so ticks stay ink


def test_arrangement_colours_come_from_configs_then_free_colours() -> None:
    """A configured colour is kept whatever else is compared; arrangements without one get unused colours."""
    shipped = {name: load_config(ARRANGEMENTS / f"{name}.toml").config.scenario.colour for name in SHIPPED}
    assert len(set(shipped.values())) == len(SHIPPED) and all(shipped.values())
    every = arrangement_colours(SHIPPED, shipped)
    assert every == shipped
    mixed = arrangement_colours(["mine", "oracle", "yours"], shipped)
    assert mixed["oracle"] == shipped["oracle"]
    assert mixed["mine"] != mixed["yours"]
    assert not {mixed["mine"], mixed["yours"]} & set(shipped.values())


def rgb_distance(a: str, b: str) -> float:
    """Return the distance between two colours in 0-255 RGB space."""
    return math.dist([c * 255 for c in to_rgb(a)], [c * 255 for c in to_rgb(b)])


def test_each_kind_has_its_own_colours() -> None:
    """Channels, places and gates never reuse (nor come close to) an arrangement colour or each other's."""
    shipped = [load_config(ARRANGEMENTS / f"{name}.toml").config.scenario.colour for name in SHIPPED]
    kinds = {"arrangement": [*shipped, *OKABE_ITO], "channel": list(CHANNEL_COLOURS.values()),
             "place": [*PLACE_COLOURS, OTHER_PLACE],
             "gate": [*GATE_COLOURS.values(), LEAK_COLOUR]}
    for kind, colours in kinds.items():
        if kind != "arrangement":
            assert len({c.lower() for c in colours}) == len(colours), kind
    for (kind_a, a), (kind_b, b) in itertools.combinations(kinds.items(), 2):
        for x in a:
            for y in b:
                assert rgb_distance(x, y) > 50, (kind_a, x, kind_b, y)


# -- the style: words, coincidences, intervals ------------------------------------------------
ID_OR_PATH = re.compile(r"\b[a-z]+_[a-z0-9_]+\b|\b[a-z_]+\.[a-z_]+\b")


def texts_of(figure: Figure) -> list[str]:
    """Return every text a figure shows: titles, labels, ticks, legends, annotations, notes."""
    found = [t.get_text() for t in figure.findobj(Text)]
    return [t for t in found if t.strip()]


@pytest.mark.slow
def test_no_id_or_metric_path_in_any_figure_text(compare_figures: dict[str, Figure],
                                                 experiment_figures: dict[str, dict[str, Figure]],
                                                 configs: dict[str, Config]) -> None:
    """Every text artist uses display names and words: no snake_case id, no dotted metric path."""
    ids = {*SMALL_COMPARE, *(k for c in configs.values() for k in (*c.sites, *c.actors, *c.organisations))}
    figures = {**compare_figures, **{f"{e}/{n}": f for e, fs in experiment_figures.items() for n, f in fs.items()}}
    for name, figure in figures.items():
        for text in texts_of(figure):
            assert not ID_OR_PATH.search(text), (name, text)
            assert not set(re.findall(r"[A-Za-z_]+", text)) & ids, (name, text)


def coinciding_pair() -> list[plots.Arrangement]:
    """Return two arrangements with identical results and a third that differs."""
    dates = [dt.date(2022, 6, 17) + dt.timedelta(days=d) for d in range(30)]
    daily = {"residual_events": plots.Series(dates, [5.0] * 30, [4.0] * 30, [6.0] * 30),
             "protected_records_abroad": plots.Series(dates, [1e8] * 30, [1e8] * 30, [1e8] * 30)}
    metrics = {"residual_access.events": (150.0, 140.0, 160.0), "friction.decision_hours": (2.0, 1.9, 2.1),
               "residual_access.by_channel.approved_by_policy.events": (150.0, 140.0, 160.0)}
    reps = {"residual_access.events": [140.0, 150.0, 160.0]}
    same = [plots.Arrangement(n, "", metrics, reps, daily, display=d, colour=c)
            for n, d, c in (("first", "First", "#555555"), ("second", "Second", "#009E73"))]
    other = plots.Arrangement("third", "", {k: (v[0] * 3, v[1] * 3, v[2] * 3) for k, v in metrics.items()},
                              {k: [x * 3 for x in v] for k, v in reps.items()}, daily={}, display="Third",
                              colour="#0072B2")
    return [*same, other]


def test_coinciding_series_are_both_visible_and_declared() -> None:
    """Arrangements with identical results are drawn one over the other, both visible, and the figure says so."""
    arrangements = coinciding_pair()
    timeline = plots.daily_timeline(arrangements, "seed 1")
    for ax, column in zip(timeline.axes, ("residual_events", "protected_records_abroad"), strict=True):
        first, second = one_line(ax, f"{column}:first"), one_line(ax, f"{column}:second")
        assert first.get_visible() and second.get_visible()
        assert first.get_linewidth() > second.get_linewidth() + 1  # the one below shows around the one on top
        assert second.get_linestyle() != first.get_linestyle()
    # Said once per panel in the key below the plot (a title this long ran off the figure).
    (key,) = [t for t in timeline.axes[1].texts if t.get_gid() == "milestone-key"]
    assert "Top panel: First and Second coincide" in key.get_text()
    assert "Bottom panel: First and Second coincide" in key.get_text()
    points = plots.friction_vs_residual(arrangements, "seed 1")
    ax = points.axes[0]
    first, second = (point_container(ax, n).lines[0] for n in ("First", "Second"))
    assert first.get_markersize() > second.get_markersize()
    assert any("First = Second" in t for t in texts_of(points))
    assert any("First and Second give identical results" in t for t in texts_of(points))
    curves = plots.exceedance(arrangements, "seed 1")
    assert "First and Second coincide" in curves.axes[0].get_title(loc="right")
    assert one_line(curves.axes[0], "exceedance:first").get_linewidth() > one_line(
        curves.axes[0], "exceedance:second").get_linewidth()


@pytest.mark.slow
def test_intervals_are_drawn_wherever_an_estimate_has_one(compare_figures: dict[str, Figure],
                                                          experiment_figures: dict[str, dict[str, Figure]]) -> None:
    """Totals, points, exceedance curves, sweep points and heatmap cells all carry their interval."""
    assert [c for c in compare_figures["residual_by_channel"].axes[0].containers if isinstance(c, ErrorbarContainer)]
    # (the exceedance band needs more replications than this small run has: see its own test)
    pareto = experiment_figures["sobol"]["sweep_pareto"].axes[0]
    assert [c for c in pareto.containers if isinstance(c, ErrorbarContainer)]
    line = experiment_figures["grid_1"]["sweep_line_friction_wait_hours"].axes[0]
    assert [c for c in line.collections if c.get_gid() == "band:oracle"]


def test_heatmap_marks_cells_noise_cannot_tell_apart() -> None:
    """A cell is hatched when its interval overlaps every neighbour's; the colour range covers the widest interval."""
    grid: list[list[tuple[float, float] | None]] = [[(0.0, 2.0), (1.0, 3.0)], [(10.0, 11.0), None]]
    assert indistinguishable(grid) == [(0, 1)]
    records = [{"a": a, "b": b, "y.mean": 100.0 + a, "y.ci95_low": 90.0 + a, "y.ci95_high": 110.0 + a}
               for a in (1.0, 2.0) for b in (1.0, 2.0)]
    figure = sweep_heatmap(records, ("a", "b"), "y", "seed 1")
    ax = figure.axes[0]
    (image,) = ax.get_images()
    low, high = image.get_clim()
    assert high - low >= 20.0  # the interval is 20 wide, the means differ by 1: no false contrast
    assert len([p for p in ax.patches if str(p.get_gid()).startswith("alike:")]) == 4
    assert all("±" in t.get_text() for t in ax.texts)


def test_sensitivity_warns_where_indices_are_not_resolved() -> None:
    """S1 above ST, an interval across zero or few samples each raise a warning."""
    assert sensitivity_warnings({"S1": (0.5, 0.05), "ST": (0.3, 0.05)}, "sobol") == ["S1 above ST"]
    assert sensitivity_warnings({"S1": (0.1, 0.3), "ST": (0.6, 0.1)}, "sobol") == ["interval crosses zero"]
    assert sensitivity_warnings({"S1": (0.4, 0.05), "ST": (0.6, 0.05)}, "sobol", samples=8) == ["only 8 samples"]
    assert sensitivity_warnings({"S1": (0.4, 0.05), "ST": (0.6, 0.05)}, "sobol", samples=512) == []
    rows = [("sobol", "a", "y", "f.big", "ST", 0.8, 0.1), ("sobol", "a", "y", "f.big", "S1", 0.7, 0.1),
            ("sobol", "a", "y", "f.small", "ST", 0.1, 0.2), ("sobol", "a", "y", "f.small", "S1", 0.2, 0.2)]
    figure = sensitivity_bars(rows, "y", "seed 1", "a", samples=512)
    labels = [t.get_text() for t in figure.axes[0].get_yticklabels()]
    assert labels == ["F: small ⚠", "F: big"]  # largest total effect on top, the unresolved one flagged


def test_spans_say_how_long_a_run_lasted() -> None:
    """Counts are totals over the run: labels say a year only for a 365-day run."""
    from sim.metrics.units import per_span, span

    assert (span(365), per_span(365)) == ("a year", "per year")
    assert (span(1461), per_span(1461)) == ("4 years", "in 4 years")
    assert (span(150), per_span(150)) == ("150 days", "in 150 days")


def test_figure_data_from_a_result_equals_the_data_read_back_from_its_files(tmp_path: Path) -> None:
    """The daily bands a notebook draws (from memory) are the ones the report draws (from the files): never below 0."""
    import sim
    from sim.report.arrangement import arrangement_from_result, load_arrangement
    from sim.results.runs import run_files

    result = sim.run(MMC, replications=3, days=20, workers=1).result
    folder = tmp_path / "mmc"
    folder.mkdir()
    for name, text in run_files(result).items():
        (folder / name).write_text(text, encoding="utf-8")
    in_memory, from_files = arrangement_from_result(result), load_arrangement(folder)[0]
    assert set(in_memory.daily) == set(from_files.daily)
    for column, series in in_memory.daily.items():
        read = from_files.daily[column]
        close = {"rel": 1e-4, "abs": 1e-6}  # the CSV rounds
        assert series.mean == pytest.approx(read.mean, **close), column
        assert series.low == pytest.approx(read.low, **close), column
        assert series.high == pytest.approx(read.high, **close), column
        assert min(series.low) >= 0.0, column
