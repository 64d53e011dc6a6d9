"""Figures are built from small real runs, and what they draw equals the numbers in the results files."""

from __future__ import annotations

import csv
import datetime as dt
import itertools
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from conftest import ARRANGEMENTS, SMALL_COMPARE, popen_cli, write_sweep
from matplotlib.axes import Axes
from matplotlib.colors import to_hex
from matplotlib.container import BarContainer, ErrorbarContainer
from matplotlib.figure import Figure
from matplotlib.image import AxesImage
from matplotlib.lines import Line2D
from matplotlib.text import Annotation

from sim import __version__
from sim.config.loader import load_config
from sim.config.schema import CHANNELS, Config, route_gate
from sim.experiment.sweep import summary_records
from sim.report import figures as plots
from sim.report import page as report
from sim.results.store import Store

ORACLE = ARRANGEMENTS / "oracle.toml"
SHIPPED = ("status_quo", "oracle", "microsoft", "google", "joint_venture")
RED = "#cc0000"

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
def capture(builder: Callable[[Path, Path, str], report.Report], folder: Path, out: Path) -> dict[str, Figure]:
    """Run a report builder and return the figures it saved, by name."""
    figures: dict[str, Figure] = {}
    original = report.save

    def keep(figure: Figure, where: Path, name: str, fmt: str, caption: str) -> report.FigureFile:
        figures[name] = figure
        return original(figure, where, name, fmt, caption)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(report, "save", keep)
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
    return capture(report.compare_report, small_compare, tmp_path_factory.mktemp("compare_report"))


@pytest.fixture(scope="module")
def summaries(small_compare: Path) -> dict[str, dict[str, Any]]:
    """Return each arrangement's summary.json."""
    return {name: json.loads((small_compare / name / "summary.json").read_text(encoding="utf-8"))
            for name in SMALL_COMPARE}


