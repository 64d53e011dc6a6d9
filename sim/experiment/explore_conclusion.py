"""The explore conclusion: the decision first (who leaves least, ties, the flip, what to find out), then the rest."""

from __future__ import annotations

import itertools
from typing import Any

import numpy as np

from sim.metrics import catalogue
from sim.metrics.units import factor_label


def conclusion(document: dict[str, Any], keep: np.ndarray | None) -> list[str]:
    """Return the conclusion in plain sentences, the decision among the candidates first."""
    source = document["history_match"]["comparison"] if keep is not None else document
    worlds, metric = source["worlds"], document["metric"]
    ranking, regrets, pairs = source["ranking"], source["regret"], source["pairwise"]
    if not ranking or worlds == 0:
        return ["The public record rules out every sampled world: no world is left to compare."
                if keep is not None else "No world is left to compare."]
    shown = {n: str(d.get("label") or n) for n, d in document.get("display", {}).items()}

    def name(arrangement: str) -> str:
        return shown.get(arrangement, arrangement)

    found = catalogue.find(metric)
    what = found.label if found else metric
    leader = ranking[0]
    worst = regrets[leader]["max"]
    if worst is None:
        return [f"No world gives every arrangement a value of {metric} (an arrangement without a steward gate has "
                "no gate wait, for example): compare another --metric."]
    scope = _scope(document, worlds, keep)
    shares = source.get("best_share", {})
    share_text = "; ".join(f"{name(n)} in {shares[n]:.0%}" for n in sorted(ranking, key=lambda n: -(shares[n] or 0))
                           if shares.get(n) is not None)
    lines = [f"Across {scope}, among the candidates ({'; '.join(map(name, ranking))}), {name(leader)} "
             + ("leaves the least " + what + " in every one of them" if worst == 0 else
                f"has the smallest worst-case regret on {what} (at most {_count(worst)} more than the best candidate "
                f"of any world)") + f". Leaves the least: {share_text}. "
             f"Ranked by regret: {'; '.join(map(name, ranking))}."]
    if keep is not None and keep.all():  # say what nothing ruled out means, with how close the worlds came
        matched = document["history_match"]
        closest = max(matched["implausibility_max"], default=0.0)
        lines.append(f"The public record rules out none of the {len(keep)} sampled worlds: the largest implausibility "
                     f"is {closest:.2f}, under the cut-off of {matched['cutoff']:g}, so the sampled ranges lie inside "
                     "what the observations allow.")
    lines += _ties(document, name)
    lines += _discovery(document, name)
    lines += _information(document, name)
    for better, worse in itertools.pairwise(ranking):
        entry = pairs[better][worse]["p_less"]
        if entry["mean"] is not None and entry["ties"] == entry["worlds"]:
            lines.append(f"{name(better)} and {name(worse)} leave the same in every world.")
        elif entry["mean"] is not None and entry["mean"] < 0.5:  # say it the way round that holds more often
            lines.append(f"In {1 - entry['mean']:.0%} of these worlds {name(worse)} leaves less than "
                         f"{name(better)}, though it ranks lower by regret.")
    references = source.get("references", [])
    if references:
        lines.append(f"For reference (not candidates): {'; '.join(name(n) for n in references)}.")
    return lines


def _scope(document: dict[str, Any], worlds: int, keep: np.ndarray | None) -> str:
    """Return which worlds the conclusion is over, and how far the record narrowed them."""
    if keep is None:
        return f"{worlds} sampled worlds (not matched against the public record)"
    matched = document["history_match"]
    used = [k for k, e in matched["observations"].items() if e.get("used", True)]
    waves = len(matched.get("waves", [])) or 1
    return (f"the {worlds} worlds the public record allows (of {document['worlds']} sampled"
            + (f" in wave {waves}" if waves > 1 else "") + f"; {len(used)} observations used as evidence)")


def _ties(document: dict[str, Any], name: Any) -> list[str]:
    """Return the candidate pairs that cannot be told apart, or that every pair can."""
    tied = [e for e in document.get("ties", {}).values() if e["indistinguishable"]]
    if not tied:
        return ["Every pair of candidates is told apart by a paired test in most worlds."] if document.get("ties") \
            else []
    return [f"{name(e['left'])} and {name(e['right'])} cannot be told apart: a paired test separates them in "
            f"{e['distinguishable_worlds']} of {e['worlds']} worlds." for e in tied]


