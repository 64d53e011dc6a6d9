"""The report: figures and one self-contained HTML page (plus Markdown) over a results folder."""

from __future__ import annotations

import base64
import csv
import datetime as dt
import html
import io
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from sim import __version__
from sim.config.loader import load_config
from sim.config.resources import project_path
from sim.config.schema import CHANNEL_TITLES, CHANNELS, Config, display
from sim.errors import InputError
from sim.experiment.sweep import stored_outputs, summary_records
from sim.metrics import catalogue
from sim.metrics.recorder import hist_edges
from sim.metrics.stats import estimate
from sim.report import experiment_figures as experiment_plots
from sim.report import figures as plots
from sim.report.findings import findings
from sim.report.maps import dataflow_map
from sim.report.units import factor_label, metric_label, number, per_span
from sim.results.atomic import inside, os_error, staged_folder
from sim.results.runs import MANIFEST, MANIFEST_FORMAT, check_manifest_files, estimates
from sim.results.scenario import ScenarioResult
from sim.results.store import DB_NAME, FORMAT, Store

QUESTION = ("How much protected US user data is still read from abroad under each arrangement, through which "
            "channel, and what do the controls cost the engineers in waiting time?")
HEADLINE = tuple((m.path, m.label_in(catalogue.REPORT)) for m in catalogue.headline(catalogue.REPORT))
FORMATS = ("png", "svg", "pdf")
REPORT_FILES = frozenset({"report.html", "report.md", "figures"})
#: No dates or random ids in the files, so the same results give the same bytes.
METADATA: dict[str, dict[str, Any]] = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}
KINDS = ("compare", "run", "sweep", "attribute", "explore", "design")


@dataclass
class FigureFile:
    """A figure written to disk, with what it shows."""

    name: str
    caption: str
    path: Path
    embed: str  # HTML for the page: an <img> with a data URI, or inline SVG


#: A table on the page: title, header, rows.
Table = tuple[str, list[str], list[list[str]]]


@dataclass
class Report:
    """What a report page shows."""

    title: str
    kind: str
    command: str
    intro: list[str]
    tables: list[Table]
    figures: list[FigureFile] = field(default_factory=list)
    details: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)  # collapsible tables


def build_report(folder: Path, out: Path | None = None, fmt: str = "png") -> Path:
    """Write the figures, report.html and report.md for a results folder; return the page's path."""
    if fmt not in FORMATS:
        raise InputError("--format", fmt, "the figure format must be png, svg or pdf.", "use --format png, svg or pdf.")
    out = out or folder / "report"
    kind = detect_kind(folder)
    if kind == "explore":
        from sim.report.explore_page import explore_report  # it builds on this module

        builder: Callable[[Path, Path, str], Report] = explore_report
    elif kind == "design":
        from sim.report.design_page import design_report  # it builds on this module

        builder = design_report
    else:
        builder = {"compare": compare_report, "run": compare_report,
                   "sweep": sweep_report, "attribute": attribution_report}[kind]
    with staged_folder(out, owned=REPORT_FILES) as stage:  # a kill leaves the old page whole, or the new one
        try:
            report = builder(folder, stage, fmt)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise InputError(str(folder), None, f"the results cannot be read ({type(exc).__name__}: {exc}); a file "
                             "is damaged, edited or of another format.", "rerun the command that made the "
                             "folder (its manifest's `command`), then report again.") from None
        try:
            (stage / "report.html").write_text(render_html(report), encoding="utf-8")
            (stage / "report.md").write_text(render_markdown(report, stage), encoding="utf-8")
        except OSError as exc:
            raise os_error(out, exc) from None
    return out / "report.html"