@pytest.fixture(scope="module")
def configs(small_compare: Path) -> dict[str, Config]:
    """Return each arrangement's resolved config."""
    return {name: Config.model_validate(report.load_arrangement(small_compare / name)[1]["config"])
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
    builders = {"grid_1": report.sweep_report, "grid_2": report.sweep_report, "sobol": report.sweep_report,
                "attribute": report.attribution_report}
    return {name: capture(builders[name], folder, out / name) for name, folder in experiments.items()}


# -- residual by channel ----------------------------------------------------------------------
def test_residual_by_channel_stacks_the_channel_means(compare_figures: dict[str, Figure],
                                                      summaries: dict[str, dict[str, Any]]) -> None:
    """Each stacked bar is its channel's mean in summary.json and sits on the channels below it."""
    ax = compare_figures["residual_by_channel"].axes[0]
    names = [label.get_text() for label in ax.get_xticklabels()]
    assert names == list(SMALL_COMPARE)
    stacked = dict.fromkeys(names, 0.0)
    for channel in CHANNELS:
        bars = [p for p in ax.patches if p.get_gid() == f"channel:{channel}"]
        assert len(bars) == len(names)
        for bar in bars:
            name = names[round(bar.get_x() + bar.get_width() / 2)]
            mean = leaf(summaries[name], f"residual_access.by_channel.{channel}.events")["mean"]
            assert bar.get_height() == pytest.approx(mean, rel=1e-12, abs=1e-12)
            assert bar.get_y() == pytest.approx(stacked[name], rel=1e-12, abs=1e-12)
            stacked[name] += bar.get_height()
    for name in names:  # every residual access has exactly one channel
        assert stacked[name] == pytest.approx(leaf(summaries[name], "residual_access.events")["mean"], rel=1e-9)


def test_residual_by_channel_whiskers_span_the_total_interval(compare_figures: dict[str, Figure],
                                                              summaries: dict[str, dict[str, Any]]) -> None:
    """The whisker on each stack runs from the low to the high end of the total's 95% interval."""
    ax = compare_figures["residual_by_channel"].axes[0]
    names = [label.get_text() for label in ax.get_xticklabels()]
    (whiskers,) = [c for c in ax.containers if isinstance(c, ErrorbarContainer)]
    assert all(collection.get_gid() == "total-ci" for collection in whiskers.lines[2])
    drawn = segments(whiskers)
    assert len(drawn) == len(names)
    for (x0, low), (x1, high) in drawn:
        assert x0 == x1
        ci = leaf(summaries[names[round(x0)]], "residual_access.events")["ci95"]
        assert sorted((low, high)) == pytest.approx(ci, rel=1e-12)


def test_residual_by_channel_has_title_units_and_caption(compare_figures: dict[str, Figure],
                                                         small_compare: Path) -> None:
    """The channel figure has a title, axis labels with units, and a legend naming every channel."""
    figure = compare_figures["residual_by_channel"]
    ax = figure.axes[0]
    assert figure.get_suptitle()
    assert "per year" in ax.get_ylabel()
    assert ax.get_xlabel() == "arrangement"
    legend = ax.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [c.replace("_", " ") for c in CHANNELS]
    manifest = json.loads((small_compare / "manifest.json").read_text(encoding="utf-8"))
    caption = caption_of(figure)
    assert f"seed {manifest['seed']}" in caption
    assert f"{manifest['replications']} replications" in caption
    assert f"residency {manifest['version']}" in caption
    assert manifest["version"] == __version__


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
    """The trailing mean averages what it has at the start, then the last `window` values."""
    assert plots.rolling_mean([1.0, 2.0, 3.0, 4.0, 5.0], window=3) == pytest.approx([1.0, 1.5, 2.0, 3.0, 4.0])
    assert plots.rolling_mean([7.0] * 10) == pytest.approx([7.0] * 10)
    assert plots.rolling_mean([0, 0, 0, 0, 0, 0, 14, 0]) == pytest.approx([0, 0, 0, 0, 0, 0, 2, 2])
    assert plots.rolling_mean([2.0, 4.0], window=7) == pytest.approx([2.0, 3.0])
    assert plots.rolling_mean([]) == []


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
        assert floats(residual.get_ydata()) == pytest.approx(
            plots.rolling_mean([float(r["residual_events_mean"]) for r in rows]), rel=1e-12)
    assert "7-day" in top.get_ylabel() and "millions" in bottom.get_ylabel()


def test_daily_timeline_marks_the_milestones(compare_figures: dict[str, Figure], configs: dict[str, Config]) -> None:
    """Each milestone date gets a dotted line in both panels, and the key lists every date."""
    figure = compare_figures["daily_timeline"]
    dates = {when for config in configs.values() for when, _ in report.milestones(config)}
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
    assert len(text.splitlines()) == len(dates)
    for when in dates:
        assert when.isoformat() in text
    for config in configs.values():
        for when, label in report.milestones(config):
            assert label in text and config.scenario.name in text, (when, label)


def test_milestones_stay_inside_the_simulated_days() -> None:
    """A milestone on the day after the last simulated day is not drawn on the timeline."""
    config = load_config(ORACLE).config
    start = config.scenario.start_date
    first = min(when for when, _ in report.milestones(config) if when > start)
    cut = load_config(ORACLE, [("scenario.days", str((first - start).days), "--days")]).config
    last_day = start + dt.timedelta(days=cut.scenario.days - 1)
    assert all(when <= last_day for when, _ in report.milestones(cut))


# -- friction against residual ----------------------------------------------------------------
def test_friction_vs_residual_points_and_interval_crosses(compare_figures: dict[str, Figure],
                                                          summaries: dict[str, dict[str, Any]]) -> None:
    """Each arrangement sits at (time to decision, residual access) with its 95% interval in both directions."""
    ax = compare_figures["friction_vs_residual"].axes[0]
    for name in SMALL_COMPARE:
        x, y = leaf(summaries[name], "friction.decision_hours"), leaf(summaries[name], "residual_access.events")
        container = point_container(ax, name)
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
        assert floats(step.get_xdata()) == pytest.approx(xs) and floats(step.get_ydata()) == pytest.approx(ys)
        assert all(a <= b for a, b in itertools.pairwise(xs))
        assert all(a <= b for a, b in itertools.pairwise(ys))
        assert ys[-1] == pytest.approx(1.0)
        p95 = one_line(ax, f"p95:{name}")
        p95_mean = leaf(summaries[name], "friction.wait_hours_p95")["mean"]
        assert floats(p95.get_xdata()) == pytest.approx([p95_mean, p95_mean], rel=1e-12)
    assert drawn >= 1


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
        assert ax.get_xlabel() == "gatekeeper.reviewers" and output in ax.get_ylabel()


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
        assert [t.get_text() for t in ax.get_xticklabels()] == [str(x) for x in xs]
        assert [float(t.get_text()) for t in ax.get_yticklabels()] == ys


@pytest.mark.slow
def test_sensitivity_bars_equal_the_stored_indices(experiments: dict[str, Path],
                                                   experiment_figures: dict[str, dict[str, Figure]]) -> None:
    """Each Sobol bar's length is the stored S1 or ST index of its factor, its whisker the stored conf."""
    store = Store(experiments["sobol"], create=False)
    stored = store.sensitivity()
    store.close()
    factors = sorted({r[3] for r in stored})
    assert factors == ["actors.cn_engineers.requests_per_hour", "controls.code_review_coverage"]
    ax = experiment_figures["sobol"]["sensitivity_oracle_residual_access_events"].axes[0]
    containers = [c for c in ax.containers if isinstance(c, BarContainer)]
    for measure in ("S1", "ST"):
        mine = {r[3]: (r[5], r[6]) for r in stored if r[4] == measure and r[1] == "oracle"
                and r[2] == "residual_access.events"}
        bars = sorted((p for p in ax.patches if p.get_gid() == f"index:{measure}"), key=lambda p: p.get_y())
        assert [b.get_width() for b in bars] == pytest.approx([mine[f][0] for f in factors], rel=1e-12)
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


def routes_drawn(figure: Figure) -> dict[str, Annotation]:
    """Return a data-flow map's route arrows by gid."""
    return {str(t.get_gid()): t for t in figure.axes[0].texts
            if isinstance(t, Annotation) and str(t.get_gid()).startswith("route:")}


def test_dataflow_map_draws_nodes_routes_and_leaks(compare_figures: dict[str, Figure], configs: dict[str, Config],
                                                   summaries: dict[str, dict[str, Any]]) -> None:
    """One node per actor group and site, an arrow per open protected route, red exactly where it leaks."""
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
        for (actor, site), gate in gates.items():
            if gate == "blocked":
                continue
            arrow = routes[f"route:{actor}:{site}"].arrow_patch
            assert arrow is not None
            red = to_hex(arrow.get_edgecolor()) == RED
            assert red == leaks_by_rule(config, leaks, actor, site, gate), (name, actor, site, gate)
            assert arrow.get_linewidth() > 2 if red else arrow.get_linewidth() < 2


def arrow_colour(route: Annotation) -> str:
    """Return the colour of a route's arrow."""
    assert route.arrow_patch is not None
    return to_hex(route.arrow_patch.get_edgecolor())


def test_dataflow_map_known_cases(compare_figures: dict[str, Figure]) -> None:
    """status_quo's China-based engineers leak through the parent's approval; Microsoft blocks them."""
    status_quo = routes_drawn(compare_figures["dataflow_status_quo"])
    assert arrow_colour(status_quo["route:cn_engineers:virginia"]) == RED
    assert all(arrow_colour(a) != RED for gid, a in status_quo.items() if gid.startswith("route:us_engineers:"))
    microsoft = routes_drawn(compare_figures["dataflow_microsoft"])
    assert microsoft and not [gid for gid in microsoft if gid.startswith("route:cn_engineers:")]


# -- colours ----------------------------------------------------------------------------------
def test_arrangement_colours_agree_across_figures(compare_figures: dict[str, Figure]) -> None:
    """Each arrangement has one colour in every figure, and different arrangements differ."""
    palette = {name: to_hex(colour) for name, colour in plots.colours(SMALL_COMPARE).items()}
    assert len(set(palette.values())) == len(palette)
    timeline = compare_figures["daily_timeline"].axes
    points = compare_figures["friction_vs_residual"].axes[0]
    ticks = {t.get_text(): to_hex(t.get_color()) for t in compare_figures["residual_by_channel"].axes[0]
             .get_xticklabels()}
    for name in SMALL_COMPARE:
        seen = {
            "residual line": one_line(timeline[0], f"residual_events:{name}").get_color(),
            "abroad line": one_line(timeline[1], f"protected_records_abroad:{name}").get_color(),
            "point": point_container(points, name).lines[0].get_color(),
            "exceedance": one_line(compare_figures["exceedance"].axes[0], f"exceedance:{name}").get_color(),
            "tick label": ticks[name],
        }
        for line in lines(compare_figures["wait_ecdf"].axes[0], f"ecdf:{name}"):
            seen["ecdf"] = line.get_color()
        assert {key: to_hex(value) for key, value in seen.items()} == dict.fromkeys(seen, palette[name])


def test_colours_are_fixed_for_shipped_arrangements() -> None:
    """A shipped arrangement keeps its colour whatever it is compared with; new names get unused colours."""
    every = plots.colours(SHIPPED)
    assert len(set(every.values())) == len(SHIPPED)
    assert plots.colours(list(reversed(SHIPPED))) == every
    for name in SHIPPED:
        assert plots.colours([name]) == {name: every[name]}
    mixed = plots.colours(["mine", "oracle", "yours"])
    assert mixed["oracle"] == every["oracle"]
    assert mixed["mine"] != mixed["yours"]
    assert not {mixed["mine"], mixed["yours"]} & set(every.values())
