"""Assemble explore.json: the robust comparison, scenario discovery and history matching."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from sim.experiment.discovery import Question, discover, parse_question
from sim.experiment.explore import Exploration, world_table
from sim.experiment.history import Observations, match
from sim.experiment.robust import comparison, world_means
from sim.metrics import catalogue
from sim.results.store import Store

FORMAT = "residency-explore/1"


def parameter_columns(exploration: Exploration) -> dict[str, list[Any]]:
    """Return each dimension's value in every world, by key."""
    rows = [exploration.world_values(w) for w in range(exploration.worlds)]
    return {d.key: [row[d.key] for row in rows] for d in exploration.dimensions}


def relevant(parameters: dict[str, list[Any]], applies: dict[str, set[str]],
             question: Question) -> dict[str, list[Any]]:
    """Return the parameters that can move the arrangements a question is about."""
    names = {question.left} | ({question.right} if isinstance(question.right, str) else set())
    return {key: column for key, column in parameters.items() if applies[key] & names}


def flip_question(pairs: dict[str, dict[str, Any]]) -> Question | None:
    """Return the most uncertain ordering as a question: `a < b` where a wins in the fewest worlds but some."""
    best: tuple[float, str, str] | None = None
    for a, row in pairs.items():
        for b, entry in row.items():
            share = entry["p_less"]["mean"]
            if share is None or not 0.0 < share < 0.5 or entry["p_less"]["ties"] == entry["p_less"]["worlds"]:
                continue
            if best is None or abs(share - 0.5) < abs(best[0] - 0.5):
                best = (share, a, b)
    if best is None:
        return None
    return Question(f"{best[1]} < {best[2]}", best[1], "<", best[2])


def summarise(exploration: Exploration, store: Store, metric: str, questions: list[str],
              observations: Observations | None, prim_available: bool) -> dict[str, Any]:
    """Return the explore.json document for the rows stored so far."""
    names = exploration.names
    table = world_table(store, names, exploration.worlds)
    parameters = parameter_columns(exploration)
    applies = {d.key: set(d.arrangements) for d in exploration.dimensions}
    result = comparison(table, metric, parameters, applies)
    days = exploration.arrangements[0].config.scenario.days
    document: dict[str, Any] = {
        "format": FORMAT, "kind": "explore", "worlds": exploration.worlds, "metric": metric,
        "replications": exploration.replications, "days": days, "seed": exploration.seed,
        "design": exploration.design, "parameters": {d.key: d.describe() for d in exploration.dimensions},
        **{k: result[k] for k in ("arrangements", "pairwise", "regret", "ranking")},
    }
    means = world_means(table[metric])
    asked = [parse_question(q, names) for q in questions]
    if not asked and prim_available:
        flip = flip_question(result["pairwise"])
        asked = [flip] if flip else []
    document["discovery"] = [discover(q, metric, means, relevant(parameters, applies, q)) for q in asked]
    if not prim_available:  # said, not skipped in silence: PRIM (GPL-3.0) is an optional extra
        document["discovery_skipped"] = ("Scenario discovery was not run: PRIM (the optional `prim` package, "
                                         "GPL-3.0) is not installed; `pip install 'residency[explore]'` adds it.")
    keep = None
    if observations is not None:
        keep, section = match(observations, table, exploration.worlds, days, parameters)
        section["comparison"] = comparison(table, metric, parameters, applies, keep)
        document["history_match"] = section
    document["display"] = {item.name: {"label": item.config.scenario.display or item.name,
                                       "colour": item.config.scenario.colour}
                           for item in exploration.arrangements}
    document["world_values"] = {"parameters": parameters,
                                "metric": {n: [_plain(v) for v in means[n]] for n in names}}
    document["conclusion"] = conclusion(document, keep)
    return document


def _plain(value: float) -> float | None:
    return None if not np.isfinite(value) else round(float(value), 6)


def conclusion(document: dict[str, Any], keep: np.ndarray | None) -> list[str]:
    """Return the robust conclusion in plain sentences."""
    source = document["history_match"]["comparison"] if keep is not None else document
    worlds, metric = source["worlds"], document["metric"]
    ranking, regrets, pairs = source["ranking"], source["regret"], source["pairwise"]
    if not ranking or worlds == 0:
        return ["No world is left to compare."]
    lines = []
    scope = (f"the {worlds} plausible worlds the public record does not rule out (of {document['worlds']})"
             if keep is not None else f"{worlds} plausible worlds")
    shown = {n: str(d.get("label") or n) for n, d in document.get("display", {}).items()}

    def name(arrangement: str) -> str:
        return shown.get(arrangement, arrangement)

    found = catalogue.find(metric)
    what = f"{found.label} ({metric})" if found else metric
    leader = ranking[0]
    worst = regrets[leader]["max"]
    if worst is None:
        return [f"No world gives every arrangement a value of {metric} (an arrangement without a steward gate has "
                "no gate wait, for example): compare another --metric."]
    lines.append(f"Across {scope}, {name(leader)} " + ("is the best arrangement in every one of them" if worst == 0
                 else f"has the smallest worst-case regret (at most {_count(worst)} more than the best arrangement of "
                 f"any world)") + f" on {what}; ranked by regret: {'; '.join(map(name, ranking))}.")
    for better, worse in itertools.pairwise(ranking):
        entry = pairs[better][worse]["p_less"]
        if entry["mean"] is not None and entry["ties"] == entry["worlds"]:
            lines.append(f"{name(better)} and {name(worse)} leave the same in every world.")
        elif entry["mean"] is not None and entry["mean"] < 0.5:  # say it the way round that holds more often
            lines.append(f"In {1 - entry['mean']:.0%} of plausible worlds {name(worse)} leaves less than "
                         f"{name(better)}, though it ranks lower by regret.")
        elif entry["mean"] is not None:
            lines.append(f"In {entry['mean']:.0%} of plausible worlds {name(better)} leaves less than {name(worse)}.")
    flips = [(a, b, e["p_less"]["mean"]) for a, row in pairs.items() for b, e in row.items()
             if e["p_less"]["mean"] is not None and 0.05 < e["p_less"]["mean"] < 0.5
             and e["p_less"]["ties"] < e["p_less"]["worlds"]]
    for box_question in document["discovery"]:
        if box_question["boxes"]:
            box = box_question["boxes"][0]
            limits = "; ".join(f"{k} in {_limits(v)}" for k, v in box["limits"].items())
            weak = len(box.get("weak_limits", {}))
            weaker = f" (with {weak} weaker restriction{'s' if weak > 1 else ''} on other parameters)" if weak else ""
            lines.append(f"{box_question['phrase'].capitalize()}: {box_question['cases']} of "
                         f"{box_question['worlds']} worlds; PRIM's box {limits or '(the whole space)'}{weaker} holds "
                         f"{box['coverage']:.0%} of them at a density of {box['density']:.0%}.")
    if not flips:
        lines.append("No ordering of two arrangements flips in more than 5% of the worlds.")
    if "discovery_skipped" in document:
        lines.append(str(document["discovery_skipped"]))
    if keep is not None:
        matched = document["history_match"]
        lines.append(f"The public record rules out {matched['ruled_out']} of {document['worlds']} worlds "
                     f"(implausibility above {matched['cutoff']:g}).")
    return lines


def _count(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _limits(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, float) for v in value):
        return f"[{value[0]:.4g}, {value[1]:.4g}]"
    return str(value)
