"""Designing terms: lever files are validated, the search finds a known trade-off, points reproduce."""

from __future__ import annotations

import dataclasses
import itertools
import json
import shlex
from pathlib import Path

import pytest
from conftest import MMC, ROOT, Sizing, run_cli

from sim.config.levers import load_levers
from sim.config.loader import load_config
from sim.errors import InputError
from sim.experiment.design import COST, cheapest_meeting, front, parse_target, search, stored_rows
from sim.experiment.design_setup import prepare
from sim.experiment.executors import LocalExecutor
from sim.experiment.sweep import run_metrics
from sim.model.analytic import mmc_mean_wait
from sim.results.store import Store

ORACLE = ROOT / "configs" / "arrangements" / "oracle.toml"
MMC_LEVERS = """
[design]
name = "mmc"
amortise_years = 1

[[levers]]
path = "gatekeeper.reviewers"
low = 9
high = 14
yearly = [900_000, 1_400_000]
assume = "a reviewer costs $100k a year"
"""


def _levers(tmp_path: Path, text: str, name: str = "levers.toml") -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def _error(tmp_path: Path, text: str, config: Path = ORACLE) -> InputError:
    with pytest.raises(InputError) as caught:
        load_levers(_levers(tmp_path, text), load_config(config))
    return caught.value


def _lever(body: str) -> str:
    return f'[design]\nname = "t"\n\n[[levers]]\n{body}\n'


# Validation: every bad lever file names the file, the key and the fix.

def test_unknown_key_is_named(tmp_path: Path) -> None:
    """A misspelt key in a lever is refused with its dotted key."""
    error = _error(tmp_path, _lever('path = "controls.audit_delay_days_median"\nlow = 30\nhigh = 300\n'
                                    'yearli = [0, 1]\nassume = "x"'))
    assert error.source.endswith("levers.toml") and "yearli" in (error.key or "")


def test_path_missing_from_the_config_is_refused(tmp_path: Path) -> None:
    """A lever on a path the config does not have names `levers.0.path`."""
    error = _error(tmp_path, _lever('path = "gatekeeper.reviewerz"\nlow = 30\nhigh = 300\nassume = "x"'))
    assert error.key == "levers.0.path" and "reviewerz" in error.problem


def test_lever_on_a_range_must_say_it_overrides_it(tmp_path: Path) -> None:
    """A lever whose path is also a sampled range is an error unless it pins the range explicitly."""
    body = 'path = "gatekeeper.reviewers"\nlow = 30\nhigh = 300\nassume = "x"'
    error = _error(tmp_path, _lever(body))
    assert error.key == "levers.0.path" and "overrides_range" in error.fix
    loaded = load_levers(_levers(tmp_path, _lever(body + "\noverrides_range = true")), load_config(ORACLE))
    assert loaded.ranges == {"gatekeeper.reviewers": "range [30, 300]"}


def test_bounds_outside_the_schema_are_refused(tmp_path: Path) -> None:
    """A probability lever reaching 1.5 fails on its `high` bound."""
    error = _error(tmp_path, _lever('path = "controls.audit_delay_sigma"\nlow = 0.1\nhigh = 50.0\nassume = "x"'))
    assert error.key == "levers.0.high"


def test_cost_needs_a_known_source(tmp_path: Path) -> None:
    """A cost citing no source, or a fact id the fact base lacks, is refused."""
    error = _error(tmp_path, _lever('path = "controls.audit_delay_days_median"\nlow = 30\nhigh = 300'))
    assert "source" in error.problem
    error = _error(tmp_path, _lever('path = "controls.audit_delay_days_median"\nlow = 30\nhigh = 300\n'
                                    'fact = "no-such-fact"'))
    assert error.key == "levers.0.fact"


def test_choice_costs_name_every_choice(tmp_path: Path) -> None:
    """A choice lever's cost table must name each choice."""
    error = _error(tmp_path, _lever('path = "sites.singapore.key_custody"\nchoices = ["bytedance", "usds"]\n'
                                    'one_off = { usds = 1 }\nassume = "x"'))
    assert "one_off" in (error.key or "")


