"""Run a lesson's steps and compute every question's answer from the runs."""

from __future__ import annotations

from dataclasses import dataclass, field

from sim.config.loader import LoadedConfig
from sim.config.schema import Config
from sim.errors import InputError
from sim.experiment.executors import Executor
from sim.experiment.replications import Progress, ScenarioResult, run_scenarios
from sim.metrics import catalogue
from sim.metrics.recorder import Recorder
from sim.metrics.stats import Estimate, estimate, paired_difference
from sim.metrics.units import number
from sim.model.analytic import erlang_c, mmc_mean_wait
from sim.model.calendar import HOURS_PER_DAY
from sim.model.event.world import World
from sim.model.rng import Streams
from sim.teach.lesson import Answer, LoadedLesson, Question, Step
from sim.teach.trace import Tee, TraceEvent, Tracer

KEY_FIGURES = tuple((m.path, m.label_in(catalogue.LESSON), m.kind) for m in catalogue.headline(catalogue.LESSON))


@dataclass
class AnsweredQuestion:
    """A question with its computed answer."""

    question: Question
    value: Estimate
    text: str


@dataclass
class StepResult:
    """One step's run, its trace and its answered questions."""

    index: int
    step: Step
    loaded: LoadedConfig
    result: ScenarioResult
    answers: list[AnsweredQuestion] = field(default_factory=list)
    trace: list[TraceEvent] = field(default_factory=list)


def run_lesson(lesson: LoadedLesson, seed: int | None, executor: Executor, trace: int = 0,
               only: int | None = None, progress: Progress | None = None,
               trace_actor: str | None = None, replications: int | None = None) -> list[StepResult]:
    """Run the steps in order (with `only`, that step and the one before it, for comparison).

    `replications`, when given, replaces the lesson's and its steps' own.
    """
    spec = lesson.spec.lesson
    run_seed = spec.seed if seed is None else seed
    count = len(lesson.spec.steps)
    if only is not None and not 1 <= only <= count:
        raise InputError("--step", str(only), f"the lesson has steps 1 to {count}.", f"give --step 1 to {count}.")
    wanted = range(count) if only is None else range(max(0, only - 2), only)
    results: list[StepResult] = []
    for index in wanted:
        step = lesson.spec.steps[index]
        loaded = lesson.configs[index]
        reps = replications or step.replications or spec.replications
        [result] = run_scenarios([loaded], run_seed, reps, progress=progress, executor=executor)
        current = StepResult(index, step, loaded, result)
        previous = results[-1] if results and results[-1].index == index - 1 else None
        shown = only is None or index == only - 1  # with --step K, step K-1 only runs for comparison
        if shown:
            current.answers = [_answer(lesson, index, j, q, current, previous) for j, q in enumerate(step.questions)]
        if trace > 0 and shown:
            actor = trace_actor or spec.trace_actor
            if actor is not None and actor not in loaded.config.actors:
                if trace_actor is not None:
                    raise InputError("--trace-actor", actor, "no actor group of that name in this step.",
                                     f"use one of {', '.join(loaded.config.actors)}.")
                actor = None  # the lesson's usual actor is not in this step: narrate everyone's events
            current.trace = trace_events(loaded.config, run_seed, trace, actor)
        results.append(current)
    return results


def _answer(lesson: LoadedLesson, index: int, number: int, question: Question, current: StepResult,
            previous: StepResult | None) -> AnsweredQuestion:
    """Answer a question, blaming a failure on the lesson file and the question's key."""
    try:
        return answer(question, current, previous)
    except InputError as error:
        named = f" ({error.key})" if error.key else ""
        raise InputError(str(lesson.path), f"steps.{index}.questions.{number}.answer",
                         error.problem.rstrip(".") + named + ".", error.fix) from None


def trace_events(config: Config, seed: int, count: int, actor: str | None = None) -> list[TraceEvent]:
    """Run replication 0 again with a tracer and return its first `count` events in time order."""
    # The first fortnight is all a trace tells, and it does not depend on how long the run goes on.
    days = min(config.scenario.days, 14)
    short = config.model_copy(update={"scenario": config.scenario.model_copy(update={"days": days})})
    tracer = Tracer(until_hours=days * HOURS_PER_DAY, actor=actor)
    recorder = Recorder(short)
    world = World(short, Streams(seed, 0), Tee(recorder, tracer))
    world.run()
    return tracer.first(count)


