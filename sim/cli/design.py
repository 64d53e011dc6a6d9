"""The design command: search the levers for terms good enough in nearly every plausible world, and their cost."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sim.cli.common import (
    DaysOption,
    EngineChoice,
    EngineOption,
    QuietOption,
    Reporter,
    ReportOption,
    SchedulerOption,
    SeedOption,
    SetOption,
    WorkersOption,
    WorldRepsOption,
    app,
    command_line,
    engine_of,
    err,
    fail,
    human,
    interrupted,
    out,
    overrides_from,
    write_report,
)
from sim.errors import InputError
from sim.experiment.design import COST, DesignPlan, check_terms, evaluate_terms, search
from sim.experiment.design_setup import default_population, point_prefix, prepare
from sim.experiment.design_summary import document, dollars, terms_text
from sim.experiment.executors import make_executor
from sim.experiment.replications import engine_used
from sim.metrics.units import kind_of
from sim.results.runs import to_json, write_manifest
from sim.results.store import Store

DESIGN_JSON = "design.json"
POINT_JSON = "point.json"


@app.command()
def design(
    config: Annotated[str, typer.Argument(help="The config the levers set: a file or a shipped name (oracle).")],
    levers: Annotated[str, typer.Option("--levers", help="Lever file: a path or a name in configs/design/.")],
    worlds: Annotated[int, typer.Option("--worlds", help="Plausible worlds every candidate runs in.")] = 20,
    replications: WorldRepsOption = 2,
    days: DaysOption = None,
    trials: Annotated[int, typer.Option("--trials", help="Candidates to evaluate (the search's budget).")] = 60,
    population: Annotated[int | None, typer.Option(
        "--population", help="Candidates per NSGA-II generation (default: a third of --trials, 4 to 24).")] = None,
    objective: Annotated[list[str] | None, typer.Option(
        "--objective", help="A catalogue metric to minimise (METRIC:max to maximise); repeatable "
        "(default: residual_access.events and friction.decision_hours). Yearly cost is always one.")] = None,
    target: Annotated[str | None, typer.Option(
        "--target", help='Find the cheapest terms meeting "METRIC<=VALUE" (or >=) in --confidence of the worlds.')]
    = None,
    confidence: Annotated[float, typer.Option("--confidence", help="Share of worlds the target must hold in.")] = 0.9,
    quantile: Annotated[float, typer.Option(
        "--quantile", help="Robust statistic: this quantile across worlds of each world's mean.")] = 0.9,
    terms: Annotated[list[str] | None, typer.Option(
        "--terms", help="Evaluate these terms only (PATH=VALUE for every lever; no search): re-runs a point.")]
    = None,
    out_dir: Annotated[Path | None, typer.Option("--out", "-o", help="Results folder (default: reports/design/NAME).")]
    = None,
    replace: Annotated[bool, typer.Option(
        "--replace", help="Give the folder to this design when it holds another's rows (edited levers, worlds).")]
    = False,
    seed: SeedOption = None,
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    set_: SetOption = None,
    quiet: QuietOption = False,
    report: ReportOption = False,
    engine: EngineOption = EngineChoice.fast,
) -> None:
    """Design the terms: a multi-objective search over a lever file's levers across plausible worlds."""
    try:
        overrides = overrides_from(set_, seed, None, days)
        plan = prepare(config, levers, overrides, worlds, replications, seed, objective or [], target,
                       confidence, quantile)
        folder = out_dir or Path("reports") / "design" / plan.levers.spec.design.name
        pinned = check_terms(plan.levers, _pairs(terms)) if terms else None
        size = population or default_population(trials)
        executor = make_executor(workers, scheduler, engine_of(engine), folder)
    except InputError as error:
        fail(error)
    if pinned is not None:
        _evaluate_point(plan, pinned, folder, executor, quiet)
        return
    try:
        store = Store(folder)
    except InputError as error:
        executor.close()
        fail(error)
    store.set_meta("command", command_line())
    if not quiet:
        err.print(f"design: {trials} candidates ({size} a generation, NSGA-II) over {len(plan.levers.levers)} levers, "
                  f"each in {plan.worlds} worlds x {replications} replications over "
                  f"{len(plan.exploration.dimensions)} ranged parameters (seed {plan.seed}, common random numbers), "
                  f"with {', '.join(plan.exploration.names[1:]) or 'no other arrangement'} as reference; "
                  f"into {store.path}")
    reporter = Reporter(quiet)
    try:
        found = search(plan, store, executor, trials, size, reporter, replace)
    except KeyboardInterrupt:
        reporter.close()
        interrupted(f"{len(store.done())} finished rows are committed in {store.path}; run the same command again "
                    "to resume (the seeded search replays the stored rows and goes on).")
    except InputError as error:
        fail(error)
    finally:
        reporter.close()
        executor.close()
        store.close()
    prefix = point_prefix(config, levers, plan, objective or [], target, set_ or [], folder)
    doc = document(plan, found, prefix, plan.base.config.scenario.days, trials, size)
    doc["command"] = command_line()
    configs = [item.config for item in plan.exploration.arrangements]
    write_manifest(folder, "design", command_line(), plan.exploration.names, None, plan.seed, replications,
                   engine_used(configs, engine_of(engine)))
    path = folder / DESIGN_JSON
    path.write_text(to_json(doc), encoding="utf-8")
    print_design(doc)
    err.print(f"wrote {path}")
    if report:
        write_report(folder, None, "png")