def test_shipped_lever_files_load() -> None:
    """The shipped lever files load against their configs, and their shipped terms have a cost."""
    for name in ("oracle", "joint_venture"):
        base = load_config(ROOT / "configs" / "arrangements" / f"{name}.toml")
        levers = load_levers(ROOT / "configs" / "design" / f"{name}.toml", base)
        assert len(levers.levers) >= 10
        assert all(lever.cite() for lever in levers.levers)
        assert levers.cost(dict(levers.shipped))["total_yearly"] > 0


def test_cli_error_is_one_paragraph(tmp_path: Path) -> None:
    """A bad lever file ends the command with exit 2 and one paragraph, no traceback."""
    path = _levers(tmp_path, _lever('path = "gatekeeper.nothing"\nlow = 1\nhigh = 2\nassume = "x"'))
    result = run_cli("design", "oracle", "--levers", path, "-o", tmp_path / "out")
    assert result.returncode == 2
    assert "levers.0.path" in result.stderr and "Traceback" not in result.stderr
    assert not (tmp_path / "out").exists()


def test_target_parsing() -> None:
    """Targets read METRIC<=NUMBER or METRIC>=ARRANGEMENT; anything else is refused."""
    known = ["residual_access.events"]
    assert parse_target("residual_access.events<=5000", 0.9, known).value == 5000
    assert parse_target("residual_access.events<=microsoft", 0.9, known, ["microsoft"]).against == "microsoft"
    for bad in ("residual_access.events=5", "nothing<=5", "residual_access.events<=google"):
        with pytest.raises(InputError):
            parse_target(bad, 0.9, known, ["microsoft"])


# The search on a model whose optimum is known: M/M/c with reviewers as the lever.

@pytest.fixture(scope="module")
def mmc_search(tmp_path_factory: pytest.TempPathFactory) -> tuple[object, object]:
    """Search reviewers 9..14 of an M/M/c queue (8 arrivals an hour, 1-hour reviews) against their cost."""
    folder = tmp_path_factory.mktemp("mmc")
    path = _levers(folder, MMC_LEVERS)
    plan = prepare(MMC, path, [("scenario.days", "60", "--days")], 1, 2, 7, ["friction.wait_hours"],
                   "friction.wait_hours<=0.14", 1.0, 0.9)
    with Store(folder / "out") as store:
        found = search(plan, store, LocalExecutor(1), 18, 6)
    return plan, found


def test_search_finds_the_queueing_trade_off(mmc_search: tuple[object, object]) -> None:
    """Every reviewer count is tried, waits fall as reviewers rise, near Erlang C, and all are on the front."""
    plan, found = mmc_search
    waits = {c.terms["gatekeeper.reviewers"]: c.objectives["friction.wait_hours"]["value"]
             for c in found.candidates}  # type: ignore[attr-defined]
    assert set(waits) == set(range(9, 15))
    ordered = [waits[c] for c in sorted(waits)]
    assert all(a > b for a, b in itertools.pairwise(ordered))
    for reviewers in (9, 10, 11):
        assert waits[reviewers] == pytest.approx(mmc_mean_wait(8.0, 1.0, reviewers), rel=0.3)
    points = front(plan, found.candidates)  # type: ignore[arg-type]
    assert sorted(p.terms["gatekeeper.reviewers"] for p in points) == list(range(9, 15))


def test_cheapest_terms_meeting_the_target(mmc_search: tuple[object, object]) -> None:
    """A wait of at most 0.14 h (Erlang C: 0.20 h with 10 reviewers, 0.08 h with 11) needs 11 reviewers."""
    plan, found = mmc_search
    cheapest = cheapest_meeting(plan, found.candidates)  # type: ignore[arg-type]
    assert cheapest is not None and cheapest.terms["gatekeeper.reviewers"] == 11


def test_stricter_target_is_never_met_more_cheaply(mmc_search: tuple[object, object]) -> None:
    """Lowering the bound, or raising the confidence, never makes the cheapest terms cheaper."""
    plan, found = mmc_search
    costs = []
    for bound in (1.0, 0.5, 0.2, 0.1, 0.05, 0.02, 0.01, 0.005):
        target = parse_target(f"friction.wait_hours<={bound}", 1.0, ["friction.wait_hours"])
        stricter = dataclasses.replace(plan, target=target)  # type: ignore[type-var]
        shares = [dataclasses.replace(c, target_share=float(c.per_world["friction.wait_hours"][0] <= bound))
                  for c in found.candidates]  # type: ignore[attr-defined]
        cheapest = cheapest_meeting(stricter, shares)
        costs.append(float("inf") if cheapest is None else cheapest.objectives[COST]["value"])
    assert costs == sorted(costs)


