"""The figure style of the product: one colour language per kind of thing, scales, number formats.

Arrangements take their colours from their configs (`scenario.colour`); channels, jurisdictions and
gates each have a palette of their own, chosen so that none reuses or resembles an arrangement colour.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Iterable, Sequence
from typing import Any, Literal

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.text import Annotation, Text
from matplotlib.ticker import FuncFormatter, NullFormatter
from matplotlib.transforms import Bbox

from sim.config.schema import CHANNELS

# Okabe-Ito: told apart by readers with the common colour-vision deficiencies. Arrangements
# without a configured colour take the first of these that no other arrangement uses.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
# From Paul Tol's palettes, each at least 55 RGB units from every Okabe-Ito colour and the status-quo grey.
CHANNEL_COLOURS = dict(zip(CHANNELS, ("#332288", "#EE8866", "#CCBB44", "#882255", "#999933", "#661100"),
                           strict=True))
# Pale fills for places (in the order the config's `places` table names them), so dark text on them
# stays readable; places beyond the palette share the neutral fill.
PLACE_COLOURS = ("#BBCCEE", "#FFCCCC", "#EEEEBB", "#CCEEFF")
OTHER_PLACE = "#DDDDDD"
GATE_COLOURS = {"none": "#44AA99", "parent": "#AA4499", "steward": "#117733", "key_release": "#5566AA",
                 "blocked": "#BBBBBB"}
LEAK_COLOUR = "#EE3377"
INK, MUTED = "#222222", "#666666"
WIDTH, HEIGHT = 9.8, 5.5  # inches; saved at 130 dpi, 1,274 px wide: one slide
LOG_SPAN = 100.0  # positive values spanning more than this ratio get a log scale


def arrangement_colours(names: Sequence[str], given: dict[str, str] | None = None) -> dict[str, str]:
    """Return one colour per arrangement: its configured colour, else an Okabe-Ito colour nobody uses."""
    given = {k: v for k, v in (given or {}).items() if v}
    taken = {v.upper() for v in given.values()}
    spare = [c for c in OKABE_ITO if c.upper() not in taken]
    out: dict[str, str] = {}
    for name in names:
        if name in given:
            out[name] = given[name]
        else:
            out[name] = spare[len([n for n in out if n not in given]) % len(spare)]
    return out


def place_colours(codes: Sequence[str]) -> dict[str, str]:
    """Return a fill per place code, in the order given (the config's `places` first)."""
    return {code: PLACE_COLOURS[i] if i < len(PLACE_COLOURS) else OTHER_PLACE for i, code in enumerate(codes)}


def count(value: float) -> str:
    """Format a count for a label: thousands separators, one decimal below ten."""
    if value != 0 and abs(value) < 1:
        return f"{value:.2g}"
    if value != 0 and abs(value) < 10:
        return f"{value:,.1f}"
    return f"{value:,.0f}"


def needs_log(values: Iterable[float | None]) -> bool:
    """Return True when the positive values span more than two orders of magnitude."""
    positive = [v for v in values if v is not None and not math.isnan(v) and v > 0]
    return bool(positive) and max(positive) / min(positive) > LOG_SPAN


def count_axis(ax: Axes, axis: str, log: bool) -> None:
    """Give an axis thousands separators, on a log scale if asked."""
    target = ax.yaxis if axis == "y" else ax.xaxis
    if log:
        (ax.set_yscale if axis == "y" else ax.set_xscale)("log")
        target.set_minor_formatter(NullFormatter())
    target.set_major_formatter(FuncFormatter(lambda v, _: count(v)))


class ShownFigure(Figure):
    """A Figure that a notebook shows as a picture as soon as a cell returns it, without `%matplotlib inline`.

    The product's figures are built without pyplot (no global state, no GUI backend), and a
    bare Figure has no picture form of its own: Jupyter would print `<Figure size ...>`.
    """

    def _repr_png_(self) -> bytes:
        buffer = io.BytesIO()
        self.savefig(buffer, format="png", dpi=100)
        return buffer.getvalue()


def new_figure(title: str, caption: str, rows: int = 1, cols: int = 1, height: float = HEIGHT,
               width: float = WIDTH) -> tuple[Figure, list[list[Axes]]]:
    """Return a figure with a title, a caption line, and its axes."""
    figure = ShownFigure(figsize=(width, height), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False)
    figure.suptitle(textwrap.fill(title, 80), fontsize=14, fontweight="bold")
    figure.text(0.995, 0.002, caption, ha="right", va="bottom", fontsize=8, color=MUTED)
    # Keep the bottom strip free for the note line (above) and the caption line (below).
    strip = 30 / (height * 72)
    figure.get_layout_engine().set(rect=(0.0, strip, 1.0, 1.0 - strip))  # type: ignore[union-attr,call-arg]
    return figure, [list(row) for row in axes]


def note(figure: Figure, text: str) -> None:
    """Write a note line at the bottom left of a figure (what the marks mean, caveats)."""
    height = figure.get_figheight()
    figure.text(0.005, 14 / (height * 72), text, fontsize=8, color=MUTED, ha="left", va="bottom", gid="note",
                wrap=True)


def tidy(ax: Axes, grid: Literal["both", "x", "y"] = "y") -> None:
    """Drop the top and right frame and put a light grid behind the data."""
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis=grid, color="#e4e4e4", linewidth=0.6)
    ax.set_axisbelow(True)
    ax.tick_params(labelsize=10)


#: Where a point's label may go, in points from the point, in order of preference.
LABEL_SPOTS: tuple[tuple[tuple[float, float], Literal["left", "right"]], ...] = (
    ((10, 8), "left"), ((10, -18), "left"), ((-10, 8), "right"), ((-10, -18), "right"), ((10, 22), "left"),
    ((10, -32), "left"), ((-10, 22), "right"), ((-10, -32), "right"))


#: Pixels around a labelled point that its marker may cover.
MARKER_REACH = 10.0


def labels_apart(figure: Figure, labels: Sequence[Annotation]) -> None:
    """Move each point label to the first spot where it overlaps no label placed before it.

    Two points with nearly equal results had their names written one over the other.
    """
    for label in labels:  # the layout must not move with the labels, or the extents below go stale
        label.set_in_layout(False)
    figure.draw_without_rendering()  # settle the layout, so the extents are the drawn ones
    # Every other text (a legend beside the axes, tick and axis labels) counts as placed already.
    placed: list[Any] = [text.get_window_extent() for text in figure.findobj(Text)
                         if text not in labels and text.get_visible() and text.get_text().strip()]
    # So do the labelled points' markers (a label written over another point hid it).
    for label in labels:
        if label.axes is not None:
            x, y = label.axes.transData.transform(label.xy)
            placed.append(Bbox.from_extents(x - MARKER_REACH, y - MARKER_REACH, x + MARKER_REACH, y + MARKER_REACH))
    for label in labels:
        inside = label.axes.bbox if label.axes is not None else figure.bbox
        for offset, align in LABEL_SPOTS:
            label.xyann = offset
            label.set_horizontalalignment(align)
            box = label.get_window_extent()
            if inside.x0 <= box.x0 and box.x1 <= inside.x1 and not any(box.overlaps(other) for other in placed):
                break
        else:
            label.xyann, align = LABEL_SPOTS[0]
            label.set_horizontalalignment(align)
        placed.append(label.get_window_extent())
