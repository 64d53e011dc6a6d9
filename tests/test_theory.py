"""The gatekeeper reduced to an M/M/c queue agrees with Erlang C and with Little's law."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from conftest import MMC

from sim.config.loader import load_config
from sim.experiment.replications import ScenarioResult, run_scenarios
from sim.metrics.recorder import HOURS_PER_DAY
from sim.metrics.stats import Estimate, estimate
from sim.model.analytic import mmc_mean_wait, mmc_utilisation, mmc_wait_quantile

pytestmark = [pytest.mark.slow, pytest.mark.unmeasured]

SEED = 20220617
DAYS = 30
REPLICATIONS = 8


@dataclass(frozen=True)
class Case:
    """One M/M/c queue: servers, offered load per server, and requests per replication."""

    # Heavy traffic needs long runs: the queue forgets its empty start only after about
    # 2 rho^2 / (1 - rho)^2 arrivals, whatever c is, so the request count grows with the load.

    servers: int
    load: float
    requests: int

    @property
    def rate(self) -> float:
        """Return the arrival rate per hour that gives `requests` over the horizon."""
        return self.requests / (DAYS * HOURS_PER_DAY)

    @property
    def review_mean(self) -> float:
        """Return the mean review time in hours that gives the offered load."""
        return self.servers * self.load / self.rate

    @property
    def label(self) -> str:
        """Return a readable test id."""
        return f"c{self.servers}-rho{self.load}"


CASES = (
    Case(1, 0.5, 20_000),
    Case(3, 0.85, 40_000),
    Case(10, 0.9, 40_000),
    Case(50, 0.95, 60_000),
)


@pytest.fixture(scope="module")
def results() -> dict[str, ScenarioResult]:
    """Run every case's replications once, in one pool of two workers."""
    loaded = [
        load_config(MMC, [
            ("actors.requesters.requests_per_hour", repr(case.rate), "--set"),
            ("gatekeeper.reviewers", str(case.servers), "--set"),
            ("gatekeeper.review_hours_mean", repr(case.review_mean), "--set"),
            ("scenario.days", str(DAYS), "--days"),
        ])
        for case in CASES
    ]
    runs = run_scenarios(loaded, SEED, REPLICATIONS, workers=2)
    return {case.label: run for case, run in zip(CASES, runs, strict=True)}


def metric(result: ScenarioResult, name: str) -> list[float]:
    """Return one metric's value in every replication."""
    return [rep.metrics[name] for rep in result.replications]


def contains(value: Estimate, target: float) -> bool:
    """Return True when the 95% interval of an estimate contains target."""
    assert value.low is not None and value.high is not None
    return value.low <= target <= value.high


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_mean_wait_matches_erlang_c(case: Case, results: dict[str, ScenarioResult]) -> None:
    """The Erlang C mean wait lies inside the 95% interval of the simulated mean wait."""
    result = results[case.label]
    theory = mmc_mean_wait(case.rate, case.review_mean, case.servers)
    waits = estimate(metric(result, "friction.wait_hours"))
    assert waits.n == REPLICATIONS
    assert contains(waits, theory), (theory, waits)
    assert waits.high is not None and waits.low is not None
    # The interval is informative: containment would prove nothing if it spanned everything.
    assert (waits.high - waits.low) / 2 < 0.4 * theory


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_utilisation_matches_load(case: Case, results: dict[str, ScenarioResult]) -> None:
    """Reviewer utilisation is the offered load per server (interval contains it, or within 2%)."""
    rho = mmc_utilisation(case.rate, case.review_mean, case.servers)
    value = estimate(metric(results[case.label], "friction.utilisation"))
    assert value.mean is not None
    assert contains(value, rho) or abs(value.mean - rho) <= 0.02 * rho, (rho, value)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_littles_law(case: Case, results: dict[str, ScenarioResult]) -> None:
    """Time-averaged queue length equals arrival rate times mean wait, in every replication."""
    horizon = DAYS * HOURS_PER_DAY
    for rep in results[case.label].replications:
        m = rep.metrics
        assert m["friction.queue_length"] > 0.0
        arrivals_per_hour = m["requests.submitted"] / horizon
        little = arrivals_per_hour * m["friction.wait_hours"]
        assert m["friction.queue_length"] == pytest.approx(little, rel=0.03)


@pytest.mark.parametrize("case", CASES, ids=lambda case: case.label)
def test_p95_wait_near_theory(case: Case, results: dict[str, ScenarioResult]) -> None:
    """The 95th percentile wait is near the M/M/c quantile (interval contains it, or within 5%)."""
    theory = mmc_wait_quantile(case.rate, case.review_mean, case.servers, 0.95)
    assert theory > 0.0
    value = estimate(metric(results[case.label], "friction.wait_hours_p95"))
    assert value.mean is not None
    assert contains(value, theory) or abs(value.mean - theory) <= 0.05 * theory, (theory, value)


def test_requests_per_replication_as_planned(results: dict[str, ScenarioResult]) -> None:
    """Each replication makes about the planned number of Poisson requests (within 5 sigma)."""
    for case in CASES:
        for submitted in metric(results[case.label], "requests.submitted"):
            assert abs(submitted - case.requests) < 5 * case.requests**0.5
