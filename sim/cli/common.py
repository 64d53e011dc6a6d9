"""What every command shares: consoles, options, number formats, errors and progress."""

from __future__ import annotations

import csv
import importlib.util
import io
import json
import os
import shlex
import signal
import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    ProgressColumn,
    Task,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from rich.text import Text
from typer.core import TyperOption

from sim.config.schema import MAX_SEED, Scenario
from sim.errors import InputError
from sim.metrics import catalogue
from sim.metrics.stats import Estimate
from sim.metrics.units import number
from sim.model.batched.fast import Engine
from sim.results.runs import to_json
from sim.results.scenario import ScenarioResult
from sim.version import __version__

ARRANGEMENTS = Path("configs") / "arrangements"
EXIT_INPUT = 2

app = typer.Typer(
    add_completion=True,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="Simulate who abroad can read protected US user data under each hosting arrangement.",
)


def _flag_type(self: TyperOption, ctx: Any) -> str | None:
    """Show a flag as a flag: no `<bool>` type beside `--json` or `--help`."""
    return None if self.is_flag else _option_type(self, ctx)


_option_type = TyperOption.display_type_rich
TyperOption.display_type_rich = _flag_type  # type: ignore[method-assign]

# Tables are wide: when output is not a terminal, do not wrap them at rich's 80 columns.
out = Console(highlight=False, width=None if sys.stdout.isatty() else 200)
err = Console(stderr=True, highlight=False, soft_wrap=True)

def at_least_one(flag: str) -> Any:
    """Return a typer callback that refuses a count below one for `flag` with the one-paragraph error."""
    def check(value: int | None) -> int | None:
        if value is not None and value < 1:
            raise InputError(flag, str(value), f"{flag} counts something and must be 1 or more.",
                             f"give {flag} a whole number of 1 or more, or leave it out for the default.")
        return value
    return check


#: Where the tasks of a sweep, an exploration or a design run.
SchedulerOption = Annotated[
    str | None,
    typer.Option("--scheduler", help="Run the tasks on a Dask cluster at tcp://HOST:PORT (pip install '.\\[dask]')."),
]
#: Replications in each plausible world (explore and design).
WorldRepsOption = Annotated[int, typer.Option("--replications", "-r", help="Replications in each world.",
                                              callback=at_least_one("--replications"))]


def seed_value(flag: str) -> Any:
    """Return a typer callback that refuses a seed outside 0 to MAX_SEED for `flag` with the one-paragraph error."""
    def check(value: int | None) -> int | None:
        if value is not None and not 0 <= value <= MAX_SEED:
            raise InputError(flag, str(value), f"{flag} must lie between 0 and {MAX_SEED:,}.",
                             f"give {flag} a whole number in that range, such as 1.")
        return value
    return check


SeedOption = Annotated[int | None, typer.Option(help="Seed of the random streams (default: the config's).")]
_DEFAULT = {name: field.default for name, field in Scenario.model_fields.items()}  # the schema's, for help texts
RepsOption = Annotated[
    int | None,
    typer.Option("--replications", "-r", help=f"Replications (default: the config's, {_DEFAULT['replications']} "
                 "where it names none; 6 in the shipped arrangements)."),
]
DaysOption = Annotated[int | None, typer.Option(help=f"Simulated days (default: the config's, {_DEFAULT['days']} "
                                                     "where it names none; 1461 in the shipped arrangements).")]
SetOption = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override a parameter: KEY=VALUE by dotted path; repeatable."),
]
JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON instead of tables.")]
WorkersOption = Annotated[int | None, typer.Option(help="Worker processes (default: the cores).",
                                                  callback=at_least_one("--workers"))]
StrictOption = Annotated[bool, typer.Option("--strict", help="Treat warnings (such as unrouted requests) as "
                                             "errors: exit 2 before running.")]
QuietOption = Annotated[bool, typer.Option("--quiet", "-q", help="No progress lines.")]


class EngineChoice(StrEnum):
    """The engines a command can run replications on (both give the same results to the bit)."""

    fast = "fast"
    event = "event"


EngineOption = Annotated[EngineChoice, typer.Option(
    "--engine", help="fast: requests settled in batches (default); event: one SimPy event at a time. "
    "Both settle requests with the same rules and give the same results to the bit.")]


def engine_of(choice: EngineChoice) -> Engine:
    """Return the engine an --engine choice names."""
    return "event" if choice is EngineChoice.event else "fast"

HEADLINE = tuple((m.path, m.label, m.kind) for m in catalogue.headline(catalogue.RUN))


