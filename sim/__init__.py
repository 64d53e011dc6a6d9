"""residency: a discrete-event simulator of cross-border access to protected user data.

The Python API (sim.api) is importable from here: `sim.load`, `sim.run`, `sim.compare`,
`sim.sweep`, `sim.attribute`, `sim.explore` and `sim.list` (the shipped names). It loads on
first use, so the command line starts fast.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from sim.version import __version__

API = ("load", "run", "compare", "sweep", "attribute", "RunResult", "Comparison", "SweepResult",
       "AttributionResult")
MORE = {"explore": "explore", "list": "list_shipped", "ExploreResult": "ExploreResult"}  # from sim.api_explore
__all__ = ["AttributionResult", "Comparison", "ExploreResult", "RunResult", "SweepResult", "__version__",
           "attribute", "compare", "explore", "list", "load", "run", "sweep"]

if TYPE_CHECKING:
    from sim.api import AttributionResult, Comparison, RunResult, SweepResult, attribute, compare, load, run, sweep
    from sim.api_explore import ExploreResult, explore


def __getattr__(name: str) -> Any:
    """Load the API on first use of one of its names."""
    if name in API:
        from sim import api

        if hasattr(api, name):
            return getattr(api, name)
    if name in MORE:
        from sim import api_explore

        return getattr(api_explore, MORE[name])
    raise AttributeError(f"module 'sim' has no attribute {name!r}")


def __dir__() -> list[str]:
    """List the package's public names."""
    return sorted(__all__)
