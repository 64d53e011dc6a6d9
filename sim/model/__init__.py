"""The SimPy world: sites, actors, the gatekeeper and controls. It emits events; no I/O.

The rulebook (`rulebook`) is written once and followed by two request drivers, the event driver
(`event`) and the batched one (`batched`), over the slow world (`slow`); `calendar`, `rng` and
`analytic` are leaves any of them may use.
"""

from sim.model.event.world import World
from sim.model.rulebook.events import Observer, Request

__all__ = ["Observer", "Request", "World"]
