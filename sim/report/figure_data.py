"""What the comparison figures draw: one arrangement's results (`Arrangement`, its daily `Series`) and helpers.

Shared by `sim.report.figures` and `sim.report.timeline` (and re-exported by `figures`, where the report,
the lessons and notebooks look for them).
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from matplotlib import dates as mdates

from sim.config.schema import display
from sim.report.style import arrangement_colours


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
    display: str = ""
    colour: str = ""

    @property
    def label(self) -> str:
        """Return the short name figures show."""
        return self.display or display(self.name)

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


def colours(arrangements: Sequence[Arrangement]) -> dict[str, str]:
    """Return each arrangement's colour by name: its configured colour, else a free Okabe-Ito one."""
    return arrangement_colours([a.name for a in arrangements], {a.name: a.colour for a in arrangements})


def run_days(arrangements: Sequence[Arrangement]) -> int | None:
    """Return the simulated days of the arrangements' runs (None where unknown)."""
    days = {a.config.get("scenario", {}).get("days") for a in arrangements} - {None}
    return int(max(days)) if days else None


def channel_events(a: Arrangement, channel: str) -> float:
    """Return an arrangement's mean residual accesses over its run through one channel."""
    return a.mean(f"residual_access.by_channel.{channel}.events")


def coinciding(arrangements: Sequence[Arrangement], values: Any) -> list[list[str]]:
    """Group arrangements (by name) whose values are equal; only groups of two or more are returned."""
    groups: dict[str, list[str]] = {}
    for a in arrangements:
        key = repr([round(float(v), 9) if isinstance(v, float) and not math.isnan(v) else v for v in values(a)])
        groups.setdefault(key, []).append(a.name)
    return [names for names in groups.values() if len(names) > 1]


def _labels(arrangements: Sequence[Arrangement], names: Sequence[str]) -> str:
    by_name = {a.name: a.label for a in arrangements}
    return " and ".join(by_name[n] for n in names)
