"""Metrics per calendar year: what each year adds, reported as `by_year.<YYYY>.<path>`.

Counts that the daily series already hold (requests, residual accesses, record-days abroad)
are summed over each year's days; the rest (records by channel, people exposed, improper
accesses and their detection) are tallied by the year in which the access happens, so a
detection that falls in a later year still counts for the year of its access.
"""

from __future__ import annotations

import datetime as dt
import math

from sim.config.schema import CHANNELS, Channel, Config
from sim.metrics.exposure import Exposure


def exposure_tallies(config: Config) -> dict[str, Exposure]:
    """Return a tally of distinct records read, by requested reads and covert exports, for each counted class."""
    return {cls: Exposure(config.data[cls].records, config.data[cls].covert_overlap_share)
            for cls in config.policy.counted_classes if cls in config.data}


class YearTally:
    """What one calendar year adds that the daily series do not hold."""

    __slots__ = ("channel_records", "covert_attempts", "detected", "eventually_detected", "exposure", "improper")

    def __init__(self, config: Config) -> None:
        self.channel_records: dict[Channel, float] = dict.fromkeys(CHANNELS, 0.0)
        self.exposure = exposure_tallies(config)
        self.improper = 0
        self.detected = 0  # improper accesses of the year found within the horizon
        self.eventually_detected = 0
        self.covert_attempts = 0


def day_years(config: Config) -> list[int]:
    """Return the calendar year of each simulated day."""
    start = config.scenario.start_date
    return [(start + dt.timedelta(days=d)).year for d in range(config.scenario.days)]


def year_metrics(daily: dict[str, list[float]], days: list[int], tallies: dict[int, YearTally]) -> dict[str, float]:
    """Return every year's metrics as flat `by_year.<YYYY>.<path>` entries."""
    out: dict[str, float] = {}
    for year, tally in tallies.items():
        first = days.index(year)
        last = len(days) - days[::-1].index(year)

        def total(column: str, first: int = first, last: int = last) -> float:
            return sum(daily[column][first:last])

        improper = tally.improper
        values: dict[str, float] = {
            "requests.submitted": total("submitted"),
            "requests.granted": total("granted"),
            "requests.denied": total("denied"),
            "requests.expired": total("expired"),
            "residual_access.events": total("residual_events"),
            "residual_access.records": total("residual_records"),
            "exposure.distinct_records": sum(t.expected() for t in tally.exposure.values()),
            "at_rest_abroad.record_days": total("protected_records_abroad"),
            "detection.improper": improper,
            "detection.detected": tally.detected,
            "detection.detected_share": tally.detected / improper if improper else math.nan,
            "detection.eventually_detected": tally.eventually_detected,
            "detection.eventually_detected_share": tally.eventually_detected / improper if improper else math.nan,
            "controls.covert_attempts": tally.covert_attempts,
        }
        for channel in CHANNELS:
            values[f"residual_access.by_channel.{channel}.events"] = total(f"residual_{channel}")
            values[f"residual_access.by_channel.{channel}.records"] = tally.channel_records[channel]
        out.update({f"by_year.{year}.{name}": float(value) for name, value in values.items()})
    return out
