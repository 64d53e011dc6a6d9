"""Waves of history matching: sample again inside what the record has not ruled out, and match again.

After a wave rules worlds out, the next wave samples the same number of new worlds inside the
smallest box (in each parameter's unit coordinate) that holds every world not ruled out, runs
them, and matches them again (Vernon et al. 2010; Andrianakis et al. 2015). The waves stop when
the budget of waves is spent, when no world is ruled out, or when the box no longer shrinks by
more than one design stratum (1 / worlds) in any direction.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from sim.experiment.explore import Exploration


def wave_entry(index: int, exploration: Exploration, section: dict[str, Any]) -> dict[str, Any]:
    """Return one wave's record: its worlds, how many the record rules out and by which observations, and the
    parameter ranges it narrows (before and after)."""
    return {"wave": index, "worlds": exploration.worlds, "ruled_out": section["ruled_out"],
            "remaining": section["remaining"],
            "by_observation": {key: entry["ruled_out"] for key, entry in section["observations"].items()
                               if entry.get("used", True)},
            "narrowed": {key: {"before": section["ranges_before"][key], "after": after}
                         for key, after in section["ranges_after"].items()
                         if section["ranges_before"].get(key) != after}}


def next_box(exploration: Exploration, keep: np.ndarray,
             current: tuple[np.ndarray, np.ndarray] | None) -> tuple[np.ndarray, np.ndarray] | None:
    """Return the unit box of the worlds not ruled out, or None when the waves should stop.

    Args:
        exploration: The wave just matched.
        keep: Its worlds not ruled out.
        current: The box it was sampled in (the whole space when None).
    """
    count = exploration.units.shape[1]
    low, high = current if current is not None else (np.zeros(count), np.ones(count))
    if count == 0 or keep.all() or not keep.any():
        return None
    kept = exploration.units[keep]
    stratum = (high - low) / exploration.worlds
    new_low = np.maximum(low, kept.min(axis=0) - stratum)
    new_high = np.minimum(high, kept.max(axis=0) + stratum)
    if not np.any((new_low - low > stratum) | (high - new_high > stratum)):
        return None
    return new_low, new_high
