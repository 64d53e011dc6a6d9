"""`residency explore`: collapsed ranges reproduce compare, a planted flip is found, the record rules out, resume."""

from __future__ import annotations

import csv
import html
import json
import os
import re
import shutil
import signal
import sqlite3
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, committed, popen_cli, run_cli, stored_rows, write_config

HERE = ROOT / "tests" / "explore_configs"
PLANTED = (HERE / "pinned.toml", HERE / "ranged.toml")
OBSERVATIONS = HERE / "observations.toml"
SHARE = "sites.abroad_site.holdings.protected"
THRESHOLD = 0.3  # pinned's share: ranged holds less abroad exactly below it
WORLDS = 24


def read_explore(folder: Path) -> dict[str, Any]:
    """Return a folder's explore.json."""
    return dict(json.loads((folder / "explore.json").read_text(encoding="utf-8")))


@pytest.fixture(scope="module")
def planted_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Explore the planted pair over 24 worlds, asking where ranged beats pinned, with history matching."""
    folder = tmp_path_factory.mktemp("planted") / "explore"
    result = run_cli("explore", *PLANTED, "--worlds", WORLDS, "-r", "2", "--metric", "at_rest_abroad.record_days",
                     "--discover", "ranged < pinned", "--history-match", "--observations", OBSERVATIONS,
                     "--out", folder, "--workers", "2", "-q", "--report")
    assert result.returncode == 0, result.stdout + result.stderr
    return folder


@pytest.fixture(scope="module")
def planted(planted_folder: Path) -> dict[str, Any]:
    """Return the planted exploration's explore.json."""
    return read_explore(planted_folder)


@pytest.mark.slow
def test_the_page_opens_with_the_robust_conclusion(planted_folder: Path, planted: dict[str, Any]) -> None:
    page = (planted_folder / "report" / "report.html").read_text(encoding="utf-8")
    first = planted["conclusion"][0]
    assert first.startswith("Across the ") and "pinned" in first
    assert page.index(html.escape(first)) < page.index("<h2>")
    figures = {p.stem for p in (planted_folder / "report" / "figures").iterdir()}
    assert figures == {"explore_distributions", "explore_win_matrix", "explore_regret", "explore_prim_tradeoff_1",
                       "explore_prim_box_1", "explore_ranges", "value_of_information",
                       "explore_minimum_implausibility"}
    assert "P(row leaves less than column)" in page and "History matching" in page


@pytest.mark.slow
def test_contract_paths_are_present(planted: dict[str, Any]) -> None:
    assert planted["worlds"] == WORLDS and planted["metric"] == "at_rest_abroad.record_days"
    for name in ("pinned", "ranged"):
        band = planted["arrangements"][name]["residual_access.events"]
        assert band["p05"] <= band["p50"] <= band["p95"]
        assert set(planted["regret"][name]) >= {"max", "p90"}
        assert planted["regret"][name]["p90"] <= planted["regret"][name]["max"]
    share = planted["pairwise"]["ranged"]["pinned"]["p_less"]
    assert share["mean"] + planted["pairwise"]["pinned"]["ranged"]["p_less"]["mean"] == pytest.approx(1.0)
    assert set(planted["parameters"]) == {SHARE, "actors.abroad.requests_per_hour",
                                          "organisations.subsidiary.independence"}
    assert planted["parameters"][SHARE]["arrangements"] == ["ranged"]
    assert planted["parameters"]["actors.abroad.requests_per_hour"]["shared"] is True


