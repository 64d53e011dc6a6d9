"""The document toolkit of every report page: figure files, tables, and the HTML and Markdown renderers."""

from __future__ import annotations

import base64
import html
import io
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import matplotlib
from matplotlib.figure import Figure

from sim.errors import InputError
from sim.metrics.units import number
from sim.results.atomic import inside, os_error
from sim.version import __version__

QUESTION = ("How much protected US user data is still read from abroad under each arrangement, through which "
            "channel, and what do the controls cost the engineers in waiting time?")
FORMATS = ("png", "svg", "pdf")
#: No dates or random ids in the files, so the same results give the same bytes.
METADATA: dict[str, dict[str, Any]] = {"png": {}, "svg": {"Date": None}, "pdf": {"CreationDate": None, "ModDate": None}}


@dataclass
class FigureFile:
    """A figure written to disk, with what it shows."""

    name: str
    caption: str
    path: Path
    embed: str  # HTML for the page: an <img> with a data URI, or inline SVG


#: A table on the page: title, header, rows.
Table = tuple[str, list[str], list[list[str]]]


@dataclass
class Report:
    """What a report page shows."""

    title: str
    kind: str
    command: str
    intro: list[str]
    tables: list[Table]
    figures: list[FigureFile] = field(default_factory=list)
    details: list[tuple[str, list[str], list[list[str]]]] = field(default_factory=list)  # collapsible tables


def read_finished(folder: Path, name: str, what: str, command: str) -> dict[str, Any]:
    """Return the JSON document `name` a finished `command` wrote into `folder`, or fail with what to do.

    `what` names the work in the message ("the design", "the exploration").
    """
    path = folder / name
    if not path.is_file():
        raise InputError(str(folder), name, f"{what} has not finished (no {name}).",
                         f"run the same `residency {command}` command again (it resumes), then report again.")
    try:
        return dict(json.loads(path.read_text(encoding="utf-8")))
    except json.JSONDecodeError as exc:
        raise InputError(str(path), None, f"the file is not valid JSON ({exc}).",
                         f"run the `residency {command}` command again to rewrite it.") from None


def save(figure: Figure, folder: Path, name: str, fmt: str, caption: str) -> FigureFile:
    """Write a figure in the chosen format and return its embeddable form."""
    path = inside(folder, f"{name}.{fmt}")
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with matplotlib.rc_context({"svg.hashsalt": "residency"}):
            figure.savefig(path, dpi=130, metadata=METADATA[fmt])
    except OSError as exc:
        raise os_error(path, exc) from None
    if fmt == "svg":
        embed = path.read_text(encoding="utf-8")
        embed = embed[embed.index("<svg"):]
    else:
        if fmt == "png":
            raw = path.read_bytes()
        else:  # the page shows a PNG even when the files are PDFs
            buffer = io.BytesIO()
            figure.savefig(buffer, format="png", dpi=130)
            raw = buffer.getvalue()
        data = base64.b64encode(raw).decode("ascii")
        embed = f'<img alt="{html.escape(caption)}" src="data:image/png;base64,{data}">'
    return FigureFile(name, caption, path, embed)


def _fmt_number(value: float | None) -> str:
    return number(value, "count")


def _fmt_interval(value: tuple[float | None, float | None, float | None] | None, signed: bool = False) -> str:
    if value is None or value[0] is None:
        return "–"
    mean, low, high = value
    text = ("+" if signed and value[0] >= 0 else "") + _fmt_number(mean)
    if low is not None and high is not None:  # the interval in the mean's unit: "1.55M [0.72M, 2.39M]"
        text += f" [{number(low, 'count', scale_of=mean)}, {number(high, 'count', scale_of=mean)}]"
    return text


