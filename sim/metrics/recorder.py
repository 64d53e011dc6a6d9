"""Streaming accumulators over the model's events: one replication's summary and daily series.

Memory grows with simulated days (daily arrays) and a fixed-size wait histogram, never with
the number of requests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.config.checks import unrouted_metric, unrouted_pairs
from sim.config.schema import CHANNELS, Channel, Config
from sim.metrics.exposure import DistinctRecords, Exposure
from sim.metrics.years import YearTally, day_years, exposure_tallies, year_metrics
from sim.model.events import (
    COVERT_MODES,
    GRANTS,
    Accessed,
    CovertAttempt,
    CovertMode,
    Decided,
    Event,
    Grant,
    Held,
    LeftQueue,
    QueueChanged,
    Queued,
    ReviewerBusy,
    ReviewStarted,
    Shielded,
    ShiftsPlanned,
    Submitted,
    Transferred,
)
from sim.model.tally import ACCESS, CIPHERTEXT, DEIDENTIFIED, Reads, Tally

#: The code of the covert channel in read rows (rows code channels by their place in CHANNELS).
COVERT = CHANNELS.index("covert")

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


def hist_indexes(waits: np.ndarray) -> np.ndarray:
    """Return `hist_index` of each positive wait, exactly as the scalar function gives it.

    numpy's log10 may differ from libm's in the last bits (SIMD versions differ between CPUs),
    which moves a bin only for a wait within about 1e-12 of a bin edge on the bin scale; waits
    within 1e-6 of an edge are binned again with `hist_index` itself, the rest keep numpy's bin.
    """
    out = np.ones(waits.size, dtype=np.int64)
    above = waits >= 10.0**HIST_MIN_LOG
    with np.errstate(divide="ignore"):
        scaled = (np.log10(waits[above]) - HIST_MIN_LOG) * HIST_PER_DECADE
    index = np.minimum(2 + np.floor(scaled).astype(np.int64), HIST_BINS - 1)
    near = np.abs(scaled - np.round(scaled)) < 1e-6
    index[near] = [hist_index(wait) for wait in waits[above][near].tolist()]
    out[above] = index
    return out


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


def _running_sum(start: float, addends: np.ndarray) -> float:
    """Return `start` plus the addends added one by one, in order (never pairwise)."""
    if not addends.size:
        return start
    return float(np.add.accumulate(np.concatenate(([start], addends)))[-1])


def _add_grouped(target: dict[Any, float], names: Sequence[Any], codes: np.ndarray, values: np.ndarray | None) -> None:
    """Add one per row (values None) or each row's value to target[names[code]], each key's rows in order."""
    for code in np.unique(codes).tolist():
        rows = codes == code
        key = names[code]
        target[key] = (target[key] + int(np.count_nonzero(rows)) if values is None
                       else _running_sum(target[key], values[rows]))


def _expose(tally: DistinctRecords, records: np.ndarray) -> None:
    """Add reads to a distinct-records tally as `DistinctRecords.read` does one by one (libm log1p)."""
    tally.reads += records.size
    if tally.population <= 0.0:
        return
    share = records / tally.population
    logs = np.array([-math.inf if s >= 1.0 else math.log1p(-s) for s in share.tolist()])
    tally.log_escape = _running_sum(tally.log_escape, logs)


def _expose_split(tally: Exposure, records: np.ndarray, rows: np.ndarray, covert: np.ndarray) -> None:
    """Add rows' reads to an exposure tally: requested reads in bulk, covert exports one by one, each in order."""
    _expose(tally.requested, records[rows & ~covert])
    for exported in records[rows & covert].tolist():
        tally.covert.read(exported)


