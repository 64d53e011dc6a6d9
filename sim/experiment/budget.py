"""An estimate of a run's work and memory before it starts, and the limit above which it needs --yes."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from sim.config.schema import Config, WorkingHours
from sim.errors import InputError

#: Requests one worker simulates per second (measured: about 50,000 to 150,000 on one core).
REQUESTS_PER_SECOND = 100_000.0
#: Seconds each run costs before its first request (building the world, drawing streams).
SECONDS_PER_RUN = 0.02
#: Bytes a request may hold while it waits in a queue that never empties (a gate far too small).
BYTES_PER_QUEUED_REQUEST = 400.0
#: Above these a run needs --yes: an hour of one core, or 4 GB for one replication.
MAX_CPU_SECONDS = 3600.0
MAX_BYTES_PER_REPLICATION = 4e9


@dataclass(frozen=True)
class Budget:
    """What a run will cost: requests, runs, CPU time and the worst-case memory of one replication."""

    runs: int
    requests: float
    requests_per_replication: float

    @property
    def cpu_seconds(self) -> float:
        """Return the estimated CPU time in seconds (on one core)."""
        return self.requests / REQUESTS_PER_SECOND + self.runs * SECONDS_PER_RUN

    @property
    def peak_bytes(self) -> float:
        """Return the memory a replication needs if every request waits until the end."""
        return self.requests_per_replication * BYTES_PER_QUEUED_REQUEST

    def describe(self) -> str:
        """Return the estimate in words."""
        return (f"{self.runs:,} runs, about {self.requests:,.0f} requests ({self.requests_per_replication:,.0f} "
                f"in the largest run), about {_duration(self.cpu_seconds)} of CPU and up to "
                f"{self.peak_bytes / 1e9:.1f} GB of memory per run")


def requests_per_replication(config: Config) -> float:
    """Return the expected number of requests and covert attempts in one replication of a config."""
    days = config.scenario.days
    total = 0.0
    for actor in config.actors.values():
        total += actor.headcount * actor.requests_per_hour * _hours_per_day(actor.hours) * days
        total += actor.covert_attempts_per_year * days / 365.0
    return total


def _hours_per_day(hours: WorkingHours) -> float:
    return (hours.end_hour - hours.start_hour) * (5.0 / 7.0 if hours.weekdays_only else 1.0)


def estimate(configs: Sequence[Config], replications: int | Sequence[int]) -> Budget:
    """Return the budget of running each config the given number of replications."""
    counts = [replications] * len(configs) if isinstance(replications, int) else list(replications)
    per_run = [requests_per_replication(c) for c in configs]
    return Budget(sum(counts), sum(r * n for r, n in zip(per_run, counts, strict=True)), max(per_run, default=0.0))


def check(budget: Budget, allowed: bool) -> None:
    """Refuse a run above the limits unless the user said --yes."""
    if allowed:
        return
    if budget.cpu_seconds > MAX_CPU_SECONDS or budget.peak_bytes > MAX_BYTES_PER_REPLICATION:
        raise InputError("the run's size", None, f"this run would take {budget.describe()}; that is above the "
                         f"limits ({_duration(MAX_CPU_SECONDS)} of CPU, {MAX_BYTES_PER_REPLICATION / 1e9:.0f} GB "
                         "per run).", "check the rates, headcounts and days for a typo, use fewer replications "
                         "or days, or add --yes to run it anyway.")


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.0f} min"
    return f"{seconds / 3600:,.1f} h"