def human(value: float | None, kind: str, scale_of: float | None = None) -> str:
    """Format a number for a table (see sim.units.number)."""
    return number(value, kind, scale_of)


def fmt_estimate(value: Estimate, kind: str, signed: bool = False) -> str:
    """Format a mean with its 95% interval: `± half-width` where it is symmetric, else `+above/-below`.

    Intervals of counts and shares stay inside their support, so near zero they reach further
    above the mean than below it.
    """
    text = human(value.mean, kind)
    if signed and value.mean is not None and value.mean >= 0:
        text = "+" + text
    if value.mean is None or value.high is None or value.low is None:
        return text
    above, below = value.high - value.mean, value.mean - value.low
    shown_above = human(above, kind, scale_of=value.mean)
    shown_below = human(below, kind, scale_of=value.mean)
    if shown_above == shown_below:
        return f"{text} ± {shown_above}"
    return f"{text} +{shown_above}/-{shown_below}"


EXPORT_FORMATS = ("csv", "json", "parquet")


def export(records: list[dict[str, Any]], fmt: str, out_path: Path | None) -> None:
    """Write records as CSV or JSON (to a file or standard output), or Parquet (to a file; needs pyarrow)."""
    if fmt not in EXPORT_FORMATS:
        raise InputError("--format", fmt, f"the format must be one of {', '.join(EXPORT_FORMATS)}.",
                         "use --format csv, --format json or --format parquet --out FILE.")
    if fmt == "parquet":
        write_parquet(records, out_path)
        return
    text = to_json({"rows": records}) if fmt == "json" else records_csv(records)
    if out_path is None:
        sys.stdout.write(text)
        return
    out_path.parent.mkdir(parents=True, exist_ok=True)
    out_path.write_text(text, encoding="utf-8")
    err.print(f"wrote {out_path}")


def records_csv(records: list[dict[str, Any]]) -> str:
    """Return records as CSV: the union of their keys as columns, empty cells for missing values."""
    columns: list[str] = []
    for record in records:
        columns += [k for k in record if k not in columns]
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    for record in records:
        writer.writerow({k: ("" if v is None else json.dumps(v) if isinstance(v, list | dict) else v)
                         for k, v in record.items()})
    return buffer.getvalue()


def write_parquet(records: list[dict[str, Any]], out_path: Path | None) -> None:
    """Write records to a Parquet file through pandas and pyarrow."""
    if importlib.util.find_spec("pyarrow") is None:
        raise InputError("--format", "parquet", "Parquet needs pyarrow, which is not installed.",
                         "install the extra with `pip install 'residency[parquet]'` (or `pip install pyarrow`), "
                         "or use --format csv or json.")
    if out_path is None:
        raise InputError("--format", "parquet", "Parquet is binary and is not printed to the terminal.",
                         "name the file with --out FILE.parquet.")
    import pandas as pd

    out_path.parent.mkdir(parents=True, exist_ok=True)
    frame = pd.DataFrame.from_records(records)
    for column in frame.columns:  # a column of mixed values (facts' values) as text, lists and tables as JSON
        kinds = {type(v) for v in frame[column] if v is not None}
        if len(kinds) > 1 or kinds & {list, dict}:
            frame[column] = frame[column].map(lambda v: v if v is None or isinstance(v, str) else json.dumps(v))
    frame.to_parquet(out_path, index=False)
    err.print(f"wrote {out_path}")


def print_input_error(error: InputError) -> None:
    """Print an input error as one paragraph on standard error."""
    err.print(f"[bold red]error:[/] {escape(error.paragraph())}", markup=True)


def fail(error: InputError) -> NoReturn:
    """Print an input error and exit with code 2 from inside a command (main() does the same for any it raises)."""
    print_input_error(error)
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
    for flag, key, given in flags:
        if given is not None:
            overrides.append((key, str(given), flag))
    return overrides


TargetOption = Annotated[
    float | None,
    typer.Option("--target-ci", help="Add replications until the 95% CI half-width of --target-metric is below "
                 "this fraction of its mean (e.g. 0.05)."),
]
TargetMetricOption = Annotated[
    str, typer.Option("--target-metric", help="The output --target-ci applies to.")
]
MaxRepsOption = Annotated[
    int, typer.Option("--max-replications", help="The most replications --target-ci may use.",
                      callback=at_least_one("--max-replications"))
]
YesOption = Annotated[bool, typer.Option("--yes", help="Run even when the estimated work or memory is above "
                                         "the limits.")]
received: list[int] = []  # the stopping signals received, most recent last


def on_stop_signal(signum: int, frame: object) -> None:
    """Treat SIGTERM (and SIGHUP) like Ctrl-C: every command's interruption handling applies."""
    received.append(signum)
    raise KeyboardInterrupt


