"""Figures: each function takes result data and returns a matplotlib Figure.

This module and sim.report.page are the only ones that import matplotlib. Figures are built with
the object API (no pyplot state), so a notebook can restyle or reuse any of them, and importing
this module leaves matplotlib's backend alone: a Figure saves to files without pyplot's backend.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from matplotlib import dates as mdates
from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.patches import FancyBboxPatch

from sim.config.schema import CHANNELS, Config, route_gate

# Okabe-Ito: told apart by readers with the common colour-vision deficiencies.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")
FIXED_COLOURS = {"status_quo": "#555555", "oracle": "#D55E00", "microsoft": "#0072B2",
                 "google": "#009E73", "joint_venture": "#CC79A7"}
# Paul Tol's "bright" scheme for the channels, so they never clash with an arrangement.
CHANNEL_COLOURS = dict(zip(CHANNELS, ("#4477AA", "#CCBB44", "#66CCEE", "#AA3377", "#EE6677", "#228833"),
                           strict=True))
JURISDICTION_COLOURS = {"US": "#0072B2", "CN": "#D55E00", "SG": "#E69F00"}
WIDTH, HEIGHT = 9.0, 5.0


@dataclass
class Series:
    """A daily series: dates, means and interval bounds."""

    dates: list[dt.date]
    mean: list[float]
    low: list[float]
    high: list[float]


@dataclass
class Arrangement:
    """What the figures need of one arrangement's results."""

    name: str
    title: str
    metrics: dict[str, tuple[float | None, float | None, float | None]]  # mean, low, high
    replications: dict[str, list[float]] = field(default_factory=dict)
    daily: dict[str, Series] = field(default_factory=dict)
    wait_histogram: list[tuple[float, float, int]] = field(default_factory=list)
    milestones: list[tuple[dt.date, str]] = field(default_factory=list)
    config: dict[str, Any] = field(default_factory=dict)

    def mean(self, metric: str) -> float:
        """Return a metric's mean (0 where undefined)."""
        value = self.metrics.get(metric, (None, None, None))[0]
        return 0.0 if value is None else float(value)

    def interval(self, metric: str) -> tuple[float, float] | None:
        """Return a metric's 95% interval, if it has one."""
        _, low, high = self.metrics.get(metric, (None, None, None))
        return None if low is None or high is None else (float(low), float(high))


class HasFigureData(Protocol):
    """A result of the Python API (sim.run, sim.compare): it knows the data its figures draw."""

    def figure_data(self) -> list[Arrangement]:
        """Return one Arrangement per scenario."""
        ...


Drawable = Sequence[Arrangement] | Sequence[HasFigureData] | HasFigureData


def as_arrangements(data: Drawable) -> list[Arrangement]:
    """Return figure data from Arrangements, API results (`sim.run`, `sim.compare`) or a list of them."""
    if not isinstance(data, Sequence):
        return data.figure_data()
    out: list[Arrangement] = []
    for item in data:
        out += [item] if isinstance(item, Arrangement) else item.figure_data()
    return out


def day_number(when: dt.date) -> float:
    """Return matplotlib's number for a date (days since its epoch), for date axes."""
    return float(mdates.date2num(when))  # type: ignore[no-untyped-call]


def colours(names: Sequence[str]) -> dict[str, str]:
    """Return one colour per arrangement: fixed for the shipped ones, then Okabe-Ito in order."""
    spare = [c for c in OKABE_ITO if c not in FIXED_COLOURS.values()]
    out: dict[str, str] = {}
    for name in names:
        out[name] = FIXED_COLOURS.get(name) or spare[len([n for n in out if n not in FIXED_COLOURS]) % len(spare)]
    return out


def new_figure(title: str, caption: str, rows: int = 1, cols: int = 1, height: float = HEIGHT) -> tuple[Figure, Any]:
    """Return a figure with a title, a caption line, and its axes."""
    figure = Figure(figsize=(WIDTH, height), layout="constrained")
    axes = figure.subplots(rows, cols, squeeze=False)
    figure.suptitle(title, fontsize=13, fontweight="bold")
    figure.text(0.995, 0.002, caption, ha="right", va="bottom", fontsize=7, color="#555555")
    # Keep the bottom strip free for the caption line.
    figure.get_layout_engine().set(rect=(0.0, 0.03, 1.0, 0.97))  # type: ignore[union-attr,call-arg]
    return figure, axes


