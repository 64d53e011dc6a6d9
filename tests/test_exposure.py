"""Distinct people exposed abroad: the sampling formula, its Monte Carlo check, and bounds in real runs."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from sim.config.loader import load_config
from sim.experiment.replications import run_replication
from sim.metrics.exposure import expected_distinct

ARRANGEMENTS = sorted((ROOT / "configs" / "arrangements").glob("*.toml"))


def test_formula_on_hand_computed_cases() -> None:
    """One read covers its own size; two halves cover three quarters; a read of all covers all."""
    assert expected_distinct(1000.0, []) == 0.0
    assert expected_distinct(1000.0, [120.0]) == pytest.approx(120.0)
    assert expected_distinct(1000.0, [500.0, 500.0]) == pytest.approx(750.0)
    assert expected_distinct(1000.0, [10.0, 2000.0, 5.0]) == pytest.approx(1000.0)
    assert expected_distinct(0.0, [10.0]) == 0.0


def test_formula_is_the_mean_of_uniform_draws_without_replacement() -> None:
    """Reads drawn uniformly without replacement from N records cover N(1 - prod(1 - k/N)) on average."""
    population, reads, trials = 400, [30, 120, 75, 200, 10], 4000
    rng = np.random.default_rng(12345)
    counts = []
    for _ in range(trials):
        touched = np.zeros(population, dtype=bool)
        for size in reads:
            touched[rng.choice(population, size, replace=False)] = True
        counts.append(int(touched.sum()))
    mean = float(np.mean(counts))
    standard_error = float(np.std(counts, ddof=1)) / math.sqrt(trials)
    assert abs(mean - expected_distinct(population, [float(k) for k in reads])) < 4 * standard_error


@pytest.mark.parametrize("share", [0.1, 0.5, 0.9])
def test_reads_confined_to_a_site_would_expose_no_more(share: float) -> None:
    """A site holding a random subset f N exposes at most what uniform draws from all N would."""
    population, reads = 1e6, [3e4, 5e4, 1e4, 8e4]
    escape_whole = math.prod(1 - k / population for k in reads)
    escape_site = (1 - share) + share * math.prod(1 - k / (share * population) for k in reads)
    assert escape_site >= escape_whole


@pytest.mark.slow
@pytest.mark.parametrize("path", ARRANGEMENTS, ids=lambda p: p.stem)
def test_distinct_records_within_reads_and_holdings(path: Path) -> None:
    """Distinct records never exceed the records read nor the records held, in total and per year."""
    loaded = load_config(path, [("scenario.days", "240", "--days")])
    config = loaded.config
    held = sum(config.data[cls].records for cls in config.policy.counted_classes)
    for replication in range(2):
        metrics = run_replication(config, 5, replication).metrics
        prefixes = ["", *sorted({".".join(k.split(".")[:2]) + "." for k in metrics if k.startswith("by_year.")})]
        for prefix in prefixes:
            distinct = metrics[prefix + "exposure.distinct_records"]
            read = metrics[prefix + "residual_access.records"]
            assert 0.0 <= distinct <= read * (1 + 1e-9) + 1e-9
            assert distinct <= held
            assert (distinct > 0) == (read > 0)


def test_cohort_overlap_runs_from_the_uniform_bound_to_the_largest_export() -> None:
    """Overlap 0 is the uniform tally; overlap 1 exposes only the largest export; more overlap, fewer people."""
    from sim.metrics.exposure import CohortRecords, DistinctRecords

    exports = [200_000.0, 350_000.0, 120_000.0, 999_999.0]
    uniform = DistinctRecords(150e6)
    tallies = {o: CohortRecords(150e6, o) for o in (0.0, 0.5, 1.0)}
    for k in exports:
        uniform.read(k)
        for tally in tallies.values():
            tally.read(k)
    people = {o: 150e6 * (1.0 - t.escape()) for o, t in tallies.items()}
    assert people[0.0] == pytest.approx(uniform.expected())
    assert people[1.0] == pytest.approx(max(exports))
    assert people[0.0] > people[0.5] > people[1.0]


def test_people_exposed_split_by_requested_reads_and_covert_exports() -> None:
    """The total is at least each part and at most their sum (the two overlap only by chance)."""
    from sim.metrics.exposure import Exposure

    tally = Exposure(1000.0, 0.0)
    for k, covert in [(100.0, False), (50.0, True), (300.0, False), (200.0, True)]:
        tally.read(k, covert)
    requested, covert_part = tally.requested.expected(), tally.covert.population * (1 - tally.covert.escape())
    assert max(requested, covert_part) < tally.expected() < requested + covert_part
