"""Figures: each function takes result data and returns a matplotlib Figure.

This package is the only one that imports matplotlib. Figures are built with the object API
(no pyplot state), so a notebook can restyle or reuse any of them, and importing it leaves
matplotlib's backend alone: a Figure saves to files without pyplot's backend. Every text a figure
shows uses display names (from the configs) and words, never ids or metric paths.
"""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.text import Annotation

from sim.config.schema import CHANNEL_TITLES, CHANNELS
from sim.metrics.units import metric_label, per_span, span
from sim.report.figure_data import Arrangement as Arrangement
from sim.report.figure_data import Drawable as Drawable
from sim.report.figure_data import HasFigureData as HasFigureData
from sim.report.figure_data import Series as Series
from sim.report.figure_data import _labels
from sim.report.figure_data import as_arrangements as as_arrangements
from sim.report.figure_data import channel_events as channel_events
from sim.report.figure_data import coinciding as coinciding
from sim.report.figure_data import colours as colours
from sim.report.figure_data import day_number as day_number
from sim.report.figure_data import run_days as run_days
from sim.report.style import (
    CHANNEL_COLOURS,
    INK,
    MUTED,
    count,
    count_axis,
    labels_apart,
    needs_log,
    new_figure,
    note,
    tidy,
)
from sim.report.timeline import daily_timeline as daily_timeline
from sim.report.timeline import milestone_key as milestone_key
from sim.report.timeline import rolling_mean as rolling_mean


# -- residual by channel ------------------------------------------------------------------------
def residual_by_channel(arrangements: Drawable, caption: str = "") -> Figure:
    """Show each arrangement's residual accesses per channel side by side, with the total and its CI."""
    arrangements = as_arrangements(arrangements)
    days = run_days(arrangements)
    figure, axes = new_figure(f"Protected US data read from abroad {per_span(days).replace('per year', 'in a year')}, "
                              "by channel", caption)
    ax = axes[0][0]
    used = [c for c in CHANNELS if any(channel_events(a, c) > 0 for a in arrangements)] or list(CHANNELS[:1])
    values = [channel_events(a, c) for a in arrangements for c in used]
    totals = [a.mean("residual_access.events") for a in arrangements]
    log = needs_log([*values, *totals])
    width = 0.8 / len(used)
    for k, channel in enumerate(used):
        xs = [i - 0.4 + (k + 0.5) * width for i in range(len(arrangements))]
        heights = [channel_events(a, channel) for a in arrangements]
        ax.bar(xs, heights, width=width * 0.92, color=CHANNEL_COLOURS[channel], label=CHANNEL_TITLES[channel],
               gid=f"channel:{channel}")
        for x, h in zip(xs, heights, strict=True):
            if h > 0:
                ax.annotate(count(h), (x, h), xytext=(0, 2), textcoords="offset points", ha="center",
                            va="bottom", fontsize=8, rotation=90 if len(used) > 2 else 0, color=INK)
    for i, (a, total) in enumerate(zip(arrangements, totals, strict=True)):
        low, high = a.interval("residual_access.events") or (total, total)
        ax.hlines(total, i - 0.45, i + 0.45, color=INK, linewidth=1.6, gid=f"total:{a.name}")
        ax.errorbar([i + 0.45], [total], yerr=[[total - low], [high - total]], fmt="none", ecolor=INK,
                    capsize=4, linewidth=1.2, gid="total-ci")
        top = max([high, *(channel_events(a, c) for c in used)])
        crowded = len(arrangements) > 5  # stagger the labels so that neighbours do not overprint
        ax.annotate(f"total {count(total)}\n({count(low)} to {count(high)})", (i, top),
                    xytext=(0, (30 if len(used) > 2 else 14) + (22 if crowded and i % 2 else 0)),
                    textcoords="offset points", ha="center", va="bottom",
                    fontsize=7 if crowded else 9, fontweight="bold", color=INK, gid=f"total-label:{a.name}")
    ax.set_xticks(range(len(arrangements)),
                  [textwrap.fill(a.label, 10 if len(arrangements) > 5 else 14) for a in arrangements])
    count_axis(ax, "y", log)
    positive = [v for v in values if v > 0]
    peak = max([*positive, *totals, 1.0])
    if log:
        ax.set_ylim(min(positive) / 3 if positive else 0.1, peak * 12)
    else:
        ax.set_ylim(0, peak * 1.3)
    ax.set_ylabel(f"accesses {per_span(days)}" + (" (log scale)" if log else ""))
    ax.set_xlabel("arrangement")
    handles, names = ax.get_legend_handles_labels()
    handles.append(Line2D([], [], color=INK, linewidth=1.6))
    names.append("total, with 95% interval")
    ax.legend(handles, names, title="channel", frameon=False, fontsize=9, loc="upper left",
              bbox_to_anchor=(1.0, 1.0))
    tidy(ax)
    missing = [CHANNEL_TITLES[c] for c in CHANNELS if c not in used]
    if missing:
        note(figure, "no access at all through: " + ", ".join(missing).lower())
    return figure


