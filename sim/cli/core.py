"""Commands that run arrangements: run, compare, validate and facts."""

from __future__ import annotations

import json
import math
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from sim.cli.common import (
    ARRANGEMENTS,
    EXIT_INPUT,
    HEADLINE,
    DaysOption,
    EngineChoice,
    EngineOption,
    JsonOption,
    MaxRepsOption,
    QuietOption,
    Reporter,
    ReportOption,
    RepsOption,
    SeedOption,
    SetOption,
    StrictOption,
    TargetMetricOption,
    TargetOption,
    WorkersOption,
    YesOption,
    app,
    caption,
    engine_of,
    err,
    export,
    fmt_estimate,
    human,
    interrupted,
    out,
    overrides_from,
    portable_command,
    write_report,
)
from sim.cli.fact_checks import fact_base_path, print_audit, print_fit
from sim.config.audit import audit
from sim.config.checks import (
    DEFAULT,
    SETTING,
    check_baseline,
    check_names,
    order_notes,
    parameter_sources,
    problems,
    same_parameters,
    spec_problems,
    unrouted_metric,
    unrouted_pairs,
    warnings,
)
from sim.config.detection_fit import fit_detection_delay, incident_facts
from sim.config.facts import load_facts
from sim.config.loader import LoadedConfig, check_regular_file, load_config
from sim.config.resources import project_path, shipped_config
from sim.config.schema import DEFAULT_BASELINE, MAX_REPLICATIONS
from sim.errors import InputError
from sim.experiment import budget
from sim.experiment.executors import LocalExecutor
from sim.experiment.replications import (
    Engine,
    ScenarioResult,
    engine_used,
    relative_half_width,
    run_scenarios,
    run_to_precision,
)
from sim.metrics import catalogue
from sim.metrics.stats import paired_difference
from sim.model.routing import deciding_choices, deciding_routes
from sim.results.atomic import FolderLock, check_name, prepare_folder
from sim.results.runs import estimates, summary_document, to_json, write_results


def execute(
    loaded: list[LoadedConfig], seed: int, replications: int, workers: int | None, quiet: bool,
    target_ci: float | None, target_metric: str, max_replications: int, engine: Engine = "fast",
) -> list[ScenarioResult]:
    """Run configs (to a target precision if asked), with progress, stopping cleanly on Ctrl-C."""
    reporter = Reporter(quiet)
    executor = LocalExecutor(workers, engine)
    try:
        if target_ci is None:
            return run_scenarios(loaded, seed, replications, progress=reporter, executor=executor)
        if not (math.isfinite(target_ci) and target_ci > 0):
            raise InputError("--target-ci", None, f"the target must be a positive fraction (got {target_ci}).",
                             "give a fraction of the mean, such as 0.05 for 5%.")
        known = estimates_names(loaded[0])
        if target_metric not in known:
            raise InputError("--target-metric", target_metric, "this is not a metric the model reports.",
                             "use a path from `residency run CONFIG --json`, such as residual_access.events.")
        results = run_to_precision(loaded, seed, replications, target_ci, target_metric,
                                   max(max_replications, replications), executor, reporter)
        reached = len(results[0].replications)
        missed = any(relative_half_width([r.metrics[target_metric] for r in res.replications]) > target_ci
                     for res in results)
        err.print(f"--target-ci {target_ci:g} on {target_metric}: {reached} replications"
                  + (" (the maximum; the target was not reached)" if missed else ""))
        return results
    except KeyboardInterrupt:
        reporter.close()
        interrupted("no results were written (run and compare write their files at the end); "
                    "run the same command again, with fewer replications if time is short.")
    finally:
        reporter.close()


def before_run(loaded: list[LoadedConfig], replications: int, target_ci: float | None, max_replications: int,
               yes: bool, out_dir: Path | None) -> FolderLock | None:
    """Check the run's size and the output folder before any computation; lock the folder for this writer."""
    if target_ci is not None and not (math.isfinite(target_ci) and target_ci > 0):
        raise InputError("--target-ci", None, f"the target must be a positive fraction (got {target_ci}).",
                         "give a fraction of the mean, such as 0.05 for 5%.")
    most = max(max_replications, replications) if target_ci is not None else replications
    budget.check(budget.estimate([c.config for c in loaded], most), yes)
    if out_dir is None:
        return None
    for item in loaded:
        check_name(item.name, str(item.path), "scenario.name")
    return FolderLock(prepare_folder(out_dir), "results")


