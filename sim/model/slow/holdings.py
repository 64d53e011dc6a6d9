"""What each site holds over time: replication, migration and long-tailed deletion."""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from statistics import NormalDist
from typing import Any

import simpy

from sim.config.schema import Config, Deletion, Migration
from sim.model.calendar import HOURS_PER_DAY, hours_since_start
from sim.model.rng import Streams
from sim.model.rulebook.events import Held, Observer, Transferred


def deletion_days(spec: Deletion) -> float:
    """Return how long a deletion takes in the world its `duration_quantile` places it in."""
    return spec.median_days * math.exp(spec.sigma * NormalDist().inv_cdf(spec.duration_quantile))


def deletion_residue(spec: Deletion) -> float:
    """Return the share a deletion leaves behind: its residue if this world's deletion stalls."""
    return spec.residue_share if spec.stall_quantile < spec.incomplete_probability else 0.0


@dataclass
class DeletionPlan:
    """A deletion with its drawn duration and the share it leaves behind."""

    spec: Deletion
    start_day: float
    duration_days: float
    residue: float
    base: float | None = None


@dataclass
class MigrationPlan:
    """A migration with the share it moves, fixed on the day it starts."""

    spec: Migration
    start_day: float
    base: float | None = None
    done: float = 0.0


class Holdings:
    """The share of each data class that each site holds, changing day by day."""

    def __init__(
        self, env: simpy.Environment, config: Config, streams: Streams, observer: Observer
    ) -> None:
        self.env = env
        self.config = config
        self.observer = observer
        self.share: dict[str, dict[str, float]] = {
            name: {cls: site.holdings.get(cls, 0.0) for cls in config.data}
            for name, site in config.sites.items()
        }
        start = config.scenario.start_date
        self.migrations = [
            MigrationPlan(m, hours_since_start(start, m.start) / HOURS_PER_DAY)
            for m in config.migrations
        ]
        self.deletions = [self._plan_deletion(d) for d in config.deletions]
        self.abroad_sites = [
            name for name, site in config.sites.items()
            if site.jurisdiction not in config.policy.allowed_rest
        ]
        env.process(self._daily())
        for replication in config.replication:
            env.process(self._replicate(replication.source, replication.target,
                                        replication.data_class, replication.interval_hours,
                                        replication.until))

    def _plan_deletion(self, spec: Deletion) -> DeletionPlan:
        # When a deletion ends and whether it stalls are facts of the world, not of a replication:
        # the world's quantiles place them, so replications of one world share them (issue 20).
        start_day = hours_since_start(self.config.scenario.start_date, spec.start) / HOURS_PER_DAY
        return DeletionPlan(spec, start_day, deletion_days(spec), deletion_residue(spec))

    def protected_records_abroad(self) -> float:
        """Return the counted-class records held at sites outside the allowed jurisdictions."""
        total = 0.0
        for cls in self.config.policy.counted_classes:
            records = self.config.data[cls].records
            total += sum(self.share[site][cls] for site in self.abroad_sites) * records
        return total

    def _daily(self) -> Generator[Any, Any, None]:
        for day in range(self.config.scenario.days):
            for migration in self.migrations:
                self._migrate(migration, day)
            for deletion in self.deletions:
                self._delete(deletion, day)
            self.observer.notify(Held(self.env.now, day, self.protected_records_abroad()))
            yield self.env.timeout(HOURS_PER_DAY)

    def _migrate(self, plan: MigrationPlan, day: int) -> None:
        if day < plan.start_day:
            return
        spec = plan.spec
        if plan.base is None:
            plan.base = self.share[spec.source][spec.data_class]
        progress = min(1.0, (day - plan.start_day) / spec.duration_days)
        step = (progress - plan.done) * plan.base
        plan.done = progress
        if step <= 0.0:
            return
        if not spec.keep_source:
            source = self.share[spec.source]
            left = source[spec.data_class] - step
            # A finished move empties what it moved: the steps' rounding must not leave a
            # phantom copy of 1e-16 that a covert export could still reach.
            source[spec.data_class] = 0.0 if progress >= 1.0 and left <= 1e-9 else max(0.0, left)
        target = self.share[spec.target]
        target[spec.data_class] = min(1.0, target[spec.data_class] + step)

    def _delete(self, plan: DeletionPlan, day: int) -> None:
        if day < plan.start_day:
            return
        held = self.share[plan.spec.site]
        cls = plan.spec.data_class
        if plan.base is None:
            plan.base = held[cls]
        remaining = max(0.0, 1.0 - (day - plan.start_day) / plan.duration_days)
        scheduled = plan.residue + (plan.base - plan.residue) * remaining
        held[cls] = min(held[cls], max(scheduled, 0.0))

    def _replicate(
        self, source: str, target: str, data_class: str, interval: float, until: Any
    ) -> Generator[Any, Any, None]:
        config = self.config
        stop = (hours_since_start(config.scenario.start_date, until) if until is not None
                else math.inf)
        crosses = config.sites[source].jurisdiction != config.sites[target].jurisdiction
        counted = data_class in config.policy.counted_classes
        while self.env.now < stop:
            # A backup copies what the source holds; it does not forget what the source has since
            # moved or deleted (that takes a deletion at the target).
            held = self.share[source][data_class]
            self.share[target][data_class] = max(held, self.share[target][data_class])
            if crosses and counted and held > 0.0:
                self.observer.notify(Transferred(self.env.now, source, target,
                                                 held * config.data[data_class].records))
            yield self.env.timeout(interval)