def install_signal_handlers() -> None:
    """Make SIGTERM and SIGHUP stop a command the way Ctrl-C does (workers end, rows stay)."""
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), on_stop_signal)


def interrupted_status() -> int:
    """Return the exit status of an interrupted command: 128 plus the signal's number."""
    return 128 + (received[-1] if received else signal.SIGINT)


def portable_command() -> str:
    """Return the command as typed, without --out and with paths under the working folder made relative.

    Manifests record this form, so the same command run in another place writes the same bytes.
    """
    args, skip = [], False
    for arg in sys.argv[1:]:
        if skip:
            skip = False
            continue
        if arg == "--out":
            skip = True
            continue
        if arg.startswith("--out="):
            continue
        args.append(_relative(arg))
    return "residency " + shlex.join(args)


def _relative(arg: str) -> str:
    if not os.path.isabs(arg):
        return arg
    try:
        return os.path.relpath(arg)
    except ValueError:  # pragma: no cover - another drive on Windows
        return arg
ReportOption = Annotated[bool, typer.Option("--report", help="Write the report page (figures and HTML) at the end.")]


class RateColumn(ProgressColumn):
    """Show how many tasks finish per second."""

    def render(self, task: Task) -> Text:
        """Render the task's finishing rate."""
        speed = task.finished_speed or task.speed
        return Text("" if speed is None else f"{speed:.1f}/s", style="progress.data.speed")


class Reporter:
    """Report progress: a bar on a terminal, periodic plain lines otherwise, nothing if quiet."""

    def __init__(self, quiet: bool, every: float = 5.0) -> None:
        self.quiet = quiet
        self.every = every
        self.bar: Progress | None = None
        self.task: object = None
        self.started = time.monotonic()
        self.last = 0.0
        self.total = 0

    def __call__(self, done: int, total: int, label: str) -> None:
        """Note that `done` of `total` tasks have finished; `label` names the latest."""
        if self.quiet:
            return
        if err.is_terminal:
            self._bar(done, total, label)
            return
        now = time.monotonic()
        if total != self.total:  # a new batch (for example one --target-ci added)
            self.total, self.started = total, now
        if now - self.last < self.every and done < total:
            return
        self.last = now
        elapsed = now - self.started
        rate = done / elapsed if elapsed > 0 else 0.0
        left = (total - done) / rate if rate > 0 else 0.0
        err.print(f"  [{done}/{total}] {label}; {rate:.1f} runs/s, ~{left:.0f} s left")

    def _bar(self, done: int, total: int, label: str) -> None:
        if self.bar is None or total != self.total:
            self.close()
            self.total = total
            self.bar = Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                                RateColumn(), TimeElapsedColumn(), TextColumn("left"),
                                TimeRemainingColumn(), console=err, transient=True)
            self.bar.start()
            self.task = self.bar.add_task("running", total=total)
        self.bar.update(self.task, completed=done, description=label)  # type: ignore[arg-type]

    def close(self) -> None:
        """Stop the bar, if one is showing."""
        if self.bar is not None:
            self.bar.stop()
            self.bar = None


def command_line() -> str:
    """Return the command as typed, to record how to reproduce a run."""
    return "residency " + shlex.join(sys.argv[1:])


def caption(result: ScenarioResult) -> str:
    """Return the line that says how a result was produced."""
    scenario = result.loaded.config.scenario
    sets = f"; overrides {', '.join(result.loaded.overrides)}" if result.loaded.overrides else ""
    return (f"seed {result.seed}, {len(result.replications)} replications of {scenario.days} days "
            f"from {scenario.start_date}, residency {__version__}{sets}")


told: list[str] = []  # the interruption messages printed (main prints a general one when a command printed none)


def interrupted(message: str) -> NoReturn:
    """Say what an interruption kept and how to go on, then exit with 128 + the signal (130 on Ctrl-C)."""
    err.print(f"[bold yellow]interrupted:[/] {escape(message)}")
    told.append(message)
    raise typer.Exit(interrupted_status())


def write_report(folder: Path, out_dir: Path | None, fmt: str) -> None:
    """Build a results folder's report and print the page's path (plotting is imported only here)."""
    from sim.report.page import build_report  # matplotlib loads only when a report is asked for

    started = time.monotonic()
    try:
        page = build_report(folder, out_dir, fmt)
    except KeyboardInterrupt:
        interrupted("the report is written whole or not at all, so the previous page (if any) is intact; "
                    "run the same command again.")
    err.print(f"report written in {time.monotonic() - started:.1f} s")
    out.print(f"report: {page}")