# -- friction against residual ------------------------------------------------------------------
def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Return the points no other point beats on both coordinates (lower is better), by x."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(points):
        if not front or y < front[-1][1]:
            front.append((x, y))
    return front


MARKERS = ("o", "s", "D", "^", "v", "P", "X")
X_METRIC, Y_METRIC = "friction.decision_hours", "residual_access.events"


def friction_vs_residual(arrangements: Drawable, caption: str = "",
                         sweep_points: Sequence[tuple[float, float]] = (),
                         sweep_intervals: Sequence[tuple[float, float, float, float]] = (),
                         sweep_groups: Sequence[tuple[str, str]] = ()) -> Figure:
    """Place each arrangement (or sweep point) by what its controls cost and what they leave.

    `sweep_intervals` holds (x low, x high, y low, y high) of each sweep point, drawn as crosses;
    `sweep_groups` the (display name, colour) of each point's arrangement.
    """
    arrangements = as_arrangements(arrangements)
    figure, axes = new_figure("What the controls cost against what they leave", caption)
    ax = axes[0][0]
    palette = colours(arrangements)
    groups = coinciding(arrangements, lambda a: (a.mean(X_METRIC), a.mean(Y_METRIC)))
    ys = [a.mean(Y_METRIC) for a in arrangements] + [p[1] for p in sweep_points]
    labels: list[Annotation] = []
    for i, a in enumerate(arrangements):
        x, y = a.mean(X_METRIC), a.mean(Y_METRIC)
        xi, yi = a.interval(X_METRIC), a.interval(Y_METRIC)
        group = next((g for g in groups if a.name in g), [a.name])
        rank = group.index(a.name)
        ax.errorbar([x], [y], xerr=None if xi is None else [[x - xi[0]], [xi[1] - x]],
                    yerr=None if yi is None else [[y - yi[0]], [yi[1] - y]], fmt=MARKERS[i % len(MARKERS)],
                    color=palette[a.name], markersize=15 - 6 * rank, capsize=4, label=a.label,
                    markerfacecolor="white" if rank == 0 and len(group) > 1 else palette[a.name],
                    markeredgewidth=2, gid=f"point:{a.name}", zorder=3 + rank)
        if rank == 0:
            labels.append(ax.annotate(" = ".join(_labels(arrangements, [n]) for n in group), (x, y),
                                      textcoords="offset points", xytext=(10, 8),
                                      fontsize=10, color=INK, annotation_clip=False))
    if sweep_points:
        _sweep_points(ax, sweep_points, sweep_intervals, sweep_groups)
    log = needs_log(ys)
    count_axis(ax, "y", log)
    ax.set_xlabel("mean time from request to decision (hours); better to the left")
    ax.set_ylabel(f"residual accesses {per_span(run_days(arrangements))}" + (" (log scale)" if log else "")
                  + "; better lower")
    ax.margins(x=0.12, y=0.12)
    ax.legend(frameon=False, fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0), markerscale=0.6,
              labelspacing=1.1)
    tidy(ax, "both")
    marks = ["crosses: 95% intervals"] + [f"{_labels(arrangements, g)} give identical results (hollow marker "
                                          "behind filled)" for g in groups]
    note(figure, "; ".join(marks))
    labels_apart(figure, labels)
    return figure


