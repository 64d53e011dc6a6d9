"""Streaming accumulators over the model's events: one replication's summary and daily series.

Requests reach the recorder as columns (`Tally`): the batched engine hands them over batch by
batch, and the event engine's request events are buffered into the same columns (`EventColumns`), so
every request statistic is derived by one ingestion path (`Recorder._ingest`). Memory grows
with simulated days (daily arrays), a fixed-size wait histogram and at most `FLUSH_ROWS`
buffered requests, never with the number of requests.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from sim.config.checks import unrouted_metric, unrouted_pairs
from sim.config.schema import CHANNELS, Channel, Config
from sim.metrics.columns import FLUSH_ROWS, EventColumns
from sim.metrics.exposure import DistinctRecords, Exposure
from sim.metrics.gate import GateLedger, running_sum
from sim.metrics.histogram import HIST_BINS, HIST_MIN_LOG, hist_edges, hist_index, hist_indexes, hist_quantile
from sim.metrics.years import YearTally, day_years, exposure_tallies, year_metrics
from sim.model.compiled import kernels
from sim.model.rulebook.events import (
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
from sim.model.rulebook.tally import ACCESS, CIPHERTEXT, DEIDENTIFIED, Reads, Tally

__all__ = ["DAILY_COLUMNS", "HIST_BINS", "HIST_MIN_LOG", "HOURS_PER_DAY", "GateLedger", "Recorder",
           "ReplicationResult", "hist_edges", "hist_index", "hist_indexes", "hist_quantile"]

#: The code of the covert channel in read rows (rows code channels by their place in CHANNELS).
COVERT = CHANNELS.index("covert")

HOURS_PER_DAY = 24.0

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



def present(codes: np.ndarray) -> list[int]:
    """Return the distinct codes (small non-negative integers) in ascending order, as `np.unique` would."""
    if not codes.size:
        return []
    return np.flatnonzero(np.bincount(codes)).tolist()


def _add_grouped(target: dict[Any, float], names: Sequence[Any], codes: np.ndarray, values: np.ndarray | None) -> None:
    """Add one per row (values None) or each row's value to target[names[code]], each key's rows in order."""
    if values is None:
        counts = np.bincount(codes) if codes.size else codes
        for code in np.flatnonzero(counts).tolist():
            key = names[code]
            target[key] = target[key] + int(counts[code])
        return
    for code in present(codes):
        key = names[code]
        target[key] = running_sum(target[key], values[codes == code])


def _expose(tally: DistinctRecords, records: np.ndarray) -> None:
    """Add reads to a distinct-records tally as `DistinctRecords.read` does one by one (libm log1p)."""
    tally.reads += records.size
    if tally.population <= 0.0:
        return
    share = records / tally.population
    logs = kernels().escape_logs(np.ascontiguousarray(share, dtype=float))
    tally.log_escape = running_sum(tally.log_escape, logs)



def _expose_split(tally: Exposure, records: np.ndarray, rows: np.ndarray, covert: np.ndarray) -> None:
    """Add rows' reads to an exposure tally: requested reads in bulk, covert exports one by one, each in order."""
    _expose(tally.requested, records[rows & ~covert])
    for exported in records[rows & covert].tolist():
        tally.covert.read(exported)

