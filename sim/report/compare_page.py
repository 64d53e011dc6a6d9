"""The report page of a `compare` (or `run`) folder."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from sim.config.paths import get_path
from sim.config.schema import CHANNEL_TITLES, CHANNELS, Config
from sim.metrics import catalogue
from sim.report import figures as plots
from sim.report.arrangement import load_arrangement
from sim.report.document import QUESTION, FigureFile, Report, _fmt_interval, _fmt_number, save
from sim.report.findings import findings
from sim.report.maps import dataflow_map
from sim.report.units import per_span
from sim.results.atomic import inside
from sim.results.readers import paired_differences, read_json
from sim.results.runs import MANIFEST, check_manifest_files

HEADLINE = tuple((m.path, m.label_in(catalogue.REPORT)) for m in catalogue.headline(catalogue.REPORT))


def compare_report(folder: Path, out: Path, fmt: str) -> Report:
    """Build the report of a `compare` (or `run`) folder."""
    manifest = read_json(folder / MANIFEST)
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
    diffs = paired_differences(folder / "comparison.csv") if (folder / "comparison.csv").is_file() else {}
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


def assumptions_table(name: str, resolved: dict[str, Any]) -> tuple[str, list[str], list[list[str]]]:
    """Return every parameter of an arrangement with its value and its source, assumptions marked."""
    config = resolved["config"]
    rows = []
    for key, source in sorted(resolved["provenance"].items()):
        value = get_path(config, key)
        if value is None:
            continue
        kind = "assumption" if source.startswith("assumption") else ("override" if source.startswith("override")
                                                                     else "fact")
        rows.append([key, json.dumps(value) if isinstance(value, dict | list) else str(value), kind, source])
    return (f"Parameters of {name}: value and source", ["parameter", "value", "kind", "source"], rows)
