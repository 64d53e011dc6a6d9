"""Figures of an exploration: each function takes explore.json's data and returns a matplotlib Figure."""

from __future__ import annotations

import math
import re
import textwrap
from collections.abc import Sequence
from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sim.metrics.units import factor_label, kind_of, metric_label, span
from sim.report.experiment_figures import Vocabulary
from sim.report.style import OKABE_ITO, count_axis, needs_log, new_figure
from sim.report.style import tidy as _style


def _over(metric: str, days: int | None) -> str:
    """Return " in 3 years" for a count (a total over the run), else nothing."""
    return f" in {span(days)}" if days is not None and kind_of(metric) == "count" else ""


def distributions(values: dict[str, Sequence[float | None]], order: Sequence[str], metric: str,
                  caption: str, words: Vocabulary, days: int | None = None) -> Figure:
    """Show each arrangement's metric across worlds: a box over the 5-95% band and every world as a dot."""
    label = metric_label(metric)
    figure, axes = new_figure(f"{label[:1].upper()}{label[1:]} across plausible worlds", caption)
    ax: Axes = axes[0][0]
    palette = words.palette(order)
    log = needs_log(v for name in order for v in values[name])
    for row, name in enumerate(order):
        known = sorted(float(v) for v in values[name] if v is not None and math.isfinite(v) and (v > 0 or not log))
        if not known:
            continue
        ax.boxplot([known], positions=[row], orientation="horizontal", whis=(5, 95), widths=0.5, showfliers=False,
                   medianprops={"color": "black"}, boxprops={"color": palette[name]})
        jitter = [row + 0.18 * math.sin(i * 2.399) for i in range(len(known))]
        ax.scatter(known, jitter, s=9, color=palette[name], alpha=0.6, gid=f"worlds:{name}")
    ax.set_yticks(range(len(order)), [words.name(n) for n in order])
    scale = ", log scale" if log else ""
    ax.set_xlabel(f"{label}{_over(metric, days)} (mean over replications, one dot per world; whiskers 5-95%{scale})")
    if log:
        ax.set_xscale("log")
    ax.invert_yaxis()
    _style(ax)
    return figure


def win_matrix(pairwise: dict[str, dict[str, Any]], order: Sequence[str], caption: str,
               words: Vocabulary) -> Figure:
    """Show P(row leaves less than column) for every pair, as a heatmap with the shares written in."""
    size = len(order)
    grid = [[math.nan if a == b else pairwise[a][b]["p_less"]["mean"] or 0.0 for b in order] for a in order]
    figure, axes = new_figure("Probability that the row leaves less than the column", caption)
    ax: Axes = axes[0][0]
    image = ax.imshow(grid, cmap="RdBu", vmin=0.0, vmax=1.0, gid="win-matrix")
    for i in range(size):
        for j in range(size):
            if i != j:
                value = grid[i][j]
                ax.text(j, i, f"{value:.0%}", ha="center", va="center", fontsize=9,
                        color="white" if abs(value - 0.5) > 0.3 else "black")
    ax.set_xticks(range(size), [textwrap.fill(words.name(n), 14) for n in order], fontsize=9)  # level, wrapped
    ax.set_yticks(range(size), [words.name(n) for n in order])
    figure.colorbar(image, ax=ax, label="share of worlds")
    return figure


def regret_bars(regret: dict[str, dict[str, float | None]], order: Sequence[str], metric: str,
                caption: str, words: Vocabulary, days: int | None = None) -> Figure:
    """Plot each arrangement's maximum and 90th-percentile regret across worlds."""
    figure, axes = new_figure(f"Regret on {metric_label(metric)}: the gap to each world's best arrangement", caption)
    ax: Axes = axes[0][0]
    width = 0.38
    for k, measure in enumerate(("max", "p90")):
        heights = [regret[name][measure] or 0.0 for name in order]
        ax.barh([i + (k - 0.5) * width for i in range(len(order))], heights, height=width, color=OKABE_ITO[k],
                label="maximum" if measure == "max" else "90th percentile", gid=f"regret:{measure}")
    ax.set_yticks(range(len(order)), [words.name(n) for n in order])
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric_label(metric)}{_over(metric, days)} above the best arrangement of the same world")
    ax.legend(frameon=False, fontsize=8)
    _style(ax)
    return figure


_PHRASE = re.compile(r"^where (\S+) leaves (.+?) (\S+) \((\S+)\)$")


def phrase(found: dict[str, Any], words: Vocabulary | None = None) -> str:
    """Return a discovery question in words for people: display names and the metric's label, not ids and paths."""
    match = _PHRASE.match(str(found["phrase"]))
    if match is None or words is None:
        return str(found["phrase"])
    left, relation, right, metric = match.groups()
    return f"where {words.name(left)} leaves {relation} {words.name(right)} ({metric_label(metric)})"


