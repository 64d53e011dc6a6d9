"""Fit the audit's detection delay (a lognormal) to the dated public incidents."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.config.facts import Fact

#: Relative tolerance within which a config's rounded value counts as the fitted one.
FIT_TOLERANCE = 0.05


@dataclass(frozen=True)
class DelayFit:
    """A lognormal fitted to interval-censored delays, and the incidents it came from."""

    median_days: float
    sigma: float
    incidents: tuple[str, ...]
    intervals: tuple[tuple[int, int], ...]
    log_likelihood: float

    def quantile_of(self, days: float) -> float:
        """Return the fitted distribution's cumulative probability at `days`."""
        return lognormal_cdf(days, self.median_days, self.sigma)


def incident_facts(facts: dict[str, Fact]) -> list[Fact]:
    """Return the facts that date an incident, in id order."""
    return [facts[i] for i in sorted(facts) if facts[i].incident is not None]


def fit_detection_delay(incidents: list[Fact]) -> DelayFit:
    """Fit a lognormal by maximum likelihood to each incident's delay interval.

    Each incident's delay from access to disclosure is known only to lie between the
    shortest and the longest delay its dates allow, so each contributes the probability
    of its interval (interval censoring), not of a point.
    """
    intervals = [f.incident.delay_days() for f in incidents if f.incident is not None]
    if len(intervals) < 2:
        raise ValueError("a fit needs at least two dated incidents")
    logs = [(math.log(max(lo, 1)), math.log(max(hi, 1))) for lo, hi in intervals]

    def negative_log_likelihood(params: list[float]) -> float:
        mu, sigma = params[0], math.exp(params[1])
        return -sum(_log_interval_probability(a, b, mu, sigma) for a, b in logs)

    centres = [(a + b) / 2 for a, b in logs]
    mu0 = sum(centres) / len(centres)
    sd0 = math.sqrt(sum((c - mu0) ** 2 for c in centres) / len(centres)) or 0.5
    from scipy import optimize  # deferred: scipy costs most of the CLI's start-up time

    best = optimize.minimize(negative_log_likelihood, [mu0, math.log(sd0)], method="Nelder-Mead",
                             options={"xatol": 1e-8, "fatol": 1e-10, "maxiter": 4000})
    mu, sigma = float(best.x[0]), float(math.exp(best.x[1]))
    return DelayFit(math.exp(mu), sigma, tuple(f.id for f in incidents), tuple(intervals),
                    -float(best.fun))


def _log_interval_probability(log_lo: float, log_hi: float, mu: float, sigma: float) -> float:
    from scipy import stats

    mass = float(stats.norm.cdf((log_hi - mu) / sigma) - stats.norm.cdf((log_lo - mu) / sigma))
    return math.log(max(mass, 1e-300))


def lognormal_cdf(days: float, median_days: float, sigma: float) -> float:
    """Return P(delay <= days) for a lognormal with this median and shape."""
    if sigma == 0:
        return 1.0 if days >= median_days else 0.0
    from scipy import stats

    return float(stats.norm.cdf(math.log(days / median_days) / sigma))


def geometric_centre(interval: tuple[int, int]) -> float:
    """Return the geometric middle of a delay interval, the point a case is placed at."""
    lo, hi = interval
    return math.sqrt(max(lo, 1) * max(hi, 1))