class GateLedger:
    """Accumulate the gatekeeper's queue area, reviewer work and available hours from its events."""

    def __init__(self) -> None:
        self.queue_area = 0.0
        self.busy_hours = 0.0
        self.available_hours = 0.0
        self._last_change = 0.0

    def notify(self, event: Event) -> None:
        """Take a gate event; ignore every other kind."""
        if isinstance(event, QueueChanged):
            self.queue_changed(event)
        elif isinstance(event, LeftQueue):
            self.left_queue(event)
        elif isinstance(event, ReviewerBusy):
            self.reviewer_busy(event)
        elif isinstance(event, ShiftsPlanned):
            self.shifts_planned(event)

    def queue_changed(self, event: QueueChanged) -> None:
        """Add the queue's length times the hours since its previous change."""
        self.queue_area += event.length * (event.t - self._last_change)
        self._last_change = event.t

    def left_queue(self, event: LeftQueue) -> None:
        """Take back the area an expired request was counted for past its deadline."""
        self.queue_area -= event.t - event.expired_at

    def reviewer_busy(self, event: ReviewerBusy) -> None:
        """Add a review's hours, and its overtime to the hours available."""
        self.busy_hours += event.until - event.t
        if event.overtime:
            self.available_hours += event.overtime

    def shifts_planned(self, event: ShiftsPlanned) -> None:
        """Start the hours available from the roster."""
        self.available_hours = event.hours


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
            "covert_attempts": 0, "egress_monitoring": 0, "transfers": 0, "transfer_records": 0.0, "record_days": 0.0,
            "records_abroad_end": 0.0, "decision_hours": 0.0, "gated_decisions": 0,
            "eventually_detected": 0, "eventual_detect_hours": 0.0, "no_reach": 0,
        }
        self.channel_events: dict[Channel, float] = dict.fromkeys(CHANNELS, 0.0)
        self.channel_records: dict[Channel, float] = dict.fromkeys(CHANNELS, 0.0)
        self.grant_events: dict[Grant, float] = dict.fromkeys(GRANTS, 0.0)
        self.grant_records: dict[Grant, float] = dict.fromkeys(GRANTS, 0.0)
        self.site_events = dict.fromkeys(config.sites, 0.0)
        self.site_records = dict.fromkeys(config.sites, 0.0)
        self.ciphertext_records = 0.0
        self.covert_attempts: dict[CovertMode, float] = dict.fromkeys(COVERT_MODES, 0.0)
        self.covert_events: dict[CovertMode, float] = dict.fromkeys(COVERT_MODES, 0.0)
        self.covert_records: dict[CovertMode, float] = dict.fromkeys(COVERT_MODES, 0.0)
        self.class_events = dict.fromkeys(self.classes, 0.0)
        self.wait_hist = [0] * HIST_BINS
        # Requests lost by (actor, data class) pairs that no route serves (validate warns of them).
        self.unrouted = dict.fromkeys(unrouted_pairs(config), 0)
        self.exposure = exposure_tallies(config)
        self.day_year = day_years(config)
        self.years = {year: YearTally(config) for year in dict.fromkeys(self.day_year)}
        self.gate = GateLedger()
        self._handlers: dict[type, Callable[[Any], None]] = {
            Submitted: self.submitted, Queued: self.queued, ReviewStarted: self.review_started,
            Decided: self.decided, Accessed: self.accessed, Shielded: self.shielded,
            CovertAttempt: self.covert_attempt, Held: self.held, Transferred: self.transferred,
            QueueChanged: self.gate.queue_changed, LeftQueue: self.gate.left_queue,
            ReviewerBusy: self.gate.reviewer_busy, ShiftsPlanned: self.gate.shifts_planned,
        }

    def notify(self, event: Event) -> None:
        """Take one event: every kind has its own accumulator."""
        self._handlers[type(event)](event)

    def tally(self, tally: Tally) -> None:
        """Take a batch of requests' bulk contributions, adding float sums in the order given."""
        counts = self.counts
        counts["submitted"] += tally.submitted.size
        self._add_days(self.daily["submitted"], tally.submitted)
        for outcome, instants in tally.decided.items():
            counts[outcome] += instants.size
            self._add_days(self.daily[outcome], instants)
        counts["decision_hours"] = _running_sum(counts["decision_hours"], tally.decision_hours)
        counts["gated_decisions"] += tally.decision_hours.size
        counts["emergency"] += tally.emergency
        for pair, lost in tally.no_route.items():
            counts["no_route"] += lost
            if pair in self.unrouted:
                self.unrouted[pair] += lost
        self._reviews(tally.review_starts, tally.waits)
        for cls, events in tally.class_events.items():
            self.class_events[cls] += events
        if tally.reads is not None:
            self._shielded_reads(tally.reads)
            self._residual_reads(tally.reads)
        if tally.gate is not None:
            self.gate.queue_area = tally.gate.queue_area
            self.gate.busy_hours = tally.gate.busy_hours
            self.gate.available_hours = tally.gate.available_hours

    def _shielded_reads(self, reads: Reads) -> None:
        """Count reads a control made harmless, as `shielded` does row by row."""
        kind = reads.kind
        self.counts["deidentified"] += int(np.count_nonzero(kind == DEIDENTIFIED))
        cipher = kind == CIPHERTEXT
        self.counts["ciphertext"] += int(np.count_nonzero(cipher))
        self.ciphertext_records = _running_sum(self.ciphertext_records, reads.records[cipher])

    def _residual_reads(self, reads: Reads) -> None:
        """Count residual accesses as `accessed` does row by row, each sum in row order."""
        rows = reads.kind == ACCESS
        if not rows.any():
            return
        t, records, channel, cls = reads.t[rows], reads.records[rows], reads.channel[rows], reads.cls[rows]
        day = np.minimum(t // HOURS_PER_DAY, self.days - 1).astype(np.int64)
        _add_grouped(self.class_events, self.classes, cls, None)
        _add_grouped(self.channel_events, CHANNELS, channel, None)
        _add_grouped(self.channel_records, CHANNELS, channel, records)
        _add_grouped(self.grant_events, GRANTS, reads.grant[rows], None)
        _add_grouped(self.grant_records, GRANTS, reads.grant[rows], records)
        sites = list(self.site_events)
        _add_grouped(self.site_events, sites, reads.site[rows], None)
        _add_grouped(self.site_records, sites, reads.site[rows], records)
        mode = reads.mode[rows]
        covert = mode >= 0
        _add_grouped(self.covert_events, COVERT_MODES, mode[covert], None)
        _add_grouped(self.covert_records, COVERT_MODES, mode[covert], records[covert])
        for c in np.unique(cls).tolist():
            tally = self.exposure.get(self.classes[c])
            if tally is not None:
                _expose_split(tally, records, (cls == c), channel == COVERT)
        daily = self.daily
        self._add_days(daily["residual_events"], t)
        column = np.array(daily["residual_records"])
        np.add.at(column, day, records)
        daily["residual_records"] = column.tolist()
        for code in np.unique(channel).tolist():
            self._add_days(daily[f"residual_{CHANNELS[code]}"], t[channel == code])
        year = np.array(self.day_year)[day]
        improper, detected_at = reads.improper[rows], reads.detected_at[rows]
        for y in np.unique(year).tolist():
            self._year_reads(self.years[y], year == y, records, channel, cls, improper, detected_at)
        counts = self.counts
        counts["improper"] += int(np.count_nonzero(improper))
        found = improper & ~np.isnan(detected_at)
        counts["eventually_detected"] += int(np.count_nonzero(found))
        counts["eventual_detect_hours"] = _running_sum(counts["eventual_detect_hours"], detected_at[found] - t[found])
        inside = found & (detected_at < self.horizon)
        counts["detected"] += int(np.count_nonzero(inside))
        counts["detect_hours"] = _running_sum(counts["detect_hours"], detected_at[inside] - t[inside])
        self._add_days(daily["detected"], detected_at[inside])

    def _year_reads(self, tally: YearTally, rows: np.ndarray, records: np.ndarray, channel: np.ndarray,
                    cls: np.ndarray, improper: np.ndarray, detected_at: np.ndarray) -> None:
        _add_grouped(tally.channel_records, CHANNELS, channel[rows], records[rows])
        for c in np.unique(cls[rows]).tolist():
            exposure = tally.exposure.get(self.classes[c])
            if exposure is not None:
                _expose_split(exposure, records, rows & (cls == c), channel == COVERT)
        wrong = rows & improper
        tally.improper += int(np.count_nonzero(wrong))
        found = wrong & ~np.isnan(detected_at)
        tally.eventually_detected += int(np.count_nonzero(found))
        tally.detected += int(np.count_nonzero(found & (detected_at < self.horizon)))

    def _reviews(self, starts: np.ndarray, waits: np.ndarray) -> None:
        if not waits.size:
            return
        self.counts["reviewed"] += waits.size
        self.counts["wait_sum"] = _running_sum(self.counts["wait_sum"], waits)
        days = np.minimum(starts // HOURS_PER_DAY, self.days - 1).astype(np.int64)
        sums = np.array(self.wait_sum_daily)
        np.add.at(sums, days, waits)  # unbuffered: each day's waits are added in order
        self.wait_sum_daily = sums.tolist()
        self._add_days(self.wait_count_daily, starts)
        positive = waits[waits > 0.0]
        self.wait_hist[0] += waits.size - positive.size
        for index, count in zip(*np.unique(hist_indexes(positive), return_counts=True), strict=True):
            self.wait_hist[int(index)] += int(count)

    def _add_days(self, column: list[float], instants: np.ndarray) -> None:
        if not instants.size:
            return
        days = np.minimum(instants // HOURS_PER_DAY, self.days - 1).astype(np.int64)
        per_day = np.bincount(days, minlength=self.days)
        for day in np.flatnonzero(per_day).tolist():
            column[day] += int(per_day[day])

    def _day(self, t: float) -> int:
        return min(int(t // HOURS_PER_DAY), self.days - 1)

    def submitted(self, event: Submitted) -> None:
        """Count a request."""
        self.counts["submitted"] += 1
        day = int(event.t // HOURS_PER_DAY)
        self.daily["submitted"][day if day < self.days else self.days - 1] += 1

    def queued(self, event: Queued) -> None:
        """Ignore queue positions (the queue length is integrated from the gate's queue changes)."""

    def review_started(self, event: ReviewStarted) -> None:
        """Record a reviewed request's wait in the queue."""
        wait = event.wait
        counts = self.counts
        counts["reviewed"] += 1
        counts["wait_sum"] += wait
        day = int(event.t // HOURS_PER_DAY)
        if day >= self.days:
            day = self.days - 1
        self.wait_sum_daily[day] += wait
        self.wait_count_daily[day] += 1
        self.wait_hist[hist_index(wait) if wait > 0.0 else 0] += 1

    def decided(self, event: Decided) -> None:
        """Count a request's outcome."""
        t, outcome, why = event.t, event.outcome, event.reason
        self.counts[outcome] += 1
        day = int(t // HOURS_PER_DAY)
        self.daily[outcome][day if day < self.days else self.days - 1] += 1
        if why in ("policy", "error", "parent"):
            self.counts["decision_hours"] += t - event.request.t_submit
            self.counts["gated_decisions"] += 1
        elif why == "no_route":
            self.counts["no_route"] += 1
            pair = (event.request.actor, event.request.data_class)
            if pair in self.unrouted:
                self.unrouted[pair] += 1
        elif why == "emergency":
            self.counts["emergency"] += 1

    def accessed(self, event: Accessed) -> None:
        """Count an access, and residual access by channel."""
        if event.cross_border:
            self.class_events[event.data_class] += 1
        channel = event.channel
        if channel is None:
            return
        t, records, detected_at = event.t, event.records, event.detected_at
        day = self._day(t)
        year = self.years[self.day_year[day]]
        self.channel_events[channel] += 1
        self.channel_records[channel] += records
        year.channel_records[channel] += records
        exposure = self.exposure.get(event.data_class)
        if exposure is not None:
            exposure.read(records, channel == "covert")
            year.exposure[event.data_class].read(records, channel == "covert")
        if event.grant is not None:
            self.grant_events[event.grant] += 1
            self.grant_records[event.grant] += records
        self.site_events[event.site] += 1
        self.site_records[event.site] += records
        if event.covert_mode is not None:
            self.covert_events[event.covert_mode] += 1
            self.covert_records[event.covert_mode] += records
        daily = self.daily
        daily["residual_events"][day] += 1
        daily["residual_records"][day] += records
        daily[f"residual_{channel}"][day] += 1
        if not event.improper:
            return
        self.counts["improper"] += 1
        year.improper += 1
        if detected_at is None:
            return
        # The delay was drawn at access time: follow it past the horizon, and count apart what falls inside.
        self.counts["eventually_detected"] += 1
        year.eventually_detected += 1
        self.counts["eventual_detect_hours"] += detected_at - t
        if detected_at < self.horizon:
            self.counts["detected"] += 1
            year.detected += 1
            self.counts["detect_hours"] += detected_at - t
            daily["detected"][self._day(detected_at)] += 1

    def shielded(self, event: Shielded) -> None:
        """Count an access made harmless by a control."""
        self.counts[event.how] += 1
        if event.how == "ciphertext":
            self.ciphertext_records += event.records

    def covert_attempt(self, event: CovertAttempt) -> None:
        """Count a covert attempt."""
        self.counts["covert_attempts"] += 1
        self.years[self.day_year[self._day(event.t)]].covert_attempts += 1
        self.covert_attempts[event.mode] += 1

    def held(self, event: Held) -> None:
        """Add a day of protected records at rest abroad."""
        abroad_records = event.abroad_records
        self.daily["protected_records_abroad"][event.day] = abroad_records
        self.counts["record_days"] += abroad_records
        self.counts["records_abroad_end"] = abroad_records

    def transferred(self, event: Transferred) -> None:
        """Count a cross-border replication transfer."""
        self.counts["transfers"] += 1
        self.counts["transfer_records"] += event.records

    def finish(self, pending: int) -> ReplicationResult:
        """Close the books at the horizon and return the replication's result."""
        metrics = self._totals(pending) | self._breakdowns()
        metrics.update(year_metrics(self.daily, self.day_year, self.years))
        daily = dict(self.daily)
        daily["wait_hours_mean"] = [
            s / n if n else math.nan for s, n in zip(self.wait_sum_daily, self.wait_count_daily,
                                                     strict=True)
        ]
        histogram = {i: n for i, n in enumerate(self.wait_hist) if n}
        return ReplicationResult({k: float(v) for k, v in metrics.items()}, daily, histogram)

    def _totals(self, pending: int) -> dict[str, float]:
        """Return the run's headline totals, rates and shares."""
        c = self.counts
        reviewed = c["reviewed"]
        busy_hours, available_hours = self.gate.busy_hours, self.gate.available_hours
        queue_area = self.gate.queue_area
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
            "exposure.by_requested_reads.distinct_records": sum(t.requested.expected() for t in self.exposure.values()),
            "exposure.by_covert_exports.distinct_records": sum(t.covert.expected() for t in self.exposure.values()),
            "at_rest_abroad.record_days": c["record_days"],
            "at_rest_abroad.records_at_end": c["records_abroad_end"],
            "at_rest_abroad.transfers": c["transfers"],
            "at_rest_abroad.transfer_records": c["transfer_records"],
            "detection.improper": c["improper"],
            "detection.detected": c["detected"],
            "detection.detected_share": c["detected"] / c["improper"] if c["improper"] else math.nan,
            "detection.eventually_detected": c["eventually_detected"],
            "detection.eventually_detected_share": (c["eventually_detected"] / c["improper"]
                                                    if c["improper"] else math.nan),
            "detection.mean_days_to_detect": (c["detect_hours"] / c["detected"] / HOURS_PER_DAY
                                              if c["detected"] else math.nan),
            "detection.eventual_mean_days_to_detect": (
                c["eventual_detect_hours"] / c["eventually_detected"] / HOURS_PER_DAY
                if c["eventually_detected"] else math.nan),
            "controls.deidentified": c["deidentified"],
            "controls.ciphertext": c["ciphertext"],
            "controls.ciphertext_reads": c["ciphertext"],
            "controls.ciphertext_records": self.ciphertext_records,
            "controls.covert_attempts": c["covert_attempts"],
            "controls.covert_stopped_by_code_review": c["code_review"],
            "controls.covert_stopped_by_egress_monitoring": c["egress_monitoring"],
            "controls.covert_without_reach": c["no_reach"],
        }
        return metrics

    def _breakdowns(self) -> dict[str, float]:
        """Return residual access by channel, grant, covert mode, site and class, and unrouted losses."""
        metrics: dict[str, float] = {}
        for channel in CHANNELS:
            metrics[f"residual_access.by_channel.{channel}.events"] = self.channel_events[channel]
            metrics[f"residual_access.by_channel.{channel}.records"] = self.channel_records[channel]
        for grant in GRANTS:
            metrics[f"residual_access.by_grant.{grant}.events"] = self.grant_events[grant]
            metrics[f"residual_access.by_grant.{grant}.records"] = self.grant_records[grant]
        for mode in COVERT_MODES:
            metrics[f"covert.{mode}.attempts"] = self.covert_attempts[mode]
            metrics[f"covert.{mode}.events"] = self.covert_events[mode]
            metrics[f"covert.{mode}.records"] = self.covert_records[mode]
        for site in self.site_events:
            metrics[f"residual_access.by_site.{site}.events"] = self.site_events[site]
            metrics[f"residual_access.by_site.{site}.records"] = self.site_records[site]
        for cls in self.classes:
            metrics[f"foreign_access_by_class.{cls}.events"] = self.class_events[cls]
        for (actor, cls), lost in self.unrouted.items():
            metrics[unrouted_metric(actor, cls)] = lost
        return metrics
