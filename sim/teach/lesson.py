"""Lesson files: a story in steps, each an arrangement with overrides, a narrative and questions."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, model_validator

from sim.config.facts import Fact
from sim.config.loader import (
    LoadedConfig,
    did_you_mean,
    load_config,
    read_validated,
    toml_literal,
    with_overrides,
)
from sim.config.resources import project_path, shipped_config
from sim.config.schema import DEFAULT_SEED, MAX_SEED, Strict, config_problem
from sim.errors import InputError
from sim.metrics.units import factor_label

LESSONS = Path("configs") / "lessons"
Statistic = Literal["mean", "ci_half_width", "difference", "reduction", "ratio"]


class Answer(Strict):
    """How a question's answer is computed from the runs: never written in by hand."""

    metric: str | None = Field(None, description="A metric path, as `residency run --json` reports it.")
    statistic: Statistic = Field("mean", description="mean, ci_half_width, or difference (this step minus the "
                                 "previous), reduction (previous minus this: for 'how many fewer') or ratio.")
    analytic: Literal["erlang_c_mean_wait", "erlang_c_wait_probability"] | None = None
    format: Literal["count", "hours", "share", "days"] = "count"


class Question(Strict):
    """A question and the computation that answers it."""

    text: str
    answer: Answer


class Step(Strict):
    """One step of the story."""

    title: str
    arrangement: str = Field(description="A name in configs/arrangements, or a path relative to the lesson.")
    overrides: dict[str, Any] = Field(default_factory=dict, description="Dotted parameter paths and values.")
    narrative: str
    facts: tuple[str, ...] = Field(default=(), description="Fact ids from seeds/facts.toml the narrative draws on.")
    replications: int | None = Field(None, ge=1, le=1000)
    questions: tuple[Question, ...] = Field(min_length=1)


class LessonSpec(Strict):
    """A lesson's heading."""

    title: str
    level: Literal["introductory", "intermediate", "advanced"]
    goals: tuple[str, ...] = Field(min_length=1)
    summary: str = ""
    replications: int = Field(5, ge=1, le=1000)
    days: int | None = Field(365, ge=1, le=3660, description="Simulated days of every step (lessons tell a year).")
    seed: int = Field(DEFAULT_SEED, ge=0, le=MAX_SEED)
    trace_actor: str | None = Field(None, description="The actor group whose events --trace narrates.")


class LessonFile(Strict):
    """A whole lesson file."""

    lesson: LessonSpec
    steps: tuple[Step, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _answers_have_one_source(self) -> LessonFile:
        # Checked here rather than in Answer, so that the error names the question's full key.
        for i, step in enumerate(self.steps):
            for j, question in enumerate(step.questions):
                if (question.answer.metric is None) == (question.answer.analytic is None):
                    raise config_problem(f"steps.{i}.questions.{j}.answer",
                                         "an answer needs exactly one of `metric` and `analytic`.",
                                         'give `metric = "residual_access.events"` (a path from `residency run '
                                         '--json`) or `analytic = "erlang_c_mean_wait"`.')
        return self

    @model_validator(mode="after")
    def _differences_need_a_previous_step(self) -> LessonFile:
        for i, question in enumerate(self.steps[0].questions):
            if question.answer.statistic in ("difference", "reduction", "ratio"):
                raise config_problem(f"steps.0.questions.{i}.answer.statistic",
                                     "the first step has no previous step to compare with.",
                                     'use statistic = "mean" here, or move the question to a later step.')
        return self


@dataclass(frozen=True)
class LoadedLesson:
    """A validated lesson with each step's resolved config."""

    name: str
    path: Path
    spec: LessonFile
    configs: list[LoadedConfig]

    @property
    def facts(self) -> dict[str, Fact]:
        """Return the fact base the lesson's configs cite."""
        return self.configs[0].facts


def describe_overrides(overrides: dict[str, Any]) -> list[str]:
    """Return a step's overrides in words, one a line ("gatekeeper: reviewers = 25")."""
    return [f"{factor_label(key)} = {_value_words(value)}" for key, value in overrides.items()]


def _value_words(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float | int):
        return f"{value:,g}"
    if isinstance(value, list | tuple):
        return ", ".join(_value_words(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k.replace('_', ' ')} {_value_words(v)}" for k, v in value.items())
    return str(value)


def lesson_path(name: str) -> Path:
    """Return a lesson's file from its name (or a path given as is)."""
    if "\x00" in name or not name.strip():
        raise InputError(repr(name), None, "a lesson name cannot be empty or hold a NUL character.",
                         "`residency teach list` shows the lessons; or give a lesson file's path.")
    path = Path(name)
    if path.suffix == ".toml" or path.exists():
        return path
    return project_path(LESSONS) / f"{name}.toml"


def available() -> list[Path]:
    """Return the shipped lesson files."""
    return sorted(project_path(LESSONS).glob("*.toml"))


def load_lesson(name: str) -> LoadedLesson:
    """Read, validate and resolve a lesson (its steps' configs and overrides, its facts)."""
    path = lesson_path(name)
    if not path.is_file():
        names = {p.stem: None for p in available()}
        hint = did_you_mean(Path(name).stem, names)
        raise InputError(name, None, "no such lesson.", (hint + " " if hint else "") +
                         "`residency teach list` shows the lessons; or give a lesson file's path.")
    spec = read_validated(path, LessonFile)
    configs = [_step_config(path, spec, i, step) for i, step in enumerate(spec.steps)]
    facts = configs[0].facts
    for i, step in enumerate(spec.steps):
        for j, fact_id in enumerate(step.facts):
            if fact_id not in facts:
                hint = did_you_mean(fact_id, facts)
                raise InputError(str(path), f"steps.{i}.facts.{j}", f"fact {fact_id!r} is not in seeds/facts.toml.",
                                 (hint + " " if hint else "") + "cite an existing fact id.")
    actor = spec.lesson.trace_actor
    if actor is not None and not any(actor in loaded.config.actors for loaded in configs):
        actors = {name: None for loaded in configs for name in loaded.config.actors}
        hint = did_you_mean(actor, actors)
        raise InputError(str(path), "lesson.trace_actor", f"no step has an actor group {actor!r}.",
                         (hint + " " if hint else "") + f"name one of {', '.join(actors)}.")
    return LoadedLesson(path.stem, path, spec, configs)


def _step_config(path: Path, spec: LessonFile, index: int, step: Step) -> LoadedConfig:
    candidate = path.parent / step.arrangement
    if not candidate.is_file():
        candidate = path.parent.parent / "arrangements" / f"{step.arrangement}.toml"
    if not candidate.is_file():
        candidate = shipped_config(step.arrangement) or candidate
    if not candidate.is_file():
        raise InputError(str(path), f"steps.{index}.arrangement", f"no arrangement {step.arrangement!r} was found.",
                         "name a file in configs/arrangements/ (without .toml) or give a path relative to the lesson.")
    overrides = [(key, toml_literal(value), "lesson override") for key, value in step.overrides.items()]
    if spec.lesson.days is not None:
        overrides.append(("scenario.days", str(spec.lesson.days), "lesson override"))
    try:
        return with_overrides(load_config(candidate), overrides)
    except InputError as error:
        raise InputError(str(path), f"steps.{index}.overrides.{error.key}" if error.key else f"steps.{index}",
                         error.problem, error.fix) from None