def values(result: ScenarioResult, metric: str) -> list[float]:
    """Return one metric over the replications, or fail naming the unknown metric."""
    try:
        return [rep.metrics[metric] for rep in result.replications]
    except KeyError:
        raise InputError(str(result.loaded.path), metric, "a lesson question names a metric the model does not "
                         "report.", "use a path from `residency run CONFIG --json`.") from None


def answer(question: Question, current: StepResult, previous: StepResult | None) -> AnsweredQuestion:
    """Compute a question's answer from this step's run (and the previous step's)."""
    spec: Answer = question.answer
    if spec.analytic is not None:
        value = Estimate(analytic_answer(spec.analytic, current.loaded.config), None, None, 1)
        return AnsweredQuestion(question, value, format_value(value, spec.format, exact=True))
    assert spec.metric is not None
    mine = values(current.result, spec.metric)
    if spec.statistic == "mean":
        value = estimate(mine)
    elif spec.statistic == "ci_half_width":
        e = estimate(mine)
        value = Estimate(None if e.high is None or e.mean is None else e.high - e.mean, None, None, e.n)
    else:
        if previous is None:
            raise InputError(str(current.loaded.path), spec.metric, "this answer compares with the previous step, "
                             "which was not run.", "run the whole lesson, or a --step after the first.")
        theirs = values(previous.result, spec.metric)
        n = min(len(mine), len(theirs))
        if spec.statistic == "difference":
            value = paired_difference(mine[:n], theirs[:n])
        elif spec.statistic == "reduction":
            value = paired_difference(theirs[:n], mine[:n])
        else:
            a, b = estimate(mine).mean, estimate(theirs).mean
            value = Estimate(None if a is None or not b else a / b, None, None, n)
    text = format_value(value, spec.format, signed=spec.statistic == "difference")
    return AnsweredQuestion(question, value, text + comparison_words(spec.statistic, value))


def comparison_words(statistic: str, value: Estimate) -> str:
    """Return words that say which way a comparison with the previous step went, so no sign is left to decode."""
    if value.mean is None or statistic not in ("difference", "reduction"):
        return ""
    if value.low is not None and value.high is not None and value.low <= 0 <= value.high:
        return ": no clear change from the previous step (the interval includes zero)"
    if statistic == "reduction":
        return "" if value.mean >= 0 else ": an increase, not a reduction"
    return ": more than in the previous step" if value.mean > 0 else ": less than in the previous step"


def analytic_answer(name: str, config: Config) -> float:
    """Return a closed-form answer for a step's config (an around-the-clock M/M/c gate)."""
    gate = config.gatekeeper
    if gate is None or not gate.hours.around_the_clock or gate.review_distribution != "exponential":
        raise InputError("lesson", name, "Erlang C needs an around-the-clock gate with exponential reviews.",
                         "use configs/validation/mmc.toml (or a config like it) for this step.")
    arrival = sum(a.headcount * a.requests_per_hour for a in config.actors.values() if a.hours.around_the_clock)
    load = arrival * gate.review_hours_mean
    if load >= gate.reviewers:
        raise InputError("lesson", name, "the queue is overloaded (load at or above the reviewer count), so "
                         "Erlang C has no steady state.", "lower the request rate or add reviewers in this step.")
    if name == "erlang_c_wait_probability":
        return erlang_c(gate.reviewers, load)
    return mmc_mean_wait(arrival, gate.review_hours_mean, gate.reviewers)


def format_value(value: Estimate, kind: str, signed: bool = False, exact: bool = False) -> str:
    """Format an answer: a number in its unit, with its 95% interval where there is one."""
    if value.mean is None:
        return "undefined (nothing of the kind happened, or one replication has no interval)"

    def one(x: float) -> str:
        if kind == "share":
            return f"{min(max(x, 0.0), 1.0):.1%}"  # an interval of a share is shown within [0, 1]
        unit = {"hours": " hours", "days": " days"}.get(kind, "")
        return number(x, kind) + unit

    text = ("+" if signed and value.mean >= 0 else "") + one(value.mean)
    if value.low is not None and value.high is not None:
        text += f" (95% CI {one(value.low)} to {one(value.high)})"
    elif exact:
        text += " (closed form)"
    return text
