"""The design front figure: residual access against yearly cost, waiting as colour, the shipped arrangements beside."""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure

from sim.metrics.units import metric_label, span
from sim.report.style import MUTED, count_axis, needs_log, new_figure, note, tidy

COST = "cost.yearly_usd"


def front_figure(doc: dict[str, Any], caption: str) -> Figure:
    """Show every candidate's first objective against its yearly cost, the front joined and coloured."""
    objectives = [name for name in doc["sense"] if name != COST]
    first = objectives[0]
    shade = objectives[1] if len(objectives) > 1 else None
    figure, axes = new_figure(f"Terms for {doc['display']}: {metric_label(first)} against what the terms cost",
                              caption, height=5.6)
    ax: Axes = axes[0][0]
    front = doc["front"]
    ax.scatter([c["objectives"][COST] / 1e6 for c in doc["candidates"]],
               [c["objectives"][first] for c in doc["candidates"]], s=14, color="#c8c8c8", label="other candidates",
               gid="candidates", zorder=2)
    xs = [p["objectives"][COST]["value"] / 1e6 for p in front]
    ys = [p["objectives"][first]["value"] for p in front]
    stairs = _cheapest_steps(xs, ys)
    ax.step([x for x, _ in stairs], [y for _, y in stairs], where="post", color=MUTED, linewidth=0.9, zorder=3,
            label="least residual for the money")
    if shade is not None:
        marks = ax.scatter(xs, ys, c=[p["objectives"][shade]["value"] for p in front], cmap="viridis_r", s=46,
                           edgecolors="black", linewidths=0.5, zorder=4, gid="front", label="front")
        bar = figure.colorbar(marks, ax=ax, pad=0.01)
        bar.set_label(f"{metric_label(shade)} ({doc['quantile']:.0%} quantile across worlds)")
    else:
        ax.scatter(xs, ys, color="#0072B2", s=46, zorder=4, gid="front", label="front")
    for point, x, y in zip(front, xs, ys, strict=True):
        ax.annotate(str(point["number"]), (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7, color=MUTED)
    values = [*ys, *[c["objectives"][first] for c in doc["candidates"]]]
    _references(ax, doc, first, values)
    log = needs_log(values)
    count_axis(ax, "y", log)
    ax.set_xlabel("yearly cost of the terms, $M (one-off costs spread over "
                  f"{doc['amortise_years']:g} years; the lever file's cost model)")
    ax.set_ylabel(f"{metric_label(first)} in {span(doc['days'])}\n({doc['quantile']:.0%} quantile across "
                  f"{doc['worlds']} worlds)")
    ax.legend(loc="best", fontsize=8, frameon=False)  # clear of the points and the level lines
    tidy(ax, "both")
    note(figure, "Each dot is one set of terms run in every world under the same seeds; ringed dots are the front (no "
                 "other terms beat them on every objective); the steps join the least residual for the money. "
                 "Dashed lines: shipped arrangements on the same worlds.")
    return figure


def _cheapest_steps(xs: list[float], ys: list[float]) -> list[tuple[float, float]]:
    """Return the front points that no cheaper point beats on residual alone, cheapest first."""
    steps: list[tuple[float, float]] = []
    for x, y in sorted(zip(xs, ys, strict=True)):
        if not steps or y < steps[-1][1]:
            steps.append((x, y))
    return steps


def _references(ax: Axes, doc: dict[str, Any], metric: str, values: list[float]) -> None:
    """Draw the shipped terms as a point and every reference arrangement as a labelled level."""
    reference = doc["reference"]
    for name, entry in reference["arrangements"].items():
        level = entry["objectives"][metric]["value"]
        values.append(level)
        colour = entry.get("colour") or MUTED
        if name == reference["name"] and entry.get("cost"):
            ax.scatter([entry["cost"]["total_yearly"] / 1e6], [level], marker="*", s=180, color=colour,
                       edgecolors="black", linewidths=0.6, zorder=5, gid=f"reference:{name}",
                       label=f"{entry['display']} as shipped")
            continue
        ax.axhline(level, color=colour, linestyle="--", linewidth=1.2, gid=f"reference:{name}")
        ax.annotate(entry["display"], (0.0, level), xycoords=("axes fraction", "data"), textcoords="offset points",
                    xytext=(4, 3), fontsize=8, color=colour)
    target = doc.get("target")
    if target and target["metric"] == metric and target.get("value") is not None:
        ax.axhline(target["value"], color="#D55E00", linestyle=":", linewidth=1.0, gid="target")
        ax.annotate(f"target {target['text']}", (1.0, target["value"]), xycoords=("axes fraction", "data"),
                    textcoords="offset points", xytext=(-4, -3), ha="right", va="top", fontsize=8, color="#D55E00")
