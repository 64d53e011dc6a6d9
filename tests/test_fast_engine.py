"""The fast engine against the event engine: identical results, to the bit (issue 10)."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest
from conftest import ARRANGEMENTS, MMC, run_cli, split_groups

from sim.config.loader import load_config
from sim.config.schema import Config, WorkingHours
from sim.errors import InputError
from sim.experiment.replications import run_replication
from sim.metrics.recorder import Recorder, ReplicationResult
from sim.model.batched.arrivals import MERGE_RUNS
from sim.model.batched.fast import FastWorld
from sim.model.event.world import World
from sim.model.rng import Streams

SEED, DAYS = 20220617, 90
OFFICE = WorkingHours(start_hour=9, end_hour=17, weekdays_only=True)


def shorter(config: Config, days: int = DAYS) -> Config:
    """Return a config over a shorter horizon."""
    return config.model_copy(update={"scenario": config.scenario.model_copy(update={"days": days})})


def with_gate(config: Config, **changes: Any) -> Config:
    """Return a config whose gatekeeper has some fields changed."""
    assert config.gatekeeper is not None
    return config.model_copy(update={"gatekeeper": config.gatekeeper.model_copy(update=changes)})


def mmc_variants() -> dict[str, Config]:
    """Return the M/M/c config plain, on office shifts (with overtime), with expiry, and both."""
    plain = shorter(load_config(MMC).config)
    # Office shifts serve 80 reviews a day, so 3 requests an hour around the clock keep them busy.
    busy = plain.model_copy(update={"actors": {
        name: spec.model_copy(update={"requests_per_hour": 3.0}) for name, spec in plain.actors.items()}})
    return {
        "plain": plain,
        "shifts": with_gate(busy, hours=OFFICE, timezone="America/New_York"),
        "expiry": with_gate(plain, expiry_hours=0.5),
        "shifts+expiry": with_gate(busy, hours=OFFICE, timezone="Asia/Tokyo", expiry_hours=20.0),
    }


def stressed(path: Path) -> Config:
    """Return an arrangement with a short expiry, gate errors and requests mixing two route orders."""
    config = shorter(load_config(path).config)
    actors = {name: spec.model_copy(update={"route_choice": "share", "least_resistance_share": 0.5})
              for name, spec in config.actors.items()}
    config = config.model_copy(update={"actors": actors})
    if config.gatekeeper is None:
        return config
    return with_gate(config, expiry_hours=3.0, false_approval=0.1, false_denial=0.1)


def run(config: Config, engine: str, replication: int = 0, span: float | None = None) -> ReplicationResult:
    """Run one replication with one engine."""
    recorder = Recorder(config)
    streams = Streams(SEED, replication)
    world = World(config, streams, recorder) if engine == "event" else FastWorld(config, streams, recorder, span)
    return recorder.finish(world.run())


def exact(value: float) -> str:
    """Return a float's exact spelling (NaN equal to NaN)."""
    return "nan" if math.isnan(value) else float(value).hex()


def assert_identical(a: ReplicationResult, b: ReplicationResult) -> None:
    """Assert two results equal to the bit: metrics, daily series and wait histogram."""
    assert {k: exact(v) for k, v in a.metrics.items()} == {k: exact(v) for k, v in b.metrics.items()}
    assert {k: [exact(v) for v in col] for k, col in a.daily.items()} == {
        k: [exact(v) for v in col] for k, col in b.daily.items()}
    assert a.wait_histogram == b.wait_histogram


ARRANGEMENT_FILES = sorted(ARRANGEMENTS.glob("*.toml"))


@pytest.mark.slow
@pytest.mark.unmeasured
@pytest.mark.parametrize("path", ARRANGEMENT_FILES, ids=lambda p: p.stem)
def test_every_arrangement_matches_the_event_engine(path: Path) -> None:
    config = shorter(load_config(path).config)
    for replication in (0, 1):
        assert_identical(run(config, "event", replication), run(config, "fast", replication))


@pytest.mark.parametrize("path", ARRANGEMENT_FILES[1::2], ids=lambda p: p.stem)
def test_stressed_arrangements_match(path: Path) -> None:
    config = stressed(path)
    event = run(config, "event")
    assert_identical(event, run(config, "fast"))


@pytest.mark.parametrize("variant", ["plain", "shifts", "expiry", "shifts+expiry"])
def test_mmc_variants_match(variant: str) -> None:
    config = mmc_variants()[variant]
    event = run(config, "event")
    assert_identical(event, run(config, "fast"))
    if variant != "plain":
        # The variant exercises what it is for: expiries, or overtime past the shift end.
        expired = event.metrics["requests.expired"]
        assert expired > 0 if "expiry" in variant else expired == 0


@pytest.mark.parametrize("headcount", [1, 3, 40, 300])
def test_small_groups_match(headcount: int) -> None:
    """Groups that expect a few requests a window (filled gap by gap) or dozens (with array sums) match."""
    config = shorter(load_config(ARRANGEMENTS / "oracle.toml").config)
    actors = {name: spec.model_copy(update={"headcount": headcount}) for name, spec in config.actors.items()}
    config = config.model_copy(update={"actors": actors})
    event = run(config, "event")
    assert event.metrics["requests.submitted"] > 0
    assert_identical(event, run(config, "fast"))
    assert_identical(event, run(config, "fast", span=5.5))


def test_many_groups_match() -> None:
    """Twelve groups of three (the arrivals merged from more runs than `MERGE_RUNS`, filled together) match."""
    config = split_groups(shorter(load_config(ARRANGEMENTS / "oracle.toml").config, 30), 6)
    config = config.model_copy(update={"actors": {name: spec.model_copy(update={"headcount": 3})
                                                  for name, spec in config.actors.items()}})
    assert len(config.actors) > MERGE_RUNS
    event = run(config, "event")
    assert event.metrics["requests.submitted"] > 0
    assert_identical(event, run(config, "fast"))


@pytest.mark.slow  # 10-20 s in the fast tier on the shared 2-core machine: over the ~2 s line
@pytest.mark.unmeasured
def test_results_do_not_depend_on_the_batch_length() -> None:
    configs = [*mmc_variants().values(), stressed(ARRANGEMENTS / "oracle.toml")]
    for config in configs:
        assert_identical(run(config, "fast", span=7.25), run(config, "fast", span=500.0))


def test_run_replication_takes_either_engine() -> None:
    config = shorter(load_config(MMC).config, 20)
    assert_identical(run_replication(config, SEED, 0, engine="event"), run_replication(config, SEED, 0))


@pytest.mark.slow  # 10-20 s in the fast tier on the shared 2-core machine: over the ~2 s line
@pytest.mark.unmeasured
def test_the_cli_records_the_engine_in_the_manifest(tmp_path: Path) -> None:
    for engine in ("fast", "event"):
        out = tmp_path / engine
        result = run_cli("run", MMC, "--days", "3", "-r", "1", "--engine", engine, "--out", out, "-q")
        assert result.returncode == 0, result.stderr
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        assert manifest["engine"] == engine and "engine_reason" not in manifest
    assert (tmp_path / "fast" / "summary.json").read_bytes() == (tmp_path / "event" / "summary.json").read_bytes()


def test_the_api_takes_either_engine() -> None:
    import sim

    fast = sim.run(MMC, days=5, replications=1, workers=1)
    event = sim.run(MMC, days=5, replications=1, workers=1, engine="event")
    assert fast.summary.equals(event.summary)
    with pytest.raises(InputError, match="no such engine"):
        sim.run(MMC, days=5, replications=1, workers=1, engine="quick")  # type: ignore[arg-type]
