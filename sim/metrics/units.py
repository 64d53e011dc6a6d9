"""Number formatting and plain-word labels of metrics and parameters, for reports and conclusions alike."""

from __future__ import annotations

import math

from sim.metrics import catalogue


def number(value: float | None, kind: str = "count", scale_of: float | None = None) -> str:
    """Format a number for a table or a sentence; a dash where it is undefined.

    `scale_of` formats the value in the unit chosen for another (a mean's interval half-width).
    """
    if value is None or math.isnan(value):
        return "–"
    if kind == "share":
        return f"{value:.0%}" if scale_of is None else f"{value:.1%}"
    if kind in ("hours", "days"):
        return f"{value:,.2f}" if kind == "hours" else f"{value:,.1f}"
    magnitude = abs(value if scale_of is None else scale_of)
    for size, suffix in ((1e9, "B"), (1e6, "M")):
        if magnitude >= size:
            return f"{value / size:,.2f}{suffix}"
    return f"{value:,.0f}" if magnitude >= 100 else f"{value:,.1f}"


def span(days: int | None) -> str:
    """Return how long a run lasted, for sentences: "a year", "4 years", "90 days".

    Counts such as residual accesses are totals over the whole run, so every label says over how long.
    """
    if days is None or days == 365:
        return "a year"
    years = days / 365.25
    if days > 365 and abs(years - round(years)) < 0.01:
        return f"{round(years)} years"
    return f"{days:,} days"


def per_span(days: int | None) -> str:
    """Return "a year" as "per year", else "in 4 years" / "in 90 days"."""
    return "per year" if days is None or days == 365 else f"in {span(days)}"


def kind_of(metric: str) -> str:
    """Return how to show a metric: a share, hours, days or a count (as the catalogue declares it)."""
    return catalogue.kind_of(metric)


#: How figures and tables name the metrics people most often look at; others are put into words.
_METRIC_WORDS = {
    "residual_access.events": "residual accesses",
    "residual_access.records": "records read from abroad",
    "at_rest_abroad.record_days": "protected record-days abroad",
    "at_rest_abroad.records_at_end": "protected records abroad at the end",
    "friction.wait_hours": "mean gate wait (hours)",
    "friction.wait_hours_p95": "95th-percentile gate wait (hours)",
    "friction.decision_hours": "mean time to decision (hours)",
    "friction.utilisation": "reviewer utilisation",
    "requests.expired": "requests expired",
}


def words(key: str) -> str:
    """Return an identifier in words ("wait_hours_p95" -> "wait hours p95")."""
    return key.replace("_", " ").replace(".", " ").strip()


def metric_label(metric: str) -> str:
    """Return a metric's name for people: never its dotted path."""
    if metric in _METRIC_WORDS:
        return _METRIC_WORDS[metric]
    parts = metric.split(".")
    if parts[0] == "residual_access" and len(parts) == 4:
        return f"residual {parts[-1]} via {words(parts[2])}"
    return ", ".join(words(p) for p in parts[::-1][:2][::-1])


def factor_label(path: str, names: dict[str, str] | None = None) -> str:
    """Return a sweep factor's name for people ("gatekeeper.review_hours_mean" -> "gatekeeper: review hours mean").

    `names` maps the keys of actor groups, sites and organisations to their display names.
    """
    names = names or {}
    parts = path.split(".")
    if len(parts) == 1:
        return words(path).capitalize()
    owner = " ".join(names.get(p) or (f"#{int(p) + 1}" if p.isdigit() else words(p)) for p in parts[:-1]
                     if p not in ("actors", "sites", "controls", "organisations"))
    text = f"{owner}: {words(parts[-1])}" if owner else words(parts[-1])
    return text[:1].upper() + text[1:]
