"""Shipped arrangements: conservation, direction of change and common random numbers."""

from __future__ import annotations

from pathlib import Path

import pytest

from sim.config.loader import LoadedConfig, load_config
from sim.experiment.replications import ScenarioResult, run_scenarios
from sim.metrics.stats import paired_difference
from sim.model.rulebook.routing import control_probability

ROOT = Path(__file__).resolve().parents[1]
ARRANGEMENTS = sorted((ROOT / "configs" / "arrangements").glob("*.toml"))
SHIPPED = [*ARRANGEMENTS, ROOT / "configs" / "validation" / "mmc.toml"]
SEED = 7


def load(name: str, *sets: tuple[str, str]) -> LoadedConfig:
    """Load a shipped arrangement by name with --set style overrides."""
    return load_config(ROOT / "configs" / "arrangements" / f"{name}.toml",
                       [(key, value, "--set") for key, value in sets])


def run(loaded: list[LoadedConfig], replications: int = 3) -> list[ScenarioResult]:
    """Run configs under one seed with common random numbers."""
    return run_scenarios(loaded, SEED, replications, workers=2)


def values(result: ScenarioResult, metric: str) -> list[float]:
    """Return one metric's value in every replication."""
    return [rep.metrics[metric] for rep in result.replications]


def test_five_arrangements_ship() -> None:
    """The status quo, Microsoft, Oracle, Google and one more arrangement are shipped."""
    names = {path.stem for path in ARRANGEMENTS}
    assert {"status_quo", "microsoft", "oracle", "google"} <= names
    assert len(names) >= 5


@pytest.mark.slow
@pytest.mark.unmeasured
@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.stem)
def test_conservation_every_request_accounted_for(path: Path) -> None:
    """Submitted equals granted + denied + expired + queued at the end, in every replication."""
    loaded = load_config(path, [("scenario.days", "120", "--days")])
    [result] = run([loaded], replications=2)
    for rep in result.replications:
        m = rep.metrics
        assert m["requests.submitted"] > 0
        assert m["requests.submitted"] == (m["requests.granted"] + m["requests.denied"]
                                           + m["requests.expired"] + m["requests.queued_at_end"])
        channels = sum(v for k, v in m.items()
                       if k.startswith("residual_access.by_channel.") and k.endswith(".events"))
        assert channels == m["residual_access.events"]
        daily = rep.daily
        assert sum(daily["submitted"]) == m["requests.submitted"]
        assert sum(daily["residual_events"]) == m["residual_access.events"]
        assert m["detection.detected"] <= m["detection.improper"]


def test_expiry_counts_balance_under_overload() -> None:
    """With too few reviewers and a short expiry, requests expire and are still accounted for."""
    loaded = load("oracle", ("gatekeeper.reviewers", "5"), ("gatekeeper.expiry_hours", "24"),
                  ("scenario.days", "60"))
    [result] = run([loaded], replications=2)
    for rep in result.replications:
        m = rep.metrics
        assert m["requests.expired"] > 0
        assert m["requests.submitted"] == (m["requests.granted"] + m["requests.denied"]
                                           + m["requests.expired"] + m["requests.queued_at_end"])


@pytest.mark.slow
@pytest.mark.unmeasured
def test_common_random_numbers_give_every_arrangement_the_same_requests() -> None:
    """One seed gives every shipped arrangement the same requests, day by day."""
    loaded = [load_config(path, [("scenario.days", "60", "--days")]) for path in ARRANGEMENTS]
    results = run(loaded, replications=2)
    first = results[0]
    for result in results[1:]:
        for rep, ref in zip(result.replications, first.replications, strict=True):
            assert rep.daily["submitted"] == ref.daily["submitted"]
            assert rep.metrics["controls.covert_attempts"] == ref.metrics["controls.covert_attempts"]
    assert first.replications[0].daily["submitted"] != first.replications[1].daily["submitted"]


@pytest.mark.slow
@pytest.mark.unmeasured
def test_more_reviewers_give_shorter_waits_and_lower_utilisation() -> None:
    """Direction of change: a bigger stewardship team makes requests wait less."""
    few, many = run([load("oracle", ("gatekeeper.reviewers", "30"), ("scenario.days", "90")),
                     load("oracle", ("gatekeeper.reviewers", "200"), ("scenario.days", "90"))])
    for a, b in zip(values(few, "friction.wait_hours"), values(many, "friction.wait_hours"), strict=True):
        assert a > b
    for a, b in zip(values(few, "friction.utilisation"), values(many, "friction.utilisation"), strict=True):
        assert a > b


