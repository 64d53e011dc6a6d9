"""The data-flow map: actor groups, sites and the routes between them, coloured by place and gate."""

from __future__ import annotations

from typing import Any

from matplotlib.axes import Axes
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import FancyArrowPatch, FancyBboxPatch, Patch

from sim.config.schema import GATE_TITLES, WILDCARD, Config, display, route_gate
from sim.metrics.units import per_span
from sim.report.style import (
    GATE_COLOURS,
    INK,
    LEAK_COLOUR,
    MUTED,
    count,
    new_figure,
    note,
    place_colours,
)

LINESTYLES: dict[str, Any] = {"none": "-", "parent": (0, (6, 3)), "steward": (0, (1, 2)),
                              "key_release": (0, (3, 1, 1, 1)), "blocked": "-"}
ACTOR_X, SITE_X, BOX_W, BOX_H = 0.13, 0.84, 0.22, 0.17
LABEL_AT = 0.72  # how far along a route its mark sits: near the site, where routes from different actors part


def routed(config: Config, actor: str, site: str, data_class: str) -> bool:
    """Return True when some route names this (actor, site, class); False when none matches at all."""
    return any(all(p in (WILDCARD, v) for p, v in ((r.actor, actor), (r.site, site), (r.data_class, data_class)))
               for r in config.routes)


def route_leaks(config: Config, actor: str, site: str, gate: str, leaks: dict[str, float]) -> float:
    """Return the residual accesses over the run through the channel this route feeds (0 when it cannot leak)."""
    if config.actors[actor].location in config.policy.allowed_read:
        return 0.0
    if config.sites[site].jurisdiction not in config.policy.allowed_rest:
        return leaks.get("legacy_or_backup_abroad", 0.0)
    if gate in ("steward", "key_release"):
        return sum(leaks.get(c, 0.0) for c in ("approved_in_error", "emergency_path", "parent_override"))
    return leaks.get("approved_by_policy", 0.0)


def _positions(names: list[str], x: float) -> dict[str, tuple[float, float]]:
    return {name: (x, 0.9 - 0.8 * (i + 0.5) / len(names)) for i, name in enumerate(names)}


def _place(config: Config, code: str) -> str:
    return config.places.get(code, code)


def _fills(config: Config) -> dict[str, str]:
    codes = [*config.places, *sorted({g.location for g in config.actors.values()}
                                     | {s.jurisdiction for s in config.sites.values()})]
    return place_colours(list(dict.fromkeys(codes)))


def dataflow_map(config: Config, leaks: dict[str, float], caption: str, title: str,
                 abroad_at_end: float | None = None) -> Figure:
    """Draw actor groups, sites and the routes to protected data, with gates, leaks and holdings.

    `leaks` holds the residual accesses over the run per channel; `abroad_at_end` the protected records
    still held abroad at the end of the run, when the results have it.
    """
    when = per_span(config.scenario.days).replace("per year", "a year")
    figure, axes = new_figure(f"Where the data is and who can reach it: {title}", caption, height=6.0)
    ax = axes[0][0]
    ax.set_axis_off()
    ax.set_xlim(0, 1)
    ax.set_ylim(0, 1)
    counted = config.policy.counted_classes[0]
    actors = _positions(list(config.actors), ACTOR_X)
    sites = _positions(list(config.sites), SITE_X)
    fills = _fills(config)
    gates_seen: set[str] = set()
    for a_index, (actor, start) in enumerate(actors.items()):
        labelled: set[tuple[str, bool]] = set()
        for site, end in sites.items():
            gate = route_gate(config.routes, actor, site, counted)
            explicit = routed(config, actor, site, counted)
            gates_seen.add(gate if explicit else "unrouted")
            leaked = route_leaks(config, actor, site, gate, leaks)
            # Routes behind one gate share its channels: their yearly count is written once, not per route.
            key = (gate, config.sites[site].jurisdiction in config.policy.allowed_rest)
            shared = sum(route_gate(config.routes, actor, s, counted) == gate
                         and (config.sites[s].jurisdiction in config.policy.allowed_rest) == key[1]
                         for s in sites) > 1
            text = "" if key in labelled else f"{count(leaked)} {when}" + (" (all such routes)" if shared else "")
            labelled.add(key)
            _route(ax, actor, site, start, end, gate, explicit, leaked, a_index, text)
    for name, (x, y) in actors.items():
        group = config.actors[name]
        _node(ax, f"actor:{name}", x, y, display(name, group.title), _place(config, group.location),
              fills.get(group.location, "#DDDDDD"), f"{group.headcount:,} people")
    total = config.data[counted].records if counted in config.data else 0.0
    abroad = [n for n, site in config.sites.items() if site.jurisdiction not in config.policy.allowed_rest]
    for name, (x, y) in sites.items():
        held = config.sites[name]
        share = f"holds {held.holdings.get(counted, 0.0):.0%} at start"
        if abroad == [name] and abroad_at_end is not None and total:  # the one site abroad holds all that is
            share += f", {abroad_at_end / total:.0%} at end"
        _node(ax, f"site:{name}", x, y, display(name, held.title), _place(config, held.jurisdiction),
              fills.get(held.jurisdiction, "#DDDDDD"), share)
    _legend(ax, config, gates_seen, when)
    lines = []
    if abroad_at_end is not None and total:
        lines.append(f"protected records held abroad at the end: {count(abroad_at_end / 1e6)} million "
                     f"({abroad_at_end / total:.0%})")
    if leaks.get("covert", 0) > 0:
        lines.append(f"covert exports bypass every route: {count(leaks['covert'])} {when}")
    note(figure, "; ".join(lines) or "arrows: routes to protected data")
    return figure