def release(lock: FolderLock | None) -> None:
    """Release an output folder's lock, if one was taken."""
    if lock is not None:
        lock.close()


def estimates_names(loaded: LoadedConfig) -> list[str]:
    """Return the metric paths a config reports."""
    from sim.experiment.sweep import metric_names

    return metric_names(loaded.config)


def load_all(paths: list[Path], overrides: list[tuple[str, str, str]]) -> list[LoadedConfig]:
    """Load every config before running any, so a bad one costs no computation."""
    return [load_config(path, overrides) for path in paths]


@app.command()
def run(
    config: Annotated[Path, typer.Argument(help="A scenario TOML file.")],
    seed: SeedOption = None,
    replications: RepsOption = None,
    days: DaysOption = None,
    set_: SetOption = None,
    json_: JsonOption = False,
    out_dir: Annotated[
        Path | None, typer.Option("--out", help="Write summary.json, daily.csv and the resolved config here.")
    ] = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
    target_ci: TargetOption = None,
    target_metric: TargetMetricOption = "residual_access.events",
    max_replications: MaxRepsOption = MAX_REPLICATIONS,
    strict: StrictOption = False,
    yes: YesOption = False,
    engine: EngineOption = EngineChoice.fast,
) -> None:
    """Run one config and print a summary table (or JSON)."""
    loaded = load_config(config_arg(config), overrides_from(set_, seed, replications, days))
    check_strict([loaded], strict)
    scenario = loaded.config.scenario
    lock = before_run([loaded], scenario.replications, target_ci, max_replications, yes, out_dir)
    [result] = execute([loaded], scenario.seed, scenario.replications, workers, quiet or json_,
                       target_ci, target_metric, max_replications, engine_of(engine))
    if out_dir is not None:
        try:
            for path in write_results(out_dir, "run", portable_command(), [result], None, result.seed,
                                      engine_used([loaded.config], engine_of(engine))):
                err.print(f"wrote {path}")
        finally:
            release(lock)
    warn_unrouted(result)
    if json_:
        sys.stdout.write(to_json(summary_document(result)))
        return
    print_summary(result)


def config_arg(path: Path) -> Path:
    """Return a config argument's file: the path itself, else the shipped config of that name."""
    if path.exists():
        return path
    return shipped_config(str(path)) or path


def check_strict(loaded: list[LoadedConfig], strict: bool) -> None:
    """Under --strict, fail on the first config that has warnings."""
    for item in loaded:
        notes = warnings(item)
        if strict and notes:
            raise InputError(str(item.path), None, f"{len(notes)} warning(s) under --strict: {notes[0]}",
                             "fix what the warnings say (`residency validate` lists them), or leave out --strict.")


def warn_unrouted(result: ScenarioResult) -> None:
    """Warn, with the requests they lost, of (actor, data class) pairs no route serves."""
    values = estimates(result)
    for actor, data_class in unrouted_pairs(result.loaded.config):
        lost = values[unrouted_metric(actor, data_class)]
        submitted = values["requests.submitted"]
        share = (f" ({lost.mean / submitted.mean:.0%} of all requests)"
                 if lost.mean is not None and submitted.mean else "")
        err.print(f"[bold yellow]warning:[/] {escape(result.loaded.name)}: no route serves {escape(actor)} for "
                  f"{escape(data_class)} data; {fmt_estimate(lost, 'count')} requests per run were denied as "
                  f"no_route{share}.")


def compared_document(result: ScenarioResult, base: ScenarioResult | None) -> dict[str, Any]:
    """Return an arrangement's JSON document with its paired differences from the baseline."""
    document = summary_document(result)
    if base is None or base is result:
        return document
    differences: dict[str, Any] = {"baseline": base.loaded.name}
    for name in estimates(result):
        if name not in base.replications[0].metrics:  # such as an unrouted pair's count, which only one has
            continue
        node = differences
        *parents, leaf = name.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = paired_difference([r.metrics[name] for r in result.replications],
                                       [r.metrics[name] for r in base.replications]).as_leaf()
    document["paired_difference"] = differences
    return document


def print_summary(result: ScenarioResult) -> None:
    """Print one scenario's headline metrics with their intervals."""
    scenario = result.loaded.config.scenario
    table = Table(title=f"{scenario.name}: {scenario.title}", title_justify="left")
    table.add_column("metric")
    table.add_column("mean ± 95% CI half-width", justify="right")
    values = estimates(result)
    for name, label, kind in HEADLINE:
        table.add_row(label, fmt_estimate(values[name], kind))
    for name, value in values.items():
        if name.startswith("residual_access.by_channel.") and name.endswith(".events"):
            channel = name.split(".")[2].replace("_", " ")
            table.add_row(f"  via {channel}", fmt_estimate(value, "count"))
    out.print(table)
    out.print(caption(result))