def _sweep_points(ax: Axes, points: Sequence[tuple[float, float]],
                  intervals: Sequence[tuple[float, float, float, float]], groups: Sequence[tuple[str, str]]) -> None:
    xs, ys = [p[0] for p in points], [p[1] for p in points]
    if intervals:
        ax.errorbar(xs, ys, xerr=[[x - i[0] for x, i in zip(xs, intervals, strict=True)],
                                  [i[1] - x for x, i in zip(xs, intervals, strict=True)]],
                    yerr=[[y - i[2] for y, i in zip(ys, intervals, strict=True)],
                          [i[3] - y for y, i in zip(ys, intervals, strict=True)]],
                    fmt="none", ecolor="#aaaaaa", linewidth=0.8, capsize=2, label="95% interval of a point",
                    gid="sweep-ci")
    colours = [g[1] for g in groups] if groups else [MUTED] * len(xs)
    ax.scatter(xs, ys, s=22, c=colours, gid="sweep-points", zorder=3)
    for name, colour in dict(groups or [("sweep point", MUTED)]).items():
        ax.plot([], [], "o", color=colour, label=name)
    front = pareto_front(points)
    ax.plot([p[0] for p in front], [p[1] for p in front], color=INK, linewidth=1.2, drawstyle="steps-post",
            label="Pareto front (of the means)", gid="pareto-front")


# -- waits ------------------------------------------------------------------------------------
def ecdf_from_histogram(bins: Sequence[tuple[float, float, int]]) -> tuple[list[float], list[float]]:
    """Return the steps of an empirical CDF from histogram bins (upper edge, cumulative share)."""
    total = sum(n for _, _, n in bins)
    xs, ys, running = [], [], 0
    for _, high, n in sorted(bins):
        running += n
        xs.append(high)
        ys.append(running / total if total else 0.0)
    return xs, ys


def wait_ecdf(arrangements: Drawable, caption: str = "") -> Figure:
    """Plot the empirical CDF of gatekeeper waits per arrangement on a log axis, with each p95 marked."""
    arrangements = as_arrangements(arrangements)
    figure, axes = new_figure("How long requests wait for the gatekeeper", caption)
    ax = axes[0][0]
    palette = colours(arrangements)
    gated = [a for a in arrangements if a.wait_histogram]
    smallest = min((high for a in gated for _, high, _ in a.wait_histogram if high > 0), default=0.01)
    for a in gated:
        xs, ys = ecdf_from_histogram(a.wait_histogram)
        p95 = a.mean("friction.wait_hours_p95")
        at_once = ys[0] if xs and xs[0] == 0 else 0.0
        ax.step([max(x, smallest) for x in xs], ys, where="post", color=palette[a.name], linewidth=1.8,
                label=f"{a.label}: {at_once:.0%} not queued, 95% within {p95:,.1f} h", gid=f"ecdf:{a.name}")
        ax.plot([p95], [0.95], marker="v", markersize=9, color=palette[a.name], linestyle="none",
                gid=f"p95:{a.name}")
    ax.axhline(0.95, color=MUTED, linewidth=0.7, linestyle="--")
    ax.text(1.0, 0.95, "95% of requests ", transform=ax.get_yaxis_transform(), ha="right", va="bottom", fontsize=8,
            color=MUTED)
    count_axis(ax, "x", True)
    ax.set_xlabel("wait in the gatekeeper's queue before review (hours, log scale)")
    ax.set_ylabel("share of reviewed requests waiting at most this long")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    tidy(ax, "both")
    ungated = [a.label for a in arrangements if not a.wait_histogram]
    if gated:
        ax.legend(frameon=False, fontsize=9, loc="center left", title="▼ marks the 95th percentile")
    else:
        ax.text(0.5, 0.5, "no arrangement here uses a stewardship gate", transform=ax.transAxes, ha="center")
    if ungated:
        note(figure, f"no steward gate, so no queue: {', '.join(ungated)}")
    return figure