def _route(ax: Axes, actor: str, site: str, start: tuple[float, float], end: tuple[float, float], gate: str,
           explicit: bool, leaked: float, a_index: int, text: str) -> None:
    (x0, y0), (x1, y1) = (start[0] + BOX_W / 2 + 0.012, start[1]), (end[0] - BOX_W / 2 - 0.012, end[1])
    mx, my = x0 + (x1 - x0) * LABEL_AT, y0 + (y1 - y0) * LABEL_AT
    gid = f"route:{actor}:{site}"
    if not explicit or gate == "blocked":
        ax.plot([x0, x1], [y0, y1], color=GATE_COLOURS["blocked"], linewidth=0.8,
                linestyle="-" if explicit else (0, (1, 3)), gid=gid)
        ax.text(mx, my, "✕" if explicit else "?", ha="center", va="center", fontsize=11, color=MUTED,
                fontweight="bold", gid=f"mark:{actor}:{site}")
        return
    colour = LEAK_COLOUR if leaked > 0 else GATE_COLOURS[gate]
    ax.add_patch(FancyArrowPatch((x0, y0), (x1, y1), arrowstyle="-|>", mutation_scale=14, shrinkA=2, shrinkB=2,
                                 linestyle=LINESTYLES[gate], linewidth=3.0 if leaked > 0 else 1.4, color=colour,
                                 gid=gid))
    if leaked > 0 and text:
        ax.text(mx, my + (0.025 if a_index % 2 == 0 else -0.025), text, ha="center",
                va="center", fontsize=8, color=INK, fontweight="bold",
                bbox={"facecolor": "white", "edgecolor": "none", "pad": 1.0})


def _node(ax: Axes, gid: str, x: float, y: float, name: str, place: str, fill: str, extra: str) -> None:
    ax.add_patch(FancyBboxPatch((x - BOX_W / 2, y - BOX_H / 2), BOX_W, BOX_H, boxstyle="round,pad=0.01",
                                facecolor=fill, edgecolor=INK,
                                linewidth=0.6, gid=f"node:{gid}"))
    ax.text(x, y + 0.045, name, ha="center", va="center", fontsize=10, color=INK, fontweight="bold")
    ax.text(x, y - 0.005, place, ha="center", va="center", fontsize=9, color=INK)
    ax.text(x, y - 0.05, extra, ha="center", va="center", fontsize=9, color=INK)


def _legend(ax: Axes, config: Config, gates: set[str], when: str) -> None:
    places = sorted({g.location for g in config.actors.values()} | {s.jurisdiction for s in config.sites.values()})
    fills = _fills(config)
    handles: list[Patch | Line2D] = [Patch(facecolor=fills[p], edgecolor=INK, label=_place(config, p)) for p in places]
    for gate in ("none", "parent", "steward", "key_release"):
        if gate in gates:
            handles.append(Line2D([], [], color=GATE_COLOURS[gate], linestyle=LINESTYLES[gate], linewidth=1.4,
                                  label=f"route: {GATE_TITLES[gate]}"))
    handles.append(Line2D([], [], color=LEAK_COLOUR, linewidth=3.0, label=f"route that leaks (accesses {when})"))
    if "blocked" in gates:
        handles.append(Line2D([], [], color=GATE_COLOURS["blocked"], marker="x", label="✕ blocked by a route rule"))
    if "unrouted" in gates:
        handles.append(Line2D([], [], color=GATE_COLOURS["blocked"], linestyle=(0, (1, 3)),
                              label="? no route rule: blocked by default"))
    ax.legend(handles=handles, loc="upper center", bbox_to_anchor=(0.5, 1.02), ncol=4, frameon=False, fontsize=8.5)