@pytest.mark.slow
def test_the_decision_keys_are_present(planted: dict[str, Any]) -> None:
    assert planted["candidates"] == ["pinned", "ranged"] and planted["references"] == []
    [found] = planted["discovery"]
    assert found["verdict"] == "found" and 0.0 < found["boxes"][0]["p_value"] <= 0.05
    voi = planted["value_of_information"]
    # Among the worlds the record allows (share abroad 0.425 or more) pinned always leaves less:
    # nothing is worth finding out, so the EVPI and every EVPPI are zero.
    assert voi["worlds"] == planted["history_match"]["remaining"] and voi["evpi"] == 0.0
    assert set(voi["parameters"]) <= set(planted["parameters"])
    assert all(e["evppi"] == 0.0 for e in voi["parameters"].values())
    matched = planted["history_match"]
    assert [w["wave"] for w in matched["waves"]] == [1] and matched["observations"]["planted-share"]["ruled_out"] > 0
    assert not planted["ties"]["pinned|ranged"]["indistinguishable"]


@pytest.mark.slow
def test_p_less_is_the_share_of_the_range_below_the_flip(planted: dict[str, Any]) -> None:
    share = planted["pairwise"]["ranged"]["pinned"]["p_less"]
    low, high = share["ci95"]
    assert low <= THRESHOLD <= high
    assert share["mean"] == pytest.approx(THRESHOLD, abs=1.0 / WORLDS)  # a Latin hypercube hits each 1/N stratum
    importance = planted["pairwise"]["ranged"]["pinned"]["importance"]
    assert next(iter(importance)) == SHARE


@pytest.mark.slow
def test_prim_bounds_the_flipping_parameter_near_its_threshold(planted: dict[str, Any]) -> None:
    [found] = planted["discovery"]
    assert found["question"] == "ranged < pinned"
    box = found["boxes"][0]
    assert SHARE in box["limits"]
    low, high = box["limits"][SHARE]
    shares = planted["world_values"]["parameters"][SHARE]
    below, above = [v for v in shares if v < THRESHOLD], [v for v in shares if v > THRESHOLD]
    # The upper edge is a peel's cut: it separates the worlds on either side of the flip (where in the gap
    # between the last world kept and the first peeled is the method's convention, not a finding).
    assert low < THRESHOLD and max(below) <= high < min(above) <= THRESHOLD + 2.0 / WORLDS + 0.02
    assert box["coverage"] >= 0.8 and box["density"] >= 0.8


@pytest.mark.slow
def test_history_matching_rules_out_the_contradicted_end(planted: dict[str, Any]) -> None:
    matched = planted["history_match"]
    shares = planted["world_values"]["parameters"][SHARE]
    contradicted = sum(share < 0.425 for share in shares)  # 5,000,000 - 3 x 250,000 record-days = share 0.425
    assert matched["ruled_out"] == contradicted > 0
    low, high = matched["ranges_after"][SHARE]
    assert low >= 0.425 and high == max(shares)
    before = matched["ranges_before"]["actors.abroad.requests_per_hour"]
    after = matched["ranges_after"]["actors.abroad.requests_per_hour"]
    assert after[1] - after[0] > 0.5 * (before[1] - before[0])  # an unrelated range stays wide
    assert matched["comparison"]["worlds"] == WORLDS - contradicted
    assert matched["comparison"]["pairwise"]["pinned"]["ranged"]["p_less"]["mean"] == 1.0



def collapse(text: str) -> str:
    """Replace every `value = v, range = [lo, hi]` with a range collapsed to `[v, v]`."""
    return re.sub(r"value = ([\d._]+), range = \[[^\]]*\]", r"value = \1, range = [\1, \1]", text)