@app.command()
def compare(
    configs: Annotated[
        list[Path] | None, typer.Argument(help="Configs to compare (default: every file in configs/arrangements/).")
    ] = None,
    seed: SeedOption = None,
    replications: RepsOption = None,
    days: DaysOption = None,
    set_: SetOption = None,
    baseline: Annotated[str, typer.Option(help="Scenario the paired differences are taken from.")] = DEFAULT_BASELINE,
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for per-arrangement files and comparison.csv.")
    ] = Path("reports"),
    json_: JsonOption = False,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
    target_ci: TargetOption = None,
    target_metric: TargetMetricOption = "residual_access.events",
    max_replications: MaxRepsOption = MAX_REPLICATIONS,
    report: ReportOption = False,
    strict: StrictOption = False,
    yes: YesOption = False,
    engine: EngineOption = EngineChoice.fast,
) -> None:
    """Run arrangements under common random numbers and compare them with the baseline."""
    paths = [config_arg(c) for c in configs] if configs else sorted(project_path(ARRANGEMENTS).glob("*.toml"))
    if not paths:
        raise InputError(str(ARRANGEMENTS), None, "there are no configs to compare.",
                         "name config files, or run from the project folder.")
    loaded = load_all(paths, overrides_from(set_, seed, replications, days))
    check_names(loaded)
    check_baseline(baseline, [item.name for item in loaded], "--baseline")
    check_strict(loaded, strict)
    for note in same_parameters(loaded):
        err.print(f"[bold yellow]warning:[/] {escape(note)}")
    first = loaded[0].config.scenario
    run_seed = seed if seed is not None else first.seed
    reps = replications if replications is not None else first.replications
    if not quiet and not json_:
        err.print(f"comparing {len(loaded)} arrangements x {reps} replications "
                  f"(seed {run_seed}, common random numbers)")
    lock = before_run(loaded, reps, target_ci, max_replications, yes, out_dir)
    results = execute(loaded, run_seed, reps, workers, quiet or json_, target_ci, target_metric,
                      max_replications, engine_of(engine))
    base = next((r for r in results if r.loaded.name == baseline), None)
    if base is not None:  # the baseline leads the table
        results = [base] + [r for r in results if r is not base]
    try:
        write_results(out_dir, "compare", portable_command(), results, base, run_seed,
                      engine_used([item.config for item in loaded], engine_of(engine)))
    except KeyboardInterrupt:
        interrupted(f"{out_dir} holds its previous complete output, or none (its manifest is then missing); "
                    "run the same command again.")
    finally:
        release(lock)
    csv_path = out_dir / "comparison.csv"
    for result in results:
        warn_unrouted(result)
    if json_:
        sys.stdout.write(to_json({r.loaded.name: compared_document(r, base) for r in results}))
    else:
        print_comparison(results, base)
        err.print(f"wrote {out_dir}/<arrangement>/ (summary.json, daily.csv, replications.csv, "
                  f"wait_histogram.csv, resolved_config.json) and {csv_path}")
    if report:
        write_report(out_dir, None, "png")


def print_comparison(results: list[ScenarioResult], base: ScenarioResult | None) -> None:
    """Print the comparison table and the paired differences from the baseline."""
    columns = catalogue.headline(catalogue.COMPARE)
    days = results[0].loaded.config.scenario.days
    span = "per simulated year" if days == 365 else f"over {days} simulated days"
    table = Table(title=f"Residual cross-border access and its cost in waiting, {span} (mean ± 95% CI)",
                  title_justify="left")
    table.add_column("arrangement")
    for metric in columns:
        table.add_column(metric.label, justify="right")
    if base is not None:
        table.add_column(f"Δ residual vs {base.loaded.name} (paired)", justify="right")
    residual = "residual_access.events"
    for result in results:
        values = estimates(result)
        row = [result.loaded.name] + [fmt_estimate(values[m.path], m.kind) for m in columns]
        if base is not None:
            diff = paired_difference([r.metrics[residual] for r in result.replications],
                                     [r.metrics[residual] for r in base.replications])
            row.append("–" if result is base else fmt_estimate(diff, "count", signed=True))
        table.add_row(*row)
    out.print(table)
    channels = Table(title=f"Residual accesses by channel (mean {span})", title_justify="left")
    channels.add_column("arrangement")
    names = [n for n in estimates(results[0]) if n.startswith("residual_access.by_channel.")
             and n.endswith(".events")]
    for name in names:
        channels.add_column(name.split(".")[2].replace("_", " "), justify="right")
    for result in results:
        values = estimates(result)
        channels.add_row(result.loaded.name, *[human(values[n].mean, "count") for n in names])
    out.print(channels)
    out.print(caption(results[0]).split("; overrides")[0] + "; paired differences use the same "
              "replications (common random numbers)")


