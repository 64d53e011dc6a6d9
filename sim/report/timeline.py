"""The daily timeline of a comparison: residual access and protected records abroad, day by day, milestones marked.

Apart from `sim.report.figures` (which re-exports `daily_timeline`) for the size of one module.
"""

from __future__ import annotations

import datetime as dt
import math
import textwrap
from collections.abc import Sequence
from typing import Any

from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.report.figure_data import Arrangement, Drawable, _labels, as_arrangements, coinciding, colours, day_number
from sim.report.style import INK, MUTED, count_axis, needs_log, new_figure, note, tidy


def rolling_mean(values: Sequence[float], window: int = 7) -> list[float]:
    """Return the trailing moving average over complete windows only (NaN until the first full window)."""
    # Each window summed afresh: a running total would leave rounding residue where the counts are zero.
    return [math.fsum(values[i + 1 - window:i + 1]) / window if i + 1 >= window else math.nan
            for i in range(len(values))]


def milestone_key(arrangements: Sequence[Arrangement]) -> list[tuple[dt.date, str, list[str]]]:
    """Return the distinct milestones (date, label) with the arrangements (by name) that share them, by date."""
    merged: dict[tuple[dt.date, str], list[str]] = {}
    for a in arrangements:
        for when, label in a.milestones:
            merged.setdefault((when, label), []).append(a.name)
    return [(when, label, names) for (when, label), names in sorted(merged.items())]


TIMELINE_PANELS = (("residual_events", 1.0, True, "residual accesses per day\n(7-day mean)"),
                   ("protected_records_abroad", 1e6, False, "protected records abroad\n(millions)"))


def daily_timeline(arrangements: Drawable, caption: str = "") -> Figure:
    """Plot daily residual access and protected records at rest abroad, with milestones marked."""
    arrangements = as_arrangements(arrangements)
    figure, axes = new_figure("Residual access and protected records abroad over the run", caption,
                              rows=2, height=9.0)
    palette = colours(arrangements)
    coincide: list[str] = []
    for ax, (column, scale, smooth, ylabel) in zip((axes[0][0], axes[1][0]), TIMELINE_PANELS, strict=True):
        shown = [a for a in arrangements if column in a.daily]
        prepare = rolling_mean if smooth else list
        smoothed = [v for a in shown for v in prepare(a.daily[column].mean) if v > 0]
        log = smooth and needs_log(smoothed)

        def drawn(values: Sequence[float], s: float = scale, p: Any = prepare, lg: bool = log) -> list[float]:
            # A log axis cannot show zero: leave a gap there rather than a line plunging off the axis.
            return [math.nan if lg and not v > 0 else max(0.0, v) / s for v in p(values)]

        groups = coinciding(shown, lambda a, c=column, p=prepare: p(a.daily[c].mean))
        for a in shown:
            series = a.daily[column]
            days = [day_number(d) for d in series.dates]
            group = next((g for g in groups if a.name in g), [a.name])
            rank = group.index(a.name)
            # Equal series are drawn wide first, then narrower and dashed on top, so each stays visible.
            ax.plot(days, drawn(series.mean), color=palette[a.name], linewidth=1.8 + 2.2 * (len(group) - 1 - rank),
                    linestyle="-" if rank == 0 else (0, (4, 2)), label=a.label, gid=f"{column}:{a.name}",
                    solid_capstyle="butt")
            for bound in (series.low, series.high):  # the interval as thin lines: no mixed fills
                ax.plot(days, drawn(bound), color=palette[a.name], linewidth=0.5, alpha=0.7,
                        gid=f"band:{column}:{a.name}")
        if groups:  # said in the key below the plot: a title this long would leave the figure
            coincide.append(f"{'Top' if smooth else 'Bottom'} panel: " + "; ".join(
                f"{_labels(arrangements, g)} coincide (drawn one over the other)" for g in groups))
        if log:
            count_axis(ax, "y", True)
            ax.set_ylim(bottom=min(smoothed) / 2)
            ylabel += ", log scale"
        ax.set_ylabel(ylabel)
        ax.xaxis_date()
        # Few ticks, short labels: ISO dates every fortnight ran into one another.
        locator = mdates.AutoDateLocator(minticks=3, maxticks=7)  # type: ignore[no-untyped-call]
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))  # type: ignore[no-untyped-call]
        if shown:
            ax.set_xlim(min(day_number(a.daily[column].dates[0]) for a in shown),
                        max(day_number(a.daily[column].dates[-1]) for a in shown))
        tidy(ax)
    _milestones(figure, axes[0][0], axes[1][0], arrangements, coincide)
    axes[1][0].set_xlabel("date")
    # Beside the top panel, one entry a row: a row of many names above the plot ran off the right edge.
    axes[0][0].legend(frameon=False, fontsize=9, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    note(figure, "thin lines: 95% interval across replications; dotted verticals: milestones (numbered below); "
         "the 7-day mean starts once a full week has passed")
    return figure


#: Characters a line of the milestone key may hold before it wraps (it runs off the figure otherwise).
KEY_WIDTH = 150
#: Share of the axis width under which two milestone numbers would touch: the later is raised a row.
NUMBER_GAP = 0.025


def _milestones(figure: Figure, top: Axes, bottom: Axes, arrangements: Sequence[Arrangement],
                notes: Sequence[str] = ()) -> None:
    by_date: dict[dt.date, list[tuple[str, list[str]]]] = {}
    for when, label, names in milestone_key(arrangements):
        by_date.setdefault(when, []).append((label, names))
    lines: list[str] = []
    left, right = top.get_xlim()
    last_at: list[float] = []  # per row of numbers, the axis fraction of its last number
    for number, (when, events) in enumerate(sorted(by_date.items()), start=1):
        day = day_number(when)
        for ax in (top, bottom):
            ax.axvline(day, color=MUTED, linestyle=":", linewidth=1.0, gid=f"milestone:{when.isoformat()}")
        at = (day - left) / (right - left) if right > left else 0.0
        row = next((r for r, x in enumerate(last_at) if at - x >= NUMBER_GAP), len(last_at))
        last_at[row:row + 1] = [at]
        top.annotate(str(number), xy=(day, 1.0), xycoords=("data", "axes fraction"), fontsize=9, ha="center",
                     va="bottom", color=INK, fontweight="bold", xytext=(0, 2 + 12 * row), textcoords="offset points")
        for k, (label, names) in enumerate(events):
            head = f"{number}. {when:%d %b %Y}:" if k == 0 else " " * (len(f"{number}. {when:%d %b %Y}:") + 3)
            text = f"{head} {label} — {', '.join(_labels(arrangements, [n]) for n in names)}"
            lines += textwrap.wrap(text, KEY_WIDTH, subsequent_indent=" " * (len(head) + 5), drop_whitespace=False)
    lines += [wrapped for text in notes for wrapped in textwrap.wrap(text, KEY_WIDTH)]
    if lines:
        bottom.text(0.0, -0.16, "\n".join(lines), transform=bottom.transAxes, fontsize=8, va="top",
                    gid="milestone-key")
