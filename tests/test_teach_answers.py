"""Lessons in process: the narrated trace against the model's own record, and answers computed from the runs."""

from __future__ import annotations

import datetime as dt
import math
import re
import zoneinfo
from collections import Counter
from pathlib import Path

import pytest
from conftest import MMC, ROOT, LogObserver
from scipy import stats as scipy_stats

from sim.config.loader import load_config, with_overrides
from sim.config.schema import Config
from sim.errors import InputError
from sim.experiment.executors import LocalExecutor
from sim.metrics.recorder import Recorder
from sim.model.analytic import erlang_c, mmc_mean_wait
from sim.model.event.world import World
from sim.model.rng import Streams
from sim.teach.lesson import load_lesson
from sim.teach.run import StepResult, analytic_answer, run_lesson, trace_events
from sim.teach.trace import Tee, TraceEvent, narrate

ORACLE = ROOT / "configs" / "arrangements" / "oracle.toml"
NARRATED = {"submitted", "queued", "review_started", "decided", "accessed", "shielded", "covert_attempt"}
REQUEST_KINDS = ("submitted", "review_started", "decided")
PLACES = {"Asia/Shanghai": "Shanghai", "America/New_York": "New York", "America/Los_Angeles": "Los Angeles"}
TRACE_SEED = 11


def lesson_file(folder: Path, body: str, name: str = "lesson.toml", days: int = 30, replications: int = 2,
                extra: str = "") -> Path:
    """Write a small lesson (heading plus the given steps) into folder and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(f'[lesson]\ntitle = "A test lesson"\nlevel = "advanced"\ngoals = ["check the machinery"]\n'
                    f"days = {days}\nreplications = {replications}\n{extra}\n{body}", encoding="utf-8")
    return path


def step(title: str, arrangement: Path, questions: list[str], overrides: str = "", extra: str = "") -> str:
    """Return one [[steps]] table with its questions (each an inline `answer` table)."""
    text = (f'[[steps]]\ntitle = "{title}"\narrangement = "{arrangement}"\nnarrative = "Narrative of {title}."\n'
            + (f"overrides = {{ {overrides} }}\n" if overrides else "") + extra)
    for i, answer in enumerate(questions):
        text += f'[[steps.questions]]\ntext = "{title}, question {i + 1}?"\nanswer = {{ {answer} }}\n'
    return text + "\n"


def metric_values(result: StepResult, metric: str) -> list[float]:
    """Return one metric over a step's replications, in replication order."""
    return [rep.metrics[metric] for rep in result.result.replications]


def t_interval(values: list[float]) -> tuple[float, float]:
    """Return the mean and the 95% Student-t half-width of values, computed here with scipy."""
    n = len(values)
    mean = sum(values) / n
    sd = math.sqrt(sum((v - mean) ** 2 for v in values) / (n - 1))
    return mean, float(scipy_stats.t.ppf(0.975, n - 1)) * sd / math.sqrt(n)


def local_time(config: Config, hours: float, timezone: str) -> dt.datetime:
    """Return the wall-clock time of a simulated hour: hour 0 is midnight UTC on the start date."""
    start = config.scenario.start_date
    origin = dt.datetime(start.year, start.month, start.day, tzinfo=dt.UTC)
    return (origin + dt.timedelta(hours=hours)).astimezone(zoneinfo.ZoneInfo(timezone))


def gate_opening(config: Config, hours: float) -> dt.datetime | None:
    """Return when the off-shift gate next opens (local time), or None if it is on shift or never opens again."""
    gate = config.gatekeeper
    assert gate is not None
    zone = zoneinfo.ZoneInfo(gate.timezone)
    now = local_time(config, hours, gate.timezone)
    for offset in range(9):
        day = now.date() + dt.timedelta(days=offset)
        if gate.hours.weekdays_only and day.weekday() >= 5:
            continue
        midnight = dt.datetime(day.year, day.month, day.day, tzinfo=zone)
        opens = midnight + dt.timedelta(hours=gate.hours.start_hour)
        closes = midnight + dt.timedelta(hours=gate.hours.end_hour)
        if opens <= now < closes:
            return None
        if opens > now:
            horizon = local_time(config, config.scenario.days * 24.0, gate.timezone)
            return opens if opens < horizon else None
    return None


def speaker_zone(config: Config, event: TraceEvent) -> str:
    """Return the time zone a line is told in: the gate's for its own acts, else the requesting actor's."""
    assert config.gatekeeper is not None and event.actor is not None
    gate_acts = event.kind == "review_started" or (
        event.kind == "decided" and event.detail["why"] in ("policy", "error", "expiry"))
    return config.gatekeeper.timezone if gate_acts else config.actors[event.actor].timezone