def _style(ax: Axes) -> None:
    ax.spines[["top", "right"]].set_visible(False)
    ax.grid(axis="y", color="#dddddd", linewidth=0.6)
    ax.set_axisbelow(True)


def residual_by_channel(arrangements: Drawable, caption: str = "") -> Figure:
    """Stack each arrangement's yearly residual accesses by channel, with 95% whiskers on the total."""
    arrangements = as_arrangements(arrangements)
    figure, axes = new_figure("Residual cross-border access to protected data, by channel", caption)
    ax: Axes = axes[0][0]
    names = [a.name for a in arrangements]
    bottoms = [0.0] * len(arrangements)
    for channel in CHANNELS:
        heights = [a.mean(f"residual_access.by_channel.{channel}.events") for a in arrangements]
        ax.bar(names, heights, bottom=bottoms, color=CHANNEL_COLOURS[channel], label=channel.replace("_", " "),
               edgecolor="white", linewidth=0.5, gid=f"channel:{channel}")
        bottoms = [b + h for b, h in zip(bottoms, heights, strict=True)]
    totals = [a.mean("residual_access.events") for a in arrangements]
    low = [t - (a.interval("residual_access.events") or (t, t))[0] for a, t in zip(arrangements, totals, strict=True)]
    high = [(a.interval("residual_access.events") or (t, t))[1] - t for a, t in zip(arrangements, totals, strict=True)]
    ax.errorbar(names, totals, yerr=[low, high], fmt="none", ecolor="black", capsize=6, linewidth=1.2,
                gid="total-ci")
    for label, colour in zip(ax.get_xticklabels(), colours(names).values(), strict=True):
        label.set_color(colour)
        label.set_fontweight("bold")
    ax.set_ylabel("protected-data accesses from abroad per year")
    ax.set_xlabel("arrangement")
    ax.legend(title="channel", frameon=False, fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0))
    _style(ax)
    return figure


def rolling_mean(values: Sequence[float], window: int = 7) -> list[float]:
    """Return the trailing moving average (shorter at the start), to smooth the working week."""
    out, total = [], 0.0
    for i, value in enumerate(values):
        total += value
        if i >= window:
            total -= values[i - window]
        out.append(total / min(i + 1, window))
    return out


def milestone_key(arrangements: Sequence[Arrangement]) -> list[tuple[dt.date, str, list[str]]]:
    """Return the distinct milestones (date, label) with the arrangements that share them, by date."""
    merged: dict[tuple[dt.date, str], list[str]] = {}
    for a in arrangements:
        for when, label in a.milestones:
            merged.setdefault((when, label), []).append(a.name)
    return [(when, label, names) for (when, label), names in sorted(merged.items())]


