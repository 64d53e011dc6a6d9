"""What each site holds over time: replication, migration and long-tailed deletion."""

from __future__ import annotations

import math
from collections.abc import Generator
from dataclasses import dataclass
from typing import Any

import simpy

from sim.config.schema import Config, Deletion, Migration
from sim.model.calendar import HOURS_PER_DAY, hours_since_start
from sim.model.events import Held, Observer, Transferred
from sim.model.rng import Streams


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
        self.deletions = [
            self._plan_deletion(i, d, streams) for i, d in enumerate(config.deletions)
        ]
        self.abroad_sites = [
            name for name, site in config.sites.items()
            if site.jurisdiction not in config.policy.allowed_rest
        ]
        env.process(self._daily())
        for replication in config.replication:
            env.process(self._replicate(replication.source, replication.target,
                                        replication.data_class, replication.interval_hours,
                                        replication.until))

    def _plan_deletion(self, index: int, spec: Deletion, streams: Streams) -> DeletionPlan:
        rng = streams.rng(f"deletion.{index}.{spec.site}.{spec.data_class}")
        duration = spec.median_days * math.exp(spec.sigma * float(rng.standard_normal()))
        incomplete = float(rng.random()) < spec.incomplete_probability
        start_day = hours_since_start(self.config.scenario.start_date, spec.start) / HOURS_PER_DAY
        return DeletionPlan(spec, start_day, duration, spec.residue_share if incomplete else 0.0)

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
            source[spec.data_class] = max(0.0, source[spec.data_class] - step)
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