@pytest.mark.slow
@pytest.mark.unmeasured
def test_slower_deletion_leaves_more_record_days_abroad() -> None:
    """Direction of change: the slower the Singapore deletion, the more records rest abroad."""
    fast, slow = run([load("oracle", ("deletions.0.median_days", "60")),
                      load("oracle", ("deletions.0.median_days", "900"))], replications=2)
    for a, b in zip(values(fast, "at_rest_abroad.record_days"), values(slow, "at_rest_abroad.record_days"),
                    strict=True):
        assert a < b


@pytest.mark.slow
@pytest.mark.unmeasured
def test_more_code_review_gives_fewer_covert_accesses() -> None:
    """Direction of change: reviewing more of the code stops more code-borne covert reads."""
    many = ("actors.cn_engineers.code_covert_attempts_per_year", "30")
    results = run([load("status_quo", ("controls.code_review_coverage", str(c)), many, ("scenario.days", "365"))
                   for c in (0.0, 0.5, 0.95)])
    covert = [sum(values(r, "covert.code_borne.events")) for r in results]
    assert covert[0] > covert[1] > covert[2]
    for low, high in zip(results[0].replications, results[2].replications, strict=True):
        assert high.metrics["covert.code_borne.events"] <= low.metrics["covert.code_borne.events"]
        # Code review does not touch human exfiltration (issue 9.7).
        assert high.metrics["covert.human_exfiltration.events"] == low.metrics["covert.human_exfiltration.events"]


@pytest.mark.slow
@pytest.mark.unmeasured
def test_more_egress_monitoring_gives_fewer_exports() -> None:
    """Direction of change: watching egress more stops more bulk exports, and no code-borne read."""
    results = run([load("status_quo", ("controls.egress_monitoring_share", str(c)), ("scenario.days", "365"))
                   for c in (0.0, 0.5, 0.95)])
    exports = [sum(values(r, "covert.human_exfiltration.events")) for r in results]
    assert exports[0] > exports[1] > exports[2]
    for low, high in zip(results[0].replications, results[2].replications, strict=True):
        assert high.metrics["covert.code_borne.events"] == low.metrics["covert.code_borne.events"]


@pytest.mark.slow
@pytest.mark.unmeasured
def test_microsoft_below_oracle_below_status_quo() -> None:
    """Microsoft after its migration leaves fewer residual accesses than Oracle, Oracle fewer than the status quo."""
    status_quo, oracle, microsoft = run([load("status_quo"), load("oracle"), load("microsoft")],
                                        replications=4)
    metric = "residual_access.events"
    oracle_vs_sq = paired_difference(values(oracle, metric), values(status_quo, metric))
    assert oracle_vs_sq.high is not None and oracle_vs_sq.high < 0
    migrated = 130  # the Microsoft transfer takes 120 days from the start
    after = [sum(rep.daily["residual_events"][migrated:]) for rep in microsoft.replications]
    oracle_after = [sum(rep.daily["residual_events"][migrated:]) for rep in oracle.replications]
    diff = paired_difference(after, oracle_after)
    assert diff.high is not None and diff.high < 0


@pytest.mark.slow
@pytest.mark.unmeasured
def test_storage_move_alone_does_not_change_who_reads() -> None:
    """Google storage with the parent's access control cuts data at rest abroad, not residual reads."""
    status_quo, google = run([load("status_quo"), load("google")], replications=2)
    for a, b in zip(values(status_quo, "at_rest_abroad.record_days"), values(google, "at_rest_abroad.record_days"),
                    strict=True):
        assert b < a
    assert values(google, "residual_access.events") == values(status_quo, "residual_access.events")


@pytest.mark.slow
@pytest.mark.unmeasured
def test_deleting_the_backup_shifts_oracle_access_off_the_backup_channel() -> None:
    """With Singapore emptied at once, Oracle's backup channel falls and the gate takes the load."""
    slow, fast = run([load("oracle"), load("oracle", ("deletions.0.median_days", "1"),
                                           ("deletions.0.incomplete_probability", "0"))], replications=2)
    channel = "residual_access.by_channel.legacy_or_backup_abroad.events"
    assert sum(values(fast, channel)) < 0.5 * sum(values(slow, channel))
    assert sum(values(fast, "friction.reviewed")) > sum(values(slow, "friction.reviewed"))


def test_control_probability_follows_the_ownership_chain() -> None:
    """The parent's control of a subsidiary is the product of (1 - independence) up the chain."""
    config = load("oracle").config
    assert control_probability(config, "bytedance", "bytedance") == 1.0
    assert control_probability(config, "tiktok_us", "bytedance") == pytest.approx(1.0)
    assert control_probability(config, "usds", "bytedance") == pytest.approx(0.1)
    assert control_probability(config, "oracle", "bytedance") == 0.0