def _short(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


STYLE = """
body { font-family: system-ui, -apple-system, 'Segoe UI', sans-serif; max-width: 1100px; margin: 2em auto;
       padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; } h2 { font-size: 1.2em; margin-top: 2em; border-bottom: 1px solid #ddd; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 0.3em 0.6em; text-align: right; vertical-align: top; }
td { white-space: nowrap; } td.text { white-space: normal; min-width: 12em; }
td .ci { display: block; color: #555; font-size: 0.9em; }
.table-wrap { overflow-x: auto; } p.findings { font-size: 1.08em; border-left: 4px solid #444; padding-left: 0.8em; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
figure { margin: 1.5em 0; } figure img, figure svg { max-width: 100%; height: auto; }
figcaption { font-size: 0.85em; color: #555; }
code, pre { background: #f6f6f6; padding: 0.2em 0.4em; border-radius: 3px; }
.kind-assumption { color: #a04000; font-weight: bold; }
details { margin: 0.6em 0; } summary { cursor: pointer; font-weight: bold; }
"""


def _html_table(title: str, header: list[str], rows: list[list[str]], table_id: str = "") -> str:
    head = "".join(f"<th>{html.escape(h)}</th>" for h in header)
    body = []
    for row in rows:
        cells = []
        for i, cell in enumerate(row):
            cls = f' class="kind-{cell}"' if header[i] == "kind" else (' class="text"' if len(cell) > 40 else "")
            cells.append(f"<td{cls}>{_cell(cell)}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    ident = f' id="{table_id}"' if table_id else ""
    return (f"<div class='table-wrap'><table{ident} aria-label='{html.escape(title)}'><thead><tr>{head}</tr>"
            f"</thead><tbody>{''.join(body)}</tbody></table></div>")


def _cell(text: str) -> str:
    """Return a cell's HTML: an interval goes on its own line under the mean, never split inside a number."""
    mean, bracket, interval = text.partition(" [")
    if not bracket or not interval.endswith("]"):
        return html.escape(text)
    return f"{html.escape(mean)}<span class='ci'>[{html.escape(interval)}</span>"


def render_html(report: Report) -> str:
    """Return the self-contained HTML page (images embedded; nothing loaded from the network)."""
    parts = [f"<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'><title>{html.escape(report.title)}</title>"
             f"<style>{STYLE}</style></head><body>", f"<h1>{html.escape(report.title)}</h1>"]
    parts += [f"<p{' class=findings' if i == 0 and report.kind == 'compare' else ''}>{html.escape(p)}</p>"
              for i, p in enumerate(report.intro) if p]
    for i, (title, header, rows) in enumerate(report.tables):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        parts.append(_html_table(title, header, rows, "headline" if i == 0 else f"table-{i}"))
    parts.append("<h2>Figures</h2>")
    for figure in report.figures:
        parts.append(f"<figure id='{figure.name}'>{figure.embed}<figcaption>{html.escape(figure.caption)} "
                     f"(<code>figures/{figure.path.name}</code>)</figcaption></figure>")
    if report.details:
        parts.append("<h2>Assumptions: every parameter, its value and its source</h2>"
                     "<p>Facts cite seeds/facts.toml; <span class='kind-assumption'>assumption</span> marks a value "
                     "with no public source, with the reason given in its config.</p>")
        for title, header, rows in report.details:
            parts.append(f"<details><summary>{html.escape(title)} ({len(rows)} parameters, "
                         f"{sum(r[2] == 'assumption' for r in rows)} assumptions)</summary>"
                         f"{_html_table(title, header, rows)}</details>")
    parts.append(f"<h2>Reproduce</h2><pre>{html.escape(report.command)}</pre><p>Same seed, same config and the same "
                 f"version give the same numbers, byte for byte. Report made by residency {__version__}.</p>")
    parts.append("</body></html>\n")
    return "\n".join(parts)


def _md_table(header: list[str], rows: list[list[str]]) -> str:
    def cell(text: str) -> str:
        return text.replace("|", "\\|")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(report: Report, out: Path) -> str:
    """Return the report as Markdown for pasting into documents (figures linked as files)."""
    parts = [f"# {report.title}", *report.intro]
    for title, header, rows in report.tables:
        parts += [f"## {title}", _md_table(header, rows)]
    parts.append("## Figures")
    for figure in report.figures:
        parts.append(f"![{figure.caption}]({figure.path.relative_to(out).as_posix()})\n\n*{figure.caption}*")
    if report.details:
        parts.append("## Assumptions: every parameter, its value and its source")
        for title, header, rows in report.details:
            parts += [f"### {title}", _md_table(header, rows)]
    parts += ["## Reproduce", f"```\n{report.command}\n```"]
    return "\n\n".join(parts) + "\n"