def test_no_front_point_dominates_another(mmc_search: tuple[object, object]) -> None:
    """On the front no point is at least as good on every objective and better on one."""
    plan, found = mmc_search
    points = front(plan, found.candidates)  # type: ignore[arg-type]
    for a in points:
        for b in points:
            if a is not b:
                va, vb = a.values(plan), b.values(plan)  # type: ignore[arg-type]
                assert not (all(x <= y for x, y in zip(va, vb, strict=True)) and va != vb)


# End to end on Oracle's shipped lever file, tiny.

@pytest.mark.slow
def test_design_command_end_to_end(tmp_path: Path) -> None:
    """Terms stay within bounds, the same command gives the same bytes, and a point's command reproduces it."""
    args = ["design", "oracle", "--levers", "oracle", "--worlds", "2", "-r", "1", "--days", "30", "--trials", "6",
            "--target", "residual_access.events<=joint_venture", "--workers", "1", "-q"]
    first = run_cli(*args, "-o", tmp_path / "a", "--report")
    assert first.returncode == 0, first.stderr
    second = run_cli(*args, "-o", tmp_path / "b")
    assert second.returncode == 0, second.stderr
    doc_a = json.loads((tmp_path / "a" / "design.json").read_text())
    doc_b = json.loads((tmp_path / "b" / "design.json").read_text())
    for doc in (doc_a, doc_b):
        doc.pop("command")
        for point in [*doc["front"], *([doc["target"]["cheapest"]] if doc["target"]["cheapest"] else [])]:
            point.pop("command")
    assert doc_a == doc_b
    assert (tmp_path / "a" / "report" / "figures" / "design_front.png").is_file()
    from test_figure_text import text_problems

    from sim.report.design_figures import front_figure

    assert text_problems(front_figure(json.loads((tmp_path / "a" / "design.json").read_text()), "caption")) == []
    assert set(doc_a) >= {"levers", "sense", "front", "reference", "target"}
    levers = {lever["path"]: lever for lever in doc_a["levers"]}
    for candidate in doc_a["candidates"]:
        for path, value in candidate["terms"].items():
            lever = levers[path]
            assert value in lever["choices"] if "choices" in lever else lever["low"] <= value <= lever["high"]
    point = json.loads((tmp_path / "a" / "design.json").read_text())["front"][-1]
    command = shlex.split(point["command"])
    assert command[:2] == ["residency", "design"]
    again = run_cli(*command[1:], "--workers", "1", "-q")
    assert again.returncode == 0, again.stderr
    rerun = json.loads((tmp_path / "a" / "point" / "point.json").read_text())
    assert rerun["objectives"] == point["objectives"]
    assert rerun["target_share"] == point["target_share"]


def test_rows_of_candidates_run_together_are_their_own_runs(tmp_path: Path) -> None:
    """A generation's candidates run in one task per world and replication; each row is the candidate's own run."""
    path = _levers(tmp_path, MMC_LEVERS + """
[[levers]]
path = "gatekeeper.review_hours_mean"
low = 0.8
high = 1.2
yearly = [1_000_000, 0]
assume = "faster reviews cost training"
""")
    plan = prepare(MMC, path, [("scenario.days", "20", "--days")], 1, 2, 5, ["friction.wait_hours"], None, 0.9, 0.9)
    executor = Sizing()
    with Store(tmp_path / "out") as store:
        found = search(plan, store, executor, 6, 3)
        rows = stored_rows(store)
    assert len(found.candidates) == 6
    sizes = executor.sizes
    assert sizes[:2] == [1, 1]  # the reference: the one config, in each replication
    assert max(sizes[2:]) == 3  # a generation: its candidates together (less the runs already stored)
    checked = 0
    for candidate in found.candidates:
        for point in plan.candidate_points(candidate.number, candidate.terms):
            for replication in range(2):
                alone = run_metrics(point.loaded.config, plan.seed, replication)
                assert repr(sorted(rows[point.run_key][replication].items())) == repr(sorted(alone.items()))
                checked += 1
    assert checked == 6 * 2


