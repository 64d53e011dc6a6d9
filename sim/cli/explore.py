"""The explore command: compare arrangements across every plausible world, not one guess."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from sim.cli.common import (
    ARRANGEMENTS,
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
from sim.config.loader import LoadedConfig, did_you_mean, load_config
from sim.config.resources import project_path, resolve_named
from sim.errors import InputError
from sim.experiment.decision import check_candidates
from sim.experiment.discovery import parse_question
from sim.experiment.executors import Executor, make_executor
from sim.experiment.explore import Exploration, plan, run_exploration, world_table
from sim.experiment.explore_summary import matched, summarise, summary_metrics
from sim.experiment.history import Observations, check_against, history_calendars, load_observations
from sim.experiment.replications import engine_used
from sim.experiment.sweep import metric_names
from sim.experiment.waves import next_box, wave_entry
from sim.metrics.units import kind_of
from sim.results.runs import to_json, write_manifest
from sim.results.store import Store

OBSERVATIONS = Path("configs") / "explore" / "observations.toml"
EXPLORE_JSON = "explore.json"


@app.command()
def explore(
    configs: Annotated[list[Path] | None, typer.Argument(
        help="Arrangements to compare (default: every file in configs/arrangements/).")] = None,
    worlds: Annotated[int, typer.Option("--worlds", help="Plausible worlds to sample over the ranges.")] = 50,
    replications: WorldRepsOption = 3,
    days: DaysOption = None,
    metric: Annotated[str, typer.Option("--metric", help="The output compared (lower is better).")]
    = "residual_access.events",
    discover: Annotated[list[str] | None, typer.Option(
        "--discover", help='Find where a question holds with PRIM: "A < B" or "A > NUMBER"; repeatable.')] = None,
    candidates: Annotated[list[str] | None, typer.Option(
        "--candidates", help="The arrangements the decision is among, by name (repeat, or comma-separated); "
        "regret, the ranking, the automatic question and the value of information are over them, the others "
        "are shown as references (default: all).")] = None,
    history_match: Annotated[bool, typer.Option(
        "--history-match", help="Rule out the worlds the public record contradicts (see --observations).")]
    = False,
    waves: Annotated[int, typer.Option(
        "--waves", help="Budget of history-matching waves: each later wave samples new worlds inside what the "
        "record has not ruled out (stops early when nothing more is ruled out).")] = 1,
    observations_file: Annotated[Path | None, typer.Option(
        "--observations", help="Observations for --history-match (default: configs/explore/observations.toml).")]
    = None,
    out_dir: Annotated[Path, typer.Option("--out", help="Results folder (explore.json, results.db).")]
    = Path("reports") / "explore",
    seed: SeedOption = None,
    design: Annotated[str, typer.Option("--design", help="latin (Latin hypercube) or sobol.")] = "latin",
    workers: WorkersOption = None,
    scheduler: SchedulerOption = None,
    set_: SetOption = None,
    quiet: QuietOption = False,
    report: ReportOption = False,
    engine: EngineOption = EngineChoice.fast,
) -> None:
    """Compare arrangements across plausible worlds: bands, win probabilities, regret, discovery."""
    try:
        loaded = _load(configs, set_, seed, days)
        known = metric_names(loaded[0].config)
        _check_metric(metric, known)
        questions = list(discover or [])
        for question in questions:
            parse_question(question, [item.name for item in loaded])
        chosen = check_candidates(candidates, [item.name for item in loaded])
        if waves < 1:
            raise InputError("--waves", str(waves), "there must be at least one wave.",
                             "use --waves 1 (match once) or more (sample again inside what the record allows).")
        observations = _observations(history_match, observations_file, [i.name for i in loaded], known)
        run_seed = seed if seed is not None else loaded[0].config.scenario.seed
        calendars = history_calendars(observations, {item.name: (item.config.scenario.start_date,
                                                                item.config.scenario.days) for item in loaded})
        exploration = plan(loaded, worlds, replications, run_seed, design, history=calendars)
        executor = make_executor(workers, scheduler, engine_of(engine), out_dir)
        store = Store(out_dir)
    except InputError as error:
        fail(error)
    store.set_meta("command", command_line())
    write_manifest(out_dir, "explore", command_line(), exploration.names, None, run_seed, replications,
                   engine_used([item.config for item in exploration.arrangements], engine_of(engine)))
    if not quiet:
        err.print(f"explore: {exploration.worlds} worlds x {len(loaded)} arrangements x {replications} replications "
                  f"over {len(exploration.dimensions)} ranged parameters (seed {run_seed}, {design} design, "
                  f"common random numbers) into {store.path}")
        for name, (first, length) in exploration.calendars.items():
            err.print(f"history matching also runs {name} on the record's calendar in every world, from {first} "
                      f"for {length} days, and counts its observed windows by date")
    _run(exploration, store, executor, quiet)
    earlier: list[dict[str, Any]] = []
    box = None
    for wave in range(2, waves + 1):
        if observations is None:
            break
        keep, section = matched(exploration, world_table(store, exploration.names, exploration.worlds,
                                                          summary_metrics(metric, observations)), observations, store)
        box = next_box(exploration, keep, box)
        if box is None:
            break
        earlier.append(wave_entry(wave - 1, exploration, section))
        store.close()
        exploration = plan(loaded, worlds, replications, run_seed + wave - 1, design, box, calendars)
        store = Store(out_dir / f"wave-{wave}")
        if not quiet:
            err.print(f"wave {wave}: {section['ruled_out']} of {section['ruled_out'] + section['remaining']} worlds "
                      f"ruled out; {worlds} new worlds inside what remains, into {store.path}")
        executor = make_executor(workers, scheduler, engine_of(engine), store.path)
        _run(exploration, store, executor, quiet)
    try:
        document = summarise(exploration, store, metric, questions, observations, chosen, earlier)
    except InputError as error:
        fail(error)
    store.close()
    document["command"] = command_line()
    path = out_dir / EXPLORE_JSON
    path.write_text(to_json(document), encoding="utf-8")
    print_explore(document)
    err.print(f"wrote {path}")
    if report:
        write_report(out_dir, None, "png")


def _load(configs: list[Path] | None, set_: list[str] | None, seed: int | None, days: int | None) -> list[LoadedConfig]:
    paths = [resolve_named(c, "config") for c in configs or []] or sorted(project_path(ARRANGEMENTS).glob("*.toml"))
    if not paths:
        raise InputError(str(ARRANGEMENTS), None, "there are no configs to explore.",
                         "name config files, or run from the project folder.")
    overrides = overrides_from(set_, seed, None, days)
    return [load_config(path, overrides) for path in paths]


def _check_metric(metric: str, known: list[str]) -> None:
    if metric not in known:
        hint = did_you_mean(metric, dict.fromkeys(known))
        raise InputError("--metric", metric, "this is not a metric the model reports.",
                         (hint + " " if hint else "") + "Use a path from `residency run CONFIG --json`, "
                         "such as residual_access.events.")


def _observations(wanted: bool, path: Path | None, names: list[str], known: list[str]) -> Observations | None:
    if not wanted:
        if path is not None:
            raise InputError("--observations", str(path), "observations are read only with --history-match.",
                             "add --history-match, or leave out --observations.")
        return None
    observations = load_observations(path or project_path(OBSERVATIONS))
    skipped = check_against(observations, names, known)
    if skipped:
        err.print(f"history matching skips {', '.join(skipped)}: the arrangement it observed is not explored")
    return observations


def _run(exploration: Exploration, store: Store, executor: Executor, quiet: bool) -> None:
    reporter = Reporter(quiet)
    try:
        outcome = run_exploration(exploration, store, executor, reporter)
    except KeyboardInterrupt:
        reporter.close()
        kept = len(store.done())
        interrupted(f"{kept} finished rows are committed in {store.path}; run the same command again "
                    "to resume (finished rows are skipped).")
    finally:
        reporter.close()
        executor.close()
    if not quiet:
        err.print(f"{outcome.ran} rows run, {outcome.skipped} already stored or shared by identical worlds, "
                  f"{outcome.total} in all")


def print_explore(document: dict[str, Any]) -> None:
    """Print the robust comparison: bands, regret, win probabilities, boxes and the record's verdict."""
    metric, kind = document["metric"], kind_of(document["metric"])
    table = Table(title=f"{metric} across {document['worlds']} plausible worlds (median [5%, 95%]; "
                  "replication noise is the median 95% half-width within a world)", title_justify="left")
    for column in ("arrangement", "median [5-95%]", "noise ±", "max regret", "p90 regret"):
        table.add_column(column, justify="left" if column == "arrangement" else "right")
    for name in [*document["ranking"], *document.get("references", [])]:
        entry, regret = document["arrangements"][name][metric], document["regret"][name]
        shown = name + ("" if name in document["ranking"] else " (reference)")
        table.add_row(shown, f"{human(entry['p50'], kind)} [{human(entry['p05'], kind)}, {human(entry['p95'], kind)}]",
                      human(entry["replication_noise"], kind), human(regret["max"], kind), human(regret["p90"], kind))
    out.print(table)
    names = [*document["ranking"], *document.get("references", [])]
    matrix = Table(title="P(row leaves less than column) across worlds", title_justify="left")
    matrix.add_column("")
    for name in names:
        matrix.add_column(name, justify="right")
    for a in names:
        matrix.add_row(a, *["–" if a == b else _share(document["pairwise"][a][b]["p_less"]["mean"]) for b in names])
    out.print(matrix)
    for found in document["discovery"]:
        out.print(f"discovery {found['phrase']}: {found['cases']} of {found['worlds']} worlds; {found['verdict']}")
        for box in found["boxes"]:
            limits = "; ".join(f"{k} {_limits(v)}" for k, v in box["limits"].items()) or "(no restriction)"
            out.print(f"  box: {limits} (coverage {box['coverage']:.0%}, density {box['density']:.0%}, "
                      f"p = {box.get('p_value', float('nan')):.2f})")
    if "history_match" in document:
        matched = document["history_match"]
        for wave in matched.get("waves", []):
            by = ", ".join(f"{k} {v}" for k, v in wave["by_observation"].items() if v) or "none"
            out.print(f"history matching wave {wave['wave']}: {wave['ruled_out']} of {wave['worlds']} worlds ruled "
                      f"out (by observation: {by})")
        for key, entry in matched["observations"].items():
            if not entry.get("used", True):
                out.print(f"  {key}: {entry.get('why', 'not used')}")
        out.print(f"history matching: {matched['ruled_out']} of {document['worlds']} worlds ruled out")
        for key, (low, high) in matched["ranges_after"].items():
            before = matched["ranges_before"].get(key)
            if before and (before[0] != low or before[1] != high):
                out.print(f"  {key}: [{before[0]:.4g}, {before[1]:.4g}] -> [{low:.4g}, {high:.4g}]")
    voi = document.get("value_of_information", {})
    if voi.get("evpi") is not None:
        best = "; ".join(f"{k} {human(v['evppi'], kind)} ± {human(v['se'], kind)}"
                         for k, v in list(voi["parameters"].items())[:3])
        out.print(f"value of information among {', '.join(voi['candidates'])}: EVPI {human(voi['evpi'], kind)}; "
                  f"largest EVPPI: {best}")
    for line in document["conclusion"]:
        out.print(line)


def _limits(value: Any) -> str:
    if isinstance(value, list) and all(isinstance(v, float) for v in value):
        return "[" + ", ".join(f"{v:.4g}" for v in value) + "]"
    return str(value)


def _share(value: float | None) -> str:
    return "–" if value is None else f"{value:.0%}"
