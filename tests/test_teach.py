"""`residency teach`: shipped lessons end to end, list and show, handouts, --step, --seed and lesson-file errors."""

from __future__ import annotations

import contextlib
import html
import io
import re
import subprocess
import tomllib
import traceback
from pathlib import Path
from typing import Any

import pytest
from conftest import ROOT, run_cli

from sim.cli import main
from sim.teach.lesson import load_lesson
from sim.teach.run import KEY_FIGURES

LESSONS = ROOT / "configs" / "lessons"
ARRANGEMENTS = ROOT / "configs" / "arrangements"
ORACLE = ARRANGEMENTS / "oracle.toml"
SHIPPED = ("backup", "covert", "gatekeeper_queue", "independence", "three_proposals")
ANSWER = "Answer:"
KEY_FIGURES_TITLE = "Key figures (mean ± 95% CI)"


def lesson_toml(name: str) -> dict[str, Any]:
    """Return a shipped lesson file as parsed TOML."""
    return tomllib.loads((LESSONS / f"{name}.toml").read_text(encoding="utf-8"))


def question_count(lesson: dict[str, Any]) -> int:
    """Return how many questions a lesson's steps ask."""
    return sum(len(step["questions"]) for step in lesson["steps"])


def shortened_copy(name: str, folder: Path, days: int) -> Path:
    """Copy a shipped lesson into folder with [lesson] days set and every arrangement an absolute path."""
    text = (LESSONS / f"{name}.toml").read_text(encoding="utf-8")
    assert "\ndays =" not in text.split("[[steps]]")[0], "the shipped lesson already sets days"
    text = text.replace("[lesson]\n", f"[lesson]\ndays = {days}\n", 1)

    def absolute(match: re.Match[str]) -> str:
        arrangement = match.group(1)
        target = (LESSONS / arrangement if arrangement.endswith(".toml") else ARRANGEMENTS / f"{arrangement}.toml")
        assert target.resolve().is_file(), target
        return f'arrangement = "{target.resolve()}"'

    text = re.sub(r'^arrangement = "([^"]+)"$', absolute, text, flags=re.MULTILINE)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.toml"
    path.write_text(text, encoding="utf-8")
    copy = tomllib.loads(text)
    assert copy["lesson"]["days"] == days and len(copy["steps"]) == len(lesson_toml(name)["steps"])
    return path


def assert_whole_lesson_printed(stdout: str, lesson: dict[str, Any]) -> None:
    """Check the story of every step, one key-figures table per step, and one answer per question."""
    for number, step in enumerate(lesson["steps"], start=1):
        assert f"Step {number}: {step['title']}" in stdout
        for question in step["questions"]:
            assert question["text"] in stdout
    assert stdout.count(KEY_FIGURES_TITLE) == len(lesson["steps"])
    for _, label, _ in KEY_FIGURES:
        assert label in stdout
    answers = [line for line in stdout.splitlines() if line.strip().startswith(ANSWER)]
    assert len(answers) == stdout.count(ANSWER) == question_count(lesson)


def assert_clean_failure(result: subprocess.CompletedProcess[str], *needles: str) -> None:
    """Check exit code 2, no traceback, a `Fix:` and each needle in the error."""
    output = result.stdout + result.stderr
    assert result.returncode == 2, output
    assert "Traceback" not in output, output
    assert "Fix:" in result.stderr, output
    for needle in needles:
        assert needle in result.stderr, f"{needle!r} not in: {result.stderr}"