def prim_tradeoff(found: dict[str, Any], caption: str, words: Vocabulary | None = None) -> Figure:
    """Plot PRIM's peeling trajectory (coverage against density), the chosen box marked."""
    figure, axes = new_figure(f"PRIM: {phrase(found, words)}", caption)
    ax: Axes = axes[0][0]
    for k, box in enumerate(found["boxes"]):
        points = box["trajectory"]
        ax.plot([p["coverage"] for p in points], [p["density"] for p in points], marker="o", markersize=3,
                color=OKABE_ITO[k], label=f"box {k + 1}", gid=f"trajectory:{k + 1}")
        ax.scatter([box["coverage"]], [box["density"]], s=90, facecolors="none", edgecolors="black",
                   linewidths=1.5, zorder=3, gid=f"chosen:{k + 1}")
    ax.set_xlabel("coverage (share of the worlds of interest inside the box)")
    ax.set_ylabel("density (share of the box's worlds that are of interest)")
    ax.set_xlim(0, 1.02)
    ax.set_ylim(0, 1.02)
    ax.legend(frameon=False, fontsize=8)
    _style(ax)
    return figure


def prim_box(found: dict[str, Any], parameters: dict[str, Sequence[Any]], holds: Sequence[bool],
             caption: str, words: Vocabulary | None = None) -> Figure:
    """Scatter the worlds over the box's two strongest parameters, coloured by the question, the box drawn.

    A categorical parameter (a gate, a key holder) gets one lane per alternative.
    """
    box = found["boxes"][0]
    numeric = [k for k in parameters if not isinstance(parameters[k][0], str)]
    ranked = [*box["limits"], *box.get("weak_limits", {}), *numeric]
    keys = [k for k in dict.fromkeys(ranked) if k in parameters][:2]
    figure, axes = new_figure(f"PRIM box: {phrase(found, words)}", caption)
    ax: Axes = axes[0][0]
    if len(keys) == 1:
        keys = keys * 2
    if keys:
        limits = {**box.get("weak_limits", {}), **box["limits"]}
        (x, (x0, x1)), (y, (y0, y1)) = (_lane(parameters[key], limits.get(key)) for key in keys)
        for flag, colour, label in ((True, "#D55E00", "question holds"), (False, "#999999", "does not")):
            chosen = [i for i, h in enumerate(holds) if bool(h) == flag]
            ax.scatter([x[i] for i in chosen], [y[i] for i in chosen], s=14, color=colour, label=label,
                       gid=f"worlds:{flag}")
        ax.add_patch(Rectangle((x0, y0), x1 - x0, y1 - y0, fill=False, edgecolor="black", linewidth=1.5,
                               linestyle="--", gid="box"))
        for axis, key in (("x", keys[0]), ("y", keys[1])):
            if isinstance(parameters[key][0], str):
                categories = sorted({str(v) for v in parameters[key]})
                (ax.xaxis if axis == "x" else ax.yaxis).set_ticks(range(len(categories)), categories)
            else:  # plain numbers with separators, never a 1e7 offset above the axis
                count_axis(ax, axis, False)
        ax.set_xlabel(parameter_label(keys[0], words or Vocabulary()))
        ax.set_ylabel(parameter_label(keys[1], words or Vocabulary()))
        ax.legend(frameon=False, fontsize=8)
    _style(ax)
    return figure


def _lane(column: Sequence[Any], limit: Any) -> tuple[list[float], tuple[float, float]]:
    """Return each world's coordinate on an axis and the box's span on it (categories get lanes)."""
    if not isinstance(column[0], str):
        values = [float(v) for v in column]
        return values, ((float(limit[0]), float(limit[1])) if limit else (min(values), max(values)))
    categories = sorted({str(v) for v in column})
    places = [categories.index(str(v)) + 0.25 * math.sin(i * 2.399) for i, v in enumerate(column)]
    inside = [categories.index(c) for c in (limit or categories) if c in categories] or [0]
    return places, (min(inside) - 0.4, max(inside) + 0.4)


