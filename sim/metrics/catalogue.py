"""The one catalogue of metrics: each metric's path, kind, unit, label and the headline tables showing it.

Everything that lists metrics derives from here: the command line's `run` and `compare` tables,
the report page's headline table, the lessons' key figures, how a number is shown (its kind),
and the outputs a sweep or a lesson may name. A path with `{channel}`, `{grant}`, `{mode}`, `{site}`
or `{data_class}` stands for one metric per channel, grant, covert mode, site or data class.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Literal

from sim.config.schema import CHANNELS, Config
from sim.model.rulebook.events import COVERT_MODES, GRANTS

Kind = Literal["count", "share", "hours", "days"]
Table = Literal["run", "compare", "report", "lesson"]
#: How a metric is reported per calendar year: "sum" (the years add up to the whole run),
#: "own" (a figure of each year's own, such as a share or distinct people), or "" (not per year).
Yearly = Literal["sum", "own", ""]

RUN: Table = "run"
COMPARE: Table = "compare"
REPORT: Table = "report"
LESSON: Table = "lesson"
EVERY_TABLE: frozenset[Table] = frozenset({RUN, COMPARE, REPORT, LESSON})
#: Metrics reported per calendar year are under this prefix: `by_year.2023.<path>`.
BY_YEAR = "by_year"


@dataclass(frozen=True)
class Metric:
    """One metric: where it sits in `--json`, how it is shown, and which headline tables show it."""

    path: str
    kind: Kind
    unit: str
    label: str  # the head of its row or column in the command line's tables
    headline: frozenset[Table] = frozenset()
    report_label: str = ""  # the report page's head, where it says more than `label`
    lesson_label: str = ""  # the lessons' key-figure label, where it differs from `label`
    yearly: Yearly = ""

    def label_in(self, table: Table) -> str:
        """Return the label a headline table gives the metric."""
        if table == REPORT and self.report_label:
            return self.report_label
        if table == LESSON and self.lesson_label:
            return self.lesson_label
        return self.label


def _m(path: str, kind: Kind, unit: str, label: str, headline: Iterable[Table] = (),
       report_label: str = "", lesson_label: str = "", yearly: Yearly = "") -> Metric:
    return Metric(path, kind, unit, label, frozenset(headline), report_label, lesson_label, yearly)


# Headline metrics come first, in the order the headline tables show them.
METRICS: tuple[Metric, ...] = (
    _m("residual_access.events", "count", "accesses", "residual accesses", EVERY_TABLE,
       "residual accesses", "residual accesses / year", yearly="sum"),
    _m("residual_access.records", "count", "record-reads", "records read abroad", EVERY_TABLE,
       "records read abroad", yearly="sum"),
    _m("exposure.distinct_records", "count", "people", "people exposed", EVERY_TABLE,
       "distinct protected records read abroad", yearly="own"),
    _m("exposure.by_requested_reads.distinct_records", "count", "people", "people exposed by requested reads",
       (RUN,), "distinct protected records read abroad through requests"),
    _m("exposure.by_covert_exports.distinct_records", "count", "people", "people exposed by covert exports",
       (RUN,), "distinct protected records exported covertly"),
    _m("at_rest_abroad.record_days", "count", "record-days", "record-days abroad", EVERY_TABLE,
       "protected record-days abroad", yearly="sum"),
    _m("friction.wait_hours", "hours", "hours", "gate wait h (mean)", EVERY_TABLE,
       "gate wait, mean (h)", "gate wait (h)"),
    _m("friction.wait_hours_p95", "hours", "hours", "gate wait h (p95)", (RUN, REPORT),
       "gate wait, p95 (h)"),
    _m("friction.decision_hours", "hours", "hours", "time to decision h", EVERY_TABLE,
       "time to decision (h)", "time to decision (h)"),
    _m("friction.utilisation", "share", "share of reviewer hours", "gate utilisation", (RUN,)),
    _m("requests.denied", "count", "requests", "requests denied", (RUN,), yearly="sum"),
    _m("requests.ciphertext_grants", "count", "requests", "grants yielding only ciphertext", (RUN,)),
    _m("requests.expired", "count", "requests", "requests expired", (LESSON,), yearly="sum"),
    _m("detection.detected_share", "share", "share of improper accesses", "improper accesses detected", (RUN,),
       yearly="own"),
    _m("detection.eventually_detected_share", "share", "share of improper accesses",
       "improper accesses detected eventually", (RUN,), yearly="own"),
    # The rest, in the order of `--json`.
    _m("requests.submitted", "count", "requests", "requests submitted", yearly="sum"),
    _m("requests.granted", "count", "requests", "requests granted", yearly="sum"),
    _m("requests.queued_at_end", "count", "requests", "requests queued at the end"),
    _m("requests.no_route", "count", "requests", "requests with no route"),
    _m("requests.emergency_grants", "count", "requests", "emergency grants"),
    _m("friction.reviewed", "count", "requests", "requests reviewed"),
    _m("friction.wait_hours_p50", "hours", "hours", "gate wait h (median)"),
    _m("friction.queue_length", "count", "requests", "mean queue length"),
    _m("at_rest_abroad.records_at_end", "count", "records", "records abroad at the end"),
    _m("at_rest_abroad.transfers", "count", "transfers", "cross-border transfers"),
    _m("at_rest_abroad.transfer_records", "count", "records", "records transferred abroad"),
    _m("detection.improper", "count", "accesses", "improper accesses", yearly="sum"),
    _m("detection.detected", "count", "accesses", "improper accesses detected in the horizon", yearly="sum"),
    _m("detection.eventually_detected", "count", "accesses", "improper accesses detected eventually", yearly="sum"),
    _m("detection.mean_days_to_detect", "days", "days", "days to detect (mean)"),
    _m("detection.eventual_mean_days_to_detect", "days", "days", "days to detect, eventually (mean)"),
    _m("controls.deidentified", "count", "accesses", "reads de-identified"),
    _m("controls.ciphertext", "count", "accesses", "reads yielding ciphertext"),
    _m("controls.covert_attempts", "count", "attempts", "covert attempts", yearly="sum"),
    _m("controls.ciphertext_reads", "count", "accesses", "ciphertext reads"),
    _m("controls.ciphertext_records", "count", "records", "records read as ciphertext"),
    _m("controls.covert_stopped_by_code_review", "count", "attempts", "covert attempts stopped by code review"),
    _m("controls.covert_stopped_by_egress_monitoring", "count", "attempts",
       "covert attempts stopped by egress monitoring"),
    _m("controls.covert_without_reach", "count", "attempts",
       "covert attempts that found no plaintext to reach and no insider"),
    _m("residual_access.by_channel.{channel}.events", "count", "accesses", "residual accesses via {channel}",
       yearly="sum"),
    _m("residual_access.by_channel.{channel}.records", "count", "record-reads", "records read via {channel}",
       yearly="sum"),
    _m("residual_access.by_grant.{grant}.events", "count", "accesses", "residual accesses granted by {grant}"),
    _m("residual_access.by_grant.{grant}.records", "count", "record-reads", "records read granted by {grant}"),
    _m("covert.{mode}.attempts", "count", "attempts", "{mode} covert attempts"),
    _m("covert.{mode}.events", "count", "accesses", "{mode} covert reads"),
    _m("covert.{mode}.records", "count", "record-reads", "{mode} covert records read"),
    _m("residual_access.by_site.{site}.events", "count", "accesses", "residual accesses at {site}"),
    _m("residual_access.by_site.{site}.records", "count", "record-reads", "records read at {site}"),
    _m("foreign_access_by_class.{data_class}.events", "count", "accesses", "reads of {data_class} from abroad"),
)
_BY_PATH = {m.path: m for m in METRICS}
_PLACEHOLDER = re.compile(r"\{(\w+)\}")
_PATTERNS = [(re.compile("^" + "[^.]+".join(map(re.escape, _PLACEHOLDER.split(m.path)[::2])) + "$"), m)
             for m in METRICS if "{" in m.path]
_YEAR_PREFIX = re.compile(rf"^{BY_YEAR}\.\d{{4}}\.")


def headline(table: Table) -> list[Metric]:
    """Return the metrics a headline table shows, in its order."""
    return [m for m in METRICS if table in m.headline]


def find(path: str) -> Metric | None:
    """Return the catalogue's entry for a concrete metric path (per-year paths included), if any."""
    path = _YEAR_PREFIX.sub("", path)
    found = _BY_PATH.get(path)
    if found is not None:
        return found
    return next((m for pattern, m in _PATTERNS if pattern.match(path)), None)


