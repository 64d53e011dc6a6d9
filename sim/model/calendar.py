"""Simulated hours and the calendar: hour 0 is midnight UTC on the scenario's start date."""

from __future__ import annotations

import datetime as dt
import functools
import zoneinfo

from sim.config.schema import WorkingHours

UTC = dt.UTC
HOURS_PER_DAY = 24.0


def origin(start_date: dt.date) -> dt.datetime:
    """Return the UTC instant of simulated hour 0."""
    return dt.datetime(start_date.year, start_date.month, start_date.day, tzinfo=UTC)


def hours_since_start(start_date: dt.date, when: dt.date) -> float:
    """Return the simulated hour at which a calendar date begins (midnight UTC)."""
    return (when - start_date).days * HOURS_PER_DAY


def to_datetime(start_date: dt.date, hours: float, timezone: str = "UTC") -> dt.datetime:
    """Return the local date and time of a simulated hour in a time zone."""
    instant = origin(start_date) + dt.timedelta(hours=hours)
    return instant.astimezone(zoneinfo.ZoneInfo(timezone))


def working_windows(
    hours: WorkingHours, timezone: str, start_date: dt.date, days: int
) -> list[tuple[float, float]]:
    """Return the working windows, in simulated hours, that fall inside the horizon.

    Windows follow the local wall clock of `timezone`, daylight saving included, and
    adjacent windows are merged. They are computed once per (hours, time zone, dates) in a
    process, so many actor groups or replications on one calendar share the work.
    """
    return list(_windows(hours, timezone, start_date, days))


@functools.lru_cache(maxsize=256)
def _windows(
    hours: WorkingHours, timezone: str, start_date: dt.date, days: int
) -> tuple[tuple[float, float], ...]:
    horizon = days * HOURS_PER_DAY
    if hours.around_the_clock:
        return ((0.0, horizon),)
    zone = zoneinfo.ZoneInfo(timezone)
    zero = origin(start_date)
    windows: list[tuple[float, float]] = []
    for offset in range(-1, days + 2):
        day = start_date + dt.timedelta(days=offset)
        if hours.weekdays_only and day.weekday() >= 5:
            continue
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
        start = _hours_between(zero, midnight + dt.timedelta(hours=hours.start_hour))
        end = _hours_between(zero, midnight + dt.timedelta(hours=hours.end_hour))
        start, end = max(start, 0.0), min(end, horizon)
        if end <= start:
            continue
        if windows and windows[-1][1] >= start:
            windows[-1] = (windows[-1][0], max(end, windows[-1][1]))
        else:
            windows.append((start, end))
    return tuple(windows)


def rostered_hours(reviewers: int, shifts: list[tuple[float, float]] | None, horizon: float) -> float:
    """Return the reviewers' rostered hours over the horizon (all reviewers together; no shifts: all hours)."""
    windows = shifts if shifts is not None else [(0.0, horizon)]
    return reviewers * sum(end - start for start, end in windows)

def _hours_between(zero: dt.datetime, local: dt.datetime) -> float:
    # Aware-datetime arithmetic in Python is wall-clock arithmetic; convert to UTC first.
    return (local.astimezone(UTC) - zero).total_seconds() / 3600.0