def ranges_matched(before: dict[str, list[float]], after: dict[str, list[float]], caption: str,
                   words: Vocabulary | None = None) -> Figure:
    """Show each parameter's sampled range before history matching and what the record leaves of it."""
    keys = sorted(before)
    figure, axes = new_figure("Parameter ranges before and after history matching", caption,
                              height=max(3.0, 0.35 * len(keys) + 1.5))
    ax: Axes = axes[0][0]
    for i, key in enumerate(keys):
        low, high = before[key]
        span = (high - low) or 1.0
        ax.barh(i, 1.0, left=0.0, height=0.6, color="#dddddd", gid=f"before:{key}")
        if key in after:
            a, b = after[key]
            ax.barh(i, (b - a) / span, left=(a - low) / span, height=0.6, color="#0072B2", gid=f"after:{key}")
    ax.set_yticks(range(len(keys)), [parameter_label(k, words or Vocabulary()) for k in keys])
    ax.set_xlim(0, 1)
    ax.set_xlabel("position within the sampled range (grey); kept by the public record (blue)")
    ax.invert_yaxis()
    _style(ax)
    return figure


def parameter_label(key: str, words: Vocabulary) -> str:
    """Return a sampled parameter's name for people: its path in words, and the arrangement it belongs to."""
    owner, _, path = key.rpartition(":")
    label = factor_label(path, words.titles)
    return f"{label} ({words.name(owner)})" if owner else label


def value_of_information(section: dict[str, Any], metric: str, caption: str, words: Vocabulary,
                         days: int | None = None, most: int = 12) -> Figure:
    """Rank the unknowns by what resolving them would save the candidates' choice (EVPPI), groups apart.

    Bars are EVPPI with their standard error (pale: within two standard errors of zero, not resolved);
    the dashed line is the EVPI, the most any knowledge saves.
    """
    rows = [(f"group: {name}", entry["evppi"], entry["se"], True, entry.get("resolved", True))
            for name, entry in section["groups"].items()]
    rows += [(parameter_label(key, words), entry["evppi"], entry["se"], False, entry.get("resolved", True))
             for key, entry in list(section["parameters"].items())[:most]]
    rows.sort(key=lambda row: -row[1])
    figure, axes = new_figure("What to find out first: the expected value of knowing each unknown", caption,
                              height=max(3.0, 0.32 * len(rows) + 1.6))
    ax: Axes = axes[0][0]
    for i, (label, value, se, group, resolved) in enumerate(rows):
        ax.barh(i, value, xerr=se, height=0.6, color=OKABE_ITO[1] if group else OKABE_ITO[4], ecolor="#555555",
                capsize=2, alpha=1.0 if resolved else 0.35, gid=f"evppi:{label}")
    ax.axvline(float(section["evpi"]), color="black", linestyle="--", linewidth=1, gid="evpi")
    ax.set_yticks(range(len(rows)), [row[0] for row in rows], fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(f"{metric_label(metric)}{_over(metric, days)} saved by knowing it\n"
                  "(EVPPI ± standard error; pale: within two standard errors of zero)")
    ax.text(float(section["evpi"]), -0.9, f" EVPI {section['evpi']:,.0f}: knowing everything", fontsize=8,
            va="bottom", gid="evpi-label")
    ax.ticklabel_format(axis="x", style="plain", useOffset=False)
    ax.set_xlim(left=0.0)
    _style(ax)
    return figure


def minimum_implausibility(profile: dict[str, Any], cutoff: float, caption: str, words: Vocabulary,
                           most: int = 12) -> Figure:
    """Plot, per parameter, the smallest implausibility of the worlds in each slice of its range.

    Where a curve rises above the cut-off, the record allows no world in that slice.
    """
    ranked = sorted(profile, key=lambda k: -max((v for v in profile[k]["minimum"] if v is not None), default=0.0))
    keys = ranked[:most]
    figure, axes = new_figure("Minimum implausibility across each parameter's range", caption)
    ax: Axes = axes[0][0]
    for k, key in enumerate(keys):
        points = [((i + 0.5) / len(profile[key]["minimum"]), v) for i, v in enumerate(profile[key]["minimum"])
                  if v is not None]
        ax.plot([p[0] for p in points], [min(p[1], 10.0) for p in points], marker="o", markersize=3,
                color=OKABE_ITO[k % len(OKABE_ITO)], label=parameter_label(key, words), gid=f"minimum:{key}")
    ax.axhline(cutoff, color="black", linestyle="--", linewidth=1, gid="cutoff")
    ax.set_xlabel("position within the parameter's sampled range (0 = lowest, 1 = highest)")
    ax.set_ylabel(f"smallest implausibility of the worlds there (cut-off {cutoff:g}; shown up to 10)")
    ax.set_xlim(0, 1)
    highest = max((min(v, 10.0) for key in keys for v in profile[key]["minimum"] if v is not None), default=0.0)
    ax.set_ylim(0, max(highest, cutoff) * 2.1)  # room above the cut-off for the legend
    if keys:  # where no curve or the cut-off line is
        ax.legend(frameon=False, fontsize=7, loc="best")
    _style(ax)
    return figure