def kind_of(path: str) -> Kind:
    """Return how to show a metric's numbers: a count, a share, hours or days."""
    found = find(path)
    return "count" if found is None else found.kind


def expand(metric: Metric, config: Config) -> list[str]:
    """Return the concrete paths of a catalogue entry for a config's channels and data classes."""
    names = {"channel": CHANNELS, "data_class": tuple(config.data), "grant": GRANTS, "mode": COVERT_MODES,
             "site": tuple(config.sites)}
    paths = [metric.path]
    for placeholder in _PLACEHOLDER.findall(metric.path):
        paths = [p.replace("{" + placeholder + "}", name) for p in paths for name in names[placeholder]]
    return paths


def years(config: Config) -> list[int]:
    """Return the calendar years a config's horizon touches."""
    start, days = config.scenario.start_date, config.scenario.days
    return list(range(start.year, (start + dt.timedelta(days=days - 1)).year + 1))


def metric_paths(config: Config) -> list[str]:
    """Return every metric path a config's run reports, the per-year ones last."""
    paths = [path for metric in METRICS for path in expand(metric, config)]
    yearly = [path for metric in METRICS if metric.yearly for path in expand(metric, config)]
    return paths + [f"{BY_YEAR}.{year}.{path}" for year in years(config) for path in yearly]
