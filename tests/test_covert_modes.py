"""The two covert modes: code-borne reads (code review) and human exfiltration (egress monitoring)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from conftest import write_config
from test_routes_and_grants import WORLD

from sim.config.loader import load_config
from sim.experiment.replications import run_replication
from sim.model.event.world import World
from sim.model.rng import Streams
from sim.model.rulebook.events import CovertAttempt

COVERT = [("scenario.days", "365"), ("actors.engineers.covert_attempts_per_year", "40"),
          ("actors.engineers.code_covert_attempts_per_year", "30")]


def metrics(tmp_path: Path, overrides: Sequence[tuple[str, str]] = ()) -> dict[str, float]:
    """Run one replication of the test world with covert attempts and the given overrides."""
    loaded = load_config(write_config(tmp_path, WORLD), [(k, v, "--set") for k, v in [*COVERT, *overrides]])
    return run_replication(loaded.config, 3, 0).metrics


def test_each_mode_is_stopped_only_by_its_own_control(tmp_path: Path) -> None:
    """Full code review stops every code-borne read and no export; full egress monitoring the reverse."""
    review = metrics(tmp_path, [("controls.code_review_coverage", "1.0")])
    egress = metrics(tmp_path, [("controls.egress_monitoring_share", "1.0")])
    assert review["covert.code_borne.events"] == 0
    assert review["covert.human_exfiltration.events"] == review["covert.human_exfiltration.attempts"] > 0
    assert review["controls.covert_stopped_by_code_review"] == review["covert.code_borne.attempts"] > 0
    assert egress["covert.human_exfiltration.events"] == 0
    assert egress["covert.code_borne.events"] == egress["covert.code_borne.attempts"] > 0
    assert egress["controls.covert_stopped_by_egress_monitoring"] == egress["covert.human_exfiltration.attempts"]


def test_attempts_are_stopped_or_read_and_modes_add_up(tmp_path: Path) -> None:
    """Every attempt is stopped or read; the modes add up to the covert channel and its grant."""
    m = metrics(tmp_path, [("controls.code_review_coverage", "0.5"), ("controls.egress_monitoring_share", "0.5")])
    attempts = m["covert.code_borne.attempts"] + m["covert.human_exfiltration.attempts"]
    stopped = m["controls.covert_stopped_by_code_review"] + m["controls.covert_stopped_by_egress_monitoring"]
    events = m["covert.code_borne.events"] + m["covert.human_exfiltration.events"]
    assert attempts == m["controls.covert_attempts"] == stopped + events
    assert events == m["residual_access.by_channel.covert.events"] == m["residual_access.by_grant.covert.events"]
    records = m["covert.code_borne.records"] + m["covert.human_exfiltration.records"]
    assert abs(records - m["residual_access.by_grant.covert.records"]) <= 1e-9 * records


def test_adding_code_borne_reads_leaves_the_exports_draws_alone(tmp_path: Path) -> None:
    """Each mode draws from its own streams: switching one on does not move the other (CRN)."""
    without = metrics(tmp_path, [("actors.engineers.code_covert_attempts_per_year", "0")])
    with_code = metrics(tmp_path)
    for leaf in ("attempts", "events", "records"):
        assert without[f"covert.human_exfiltration.{leaf}"] == with_code[f"covert.human_exfiltration.{leaf}"]
    assert without["covert.code_borne.attempts"] == 0 < with_code["covert.code_borne.attempts"]


class _Attempts:
    """An observer that keeps the covert attempts (instant, group, mode) and drops every other event."""

    def __init__(self) -> None:
        self.seen: list[tuple[float, str, str]] = []

    def notify(self, event: object) -> None:
        if isinstance(event, CovertAttempt):
            self.seen.append((event.t, event.actor, event.mode))


def test_a_shorter_run_makes_exactly_the_longer_runs_first_attempts(tmp_path: Path) -> None:
    """Each mode's attempts do not depend on the horizon: a 20-day run makes those of a year that fall before day 20.

    At a few attempts a year many (seed, mode) pairs make none in 20 days; such a mode starts no
    process at all (its first attempt is drawn, and falls past the horizon), which must not move
    any other draw.
    """
    rates = [("actors.engineers.covert_attempts_per_year", "12"),
             ("actors.engineers.code_covert_attempts_per_year", "9")]
    runs = {days: load_config(write_config(tmp_path, WORLD), [(k, v, "--set") for k, v in
                                                              [*rates, ("scenario.days", str(days))]]).config
            for days in (20, 365)}
    empty = 0
    for seed in range(12):
        seen = {}
        for days, config in runs.items():
            observer = _Attempts()
            World(config, Streams(seed, 0), observer).run()
            seen[days] = observer.seen
        assert seen[20] == [attempt for attempt in seen[365] if attempt[0] < 20 * 24.0]
        assert len(seen[365]) > 0
        empty += not seen[20]
    assert 0 < empty < 12  # both paths taken: runs whose modes all start late, and runs with an early attempt