def detect_kind(folder: Path) -> str:
    """Return what a results folder holds, or fail with what to do."""
    if not folder.is_dir():
        raise InputError(str(folder), None, "the folder does not exist.",
                         "give a folder that `residency compare`, `sweep` or `attribute` wrote (--out).")
    manifest = folder / MANIFEST
    if manifest.is_file():
        document = _read_json(manifest)
        if document.get("format") != MANIFEST_FORMAT:
            raise InputError(str(manifest), "format", f"these results are of an older format "
                             f"({document.get('format')!r}; this version reads {MANIFEST_FORMAT!r}).",
                             "rerun the command that made them (the manifest's `command`), then report again.")
        kind = document.get("kind")
        if kind not in KINDS:
            raise InputError(str(manifest), "kind", f"the manifest names no kind of results this version reads "
                             f"({kind!r}; it reads {', '.join(KINDS)}).",
                             "rerun the command that made them (the manifest's `command`), then report again.")
        return str(kind)
    if (folder / DB_NAME).is_file():
        return "sweep"
    if (folder / "attribution.json").is_file():
        return "attribute"
    if any(folder.glob("*/summary.json")) or (folder / "summary.json").is_file():
        raise InputError(str(folder), MANIFEST, "there is no manifest.json: these results are incomplete (a run "
                         "was stopped while writing them) or of an older format.",
                         "rerun `residency compare --out DIR` with this version, then report again.")
    raise InputError(str(folder), None, "there are no results in this folder.",
                     "run `residency compare --out DIR` (or sweep or attribute) first, then report on DIR.")


def _read_json(path: Path) -> dict[str, Any]:
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise InputError(str(path), None, f"the file cannot be read as JSON ({exc}).",
                         "rerun the command that wrote it.") from None
    if not isinstance(value, dict):
        raise InputError(str(path), None, "the file does not hold a JSON object.", "rerun the command that wrote it.")
    return value


# -- loading compare results ----------------------------------------------------------------
def load_arrangement(folder: Path) -> tuple[plots.Arrangement, dict[str, Any]]:
    """Read one arrangement's files into figure data, with its resolved-config document."""
    for name in ("summary.json", "daily.csv", "replications.csv", "wait_histogram.csv", "resolved_config.json"):
        if not (folder / name).is_file():
            raise InputError(str(folder / name), None, "a results file is missing (results of an older format?).",
                             "rerun the command in the folder's manifest.json, then report again.")
    summary = _read_json(folder / "summary.json")
    resolved = _read_json(folder / "resolved_config.json")
    metrics: dict[str, tuple[float | None, float | None, float | None]] = {}
    _flatten_leaves(summary, "", metrics)
    if "residual_access.events" not in metrics:
        raise InputError(str(folder / "summary.json"), "residual_access.events", "the summary holds no metrics "
                         "(it is damaged or of another format).", "rerun the command in the folder's manifest.json.")
    config = resolved["config"]
    arrangement = plots.Arrangement(
        name=config["scenario"]["name"], title=config["scenario"]["title"], metrics=metrics,
        display=config["scenario"].get("display", ""), colour=config["scenario"].get("colour", ""),
        replications=_read_columns(folder / "replications.csv"),
        daily=_read_daily(folder / "daily.csv"),
        wait_histogram=[(float(r["wait_hours_low"]), float(r["wait_hours_high"]), int(r["count"]))
                        for r in _read_csv(folder / "wait_histogram.csv")],
        milestones=milestones(Config.model_validate(config)),
        config=config,
    )
    return arrangement, resolved


def _flatten_leaves(node: dict[str, Any], prefix: str,
                    out: dict[str, tuple[float | None, float | None, float | None]]) -> None:
    for key, value in node.items():
        path = f"{prefix}.{key}" if prefix else key
        if key == "run":
            continue
        if isinstance(value, dict) and "mean" in value and "ci95" in value:
            ci = value["ci95"]
            out[path] = (value["mean"], ci[0] if ci else None, ci[1] if ci else None)
        elif isinstance(value, dict):
            _flatten_leaves(value, path, out)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


def _number(text: str) -> float:
    return math.nan if text == "" else float(text)


def _read_columns(path: Path) -> dict[str, list[float]]:
    rows = _read_csv(path)
    return {key: [_number(r[key]) for r in rows] for key in (rows[0] if rows else {}) if key != "replication"}


def _read_daily(path: Path) -> dict[str, plots.Series]:
    rows = _read_csv(path)
    if not rows:
        return {}
    dates = [dt.date.fromisoformat(r["date"]) for r in rows]
    columns = [k[:-5] for k in rows[0] if k.endswith("_mean")]
    series = {}
    for column in columns:
        mean = [_number(r[f"{column}_mean"]) for r in rows]
        low = [_number(r[f"{column}_ci95_low"]) if r[f"{column}_ci95_low"] else m
               for r, m in zip(rows, mean, strict=True)]
        high = [_number(r[f"{column}_ci95_high"]) if r[f"{column}_ci95_high"] else m
                for r, m in zip(rows, mean, strict=True)]
        series[column] = plots.Series(dates, mean, low, high)
    return series


