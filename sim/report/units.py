"""How numbers are shown to people: counts with M and B, hours and days with decimals, shares as %."""

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


def kind_of(metric: str) -> str:
    """Return how to show a metric: a share, hours, days or a count (as the catalogue declares it)."""
    return catalogue.kind_of(metric)
