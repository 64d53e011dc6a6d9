"""Commands for experiments: sweep, results, sensitivity and attribute."""

from __future__ import annotations

from collections import Counter
from contextlib import closing
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sim.cli.common import (
    EXPORT_FORMATS,
    DaysOption,
    EngineChoice,
    EngineOption,
    MaxRepsOption,
    QuietOption,
    Reporter,
    ReportOption,
    RepsOption,
    SchedulerOption,
    SeedOption,
    SetOption,
    TargetOption,
    WorkersOption,
    YesOption,
    app,
    at_least_one,
    engine_of,
    err,
    export,
    fmt_estimate,
    human,
    interrupted,
    out,
    overrides_from,
    portable_command,
    seed_value,
    write_report,
)
from sim.config.loader import LoadedConfig, load_config
from sim.config.resources import resolve_named
from sim.config.schema import MAX_REPLICATIONS
from sim.errors import InputError
from sim.experiment import budget
from sim.experiment.attribution import Attribution
from sim.experiment.attribution import attribute as run_attribution
from sim.experiment.executors import Executor, LocalExecutor, make_executor
from sim.experiment.replications import engine_used
from sim.experiment.sweep import (
    SweepOutcome,
    check_sweep,
    metric_names,
    recompute_sensitivity,
    row_records,
    run_sweep,
    stored_outputs,
    summary_records,
)
from sim.experiment.sweep_file import LoadedSweep, load_sweep
from sim.experiment.usecases import check_target_ci
from sim.metrics.stats import Estimate
from sim.metrics.units import factor_label, kind_of, metric_label
from sim.results.atomic import FolderLock, prepare_folder, write_atomic
from sim.results.runs import MANIFEST_FORMAT, portable_path, sensitivity_records, to_json
from sim.results.store import DB_NAME, Store

ATTRIBUTION_VARIANTS = 9  # as configured, each control off in turn, and all off

@app.command()
def sweep(
    sweep_file: Annotated[Path, typer.Argument(metavar="SWEEP", help="A sweep file, or a shipped sweep's name "
                                               "(`residency list`).")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Results folder (default: reports/sweeps/NAME).")
    ] = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    set_: SetOption = None,
    seed: Annotated[int | None, typer.Option(help="Seed of the sweep (default: the sweep file's).",
                                             callback=seed_value("--seed"))] = None,
    replications: Annotated[int | None, typer.Option("--replications", "-r", help="Replications at each point "
                                                     "(default: the sweep file's).",
                                                     callback=at_least_one("--replications"))] = None,
    days: DaysOption = None,
    quiet: QuietOption = False,
    target_ci: TargetOption = None,
    target_metric: Annotated[str | None, typer.Option("--target-metric", help="The output --target-ci applies to "
                                                      "(default: the sweep's first output).")] = None,
    max_replications: MaxRepsOption = MAX_REPLICATIONS,
    report: ReportOption = False,
    replace: Annotated[bool, typer.Option("--replace", help="Give the folder to this sweep even if it holds "
                                          "the rows of another definition (those rows are no longer shown).")] = False,
    yes: YesOption = False,
    engine: EngineOption = EngineChoice.fast,
) -> None:
    """Run a sweep into a resumable results database, then report sensitivity where it applies."""
    check_target_ci(target_ci)
    loaded = load_sweep(resolve_named(sweep_file, "sweep"), tuple(overrides_from(set_, None, None, days)),
                        seed=seed, replications=replications)
    folder = out_dir or Path("reports") / "sweeps" / loaded.spec.sweep.name
    reps = max(max_replications, loaded.spec.sweep.replications) if target_ci else loaded.spec.sweep.replications
    budget.check(budget.estimate([p.loaded.config for p in loaded.points], reps), yes)
    check_sweep(loaded, target_ci, target_metric)
    with closing(make_executor(workers, scheduler, engine_of(engine), folder)) as executor, Store(folder) as store:
        outcome = sweep_into(loaded, store, executor, quiet, target_ci, target_metric, max_replications, replace)
        store.set_meta("engine", to_json(engine_used([p.loaded.config for p in loaded.points], engine_of(engine))))
        err.print(f"{outcome.ran} rows run, {outcome.skipped} already stored, {outcome.total} in all: {store.path}")
        print_sweep_summary(store)
    if report:
        write_report(folder, None, "png")