@pytest.mark.slow
def test_search_resumes_from_the_store(tmp_path: Path) -> None:
    """A longer search in the same folder replays the stored candidates, runs only new rows, and equals a fresh one."""
    path = _levers(tmp_path, MMC_LEVERS)
    plan = prepare(MMC, path, [("scenario.days", "5", "--days")], 1, 1, 3, ["friction.wait_hours"], None, 0.9, 0.9)
    with Store(tmp_path / "resumed") as store:
        short = search(plan, store, LocalExecutor(1), 4, 4)
        stored = len(store.done())
        longer = search(plan, store, LocalExecutor(1), 8, 4)
        assert len(store.done()) <= stored + 4
    with Store(tmp_path / "fresh") as store:
        fresh = search(plan, store, LocalExecutor(1), 8, 4)
    assert [c.terms for c in longer.candidates[:4]] == [c.terms for c in short.candidates]
    assert [(c.terms, c.objectives) for c in longer.candidates] == [(c.terms, c.objectives) for c in fresh.candidates]


@pytest.mark.slow
def test_api_returns_what_the_command_writes(tmp_path: Path) -> None:
    """sim.design gives the CLI's front as a DataFrame, and its folder reports like the command's."""
    import sim

    path = _levers(tmp_path, MMC_LEVERS)
    result = sim.design(MMC, path, worlds=1, replications=1, days=5, trials=6, objectives=["friction.wait_hours"],
                        target="friction.wait_hours<=0.5", out=tmp_path / "api", workers=1)
    cli = run_cli("design", MMC, "--levers", path, "--worlds", "1", "-r", "1", "--days", "5", "--trials", "6",
                  "--objective", "friction.wait_hours", "--target", "friction.wait_hours<=0.5", "--workers", "1",
                  "-q", "-o", tmp_path / "cli")
    assert cli.returncode == 0, cli.stderr
    written = json.loads((tmp_path / "cli" / "design.json").read_text())
    assert list(result.front["friction.wait_hours"]) == [p["objectives"]["friction.wait_hours"]["value"]
                                                         for p in written["front"]]
    assert list(result.front["gatekeeper.reviewers"]) == [p["terms"]["gatekeeper.reviewers"] for p in written["front"]]
    assert result.target is not None and result.target["met"] == written["target"]["met"]
    assert {"path", "low", "high"} <= set(result.levers.columns)
    assert run_cli("report", tmp_path / "api").returncode == 0


def test_named_options_set_values_that_are_not_texts(tmp_path: Path) -> None:
    """An `options` lever picks by name, sets the named value, and costs by name."""
    text = _lever('path = "gatekeeper.emergency_purposes"\n'
                  'options = { incidents = ["emergency_incident"], none = [] }\n'
                  'yearly = { incidents = 0, none = 5 }\nassume = "x"')
    levers = load_levers(_levers(tmp_path, text), load_config(ORACLE))
    assert levers.shipped == {"gatekeeper.emergency_purposes": "incidents"}
    assert levers.settings({"gatekeeper.emergency_purposes": "none"}, "t") == [
        ("gatekeeper.emergency_purposes", "[]", "t")]
    assert levers.cost({"gatekeeper.emergency_purposes": "none"})["yearly"] == 5


@pytest.mark.slow
def test_changed_levers_need_replace(tmp_path: Path) -> None:
    """A folder holding another lever file's rows is refused (one paragraph, exit 2) until --replace."""
    args = ["design", MMC, "--worlds", "1", "-r", "1", "--days", "2", "--trials", "2", "--population", "2",
            "--objective", "friction.wait_hours", "--workers", "1", "-q", "-o", tmp_path / "out"]
    first = run_cli(*args, "--levers", _levers(tmp_path, MMC_LEVERS))
    assert first.returncode == 0, first.stderr
    edited = _levers(tmp_path, MMC_LEVERS.replace("high = 14", "high = 12"), "edited.toml")
    refused = run_cli(*args, "--levers", edited)
    assert refused.returncode == 2 and "--replace" in refused.stderr and "Traceback" not in refused.stderr
    assert run_cli(*args, "--levers", edited, "--replace").returncode == 0
