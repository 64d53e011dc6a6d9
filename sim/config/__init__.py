"""Scenario configuration: the schema, the fact base and the loader."""

from sim.config.facts import Fact, load_facts
from sim.config.loader import LoadedConfig, Provenance, load_config
from sim.config.schema import CHANNELS, Config

__all__ = ["CHANNELS", "Config", "Fact", "LoadedConfig", "Provenance", "load_config", "load_facts"]
