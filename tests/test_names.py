"""Shipped names work wherever a config, sweep or lesson is expected; a misspelling gets did-you-mean."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import pytest
from test_hostile_corpus import in_process

from sim.config.resources import ARRANGEMENTS, resolve_named, shipped_names, shipped_path
from sim.errors import InputError

TINY = ("--days", "1", "-r", "1", "--seed", "3", "--workers", "1", "-q")


def test_a_bare_name_resolves_to_the_shipped_file_of_its_kind() -> None:
    """Arrangements, sweeps and lessons resolve by name; a close misspelling is named in the fix."""
    assert resolve_named("oracle").name == "oracle.toml"
    assert resolve_named("oracle_stewards", "sweep").parent.name == "sweeps"
    assert resolve_named("backup", "any").parent.name == "lessons"
    with pytest.raises(InputError) as refused:
        resolve_named("orcale")
    assert "Did you mean `oracle`?" in refused.value.paragraph()
    with pytest.raises(InputError):
        resolve_named("oracle", "lesson")  # an arrangement is not a lesson
    assert resolve_named("no/such.toml") == Path("no/such.toml")  # a path is left for the loader to report


def test_run_names_the_closest_shipped_arrangement(tmp_path: Path) -> None:
    """`residency run orcale` exits 2 with one paragraph saying did you mean oracle."""
    code, output = in_process(["run", "orcale", *TINY], tmp_path)
    assert code == 2 and "Traceback" not in output
    assert "Did you mean `oracle`?" in " ".join(output.split())


def test_validate_takes_shipped_names_of_every_kind(tmp_path: Path) -> None:
    """validate accepts an arrangement, a sweep and a lesson by name, from any folder."""
    code, output = in_process(["validate", "oracle", "oracle_stewards", "backup"], tmp_path)
    assert code == 0, output
    assert "sweep oracle_stewards" in output and "lesson backup" in output


@pytest.mark.slow
def test_sweep_attribute_and_explore_take_names_days_and_replications(tmp_path: Path) -> None:
    """sweep, attribute, explore and teach run accept shipped names and --days, -r and --seed, from any folder."""
    code, output = in_process(["sweep", "oracle_deletion", *TINY, "--out", str(tmp_path / "sw")], tmp_path)
    assert code == 0, output
    assert (tmp_path / "sw" / "results.db").is_file()
    code, output = in_process(["attribute", "oracle", *TINY, "--out", str(tmp_path / "at")], tmp_path)
    assert code == 0, output
    document = json.loads((tmp_path / "at" / "attribution.json").read_text(encoding="utf-8"))
    assert document["run"]["replications"] == 1 and document["run"]["seed"] == 3
    code, output = in_process(["explore", "status_quo", "oracle", "--worlds", "2", *TINY,
                               "--out", str(tmp_path / "ex")], tmp_path)
    assert code == 0, output
    code, output = in_process(["teach", "run", "backup", "--step", "1", *TINY], tmp_path)
    assert code == 0, output


def test_init_writes_a_config_that_audits_anywhere_with_its_own_look(tmp_path: Path) -> None:
    """init's config includes the world by name (facts --audit finds it) and has its own display name and colour."""
    code, output = in_process(["init", "mine", "--from", "oracle"], tmp_path)
    assert code == 0, output
    code, output = in_process(["facts", "--audit", "mine.toml"], tmp_path)
    assert code == 0, output
    code, output = in_process(["validate", "--strict", "mine"], tmp_path)  # the file's name without .toml
    assert code == 0, output
    scenario = tomllib.loads((tmp_path / "mine.toml").read_text(encoding="utf-8"))["scenario"]
    shipped = [tomllib.loads((shipped_path(ARRANGEMENTS) / f"{n}.toml").read_text(encoding="utf-8"))["scenario"]
               for n in shipped_names(ARRANGEMENTS)]
    assert scenario["display"] not in {s.get("display") for s in shipped}
    assert scenario["colour"].upper() not in {s.get("colour", "").upper() for s in shipped}
    code, output = in_process(["init", "other", "--from", "./mine.toml"], tmp_path)
    assert code == 0, output
    other = tomllib.loads((tmp_path / "other.toml").read_text(encoding="utf-8"))["scenario"]
    assert other["colour"] != scenario["colour"]  # a second config in the same folder takes another colour


def test_init_keeps_a_shipped_base_other_than_the_world(tmp_path: Path) -> None:
    """An arrangement that includes another shipped one keeps that base by name, not the world."""
    code, output = in_process(["init", "mine", "--from", "google_access_controls"], tmp_path)
    assert code == 0, output
    assert re.search(r'^include = "google"$', (tmp_path / "mine.toml").read_text(encoding="utf-8"), flags=re.M)
    code, output = in_process(["init", "x", "--from", "orcale"], tmp_path)
    assert code == 2 and "Did you mean `oracle`?" in " ".join(output.split())
