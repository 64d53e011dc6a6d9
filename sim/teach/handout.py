"""Handouts: a students' page (story, figures, questions) and a teacher's page (with the answers)."""

from __future__ import annotations

import html
from pathlib import Path

from sim.report import figures as plots
from sim.report.arrangement import arrangement_from_result
from sim.report.document import STYLE, FigureFile, save
from sim.results.atomic import os_error, staged_folder
from sim.teach.lesson import LoadedLesson
from sim.teach.run import StepResult
from sim.version import __version__

HANDOUT_FILES = frozenset({"students.html", "students.md", "teacher.html", "teacher.md", "figures"})


def step_label(result: StepResult) -> str:
    """Return a short label for a step in figures: its number (the page's headings give the titles)."""
    return f"Step {result.index + 1}"


def figures(lesson: LoadedLesson, results: list[StepResult], folder: Path) -> list[FigureFile]:
    """Draw the lesson's figures, one series per step."""
    steps = [arrangement_from_result(r.result, name=step_label(r)) for r in results]
    replications = ", ".join(sorted({str(len(r.result.replications)) for r in results}))
    caption = f"seed {results[0].result.seed}, {replications} replications per step, residency {__version__}"
    drawn = [
        save(plots.residual_by_channel(steps, caption), folder, "residual_by_channel", "png",
             "Residual cross-border accesses per step, stacked by channel, with 95% whiskers."),
        save(plots.daily_timeline(steps, caption), folder, "daily_timeline", "png",
             "Daily residual accesses and protected records abroad in each step."),
    ]
    if any(s.wait_histogram for s in steps):
        drawn.append(save(plots.wait_ecdf(steps, caption), folder, "wait_ecdf", "png",
                          "How long requests wait for the gatekeeper in each step, p95 marked."))
    return drawn


def write_handouts(lesson: LoadedLesson, results: list[StepResult], folder: Path) -> list[Path]:
    """Write students.html/.md and teacher.html/.md into a folder, whole or not at all; return their paths."""
    paths = []
    with staged_folder(folder, owned=HANDOUT_FILES) as stage:
        drawn = figures(lesson, results, stage / "figures")
        for audience, answers in (("students", False), ("teacher", True)):
            try:
                (stage / f"{audience}.html").write_text(render_html(lesson, results, drawn, answers), encoding="utf-8")
                (stage / f"{audience}.md").write_text(render_markdown(lesson, results, drawn, answers, stage),
                                                      encoding="utf-8")
            except OSError as exc:
                raise os_error(folder, exc) from None
            paths += [folder / f"{audience}.html", folder / f"{audience}.md"]
    return paths


def _facts(lesson: LoadedLesson, result: StepResult) -> list[str]:
    facts = lesson.facts
    out = []
    for fact_id in result.step.facts:
        fact = facts[fact_id]
        dated = fact.date.isoformat() if fact.date else "undated"
        out.append(f"{dated}: {fact.text} ({fact.citation()})")
    return out


def render_html(lesson: LoadedLesson, results: list[StepResult], drawn: list[FigureFile], answers: bool) -> str:
    """Return a self-contained page for students (questions) or the teacher (with answers)."""
    spec = lesson.spec.lesson
    who = "Teacher's page, with answers" if answers else "Students' page"
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(spec.title)}</title>"
             f"<style>{STYLE}</style></head><body><h1>{html.escape(spec.title)}</h1>",
             f"<p><em>{who}. Level: {spec.level}.</em></p>"]
    if spec.summary:
        parts.append(f"<p>{html.escape(spec.summary)}</p>")
    parts.append("<h2>Learning goals</h2><ul>" + "".join(f"<li>{html.escape(g)}</li>" for g in spec.goals) + "</ul>")
    for result in results:
        parts.append(f"<h2>Step {result.index + 1}: {html.escape(result.step.title)}</h2>")
        parts += [f"<p>{html.escape(p.strip())}</p>" for p in result.step.narrative.strip().split("\n\n")]
        facts = _facts(lesson, result)
        if facts:
            parts.append("<p><strong>From the public record:</strong></p><ul>"
                         + "".join(f"<li>{html.escape(f)}</li>" for f in facts) + "</ul>")
        parts.append("<ol class='questions'>")
        for item in result.answers:
            extra = f"<br><strong>Answer:</strong> {html.escape(item.text)}" if answers else ""
            parts.append(f"<li>{html.escape(item.question.text)}{extra}</li>")
        parts.append("</ol>")
    parts.append("<h2>Figures</h2>")
    for figure in drawn:
        parts.append(f"<figure id='{figure.name}'>{figure.embed}<figcaption>{html.escape(figure.caption)}"
                     "</figcaption></figure>")
    parts.append(f"<h2>Reproduce</h2><pre>residency teach run {html.escape(lesson.name)} --seed "
                 f"{results[0].result.seed}</pre></body></html>\n")
    return "\n".join(parts)


def render_markdown(lesson: LoadedLesson, results: list[StepResult], drawn: list[FigureFile], answers: bool,
                    folder: Path) -> str:
    """Return the page as Markdown, figures linked as files."""
    spec = lesson.spec.lesson
    parts = [f"# {spec.title}", f"*{'Teacher' if answers else 'Students'}: level {spec.level}.*"]
    if spec.summary:
        parts.append(spec.summary)
    parts.append("## Learning goals\n\n" + "\n".join(f"- {g}" for g in spec.goals))
    for result in results:
        parts.append(f"## Step {result.index + 1}: {result.step.title}")
        parts.append(result.step.narrative.strip())
        facts = _facts(lesson, result)
        if facts:
            parts.append("**From the public record:**\n\n" + "\n".join(f"- {f}" for f in facts))
        lines = []
        for number, item in enumerate(result.answers, start=1):
            lines.append(f"{number}. {item.question.text}" + (f"\n   **Answer:** {item.text}" if answers else ""))
        parts.append("\n".join(lines))
    parts.append("## Figures")
    for figure in drawn:
        parts.append(f"![{figure.caption}]({figure.path.relative_to(folder).as_posix()})")
    parts.append(f"## Reproduce\n\n```\nresidency teach run {lesson.name} --seed {results[0].result.seed}\n```")
    return "\n\n".join(parts) + "\n"