def _discovery(document: dict[str, Any], name: Any) -> list[str]:
    """Return what scenario discovery found: the flip condition when significant, else that none is."""
    lines = []
    for question in document["discovery"]:
        verdict = question.get("verdict", "found" if question["boxes"] else "not significant")
        if verdict == "indistinguishable":
            lines.append(f"{question['question']}: the pair cannot be told apart from replication noise in most "
                         "worlds, so no condition is sought.")
        elif verdict == "not significant" or not question["boxes"]:
            p = f" (p = {question['boxes'][0]['p_value']:.2f})" if question["boxes"] else ""
            lines.append(f"{question['phrase'].capitalize()} in {question['cases']} of {question['worlds']} worlds, "
                         f"but no condition on the parameters beats boxes fitted to shuffled labels{p}.")
        else:
            box = question["boxes"][0]
            limits = "; ".join(f"{_label(k, name, document.get('titles'))} {_condition(v)}"
                               for k, v in box["limits"].items())
            lines.append(f"The choice flips {question['phrase']} when {limits or 'anywhere'}: "
                         f"{question['cases']} of {question['worlds']} worlds, the condition holding "
                         f"{box['coverage']:.0%} of them at a density of {box['density']:.0%} "
                         f"(p = {box['p_value']:.2f} against shuffled labels).")
    return lines


def _information(document: dict[str, Any], name: Any) -> list[str]:
    """Return the unknown worth finding out first, with its EVPPI, and the named group worth most."""
    voi = document.get("value_of_information", {})
    if voi.get("evpi") is None or not voi.get("parameters"):
        return []
    group = max(((g, e) for g, e in voi["groups"].items() if e.get("resolved", True)),
                key=lambda item: item[1]["evppi"], default=None)
    grouped = (f"; of the named groups, {group[0]} is worth {_count(group[1]['evppi'])} ± {_count(group[1]['se'])}"
               if group else "")
    evpi = f"knowing everything would save {_count(voi['evpi'])} on average (the EVPI)"
    resolved = [(k, e) for k, e in voi["parameters"].items() if e.get("resolved", True)]
    key, largest = next(iter(voi["parameters"].items()))
    if not resolved:
        return [f"No single unknown is clearly worth finding out first over these {voi['worlds']} worlds: {evpi}, "
                f"but the largest EVPPI, {_count(largest['evppi'])} ± {_count(largest['se'])}, is within two "
                f"standard errors of zero for every parameter; sample more worlds to tell{grouped}."]
    key, entry = resolved[0]
    label = _label(key, name, document.get("titles"))
    if largest["evppi"] > entry["evppi"] and entry["evppi"] < largest["se"]:  # smaller than the larger ones' noise
        return [f"No single unknown is clearly worth finding out first over these {voi['worlds']} worlds: {evpi}, "
                f"but the larger EVPPIs, up to {_count(largest['evppi'])} ± {_count(largest['se'])}, are within two "
                f"standard errors of zero, and the largest told apart from zero, {label} "
                f"({_count(entry['evppi'])} ± {_count(entry['se'])}), is smaller than their standard error; sample "
                f"more worlds to tell{grouped}."]
    found = catalogue.find(document["metric"])
    unsure = (f"; larger estimates, up to {_count(largest['evppi'])} ± {_count(largest['se'])}, are within two "
              "standard errors of zero" if largest["evppi"] > entry["evppi"] else "")
    return [f"Worth finding out first: {label}, whose value would save {_count(entry['evppi'])} ± "
            f"{_count(entry['se'])} {found.label if found else document['metric']} "
            f"on average (EVPPI; {evpi.replace(' on average', '')}){unsure}{grouped}."]


def _label(key: str, name: Any, titles: dict[str, str] | None = None) -> str:
    owner, _, path = key.rpartition(":")
    return factor_label(path, titles) + (f" ({name(owner)})" if owner else "")


def _count(value: float | None) -> str:
    return "–" if value is None else f"{value:,.0f}"


def _condition(value: Any) -> str:
    """Return a box's limit in words: `in [low, high]` for a range, `is X` or `is one of X, Y` for choices."""
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return f"is {value[0]}" if len(value) == 1 else f"is one of {', '.join(value)}"
    return f"in {_limits(value)}"


def _limits(value: Any) -> str:
    if isinstance(value, list) and len(value) == 2 and all(isinstance(v, float) for v in value):
        return f"[{value[0]:.4g}, {value[1]:.4g}]"
    return str(value)
