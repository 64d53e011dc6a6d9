"""Confidence intervals over replications and paired differences between arrangements."""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import dataclass


@dataclass(frozen=True)
class Estimate:
    """A mean over replications and its 95% confidence interval (None where undefined)."""

    mean: float | None
    low: float | None
    high: float | None
    n: int

    def as_leaf(self) -> dict[str, object]:
        """Return the JSON leaf form: {"mean": x, "ci95": [lo, hi] or null}."""
        ci = None if self.low is None or self.high is None else [self.low, self.high]
        return {"mean": self.mean, "ci95": ci}


@functools.lru_cache(maxsize=256)
def t_quantile(probability: float, dof: int) -> float:
    """Return Student's t quantile.

    `scipy.special.stdtrit` is what `scipy.stats.t.ppf` computes, to the bit, without importing
    `scipy.stats` (about a second of every command's start-up); it is imported here, not at start-up.
    """
    from scipy import special

    return float(special.stdtrit(dof, probability))


def estimate(values: Sequence[float], confidence: float = 0.95) -> Estimate:
    """Return the mean and Student-t confidence interval of finite values."""
    finite = [v for v in values if not math.isnan(v)]
    n = len(finite)
    if n == 0:
        return Estimate(None, None, None, 0)
    mean = math.fsum(finite) / n
    if n == 1:
        return Estimate(mean, None, None, 1)
    variance = math.fsum((v - mean) ** 2 for v in finite) / (n - 1)
    half = t_quantile(0.5 + confidence / 2, n - 1) * math.sqrt(variance / n)
    return Estimate(mean, mean - half, mean + half, n)


def paired_difference(values: Sequence[float], baseline: Sequence[float]) -> Estimate:
    """Return the estimate of values minus baseline, replication by replication."""
    return estimate([a - b for a, b in zip(values, baseline, strict=True)])


def support_estimate(values: Sequence[float], upper: float | None = None, confidence: float = 0.95) -> Estimate:
    """Return the mean and a confidence interval that stays inside the metric's support.

    For values that are all non-negative (counts, hours, records) the interval is Student's t
    on the log scale of the mean, carried back by the delta method: mean times or divided by exp(t * se / mean),
    which is never below zero and is wider above the mean than below it, as the spread of a
    count is. For a share (`upper` given, values in [0, upper]) the same is done on the logit
    scale, so the interval stays inside [0, upper]. A mean on the support's edge (all zeros,
    say) has the interval [mean, mean]. Values with a negative one (a difference) keep the
    plain t interval of `estimate`.
    """
    plain = estimate(values, confidence)
    finite = [v for v in values if not math.isnan(v)]
    mean = plain.mean
    if mean is None or plain.low is None or plain.high is None or min(finite) < 0.0:
        return plain
    if upper is not None and max(finite) > upper:
        return plain
    half = plain.high - mean  # t quantile times the standard error
    if mean == 0.0 or (upper is not None and mean >= upper):
        return Estimate(mean, mean, mean, plain.n)
    if upper is None:
        spread = math.exp(min(half / mean, MAX_EXPONENT))
        return Estimate(mean, mean / spread, mean * spread, plain.n)
    share = mean / upper
    centre, width = math.log(share / (1.0 - share)), half / (upper * share * (1.0 - share))
    return Estimate(mean, upper * _logistic(centre - width), upper * _logistic(centre + width), plain.n)


MAX_EXPONENT = 700.0  # math.exp overflows past about 709: a mean next to zero gets a huge, finite upper end


def _logistic(x: float) -> float:
    """Return 1 / (1 + exp(-x)) without overflow for any x, infinities included."""
    if x >= 0:
        return 1.0 / (1.0 + math.exp(-x))
    tail = math.exp(max(x, -MAX_EXPONENT))
    return tail / (1.0 + tail)
