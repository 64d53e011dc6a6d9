"""The report: figures and one self-contained HTML page (plus Markdown) over a results folder."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from sim.errors import InputError
from sim.report.arrangement import arrangement_from_result, load_arrangement, milestones
from sim.report.attribution_page import attribution_report
from sim.report.compare_page import HEADLINE, by_year_table, compare_report, unrouted_notes
from sim.report.document import FORMATS, STYLE, FigureFile, Report, render_html, render_markdown, save
from sim.report.explore_page import explore_report
from sim.report.sweep_page import sweep_report
from sim.results.atomic import os_error, staged_folder
from sim.results.readers import read_json
from sim.results.runs import MANIFEST, MANIFEST_FORMAT
from sim.results.store import DB_NAME

# The page modules' names that other code and the tests take from here.
__all__ = ["FORMATS", "HEADLINE", "KINDS", "REPORT_FILES", "STYLE", "FigureFile", "Report", "arrangement_from_result",
           "build_report", "by_year_table", "detect_kind", "load_arrangement", "milestones", "render_html",
           "render_markdown", "save", "unrouted_notes"]

REPORT_FILES = frozenset({"report.html", "report.md", "figures"})
#: The page of each kind of results folder, in the order an error lists them.
BUILDERS: dict[str, Callable[[Path, Path, str], Report]] = {
    "compare": compare_report, "run": compare_report, "sweep": sweep_report, "attribute": attribution_report,
    "explore": explore_report}
KINDS = tuple(BUILDERS)


def build_report(folder: Path, out: Path | None = None, fmt: str = "png") -> Path:
    """Write the figures, report.html and report.md for a results folder; return the page's path."""
    if fmt not in FORMATS:
        raise InputError("--format", fmt, "the figure format must be png, svg or pdf.", "use --format png, svg or pdf.")
    out = out or folder / "report"
    kind = detect_kind(folder)
    builder = BUILDERS[kind]
    with staged_folder(out, owned=REPORT_FILES) as stage:  # a kill leaves the old page whole, or the new one
        try:
            report = builder(folder, stage, fmt)
        except (KeyError, TypeError, ValueError, IndexError, AttributeError) as exc:
            raise InputError(str(folder), None, f"the results cannot be read ({type(exc).__name__}: {exc}); a file "
                             "is damaged, edited or of another format.", "rerun the command that made the "
                             "folder (its manifest's `command`), then report again.") from None
        try:
            (stage / "report.html").write_text(render_html(report), encoding="utf-8")
            (stage / "report.md").write_text(render_markdown(report, stage), encoding="utf-8")
        except OSError as exc:
            raise os_error(out, exc) from None
    return out / "report.html"


def detect_kind(folder: Path) -> str:
    """Return what a results folder holds, or fail with what to do."""
    if not folder.is_dir():
        raise InputError(str(folder), None, "the folder does not exist.",
                         "give a folder that `residency compare`, `sweep` or `attribute` wrote (--out).")
    manifest = folder / MANIFEST
    if manifest.is_file():
        document = read_json(manifest)
        if document.get("format") != MANIFEST_FORMAT:
            raise InputError(str(manifest), "format", f"these results are of an older format "
                             f"({document.get('format')!r}; this version reads {MANIFEST_FORMAT!r}).",
                             "rerun the command that made them (the manifest's `command`), then report again.")
        kind = document.get("kind")
        if kind not in KINDS:
            raise InputError(str(manifest), "kind", f"the manifest names no kind of results this version reads "
                             f"({kind!r}; it reads {', '.join(KINDS)}).",
                             "rerun the command that made them (the manifest's `command`), then report again.")
        return str(kind)
    if (folder / DB_NAME).is_file():
        return "sweep"
    if (folder / "attribution.json").is_file():
        return "attribute"
    if any(folder.glob("*/summary.json")) or (folder / "summary.json").is_file():
        raise InputError(str(folder), MANIFEST, "there is no manifest.json: these results are incomplete (a run "
                         "was stopped while writing them) or of an older format.",
                         "rerun `residency compare --out DIR` with this version, then report again.")
    raise InputError(str(folder), None, "there are no results in this folder.",
                     "run `residency compare --out DIR` (or sweep or attribute) first, then report on DIR.")