def _pairs(items: list[str]) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError("--terms", item, "a term must have the form PATH=VALUE.",
                             "write it like `--terms gatekeeper.reviewers=120`.")
        pairs[key.strip()] = value.strip()
    return pairs


def _evaluate_point(plan: DesignPlan, terms: dict[str, Any], folder: Path, executor: Any, quiet: bool) -> None:
    reporter = Reporter(quiet)
    try:
        candidate = evaluate_terms(plan, terms, executor, reporter)
    except KeyboardInterrupt:
        reporter.close()
        interrupted("nothing is kept: a point's evaluation is rerun whole.")
    finally:
        reporter.close()
        executor.close()
    record = {"terms": terms, "objectives": candidate.objectives, "cost": candidate.cost,
              "target_share": candidate.target_share, "worlds": plan.worlds, "seed": plan.seed,
              "command": command_line()}
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / POINT_JSON
    path.write_text(to_json(record), encoding="utf-8")
    table = Table(title=f"terms {terms_text(terms)} on {plan.worlds} worlds", title_justify="left")
    table.add_column("objective")
    table.add_column("value [95% interval]", justify="right")
    for name, entry in candidate.objectives.items():
        table.add_row(name, objective_text(name, entry))
    out.print(table)
    if candidate.target_share is not None and plan.target is not None:
        out.print(f"{plan.target.text()} holds in {candidate.target_share:.0%} of the worlds")
    err.print(f"wrote {path}")


def objective_text(name: str, entry: dict[str, float]) -> str:
    """Return an objective's value with its interval, in the metric's units."""
    if name == COST:
        return dollars(entry["value"])
    kind = kind_of(name)
    return f"{human(entry['value'], kind)} [{human(entry['low'], kind)}, {human(entry['high'], kind)}]"


def print_design(doc: dict[str, Any]) -> None:
    """Print the front, the reference arrangements and the target's answer."""
    names = list(doc["sense"])
    table = Table(title=f"Front of terms for {doc['display']}: {doc['statistic']}", title_justify="left")
    for column in ["#", *names, "target share"]:
        table.add_column(column, justify="right")
    for point in doc["front"]:
        share = point["target_share"]
        table.add_row(str(point["number"]), *[objective_text(n, point["objectives"][n]) for n in names],
                      "–" if share is None else f"{share:.0%}")
    out.print(table)
    reference = Table(title="Reference: shipped terms and arrangements on the same worlds", title_justify="left")
    for column in ["arrangement", *names, "target share"]:
        reference.add_column(column, justify="left" if column == "arrangement" else "right")
    for entry in doc["reference"]["arrangements"].values():
        share = entry["target_share"]
        reference.add_row(entry["display"], *[objective_text(n, entry["objectives"][n]) if n in entry["objectives"]
                                              else "–" for n in names], "–" if share is None else f"{share:.0%}")
    out.print(reference)
    out.print(doc["answer"])
