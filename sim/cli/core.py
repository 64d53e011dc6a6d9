"""Commands that run arrangements: run and compare."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from sim.cli.common import (
    ARRANGEMENTS,
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
    fmt_estimate,
    human,
    interrupted,
    out,
    overrides_from,
    portable_command,
    write_report,
)
from sim.config.checks import (
    same_parameters,
    unrouted_metric,
    unrouted_pairs,
    warnings,
)
from sim.config.loader import LoadedConfig, load_config
from sim.config.resources import project_path, resolve_named
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
from sim.experiment.usecases import baseline_first, check_target_ci, plan_compare
from sim.metrics import catalogue
from sim.metrics.stats import paired_difference
from sim.results.atomic import FolderLock, check_name, prepare_folder
from sim.results.runs import estimates, summary_document, to_json, write_results


def execute(
    loaded: list[LoadedConfig], seed: int, replications: int, workers: int | None, quiet: bool,
    target_ci: float | None, target_metric: str, max_replications: int, engine: Engine = "fast",
    log_folder: Path | None = None,
) -> list[ScenarioResult]:
    """Run configs (to a target precision if asked), with progress, stopping cleanly on Ctrl-C."""
    reporter = Reporter(quiet)
    executor = LocalExecutor(workers, engine, log_folder, keep_pool=True)  # --target-ci's rounds share its workers
    try:
        if target_ci is None:
            return run_scenarios(loaded, seed, replications, progress=reporter, executor=executor)
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
        executor.close()


def before_run(loaded: list[LoadedConfig], replications: int, target_ci: float | None, max_replications: int,
               yes: bool, out_dir: Path | None) -> FolderLock | None:
    """Check the run's size and the output folder before any computation; lock the folder for this writer."""
    check_target_ci(target_ci)
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
                       target_ci, target_metric, max_replications, engine_of(engine), out_dir)
    if out_dir is not None:
        try:
            for path in write_results(out_dir, "run", portable_command(), [result], None, result.seed,
                                      engine_used([loaded.config], engine_of(engine))):
                err.print(f"wrote {path}")
        except KeyboardInterrupt:
            interrupted(f"{out_dir} holds its previous complete output, or none (its manifest is then missing); "
                        "run the same command again.")
        finally:
            release(lock)
    warn_unrouted(result)
    if json_:
        sys.stdout.write(to_json(summary_document(result)))
        return
    print_summary(result)


def config_arg(path: Path) -> Path:
    """Return a config argument's file: the path itself, else the shipped config of that name."""
    return resolve_named(path, "config")


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
    table.add_column("mean and 95% CI", justify="right")
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
    plan = plan_compare(loaded, baseline, seed, replications, "--baseline")
    check_strict(loaded, strict)
    run_seed, reps = plan.seed, plan.replications
    for note in same_parameters(loaded):
        err.print(f"[bold yellow]warning:[/] {escape(note)}")
    if not quiet and not json_:
        err.print(f"comparing {len(loaded)} arrangements x {reps} replications "
                  f"(seed {run_seed}, common random numbers)")
    lock = before_run(loaded, reps, target_ci, max_replications, yes, out_dir)
    results = execute(loaded, run_seed, reps, workers, quiet or json_, target_ci, target_metric,
                      max_replications, engine_of(engine), out_dir)
    results = baseline_first(results, plan.baseline)
    base = results[0]
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
