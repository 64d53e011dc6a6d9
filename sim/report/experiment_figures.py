"""Figures of experiments: sweep lines and heatmaps, sensitivity indices, the attribution waterfall."""

from __future__ import annotations

import math
import textwrap
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from matplotlib.colors import Normalize
from matplotlib.figure import Figure
from matplotlib.patches import Rectangle

from sim.config.schema import display
from sim.metrics.units import factor_label, kind_of, metric_label, number
from sim.report.style import INK, MUTED, arrangement_colours, count, count_axis, needs_log, new_figure, note, tidy


@dataclass(frozen=True)
class Vocabulary:
    """Display names and colours an experiment's figures take from its arrangements' configs."""

    names: dict[str, str] = field(default_factory=dict)  # key of an arrangement, group, site or organisation
    colours: dict[str, str] = field(default_factory=dict)  # arrangement -> configured colour
    titles: dict[str, str] = field(default_factory=dict)  # actor group, site or organisation key -> its title

    def name(self, key: str) -> str:
        """Return a key's display name."""
        return self.names.get(key) or display(key)

    def palette(self, arrangements: Sequence[str]) -> dict[str, str]:
        """Return the arrangements' colours: configured ones first, free Okabe-Ito ones for the rest."""
        return arrangement_colours(arrangements, self.colours)


def _tick(value: Any) -> str:
    return f"{value:,g}" if isinstance(value, float | int) and not isinstance(value, bool) else str(value)


def _bounds(r: dict[str, Any], output: str) -> tuple[float, float]:
    mean = r[f"{output}.mean"]
    low, high = r.get(f"{output}.ci95_low"), r.get(f"{output}.ci95_high")
    return (mean if low is None else low), (mean if high is None else high)


def sweep_line(records: Sequence[dict[str, Any]], factor: str, output: str, caption: str,
               vocabulary: Vocabulary | None = None) -> Figure:
    """Plot an output against one factor's values with its 95% interval band, per arrangement."""
    words = vocabulary or Vocabulary()
    label = factor_label(factor, words.names)
    figure, axes = new_figure(f"{metric_label(output).capitalize()} against {label}", caption)
    ax = axes[0][0]
    names = sorted({r["arrangement"] for r in records})
    palette = words.palette(names)
    for name in names:
        rows = sorted((r for r in records if r["arrangement"] == name), key=lambda r: r[factor])
        xs = [r[factor] for r in rows]
        ax.plot(xs, [r[f"{output}.mean"] for r in rows], marker="o", color=palette[name], label=words.name(name),
                gid=f"line:{name}")
        bounds = [_bounds(r, output) for r in rows]
        ax.fill_between(xs, [b[0] for b in bounds], [b[1] for b in bounds], color=palette[name], alpha=0.2,
                        linewidth=0, gid=f"band:{name}")
    count_axis(ax, "y", needs_log(r[f"{output}.mean"] for r in records))
    ax.set_xlabel(label)
    ax.set_ylabel(metric_label(output))
    ax.legend(frameon=False, fontsize=9)
    tidy(ax, "both")
    note(figure, "line: mean; band: 95% interval across replications")
    return figure


def indistinguishable(grid: list[list[tuple[float, float] | None]]) -> list[tuple[int, int]]:
    """Return the cells (row, column) whose interval overlaps the interval of every neighbour."""
    out = []
    for j, row in enumerate(grid):
        for i, cell in enumerate(row):
            if cell is None:
                continue
            near = [grid[j + dj][i + di] for dj, di in ((0, 1), (0, -1), (1, 0), (-1, 0))
                    if 0 <= j + dj < len(grid) and 0 <= i + di < len(row)]
            others = [n for n in near if n is not None]
            if others and all(n[0] <= cell[1] and cell[0] <= n[1] for n in others):
                out.append((j, i))
    return out


