"""Sobol and Morris sweeps rank a factor that drives the output above one that cannot touch it."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import numpy as np
import pytest
from conftest import ARRANGEMENTS, MMC, run_cli, stored_rows, write_sweep

from sim.experiment.executors import LocalExecutor
from sim.experiment.sweep import run_sweep, summary_records
from sim.experiment.sweep_file import load_sweep
from sim.results.store import Store

STATUS_QUO = ARRANGEMENTS / "status_quo.toml"
DRIVER = "actors.cn_engineers.requests_per_hour"  # more requests from China: more residual reads
INERT = "controls.audit_delay_days_median"  # when an access is detected cannot change how many there are
WEAK = "parent_approval.approve_probability"  # fewer approvals: a few fewer reads
FACTORS = (DRIVER, INERT, WEAK)

SWEEP = f"""
[sweep]
name = "sensitivity_test"
arrangements = [{json.dumps(str(STATUS_QUO))}]
design = "{{design}}"
samples = {{samples}}
levels = 4
replications = 1
days = 15
outputs = ["residual_access.events"]

[[factors]]
path = "{DRIVER}"
low = 0.002
high = 0.02

[[factors]]
path = "{INERT}"
low = 30.0
high = 365.0

[[factors]]
path = "{WEAK}"
low = 0.8
high = 1.0
"""

Index = dict[tuple[str, str], tuple[float, float | None]]


def indices(folder: Path) -> tuple[set[str], Index]:
    """Return the stored methods and {(factor, measure): (value, conf)} of residual_access.events."""
    db = sqlite3.connect(folder / "results.db")
    try:
        rows = list(db.execute("SELECT method, arrangement, output, factor, measure, value, conf FROM sensitivity"))
    finally:
        db.close()
    assert {(r[1], r[2]) for r in rows} == {("status_quo", "residual_access.events")}
    return {r[0] for r in rows}, {(r[3], r[4]): (r[5], r[6]) for r in rows}


def run_design(folder: Path, design: str, samples: int) -> Path:
    """Write a sampled sweep on status_quo into folder, run it through the CLI, return its output folder."""
    path = write_sweep(folder, SWEEP.format(design=design, samples=samples), f"{design}.toml")
    result = run_cli("sweep", path, "--out", folder / design, "--workers", "1", "-q")
    assert result.returncode == 0, result.stderr
    return folder / design


@pytest.fixture(scope="module")
def sobol(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Run a Sobol sweep (N=16, three factors: 80 points of 15 days) once."""
    return run_design(tmp_path_factory.mktemp("sobol"), "sobol", 16)


@pytest.mark.slow
def test_sobol_stores_every_index_with_its_interval(sobol: Path) -> None:
    """The sensitivity table holds S1 and ST with a 95% conf for every factor; rows cover the design."""
    methods, found = indices(sobol)
    assert methods == {"sobol"}
    assert set(found) == {(f, m) for f in FACTORS for m in ("S1", "ST")}
    assert all(conf is not None and conf >= 0 for _, conf in found.values())
    assert len(stored_rows(sobol)) == 16 * (len(FACTORS) + 2)


@pytest.mark.slow
def test_sobol_finds_the_inert_factor_inert_and_the_driver_dominant(sobol: Path) -> None:
    """The factor that cannot change residual access has S1, ST near 0; the driver has the largest ST."""
    _, found = indices(sobol)
    for measure in ("S1", "ST"):
        value, conf = found[(INERT, measure)]
        assert abs(value) < 0.05 or abs(value) <= (conf or 0.0), (measure, value, conf)
    total = {factor: found[(factor, "ST")][0] for factor in FACTORS}
    assert max(total, key=total.__getitem__) == DRIVER
    assert total[DRIVER] > 0.5


@pytest.mark.slow
def test_inert_factor_is_exactly_inert_under_common_random_numbers(sobol: Path) -> None:
    """Points that differ only in the inert factor see the same requests, so the output is identical."""
    store = Store(sobol, create=False)
    try:
        records = summary_records(store, ["residual_access.events"])
    finally:
        store.close()
    by_rest: dict[tuple[float, float], set[float]] = {}
    for record in records:
        by_rest.setdefault((record[DRIVER], record[WEAK]), set()).add(record["residual_access.events.mean"])
    assert len(by_rest) < len(records), "the Sobol design repeats (driver, weak) pairs across the inert column"
    assert all(len(values) == 1 for values in by_rest.values())
    _, found = indices(sobol)
    assert found[(INERT, "ST")][0] == 0.0


