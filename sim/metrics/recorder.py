"""Streaming accumulators over the model's events: one replication's summary and daily series.

Memory grows with simulated days (daily arrays) and a fixed-size wait histogram, never with
the number of requests.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from sim.config.schema import CHANNELS, Config
from sim.metrics.exposure import DistinctRecords
from sim.model.events import Request

HOURS_PER_DAY = 24.0
# Wait histogram: bin 0 holds zero waits, bin 1 waits under 1e-3 h, then 200 log-spaced bins
# per decade up to 1e5 h (relative resolution about 1.2%).
HIST_MIN_LOG, HIST_PER_DECADE, HIST_DECADES = -3, 200, 8
HIST_BINS = 2 + HIST_PER_DECADE * HIST_DECADES + 1

DAILY_COLUMNS: tuple[str, ...] = (
    "submitted", "granted", "denied", "expired", "residual_events", "residual_records",
    *(f"residual_{channel}" for channel in CHANNELS),
    "protected_records_abroad", "wait_hours_mean", "detected",
)


@dataclass(frozen=True)
class ReplicationResult:
    """The outputs of one replication: flat metric paths to values, and daily series."""

    metrics: dict[str, float]
    daily: dict[str, list[float]]
    wait_histogram: dict[int, int] = field(default_factory=dict)  # bin index -> count, zeros left out


def hist_index(wait: float) -> int:
    """Return the histogram bin of a wait in hours."""
    if wait <= 0.0:
        return 0
    if wait < 10.0**HIST_MIN_LOG:
        return 1
    index = 2 + int((math.log10(wait) - HIST_MIN_LOG) * HIST_PER_DECADE)
    return min(index, HIST_BINS - 1)


def hist_edges(index: int) -> tuple[float, float]:
    """Return the lower and upper wait (hours) of a histogram bin."""
    if index == 0:
        return 0.0, 0.0
    if index == 1:
        return 0.0, 10.0**HIST_MIN_LOG
    low = HIST_MIN_LOG + (index - 2) / HIST_PER_DECADE
    return 10.0**low, 10.0 ** (low + 1 / HIST_PER_DECADE)


def hist_quantile(counts: list[int], q: float) -> float:
    """Return the q-quantile of a wait histogram, interpolating inside the bin."""
    total = sum(counts)
    if total == 0:
        return math.nan
    target = q * total
    running = 0.0
    for index, count in enumerate(counts):
        if count and running + count >= target:
            low, high = hist_edges(index)
            return low + (high - low) * (target - running) / count
        running += count
    return hist_edges(len(counts) - 1)[1]


def exposure_tallies(config: Config) -> dict[str, DistinctRecords]:
    """Return a tally of distinct records read for each counted data class."""
    return {cls: DistinctRecords(config.data[cls].records) for cls in config.policy.counted_classes
            if cls in config.data}


class Recorder:
    """Accumulate one replication's metrics as the model reports events."""

    def __init__(self, config: Config) -> None:
        self.days = config.scenario.days
        self.horizon = self.days * HOURS_PER_DAY
        self.classes = list(config.data)
        size = self.days
        self.daily: dict[str, list[float]] = {name: [0.0] * size for name in DAILY_COLUMNS}
        self.wait_sum_daily = [0.0] * size
        self.wait_count_daily = [0.0] * size
        self.counts: dict[str, float] = {
            "submitted": 0, "granted": 0, "denied": 0, "expired": 0, "no_route": 0,
            "emergency": 0, "reviewed": 0, "wait_sum": 0.0, "improper": 0, "detected": 0,
            "detect_hours": 0.0, "deidentified": 0, "ciphertext": 0, "code_review": 0,
            "covert_attempts": 0, "transfers": 0, "transfer_records": 0.0, "record_days": 0.0,
            "records_abroad_end": 0.0, "decision_hours": 0.0, "gated_decisions": 0,
        }
        self.channel_events = dict.fromkeys(CHANNELS, 0.0)
        self.channel_records = dict.fromkeys(CHANNELS, 0.0)
        self.class_events = dict.fromkeys(self.classes, 0.0)
        self.wait_hist = [0] * HIST_BINS
        self.exposure = exposure_tallies(config)

    def _day(self, t: float) -> int:
        return min(int(t // HOURS_PER_DAY), self.days - 1)

    def submitted(self, t: float, request: Request) -> None:
        """Count a request."""
        self.counts["submitted"] += 1
        day = int(t // HOURS_PER_DAY)
        self.daily["submitted"][day if day < self.days else self.days - 1] += 1

    def queued(self, t: float, request: Request, ahead: int) -> None:
        """Ignore queue positions (the queue length is integrated by the gate itself)."""

    def review_started(self, t: float, request: Request, wait: float) -> None:
        """Record a reviewed request's wait in the queue."""
        counts = self.counts
        counts["reviewed"] += 1
        counts["wait_sum"] += wait
        day = int(t // HOURS_PER_DAY)
        if day >= self.days:
            day = self.days - 1
        self.wait_sum_daily[day] += wait
        self.wait_count_daily[day] += 1
        self.wait_hist[hist_index(wait) if wait > 0.0 else 0] += 1

    def decided(self, t: float, request: Request, outcome: str, why: str) -> None:
        """Count a request's outcome."""
        self.counts[outcome] += 1
        day = int(t // HOURS_PER_DAY)
        self.daily[outcome][day if day < self.days else self.days - 1] += 1
        if why in ("policy", "error", "parent"):
            self.counts["decision_hours"] += t - request.t_submit
            self.counts["gated_decisions"] += 1
        elif why == "no_route":
            self.counts["no_route"] += 1
        elif why == "emergency":
            self.counts["emergency"] += 1

    def accessed(
        self, t: float, request: Request | None, actor: str, site: str, data_class: str,
        records: float, cross_border: bool, channel: str | None, detected_at: float | None,
    ) -> None:
        """Count an access, and residual access by channel."""
        if cross_border:
            self.class_events[data_class] += 1
        if channel is None:
            return
        day = self._day(t)
        self.channel_events[channel] += 1
        self.channel_records[channel] += records
        if data_class in self.exposure:
            self.exposure[data_class].read(records)
        daily = self.daily
        daily["residual_events"][day] += 1
        daily["residual_records"][day] += records
        daily[f"residual_{channel}"][day] += 1
        if channel in ("approved_by_policy", "emergency_path"):
            return
        self.counts["improper"] += 1
        if detected_at is not None and detected_at < self.horizon:
            self.counts["detected"] += 1
            self.counts["detect_hours"] += detected_at - t
            daily["detected"][self._day(detected_at)] += 1

    def shielded(self, t: float, actor: str, how: str) -> None:
        """Count an access made harmless by a control."""
        self.counts[how] += 1

    def covert_attempt(self, t: float, actor: str) -> None:
        """Count a covert attempt."""
        self.counts["covert_attempts"] += 1

    def holdings(self, day: int, abroad_records: float) -> None:
        """Add a day of protected records at rest abroad."""
        self.daily["protected_records_abroad"][day] = abroad_records
        self.counts["record_days"] += abroad_records
        self.counts["records_abroad_end"] = abroad_records

    def transfer(self, t: float, source: str, target: str, records: float) -> None:
        """Count a cross-border replication transfer."""
        self.counts["transfers"] += 1
        self.counts["transfer_records"] += records

    def finish(self, pending: int, queue_area: float, busy_hours: float,
               available_hours: float) -> ReplicationResult:
        """Close the books at the horizon and return the replication's result."""
        c = self.counts
        reviewed = c["reviewed"]
        metrics: dict[str, float] = {
            "requests.submitted": c["submitted"],
            "requests.granted": c["granted"],
            "requests.denied": c["denied"],
            "requests.expired": c["expired"],
            "requests.queued_at_end": pending,
            "requests.no_route": c["no_route"],
            "requests.emergency_grants": c["emergency"],
            "friction.reviewed": reviewed,
            "friction.wait_hours": c["wait_sum"] / reviewed if reviewed else math.nan,
            "friction.wait_hours_p50": hist_quantile(self.wait_hist, 0.50),
            "friction.wait_hours_p95": hist_quantile(self.wait_hist, 0.95),
            "friction.decision_hours": (c["decision_hours"] / c["gated_decisions"]
                                        if c["gated_decisions"] else math.nan),
            "friction.utilisation": busy_hours / available_hours if available_hours else math.nan,
            "friction.queue_length": queue_area / self.horizon,
            "residual_access.events": sum(self.channel_events.values()),
            "residual_access.records": sum(self.channel_records.values()),
            "exposure.distinct_records": sum(tally.expected() for tally in self.exposure.values()),
            "at_rest_abroad.record_days": c["record_days"],
            "at_rest_abroad.records_at_end": c["records_abroad_end"],
            "at_rest_abroad.transfers": c["transfers"],
            "at_rest_abroad.transfer_records": c["transfer_records"],
            "detection.improper": c["improper"],
            "detection.detected": c["detected"],
            "detection.detected_share": c["detected"] / c["improper"] if c["improper"] else math.nan,
            "detection.mean_days_to_detect": (c["detect_hours"] / c["detected"] / HOURS_PER_DAY
                                              if c["detected"] else math.nan),
            "controls.deidentified": c["deidentified"],
            "controls.ciphertext": c["ciphertext"],
            "controls.covert_attempts": c["covert_attempts"],
            "controls.covert_stopped_by_code_review": c["code_review"],
        }
        for channel in CHANNELS:
            metrics[f"residual_access.by_channel.{channel}.events"] = self.channel_events[channel]
            metrics[f"residual_access.by_channel.{channel}.records"] = self.channel_records[channel]
        for cls in self.classes:
            metrics[f"foreign_access_by_class.{cls}.events"] = self.class_events[cls]
        daily = dict(self.daily)
        daily["wait_hours_mean"] = [
            s / n if n else math.nan for s, n in zip(self.wait_sum_daily, self.wait_count_daily,
                                                     strict=True)
        ]
        histogram = {i: n for i, n in enumerate(self.wait_hist) if n}
        return ReplicationResult({k: float(v) for k, v in metrics.items()}, daily, histogram)
