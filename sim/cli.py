"""The `residency` command line: the only place that prints or exits."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from sim import __version__
from sim.config.loader import LoadedConfig, load_config
from sim.errors import InputError
from sim.experiment import ScenarioResult, default_workers, run_scenarios
from sim.results import (
    comparison_csv,
    comparison_rows,
    estimates,
    summary_document,
    to_json,
    write_run,
)
from sim.stats import Estimate, paired_difference

ARRANGEMENTS = Path("configs") / "arrangements"
EXIT_INPUT = 2

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Simulate who abroad can read protected US user data under each hosting arrangement.",
)
# Tables are wide: when output is not a terminal, do not wrap them at rich's 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 160)
err = Console(stderr=True, highlight=False, soft_wrap=True)

SeedOption = Annotated[int | None, typer.Option(help="Seed of the random streams (default: the config's).")]
RepsOption = Annotated[
    int | None, typer.Option("--replications", "-r", help="Replications (default: the config's, 20).")
]
DaysOption = Annotated[int | None, typer.Option(help="Simulated days (default: the config's, 365).")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a parameter: KEY=VALUE by dotted path; repeatable."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
WorkersOption = Annotated[int | None, typer.Option(help="Worker processes (default: the cores).")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")]

HEADLINE = (
    ("residual_access.events", "residual accesses", "count"),
    ("residual_access.records", "records read abroad", "count"),
    ("at_rest_abroad.record_days", "record-days abroad", "count"),
    ("friction.wait_hours", "gate wait h (mean)", "hours"),
    ("friction.wait_hours_p95", "gate wait h (p95)", "hours"),
    ("friction.decision_hours", "time to decision h", "hours"),
    ("friction.utilisation", "gate utilisation", "share"),
    ("requests.denied", "requests denied", "count"),
    ("detection.detected_share", "improper accesses detected", "share"),
)
COMPARE_COLUMNS = ("residual_access.events", "residual_access.records",
                   "at_rest_abroad.record_days", "friction.wait_hours",
                   "friction.decision_hours")


def human(value: float | None, kind: str, scale_of: float | None = None) -> str:
    """Format a number for a table: counts with k/M/B, hours with decimals, shares as %.

    `scale_of` formats the value in the unit chosen for another (a mean's interval).
    """
    if value is None:
        return "–"
    if kind == "share":
        return f"{value:.0%}"
    if kind == "hours":
        return f"{value:,.2f}"
    magnitude = abs(value if scale_of is None else scale_of)
    for size, suffix in ((1e9, "B"), (1e6, "M")):
        if magnitude >= size:
            return f"{value / size:,.2f}{suffix}"
    return f"{value:,.0f}" if magnitude >= 100 else f"{value:,.1f}"


def fmt_estimate(value: Estimate, kind: str, signed: bool = False) -> str:
    """Format a mean with the half-width of its 95% interval (t intervals are symmetric)."""
    text = human(value.mean, kind)
    if signed and value.mean is not None and value.mean >= 0:
        text = "+" + text
    if value.mean is not None and value.high is not None:
        text += f" ± {human(value.high - value.mean, kind, scale_of=value.mean)}"
    return text


def fail(error: InputError) -> None:
    """Print an input error as one paragraph and exit with code 2."""
    err.print(f"[bold red]error:[/] {escape(error.paragraph())}", markup=True)
    raise typer.Exit(EXIT_INPUT)


def overrides_from(
    sets: list[str] | None, seed: int | None, replications: int | None, days: int | None
) -> list[tuple[str, str, str]]:
    """Turn --set KEY=VALUE and the run flags into (key, value, flag) overrides."""
    overrides = []
    for item in sets or []:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InputError("--set", item, "an override must have the form KEY=VALUE.",
                             "write it like `--set gatekeeper.reviewers=300`.")
        overrides.append((key.strip(), value.strip(), "--set"))
    flags = (("--seed", "scenario.seed", seed),
             ("--replications", "scenario.replications", replications),
             ("--days", "scenario.days", days))
    for flag, key, number in flags:
        if number is not None:
            overrides.append((key, str(number), flag))
    return overrides


def progress_printer(quiet: bool) -> object:
    """Return a progress callback printing periodic lines to standard error."""
    started = time.monotonic()
    last = [0.0]

    def report(done: int, total: int, label: str) -> None:
        now = time.monotonic()
        if quiet or (now - last[0] < 1.0 and done < total):
            return
        last[0] = now
        elapsed = now - started
        left = elapsed / done * (total - done)
        err.print(f"  [{done}/{total}] {label} done; {elapsed:.0f} s elapsed, ~{left:.0f} s left")

    return report


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
) -> None:
    """Run one config and print a summary table (or JSON)."""
    try:
        loaded = load_config(config, overrides_from(set_, seed, replications, days))
    except InputError as error:
        fail(error)
    scenario = loaded.config.scenario
    [result] = run_scenarios([loaded], scenario.seed, scenario.replications,
                             workers or default_workers(),
                             progress_printer(quiet or json_))  # type: ignore[arg-type]
    if out_dir is not None:
        for path in write_run(result, out_dir):
            err.print(f"wrote {path}")
    if json_:
        sys.stdout.write(to_json(summary_document(result)))
        return
    print_summary(result)


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


def caption(result: ScenarioResult) -> str:
    """Return the line that says how a result was produced."""
    scenario = result.loaded.config.scenario
    sets = f"; overrides {', '.join(result.loaded.overrides)}" if result.loaded.overrides else ""
    return (f"seed {result.seed}, {len(result.replications)} replications of {scenario.days} days "
            f"from {scenario.start_date}, residency {__version__}{sets}")


@app.command()
def compare(
    configs: Annotated[
        list[Path] | None, typer.Argument(help="Configs to compare (default: every file in configs/arrangements/).")
    ] = None,
    seed: SeedOption = None,
    replications: RepsOption = None,
    days: DaysOption = None,
    set_: SetOption = None,
    baseline: Annotated[str, typer.Option(help="Scenario the paired differences are taken from.")] = "status_quo",
    out_dir: Annotated[
        Path, typer.Option("--out", help="Folder for per-arrangement files and comparison.csv.")
    ] = Path("reports"),
    json_: JsonOption = False,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Run arrangements under common random numbers and compare them with the baseline."""
    try:
        paths = configs or sorted(ARRANGEMENTS.glob("*.toml"))
        if not paths:
            raise InputError(str(ARRANGEMENTS), None, "there are no configs to compare.",
                             "name config files, or run from the project folder.")
        loaded = load_all(paths, overrides_from(set_, seed, replications, days))
    except InputError as error:
        fail(error)
    first = loaded[0].config.scenario
    run_seed = seed if seed is not None else first.seed
    reps = replications if replications is not None else first.replications
    if not quiet and not json_:
        err.print(f"comparing {len(loaded)} arrangements x {reps} replications "
                  f"(seed {run_seed}, common random numbers)")
    results = run_scenarios(loaded, run_seed, reps, workers or default_workers(),
                            progress_printer(quiet or json_))  # type: ignore[arg-type]
    base = next((r for r in results if r.loaded.name == baseline), None)
    if base is not None:  # the baseline leads the table
        results = [base] + [r for r in results if r is not base]
    for result in results:
        write_run(result, out_dir / result.loaded.name)
    csv_path = out_dir / "comparison.csv"
    csv_path.write_text(comparison_csv(comparison_rows(results, base)), encoding="utf-8")
    if json_:
        sys.stdout.write(to_json({r.loaded.name: summary_document(r) for r in results}))
        return
    print_comparison(results, base)
    err.print(f"wrote {out_dir}/<arrangement>/summary.json, daily.csv, resolved_config.json "
              f"and {csv_path}")


def print_comparison(results: list[ScenarioResult], base: ScenarioResult | None) -> None:
    """Print the comparison table and the paired differences from the baseline."""
    labels = {name: label for name, label, _ in HEADLINE}
    kinds = {name: kind for name, _, kind in HEADLINE}
    table = Table(title="Residual cross-border access and its cost in waiting, per simulated "
                  "year (mean ± 95% CI)", title_justify="left")
    table.add_column("arrangement")
    for name in COMPARE_COLUMNS:
        table.add_column(labels[name], justify="right")
    if base is not None:
        table.add_column(f"Δ residual vs {base.loaded.name} (paired)", justify="right")
    residual = "residual_access.events"
    for result in results:
        values = estimates(result)
        row = [result.loaded.name] + [fmt_estimate(values[n], kinds[n]) for n in COMPARE_COLUMNS]
        if base is not None:
            diff = paired_difference([r.metrics[residual] for r in result.replications],
                                     [r.metrics[residual] for r in base.replications])
            row.append("–" if result is base else fmt_estimate(diff, "count", signed=True))
        table.add_row(*row)
    out.print(table)
    channels = Table(title="Residual accesses by channel (mean per year)", title_justify="left")
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
    configs: Annotated[list[Path], typer.Argument(help="Config files to check.")],
    set_: SetOption = None,
) -> None:
    """Check configs (schema, provenance, fact ids) without running them."""
    try:
        for path in configs:
            loaded = load_config(path, overrides_from(set_, None, None, None))
            out.print(f"{path}: ok ({loaded.name}, {len(loaded.provenance)} sourced parameters)")
    except InputError as error:
        fail(error)