def daily_timeline(arrangements: Drawable, caption: str = "") -> Figure:
    """Plot daily residual access and protected records at rest abroad, with milestones marked."""
    arrangements = as_arrangements(arrangements)
    figure, axes = new_figure("Residual access and protected records abroad over the calendar", caption,
                              rows=2, height=8.5)
    top: Axes = axes[0][0]
    bottom: Axes = axes[1][0]
    palette = colours([a.name for a in arrangements])
    for a in arrangements:
        dashed = a.name == "status_quo"
        for ax, column, scale, smooth in ((top, "residual_events", 1.0, True),
                                          (bottom, "protected_records_abroad", 1e6, False)):
            series = a.daily.get(column)
            if series is None:
                continue
            days = [day_number(d) for d in series.dates]
            prepare = rolling_mean if smooth else list
            ax.plot(days, [v / scale for v in prepare(series.mean)], color=palette[a.name], linewidth=1.6,
                    linestyle="--" if dashed else "-", label=a.name, gid=f"{column}:{a.name}")
            # Counts cannot be negative: clip the interval's lower edge at zero.
            ax.fill_between(days, [max(0.0, v / scale) for v in prepare(series.low)],
                            [v / scale for v in prepare(series.high)],
                            color=palette[a.name], alpha=0.18, linewidth=0)
    by_date: dict[dt.date, list[tuple[str, list[str]]]] = {}
    for when, label, names in milestone_key(arrangements):
        by_date.setdefault(when, []).append((label, names))
    lines = []
    for number, (when, events) in enumerate(sorted(by_date.items()), start=1):
        day = day_number(when)
        owners = {name for _, names in events for name in names}
        colour = palette[next(iter(owners))] if len(owners) == 1 else "#555555"
        for ax in (top, bottom):
            ax.axvline(day, color=colour, linestyle=":", linewidth=1.0, gid=f"milestone:{when.isoformat()}")
        top.annotate(str(number), xy=(day, 1.0), xycoords=("data", "axes fraction"), fontsize=8, ha="center",
                     va="bottom", color=colour, fontweight="bold")
        lines.append(f"{number}. {when.isoformat()}: " + "; ".join(f"{', '.join(names)} {label}"
                                                                   for label, names in events))
    for ax in (top, bottom):
        ax.xaxis_date()
    top.set_ylabel("residual accesses per day\n(7-day average)")
    bottom.set_ylabel("protected records abroad\n(millions)")
    bottom.set_xlabel("date")
    top.legend(frameon=False, fontsize=8, ncol=5, loc="upper center", bbox_to_anchor=(0.5, -0.08))
    for ax in (top, bottom):
        _style(ax)
    note = "bands: 95% interval across replications; dotted lines: milestones"
    if lines:
        bottom.text(0.0, -0.2, "\n".join(lines), transform=bottom.transAxes, fontsize=7, va="top",
                    gid="milestone-key")
        note += " (numbered in the key below)"
    figure.text(0.005, 0.002, note, fontsize=7, color="#555555")
    return figure


def pareto_front(points: Sequence[tuple[float, float]]) -> list[tuple[float, float]]:
    """Return the points no other point beats on both coordinates (lower is better), by x."""
    front: list[tuple[float, float]] = []
    for x, y in sorted(points):
        if not front or y < front[-1][1]:
            front.append((x, y))
    return front


def friction_vs_residual(arrangements: Drawable, caption: str = "",
                         sweep_points: Sequence[tuple[float, float]] = ()) -> Figure:
    """Place each arrangement by what its controls cost (time to decision) and what they leave."""
    arrangements = as_arrangements(arrangements)
    figure, axes = new_figure("What the controls cost against what they leave", caption)
    ax: Axes = axes[0][0]
    palette = colours([a.name for a in arrangements])
    x_metric, y_metric = "friction.decision_hours", "residual_access.events"
    for a in arrangements:
        x, y = a.mean(x_metric), a.mean(y_metric)
        xi, yi = a.interval(x_metric), a.interval(y_metric)
        ax.errorbar([x], [y], xerr=None if xi is None else [[x - xi[0]], [xi[1] - x]],
                    yerr=None if yi is None else [[y - yi[0]], [yi[1] - y]], fmt="o", color=palette[a.name],
                    markersize=8, capsize=4, label=a.name, gid=f"point:{a.name}")
        twins = [b.name for b in arrangements if (round(b.mean(x_metric), 6), round(b.mean(y_metric), 6))
                 == (round(x, 6), round(y, 6))]
        if twins[0] == a.name:  # one label for arrangements that land on the same spot
            ax.annotate(" = ".join(twins), (x, y), textcoords="offset points", xytext=(8, 6), fontsize=9,
                        color=palette[a.name])
    if sweep_points:
        ax.scatter([p[0] for p in sweep_points], [p[1] for p in sweep_points], s=14, color="#999999",
                   label="sweep points", gid="sweep-points")
        front = pareto_front(sweep_points)
        ax.plot([p[0] for p in front], [p[1] for p in front], color="black", linewidth=1.2, drawstyle="steps-post",
                label="Pareto front", gid="pareto-front")
    ax.set_xlabel("mean time from request to decision (hours)")
    ax.set_ylabel("residual accesses per year")
    ax.legend(frameon=False, fontsize=8)
    _style(ax)
    return figure


def ecdf_from_histogram(bins: Sequence[tuple[float, float, int]]) -> tuple[list[float], list[float]]:
    """Return the steps of an empirical CDF from histogram bins (upper edge, cumulative share)."""
    total = sum(count for _, _, count in bins)
    xs, ys, running = [], [], 0
    for _, high, count in sorted(bins):
        running += count
        xs.append(high)
        ys.append(running / total if total else 0.0)
    return xs, ys