@app.command()
def validate(
    configs: Annotated[list[Path], typer.Argument(help="Config, sweep or lesson files to check.")],
    set_: SetOption = None,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors (exit 2).")] = False,
) -> None:
    """Check configs, sweeps and lessons without running them: every problem at once, then warnings."""
    errors = warned = 0
    for path in configs:
        found, notes, line = check_file(config_arg(path), overrides_from(set_, None, None, None))
        for error in found:
            err.print(f"[bold red]error:[/] {escape(error.paragraph())}")
        for note in notes:
            err.print(f"[bold yellow]warning:[/] {escape(note)}")
        errors += len(found)
        warned += len(notes)
        if not found:
            out.print(f"{path}: {'ok' if not notes else 'ok with warnings'} ({line})")
        if not found and file_kind(config_arg(path)) == "config":
            # A tie the site order breaks is a caveat of the result, not a defect of the file: noted, not counted.
            for note in order_notes(load_config(config_arg(path), overrides_from(set_, None, None, None))):
                err.print(f"[bold cyan]note:[/] {escape(note)}")
    if errors or (strict and warned):
        err.print(f"{errors} problem(s), {warned} warning(s)" + (" (--strict: warnings count as errors)"
                                                                  if strict and warned else ""))
        raise typer.Exit(EXIT_INPUT)


def check_file(path: Path, overrides: list[tuple[str, str, str]]) -> tuple[list[InputError], list[str], str]:
    """Return a file's problems, its warnings and a one-line description, whatever kind of file it is."""
    try:
        check_regular_file(path)  # before anything reads it: a FIFO or a device would block or never end
    except InputError as error:
        return [error], [], ""
    kind = file_kind(path)
    try:
        if kind == "sweep":
            from sim.experiment.sweep_file import SweepFile, load_sweep

            found = spec_problems(path, SweepFile)
            if found:
                return found, [], ""
            sweep_spec = load_sweep(path, tuple(overrides))
            notes = [n for point in sweep_spec.points[:1] for n in warnings(point.loaded)]
            return [], notes, f"sweep {sweep_spec.spec.sweep.name}, {len(sweep_spec.points)} points"
        if kind == "lesson":
            from sim.teach.lesson import LessonFile, load_lesson

            found = spec_problems(path, LessonFile)
            if found:
                return found, [], ""
            lesson = load_lesson(str(path))
            return [], [], f"lesson {lesson.name}, {len(lesson.spec.steps)} steps"
        if kind == "observations":
            from sim.experiment.history import load_observations

            observations = load_observations(path)
            return [], [], f"observations for explore --history-match, {len(observations.items)} of them"
    except InputError as error:
        return [error], [], ""
    found = problems(path)
    if found:
        return found, [], ""
    try:
        loaded = load_config(path, overrides)
    except InputError as error:
        return [error], [], ""
    sources = parameter_sources(loaded)
    defaults = sum(1 for source in sources.values() if source == DEFAULT)
    return [], warnings(loaded), (f"{loaded.name}, {len(sources)} parameters: {len(sources) - defaults} sourced, "
                                  f"{defaults} schema defaults (`residency facts` lists them)")


def file_kind(path: Path) -> str:
    """Return "sweep", "lesson", "observations" or "config" from a file's top-level tables."""
    try:
        import tomllib

        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "config"  # the config checks report the unreadable file
    if "observation" in data and "scenario" not in data:
        return "observations"
    return "sweep" if "sweep" in data else "lesson" if "lesson" in data else "config"