def sweep_heatmap(records: Sequence[dict[str, Any]], factors: tuple[str, str], output: str, caption: str,
                  vocabulary: Vocabulary | None = None) -> Figure:
    """Show an output's mean over a two-factor grid, its intervals, and which cells noise cannot tell apart."""
    names = (vocabulary or Vocabulary()).names
    fx, fy = factors
    xs = sorted({r[fx] for r in records})
    ys = sorted({r[fy] for r in records})
    grid = [[math.nan] * len(xs) for _ in ys]
    intervals: list[list[tuple[float, float] | None]] = [[None] * len(xs) for _ in ys]
    for r in records:
        j, i = ys.index(r[fy]), xs.index(r[fx])
        grid[j][i] = r[f"{output}.mean"]
        intervals[j][i] = _bounds(r, output)
    title = f"{metric_label(output).capitalize()} by {factor_label(fx, names).split(': ')[-1]} and " \
            f"{factor_label(fy, names).split(': ')[-1]}"
    kind = kind_of(output)

    def shown(v: float, half: bool = False) -> str:
        return number(v, kind, scale_of=v if half else None) if kind != "count" else count(v)

    figure, axes = new_figure(title, caption)
    ax = axes[0][0]
    means = [v for row in grid for v in row if not math.isnan(v)]
    widths = [c[1] - c[0] for row in intervals for c in row if c is not None]
    # Never let the colour range be narrower than the widest interval: noise must not look like contrast.
    span = max(max(means) - min(means), max(widths, default=0.0), 1e-12)
    centre = (max(means) + min(means)) / 2
    norm = Normalize(centre - span / 2, centre + span / 2)
    image = ax.imshow(grid, origin="lower", aspect="auto", cmap="cividis", norm=norm, gid="heatmap")
    for j, row in enumerate(grid):
        for i, value in enumerate(row):
            if not math.isnan(value):
                cell = intervals[j][i]
                half = "" if cell is None else f"\n±{shown((cell[1] - cell[0]) / 2, True)}"
                ax.text(i, j, shown(value) + half, ha="center", va="center", fontsize=9,
                        color="white" if norm(value) < 0.5 else "black")
    for j, i in indistinguishable(intervals):
        ax.add_patch(Rectangle((i - 0.5, j - 0.5), 1, 1, fill=False, hatch="//", edgecolor=MUTED, linewidth=0,
                               gid=f"alike:{j}:{i}"))
    ax.set_xticks(range(len(xs)), [_tick(x) for x in xs])
    ax.set_yticks(range(len(ys)), [_tick(y) for y in ys])
    ax.set_xlabel(factor_label(fx, names))
    ax.set_ylabel(factor_label(fy, names))
    bar = figure.colorbar(image, ax=ax, label=f"{metric_label(output)} (mean)")
    bar.ax.yaxis.set_major_formatter(lambda v, _: shown(v))
    note(figure, "cell: mean ± half its 95% interval; hatched: interval overlaps every neighbour's (noise cannot "
         "tell them apart); colour range at least as wide as the widest interval")
    return figure


def sensitivity_warnings(measures: dict[str, tuple[float, float | None]], method: str,
                         samples: int | None = None) -> list[str]:
    """Return why a factor's indices are not resolved (S1 above ST, intervals across zero, few samples)."""
    found = []
    if method == "sobol":
        s1, st = measures.get("S1", (0.0, None)), measures.get("ST", (0.0, None))
        if s1[0] > st[0] + (st[1] or 0.0):
            found.append("S1 above ST")
        if any(conf is not None and value - conf < 0 < value + conf for value, conf in (s1, st)):
            found.append("interval crosses zero")
    if samples is not None and samples < 64:
        found.append(f"only {samples} samples")
    return found


