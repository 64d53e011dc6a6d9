"""No silent surprises: validate lists every problem, warns of unrouted pairs, --strict, compare's guards."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import ROOT, run_cli

import sim
from sim.config.checks import DEFAULT, parameter_sources, problems, unrouted_pairs

UNROUTED = """\
include = "world"

[scenario]
name = "unrouted"

[sites.virginia]
provenance = { assume = "a test site" }
jurisdiction = "US"
operator = "tiktok_us"
role = "primary"
key_custody = "tiktok_us"
holdings = { protected = 1.0, public = 1.0, business_metrics = 1.0, interop = 1.0 }

[[routes]]
provenance = { assume = "only China-based engineers have a route" }
actor = "cn_engineers"
gate = "parent"
"""

BROKEN = """\
include = "world"

[scenario]
name = "broken"

[sitess.x]
jurisdiction = "US"

[controls]
code_review_covrage = { value = 0.5, assume = "typo" }
audit_detect_probability = { value = 2.0, fact = "no-such-fact" }
gateway_deidentify_share = 0.3
"""


def write(folder: Path, text: str, name: str) -> Path:
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def test_every_problem_at_once_unknown_keys_first(tmp_path: Path) -> None:
    """One validate names both unknown keys (with did-you-mean) before the other problems."""
    path = write(tmp_path, BROKEN, "broken.toml")
    found = problems(path)
    keys = [error.key for error in found]
    assert set(keys[:2]) == {"controls.code_review_covrage", "sitess"}
    assert all("not a parameter" in e.problem for e in found[:2])
    assert "controls.code_review_coverage" in found[0].fix + found[1].fix
    assert {"controls.gateway_deidentify_share", "controls.audit_detect_probability"} <= set(keys)
    result = run_cli("validate", path, cwd=tmp_path)
    assert result.returncode == 2
    assert result.stderr.count("error:") == len(found) >= 5
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_unrouted_pairs_warn_and_strict_exits_2(tmp_path: Path) -> None:
    """A config that gives an actor group no route validates with warnings; --strict makes it exit 2."""
    path = write(tmp_path, UNROUTED, "unrouted.toml")
    loaded = sim.load(path)
    assert ("us_engineers", "protected") in unrouted_pairs(loaded.config)
    assert not any(actor == "cn_engineers" for actor, _ in unrouted_pairs(loaded.config))
    plain = run_cli("validate", path, cwd=tmp_path)
    assert plain.returncode == 0 and "warning:" in plain.stderr and "us_engineers" in plain.stderr
    strict = run_cli("validate", "--strict", path, cwd=tmp_path)
    assert strict.returncode == 2


@pytest.mark.slow
def test_run_counts_requests_lost_to_unrouted_pairs(tmp_path: Path) -> None:
    """Requests lost per unrouted pair add up to no_route (every no_route here is unrouted) and are reported."""
    path = write(tmp_path, UNROUTED, "unrouted.toml")
    result = sim.run(path, replications=2, days=14)
    counts = result.replications.set_index("replication")
    lost = counts[[c for c in counts.columns if c.startswith("requests.unrouted.us_engineers.")]].sum(axis=1)
    assert (lost > 0).all()
    assert (lost <= counts["requests.no_route"]).all()
    from sim.report.page import unrouted_notes

    [note] = unrouted_notes(result.figure_data())
    assert "us_engineers / protected" in note
    assert unrouted_notes(sim.run("oracle", replications=1, days=2).figure_data()) == []
    cli = run_cli("run", path, "-r", "2", "--days", "14", "-q", cwd=tmp_path)
    assert cli.returncode == 0 and "no route serves us_engineers" in cli.stderr and "no_route" in cli.stderr
    strict = run_cli("run", path, "-r", "2", "--days", "14", "--strict", cwd=tmp_path)
    assert strict.returncode == 2


@pytest.mark.slow
@pytest.mark.unmeasured
def test_shipped_files_validate_strict() -> None:
    """Every shipped arrangement, sweep and lesson validates cleanly, even under --strict."""
    files = sorted(p for p in (ROOT / "configs").glob("*/*.toml") if p.parent.name != "common")
    result = run_cli("validate", "--strict", *files)
    assert result.returncode == 0, result.stderr
    assert result.stdout.count(": ok") == len(files)
    assert "sweep oracle_stewards" in result.stdout and "lesson backup" in result.stdout
    assert "lever file oracle, " in result.stdout  # checked against the arrangement it is about


def test_bad_sweep_and_lesson_are_checked(tmp_path: Path) -> None:
    """validate reads sweep and lesson files by their top-level table and reports their errors."""
    sweep = write(tmp_path, '[sweep]\nname = "s"\narrangements = ["nosuch"]\nreplicatons = 3\n', "s.toml")
    lesson = write(tmp_path, '[lesson]\ntitle = "t"\nsumary = "x"\n', "l.toml")
    missing = write(tmp_path, '[sweep]\nname = "m"\narrangements = ["nosuch"]\noutputs = ["residual_access.events"]\n'
                    '[[factors]]\npath = "gatekeeper.reviewers"\nvalues = [1, 2]\n', "m.toml")
    result = run_cli("validate", sweep, lesson, missing, cwd=tmp_path)
    assert result.returncode == 2
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    sweep_lines = [line for line in lines if str(sweep) in line]
    assert "sweep.replicatons" in sweep_lines[0] and "Did you mean `sweep.replications`" in sweep_lines[0]
    lesson_lines = [line for line in lines if str(lesson) in line]
    assert "lesson.sumary" in lesson_lines[0] and len(lesson_lines) >= 2  # the typo, then what is missing
    assert any(str(missing) in line and "nosuch" in line for line in lines)


@pytest.mark.slow
def test_facts_marks_schema_defaults(tmp_path: Path) -> None:
    """Every parameter the run uses is listed, defaults marked, in facts and in resolved_config.json."""
    loaded = sim.load("oracle")
    sources = parameter_sources(loaded)
    assert sources["gatekeeper.reviewers"].startswith("assumption")
    assert sources["gatekeeper.expiry_hours"].startswith("fact")
    assert sources["organisations.oracle.independence"] == DEFAULT
    exported = run_cli("facts", "oracle", "--format", "json")
    rows = json.loads(exported.stdout)["rows"]
    assert {r["parameter"] for r in rows} == set(sources)
    assert any(r["source"] == DEFAULT for r in rows)
    run_cli("run", "oracle", "-r", "2", "--days", "3", "-q", "--out", tmp_path / "o")
    resolved = json.loads((tmp_path / "o" / "resolved_config.json").read_text(encoding="utf-8"))
    assert set(resolved["provenance"]) == set(sources) | set(loaded.provenance)
    assert resolved["provenance"]["organisations.oracle.independence"] == DEFAULT
    assert resolved["provenance"]["scenario.days"].startswith("override")


@pytest.mark.slow
def test_compare_guards_exit_2(tmp_path: Path) -> None:
    """Unknown baseline, a missing baseline and duplicate names are each a clear error with exit 2."""
    unknown = run_cli("compare", "status_quo", "oracle", "--baseline", "nosuch", "-r", "2", "--days", "2",
                      "--out", tmp_path / "a")
    assert unknown.returncode == 2 and "nosuch" in unknown.stderr
    missing = run_cli("compare", "oracle", "google", "-r", "2", "--days", "2", "--out", tmp_path / "b")
    assert missing.returncode == 2 and "status_quo" in missing.stderr
    twice = run_cli("compare", "oracle", ROOT / "configs" / "arrangements" / "oracle.toml", "--baseline", "oracle",
                    "-r", "2", "--days", "2", "--out", tmp_path / "c")
    assert twice.returncode == 2 and "both named 'oracle'" in twice.stderr
    assert not (tmp_path / "a").exists() and not (tmp_path / "c").exists()
    for result in (unknown, missing, twice):
        assert "Traceback" not in result.stderr