# --- the shipped lessons, end to end ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def backup_run(tmp_path_factory: pytest.TempPathFactory) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run the shipped `backup` lesson, writing a handout; return the result and the handout folder.

    Every step and question as shipped, over 30 days and 2 replications instead of the lesson's four years
    and 5: what the tests read (each step's table, one answer per question, the handout) does not depend on
    either, and the full lesson cost minutes of the suite.
    """
    folder = tmp_path_factory.mktemp("backup_handout") / "handout"
    result = run_cli("teach", "run", "backup", "-q", "--workers", "2", "--days", "30", "-r", "2", "--handout", folder)
    assert result.returncode == 0, result.stdout + result.stderr
    return result, folder


@pytest.mark.slow
def test_backup_runs_as_shipped(backup_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """`teach run backup` prints every step, a key-figures table per step and one answer per question."""
    result, folder = backup_run
    assert "Traceback" not in result.stderr
    assert_whole_lesson_printed(result.stdout, lesson_toml("backup"))
    assert f"handout: {folder / 'students.html'}" in result.stdout


@pytest.mark.parametrize("name", [
    "covert", "independence",
    pytest.param("gatekeeper_queue", marks=pytest.mark.slow),
    pytest.param("three_proposals", marks=pytest.mark.slow),
])
@pytest.mark.slow
@pytest.mark.unmeasured
def test_shipped_lesson_runs_end_to_end(tmp_path: Path, name: str) -> None:
    """Each other shipped lesson, shortened to 10 days, runs through the CLI with an answer per question."""
    path = shortened_copy(name, tmp_path / "lessons", days=10)
    result = run_cli("teach", "run", path, "-q", "--workers", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    assert_whole_lesson_printed(result.stdout, lesson_toml(name))


def test_every_shipped_lesson_loads() -> None:
    """Every shipped lesson validates, resolves its arrangements and cites existing facts."""
    assert sorted(p.stem for p in LESSONS.glob("*.toml")) == sorted(SHIPPED)
    for name in SHIPPED:
        lesson = load_lesson(str(LESSONS / f"{name}.toml"))
        assert len(lesson.configs) == len(lesson.spec.steps) == len(lesson_toml(name)["steps"])
        assert all(fact in lesson.facts for step in lesson.spec.steps for fact in step.facts)


@pytest.mark.slow
def test_teach_list_shows_every_lesson_with_title_and_level() -> None:
    """`teach list` has a row per shipped lesson with its title, level and step count."""
    result = run_cli("teach", "list")
    assert result.returncode == 0, result.stderr
    rows = {line.split("│")[1].strip(): line for line in result.stdout.splitlines() if line.count("│") >= 4}
    assert set(SHIPPED) <= set(rows)
    for name in SHIPPED:
        spec = lesson_toml(name)
        assert spec["lesson"]["title"] in rows[name]
        assert spec["lesson"]["level"] in rows[name]
        assert f"│ {len(spec['steps'])}" in rows[name]


def test_teach_show_prints_goals_steps_and_questions_without_answers() -> None:
    """`teach show backup` prints the goals, each step's title and every question, but no answers."""
    result = run_cli("teach", "show", "backup")
    assert result.returncode == 0, result.stderr
    spec = lesson_toml("backup")
    assert spec["lesson"]["title"] in result.stdout
    for goal in spec["lesson"]["goals"]:
        assert goal in result.stdout
    for number, step in enumerate(spec["steps"], start=1):
        assert f"Step {number}: {step['title']}" in result.stdout
        for question in step["questions"]:
            assert question["text"] in result.stdout
    assert ANSWER not in result.stdout
    assert "Key figures" not in result.stdout


def test_teach_show_is_written_for_people() -> None:
    """`teach show` names arrangements by display name and overrides in words: no Python dict, no dotted path."""
    result = run_cli("teach", "show", "gatekeeper_queue")
    assert result.returncode == 0, result.stderr
    assert "{" not in result.stdout and "overrides" not in result.stdout
    assert "Arrangement: Oracle (Project Texas)" in result.stdout
    assert "Changed: Gatekeeper: reviewers = 200" in result.stdout
    assert not re.search(r"\b[a-z_]+\.[a-z_]+\b", result.stdout)


def test_answers_to_how_many_fewer_questions_are_reductions() -> None:
    """Every shipped question asking how many fewer (or how much shorter, or what was saved) is a reduction."""
    for name in SHIPPED:
        for step in lesson_toml(name)["steps"]:
            for question in step["questions"]:
                if re.search(r"\b(fewer|shorter|save)\b", question["text"]):
                    assert question["answer"].get("statistic") == "reduction", (name, question["text"])


# --- handouts --------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_handout_pages_and_figures(backup_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """Students' pages ask every question without answers; the teacher's answer each; HTML is self-contained."""
    _, folder = backup_run
    spec = lesson_toml("backup")
    questions = [q["text"] for step in spec["steps"] for q in step["questions"]]
    figures = sorted((folder / "figures").glob("*.png"))
    assert figures and all(f.stat().st_size > 1000 for f in figures)
    pages = {name: (folder / name).read_text(encoding="utf-8") for name in
             ("students.html", "students.md", "teacher.html", "teacher.md")}
    for name, page in pages.items():
        text = html.unescape(page) if name.endswith(".html") else page
        for question in questions:
            assert question in text, (name, question)
        if name.startswith("students"):
            assert ANSWER not in text, name
        else:
            assert text.count(ANSWER) == len(questions), name
    for name in ("students.html", "teacher.html"):
        page = pages[name]
        assert not re.search(r"https?://", page), re.search(r".{60}https?://.{60}", page)
        assert page.count("src=\"data:image/png;base64,") + page.count("src='data:image/png;base64,") == len(figures)
        assert "figures/" not in page
    for name in ("students.md", "teacher.md"):
        for figure in figures:
            assert f"(figures/{figure.name})" in pages[name]


@pytest.mark.slow
def test_handout_cites_each_fact_with_its_date(backup_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """Every fact a step cites appears, dated, on both audiences' pages."""
    _, folder = backup_run
    lesson = load_lesson(str(LESSONS / "backup.toml"))
    cited = [lesson.facts[fact] for step in lesson.spec.steps for fact in step.facts]
    assert cited
    for name in ("students.html", "students.md", "teacher.html", "teacher.md"):
        page = (folder / name).read_text(encoding="utf-8")
        text = html.unescape(page) if name.endswith(".html") else page
        for fact in cited:
            dated = fact.date.isoformat() if fact.date else "undated"
            assert f"{dated}: {fact.text}" in text, (name, fact.id)


@pytest.mark.slow
def test_handout_figures_draw_without_warnings(backup_run: tuple[subprocess.CompletedProcess[str], Path]) -> None:
    """Drawing the handout's figures raises no layout warning."""
    result, _ = backup_run
    assert "Warning" not in result.stderr, result.stderr


# --- a tiny lesson for --step, --seed and --trace --------------------------------------------------------------


TINY_STEPS = (
    ("Tiny one: Oracle as shipped", "", ['metric = "residual_access.events"']),
    ("Tiny two: a small team", '"gatekeeper.reviewers" = 25',
     ['metric = "friction.wait_hours", format = "hours"',
      'metric = "friction.wait_hours", statistic = "difference", format = "hours"']),
    ("Tiny three: a bigger team", '"gatekeeper.reviewers" = 200',
     ['metric = "friction.wait_hours", statistic = "difference", format = "hours"']),
)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Write a three-step, ten-day, two-replication Oracle lesson whose later steps compare with the one before."""
    text = ('[lesson]\ntitle = "Tiny"\nlevel = "introductory"\ngoals = ["test the flags"]\n'
            'days = 10\nreplications = 2\ntrace_actor = "cn_engineers"\n\n')
    for number, (title, overrides, answers) in enumerate(TINY_STEPS, start=1):
        text += (f'[[steps]]\ntitle = "{title}"\narrangement = "{ORACLE}"\nnarrative = "NARRATIVE-{number}"\n'
                 + (f"overrides = {{ {overrides} }}\n" if overrides else ""))
        for i, answer in enumerate(answers, start=1):
            text += f'[[steps.questions]]\ntext = "Step {number} question {i}?"\nanswer = {{ {answer} }}\n'
    path = tmp_path_factory.mktemp("tiny") / "tiny.toml"
    path.write_text(text, encoding="utf-8")
    return path


_tiny_runs: dict[tuple[str, ...], subprocess.CompletedProcess[str]] = {}


def run_tiny(tiny: Path, *args: object) -> subprocess.CompletedProcess[str]:
    """Run `teach run` on the tiny lesson with one worker, once per distinct argument list."""
    key = (str(tiny), *map(str, args))
    if key not in _tiny_runs:
        _tiny_runs[key] = run_cli("teach", "run", tiny, "-q", "--workers", "1", *args)
    return _tiny_runs[key]


def answers_of(stdout: str) -> list[str]:
    """Return the answer lines of a run."""
    return [line.strip() for line in stdout.splitlines() if line.strip().startswith(ANSWER)]


@pytest.mark.slow
def test_step_runs_one_step_beside_the_previous(tiny: Path) -> None:
    """`--step 2` tells step 2 only, with step 1's figures as a column for comparison."""
    result = run_tiny(tiny, "--step", "2")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Step 2: {TINY_STEPS[1][0]}" in result.stdout
    assert f"step 1: {TINY_STEPS[0][0]}" in result.stdout  # the key-figures column header
    assert "NARRATIVE-2" in result.stdout
    assert "NARRATIVE-1" not in result.stdout and "NARRATIVE-3" not in result.stdout
    assert "Step 1:" not in result.stdout and "Step 3:" not in result.stdout
    assert result.stdout.count(KEY_FIGURES_TITLE) == 1
    assert len(answers_of(result.stdout)) == 2


@pytest.mark.slow
def test_step_after_a_comparing_step_runs(tiny: Path) -> None:
    """`--step 3` works although step 2 (run for comparison) asks for a difference to step 1."""
    result = run_tiny(tiny, "--step", "3")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Step 3: {TINY_STEPS[2][0]}" in result.stdout
    assert f"step 2: {TINY_STEPS[1][0]}" in result.stdout
    assert len(answers_of(result.stdout)) == 1


@pytest.mark.parametrize("step", ["0", "4"])
def test_step_out_of_range_is_refused(tiny: Path, step: str) -> None:
    """`--step 0` and a step past the last exit 2 naming the steps there are."""
    assert_clean_failure(run_tiny(tiny, "--step", step), "--step", "1 to 3")


@pytest.mark.slow
def test_unknown_trace_actor_is_refused(tiny: Path) -> None:
    """`--trace-actor nobody` exits 2 and lists the actor groups."""
    assert_clean_failure(run_tiny(tiny, "--step", "1", "--trace", "3", "--trace-actor", "nobody"),
                         "--trace-actor", "nobody", "cn_engineers")


@pytest.mark.slow
def test_trace_is_narrated_in_the_actors_local_time(tiny: Path) -> None:
    """`--trace 4` narrates four events, each 'day N (date), HH:MM Shanghai time' for engineers in China."""
    result = run_tiny(tiny, "--step", "1", "--trace", "4")
    assert result.returncode == 0, result.stderr
    assert "What happens first" in result.stdout
    told = [line.strip() for line in result.stdout.splitlines() if line.strip().startswith("day ")]
    assert len(told) == 4
    assert all(re.match(r"day 1 \(2022-06-1[78]\), \d\d:\d\d Shanghai time: ", line) for line in told), told
    assert "cn_engineers" not in result.stdout


@pytest.mark.slow
def test_seed_changes_the_numbers(tiny: Path) -> None:
    """`--seed` draws other years: the answers change."""
    default = run_tiny(tiny, "--step", "2")
    other = run_tiny(tiny, "--step", "2", "--seed", "7")
    assert default.returncode == 0 and other.returncode == 0, other.stderr
    assert len(answers_of(other.stdout)) == len(answers_of(default.stdout)) == 2
    assert answers_of(other.stdout) != answers_of(default.stdout)


# --- broken lesson files ---------------------------------------------------------------------------------------


HEADING = '[lesson]\ntitle = "Broken"\nlevel = "introductory"\ngoals = ["fail well"]\ndays = 5\nreplications = 1\n'
GOOD_STEP = (f'[[steps]]\ntitle = "One"\narrangement = "{ORACLE}"\nnarrative = "n"\n'
             '[[steps.questions]]\ntext = "Q?"\nanswer = { metric = "residual_access.events" }\n')
SECOND_STEP = GOOD_STEP.replace('"One"', '"Two"')

# name -> (command, lesson text, needles the error must contain; FILE stands for the lesson file's path)
FILE = "error: {file}, key "
NO_SOURCE = HEADING + GOOD_STEP + SECOND_STEP.replace('{ metric = "residual_access.events" }', '{ format = "hours" }')
BAD_METRIC = HEADING + GOOD_STEP.replace("residual_access.events", "residual_access.evnts")
BROKEN: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "unknown_lesson_key": ("show", HEADING.replace("replications", "replicatons") + GOOD_STEP,
                           (FILE + "`lesson.replicatons`", "Did you mean `lesson.replications`?")),
    "unknown_level": ("show", HEADING.replace('"introductory"', '"beginner"') + GOOD_STEP,
                      (FILE + "`lesson.level`", "beginner", "'introductory'")),
    "step_without_questions": ("show", HEADING + GOOD_STEP.split("[[steps.questions]]")[0],
                               (FILE + "`steps.0.questions`",)),
    "step_with_empty_questions": ("show", HEADING + GOOD_STEP.split("[[steps.questions]]")[0] + "questions = []\n",
                                  (FILE + "`steps.0.questions`",)),
    "answer_without_source": ("show", NO_SOURCE, (FILE, "answer", "`metric`", "`analytic`")),
    "answer_without_source_names_its_question": ("show", NO_SOURCE, (FILE + "`steps.1.questions.0.answer`",)),
    "difference_in_first_step": ("show", HEADING + GOOD_STEP.replace(
        '"residual_access.events" }', '"residual_access.events", statistic = "difference" }'),
        (FILE + "`steps.0.questions.0.answer.statistic`", "previous step")),
    "unknown_fact": ("run", HEADING + GOOD_STEP.replace('narrative = "n"', 'narrative = "n"\n'
                                                        'facts = ["usds-headcount-2032"]'),
                     (FILE + "`steps.0.facts.0`", "usds-headcount-2032", "Did you mean")),
    "unknown_override": ("run", HEADING + GOOD_STEP.replace('narrative = "n"', 'narrative = "n"\n'
                                                            'overrides = { "gatekeeper.reviewrs" = 5 }'),
                         (FILE + "`steps.0.overrides.gatekeeper.reviewrs`", "`gatekeeper.reviewers`")),
    "missing_arrangement": ("show", HEADING + GOOD_STEP.replace(str(ORACLE), "oracel"),
                            (FILE + "`steps.0.arrangement`", "'oracel'")),
    "malformed_toml": ("show", HEADING + GOOD_STEP.replace('title = "One"', 'title = "One'),
                       ("error: {file}: the file is not valid TOML", "line 8")),
    "unknown_metric": ("run", BAD_METRIC, ("error: ", "residual_access.evnts", "metric")),
    "unknown_metric_names_the_lesson": ("run", BAD_METRIC, (FILE + "`steps.0.questions.0.answer",
                                                            "residual_access.evnts")),
    "unknown_trace_actor_in_lesson": ("show", HEADING + 'trace_actor = "cn_engineer"\n' + GOOD_STEP,
                                      (FILE + "`lesson.trace_actor`", "cn_engineers")),
}


def invoke(*args: object) -> subprocess.CompletedProcess[str]:
    """Run `residency ARGS...` through main() in this process (its error handler, without a start-up per case)."""
    stdout, stderr, code = io.StringIO(), io.StringIO(), 0
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            main([str(a) for a in args])
        except SystemExit as done:
            code = done.code if isinstance(done.code, int) else 1
        except Exception as exc:  # a bug: show it as the console script would
            stderr.write("Traceback (in process)\n" + "".join(traceback.format_exception(exc)))
            code = 1
    return subprocess.CompletedProcess(["residency", *map(str, args)], code, stdout.getvalue(), stderr.getvalue())


@pytest.fixture(scope="module")
def broken_runs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, tuple[Path, subprocess.CompletedProcess[str]]]:
    """Write every broken lesson and run its command through the CLI app."""
    folder = tmp_path_factory.mktemp("broken")
    runs = {}
    for name, (command, text, _) in BROKEN.items():
        path = folder / f"{name}.toml"
        path.write_text(text, encoding="utf-8")
        extra = ("-q", "--workers", "1") if command == "run" else ()
        runs[name] = (path, invoke("teach", command, path, *extra))
    return runs


@pytest.mark.parametrize("name", list(BROKEN))
def test_broken_lesson_gets_a_clear_error(
    broken_runs: dict[str, tuple[Path, subprocess.CompletedProcess[str]]], name: str
) -> None:
    """A broken lesson file exits 2 with one paragraph naming the file, the key and a fix; no traceback."""
    path, result = broken_runs[name]
    assert_clean_failure(result, *(needle.format(file=path) for needle in BROKEN[name][2]))
    assert result.stdout == ""


def test_unknown_lesson_name_points_to_teach_list(monkeypatch: pytest.MonkeyPatch) -> None:
    """`teach run nosuchlesson` exits 2 and suggests `residency teach list`; a near miss gets a did-you-mean."""
    monkeypatch.chdir(ROOT)  # lesson names are looked up under configs/lessons of the working folder
    assert_clean_failure(run_cli("teach", "run", "nosuchlesson"), "error: nosuchlesson: no such lesson",
                         "`residency teach list`")
    assert_clean_failure(invoke("teach", "show", "bakup"), "Did you mean `backup`?")