@pytest.mark.slow
def test_sensitivity_command_reprints_the_stored_indices(sobol: Path) -> None:
    """`residency sensitivity DIR` prints every factor's stored S1 and ST, and recomputes the same."""
    _, before = indices(sobol)
    result = run_cli("sensitivity", sobol)
    assert result.returncode == 0, result.stderr
    assert "Sobol sensitivity of residual_access.events on status_quo" in " ".join(result.stdout.split())
    for factor in FACTORS:
        line = next(line for line in result.stdout.splitlines() if factor in line)
        for measure in ("S1", "ST"):
            value, conf = before[(factor, measure)]
            assert f"{value:.3f} ± {conf:.3f}" in line, (factor, measure, line)
    _, after = indices(sobol)
    assert after == before


@pytest.mark.slow
def test_morris_gives_the_driver_the_largest_mu_star(tmp_path: Path) -> None:
    """A Morris design (6 trajectories) ranks the driver first by mu_star, the inert factor at 0."""
    spec = write_sweep(tmp_path, SWEEP.format(design="morris", samples=6), "check.toml")
    points = load_sweep(spec).points
    assert len({p.run_key for p in points}) == len(points), "this design must not repeat a point"
    folder = run_design(tmp_path, "morris", 6)
    methods, found = indices(folder)
    assert methods == {"morris"}
    assert set(found) == {(f, m) for f in FACTORS for m in ("mu_star", "sigma")}
    mu_star = {factor: found[(factor, "mu_star")][0] for factor in FACTORS}
    assert max(mu_star, key=mu_star.__getitem__) == DRIVER
    assert mu_star[INERT] == 0.0
    assert found[(DRIVER, "sigma")][1] is None  # Morris sigma has no interval


MORRIS_REPEATS = f"""
[sweep]
name = "morris_repeats"
arrangements = [{json.dumps(str(MMC))}]
design = "morris"
samples = 8
levels = 4
replications = 1
days = 2
outputs = ["requests.submitted"]

[[factors]]
path = "actors.requesters.requests_per_hour"
low = 2.0
high = 8.0

[[factors]]
path = "gatekeeper.review_hours_mean"
low = 0.5
high = 1.0
"""


def test_a_design_that_repeats_a_point_still_gets_indices(tmp_path: Path) -> None:
    """A Morris design whose trajectories share points completes, gives every point its rows, and indices."""
    sweep = load_sweep(write_sweep(tmp_path, MORRIS_REPEATS))
    keys = [p.run_key for p in sweep.points]
    assert len(set(keys)) < len(keys), "the test needs a design that repeats a point"
    store = Store(tmp_path / "out")
    try:
        run_sweep(sweep, store, LocalExecutor(1))
        per_point = {r["point"]: r["replications"] for r in summary_records(store, ["requests.submitted"])}
        assert per_point == dict.fromkeys(range(len(sweep.points)), 1)
        found = {(r[3], r[4]): r[5] for r in store.sensitivity()}
        assert np.isfinite(found[("actors.requesters.requests_per_hour", "mu_star")])
    finally:
        store.close()


@pytest.mark.slow
def test_sensitivity_of_a_grid_sweep_is_a_clear_error(tmp_path: Path) -> None:
    """`residency sensitivity` on a grid sweep's folder exits 2 saying only sampled designs have indices."""
    text = f"""
[sweep]
name = "grid_only"
arrangements = [{json.dumps(str(MMC))}]
replications = 1
days = 2

[[factors]]
path = "gatekeeper.reviewers"
values = [9, 10]
"""
    path = write_sweep(tmp_path, text)
    assert run_cli("sweep", path, "--out", tmp_path / "out", "--workers", "1", "-q").returncode == 0
    result = run_cli("sensitivity", tmp_path / "out")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    message = " ".join(result.stderr.split())
    assert "only sobol and morris designs" in message and "Fix:" in message
    assert str(tmp_path / "out" / "results.db") in message