def traced_key(event: TraceEvent) -> tuple[object, ...]:
    """Return the LogObserver-shaped tuple for a traced request event."""
    if event.kind == "review_started":
        return (event.kind, event.t, event.number, event.detail["wait"])
    if event.kind == "decided":
        return (event.kind, event.t, event.number, event.detail["outcome"], event.detail["why"])
    return (event.kind, event.t, event.number)


@pytest.fixture(scope="module")
def oracle_ten_days() -> Config:
    """Return the Oracle arrangement cut to ten days, with ten reviewers so that a queue forms on shift too."""
    overrides = [("scenario.days", "10", "test"), ("gatekeeper.reviewers", "10", "test")]
    return with_overrides(load_config(ORACLE), overrides).config


@pytest.fixture(scope="module")
def model_record(oracle_ten_days: Config) -> list[tuple[object, ...]]:
    """Return the LogObserver record of replication 0 of the ten-day Oracle run."""
    log = LogObserver()
    World(oracle_ten_days, Streams(TRACE_SEED, 0), Tee(Recorder(oracle_ten_days), log)).run()
    return log.log


@pytest.mark.parametrize("actor", ["cn_engineers", None])
def test_trace_agrees_with_the_models_own_record(
    oracle_ten_days: Config, model_record: list[tuple[object, ...]], actor: str | None
) -> None:
    """Every traced request event is in the model's record with the same time and number, in time order."""
    traced = trace_events(oracle_ten_days, TRACE_SEED, 600, actor)
    assert len(traced) == 600
    assert [e.t for e in traced] == sorted(e.t for e in traced)
    assert all(e.t <= 10 * 24 for e in traced)
    if actor is not None:
        assert {e.actor for e in traced} == {actor}
    kinds = Counter(e.kind for e in traced)
    assert all(kinds[k] > 0 for k in REQUEST_KINDS), kinds
    recorded = Counter(entry for entry in model_record if entry[0] in REQUEST_KINDS)
    mine = Counter(traced_key(e) for e in traced if e.kind in REQUEST_KINDS)
    assert not mine - recorded, f"traced but never reported by the model: {list((mine - recorded).items())[:5]}"
    # Nothing is skipped: every event of a traced request before the last traced instant is in the trace.
    numbers = {e.number for e in traced if e.number is not None}
    last = traced[-1].t
    earlier = Counter(entry for entry in recorded.elements() if entry[2] in numbers and float(str(entry[1])) < last)
    assert not earlier - mine, f"reported by the model but left out: {list((earlier - mine).items())[:5]}"


def test_narration_uses_display_names_never_ids(oracle_ten_days: Config) -> None:
    """Narration names groups, sites, organisations and data classes by their titles, never by their keys."""
    config = oracle_ten_days
    lines = narrate(config, trace_events(config, TRACE_SEED, 400, None))
    ids = {*config.actors, *config.sites, *config.organisations}
    for line in lines:
        assert not set(re.findall(r"[A-Za-z_]+", line)) & ids, line
    assert any("at USDS (US Data Security)" in line for line in lines)


@pytest.mark.parametrize("actor", ["cn_engineers", None])
def test_narration_tells_each_event_in_local_time(oracle_ten_days: Config, actor: str | None) -> None:
    """One line per event, each 'day N (date), HH:MM Place time', queue positions and gate openings as modelled."""
    config = oracle_ten_days
    traced = trace_events(config, TRACE_SEED, 600, actor)
    lines = narrate(config, traced)
    assert len(lines) == sum(e.kind in NARRATED for e in traced)
    told = [e for e in traced if e.kind in NARRATED]
    assert config.gatekeeper is not None
    branches: Counter[str] = Counter()
    for event, line in zip(told, lines, strict=True):
        zone = speaker_zone(config, event)
        when = local_time(config, event.t, zone)
        assert line.startswith(f"day {int(event.t // 24) + 1} ("), line
        assert line.startswith(f"day {int(event.t // 24) + 1} ({when.date().isoformat()}), "
                               f"{when:%H:%M} {PLACES[zone]} time: "), (event, line)
        if event.number is not None:
            assert f"request #{event.number}" in line
        if event.kind == "submitted" and event.actor == "cn_engineers":
            beijing = local_time(config, event.t, "Asia/Shanghai")
            assert f"{beijing:%H:%M} Shanghai time: one of the engineers in China asks for " in line
        if event.kind == "queued":
            ahead = int(str(event.detail["ahead"]))
            assert f": {ahead} request{'s are' if ahead != 1 else ' is'} ahead of it at " in line, line
            opening = gate_opening(config, event.t)
            if opening is None:
                branches["on shift"] += 1
                assert "opens at" not in line, line
            else:
                branches["off shift"] += 1
                assert f"USDS (US Data Security) opens at {opening:%A %H:%M} New York time" in line, line
    assert branches["off shift"] > 0
    if actor is None:
        assert branches["on shift"] > 0, "US engineers also queue while the gate is open"