@app.command()
def facts(
    configs: Annotated[list[Path] | None, typer.Argument(
        help="Config files or shipped arrangements' names.")] = None,
    set_: SetOption = None,
    audit_: Annotated[bool, typer.Option(
        "--audit", help="List every numeric parameter whose cited facts do not state its value; "
        "exit 1 if any, 0 if all hold.")] = False,
    fit_detection: Annotated[bool, typer.Option(
        "--fit-detection", help="Fit the audit delay to the dated incidents in the fact base and "
        "show where each case falls under the fit and under the configs given.")] = False,
    fmt: Annotated[str, typer.Option("--format", help="table, csv, json or parquet.")] = "table",
    out_path: Annotated[Path | None, typer.Option("--out", help="Write the export to this file.")] = None,
) -> None:
    """Print every parameter a run uses with its value and its source (schema defaults marked), or audit."""
    paths = [config_arg(path) for path in configs or []]
    if not paths and not fit_detection:
        raise InputError("residency facts", None, "no config was given.",
                         "name one or more config files, e.g. configs/arrangements/oracle.toml.")
    loaded = load_all(paths, overrides_from(set_, None, None, None))
    if fit_detection:
        show_detection_fit(paths, loaded)
        return
    if audit_:
        print_audit([audit(one) for one in loaded])
        return
    if fmt != "table":
        several = len(loaded) > 1
        export([{**({"config": one.name} if several else {}), **record}
                for one in loaded for record in parameter_records(one)], fmt, out_path)
        return
    for one in loaded:
        print_parameters(one)


def parameter_records(loaded: LoadedConfig) -> list[dict[str, Any]]:
    """Return one record per parameter a run of the config uses: its value, source and kind."""
    data = loaded.config.model_dump(mode="json")
    return [{"parameter": key, "value": lookup(data, key)[1], "source": source,
             "kind": source.split(":")[0].split(" ")[0] if source not in (DEFAULT, SETTING) else source}
            for key, source in parameter_sources(loaded).items()]


def show_detection_fit(paths: list[Path], loaded: list[LoadedConfig]) -> None:
    """Fit the detection delay to the fact base's dated incidents and print it."""
    where = fact_base_path(paths)
    if where is None:
        raise InputError("seeds/facts.toml", None, "no fact base was found.",
                         "run from the project folder or name a config inside it.")
    known = load_facts(where)
    incidents = incident_facts(known)
    if len(incidents) < 2:
        raise InputError(str(where), None, f"only {len(incidents)} fact(s) date an incident.",
                         "give at least two facts an `incident = { access = [...], disclosed = [...] }`.")
    print_fit(fit_detection_delay(incidents), known, loaded)


def print_parameters(loaded: LoadedConfig) -> None:
    """Print one config's parameters, their values and their sources."""
    records = parameter_records(loaded)
    table = Table(title=f"Parameters of {loaded.name} and where they come from",
                  title_justify="left")
    table.add_column("parameter", overflow="fold")
    table.add_column("value", overflow="fold")
    table.add_column("source", overflow="fold")
    for record in records:
        value = record["value"]
        shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
        table.add_row(str(record["parameter"]), shown, escape(str(record["source"])))
    out.print(table)
    out.print(routes_table(loaded))


def routes_table(loaded: LoadedConfig) -> Table:
    """Return one line per route and per route behaviour, marking those that decide residual access."""
    config, provenance = loaded.config, loaded.provenance
    table = Table(title=f"Routes and route behaviour of {loaded.name}; DECIDING marks what residual "
                  "access depends on", title_justify="left")
    for column in ("route or behaviour", "what", "source", "deciding"):
        table.add_column(column)

    def source(key: str) -> str:
        found = provenance.get(key)
        return found.describe(loaded.facts) if found is not None else "schema default"

    routes, choices = deciding_routes(config), deciding_choices(config)
    for i, route in enumerate(config.routes):
        what = f"{route.actor} -> {route.site} / {route.data_class}: {route.gate}"
        why = routes.get(i)
        table.add_row(f"routes.{i}", what, source(f"routes.{i}.gate"), f"DECIDING: {why}" if why else "")
    for actor, spec in config.actors.items():
        share = f" ({spec.least_resistance_share:g} least resistance)" if spec.route_choice == "share" else ""
        for key, what in (("route_choice", spec.route_choice + share),
                          ("routes_around_keys", str(spec.routes_around_keys).lower())):
            why = choices.get(f"{actor}.{key}")
            table.add_row(f"actors.{actor}.{key}", what, source(f"actors.{actor}.{key}"),
                          f"DECIDING: {why}" if why else "")
    return table


def lookup(data: object, key: str) -> tuple[bool, object]:
    """Return (True, value) at a dotted path of nested dicts and lists, else (False, None)."""
    node = data
    for part in key.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False, None
    return True, node


