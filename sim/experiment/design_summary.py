"""The design document: levers, senses, the front, the reference arrangements and the target's answer."""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from typing import Any

from sim.config.levers import LoadedLevers
from sim.experiment.design import COST, Candidate, DesignPlan, Search, cheapest_meeting, front


def lever_records(levers: LoadedLevers) -> list[dict[str, Any]]:
    """Return each lever as design.json lists it: path, bounds or choices, cost and its source."""
    records = []
    for lever in levers.levers:
        record: dict[str, Any] = {"path": lever.path, "title": lever.title}
        if lever.choices is not None:
            record["choices"] = list(lever.choices)
            if lever.options is not None:
                record["options"] = dict(lever.options)
        else:
            record |= {"low": lever.low, "high": lever.high, "scale": lever.scale}
        record |= {"integer": lever.path in levers.integer, "shipped": levers.shipped[lever.path],
                   "overrides_range": levers.ranges.get(lever.path),
                   "cost": {"one_off": _cost_text(lever.one_off), "yearly": _cost_text(lever.yearly),
                            "source": lever.cite(), "note": lever.note}}
        records.append(record)
    return records


def _cost_text(cost: tuple[float, float] | dict[str, float]) -> Any:
    return dict(cost) if isinstance(cost, dict) else {"at_low": cost[0], "at_high": cost[1]}


def terms_flags(terms: dict[str, Any]) -> str:
    """Return the `--terms PATH=VALUE` flags that pin a candidate's terms."""
    return " ".join(f"--terms {shlex.quote(f'{path}={_plain(value)}')}" for path, value in terms.items())


def _plain(value: Any) -> str:
    return repr(value) if isinstance(value, float) else str(value)


def point_record(plan: DesignPlan, candidate: Candidate, prefix: str) -> dict[str, Any]:
    """Return a candidate as a point of design.json, with the command that re-runs it on the same worlds."""
    return {"number": candidate.number, "terms": candidate.terms, "objectives": candidate.objectives,
            "cost": candidate.cost, "target_share": candidate.target_share,
            "command": f"{prefix} {terms_flags(candidate.terms)}"}


def document(plan: DesignPlan, found: Search, prefix: str, days: int, trials: int, population: int) -> dict[str, Any]:
    """Return design.json's content."""
    base = plan.base
    points = front(plan, found.candidates)
    shipped = found.reference[base.name]
    doc: dict[str, Any] = {
        "kind": "design", "config": base.name, "display": base.config.scenario.display or base.name,
        "levers_file": str(plan.levers.path), "title": plan.levers.spec.design.title,
        "worlds": plan.worlds, "replications": plan.exploration.replications, "days": days, "seed": plan.seed,
        "trials": trials, "population": population, "quantile": plan.quantile,
        "statistic": f"the {plan.quantile:.0%} quantile across worlds of each world's mean (the "
                     f"{1 - plan.quantile:.0%} quantile for an objective to maximise); cost is the lever file's",
        "amortise_years": plan.levers.spec.design.amortise_years,
        "levers": lever_records(plan.levers),
        "sense": {**plan.objectives, COST: "min"},
        "parameters": len(plan.exploration.dimensions),
        "front": [point_record(plan, c, prefix) for c in points],
        "reference": {"name": base.name, "display": shipped["display"], "terms": plan.levers.shipped,
                      "objectives": shipped["objectives"], "cost": shipped["cost"],
                      "target_share": shipped["target_share"],
                      "arrangements": {name: {k: v for k, v in entry.items() if k != "per_world"}
                                       for name, entry in found.reference.items()}},
        "candidates": [{"number": c.number, "terms": c.terms,
                        "objectives": {k: v["value"] for k, v in c.objectives.items()},
                        "target_share": c.target_share} for c in found.candidates],
        "target": target_record(plan, found.candidates, prefix),
    }
    doc["answer"] = answer(doc)
    return doc


def target_record(plan: DesignPlan, candidates: Sequence[Candidate], prefix: str) -> dict[str, Any] | None:
    """Return the target's answer: met or not, the cheapest terms meeting it and their share of worlds."""
    target = plan.target
    if target is None:
        return None
    cheapest = cheapest_meeting(plan, candidates)
    shares = [c.target_share for c in candidates if c.target_share is not None]
    return {"metric": target.metric, "op": target.op, "value": None if target.against else target.value,
            "against": target.against or None, "confidence": target.confidence,
            "text": target.text(), "met": cheapest is not None,
            "cheapest": None if cheapest is None else point_record(plan, cheapest, prefix),
            "share": None if cheapest is None else cheapest.target_share,
            "best_share": max(shares) if shares else None}


def answer(doc: dict[str, Any]) -> str:
    """Return the plain sentence that answers the target (or says what the front offers)."""
    target = doc["target"]
    display = doc["display"]
    if target is None:
        return (f"{len(doc['front'])} sets of terms for {display} trade residual access against waiting and cost "
                f"best among {doc['trials']} candidates on {doc['worlds']} plausible worlds.")
    confidence = f"{target['confidence']:.0%}"
    if not target["met"]:
        best = target["best_share"]
        return (f"No terms for {display} among the {doc['trials']} tried keep {target['text']} in {confidence} "
                f"of the {doc['worlds']} worlds; the best met it in {best:.0%} of them.")
    cheapest = target["cheapest"]
    cost = cheapest["cost"]["total_yearly"]
    return (f"The cheapest terms for {display} that keep {target['text']} in at least {confidence} of the "
            f"{doc['worlds']} worlds (they do in {target['share']:.0%}) cost {dollars(cost)} a year "
            f"(one-off costs spread over {doc['amortise_years']:g} years): {terms_text(cheapest['terms'])}.")


def dollars(value: float) -> str:
    """Format dollars as $12.3M or $1.2B."""
    if abs(value) >= 1e9:
        return f"${value / 1e9:.2f}B"
    return f"${value / 1e6:.1f}M"


def terms_text(terms: dict[str, Any]) -> str:
    """Return terms as `path = value` pairs, numbers to three significant figures."""
    return "; ".join(f"{path} = {value:.3g}" if isinstance(value, float) else f"{path} = {value}"
                     for path, value in terms.items())

