"""The report page is self-contained and renders in a real headless Chromium without errors."""

from __future__ import annotations

import base64
import html
import json
import re
import shutil
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from conftest import SMALL_COMPARE

from sim.report.page import build_report
from sim.report.style import count

CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
                 "--disable-sync", "--no-first-run"]
EXTERNAL = re.compile(r"""\b(?:src|href)\s*=\s*["']?\s*(?:https?:)?//""", re.IGNORECASE)
MD_IMAGE = re.compile(r"!\[[^\]]*\]\(([^)\s]+)\)")
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


def headline_names(page: str) -> list[str]:
    """Return the first cell of each body row of the page's #headline table."""
    table = re.search(r'<table id="headline"[^>]*>.*?</table>', page, re.DOTALL)
    assert table is not None, "the page has no #headline table"
    body = re.search(r"<tbody>(.*?)</tbody>", table.group(0), re.DOTALL)
    assert body is not None
    return re.findall(r"<tr><td>([^<]*)</td>", body.group(1))


def display_names(folder: Path, names: list[str] | tuple[str, ...]) -> list[str]:
    """Return the display names of a comparison's arrangements, as their resolved configs give them."""
    out = []
    for name in names:
        resolved = json.loads((folder / name / "resolved_config.json").read_text(encoding="utf-8"))
        out.append(resolved["config"]["scenario"]["display"] or name)
    return out


def png_size(data: bytes) -> tuple[int, int]:
    """Return a PNG's (width, height) from its header."""
    assert data[:8] == PNG_SIGNATURE, "not a PNG"
    width, height = struct.unpack(">II", data[16:24])
    return int(width), int(height)


