"""The SimPy world: sites, actors, the gatekeeper and controls. It emits events; no I/O."""

from sim.model.events import Observer, Request
from sim.model.world import World

__all__ = ["Observer", "Request", "World"]
