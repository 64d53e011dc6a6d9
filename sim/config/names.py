"""Checks on names that become folder or file names, and on numbers' plausible ranges."""

from __future__ import annotations

import datetime as dt
import zoneinfo

MAX_NAME_LENGTH = 100
#: Plausible upper bounds, so that a typo cannot ask for a run that never ends or fills memory.
MAX_RECORDS = 1e12
MAX_HEADCOUNT = 1_000_000
MAX_HOURS = 87_600.0  # ten years
MAX_DAYS = 36_500.0  # a century
#: The calendar the model supports: time zones, weekdays and daylight saving hold throughout.
CALENDAR = (dt.date(1970, 1, 1), dt.date(2199, 12, 31))


def name_problem(name: str) -> str | None:
    """Return why a name cannot be a single folder or file name, or None if it can."""
    if not name or not name.strip():
        return "the name is empty"
    if "\x00" in name:
        return "the name holds a NUL character"
    if not name.isprintable():
        return "the name holds a control or non-printable character"
    if "/" in name or "\\" in name:
        return "the name holds a path separator (/ or \\)"
    if name.startswith(".") or name != name.strip():
        return "the name starts with a dot or a space (it would be hidden, or climb out of its folder)"
    if len(name) > MAX_NAME_LENGTH:
        return f"the name is longer than {MAX_NAME_LENGTH} characters"
    return None


def check_path_name(name: str) -> str:
    """Return a name fit to become a folder name, or raise a ValueError saying why not."""
    problem = name_problem(name)
    if problem is not None:
        raise ValueError(f"{problem}, and it becomes a folder name: use letters, digits, '-' and '_' only")
    return name


def check_date(value: dt.date) -> dt.date:
    """Return a date inside the calendar the model supports, or raise a ValueError naming it."""
    if not CALENDAR[0] <= value <= CALENDAR[1]:
        raise ValueError(f"the date must lie between {CALENDAR[0]} and {CALENDAR[1]}, the calendar the model "
                         "supports")
    return value


def check_timezone(value: str) -> str:
    """Return an IANA time zone name the calendar knows, or raise a ValueError naming it."""
    try:
        zoneinfo.ZoneInfo(value)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {value!r} (use an IANA name such as 'Asia/Shanghai')") from exc
    return value


def check_mix(mix: dict[str, float]) -> dict[str, float]:
    """Return shares that add up to 1 (or none), or raise a ValueError giving their sum."""
    total = sum(mix.values())
    if mix and abs(total - 1.0) > 1e-6:
        raise ValueError(f"shares must add up to 1, they add up to {total:g}")
    return mix