def sweep_into(
    loaded: LoadedSweep, store: Store, executor: Executor, quiet: bool, target_ci: float | None,
    target_metric: str | None, max_replications: int, replace: bool = False,
) -> SweepOutcome:
    """Run a sweep's missing rows into an open store, with progress; on Ctrl-C or SIGTERM say what was kept."""
    spec = loaded.spec.sweep
    store.set_meta("command", portable_command())
    if not quiet:
        err.print(f"sweep {spec.name}: {len(loaded.points)} points x {spec.replications} replications "
                  f"({spec.design} design, seed {spec.seed}) into {store.path}")
    reporter = Reporter(quiet)
    try:
        return run_sweep(loaded, store, executor, reporter, target_ci, target_metric, max_replications, replace)
    except KeyboardInterrupt:
        reporter.close()
        kept, planned = store.row_count(), store.planned()
        share = "" if planned is None else f", {kept} of {planned} rows"
        interrupted(f"{kept} finished rows are committed in {store.path}; run the same command again to resume "
                    f"(finished rows are skipped{share}).")
    finally:
        reporter.close()


def print_sweep_summary(store: Store) -> None:
    """Print per-point means of the outputs of interest, and any sensitivity indices."""
    outputs = stored_outputs(store) or ["residual_access.events"]
    records = summary_records(store, outputs)
    if records and len(records) <= 40:
        factor_keys = [k for k in records[0] if k not in {"point", "arrangement", "replications"}
                       and not any(k.startswith(o + ".") for o in outputs)]
        for table in sweep_tables(records, factor_keys, outputs, out.width):
            out.print(table)
    elif records:
        out.print(f"{len(records)} points; `residency results {store.folder} --summary` lists them.")
    print_sensitivity(store)


def sweep_tables(records: list[dict[str, Any]], factors: list[str], outputs: list[str], width: int) -> list[Table]:
    """Return the sweep points as tables that fit `width` columns, splitting the outputs over several if needed.

    No column is narrower than its longest word, so a heading or an arrangement's name wraps
    between words and is never folded mid-word; outputs that do not fit go to the next table.
    """
    headers = sweep_headers(factors, outputs)
    keys = ["point", "arrangement", *factors, "replications", *outputs]
    cells = {key: [_cell(r, key, factors) for r in records] for key in keys}
    least = {key: max(len(word) for text in [header, *cells[key]] for word in text.split() or [""])
             for key, header in zip(keys, headers, strict=True)}
    natural = {key: max(len(text) for text in [header, *cells[key]]) for key, header in zip(keys, headers, strict=True)}
    same_reps = len({r["replications"] for r in records}) == 1
    fixed = [k for k in keys if k not in outputs and not (k == "replications" and same_reps)]
    room = width - 1 - sum(least[k] + 3 for k in fixed)
    groups: list[list[str]] = [[]]
    for output in outputs:
        if groups[-1] and sum(least[o] + 3 for o in [*groups[-1], output]) > room:
            groups.append([])
        groups[-1].append(output)
    tables = []
    for i, group in enumerate(groups):
        columns = [*fixed, *group]
        spare = width - 1 - sum(least[k] + 3 for k in columns)  # widths that fit, each at least its longest word
        widths = {}
        for key in [*group, *fixed[::-1]]:  # the room left goes to the outputs first
            widths[key] = least[key] + max(0, min(natural[key] - least[key], spare))
            spare -= widths[key] - least[key]
        part = f" ({i + 1} of {len(groups)})" if len(groups) > 1 else ""
        reps = f", {records[0]['replications']} replications each" if same_reps and records else ""
        table = Table(title=f"Sweep points (mean ± 95% CI half-width{reps}){part}", title_justify="left")
        for key in columns:
            table.add_column(headers[keys.index(key)], justify="left" if key == "arrangement" else "right",
                             overflow="fold", width=widths[key])
        for row in range(len(records)):
            table.add_row(*[cells[key][row] for key in columns])
        tables.append(table)
    return tables


def _cell(record: dict[str, Any], key: str, factors: list[str]) -> str:
    """Return one cell of the sweep table: the point, its arrangement, a factor's value or an output's estimate."""
    if key in ("point", "replications", "arrangement"):
        return str(record[key])
    return _short(record[key]) if key in factors else _estimate(record, key)