def arrangement_from_result(result: ScenarioResult, name: str | None = None) -> plots.Arrangement:
    """Build figure data straight from an in-memory result (no files needed)."""
    config = result.loaded.config
    metrics = {k: (v.mean, v.low, v.high) for k, v in estimates(result).items()}
    dates = [config.scenario.start_date + dt.timedelta(days=d) for d in range(config.scenario.days)]
    daily = {}
    for column in result.replications[0].daily:
        cells = [estimate([rep.daily[column][d] for rep in result.replications]) for d in range(len(dates))]
        mean = [math.nan if c.mean is None else c.mean for c in cells]
        daily[column] = plots.Series(dates, mean, [m if c.low is None else c.low for c, m in zip(cells, mean,
                                                                                                strict=True)],
                                     [m if c.high is None else c.high for c, m in zip(cells, mean, strict=True)])
    pooled: dict[int, int] = {}
    for rep in result.replications:
        for index, count in rep.wait_histogram.items():
            pooled[index] = pooled.get(index, 0) + count
    histogram = [(*hist_edges(i), pooled[i]) for i in sorted(pooled)]
    return plots.Arrangement(
        name=name or config.scenario.name, title=config.scenario.title, metrics=metrics,
        display=name or config.scenario.display, colour="" if name else config.scenario.colour,
        replications={k: [rep.metrics[k] for rep in result.replications] for k in result.replications[0].metrics},
        daily=daily, wait_histogram=histogram, milestones=milestones(config),
        config=config.model_dump(mode="json"))


def milestones(config: Config) -> list[tuple[dt.date, str]]:
    """Return the dated events of an arrangement's timeline that fall inside its horizon."""
    start = config.scenario.start_date
    end = start + dt.timedelta(days=config.scenario.days)
    events: list[tuple[dt.date, str]] = []
    def site(key: str) -> str:
        return display(key, config.sites[key].title) if key in config.sites else display(key)

    for m in config.migrations:
        events.append((m.start, f"move to {site(m.target)} starts"))
        events.append((m.start + dt.timedelta(days=m.duration_days), f"move to {site(m.target)} done"))
    for r in config.replication:
        if r.until is not None:
            events.append((r.until, f"copies to {site(r.target)} stop"))
    for d in config.deletions:
        events.append((d.start, f"deletion at {site(d.site)} starts"))
        events.append((d.start + dt.timedelta(days=d.median_days), f"deletion at {site(d.site)}: median end"))
    return sorted({e for e in events if start <= e[0] < end})


# -- the compare report ---------------------------------------------------------------------
def compare_report(folder: Path, out: Path, fmt: str) -> Report:
    """Build the report of a `compare` (or `run`) folder."""
    manifest = _read_json(folder / MANIFEST)
    check_manifest_files(folder, manifest)
    names = list(manifest["arrangements"])
    if manifest["kind"] == "run":
        loaded = [load_arrangement(folder)]
    else:
        loaded = [load_arrangement(inside(folder, str(name))) for name in names]
    arrangements = [a for a, _ in loaded]
    caption = f"seed {manifest['seed']}, {manifest['replications']} replications, residency {manifest['version']}"
    when = per_span(plots.run_days(arrangements))
    figures = _compare_figures(arrangements, caption, when, out / "figures", fmt)
    baseline = manifest.get("baseline")
    diffs = _paired_differences(folder / "comparison.csv") if (folder / "comparison.csv").is_file() else {}
    header = ["arrangement", *[label for _, label in HEADLINE]]
    if baseline:
        header.append(f"Δ residual vs {next((a.label for a in arrangements if a.name == baseline), baseline)} "
                      "(paired)")
    rows = []
    for a in arrangements:
        row = [a.label, *[_fmt_interval(a.metrics.get(m)) for m, _ in HEADLINE]]
        if baseline:
            row.append("–" if a.name == baseline else _fmt_interval(diffs.get(a.name), signed=True))
        rows.append(row)
    channel_rows = [[a.label, *[_fmt_number(plots.channel_events(a, c)) for c in CHANNELS]] for a in arrangements]
    year_header, year_rows = by_year_table(arrangements)
    intro = [findings(arrangements, {a.name: resolved for a, resolved in loaded}, diffs, baseline), QUESTION,
             "Arrangements compared: " + "; ".join(f"{a.label} ({a.title})" for a in arrangements) + ".",
             f"Every figure is a mean over {manifest['replications']} replications with its 95% confidence interval. "
             "Replication r of every arrangement uses the same random streams (common random numbers), so the "
             "arrangements see the same requests and their paired differences are not noise."]
    intro += unrouted_notes(arrangements)
    details = [assumptions_table(a.label, resolved) for a, resolved in loaded]
    return Report(
        title="Residual cross-border access by arrangement", kind="compare", command=str(manifest["command"]),
        intro=intro,
        tables=[(f"Headline: totals {when.replace('per year', 'in a year')}, hours per request (mean [95% CI])",
                 header, rows),
                (f"Residual accesses by channel (mean {when})",
                 ["arrangement", *[CHANNEL_TITLES[c] for c in CHANNELS]], channel_rows),
                *([("Residual accesses by calendar year (mean [95% CI]; a year counts from its first simulated "
                    "day, so the first and last may be partial)", year_header, year_rows)] if year_rows else [])],
        figures=figures, details=details)