# -- exceedance -------------------------------------------------------------------------------
def exceedance_points(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Return (x, P(X > x)) at each observed value, sorted ascending."""
    ordered = sorted(values)
    n = len(ordered)
    return ordered, [sum(v > x for v in ordered) / n for x in ordered]


def dkw_half_width(n: int, alpha: float = 0.05) -> float:
    """Return the Dvoretzky-Kiefer-Wolfowitz band half-width: a (1-alpha) band around an empirical CDF."""
    return math.sqrt(math.log(2 / alpha) / (2 * n))


#: The widest 95% band the exceedance figure draws: a wider one (fewer than 21 replications) covers most of the
#: figure and hides the curves, so it is left out and the note says why.
BAND_WIDEST = 0.3
BAND_REPLICATIONS = math.ceil(math.log(2 / 0.05) / (2 * BAND_WIDEST**2))


def exceedance(arrangements: Drawable, caption: str = "",
               metric: str = "residual_access.events") -> Figure:
    """Plot P(residual accesses over the run > x) across replications, with a 95% confidence band."""
    arrangements = as_arrangements(arrangements)
    label = metric_label(metric)
    run = span(run_days(arrangements))
    figure, axes = new_figure(f"How likely a run of {run} exceeds a given number of {label}", caption)
    ax = axes[0][0]
    palette = colours(arrangements)
    drawn = [a for a in arrangements if a.replications.get(metric)]
    n = min((len(a.replications[metric]) for a in drawn), default=1)
    groups = coinciding(drawn, lambda a: sorted(a.replications[metric]))
    if groups:
        ax.set_title("; ".join(f"{_labels(arrangements, g)} coincide (drawn one over the other)" for g in groups),
                     loc="right", fontsize=9, color=INK, gid="coincide")
    for a in drawn:
        xs, ps = exceedance_points(a.replications[metric])
        eps = dkw_half_width(len(xs))
        # P(X > x) is 1 left of the smallest value: start the steps there.
        steps_x, steps_p = [xs[0], *xs], [1.0, *ps]
        if eps <= BAND_WIDEST:
            ax.fill_between(steps_x, [max(0.0, p - eps) for p in steps_p], [min(1.0, p + eps) for p in steps_p],
                            step="post", color=palette[a.name], alpha=0.15, linewidth=0, gid=f"band:{a.name}")
        group = next((g for g in groups if a.name in g), [a.name])
        rank = group.index(a.name)
        ax.step(xs, ps, where="post", color=palette[a.name], linewidth=1.8 + 2.2 * (len(group) - 1 - rank),
                linestyle="-" if rank == 0 else (0, (4, 2)), marker="o", markersize=3, label=a.label,
                gid=f"exceedance:{a.name}")
    log = needs_log(x for a in drawn for x in a.replications[metric])
    count_axis(ax, "x", log)
    ax.set_xlabel(f"{label} (log scale)" if log else label)
    ax.set_ylabel(f"chance that a run of {run} exceeds it")
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(frameon=False, fontsize=9, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    tidy(ax, "both")
    band = dkw_half_width(n)
    note(figure, (f"shaded: 95% confidence band (Dvoretzky-Kiefer-Wolfowitz, ±{band:.0%} with {n} replications)"
                  if band <= BAND_WIDEST else f"no confidence band: with {n} replications it would be ±{band:.0%} "
                  f"(Dvoretzky-Kiefer-Wolfowitz) and cover nearly everything; -r {BAND_REPLICATIONS} or more draws it")
         + f"; chances below 1 in {n} are not resolved")
    return figure