# -- without a browser ------------------------------------------------------------------------
@pytest.fixture(scope="module")
def png_report(small_compare: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the page of the small comparison's report with PNG figures."""
    return build_report(small_compare, tmp_path_factory.mktemp("png_report"), "png")


@pytest.fixture(scope="module")
def svg_report(small_compare: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the page of the small comparison's report with SVG figures."""
    return build_report(small_compare, tmp_path_factory.mktemp("svg_report"), "svg")


@pytest.mark.slow
def test_page_is_self_contained(png_report: Path) -> None:
    """Nothing on the page points at the network: every image is a data: URI that decodes to a PNG."""
    page = png_report.read_text(encoding="utf-8")
    assert not EXTERNAL.findall(page)
    assert "<script" not in page and "<link" not in page and "@import" not in page
    sources = re.findall(r'<img [^>]*src="([^"]+)"', page)
    figures = sorted((png_report.parent / "figures").glob("*.png"))
    assert len(sources) == len(figures) > 0
    for source in sources:
        assert source.startswith("data:image/png;base64,")
        width, height = png_size(base64.b64decode(source.split(",", 1)[1]))
        assert width > 0 and height > 0


@pytest.mark.slow
def test_headline_table_has_one_row_per_arrangement(png_report: Path, small_compare: Path) -> None:
    """The #headline table lists each compared arrangement once, in the manifest's order."""
    manifest = json.loads((small_compare / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["arrangements"] == list(SMALL_COMPARE)
    assert headline_names(png_report.read_text(encoding="utf-8")) == display_names(small_compare, SMALL_COMPARE)


@pytest.mark.slow
def test_page_opens_with_findings_written_from_the_results(png_report: Path, small_compare: Path) -> None:
    """The first paragraph names the arrangement that leaves least, its mean and interval, and the baseline gap."""
    page = png_report.read_text(encoding="utf-8")
    first = re.search(r"<h1>.*?</h1>\s*<p([^>]*)>(.*?)</p>", page, re.DOTALL)
    assert first is not None and "findings" in first.group(1)
    text = html.unescape(first.group(2))
    means = {name: json.loads((small_compare / name / "summary.json").read_text(encoding="utf-8"))
             ["residual_access"]["events"] for name in SMALL_COMPARE}
    best = min(SMALL_COMPARE, key=lambda n: means[n]["mean"])
    label = display_names(small_compare, [best])[0]
    assert text.startswith(f"{label} leaves the least residual cross-border access")
    low, high = means[best]["ci95"]
    # counts are totals over the run, and the prose says over how long (150 days here, not "a year")
    assert f"{count(means[best]['mean'])} accesses in 150 days (95% CI {count(low)} to {count(high)})" in text
    assert "fewer in 150 days than Status quo (paired difference, 95% CI" in text
    assert "a year" not in text
    assert "rests on assumptions" in text
    assert not re.search(r"\b[a-z]+_[a-z_]+\b", text)  # no ids in the prose


@pytest.mark.slow
def test_tables_have_one_title_and_numbers_do_not_wrap(png_report: Path) -> None:
    """Each table's title is its heading only (no repeated caption), and cells keep intervals on one line."""
    page = png_report.read_text(encoding="utf-8")
    assert "<caption>" not in page
    assert page.count("Headline: totals in 150 days, hours per request (mean [95% CI])") == 2  # heading, aria-label
    assert "td { white-space: nowrap; }" in page


@pytest.mark.slow
def test_markdown_links_the_figure_files(png_report: Path, small_compare: Path) -> None:
    """report.md exists beside the page and links exactly the figure files that were written."""
    markdown = (png_report.parent / "report.md").read_text(encoding="utf-8")
    linked = MD_IMAGE.findall(markdown)
    assert linked
    assert all((png_report.parent / path).is_file() for path in linked)
    written = sorted(p.relative_to(png_report.parent).as_posix() for p in (png_report.parent / "figures").iterdir())
    assert sorted(linked) == written
    for label in display_names(small_compare, SMALL_COMPARE):
        assert f"| {label} |" in markdown


@pytest.mark.slow
def test_svg_report_embeds_inline_svg(svg_report: Path) -> None:
    """With --format svg every figure is inline SVG on the page, and still nothing is fetched."""
    page = svg_report.read_text(encoding="utf-8")
    figures = sorted((svg_report.parent / "figures").glob("*.svg"))
    assert len(figures) > 0
    assert page.count("<svg") == len(figures)
    assert "<img" not in page and "<?xml" not in page and "<!DOCTYPE svg" not in page
    assert not EXTERNAL.findall(page)
    linked = MD_IMAGE.findall((svg_report.parent / "report.md").read_text(encoding="utf-8"))
    assert sorted(linked) == sorted(p.relative_to(svg_report.parent).as_posix() for p in figures)


# -- in Chromium ------------------------------------------------------------------------------
@dataclass
class Visit:
    """What a page did in the browser."""

    errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    images: list[dict[str, Any]] = field(default_factory=list)
    svgs: list[dict[str, Any]] = field(default_factory=list)
    headline: list[str] = field(default_factory=list)


@pytest.fixture(scope="module")
def chromium() -> str:
    """Return Debian's Chromium, or skip: the machine is prepared by `.ci/run`, never by a test."""
    found = shutil.which("chromium") or next((p for p in ("/usr/bin/chromium",) if Path(p).is_file()), None)
    if found is None:
        pytest.skip("chromium is not installed: run `.ci/run` as root, or `apt-get install chromium`")
    return found


@pytest.fixture(scope="module")
def browser(chromium: str) -> Iterator[Any]:
    """Return a headless Chromium driven by Playwright."""
    sync_api = pytest.importorskip("playwright.sync_api")
    with sync_api.sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=CHROMIUM_ARGS)
        yield launched
        launched.close()


def visit(browser: Any, page_path: Path, screenshot: Path) -> Visit:
    """Open a page from disk, wait for it to load, inspect it and take a full-page screenshot."""
    seen = Visit()
    page = browser.new_page()
    page.on("console", lambda message: seen.errors.append(message.text) if message.type == "error" else None)
    page.on("pageerror", lambda error: seen.errors.append(str(error)))
    page.on("request", lambda request: seen.requests.append(request.url))
    page.goto(page_path.as_uri(), wait_until="load")
    seen.images = page.evaluate(
        "Array.from(document.images, i => ({complete: i.complete, width: i.naturalWidth, height: i.naturalHeight}))")
    seen.svgs = page.evaluate(
        "Array.from(document.querySelectorAll('figure > svg'), s => {const r = s.getBoundingClientRect();"
        " return {width: r.width, height: r.height, shapes: s.querySelectorAll('path, use, text').length}; })")
    seen.headline = page.evaluate(
        "Array.from(document.querySelectorAll('#headline tbody tr'), r => r.cells[0].textContent)")
    page.screenshot(path=str(screenshot), full_page=True)
    page.close()
    return seen


@pytest.mark.slow
def test_png_page_renders_in_chromium(browser: Any, png_report: Path, small_compare: Path, tmp_path: Path) -> None:
    """Every image loads, one headline row per arrangement, no network, a screenshot, and no console errors."""
    manifest = json.loads((small_compare / "manifest.json").read_text(encoding="utf-8"))
    shot = tmp_path / "page.png"
    seen = visit(browser, png_report, shot)
    figures = sorted((png_report.parent / "figures").glob("*.png"))
    assert len(seen.images) == len(figures) > 0
    assert all(i["complete"] and i["width"] > 0 and i["height"] > 0 for i in seen.images), seen.images
    assert manifest["arrangements"] == list(SMALL_COMPARE)
    assert seen.headline == display_names(small_compare, SMALL_COMPARE)
    assert seen.requests and all(url.startswith(("file:", "data:")) for url in seen.requests), seen.requests
    assert shot.is_file() and shot.stat().st_size > 0
    width, height = png_size(shot.read_bytes())
    assert width > 0 and height > width  # the whole long page, not just the first screen
    assert seen.errors == []


@pytest.mark.slow
def test_svg_page_renders_in_chromium(browser: Any, svg_report: Path, small_compare: Path, tmp_path: Path) -> None:
    """An SVG report's inline figures all lay out and draw, with no requests and no console errors."""
    shot = tmp_path / "svg_page.png"
    seen = visit(browser, svg_report, shot)
    figures = sorted((svg_report.parent / "figures").glob("*.svg"))
    assert seen.images == []
    assert len(seen.svgs) == len(figures) > 0
    assert all(s["width"] > 0 and s["height"] > 0 and s["shapes"] > 0 for s in seen.svgs), seen.svgs
    assert seen.headline == display_names(small_compare, SMALL_COMPARE)
    assert all(url.startswith(("file:", "data:")) for url in seen.requests), seen.requests
    assert png_size(shot.read_bytes())[1] > 0
    assert seen.errors == []


def test_page_shows_residual_access_year_by_year() -> None:
    """A run spanning several calendar years gets a table with one column per year; a single year gets none."""
    from sim.report.figures import Arrangement
    from sim.report.page import by_year_table

    metrics = {"residual_access.events": (30.0, 28.0, 32.0),
               "by_year.2022.residual_access.events": (10.0, 9.0, 11.0),
               "by_year.2023.residual_access.events": (20.0, 18.0, 22.0)}
    header, rows = by_year_table([Arrangement("oracle", "t", metrics, display="Oracle")])
    assert header == ["arrangement", "2022", "2023"]
    assert rows[0][0] == "Oracle" and rows[0][1].startswith("10") and rows[0][2].startswith("20")
    one_year = {k: v for k, v in metrics.items() if "2023" not in k}
    assert by_year_table([Arrangement("oracle", "t", one_year)]) == ([], [])
