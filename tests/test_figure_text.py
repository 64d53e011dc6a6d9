"""Every figure the report writes reads at a glance: no two texts overlap and no text leaves the figure.

The texts checked are the ones actually drawn (the renderer's own calls are recorded, so a tick label
outside the view, which matplotlib keeps but does not draw, is not counted), with the extent matplotlib
gives each (`Text.get_window_extent`). The figures are those the report pages of a comparison of every
shipped arrangement, a two-factor sweep, an attribution and an exploration write.
"""

from __future__ import annotations

import itertools
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.text import Text
from matplotlib.transforms import Bbox

#: Pixels two boxes may share, or a box may pass the edge by, before they count (antialiasing, rounding).
TOLERANCE = 1.0


def drawn_texts(figure: Figure) -> list[tuple[Text, Bbox]]:
    """Draw the figure and return every non-empty text the renderer drew, with its extent in pixels."""
    canvas = FigureCanvasAgg(figure)
    renderer = canvas.get_renderer()
    drawn: list[Text] = []
    original = renderer.draw_text

    def record(gc: Any, x: float, y: float, s: str, prop: Any, angle: float, ismath: Any = False,
               mtext: Text | None = None) -> None:
        if mtext is not None and s.strip():
            drawn.append(mtext)
        original(gc, x, y, s, prop, angle, ismath=ismath, mtext=mtext)

    renderer.draw_text = record  # type: ignore[method-assign]
    figure.draw(renderer)
    unique = list(dict.fromkeys(drawn))
    return [(text, text.get_window_extent(renderer)) for text in unique]


def text_problems(figure: Figure) -> list[str]:
    """Return each pair of drawn texts that overlap and each text that leaves the figure, in words."""
    texts = drawn_texts(figure)
    width, height = figure.bbox.width, figure.bbox.height
    problems = [f"outside the figure: {text.get_text()!r} at {box.bounds}" for text, box in texts
                if box.x0 < -TOLERANCE or box.y0 < -TOLERANCE or box.x1 > width + TOLERANCE
                or box.y1 > height + TOLERANCE]
    for (a, box_a), (b, box_b) in itertools.combinations(texts, 2):
        overlap_x = min(box_a.x1, box_b.x1) - max(box_a.x0, box_b.x0)
        overlap_y = min(box_a.y1, box_b.y1) - max(box_a.y0, box_b.y0)
        if overlap_x > TOLERANCE and overlap_y > TOLERANCE:
            problems.append(f"overlap: {a.get_text()!r} and {b.get_text()!r}")
    return problems


def test_the_check_finds_overlaps_and_text_outside() -> None:
    """The check itself: two texts at one place overlap, a text past the right edge is outside, a clean one passes."""
    figure = Figure(figsize=(4, 3))
    figure.text(0.1, 0.5, "one label")
    assert text_problems(figure) == []
    figure.text(0.1, 0.5, "another label")
    figure.text(0.95, 0.2, "runs off the edge")
    found = text_problems(figure)
    assert any(p.startswith("overlap: 'one label' and 'another label'") for p in found)
    assert any(p.startswith("outside the figure: 'runs off the edge'") for p in found)


def _residency(*args: str, cwd: Path) -> None:
    env = os.environ | {"NO_COLOR": "1"}
    done = subprocess.run([str(Path(sys.executable).parent / "residency"), *args], cwd=cwd, env=env,
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr[-3000:]


SWEEP = """
[sweep]
name = "two_factors"
title = "Stewards and review time (Oracle)"
question = "How do headcount and review time change the wait?"
arrangements = ["oracle"]
design = "grid"
replications = 2
seed = 1
outputs = ["friction.wait_hours", "residual_access.events"]

[[factors]]
path = "gatekeeper.reviewers"
values = [25, 100]

[[factors]]
path = "gatekeeper.review_hours_mean"
values = [2.0, 8.0]
"""


@pytest.fixture(scope="module")
def report_figures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Figure]:
    """Run a small comparison, sweep, attribution and exploration, build their pages, keep every figure saved."""
    from sim.report.page import build_report

    base = tmp_path_factory.mktemp("figures")
    discover = ["--discover", "oracle < joint_venture"]
    arrangements = ROOT / "configs" / "arrangements"
    # A year of every shipped arrangement: where the defects were seen (equal arrangements, many milestones, long
    # names). Three replications give every figure its intervals; the labels do not depend on how many there are.
    _residency("compare", "-r", "3", "--days", "365", "--out", "compare", "-q", cwd=base)
    (base / "sweep.toml").write_text(SWEEP, encoding="utf-8")
    _residency("sweep", "sweep.toml", "--set", "scenario.days=30", "--out", "sweep", "-q", cwd=base)
    _residency("attribute", str(arrangements / "oracle.toml"), "-r", "2", "--set", "scenario.days=30",
               "--out", "attribution", "-q", cwd=base)
    _residency("explore", str(arrangements / "status_quo.toml"), str(arrangements / "oracle.toml"),
               str(arrangements / "joint_venture.toml"), "--worlds", "16", "-r", "1", "--days", "60",
               *discover, "--out", "explore", "-q", cwd=base)
    saved: dict[str, Figure] = {}
    original = Figure.savefig

    def keep(self: Figure, fname: Any, *args: Any, **kwargs: Any) -> None:
        if isinstance(fname, (str, Path)):
            saved[f"{Path(fname).parent.parent.parent.name}/{Path(fname).stem}"] = self
        original(self, fname, *args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(Figure, "savefig", keep)
        for folder in ("compare", "sweep", "attribution", "explore"):
            build_report(base / folder)
    return saved


@pytest.mark.slow
@pytest.mark.unmeasured
def test_every_report_figure_has_no_overlapping_text_and_none_outside(report_figures: dict[str, Figure]) -> None:
    """Each figure of every kind of report page: texts apart and inside (all problems listed at once)."""
    kinds = {name.split("/")[0] for name in report_figures}
    assert kinds == {"compare", "sweep", "attribution", "explore"}, sorted(report_figures)
    found = {name: problems for name, figure in sorted(report_figures.items()) if (problems := text_problems(figure))}
    assert not found, "\n".join(f"{name}: {p}" for name, problems in found.items() for p in problems)