class Recorder:
    """Accumulate one replication's metrics: request events become columns, and columns statistics."""

    def __init__(self, config: Config) -> None:
        self.days = config.scenario.days
        self.horizon = self.days * HOURS_PER_DAY
        self.day_starts = np.arange(self.days) * HOURS_PER_DAY  # exact: whole hours
        self.classes = list(config.data)
        size = self.days
        # Daily columns are float arrays while the run goes on (a batch adds to them in place) and lists at the end.
        self.daily: dict[str, np.ndarray] = {name: np.zeros(size) for name in DAILY_COLUMNS}
        self.wait_sum_daily = np.zeros(size)
        self.wait_count_daily = np.zeros(size)
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
        self.year_of_day = np.array(self.day_year)
        self.years = {year: YearTally(config) for year in dict.fromkeys(self.day_year)}
        self.gate = GateLedger()
        self.sites = list(config.sites)
        self._rows = EventColumns()
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
        self._flush()
        self._ingest(tally)

    def _flush(self) -> None:
        """Pass the events buffered so far to the one columnar ingestion path, in the order reported."""
        if not self._rows.empty():
            rows, self._rows = self._rows, EventColumns()
            self._ingest(rows.tally())

    def _ingest(self, tally: Tally) -> None:
        """Derive every request statistic from columns: the one path both engines' requests take."""
        counts = self.counts
        counts["submitted"] += tally.submitted.size
        self._add_days(self.daily["submitted"], tally.submitted)
        for outcome, instants in tally.decided.items():
            counts[outcome] += instants.size
            self._add_days(self.daily[outcome], instants)
        counts["decision_hours"] = running_sum(counts["decision_hours"], tally.decision_hours)
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
            self.gate.columns(tally.gate)

    def _shielded_reads(self, reads: Reads) -> None:
        """Count reads a control made harmless, as `shielded` does row by row."""
        kind = reads.kind
        self.counts["deidentified"] += int(np.count_nonzero(kind == DEIDENTIFIED))
        cipher = kind == CIPHERTEXT
        self.counts["ciphertext"] += int(np.count_nonzero(cipher))
        self.ciphertext_records = running_sum(self.ciphertext_records, reads.records[cipher])

    def _residual_reads(self, reads: Reads) -> None:
        """Count residual accesses as `accessed` does row by row, each sum in row order."""
        rows = reads.kind == ACCESS
        if not rows.any():
            return
        t, records, channel, cls = reads.t[rows], reads.records[rows], reads.channel[rows], reads.cls[rows]
        day = self._days_of(t)
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
        for c in present(cls):
            tally = self.exposure.get(self.classes[c])
            if tally is not None:
                _expose_split(tally, records, (cls == c), channel == COVERT)
        daily = self.daily
        daily["residual_events"] += np.bincount(day, minlength=self.days)  # as `_add_days` (the days are found)
        np.add.at(daily["residual_records"], day, records)  # unbuffered: each day's records are added in order
        for code in present(channel):
            daily[f"residual_{CHANNELS[code]}"] += np.bincount(day[channel == code], minlength=self.days)
        year = self.year_of_day[day]
        improper, detected_at = reads.improper[rows], reads.detected_at[rows]
        for y in np.unique(year).tolist():
            self._year_reads(self.years[y], year == y, records, channel, cls, improper, detected_at)
        counts = self.counts
        counts["improper"] += int(np.count_nonzero(improper))
        found = improper & ~np.isnan(detected_at)
        counts["eventually_detected"] += int(np.count_nonzero(found))
        counts["eventual_detect_hours"] = running_sum(counts["eventual_detect_hours"], detected_at[found] - t[found])
        inside = found & (detected_at < self.horizon)
        counts["detected"] += int(np.count_nonzero(inside))
        counts["detect_hours"] = running_sum(counts["detect_hours"], detected_at[inside] - t[inside])
        self._add_days(daily["detected"], detected_at[inside])

    def _year_reads(self, tally: YearTally, rows: np.ndarray, records: np.ndarray, channel: np.ndarray,
                    cls: np.ndarray, improper: np.ndarray, detected_at: np.ndarray) -> None:
        _add_grouped(tally.channel_records, CHANNELS, channel[rows], records[rows])
        for c in present(cls[rows]):
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
        self.counts["wait_sum"] = running_sum(self.counts["wait_sum"], waits)
        days = self._days_of(starts)
        np.add.at(self.wait_sum_daily, days, waits)  # unbuffered: each day's waits are added in order
        self._add_days(self.wait_count_daily, starts)
        positive = waits[waits > 0.0]
        self.wait_hist[0] += waits.size - positive.size
        counts = np.bincount(hist_indexes(positive), minlength=len(self.wait_hist))
        self.wait_hist = (np.array(self.wait_hist) + counts).tolist()

    def _add_days(self, column: np.ndarray, instants: np.ndarray) -> None:
        if not instants.size:
            return
        if instants.size > 1 and bool((instants[1:] >= instants[:-1]).all()):  # in time order: find the days' starts
            per_day = np.diff(np.searchsorted(instants, self.day_starts, side="left"), append=instants.size)
        else:
            per_day = np.bincount(self._days_of(instants), minlength=self.days)
        # Each count is added to its day's float exactly (below 2**53), as Python adds an int to a float.
        column += per_day

    def _days_of(self, instants: np.ndarray) -> np.ndarray:
        """Return the day of each instant, the last day for any later: `min(t // 24, days - 1)`, exactly.

        t // 24 is the number of day starts at or before t, less one (day starts are exact
        multiples of 24). Instants in time order (reviews' starts) are searched by day: where
        each day starts among them, then each day's number repeated over its instants. Others
        take floor(t / 24), less one where the division rounded up onto the next day's start
        (`day * 24 > t`, exact), which is many times faster than a search over every instant
        or numpy's floor division; before 0 is -1, and NaN, as a search would place it, the last day.
        """
        if instants.size > 1 and bool((instants[1:] >= instants[:-1]).all()):
            firsts = np.searchsorted(instants, self.day_starts, side="left")
            return np.repeat(np.arange(-1, self.days), np.diff(firsts, prepend=0, append=instants.size))
        day = np.floor(instants / HOURS_PER_DAY)
        day -= day * HOURS_PER_DAY > instants
        return np.fmax(np.fmin(day, self.days - 1), -1).astype(np.int64)

    def submitted(self, event: Submitted) -> None:
        """Buffer a request's instant."""
        self._rows.submitted.append(event.t)
        self._rows.size += 1
        if self._rows.size >= FLUSH_ROWS:
            self._flush()

    def queued(self, event: Queued) -> None:
        """Ignore queue positions (the queue length is integrated from the gate's queue changes)."""

    def review_started(self, event: ReviewStarted) -> None:
        """Buffer a reviewed request's start and wait in the queue."""
        self._rows.starts.append(event.t)
        self._rows.waits.append(event.wait)

    def decided(self, event: Decided) -> None:
        """Buffer a request's outcome, its decision hours where a gate decided it, and a lost request."""
        rows, why = self._rows, event.reason
        rows.decided[event.outcome].append(event.t)
        if why in ("policy", "error", "parent"):
            rows.decision_hours.append(event.t - event.request.t_submit)
        elif why == "no_route":
            pair = (event.request.actor, event.request.data_class)
            rows.no_route[pair] = rows.no_route.get(pair, 0) + 1
        elif why == "emergency":
            rows.emergency += 1

    def accessed(self, event: Accessed) -> None:
        """Count a cross-border read that is not residual; buffer residual access as a row of `Reads`."""
        if event.channel is None:
            if event.cross_border:
                self.class_events[event.data_class] += 1
            return
        self._rows.reads.append((
            ACCESS, event.t, event.records, self.sites.index(event.site), CHANNELS.index(event.channel),
            GRANTS.index(event.grant or "covert"), self.classes.index(event.data_class), event.improper,
            math.nan if event.detected_at is None else event.detected_at,
            -1 if event.covert_mode is None else COVERT_MODES.index(event.covert_mode)))

    def shielded(self, event: Shielded) -> None:
        """Buffer a read the gateway or key custody made harmless as a row; count a covert try stopped."""
        kind = {"deidentified": DEIDENTIFIED, "ciphertext": CIPHERTEXT}.get(event.how)
        if kind is None:
            self.counts[event.how] += 1
            return
        self._rows.reads.append((kind, event.t, event.records, 0, 0, 0, 0, False, math.nan, -1))

    def covert_attempt(self, event: CovertAttempt) -> None:
        """Count a covert attempt."""
        self.counts["covert_attempts"] += 1
        self.years[self.day_year[min(int(event.t // HOURS_PER_DAY), self.days - 1)]].covert_attempts += 1
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
        self._flush()
        metrics = self._totals(pending) | self._breakdowns()
        daily = {name: column.tolist() for name, column in self.daily.items()}
        metrics.update(year_metrics(daily, self.day_year, self.years))
        daily["wait_hours_mean"] = [
            s / n if n else math.nan for s, n in zip(self.wait_sum_daily.tolist(), self.wait_count_daily.tolist(),
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
            # Granted, yet the read gave ciphertext only (keys held by a side the requester does not control).
            "requests.ciphertext_grants": c["ciphertext"],
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
