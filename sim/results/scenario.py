"""The record of one config's replications under one seed, as every later layer reads it."""

from __future__ import annotations

from dataclasses import dataclass

from sim.config.loader import LoadedConfig
from sim.metrics.recorder import ReplicationResult


@dataclass(frozen=True)
class ScenarioResult:
    """All replications of one loaded config under one seed."""

    loaded: LoadedConfig
    seed: int
    replications: list[ReplicationResult]
