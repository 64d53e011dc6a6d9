"""Detection followed past the horizon: the eventual share matches the configured probability."""

from __future__ import annotations

import math

import pytest
from conftest import ROOT

from sim.config.loader import load_config
from sim.experiment.replications import run_scenarios
from sim.metrics.stats import estimate

ORACLE = ROOT / "configs" / "arrangements" / "oracle.toml"
PROBABILITY = 0.35
# Every site logged, a known detection probability and delays far longer than the short horizon.
SETTINGS = [("sites.singapore.access_logged", "true", "--set"), ("sites.virginia.access_logged", "true", "--set"),
            ("sites.oracle_us.access_logged", "true", "--set"),
            ("controls.audit_detect_probability", str(PROBABILITY), "--set"),
            ("controls.audit_delay_days_median", "200", "--set"), ("controls.audit_delay_sigma", "0.5", "--set")]
DELAY_MEAN_DAYS = 200 * math.exp(0.5**2 / 2)  # the lognormal's mean


@pytest.mark.slow
@pytest.mark.parametrize("days", [30, 150])
def test_eventual_share_matches_the_probability_whatever_the_horizon(days: int) -> None:
    """The eventually-detected share estimates the detection probability; the within-horizon share is censored."""
    loaded = load_config(ORACLE, [*SETTINGS, ("scenario.days", str(days), "--days")])
    [result] = run_scenarios([loaded], 11, 6)
    reps = result.replications
    assert all(r.metrics["detection.improper"] > 100 for r in reps)
    eventual = estimate([r.metrics["detection.eventually_detected_share"] for r in reps], confidence=0.999)
    assert eventual.low is not None and eventual.high is not None
    assert eventual.low <= PROBABILITY <= eventual.high
    for r in reps:
        m = r.metrics
        assert m["detection.detected"] <= m["detection.eventually_detected"] <= m["detection.improper"]
        assert m["detection.detected_share"] <= m["detection.eventually_detected_share"]
    delay = estimate([r.metrics["detection.eventual_mean_days_to_detect"] for r in reps], confidence=0.999)
    assert delay.low is not None and delay.high is not None
    assert delay.low <= DELAY_MEAN_DAYS <= delay.high
    within = estimate([r.metrics["detection.detected_share"] for r in reps])
    assert within.mean is not None and within.mean < PROBABILITY / 2  # most delays outlast the horizon


@pytest.mark.slow
def test_longer_horizon_detects_more_within_it() -> None:
    """Within-horizon detection rises with the horizon while the eventual share stays put."""
    shares = {}
    for days in (60, 400):
        loaded = load_config(ORACLE, [*SETTINGS, ("scenario.days", str(days), "--days")])
        [result] = run_scenarios([loaded], 11, 3)
        shares[days] = [r.metrics["detection.detected_share"] for r in result.replications]
    assert min(shares[400]) > max(shares[60])
