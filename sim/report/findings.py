"""The findings paragraph a comparison report opens with, written from the results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sim.config.schema import CHANNEL_TITLES, CHANNELS, display
from sim.metrics.units import per_span, words
from sim.report.figures import Arrangement, channel_events
from sim.report.style import count

METRIC = "residual_access.events"
#: The parameters (by last part of their dotted path) that set how often each channel leaks.
CHANNEL_DRIVERS: dict[str, tuple[str, ...]] = {
    "approved_by_policy": ("data_classes", "headcount", "requests_per_hour", "allowed_read", "gate"),
    "approved_in_error": ("false_approval", "headcount", "requests_per_hour"),
    "emergency_path": ("emergency_purposes", "purposes", "headcount", "requests_per_hour"),
    "parent_override": ("independence", "approve_probability", "false_denial"),
    "legacy_or_backup_abroad": ("median_days", "sigma", "duration_quantile", "incomplete_probability",
                                "stall_quantile", "residue_share", "until",
                                "holdings", "key_custody", "headcount", "requests_per_hour"),
    "covert": ("covert_attempts_per_year", "egress_monitoring_share", "code_covert_attempts_per_year",
               "code_review_coverage"),
}


def _interval(a: Arrangement) -> str:
    ci = a.interval(METRIC)
    return "" if ci is None else f" (95% CI {count(ci[0])} to {count(ci[1])})"


def dominant_channel(a: Arrangement) -> str | None:
    """Return the channel through which an arrangement leaks most, if it leaks at all."""
    best = max(CHANNELS, key=lambda c: channel_events(a, c))
    return best if channel_events(a, best) > 0 else None


def driving_assumptions(channel: str, resolved: dict[str, Any], limit: int = 2) -> list[str]:
    """Return the assumptions (parameter in words, with the reason) behind a channel's leaks."""
    config = resolved.get("config", {})
    found = []
    for key, source in sorted(resolved.get("provenance", {}).items()):
        parts = key.split(".")
        last = next((p for p in reversed(parts) if not p.isdigit()), key)
        if not (str(source).startswith("assumption") and last in CHANNEL_DRIVERS.get(channel, ())):
            continue
        owner = words(parts[0]).capitalize() if len(parts) > 1 else ""
        if len(parts) > 2 and parts[0] in ("actors", "sites", "organisations"):
            owner = display(parts[1], config.get(parts[0], {}).get(parts[1], {}).get("title", ""))
        reason = str(source).split(":", 1)[-1].strip().split(";")[0]
        found.append(f"{owner}: {words(last)} ({reason})" if owner else f"{words(last)} ({reason})")
    return found[:limit]


def findings(arrangements: Sequence[Arrangement], resolved: dict[str, dict[str, Any]],
             diffs: dict[str, tuple[float | None, float | None, float | None]], baseline: str | None) -> str:
    """Return a short paragraph: who leaves least, by how much, how sure, and on which assumptions it rests."""
    if not arrangements:
        return ""
    ranked = sorted(arrangements, key=lambda a: a.mean(METRIC))
    days = {a.config.get("scenario", {}).get("days") for a in arrangements} - {None}
    when = per_span(max(days) if days else None).replace("per year", "a year")
    best, worst = ranked[0], ranked[-1]
    ties = [a.label for a in ranked[1:] if a.interval(METRIC) and best.interval(METRIC)
            and a.interval(METRIC)[0] <= best.interval(METRIC)[1]]  # type: ignore[index]
    parts = [f"{best.label} leaves the least residual cross-border access to protected data: "
             f"{count(best.mean(METRIC))} accesses {when}{_interval(best)}"]
    alike = [a.label for a in ranked if a.mean(METRIC) == worst.mean(METRIC)]
    if len(ranked) > 1:
        parts[0] += f", against {count(worst.mean(METRIC))}{_interval(worst)} under {' and '.join(alike)}."
    else:
        parts[0] += "."
    if ties:
        parts.append(f"Its interval overlaps that of {', '.join(ties)}, so the ranking between them is not settled.")
    base = next((a for a in arrangements if a.name == baseline), None)
    diff = diffs.get(best.name)
    if base is not None and best is not base and diff is not None and diff[0] is not None:
        low, high = diff[1], diff[2]
        fewer = f"{count(-diff[0])} fewer {when} than {base.label}"
        if low is not None and high is not None:
            fewer += f" (paired difference, 95% CI {count(-high)} to {count(-low)})"
        parts.append(f"That is {fewer}.")
    for a in (best, worst)[: 1 if best is worst else 2]:
        channel = dominant_channel(a)
        if channel is None:
            continue
        share = channel_events(a, channel) / a.mean(METRIC) if a.mean(METRIC) else 0.0
        amount = "all" if share >= 1 - 1e-9 else f"{share:.1%}" if share > 0.99 else f"{share:.0%}"
        who = a.label if a is best else " and ".join(alike)
        said = f"Under {who}, {amount} of it comes through the channel “{CHANNEL_TITLES[channel]}”"
        assumed = driving_assumptions(channel, resolved.get(a.name, {}))
        parts.append(said + (", which rests on assumptions — " + "; ".join(assumed) if assumed else "") + ".")
    return " ".join(parts)


