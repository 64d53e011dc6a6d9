"""History matching bites: planted worlds that contradict the record are ruled out, plausible ones are not."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, run_cli

from sim.config.loader import load_config
from sim.experiment.explore import plan
from sim.experiment.history import history_calendars, load_observations, match

START, DAYS = dt.date(2022, 6, 17), 1461
END = START + dt.timedelta(days=DAYS - 1)
#: The simulated days of each calendar year of the run.
YEAR_DAYS = {year: (min(END, dt.date(year, 12, 31)) - max(START, dt.date(year, 1, 1))).days + 1
             for year in range(START.year, END.year + 1)}
SHIPPED = ROOT / "configs" / "explore" / "observations.toml"
RANGED = {"status_quo": {"actors.cn_engineers.covert_attempts_per_year", "controls.audit_delay_days_median"},
          "oracle": set()}


def world(status_quo_per_year: float, oracle_per_year: float, covert_per_year: float,
          detect_days: float | None) -> dict[str, dict[str, list[float | None]]]:
    """Return one world's outputs (two replications) for the shipped observations' arrangements."""
    rows: dict[str, dict[str, list[float | None]]] = {}

    def put(metric: str, arrangement: str, value: float | None) -> None:
        rows.setdefault(metric, {})[arrangement] = [value, value]

    for name, per_year in (("status_quo", status_quo_per_year), ("oracle", oracle_per_year)):
        put("residual_access.events", name, per_year * DAYS / 365)
        for year, days in YEAR_DAYS.items():
            put(f"by_year.{year}.residual_access.events", name, per_year * days / 365)
    put("residual_access.by_channel.covert.events", "status_quo", covert_per_year * DAYS / 365)
    requested = max(status_quo_per_year - covert_per_year, 0.0)  # the status quo's reads approved by its policy
    put("residual_access.by_channel.approved_by_policy.events", "status_quo", requested * DAYS / 365)
    for year, days in YEAR_DAYS.items():
        put(f"by_year.{year}.residual_access.by_channel.approved_by_policy.events", "status_quo",
            requested * days / 365)
    put("detection.mean_days_to_detect", "status_quo", detect_days)
    return rows


def table_of(worlds: list[dict[str, dict[str, list[float | None]]]]) -> dict[str, Any]:
    """Stack worlds into explore's metric -> arrangement -> per-world table."""
    table: dict[str, Any] = {}
    for rows in worlds:
        for metric, cells in rows.items():
            for name, values in cells.items():
                table.setdefault(metric, {}).setdefault(name, []).append(values)
    return table


PLANTED = {
    "plausible": world(9_000, 2_500, 26, 400),
    "almost no access from China before Project Texas": world(15, 2_500, 26, 400),
    "the parent refuses everything (only covert exports reach China)": world(26, 2_500, 26, 400),
    "thirty times the stated access": world(270_000, 2_500, 26, 400),
    "Project Texas lets nothing through": world(9_000, 0.5, 26, 400),
    "covert exports four times the record's": world(9_000, 2_500, 104, 400),
    "audits that find everything within a day": world(9_000, 2_500, 26, 1.3),
    "no detection at all": world(9_000, 2_500, 26, None),
}
#: Worlds at the edges of the explored ranges that the record, read honestly, does not contradict.
EDGES = {
    "nine times the stated access (the ranges' upper corner)": world(81_000, 2_500, 26, 400),
    "a tenth of the stated access": world(900, 2_500, 26, 400),
    "audits with a two-month median delay": world(9_000, 2_500, 26, 79),
}


def test_planted_worlds_that_contradict_the_record_are_ruled_out() -> None:
    observations = load_observations(SHIPPED)
    assert len(observations.items) >= 5
    assert {item.arrangement for item in observations.items} >= {"status_quo", "oracle"}
    assert {item.direction for item in observations.items} >= {"at_least", "at_most"}  # bounded from both sides
    keep, section = match(observations, table_of(list(PLANTED.values())), len(PLANTED), DAYS, {}, START, RANGED)
    assert dict(zip(PLANTED, keep.tolist(), strict=True)) == {name: name == "plausible" for name in PLANTED}
    by_observation = section["observations"]
    assert by_observation["journalist-ip-lookups-2022"]["read"] == "by date"
    assert by_observation["china-access-routine-2021"]["read"].startswith("steady rate")
    assert by_observation["detection-delays-four-cases"]["undefined"] == 1
    assert by_observation["china-access-not-bulk-2021"]["ruled_out"] == 1  # thirty times the access, and only it
    assert section["cutoff"] == observations.cutoff == 3.0


def test_worlds_at_the_edges_of_the_ranges_are_not_ruled_out() -> None:
    """The bounds come from the record's words with their stated uncertainty, not from sds shrunk to bite."""
    keep, _ = match(load_observations(SHIPPED), table_of(list(EDGES.values())), len(EDGES), DAYS, {}, START, RANGED)
    assert keep.all()


