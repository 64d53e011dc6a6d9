"""The findings paragraph a comparison report opens with, written from the results."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sim.config.schema import CHANNEL_TITLES, CHANNELS
from sim.report.figures import Arrangement, channel_events
from sim.report.style import count

METRIC = "residual_access.events"
#: The parameters (by dotted-path prefix) that set how much each channel leaks.
CHANNEL_DRIVERS: dict[str, tuple[str, ...]] = {
    "approved_by_policy": ("routes", "policy.", "actors.cn_engineers.data_classes", "actors.cn_engineers.purposes"),
    "approved_in_error": ("gatekeeper.false_approval",),
    "emergency_path": ("gatekeeper.emergency_purposes", "actors.cn_engineers.purposes"),
    "parent_override": ("organisations.",),
    "legacy_or_backup_abroad": ("deletions.", "replication.", "migrations.", "sites."),
    "covert": ("actors.cn_engineers.covert", "controls.code_review_coverage"),
}


def _interval(a: Arrangement) -> str:
    ci = a.interval(METRIC)
    return "" if ci is None else f" (95% CI {count(ci[0])} to {count(ci[1])})"


def dominant_channel(a: Arrangement) -> str | None:
    """Return the channel through which an arrangement leaks most, if it leaks at all."""
    best = max(CHANNELS, key=lambda c: channel_events(a, c))
    return best if channel_events(a, best) > 0 else None


def driving_assumptions(channel: str, provenance: dict[str, str], limit: int = 3) -> list[str]:
    """Return the assumptions (parameter in words, with the reason) behind a channel's leaks."""
    found = []
    for key, source in sorted(provenance.items()):
        if source.startswith("assumption") and key.startswith(CHANNEL_DRIVERS.get(channel, ())):
            reason = source.split(":", 1)[-1].strip()
            found.append(f"{key.rsplit('.', 1)[-1].replace('_', ' ')} ({reason})")
    return found[:limit]


def findings(arrangements: Sequence[Arrangement], provenance: dict[str, dict[str, str]],
             diffs: dict[str, tuple[float | None, float | None, float | None]], baseline: str | None) -> str:
    """Return a short paragraph: who leaves least, by how much, how sure, and on which assumptions it rests."""
    if not arrangements:
        return ""
    ranked = sorted(arrangements, key=lambda a: a.mean(METRIC))
    best, worst = ranked[0], ranked[-1]
    ties = [a.label for a in ranked[1:] if a.interval(METRIC) and best.interval(METRIC)
            and a.interval(METRIC)[0] <= best.interval(METRIC)[1]]  # type: ignore[index]
    parts = [f"{best.label} leaves the least residual cross-border access to protected data: "
             f"{count(best.mean(METRIC))} accesses a year{_interval(best)}"]
    if len(ranked) > 1:
        parts[0] += f", against {count(worst.mean(METRIC))}{_interval(worst)} under {worst.label}."
    else:
        parts[0] += "."
    if ties:
        parts.append(f"Its interval overlaps that of {', '.join(ties)}, so the ranking between them is not settled.")
    base = next((a for a in arrangements if a.name == baseline), None)
    diff = diffs.get(best.name)
    if base is not None and best is not base and diff is not None and diff[0] is not None:
        low, high = diff[1], diff[2]
        fewer = f"{count(-diff[0])} fewer a year than {base.label}"
        if low is not None and high is not None:
            fewer += f" (paired difference, 95% CI {count(-high)} to {count(-low)})"
        parts.append(f"That is {fewer}.")
    for a in (best, worst)[: 1 if best is worst else 2]:
        channel = dominant_channel(a)
        if channel is None:
            continue
        share = channel_events(a, channel) / a.mean(METRIC) if a.mean(METRIC) else 0.0
        said = f"Under {a.label}, {share:.0%} of it comes through {CHANNEL_TITLES[channel].lower()}"
        assumed = driving_assumptions(channel, provenance.get(a.name, {}))
        parts.append(said + (", which rests on assumptions: " + "; ".join(assumed) if assumed else "") + ".")
    return " ".join(parts)


def provenance_of(resolved: dict[str, Any]) -> dict[str, str]:
    """Return a resolved-config document's provenance (parameter -> source text)."""
    return {str(k): str(v) for k, v in resolved.get("provenance", {}).items()}
