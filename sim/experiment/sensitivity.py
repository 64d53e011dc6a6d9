"""Sensitivity indices of sampled sweeps (SALib): Sobol first-order and total, or Morris."""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from sim.experiment.sweep_file import SweepFile, salib_problem
from sim.results.store import Row


def point_means(rows: list[Row], output: str, points: list[int]) -> np.ndarray:
    """Return the replicate-averaged output of each listed point, in order (undefined values count as 0)."""
    position = {point: i for i, point in enumerate(points)}
    sums = np.zeros(len(points))
    counts = np.zeros(len(points))
    for row in rows:
        i = position.get(row.point)
        if i is None:
            continue
        value = row.metrics.get(output)
        sums[i] += 0.0 if value is None or math.isnan(value) else value
        counts[i] += 1
    if (counts == 0).any():
        missing = points[int(np.flatnonzero(counts == 0)[0])]
        raise ValueError(f"point {missing} has no rows yet; finish the sweep first")
    return sums / counts


IndexRow = tuple[str, str, str, str, float, float | None]


def indices(spec: SweepFile, matrix: np.ndarray, rows: list[Row], seed: int,
            arrangements: dict[str, list[int]]) -> list[IndexRow]:
    """Return (arrangement, output, factor, measure, value, 95% conf) for every output of interest.

    `arrangements` maps each arrangement to its points, in design-matrix order: the design is
    analysed separately for each arrangement.
    """
    problem = salib_problem(spec)
    names = problem["names"]
    out: list[IndexRow] = []
    for arrangement, points in arrangements.items():
        for output in spec.sweep.outputs:
            y = point_means(rows, output, points)
            if np.allclose(y, y[0]):
                # A constant output has no variance to apportion: every factor's index is zero.
                measures = ("S1", "ST") if spec.sweep.design == "sobol" else ("mu_star", "sigma")
                out += [(arrangement, output, name, m, 0.0, 0.0) for name in names for m in measures]
                continue
            result = _analyse(spec, problem, matrix, y, seed)
            for measure, conf in _MEASURES[spec.sweep.design]:
                confs = result[conf] if conf else [None] * len(names)
                for name, value, c in zip(names, result[measure], confs, strict=True):
                    out.append((arrangement, output, name, measure, float(value), None if c is None else float(c)))
    return out


_MEASURES: dict[str, tuple[tuple[str, str | None], ...]] = {
    "sobol": (("S1", "S1_conf"), ("ST", "ST_conf")),
    "morris": (("mu_star", "mu_star_conf"), ("sigma", None)),
}


def _analyse(spec: SweepFile, problem: dict[str, Any], matrix: np.ndarray, y: np.ndarray, seed: int) -> Any:
    if spec.sweep.design == "sobol":
        from SALib.analyze import sobol  # SALib is slow to import

        return sobol.analyze(problem, y, calc_second_order=False, seed=seed)
    from SALib.analyze import morris

    return morris.analyze(problem, matrix, y, num_levels=spec.sweep.levels, seed=seed)


def supported(design: str) -> bool:
    """Return True for designs that have sensitivity indices."""
    return design in _MEASURES
