"""Control attribution: switching off a control the arrangement lacks changes nothing; deletion matters."""

from __future__ import annotations

import json
from typing import Any

import pytest
from conftest import ARRANGEMENTS, run_cli

from sim.config.loader import load_config
from sim.experiment.attribution import ALL_OFF, CONTROLS, attribute, switched_off
from sim.experiment.executors import LocalExecutor

DOCUMENTED = {"stewardship_gate", "key_custody", "gateway_deidentification", "code_review", "egress_monitoring",
              "audit", "deletion_abroad"}
# Status quo has no steward routes, no gateway, no code review, no egress monitoring, no deletions, and its key custody
# cannot matter (the parent's own company holds the backup's keys).
ABSENT_IN_STATUS_QUO = ("stewardship_gate", "gateway_deidentification", "code_review", "egress_monitoring",
                        "key_custody", "deletion_abroad")


def test_the_switches_are_defined_in_one_place() -> None:
    """CONTROLS names exactly the seven documented controls, each with a meaning."""
    assert set(CONTROLS) == DOCUMENTED
    assert all(meaning and callable(switch) for meaning, switch in CONTROLS.values())


def test_every_switch_changes_the_oracle_config() -> None:
    """On Oracle, which has all seven controls, switching any one off changes the resolved config."""
    oracle = load_config(ARRANGEMENTS / "oracle.toml").config
    for name in CONTROLS:
        assert switched_off(oracle, [name]) != oracle, name
    assert switched_off(oracle, []) == oracle


@pytest.fixture(scope="module")
def status_quo(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Run `residency attribute` on status_quo (3 replications of 30 days) and load attribution.json."""
    folder = tmp_path_factory.mktemp("attribution")
    result = run_cli("attribute", ARRANGEMENTS / "status_quo.toml", "-r", "3", "--set", "scenario.days=30",
                     "--out", folder, "--workers", "1", "-q")
    assert result.returncode == 0, result.stderr
    assert f"wrote {folder / 'attribution.json'}" in " ".join(result.stderr.split())
    assert "What each control of status_quo prevents" in " ".join(result.stdout.split())
    document: dict[str, Any] = json.loads((folder / "attribution.json").read_text(encoding="utf-8"))
    return document


def is_leaf(node: Any) -> bool:
    """Return True for {"mean": number, "ci95": [lo, hi] or null}."""
    return (isinstance(node, dict) and set(node) == {"mean", "ci95"} and isinstance(node["mean"], float | int)
            and (node["ci95"] is None or (len(node["ci95"]) == 2 and node["ci95"][0] <= node["ci95"][1])))


@pytest.mark.slow
def test_attribution_json_has_the_documented_structure(status_quo: dict[str, Any]) -> None:
    """attribution.json holds the run, the as-configured estimate and one record per control."""
    assert {"run", "as_configured", "controls"} <= set(status_quo)
    run = status_quo["run"]
    assert {"scenario", "config_file", "seed", "replications", "metric", "overrides"} <= set(run)
    assert run["scenario"] == "status_quo" and run["replications"] == 3
    assert run["metric"] == "residual_access.events"
    assert "scenario.days=30" in run["overrides"]
    assert is_leaf(status_quo["as_configured"]) and status_quo["as_configured"]["mean"] > 0
    assert set(status_quo["controls"]) == DOCUMENTED | {ALL_OFF}
    for name, record in status_quo["controls"].items():
        assert set(record) == {"meaning", "with_control_off", "prevented", "share_of_all_off"}, name
        assert record["meaning"]
        assert is_leaf(record["with_control_off"]) and is_leaf(record["prevented"]), name


@pytest.mark.slow
@pytest.mark.parametrize("control", ABSENT_IN_STATUS_QUO)
def test_a_control_status_quo_lacks_prevents_nothing(control: str, status_quo: dict[str, Any]) -> None:
    """Switching off a control status_quo does not have leaves residual access exactly as it was."""
    record = status_quo["controls"][control]
    assert record["prevented"] == {"mean": 0.0, "ci95": [0.0, 0.0]}
    assert record["with_control_off"] == status_quo["as_configured"]


@pytest.mark.slow
def test_oracle_deletion_abroad_prevents_residual_access() -> None:
    """On Oracle, never deleting the copies abroad raises residual access: the interval is above 0."""
    loaded = load_config(ARRANGEMENTS / "oracle.toml", [("scenario.days", "200", "test")])
    base, rows, results = attribute(loaded, loaded.config.scenario.seed, 3, LocalExecutor(1))
    assert len(results) == 1 + len(CONTROLS) + 1
    assert base.mean is not None and base.mean > 0
    by_name = {row.control: row for row in rows}
    assert set(by_name) == DOCUMENTED | {ALL_OFF}
    deletion = by_name["deletion_abroad"].contribution
    assert deletion.low is not None and deletion.low > 0
    assert by_name[ALL_OFF].share_of_total == 1.0
    # Audit detects accesses after the fact; it cannot prevent one.
    assert by_name["audit"].contribution.mean == 0.0