def _estimate(record: dict[str, Any], output: str) -> str:
    mean, high, kind = record[f"{output}.mean"], record[f"{output}.ci95_high"], kind_of(output)
    return human(mean, kind) + ("" if high is None or mean is None
                                else f" ± {human(high - mean, kind, scale_of=mean)}")


def sweep_headers(factors: list[str], outputs: list[str]) -> list[str]:
    """Return the sweep table's column headings: words that wrap between words, never a dotted path.

    A dotted path has no space, so a narrow terminal could only fold it mid-word. Where two
    labels would read alike, both keep their path, so that no two columns look the same.
    """
    labels = [factor_label(f) for f in factors] + [metric_label(o) for o in outputs]
    keys = [*factors, *outputs]
    seen = Counter(labels)
    labels = [label if seen[label] == 1 else f"{label} ({key})" for label, key in zip(labels, keys, strict=True)]
    return ["point", "arrangement", *labels[:len(factors)], "replications", *labels[len(factors):]]


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def print_sensitivity(store: Store) -> None:
    """Print the stored sensitivity indices as a table per arrangement and output."""
    rows = store.sensitivity()
    if not rows:
        return
    method = rows[0][0]
    measures = sorted({r[4] for r in rows}, key=["S1", "ST", "mu_star", "sigma"].index)
    for arrangement, output in sorted({(r[1], r[2]) for r in rows}):
        table = Table(title=f"{method.capitalize()} sensitivity of {output} on {arrangement} (value ± 95% conf)",
                      title_justify="left")
        table.add_column("factor")
        for measure in measures:
            table.add_column(measure, justify="right")
        mine = {(r[3], r[4]): (r[5], r[6]) for r in rows if r[1] == arrangement and r[2] == output}
        for factor in sorted({f for f, _ in mine}):
            cells = []
            for measure in measures:
                value, conf = mine[(factor, measure)]
                cells.append(f"{value:.3f}" + ("" if conf is None else f" ± {conf:.3f}"))
            table.add_row(factor, *cells)
        out.print(table)


@app.command()
def results(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="A folder a sweep wrote (it holds results.db).")],
    fmt: Annotated[str, typer.Option("--format", help="csv, json or parquet (parquet needs --out).")] = "csv",
    summary: Annotated[bool, typer.Option("--summary", help="Per-point means with 95% CIs instead of rows.")] = False,
    out_path: Annotated[Path | None, typer.Option("--out", help="Write to this file instead of standard output.")]
    = None,
) -> None:
    """Export a results database's rows, or per-point summaries, as CSV, JSON or Parquet."""
    if fmt not in EXPORT_FORMATS:
        raise InputError("--format", fmt, "the format must be csv, json or parquet.",
                         "use --format csv, --format json or --format parquet --out FILE.")
    with Store(folder, create=False) as store:
        records = summary_records(store, stored_outputs(store)) if summary else row_records(store)
        shown, planned = store.row_count(), store.planned()
    if planned is not None and shown < planned:
        err.print(f"note: {shown} of {planned} rows are finished (the sweep is still running, or was stopped; "
                  "run it again to finish it). Showing those.")
    export(records, fmt, out_path)


@app.command()
def sensitivity(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="A folder a sampled sweep wrote.")],
    fmt: Annotated[str, typer.Option("--format", help="table, csv, json or parquet.")] = "table",
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the export to this file.")] = None,
) -> None:
    """Compute (again) and print the sensitivity indices of a sampled sweep's results."""
    with Store(folder, create=False) as store:
        try:
            found = recompute_sensitivity(store)
        except ValueError as error:  # sensitivity.indices: a point has no rows yet
            raise InputError(str(folder / DB_NAME), None, f"{error}.", "rerun the sweep to finish it.") from None
        if not found:
            raise InputError(str(folder / DB_NAME), "sweep.design", "this sweep has no sensitivity "
                             "indices (only sobol and morris designs do).",
                             "run a sweep whose design is \"sobol\" or \"morris\".")
        if fmt != "table":
            export(sensitivity_records(store.sensitivity()), fmt, out_path)
        else:
            print_sensitivity(store)