@app.command()
def facts(
    config: Annotated[Path, typer.Argument(help="A config file.")],
    set_: SetOption = None,
) -> None:
    """Print every parameter of a config with its value and its source."""
    try:
        loaded = load_config(config, overrides_from(set_, None, None, None))
    except InputError as error:
        fail(error)
    table = Table(title=f"Parameters of {loaded.name} and where they come from",
                  title_justify="left")
    table.add_column("parameter")
    table.add_column("value")
    table.add_column("source")
    data = loaded.config.model_dump(mode="json")
    for key in sorted(loaded.provenance):
        found, value = lookup(data, key)
        if found:
            shown = json.dumps(value) if isinstance(value, dict | list) else str(value)
            table.add_row(key, shown, loaded.provenance[key].describe(loaded.facts))
    out.print(table)


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


@app.callback(invoke_without_command=True)
def main_callback(
    version: Annotated[bool, typer.Option("--version", help="Print the version and exit.")] = False,
) -> None:
    """Simulate residual cross-border access under data-hosting arrangements."""
    if version:
        out.print(f"residency {__version__}")
        raise typer.Exit(0)


def main() -> None:
    """Run the command line; typer itself turns bad flags into a usage error and exit 2."""
    try:
        app()
    except InputError as error:  # pragma: no cover - commands catch their own
        err.print(f"[bold red]error:[/] {escape(error.paragraph())}")
        sys.exit(EXIT_INPUT)