def wait_ecdf(arrangements: Drawable, caption: str = "") -> Figure:
    """Plot the empirical CDF of gatekeeper waits per arrangement, with each p95 marked."""
    arrangements = as_arrangements(arrangements)
    figure, axes = new_figure("How long requests wait for the gatekeeper", caption)
    ax: Axes = axes[0][0]
    palette = colours([a.name for a in arrangements])
    shown = 0
    for a in arrangements:
        if not a.wait_histogram:
            continue
        xs, ys = ecdf_from_histogram(a.wait_histogram)
        ax.step(xs, ys, where="post", color=palette[a.name], linewidth=1.5, label=a.name, gid=f"ecdf:{a.name}")
        p95 = a.mean("friction.wait_hours_p95")
        ax.axvline(p95, color=palette[a.name], linestyle="--", linewidth=0.9, gid=f"p95:{a.name}")
        ax.annotate(f"p95 {p95:.1f} h", (p95, 0.95), textcoords="offset points", xytext=(4, -12 - 10 * shown),
                    fontsize=8, color=palette[a.name])
        shown += 1
    ax.axhline(0.95, color="#999999", linewidth=0.6)
    ax.set_xscale("symlog", linthresh=0.1)
    ax.set_xlim(left=0.0)
    ax.set_xlabel("wait in the gatekeeper's queue before review (hours, log scale above 0.1)")
    ax.set_ylabel("share of reviewed requests waiting at most this long")
    ax.set_ylim(0, 1.02)
    if shown:
        ax.legend(frameon=False, fontsize=8, loc="lower right")
    else:
        ax.text(0.5, 0.5, "no arrangement here uses a stewardship gate", transform=ax.transAxes, ha="center")
    _style(ax)
    return figure


def exceedance_points(values: Sequence[float]) -> tuple[list[float], list[float]]:
    """Return (x, P(X > x)) at each observed value, sorted ascending."""
    ordered = sorted(values)
    n = len(ordered)
    return ordered, [sum(v > x for v in ordered) / n for x in ordered]


def exceedance(arrangements: Drawable, caption: str = "",
               metric: str = "residual_access.events") -> Figure:
    """Plot P(yearly residual accesses > x) across replications, per arrangement."""
    arrangements = as_arrangements(arrangements)
    figure, axes = new_figure("How likely a year exceeds a given number of residual accesses", caption)
    ax: Axes = axes[0][0]
    palette = colours([a.name for a in arrangements])
    positive = False
    for a in arrangements:
        values = a.replications.get(metric, [])
        if not values:
            continue
        xs, ps = exceedance_points(values)
        positive = positive or any(x > 0 for x in xs)
        ax.step(xs, ps, where="post", color=palette[a.name], linewidth=1.5, marker="o", markersize=3,
                label=a.name, gid=f"exceedance:{a.name}")
    if positive:
        ax.set_xscale("symlog", linthresh=1.0)
    ax.set_xlabel("residual accesses in a year (log scale above 1)")
    ax.set_ylabel("P(X > x) across replications")
    ax.set_ylim(-0.02, 1.02)
    ax.legend(frameon=False, fontsize=8)
    _style(ax)
    return figure


def sweep_line(records: Sequence[dict[str, Any]], factor: str, output: str, caption: str) -> Figure:
    """Plot an output against one factor's values with its 95% interval band, per arrangement."""
    figure, axes = new_figure(f"{output} against {factor.rsplit('.', 1)[-1]}", caption)
    ax: Axes = axes[0][0]
    arrangements = sorted({r["arrangement"] for r in records})
    palette = colours(arrangements)
    for name in arrangements:
        rows = sorted((r for r in records if r["arrangement"] == name), key=lambda r: r[factor])
        xs = [r[factor] for r in rows]
        ax.plot(xs, [r[f"{output}.mean"] for r in rows], marker="o", color=palette[name], label=name,
                gid=f"line:{name}")
        low = [r[f"{output}.ci95_low"] if r[f"{output}.ci95_low"] is not None else r[f"{output}.mean"] for r in rows]
        high = [r[f"{output}.ci95_high"] if r[f"{output}.ci95_high"] is not None else r[f"{output}.mean"]
                for r in rows]
        ax.fill_between(xs, low, high, color=palette[name], alpha=0.2, linewidth=0)
    ax.set_xlabel(factor)
    ax.set_ylabel(f"{output} (mean, 95% band)")
    ax.legend(frameon=False, fontsize=8)
    _style(ax)
    return figure