@pytest.fixture(scope="module")
def answered(tmp_path_factory: pytest.TempPathFactory) -> list[StepResult]:
    """Run a four-step lesson: two M/M/c steps (closed forms), then Oracle with 200 and with 25 reviewers."""
    rates = '"actors.requesters.requests_per_hour" = 15.0, "gatekeeper.review_hours_mean" = 0.5'
    body = (
        step("Textbook queue, ten reviewers", MMC, [
            'analytic = "erlang_c_mean_wait", format = "hours"',
            'analytic = "erlang_c_wait_probability", format = "share"',
            'metric = "friction.wait_hours", format = "hours"',
        ], overrides=f'{rates}, "gatekeeper.reviewers" = 10')
        + step("Textbook queue, twelve reviewers", MMC, [
            'analytic = "erlang_c_mean_wait", format = "hours"',
        ], overrides=f'{rates}, "gatekeeper.reviewers" = 12')
        + step("Oracle with 200 reviewers", ORACLE, [
            'metric = "friction.wait_hours", format = "hours"',
            'metric = "requests.expired"',
        ], overrides='"gatekeeper.reviewers" = 200')
        + step("Oracle with 25 reviewers", ORACLE, [
            'metric = "friction.wait_hours", format = "hours"',
            'metric = "requests.expired"',
            'metric = "friction.wait_hours", statistic = "difference", format = "hours"',
            'metric = "friction.wait_hours", statistic = "ratio"',
            'metric = "requests.expired", statistic = "difference"',
            'metric = "friction.wait_hours", statistic = "reduction", format = "hours"',
        ], overrides='"gatekeeper.reviewers" = 25')
    )
    path = lesson_file(tmp_path_factory.mktemp("answers"), body, days=30, replications=3)
    return run_lesson(load_lesson(str(path)), None, LocalExecutor(2))


@pytest.mark.slow
@pytest.mark.unmeasured
def test_answers_move_in_the_expected_direction(answered: list[StepResult]) -> None:
    """Cutting the team from 200 to 25 reviewers lengthens the mean wait and makes requests expire."""
    many, few = answered[2], answered[3]
    assert [r.index for r in answered] == [0, 1, 2, 3]
    wait_many, expired_many = (a.value.mean for a in many.answers)
    wait_few, expired_few = (a.value.mean for a in few.answers[:2])
    assert wait_many is not None and wait_few is not None and expired_many is not None and expired_few is not None
    assert wait_few > 2 * wait_many > 0
    assert expired_few > expired_many >= 0
    difference, ratio, expired_difference = (a.value.mean for a in few.answers[2:5])
    assert difference is not None and difference > 0
    assert ratio is not None and ratio > 1
    assert expired_difference is not None and expired_difference > 0
    assert few.answers[2].text.startswith("+")
    assert few.answers[2].text.endswith(": more than in the previous step")
    # A reduction is the previous step minus this one: here the wait grew, and the words say so.
    reduction = few.answers[5].value
    assert reduction.mean == pytest.approx(-difference, rel=1e-9)
    assert reduction.low == pytest.approx(-(few.answers[2].value.high or 0.0), rel=1e-9)
    assert few.answers[5].text.endswith(": an increase, not a reduction")


@pytest.mark.slow
def test_difference_is_the_paired_difference_of_the_two_steps(answered: list[StepResult]) -> None:
    """A `difference` answer is the mean and t interval of step-by-step, replication-by-replication differences."""
    many, few = answered[2], answered[3]
    pairs = [a - b for a, b in zip(metric_values(few, "friction.wait_hours"),
                                   metric_values(many, "friction.wait_hours"), strict=True)]
    mean, half = t_interval(pairs)
    value = few.answers[2].value
    assert value.n == 3
    assert value.mean == pytest.approx(mean, rel=1e-9)
    assert value.low == pytest.approx(mean - half, rel=1e-9)
    assert value.high == pytest.approx(mean + half, rel=1e-9)
    # Paired, not the difference of two independent intervals: its interval is the t interval of the pairs.
    expired = [a - b for a, b in zip(metric_values(few, "requests.expired"),
                                     metric_values(many, "requests.expired"), strict=True)]
    assert few.answers[4].value.mean == pytest.approx(sum(expired) / len(expired), rel=1e-9)


@pytest.mark.slow
def test_ratio_is_the_ratio_of_the_means(answered: list[StepResult]) -> None:
    """A `ratio` answer is this step's mean over the previous step's mean."""
    many, few = answered[2], answered[3]
    mine, theirs = metric_values(few, "friction.wait_hours"), metric_values(many, "friction.wait_hours")
    assert few.answers[3].value.mean == pytest.approx((sum(mine) / len(mine)) / (sum(theirs) / len(theirs)),
                                                      rel=1e-9)
    assert few.answers[0].value.mean == pytest.approx(sum(mine) / len(mine), rel=1e-9)