def _compare_figures(arrangements: list[plots.Arrangement], caption: str, when: str, figures_dir: Path,
                     fmt: str) -> list[FigureFile]:
    """Return the comparison's figures: channels, timeline, friction, waits, exceedance and one map each."""
    figures = [
        save(plots.residual_by_channel(arrangements, caption), figures_dir, "residual_by_channel", fmt,
             f"Residual cross-border accesses to protected data {when} by channel, with each arrangement's total "
             "and its 95% interval."),
        save(plots.daily_timeline(arrangements, caption), figures_dir, "daily_timeline", fmt,
             "Daily residual accesses and protected records at rest abroad, with migration and deletion dates."),
        save(plots.friction_vs_residual(arrangements, caption), figures_dir, "friction_vs_residual", fmt,
             "Each arrangement's time to decision against its residual access, with 95% interval crosses."),
        save(plots.wait_ecdf(arrangements, caption), figures_dir, "wait_ecdf", fmt,
             "Share of requests that wait at most a given time in the stewardship queue; p95 marked."),
        save(plots.exceedance(arrangements, caption), figures_dir, "exceedance", fmt,
             f"Chance that a run's residual accesses ({when}) exceed a value, with a 95% confidence band."),
    ]
    for a in arrangements:
        leaks: dict[str, float] = {c: plots.channel_events(a, c) for c in CHANNELS}
        end = a.metrics.get("at_rest_abroad.records_at_end", (None, None, None))[0]
        figures.append(save(dataflow_map(Config.model_validate(a.config), leaks, caption, a.label, end),
                            figures_dir, f"dataflow_{a.name}", fmt,
                            f"Data-flow map of {a.label}: sites, actor groups and routes; routes that leak are "
                            f"drawn thick, with their accesses {when}."))
    return figures


def by_year_table(arrangements: Sequence[plots.Arrangement]) -> tuple[list[str], list[list[str]]]:
    """Return the header and rows of residual accesses per calendar year, where the run spans several."""
    pattern = re.compile(r"^by_year\.(\d{4})\.residual_access\.events$")
    years = sorted({m.group(1) for a in arrangements for key in a.metrics if (m := pattern.match(key))})
    if len(years) < 2:
        return [], []
    rows = [[a.label, *[_fmt_interval(a.metrics.get(f"by_year.{year}.residual_access.events")) for year in years]]
            for a in arrangements]
    return ["arrangement", *years], rows


def unrouted_notes(arrangements: Sequence[plots.Arrangement]) -> list[str]:
    """Return a warning per arrangement whose (actor, data class) pairs no route serves, with the requests lost."""
    notes = []
    for a in arrangements:
        lost = {k.removeprefix("requests.unrouted."): v[0] for k, v in a.metrics.items()
                if k.startswith("requests.unrouted.") and v[0]}
        if lost:
            pairs = ", ".join(f"{pair.replace('.', ' / ')}: {_fmt_number(mean)}" for pair, mean in lost.items())
            notes.append(f"Warning: in {a.name}, no route serves some (actor group / data class) pairs, so their "
                         f"requests were denied as no_route (mean per run): {pairs}.")
    return notes