def sweep_heatmap(records: Sequence[dict[str, Any]], factors: tuple[str, str], output: str, caption: str) -> Figure:
    """Show an output's mean over a two-factor grid as a heatmap with the values written in."""
    fx, fy = factors
    xs = sorted({r[fx] for r in records})
    ys = sorted({r[fy] for r in records})
    grid = [[math.nan] * len(xs) for _ in ys]
    for r in records:
        grid[ys.index(r[fy])][xs.index(r[fx])] = r[f"{output}.mean"]
    figure, axes = new_figure(f"{output} over {fx.rsplit('.', 1)[-1]} and {fy.rsplit('.', 1)[-1]}", caption)
    ax: Axes = axes[0][0]
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap="viridis", gid="heatmap")
    for j, row in enumerate(grid):
        for i, value in enumerate(row):
            if not math.isnan(value):
                ax.text(i, j, f"{value:,.3g}", ha="center", va="center", fontsize=8,
                        color="white" if value < (max(max(r) for r in grid) + min(min(r) for r in grid)) / 2
                        else "black")
    ax.set_xticks(range(len(xs)), [f"{x:g}" if isinstance(x, float) else str(x) for x in xs])
    ax.set_yticks(range(len(ys)), [f"{y:g}" if isinstance(y, float) else str(y) for y in ys])
    ax.set_xlabel(fx)
    ax.set_ylabel(fy)
    figure.colorbar(image, ax=ax, label=f"{output} (mean)")
    return figure


def sensitivity_bars(rows: Sequence[tuple[str, str, str, str, str, float, float | None]], output: str,
                     caption: str, arrangement: str = "") -> Figure:
    """Plot Sobol (S1, ST) or Morris (mu*, sigma) indices of one output as bars with intervals.

    `rows` are (method, arrangement, output, factor, measure, value, conf) as the store keeps them.
    """
    mine = [(m, o, f, k, v, c) for m, a, o, f, k, v, c in rows
            if o == output and (not arrangement or a == arrangement)]
    method = mine[0][0] if mine else "sobol"
    measures = ["S1", "ST"] if method == "sobol" else ["mu_star", "sigma"]
    factors = sorted({r[2] for r in mine})
    where = f" on {arrangement}" if arrangement else ""
    figure, axes = new_figure(f"{method.capitalize()} sensitivity of {output}{where}", caption)
    ax: Axes = axes[0][0]
    width = 0.38
    for k, measure in enumerate(measures):
        values = [next((r[4] for r in mine if r[2] == f and r[3] == measure), 0.0) for f in factors]
        confs = [next((r[5] for r in mine if r[2] == f and r[3] == measure), None) or 0.0 for f in factors]
        positions = [i + (k - 0.5) * width for i in range(len(factors))]
        ax.barh(positions, values, height=width, xerr=confs, capsize=3, color=OKABE_ITO[k], label=measure,
                gid=f"index:{measure}")
    ax.set_yticks(range(len(factors)), [f.rsplit(".", 2)[-2] + "." + f.rsplit(".", 1)[-1] if f.count(".") > 1
                                        else f for f in factors])
    ax.set_xlabel("index (share of output variance)" if method == "sobol" else "elementary effect (output units)")
    ax.legend(frameon=False, fontsize=8)
    _style(ax)
    return figure


