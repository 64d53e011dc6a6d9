"""The report page of a sweep folder."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sim.config.loader import load_config
from sim.config.resources import project_path
from sim.config.schema import display
from sim.errors import InputError
from sim.experiment.sweep import stored_outputs, summary_records
from sim.report import experiment_figures as experiment_plots
from sim.report import figures as plots
from sim.report.document import QUESTION, FigureFile, Report, Table, _fmt_interval, _short, save
from sim.report.units import factor_label, metric_label
from sim.results.store import FORMAT, Store
from sim.version import __version__


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


def _bounds(r: dict[str, Any], output: str) -> tuple[float, float]:
    mean = r.get(f"{output}.mean") or 0.0
    low, high = r.get(f"{output}.ci95_low"), r.get(f"{output}.ci95_high")
    return (mean if low is None else low), (mean if high is None else high)