@pytest.mark.slow
@pytest.mark.unmeasured
def test_collapsed_ranges_reproduce_compare(tmp_path: Path) -> None:
    for path in (HERE / "world.toml", *PLANTED):
        write_config(tmp_path, collapse(path.read_text(encoding="utf-8")), path.name)
    configs = [tmp_path / p.name for p in PLANTED]
    explored = run_cli("explore", *configs, "--worlds", "3", "-r", "3", "--days", "6", "--out", tmp_path / "ex",
                       "--workers", "2", "-q")
    assert explored.returncode == 0, explored.stderr
    compared = run_cli("compare", *configs, "-r", "3", "--days", "6", "--out", tmp_path / "cmp", "--workers", "2",
                       "-q", "--baseline", "pinned")
    assert compared.returncode == 0, compared.stderr
    db = sqlite3.connect(tmp_path / "ex" / "results.db")
    rows = list(db.execute("SELECT p.point, p.arrangement, r.replication, r.metrics FROM points p "
                           "JOIN rows r ON r.run_key = p.run_key"))
    db.close()
    assert len(rows) == 3 * 2 * 3  # every world of every arrangement, though identical worlds ran once
    for _, arrangement, replication, metrics in rows:
        with (tmp_path / "cmp" / arrangement / "replications.csv").open(encoding="utf-8") as handle:
            expected = list(csv.DictReader(handle))[replication]
        for name, value in json.loads(metrics).items():
            assert expected[name] == ("" if value is None else repr(round(value, 6))), name


@pytest.mark.slow
@pytest.mark.unmeasured
def test_kill_and_resume_gives_the_same_rows(tmp_path: Path) -> None:
    # Long enough that the kill, after six committed rows, lands before the run ends.
    args = (*PLANTED, "--worlds", "8", "-r", "3", "--days", "200", "--workers", "1")
    whole = run_cli("explore", *args, "--out", tmp_path / "whole", "-q")
    assert whole.returncode == 0, whole.stderr
    folder = tmp_path / "killed"
    process = popen_cli("explore", *args, "--out", folder)
    try:
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline and process.poll() is None:
            if committed(folder) >= 6:
                break
            time.sleep(0.05)
        assert process.poll() is None, "the run finished before it could be killed"
        os.killpg(process.pid, signal.SIGKILL)
    finally:
        process.kill()
        process.communicate()
    kept = len(stored_rows(folder))
    assert 6 <= kept < 8 * 2 * 3
    early = run_cli("report", folder)
    assert early.returncode == 2 and "has not finished" in early.stderr.replace("\n", " ")
    resumed = run_cli("explore", *args, "--out", folder)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{kept} already stored" in resumed.stderr.replace("\n", " ")
    assert sorted(stored_rows(folder)) == sorted(stored_rows(tmp_path / "whole"))
    assert read_explore(folder)["pairwise"] == read_explore(tmp_path / "whole")["pairwise"]


@pytest.mark.slow
@pytest.mark.parametrize(("flags", "says"), [
    (("--discover", "ranged < nobody"), "not one of the explored arrangements"),
    (("--discover", "ranged is worse"), "A < B"),
    (("--metric", "residual_access.event"), "Did you mean"),
    (("--worlds", "0"), "at least one world"),
    (("--worlds", "6", "--design", "sobol"), "power of two"),
    (("--observations", str(OBSERVATIONS)), "--history-match"),
    (("--candidates", "ranged,nobody"), "not one of the explored arrangements"),
    (("--candidates", "ranged"), "at least two candidates"),
    (("--waves", "0"), "at least one wave"),
])
def test_bad_flags_are_one_paragraph(tmp_path: Path, flags: tuple[str, ...], says: str) -> None:
    result = run_cli("explore", *PLANTED, "--worlds", "2", "-r", "1", *flags, "--out", tmp_path / "out", "-q")
    assert result.returncode == 2 and says in result.stderr.replace("\n", " ")
    assert "Traceback" not in result.stderr and not (tmp_path / "out").exists()


def test_a_bad_observation_names_its_key(tmp_path: Path) -> None:
    text = OBSERVATIONS.read_text(encoding="utf-8").replace("virginia-primary-singapore-backup", "no-such-fact")
    shutil.copytree(ROOT / "seeds", tmp_path / "seeds")
    broken = tmp_path / "observations.toml"
    broken.write_text(text, encoding="utf-8")
    result = run_cli("explore", *PLANTED, "--worlds", "2", "-r", "1", "--history-match", "--observations", broken,
                     "--out", tmp_path / "out", "-q")
    assert result.returncode == 2 and "observation.0.fact" in result.stderr and "no-such-fact" in result.stderr