def attribution_waterfall(base: float, contributions: Sequence[tuple[str, float, float, float]],
                          all_off: float, caption: str, metric: str = "residual access") -> Figure:
    """Walk from the as-configured value up to the all-controls-off value, one control at a time.

    `contributions` holds (control, prevented, interval low, interval high) for each control.
    """
    figure, axes = new_figure(f"What each control prevents: {metric} with it switched off", caption)
    ax: Axes = axes[0][0]
    labels = ["as configured", *[c[0].replace("_", " ") for c in contributions], "overlap", "all off"]
    level = base
    ax.bar(0, base, color="#555555", gid="bar:as configured")
    for i, (_name, prevented, low, high) in enumerate(contributions, start=1):
        ax.bar(i, prevented, bottom=level, color="#0072B2" if prevented >= 0 else "#D55E00",
               gid=f"bar:{_name}")
        ax.errorbar(i, level + prevented, yerr=[[prevented - low], [high - prevented]], fmt="none",
                    ecolor="black", capsize=4)
        level += prevented
    ax.bar(len(contributions) + 1, all_off - level, bottom=level, color="#999999", gid="bar:overlap")
    ax.bar(len(contributions) + 2, all_off, color="#000000", gid="bar:all off")
    ax.set_xticks(range(len(labels)), labels, rotation=30, ha="right")
    ax.set_ylabel(f"{metric} per year")
    _style(ax)
    return figure


def dataflow_map(config: Config, leaks: dict[str, float], caption: str, title: str) -> Figure:
    """Draw actor groups, sites and the routes to protected data, coloured by jurisdiction.

    Routes whose channel leaked (residual accesses > 0) are drawn red and thick.
    """
    figure, axes = new_figure(f"Where the data is and who can reach it: {title}", caption, height=5.5)
    ax: Axes = axes[0][0]
    ax.set_axis_off()
    actors = list(config.actors)
    sites = list(config.sites)
    pos: dict[str, tuple[float, float]] = {}
    for i, name in enumerate(actors):
        pos[f"actor:{name}"] = (0.15, 1 - (i + 1) / (len(actors) + 1))
    for i, name in enumerate(sites):
        pos[f"site:{name}"] = (0.8, 1 - (i + 1) / (len(sites) + 1))
    allowed = set(config.policy.allowed_rest)
    readers = set(config.policy.allowed_read)
    counted = config.policy.counted_classes[0]
    for actor in actors:
        for site in sites:
            gate = route_gate(config.routes, actor, site, counted)
            if gate == "blocked":
                continue
            x0, y0 = pos[f"actor:{actor}"]
            x1, y1 = pos[f"site:{site}"]
            abroad = config.sites[site].jurisdiction not in allowed
            foreign = config.actors[actor].location not in readers
            leaking = foreign and (
                (abroad and leaks.get("legacy_or_backup_abroad", 0) > 0)
                or (not abroad and gate == "steward" and any(leaks.get(c, 0) > 0 for c in
                    ("approved_in_error", "emergency_path", "parent_override")))
                or (not abroad and gate in ("parent", "none") and leaks.get("approved_by_policy", 0) > 0))
            style = {"none": "-", "parent": "--", "steward": ":"}[gate]
            ax.annotate("", xy=(x1 - 0.08, y1), xytext=(x0 + 0.08, y0),
                        arrowprops={"arrowstyle": "-|>", "linestyle": style, "linewidth": 2.6 if leaking else 1.0,
                                    "color": "#CC0000" if leaking else "#777777"}, gid=f"route:{actor}:{site}")
            ax.text((x0 + x1) / 2, (y0 + y1) / 2, f"{gate}" + (" (leaks)" if leaking else ""), fontsize=7,
                    ha="center", va="bottom", color="#CC0000" if leaking else "#555555")
    for key, (x, y) in pos.items():
        kind, name = key.split(":", 1)
        if kind == "actor":
            place, held = config.actors[name].location, ""
        else:
            place = config.sites[name].jurisdiction
            held = f"\n{counted}: {config.sites[name].holdings.get(counted, 0.0):.0%} at start"
        ax.add_patch(FancyBboxPatch((x - 0.08, y - 0.06), 0.16, 0.12, boxstyle="round,pad=0.01",
                                    facecolor=JURISDICTION_COLOURS.get(place, "#999999"), alpha=0.85,
                                    gid=f"node:{key}"))
        ax.text(x, y, f"{name}\n({place}){held}", ha="center", va="center", fontsize=8, color="white",
                fontweight="bold")
    if leaks.get("covert", 0) > 0:
        ax.text(0.5, 0.02, f"covert channel: {leaks['covert']:.0f} accesses per year bypass every route",
                ha="center", fontsize=8, color="#CC0000")
    ax.text(0.5, 0.97, "arrows: routes to protected data (solid none, dashed parent's approval, dotted steward "
            "gate); box colour: jurisdiction", ha="center", fontsize=7.5, color="#555555")
    return figure