@pytest.mark.slow
def test_erlang_c_answers_are_the_closed_forms(answered: list[StepResult]) -> None:
    """The analytic answers are Erlang C for the step's own parameters, and follow the reviewer count."""
    ten, twelve = answered[0], answered[1]
    for result, servers in ((ten, 10), (twelve, 12)):
        config = result.loaded.config
        assert config.gatekeeper is not None and config.gatekeeper.reviewers == servers
        rate = config.actors["requesters"].requests_per_hour * config.actors["requesters"].headcount
        assert rate == 15.0 and config.gatekeeper.review_hours_mean == 0.5
        wait = result.answers[0]
        assert wait.value.mean == pytest.approx(mmc_mean_wait(15.0, 0.5, servers), rel=1e-12)
        assert wait.value.low is None and wait.text.endswith("(closed form)")
        assert analytic_answer("erlang_c_mean_wait", config) == pytest.approx(wait.value.mean, rel=1e-12)
    assert ten.answers[1].value.mean == pytest.approx(erlang_c(10, 7.5), rel=1e-12)
    assert twelve.answers[0].value.mean is not None and ten.answers[0].value.mean is not None
    assert twelve.answers[0].value.mean < ten.answers[0].value.mean
    probability = ten.answers[1].value.mean
    assert probability is not None and 0 < probability < 1
    # The simulated mean wait is measured, not the closed form.
    simulated = ten.answers[2].value
    assert simulated.low is not None and simulated.mean != ten.answers[0].value.mean


def test_erlang_c_refuses_a_shift_gate_and_an_overloaded_queue() -> None:
    """Erlang C answers only for an around-the-clock exponential gate below saturation."""
    with pytest.raises(InputError, match="around-the-clock"):
        analytic_answer("erlang_c_mean_wait", load_config(ORACLE).config)
    overloaded = with_overrides(load_config(MMC), [("actors.requesters.requests_per_hour", "12.0", "test")])
    with pytest.raises(InputError, match="overloaded"):
        analytic_answer("erlang_c_mean_wait", overloaded.config)


@pytest.mark.slow
def test_interval_half_width_shrinks_with_replications(tmp_path: Path) -> None:
    """`ci_half_width` is the t half-width of the step's replications, and narrows from 6 to 60 replications."""
    question = ['metric = "residual_access.events", statistic = "ci_half_width"']
    body = (step("Oracle, six runs", ORACLE, question, extra="replications = 6\n")
            + step("Oracle, sixty runs", ORACLE, question, extra="replications = 60\n"))
    few, many = run_lesson(load_lesson(str(lesson_file(tmp_path, body, days=3))), None, LocalExecutor(2))
    widths = []
    for result, n in ((few, 6), (many, 60)):
        values = metric_values(result, "residual_access.events")
        assert len(values) == n and len(set(values)) > 1
        _, half = t_interval(values)
        assert result.answers[0].value.mean == pytest.approx(half, rel=1e-9)
        widths.append(half)
    # Common random numbers: the first six of the sixty are the six.
    assert metric_values(many, "residual_access.events")[:6] == metric_values(few, "residual_access.events")
    assert widths[1] < widths[0]




def two_step_trace_lesson(folder: Path) -> Path:
    """Write an M/M/c step (actor `requesters` only) then an Oracle step, tracing cn_engineers by default."""
    body = (step("Textbook queue", MMC, ['analytic = "erlang_c_mean_wait"'])
            + step("Oracle", ORACLE, ['metric = "residual_access.events"']))
    return lesson_file(folder, body, days=2, extra='trace_actor = "cn_engineers"')


def test_explicit_trace_actor_missing_from_a_step_is_refused(tmp_path: Path) -> None:
    """An explicit --trace-actor that a step lacks is refused with the actors it could have named."""
    lesson = load_lesson(str(two_step_trace_lesson(tmp_path)))
    with pytest.raises(InputError, match="no actor group") as caught:
        run_lesson(lesson, None, LocalExecutor(1), trace=3, trace_actor="nobody")
    assert "requesters" in caught.value.fix


def test_lesson_trace_actor_missing_from_a_step_narrates_everyone(tmp_path: Path) -> None:
    """A lesson's default trace actor that one step lacks (gatekeeper_queue's M/M/c step) narrates everyone there."""
    lesson = load_lesson(str(two_step_trace_lesson(tmp_path)))
    results = run_lesson(lesson, None, LocalExecutor(1), trace=3)
    assert {e.actor for e in results[0].trace} == {"requesters"}
    assert {e.actor for e in results[1].trace} == {"cn_engineers"}