@app.command()
def attribute(
    config: Annotated[Path, typer.Argument(help="An arrangement config, or a shipped arrangement's name.")],
    replications: RepsOption = None,
    seed: SeedOption = None,
    days: DaysOption = None,
    set_: SetOption = None,
    metric: Annotated[str, typer.Option(help="The output to attribute.")] = "residual_access.events",
    out_dir: Annotated[Path | None, typer.Option("--out", help="Folder for attribution.json "
                                                 "(default: reports/attribution/NAME).")] = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
    report: ReportOption = False,
    yes: YesOption = False,
    engine: EngineOption = EngineChoice.fast,
) -> None:
    """Switch each control off in turn (and all at once) and show what each one prevents."""
    loaded = load_config(resolve_named(config, "config"), overrides_from(set_, seed, replications, days))
    if metric not in metric_names(loaded.config):
        raise InputError("--metric", metric, "this is not a metric the model reports.",
                         "use a path from `residency run CONFIG --json`, such as residual_access.events.")
    scenario = loaded.config.scenario
    folder = out_dir or Path("reports") / "attribution" / loaded.name
    budget.check(budget.estimate([loaded.config] * ATTRIBUTION_VARIANTS, scenario.replications), yes)
    lock = FolderLock(prepare_folder(folder), "an attribution")
    reporter = Reporter(quiet)
    executor: Executor = LocalExecutor(workers, engine_of(engine), folder)
    try:
        base, rows, _ = run_attribution(loaded, scenario.seed, scenario.replications, executor, metric, reporter)
    except KeyboardInterrupt:
        reporter.close()
        interrupted("attribution writes its file at the end, so nothing was kept; run it again.")
    finally:
        reporter.close()
    print_attribution(loaded, metric, base, rows)
    try:
        document = {**attribution_document(loaded, config, metric, base, rows),
                    **engine_used([loaded.config], engine_of(engine))}
        path = write_atomic(folder / "attribution.json", to_json(document))
    finally:
        lock.close()
    err.print(f"wrote {path}")
    if report:
        write_report(folder, None, "png")


def print_attribution(loaded: LoadedConfig, metric: str, base: Estimate, rows: list[Attribution]) -> None:
    """Print what each control prevents, with paired intervals."""
    scenario = loaded.config.scenario
    table = Table(title=f"What each control of {loaded.name} prevents: rise in {metric} when it is "
                  f"switched off (paired, mean ± 95% CI)", title_justify="left")
    for column in ("control", "switched off means", "with it off", "prevented", "share of all-off"):
        table.add_column(column, justify="left" if column in ("control", "switched off means") else "right")
    table.add_row("as configured", "", fmt_estimate(base, "count"), "", "")
    for row in rows:
        share = "" if row.share_of_total is None else f"{row.share_of_total:.0%}"
        table.add_row(row.control, row.meaning, fmt_estimate(row.with_control_off, "count"),
                      fmt_estimate(row.contribution, "count", signed=True), share)
    out.print(table)
    out.print(f"seed {scenario.seed}, {scenario.replications} replications of {scenario.days} days; "
              "shares of the all-off rise need not add to 100% (controls overlap)")


def attribution_document(
    loaded: LoadedConfig, config: Path, metric: str, base: Estimate, rows: list[Attribution]
) -> dict[str, Any]:
    """Return the contents of attribution.json."""
    scenario = loaded.config.scenario
    return {
        "format": MANIFEST_FORMAT,
        "run": {"scenario": loaded.name, "config_file": portable_path(config), "seed": scenario.seed,
                "replications": scenario.replications, "metric": metric, "overrides": list(loaded.overrides),
                "command": portable_command()},
        "as_configured": base.as_leaf(),
        "controls": {row.control: {"meaning": row.meaning, "with_control_off": row.with_control_off.as_leaf(),
                                   "prevented": row.contribution.as_leaf(), "share_of_all_off": row.share_of_total}
                     for row in rows},
    }



@app.command()
def report(
    folder: Annotated[Path, typer.Argument(metavar="DIR", help="A folder that compare, run --out, sweep or "
                                           "attribute wrote.")],
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Where to write the page (default: DIR/report).")
    ] = None,
    fmt: Annotated[str, typer.Option("--format", help="Figure files: png, svg or pdf.")] = "png",
) -> None:
    """Write the figures and a self-contained HTML page (and Markdown) for a results folder."""
    write_report(folder, out_dir, fmt)
