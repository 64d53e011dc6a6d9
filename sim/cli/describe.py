"""Commands that describe configs without running them: validate and facts."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from sim.cli.common import (
    EXIT_INPUT,
    SetOption,
    app,
    err,
    export,
    out,
    overrides_from,
)
from sim.cli.core import config_arg, load_all
from sim.cli.fact_checks import fact_base_path, print_audit, print_fit
from sim.config.audit import audit
from sim.config.checks import (
    DEFAULT,
    SETTING,
    order_notes,
    parameter_sources,
    problems,
    spec_problems,
    warnings,
)
from sim.config.detection_fit import fit_detection_delay, incident_facts
from sim.config.facts import load_facts
from sim.config.loader import LoadedConfig, check_regular_file, load_config, read_toml
from sim.config.paths import get_path
from sim.config.resources import resolve_named
from sim.errors import InputError
from sim.model.rulebook.routing import deciding_choices, deciding_routes


@app.command()
def validate(
    configs: Annotated[list[Path], typer.Argument(help="Config, sweep or lesson files to check.")],
    set_: SetOption = None,
    strict: Annotated[bool, typer.Option("--strict", help="Treat warnings as errors (exit 2).")] = False,
) -> None:
    """Check configs, sweeps and lessons without running them: every problem at once, then warnings."""
    errors = warned = 0
    for path in configs:
        found, notes, line = check_file(resolve_named(path, "any"), overrides_from(set_, None, None, None))
        for error in found:
            err.print(f"[bold red]error:[/] {escape(error.paragraph())}")
        for note in notes:
            err.print(f"[bold yellow]warning:[/] {escape(note)}")
        errors += len(found)
        warned += len(notes)
        if not found:
            out.print(f"{path}: {'ok' if not notes else 'ok with warnings'} ({line})")
        if not found and file_kind(resolve_named(path, "any")) == "config":
            # A tie the site order breaks is a caveat of the result, not a defect of the file: noted, not counted.
            for note in order_notes(load_config(resolve_named(path, "any"), overrides_from(set_, None, None, None))):
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
        if kind == "levers":
            return lever_file_check(path, overrides)
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


def lever_file_check(path: Path, overrides: list[tuple[str, str, str]]) -> tuple[list[InputError], list[str], str]:
    """Check a lever file (`residency design --levers`) against the arrangement its `design.name` names."""
    from sim.config.levers import LeverFile, load_levers

    found = spec_problems(path, LeverFile)
    if found:
        return found, [], ""
    name = LeverFile.model_validate(read_toml(path)).design.name
    try:
        base = load_config(resolve_named(Path(name), "config"), overrides)
    except InputError:
        return [], [f"{path}: design.name {name!r} names no shipped arrangement, so its levers were checked "
                    "alone; `residency design CONFIG --levers FILE` checks them against CONFIG."], \
            f"lever file {name}"
    levers = load_levers(path, base)
    return [], [], f"lever file {name}, {len(levers.spec.levers)} levers checked against {base.name}"


def file_kind(path: Path) -> str:
    """Return "sweep", "lesson", "observations", "levers" or "config" from a file's top-level tables."""
    try:
        import tomllib

        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return "config"  # the config checks report the unreadable file
    if "observation" in data and "scenario" not in data:
        return "observations"
    if "levers" in data and "design" in data and "scenario" not in data:
        return "levers"
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
    return [{"parameter": key, "value": get_path(data, key), "source": source,
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
                          ("routes_around_keys", str(spec.routes_around_keys).lower()),
                          ("routes_around_keys_share", f"{spec.routes_around_keys_share:g}"),
                          ("role_order", spec.role_order)):
            why = choices.get(f"{actor}.{key}")
            table.add_row(f"actors.{actor}.{key}", what, source(f"actors.{actor}.{key}"),
                          f"DECIDING: {why}" if why else "")
    return table