def test_a_level_a_short_run_cannot_show_is_left_out_not_failed() -> None:
    """A one-year run cannot see the record's delays of up to 668 days: no detection there is not evidence."""
    observations = load_observations(SHIPPED)
    short = table_of([PLANTED["no detection at all"]])
    _, section = match(observations, short, 1, 365, {}, START, RANGED)
    entry = section["observations"]["detection-delays-four-cases"]
    assert not entry["used"] and "--days 1000" in entry["why"] and entry["undefined"] == 1
    assert section["implausibility_max"][0] < 1e9  # the undefined level does not count


def test_the_status_quo_runs_on_the_records_calendar_and_is_counted_by_date() -> None:
    observations = load_observations(SHIPPED)
    calendars = history_calendars(observations, {"status_quo": (START, 1461), "oracle": (START, 1461)})
    first = dt.date(2021, 9, 1) - dt.timedelta(days=observations.warm_up_days)
    assert calendars == {"status_quo": (first, (dt.date(2022, 9, 30) - first).days + 1)}  # oracle's lie inside its run
    short = history_calendars(observations, {"oracle": (START, 365)})  # the 2023 windows end after a one-year run
    assert short == {"oracle": (START, (dt.date(2023, 12, 31) - START).days + 1)}
    start, days = calendars["status_quo"]
    share = {year: ((min(start + dt.timedelta(days=days - 1), dt.date(year, 12, 31)) - max(start, dt.date(year, 1, 1))
                     ).days + 1) / 365 for year in (2021, 2022)}
    history: dict[str, Any] = {}
    for metric, per_year in (("residual_access.events", 9_000), ("residual_access.by_channel.covert.events", 26),
                             ("residual_access.by_channel.approved_by_policy.events", 9_000 - 26)):
        for year in (2021, 2022):
            history.setdefault(f"by_year.{year}.{metric}", {})["status_quo"] = [[per_year * share[year]] * 2]
    table = table_of([PLANTED["plausible"]])
    keep, section = match(observations, table, 1, DAYS, {}, START, RANGED, {"status_quo": (history, start, days)})
    assert keep.all()
    for key in ("china-access-routine-2021", "china-access-not-bulk-2021", "spreadsheet-exports-2022"):
        assert section["observations"][key]["read"] == "by date", key
    assert section["observations"]["detection-delays-four-cases"]["read"] == "as is"  # a level: the main run


def test_explore_plans_the_records_calendar_runs_after_the_worlds() -> None:
    arrangements = ROOT / "configs" / "arrangements"
    loaded = [load_config(arrangements / f"{name}.toml") for name in ("oracle", "status_quo")]
    calendars = {"status_quo": (dt.date(2021, 8, 2), 425)}
    exploration = plan(loaded, 3, 1, 7, history=calendars)
    assert len(exploration.points) == 6 and [p.index for p in exploration.history] == [6, 7, 8]
    for point in exploration.history:
        assert point.arrangement == "status_quo"
        assert (point.loaded.config.scenario.start_date, point.loaded.config.scenario.days) == calendars["status_quo"]
    world = exploration.world_values(1)
    assert exploration.history[1].factors == exploration.points[3].factors == {
        k: v for k, v in world.items() if k in exploration.points[3].factors}  # the same world's values


def test_an_observation_fitted_to_its_own_facts_is_not_evidence_unless_ranged() -> None:
    observations = load_observations(SHIPPED)
    table = table_of([PLANTED["covert exports four times the record's"]])
    keep, section = match(observations, table, 1, DAYS, {}, START, {"status_quo": set(), "oracle": set()})
    assert keep.all()
    entry = section["observations"]["spreadsheet-exports-2022"]
    assert not entry["used"] and "fitted to the same facts" in entry["why"] and entry["ruled_out"] == 1


@pytest.mark.slow
def test_a_simulated_world_with_almost_no_access_is_ruled_out_in_waves(tmp_path: Path) -> None:
    """The real model: near-zero requested access contradicts the record's routine access from China."""
    arrangements = ROOT / "configs" / "arrangements"
    folder = tmp_path / "explore"
    result = run_cli("explore", arrangements / "status_quo.toml", arrangements / "oracle.toml", "--worlds", 4,
                     "-r", 1, "--days", 365, "--history-match", "--waves", 2, "--out", folder, "-q",
                     "--set", "actors.cn_engineers.headcount=1", "--set", "actors.cn_engineers.requests_per_hour=0.001")
    assert result.returncode == 0, result.stdout + result.stderr
    matched = json.loads((folder / "explore.json").read_text(encoding="utf-8"))["history_match"]
    assert matched["ruled_out"] == 4
    assert matched["observations"]["china-access-routine-2021"]["ruled_out"] == 4
    for key in ("china-access-routine-2021", "spreadsheet-exports-2022", "unofficial-sharing-2023"):
        assert matched["observations"][key]["read"] == "by date", key  # runs on the record's calendar
    assert [wave["wave"] for wave in matched["waves"]] == [1]  # nothing remains to sample a second wave in
    assert np.all(np.asarray(matched["implausibility_max"]) > 3.0)
