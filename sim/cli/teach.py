"""The `residency teach` commands: list, show and run lessons, and write handouts."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from sim.cli.common import (
    DaysOption,
    QuietOption,
    Reporter,
    WorkersOption,
    app,
    at_least_one,
    err,
    fmt_estimate,
    interrupted,
    out,
)
from sim.config.loader import with_overrides
from sim.config.schema import display
from sim.errors import InputError
from sim.experiment.executors import LocalExecutor
from sim.results.runs import estimates
from sim.teach.lesson import LoadedLesson, available, describe_overrides, load_lesson
from sim.teach.run import KEY_FIGURES, StepResult, run_lesson
from sim.teach.trace import narrate

teach_app = typer.Typer(no_args_is_help=True, help="Lessons a teacher can run in class.")
app.add_typer(teach_app, name="teach")

LessonArgument = Annotated[str, typer.Argument(metavar="LESSON", help="A lesson name (see `teach list`) or file.")]


@teach_app.command("list")
def list_lessons() -> None:
    """List the shipped lessons."""
    table = Table(title="Lessons (run one with `residency teach run NAME`)", title_justify="left")
    for column in ("name", "title", "level", "steps"):
        table.add_column(column)
    for path in available():
        lesson = load_lesson(str(path))
        spec = lesson.spec.lesson
        table.add_row(lesson.name, spec.title, spec.level, str(len(lesson.spec.steps)))
    out.print(table)


@teach_app.command()
def show(lesson: LessonArgument) -> None:
    """Show a lesson's goals, story and questions (without running it)."""
    loaded = load_lesson(lesson)
    spec = loaded.spec.lesson
    out.print(f"[bold]{escape(spec.title)}[/] ({spec.level})")
    if spec.summary:
        out.print(escape(spec.summary))
    out.print("Goals:\n" + "\n".join(f"  - {escape(g)}" for g in spec.goals))
    for i, (step, config) in enumerate(zip(loaded.spec.steps, loaded.configs, strict=True), start=1):
        out.print(f"\n[bold]Step {i}: {escape(step.title)}[/]")
        out.print(f"  Arrangement: {escape(display(config.config.scenario.name, config.config.scenario.display))}")
        for line in describe_overrides(step.overrides):
            out.print(f"  Changed: {escape(line)}")
        out.print(escape(step.narrative.strip()))
        for j, question in enumerate(step.questions, start=1):
            out.print(f"  Q{j}. {escape(question.text)}")


@teach_app.command("run")
def run_command(
    lesson: LessonArgument,
    step: Annotated[int | None, typer.Option("--step", help="Run only step K (and the one before it).")] = None,
    trace: Annotated[int, typer.Option("--trace", help="Narrate the first N events of each step.", min=0)] = 0,
    trace_actor: Annotated[str | None, typer.Option("--trace-actor", help="Narrate only this actor group's "
                                                    "events (default: the lesson's choice, else all).")] = None,
    seed: Annotated[int | None, typer.Option(help="Seed (default: the lesson's).")] = None,
    days: DaysOption = None,
    replications: Annotated[int | None, typer.Option("--replications", "-r", help="Replications of each step "
                                                     "(default: the lesson's).",
                                                     callback=at_least_one("--replications"))] = None,
    handout: Annotated[Path | None, typer.Option("--handout", help="Write students' and teacher's pages here.")] = None,
    workers: WorkersOption = None,
    quiet: QuietOption = False,
) -> None:
    """Run a lesson: story, narrated trace, key figures beside the previous step, questions and answers."""
    loaded = load_lesson(lesson)
    if days is not None:  # a shorter horizon for a quick look; the lesson's own is the one its questions assume
        loaded = dataclasses.replace(loaded, configs=[with_overrides(c, [("scenario.days", str(days), "--days")])
                                                      for c in loaded.configs])
    if handout is not None and handout.exists() and not handout.is_dir():
        raise InputError(str(handout), "--handout", "this is a file (or device), not a folder.",
                         "give --handout a new folder, or one a handout was written to before.")
    reporter = Reporter(quiet)
    try:
        results = run_lesson(loaded, seed, LocalExecutor(workers, "fast", handout), trace, step, reporter, trace_actor,
                             replications)
    except KeyboardInterrupt:
        reporter.close()
        interrupted("the lesson keeps nothing between runs; run it again (a single --step is quicker).")
    finally:
        reporter.close()
    spec = loaded.spec.lesson
    out.print(f"[bold]{escape(spec.title)}[/] ({spec.level}); goals: {escape('; '.join(spec.goals))}")
    shown = results if step is None else results[-1:]
    for result in shown:
        previous = next((r for r in results if r.index == result.index - 1), None)
        print_step(loaded, result, previous)
    if handout is not None:
        from sim.teach.handout import write_handouts  # plotting loads only when a handout is asked for

        try:
            written = write_handouts(loaded, results if step is None else shown, handout)
        except KeyboardInterrupt:
            interrupted("handouts are written whole or not at all; run the same command again.")
        for path in written:
            err.print(f"wrote {path}")
        out.print(f"handout: {handout / 'students.html'} (teacher: {handout / 'teacher.html'})")


def print_step(lesson: LoadedLesson, result: StepResult, previous: StepResult | None) -> None:
    """Print a step: narrative, facts, trace, key figures beside the previous step's, answers."""
    out.rule(f"Step {result.index + 1}: {result.step.title}")
    out.print(escape(result.step.narrative.strip()))
    facts = lesson.facts
    for fact_id in result.step.facts:
        fact = facts[fact_id]
        out.print(f"  [dim]{fact.date.isoformat() if fact.date else 'undated'}: {escape(fact.text)} "
                  f"({escape(fact.citation())})[/]")
    if result.trace:
        out.print("\n[bold]What happens first[/] (replication 0, in the local time of whoever acts):")
        for line in narrate(result.loaded.config, result.trace):
            out.print(f"  {escape(line)}")
    table = Table(title="Key figures (mean ± 95% CI)", title_justify="left")
    table.add_column("figure")
    if previous is not None:
        table.add_column(f"step {previous.index + 1}: {previous.step.title}", justify="right")
    table.add_column(f"step {result.index + 1}: {result.step.title}", justify="right")
    mine = estimates(result.result)
    theirs = estimates(previous.result) if previous is not None else {}
    for metric, label, kind in KEY_FIGURES:
        cells = [fmt_estimate(theirs[metric], kind)] if previous is not None else []
        table.add_row(label, *cells, fmt_estimate(mine[metric], kind))
    out.print(table)
    out.print("[bold]Questions[/]")
    for number, item in enumerate(result.answers, start=1):
        out.print(f"  Q{number}. {escape(item.question.text)}\n      [green]Answer:[/] {escape(item.text)}")