def sensitivity_bars(rows: Sequence[tuple[str, str, str, str, str, float, float | None]], output: str,
                     caption: str, arrangement: str = "", samples: int | None = None,
                     vocabulary: Vocabulary | None = None) -> Figure:
    """Plot Sobol (S1, ST) or Morris (mu*, sigma) indices of one output, sorted by total effect, with warnings.

    `rows` are (method, arrangement, output, factor, measure, value, conf) as the store keeps them.
    """
    words = vocabulary or Vocabulary()
    mine = [(m, f, k, v, c) for m, a, o, f, k, v, c in rows if o == output and (not arrangement or a == arrangement)]
    method = mine[0][0] if mine else "sobol"
    measures = ["ST", "S1"] if method == "sobol" else ["mu_star", "sigma"]
    table: dict[str, dict[str, tuple[float, float | None]]] = {}
    for _, factor, measure, value, conf in mine:
        table.setdefault(factor, {})[measure] = (value, conf)
    # Largest total effect on top: barh draws position 0 at the bottom.
    factors = sorted(table, key=lambda f: table[f].get(measures[0], (0.0, None))[0])
    where = f" on {words.name(arrangement)}" if arrangement else ""
    figure, axes = new_figure(f"What drives {metric_label(output)}{where}", caption,
                              height=max(4.0, 1.6 + 0.55 * len(factors)))
    ax = axes[0][0]
    width = 0.38
    for k, measure in enumerate(measures):
        values = [table[f].get(measure, (0.0, None))[0] for f in factors]
        confs = [table[f].get(measure, (0.0, None))[1] or 0.0 for f in factors]
        positions = [i + (0.5 - k) * width for i in range(len(factors))]
        ax.barh(positions, values, height=width, xerr=confs, capsize=3, color=(INK, "#AAAAAA")[k],
                label={"ST": "ST: total effect", "S1": "S1: effect alone", "mu_star": "mu*: mean |effect|",
                       "sigma": "sigma: interaction or non-linearity"}[measure], gid=f"index:{measure}")
    warned = {f: sensitivity_warnings(table[f], method, samples) for f in factors}
    ax.set_yticks(range(len(factors)), [factor_label(f, words.names) + (" ⚠" if warned[f] else "") for f in factors])
    ax.axvline(0, color=MUTED, linewidth=0.8)
    ax.set_xlabel("index (share of output variance)" if method == "sobol" else
                  f"elementary effect ({metric_label(output)})")
    ax.legend(frameon=False, fontsize=9, loc="lower right")
    tidy(ax, "x")
    problems = sorted({w for ws in warned.values() for w in ws})
    note(figure, f"{display(method)} indices, sorted by {measures[0]}; whiskers: 95% intervals"
         + (f"; ⚠ not resolved ({', '.join(problems)}): take more samples" if problems else ""))
    return figure


def attribution_waterfall(base: float, contributions: Sequence[tuple[str, float, float, float]],
                          all_off: float, caption: str, metric: str = "residual_access.events",
                          titles: dict[str, str] | None = None, detects: Sequence[str] = ()) -> Figure:
    """Walk from the as-configured value up to the all-controls-off value, one control at a time.

    `contributions` holds (control, prevented, interval low, interval high) for each control;
    `titles` gives each control's display name; `detects` lists controls that detect rather than prevent.
    """
    label = metric_label(metric)
    figure, axes = new_figure(f"What each control prevents: {label} with it switched off", caption)
    ax = axes[0][0]
    names = titles or {}
    labels = ["as configured", *[names.get(c[0], display(c[0])) for c in contributions],
              "controls overlap", "all controls off"]
    level = base
    ax.bar(0, base, color=INK, gid="bar:as configured")
    ax.annotate(count(base), (0, base), xytext=(0, 3), textcoords="offset points", ha="center", fontsize=9)
    for i, (name, prevented, low, high) in enumerate(contributions, start=1):
        ax.bar(i, prevented, bottom=level, color="#888888" if prevented >= 0 else "white", edgecolor=INK,
               linewidth=0.8, gid=f"bar:{name}")
        ax.errorbar(i, level + prevented, yerr=[[prevented - low], [high - prevented]], fmt="none", ecolor=INK,
                    capsize=4)
        resolved = not low <= 0 <= high
        text = ("+" if prevented >= 0 else "") + count(prevented) if resolved else "no clear\nchange"
        if name in detects:
            text += "\n(detects, does\nnot prevent)"
        ax.annotate(text, (i, max(level, level + prevented, level + high)), xytext=(0, 3), textcoords="offset points",
                    ha="center", fontsize=8, va="bottom")
        level += prevented
    overlap = all_off - level
    ax.bar(len(contributions) + 1, overlap, bottom=level, color="white", edgecolor=INK, hatch="//",
           gid="bar:overlap")
    ax.annotate(("+" if overlap >= 0 else "") + count(overlap), (len(contributions) + 1, max(level, all_off)),
                xytext=(0, 3), textcoords="offset points", ha="center", fontsize=8)
    ax.bar(len(contributions) + 2, all_off, color=INK, gid="bar:all off")
    ax.annotate(count(all_off), (len(contributions) + 2, all_off), xytext=(0, 3), textcoords="offset points",
                ha="center", fontsize=9)
    # Level and wrapped: slanted names, whose boxes overlap, ran into one another.
    ax.set_xticks(range(len(labels)), [textwrap.fill(t, 13) for t in labels], fontsize=9)
    count_axis(ax, "y", False)
    ax.set_ylabel(label)
    tidy(ax)
    note(figure, "grey: rise when one control alone is off (whiskers: 95% interval); hatched: all off minus the "
         "sum of single switches, negative when controls stop the same accesses")
    return figure
