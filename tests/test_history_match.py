"""History matching bites: planted worlds that contradict the record are ruled out, plausible ones are not."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from conftest import ROOT, run_cli

from sim.experiment.history import load_observations, match

START, DAYS = dt.date(2022, 6, 17), 365
DAYS_2022 = (dt.date(2022, 12, 31) - START).days + 1  # the simulated days of each year
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
        put("residual_access.events", name, per_year)
        put("by_year.2022.residual_access.events", name, per_year * DAYS_2022 / 365)
        put("by_year.2023.residual_access.events", name, per_year * (DAYS - DAYS_2022) / 365)
    put("residual_access.by_channel.covert.events", "status_quo", covert_per_year)
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
    "plausible": world(5_000, 2_500, 26, 400),
    "almost no access from China before Project Texas": world(15, 2_500, 26, 400),
    "Project Texas lets nothing through": world(5_000, 0.5, 26, 400),
    "covert exports four times the record's": world(5_000, 2_500, 104, 400),
    "no detection at all": world(5_000, 2_500, 26, None),
}


def test_planted_worlds_that_contradict_the_record_are_ruled_out() -> None:
    observations = load_observations(SHIPPED)
    assert len(observations.items) >= 5
    assert {item.arrangement for item in observations.items} >= {"status_quo", "oracle"}
    keep, section = match(observations, table_of(list(PLANTED.values())), len(PLANTED), DAYS, {}, START, RANGED)
    assert dict(zip(PLANTED, keep.tolist(), strict=True)) == {name: name == "plausible" for name in PLANTED}
    by_observation = section["observations"]
    assert by_observation["journalist-ip-lookups-2022"]["read"] == "by date"
    assert by_observation["china-access-routine-2021"]["read"].startswith("steady rate")
    assert by_observation["detection-delays-four-cases"]["undefined"] == 1


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
    assert [wave["wave"] for wave in matched["waves"]] == [1]  # nothing remains to sample a second wave in
    assert np.all(np.asarray(matched["implausibility_max"]) > 3.0)