def _paired_differences(path: Path) -> dict[str, tuple[float | None, float | None, float | None]]:
    out: dict[str, tuple[float | None, float | None, float | None]] = {}
    for row in _read_csv(path):
        if row["metric"] == "residual_access.events" and row["diff_vs_baseline"] != "":
            out[row["scenario"]] = (float(row["diff_vs_baseline"]), _opt(row["diff_ci95_low"]),
                                    _opt(row["diff_ci95_high"]))
    return out


def _opt(text: str) -> float | None:
    return None if text == "" else float(text)


def assumptions_table(name: str, resolved: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """Return every parameter of an arrangement with its value and its source, assumptions marked."""
    config = resolved["config"]
    rows = []
    for key, source in sorted(resolved["provenance"].items()):
        value: Any = config
        for part in key.split("."):
            if isinstance(value, dict) and part in value:
                value = value[part]
            elif isinstance(value, list) and part.isdigit() and int(part) < len(value):
                value = value[int(part)]
            else:
                value = None
                break
        if value is None:
            continue
        kind = "assumption" if source.startswith("assumption") else ("override" if source.startswith("override")
                                                                     else "fact")
        rows.append([key, json.dumps(value) if isinstance(value, dict | list) else str(value), kind, source])
    return (f"Parameters of {name}: value and source", ["parameter", "value", "kind", "source"], rows)


# -- sweep and attribution reports ----------------------------------------------------------
def read_sweep(folder: Path) -> tuple[dict[str, Any], list[str], list[dict[str, Any]], list[Any], str | None]:
    """Return a sweep folder's definition, outputs, per-point records, sensitivity rows and command."""
    with Store(folder, create=False) as store:
        if store.meta("format") != FORMAT:
            raise InputError(str(store.path), "meta.format", "these results are of an older format.",
                             "rerun the sweep into a new folder, then report again.")
        records = summary_records(store, None)
        if not records:
            raise InputError(str(store.path), None, "the sweep has no finished rows yet.",
                             "run the sweep (it resumes where it stopped), then report again.")
        definition = json.loads(store.meta("definition") or "{}")
        outputs = stored_outputs(store) or ["residual_access.events"]
        return definition, outputs, records, store.sensitivity(), store.meta("command")


def rows_shown(folder: Path) -> tuple[int, int | None]:
    """Return how many rows of a sweep folder are finished, and how many its sweep plans."""
    with Store(folder, create=False) as store:
        return store.row_count(), store.planned()


def sweep_report(folder: Path, out: Path, fmt: str) -> Report:
    """Build the report of a sweep folder."""
    definition, outputs, records, sensitivity, stored_command = read_sweep(folder)
    spec = definition.get("spec", {})
    factors = [f["path"] for f in spec.get("factors", [])]
    design = spec.get("sweep", {}).get("design", "grid")
    sweep = spec.get("sweep", {})
    caption = f"seed {sweep.get('seed')}, {records[0]['replications']} replications per point, residency {__version__}"
    words = sweep_vocabulary(definition)
    figures_dir = out / "figures"
    figures = _sweep_figures(records, outputs, factors, design, caption, words, figures_dir, fmt)
    for arrangement, output in sorted({(r[1], r[2]) for r in sensitivity}):
        chosen = [r for r in sensitivity if r[1] == arrangement]
        figures.append(save(experiment_plots.sensitivity_bars(chosen, output, caption, arrangement,
                                                              spec.get("sweep", {}).get("samples"), words),
                            figures_dir, f"sensitivity_{arrangement}_{output.replace('.', '_')}", fmt,
                            f"{design.capitalize()} indices of {metric_label(output)} on {words.name(arrangement)}, "
                            "sorted by total effect, with 95% intervals."))
    pairs = [r for r in records if "friction.decision_hours.mean" in r and "residual_access.events.mean" in r]
    points = [(r["friction.decision_hours.mean"] or 0.0, r["residual_access.events.mean"] or 0.0) for r in pairs]
    intervals = [(*_bounds(r, "friction.decision_hours"), *_bounds(r, "residual_access.events")) for r in pairs]
    palette = words.palette(sorted({r["arrangement"] for r in pairs}))
    groups = [(words.name(r["arrangement"]), palette[r["arrangement"]]) for r in pairs]
    figures.append(save(plots.friction_vs_residual([], caption, points, intervals, groups), figures_dir,
                        "sweep_pareto", fmt,
                        "Every sweep point's time to decision against residual access, with 95% intervals and the "
                        "Pareto front."))
    tables = _sweep_tables(records, outputs, factors, sensitivity, words)
    command = stored_command or f"residency sweep {definition.get('file', '')}"
    shown, planned = rows_shown(folder)
    intro = [sweep.get("question") or QUESTION, f"Sweep {sweep.get('title') or sweep.get('name')}: "
             f"{len(records)} points, {design} design over {', '.join(factor_label(f, words.names) for f in factors)}."]
    if planned is not None and shown < planned:
        intro.append(f"Partial results: {shown} of {planned} rows are finished (the sweep is still running or was "
                     "stopped); every figure and table shows only those. Run the sweep again to finish it.")
    return Report(title=f"Sweep: {sweep.get('title') or sweep.get('name')}", kind="sweep",
                  command=command,
                  intro=intro, tables=tables, figures=figures)


def _sweep_figures(records: list[dict[str, Any]], outputs: list[str], factors: list[str], design: str,
                   caption: str, words: experiment_plots.Vocabulary, figures_dir: Path, fmt: str) -> list[FigureFile]:
    """Return each output's line (one factor) or heatmaps by arrangement (two factors) of a grid sweep."""
    figures = []
    for output in outputs:
        slug = output.replace(".", "_")
        if design == "grid" and len(factors) == 1:
            figures.append(save(experiment_plots.sweep_line(records, factors[0], output, caption, words), figures_dir,
                                f"sweep_line_{slug}", fmt,
                                f"{metric_label(output).capitalize()} against {factor_label(factors[0], words.names)}, "
                                "with its 95% band."))
        elif design == "grid" and len(factors) == 2:
            for arrangement in sorted({r["arrangement"] for r in records}):
                mine = [r for r in records if r["arrangement"] == arrangement]
                figures.append(save(experiment_plots.sweep_heatmap(mine, (factors[0], factors[1]), output, caption,
                                                                   words),
                                    figures_dir, f"sweep_heatmap_{arrangement}_{slug}", fmt,
                                    f"{metric_label(output).capitalize()} on {words.name(arrangement)} over "
                                    f"{factor_label(factors[0], words.names)} and "
                                    f"{factor_label(factors[1], words.names)}; hatched cells "
                                    "cannot be told apart from their neighbours."))
    return figures


def _sweep_tables(records: list[dict[str, Any]], outputs: list[str], factors: list[str],
                  sensitivity: list[Any], words: experiment_plots.Vocabulary) -> list[Table]:
    """Return the table of sweep points and, if any, of sensitivity indices."""
    header = ["point", "arrangement", *[factor_label(f, words.names) for f in factors], "replications",
              *[metric_label(o) for o in outputs]]
    rows = [[str(r["point"]), words.name(r["arrangement"]), *[_short(r.get(f)) for f in factors],
             str(r["replications"]),
             *[_fmt_interval((r[f"{o}.mean"], r[f"{o}.ci95_low"], r[f"{o}.ci95_high"])) for o in outputs]]
            for r in records[:60]]
    tables = [(f"Sweep points (mean [95% CI]){'; first 60 shown' if len(records) > 60 else ''}", header, rows)]
    if sensitivity:
        tables.append(("Sensitivity indices", ["method", "arrangement", "output", "factor", "measure", "value",
                                                "95% conf"],
                       [[m, words.name(a), metric_label(o), factor_label(f, words.names), k, f"{v:.3f}",
                         "" if c is None else f"{c:.3f}"]
                        for m, a, o, f, k, v, c in sensitivity]))
    return tables


def sweep_vocabulary(definition: dict[str, Any]) -> experiment_plots.Vocabulary:
    """Return the display names and colours of a sweep's arrangements, read from their configs where found."""
    names: dict[str, str] = {}
    arrangements: dict[str, str] = {}
    colours: dict[str, str] = {}
    sweep_file = Path(str(definition.get("file", ".")))
    for entry in definition.get("spec", {}).get("sweep", {}).get("arrangements", []):
        candidates = [sweep_file.parent / str(entry), project_path(Path("configs") / "arrangements") / f"{entry}.toml"]
        path = next((c for c in candidates if c.is_file()), None)
        if path is None:
            continue
        try:
            config = load_config(path).config
        except InputError:
            continue  # names are a courtesy: the figures fall back to the keys in words
        for group in (config.organisations, config.sites, config.actors):
            names.update({key: item.title for key, item in group.items() if item.title})
        arrangements[config.scenario.name] = display(config.scenario.name, config.scenario.display)
        colours[config.scenario.name] = config.scenario.colour
    names.update(arrangements)  # an arrangement named like a company is the arrangement here
    return experiment_plots.Vocabulary(names, colours)


def attribution_report(folder: Path, out: Path, fmt: str) -> Report:
    """Build the report of an `attribute` folder."""
    document = _read_json(folder / "attribution.json")
    if document.get("format") != MANIFEST_FORMAT:
        raise InputError(str(folder / "attribution.json"), "format", "these results are of an older format.",
                         "rerun `residency attribute`, then report again.")
    run = document["run"]
    controls = {k: v for k, v in document["controls"].items() if k != "all_controls_off"}
    base = float(document["as_configured"]["mean"])
    all_off = float(document["controls"]["all_controls_off"]["with_control_off"]["mean"])
    contributions = []
    for name, entry in controls.items():
        prevented = entry["prevented"]
        ci = prevented["ci95"] or [prevented["mean"], prevented["mean"]]
        contributions.append((name, float(prevented["mean"]), float(ci[0]), float(ci[1])))
    caption = f"seed {run['seed']}, {run['replications']} replications, residency {__version__}"
    titles = {name: display(name) for name in controls}
    detects = [name for name, entry in controls.items() if "detect" in str(entry.get("meaning", ""))]
    figure = save(experiment_plots.attribution_waterfall(base, contributions, all_off, caption, run["metric"], titles,
                                                         detects),
                  out / "figures", "attribution_waterfall", fmt,
                  "From the arrangement as configured to all controls off: what each control prevents.")
    rows = [[display(name), entry["meaning"], _fmt_interval(_leaf(entry["with_control_off"])),
             _fmt_interval(_leaf(entry["prevented"]), signed=True),
             "" if entry["share_of_all_off"] is None else f"{entry['share_of_all_off']:.0%}"]
            for name, entry in document["controls"].items()]
    return Report(title=f"What each control of {display(run['scenario'])} prevents", kind="attribute",
                  command=str(run.get("command", "residency attribute")),
                  intro=[f"Each control of {display(run['scenario'])} switched off in turn, and all at once, under "
                         f"common random numbers; the rise in {metric_label(run['metric'])} is what the control "
                         "prevents. Audit detects accesses after the fact: by design it prevents none."],
                  tables=[("Attribution (mean [95% CI])", ["control", "switched off means", "with it off",
                                                           "prevented", "share of all-off"], rows)],
                  figures=[figure])


def _bounds(r: dict[str, Any], output: str) -> tuple[float, float]:
    mean = r.get(f"{output}.mean") or 0.0
    low, high = r.get(f"{output}.ci95_low"), r.get(f"{output}.ci95_high")
    return (mean if low is None else low), (mean if high is None else high)


def _leaf(value: dict[str, Any]) -> tuple[float | None, float | None, float | None]:
    ci = value.get("ci95")
    return value.get("mean"), ci[0] if ci else None, ci[1] if ci else None


# -- writing --------------------------------------------------------------------------------
def save(figure: Figure, folder: Path, name: str, fmt: str, caption: str) -> FigureFile:
    """Write a figure in the chosen format and return its embeddable form."""
    path = inside(folder, f"{name}.{fmt}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with matplotlib.rc_context({"svg.hashsalt": "residency"}):
            figure.savefig(path, dpi=130, metadata=METADATA[fmt])
    except OSError as exc:
        raise os_error(path, exc) from None
    if fmt == "svg":
        embed = path.read_text(encoding="utf-8")
        embed = embed[embed.index("<svg"):]
    else:
        if fmt == "png":
            raw = path.read_bytes()
        else:  # the page shows a PNG even when the files are PDFs
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=130)
            raw = buffer.getvalue()
        data = base64.b64encode(raw).decode("ascii")
        embed = f'<img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
    return FigureFile(name, caption, path, embed)


def _fmt_number(value: float | None) -> str:
    return number(value, "count")


def _fmt_interval(value: tuple[float | None, float | None, float | None] | None, signed: bool = False) -> str:
    if value is None or value[0] is None:
        return "–"
    mean, low, high = value
    text = ("+" if signed and value[0] >= 0 else "") + _fmt_number(mean)
    if low is not None and high is not None:  # the interval in the mean's unit: "1.55M [0.72M, 2.39M]"
        text += f" [{number(low, 'count', scale_of=mean)}, {number(high, 'count', scale_of=mean)}]"
    return text


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: right; vertical-align: top; }
td { white-space: nowrap; } td.text { white-space: normal; min-width: 12em; }
td .ci { display: block; color: #555; font-size: 0.9em; }
.table-wrap { overflow-x: auto; } p.findings { font-size: 1.08em; border-left: 4px solid #444; padding-left: 0.8em; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1.5em 0; } figure img, figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: #555; }
code, pre { background: #f6f6f6; padding: 0.2em 0.4em; border-radius: 3px; }
.kind-assumption { color: #a04000; font-weight: bold; }
details { margin: 0.6em 0; } summary { cursor: pointer; font-weight: bold; }
"""


def _html_table(title: str, header: list[str], rows: list[list[str]], table_id: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = f' class="kind-{cell}"' if header[i] == "kind" else (' class="text"' if len(cell) > 40 else "")
            cells.append(f"<td{cls}>{_cell(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    ident = f' id="{table_id}"' if table_id else ""
    return (f"<div class='table-wrap'><table{ident} aria-label='{html.escape(title)}'><thead><tr>{head}</tr>"
            f"</thead><tbody>{''.join(body)}</tbody></table></div>")


def _cell(text: str) -> str:
    """Return a cell's HTML: an interval goes on its own line under the mean, never split inside a number."""
    mean, bracket, interval = text.partition(" [")
    if not bracket or not interval.endswith("]"):
        return html.escape(text)
    return f"{html.escape(mean)}<span class='ci'>[{html.escape(interval)}</span>"


def render_html(report: Report) -> str:
    """Return the self-contained HTML page (images embedded; nothing loaded from the network)."""
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(report.title)}</title>"
             f"<style>{STYLE}</style></head><body>", f"<h1>{html.escape(report.title)}</h1>"]
    parts += [f"<p{' class=findings' if i == 0 and report.kind == 'compare' else ''}>{html.escape(p)}</p>"
              for i, p in enumerate(report.intro) if p]
    for i, (title, header, rows) in enumerate(report.tables):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(_html_table(title, header, rows, "headline" if i == 0 else f"table-{i}"))
    parts.append("<h2>Figures</h2>")
    for figure in report.figures:
        parts.append(f"<figure id='{figure.name}'>{figure.embed}<figcaption>{html.escape(figure.caption)} "
                     f"(<code>figures/{figure.path.name}</code>)</figcaption></figure>")
    if report.details:
        parts.append("<h2>Assumptions: every parameter, its value and its source</h2>"
                     "<p>Facts cite seeds/facts.toml; <span class='kind-assumption'>assumption</span> marks a value "
                     "with no public source, with the reason given in its config.</p>")
        for title, header, rows in report.details:
            parts.append(f"<details><summary>{html.escape(title)} ({len(rows)} parameters, "
                         f"{sum(r[2] == 'assumption' for r in rows)} assumptions)</summary>"
                         f"{_html_table(title, header, rows)}</details>")
    parts.append(f"<h2>Reproduce</h2><pre>{html.escape(report.command)}</pre><p>Same seed, same config and the same "
                 f"version give the same numbers, byte for byte. Report made by residency {__version__}.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: Report, out: Path) -> str:
    """Return the report as Markdown for pasting into documents (figures linked as files)."""
    parts = [f"# {report.title}", *report.intro]
    for title, header, rows in report.tables:
        parts += [f"## {title}", _md_table(header, rows)]
    parts.append("## Figures")
    for figure in report.figures:
        parts.append(f"![{figure.caption}]({figure.path.relative_to(out).as_posix()})\n\n*{figure.caption}*")
    if report.details:
        parts.append("## Assumptions: every parameter, its value and its source")
        for title, header, rows in report.details:
            parts += [f"### {title}", _md_table(header, rows)]
    parts += ["## Reproduce", f"```\n{report.command}\n```"]
    return "\n\n".join(parts) + "\n"
