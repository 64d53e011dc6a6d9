"""Lever files: the terms negotiating parties set, with bounds or choices and what each costs.

A config's parameter is either an uncertainty of the world (a range `explore` samples) or a
lever the parties set, never silently both: a lever on a ranged path is an error unless it says
`overrides_range = true`, in which case the lever pins the parameter and its range is not sampled.
Each lever's cost is given at its low and high end (or per choice), one-off and yearly, in
dollars, and cites a fact of seeds/facts.toml or states its assumption.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator, model_validator

from sim.config.facts import find_fact_base, load_facts
from sim.config.loader import LoadedConfig, read_validated, toml_literal, with_overrides
from sim.config.names import check_path_name
from sim.config.ranges import Range
from sim.config.schema import Strict, config_problem
from sim.errors import InputError

Scale = Literal["linear", "log"]
#: The most levers a file may name (each is one dimension of the search).
MAX_LEVERS = 40


class Lever(Strict):
    """One term the parties set: a numeric interval or a list of choices, and its cost."""

    path: str = Field(description="Dotted parameter path, as `--set` takes it.")
    title: str = ""
    low: float | None = None
    high: float | None = None
    choices: tuple[str, ...] | None = None
    options: dict[str, Any] | None = Field(
        None, description="Named choices whose values are not texts (a list, a table): name -> value.")
    scale: Scale = Field("linear", description="How the search spreads the interval (costs are linear in the value).")
    overrides_range: bool = Field(False, description="The path is ranged in the config; the lever pins it.")
    one_off: tuple[float, float] | dict[str, float] = Field(
        (0.0, 0.0), description="One-off dollars at [low, high] (interpolated), or per choice.")
    yearly: tuple[float, float] | dict[str, float] = Field(
        (0.0, 0.0), description="Yearly dollars at [low, high] (interpolated), or per choice.")
    fact: str | tuple[str, ...] | None = None
    assume: str | None = None
    note: str = Field("", description="How the cost figures follow from the cited facts.")

    @model_validator(mode="before")
    @classmethod
    def _options_name_the_choices(cls, data: Any) -> Any:
        if isinstance(data, dict) and isinstance(data.get("options"), dict):
            if "choices" in data:
                raise config_problem("options", "a lever takes `choices` or `options`, not both.",
                                     "keep `options = { name = value, ... }` for values that are not texts.")
            data = {**data, "choices": list(data["options"])}
        return data

    @model_validator(mode="after")
    def _interval_or_choices(self) -> Lever:
        numeric = self.low is not None or self.high is not None
        if numeric == (self.choices is not None):
            raise config_problem("low", "a lever takes either `low` and `high` (a number) or `choices` (a text).",
                                 'write `low = 30, high = 300` or `choices = ["parent", "blocked"]`.')
        if numeric:
            if self.low is None or self.high is None or not self.low < self.high:
                raise config_problem("low", f"`low` ({self.low}) must be below `high` ({self.high}).",
                                     "give both ends, the lower first.")
            if self.scale == "log" and self.low <= 0:
                raise config_problem("low", "a log-scaled lever needs `low` above 0.",
                                     'raise `low`, or use `scale = "linear"`.')
            for key in ("one_off", "yearly"):
                if isinstance(getattr(self, key), dict):
                    raise config_problem(key, "a numeric lever's cost is `[at low, at high]` in dollars.",
                                         f"write `{key} = [0, 1_000_000]`.")
        else:
            choices = self.choices or ()
            if not choices or len(set(choices)) != len(choices):
                raise config_problem("choices", "the choices must be a non-empty list of distinct texts.",
                                     'write `choices = ["parent", "blocked"]`.')
            for key in ("one_off", "yearly"):
                cost = getattr(self, key)
                if not isinstance(cost, dict) and tuple(cost) != (0.0, 0.0):
                    raise config_problem(key, "a choice lever's cost is a table of dollars per choice.",
                                         f"write `{key} = {{ {', '.join(f'{c} = 0' for c in choices)} }}`.")
                if isinstance(cost, dict) and set(cost) != set(choices):
                    raise config_problem(key, f"the cost must name every choice exactly ({', '.join(choices)}).",
                                         f"write `{key} = {{ {', '.join(f'{c} = 0' for c in choices)} }}`.")
        if (self.fact is None) == (self.assume is None):
            raise config_problem("fact", "a lever's cost needs exactly one source: `fact` or `assume`.",
                                 'cite a fact id of seeds/facts.toml (`fact = "project-texas-operating-cost"`) '
                                 'or state the assumption (`assume = "..."`).')
        return self

    @field_validator("one_off", "yearly")
    @classmethod
    def _finite_and_not_negative(cls, value: tuple[float, float] | dict[str, float]) -> Any:
        values = list(value.values()) if isinstance(value, dict) else list(value)
        if not all(math.isfinite(v) and v >= 0 for v in values):
            raise ValueError("costs are dollars: finite and not negative")
        return value

    @property
    def numeric(self) -> bool:
        """Return whether the lever is a number (else a choice among texts)."""
        return self.choices is None

    def cost_of(self, value: float | int | str) -> tuple[float, float]:
        """Return the (one-off, yearly) dollars of setting the lever to `value`."""
        return _cost(self.one_off, self, value), _cost(self.yearly, self, value)

    def value_of(self, choice: float | int | str) -> Any:
        """Return what the lever sets the parameter to: the option's value, else the choice itself."""
        return self.options[str(choice)] if self.options is not None else choice

    def cite(self) -> str:
        """Return `fact <ids>` or `assumption: <why>` for the cost."""
        if self.fact is not None:
            return "fact " + (self.fact if isinstance(self.fact, str) else ", ".join(self.fact))
        return f"assumption: {self.assume}"

    def contains(self, value: float | int | str) -> bool:
        """Return whether a value lies within the lever's bounds or among its choices."""
        if self.choices is not None:
            return value in self.choices
        return isinstance(value, int | float) and float(self.low or 0.0) <= float(value) <= float(self.high or 0.0)


def _cost(cost: tuple[float, float] | dict[str, float], lever: Lever, value: float | int | str) -> float:
    if isinstance(cost, dict):
        return float(cost[str(value)])
    if not lever.numeric:  # a choice lever that gives this cost no table: it costs nothing
        return 0.0
    low, high = float(lever.low or 0.0), float(lever.high or 0.0)
    return cost[0] + (float(value) - low) / (high - low) * (cost[1] - cost[0])


class DesignSpec(Strict):
    """What the lever file is about: its name, the arrangements shown beside, how one-offs spread."""

    name: str
    title: str = ""
    references: tuple[str, ...] = Field((), description="Arrangements run on the same worlds as reference points.")
    amortise_years: float = Field(4.0, gt=0, le=50, description="Years one-off costs are spread over.")
    amortise_assume: str = Field("", description="Why one-off costs are spread over that many years.")

    @field_validator("name")
    @classmethod
    def _name_fits_a_folder(cls, value: str) -> str:
        return check_path_name(value)


class LeverFile(Strict):
    """A whole lever file."""

    design: DesignSpec
    levers: tuple[Lever, ...] = Field(min_length=1, max_length=MAX_LEVERS)

    @model_validator(mode="after")
    def _paths_once(self) -> LeverFile:
        seen: set[str] = set()
        for i, lever in enumerate(self.levers):
            if lever.path in seen:
                raise config_problem(f"levers.{i}.path", f"the lever {lever.path!r} is listed twice.",
                                     "keep one entry per path.")
            seen.add(lever.path)
        return self


@dataclass(frozen=True)
class LoadedLevers:
    """A validated lever file, checked against the config it sets."""

    path: Path
    spec: LeverFile
    integer: frozenset[str]  # lever paths whose parameter is a whole number
    shipped: dict[str, Any]  # each lever's value in the config as shipped
    ranges: dict[str, str]  # lever path -> the range or alternatives it overrides, as text

    @property
    def levers(self) -> tuple[Lever, ...]:
        """Return the levers in file order."""
        return self.spec.levers

    def settings(self, terms: dict[str, Any], flag: str) -> list[tuple[str, str, str]]:
        """Return the (path, TOML value, flag) overrides that set a candidate's terms."""
        return [(path, toml_literal(value), flag) for path, value, flag in self.values(terms, flag)]

    def values(self, terms: dict[str, Any], flag: str) -> list[tuple[str, Any, str]]:
        """Return the (path, value, flag) settings of a candidate's terms, as `with_values` takes them."""
        return [(lever.path, lever.value_of(terms[lever.path]), flag) for lever in self.levers if lever.path in terms]

    def cost(self, terms: dict[str, Any]) -> dict[str, float]:
        """Return one-off, yearly and yearly-with-one-offs-spread dollars of a set of terms."""
        one_off = yearly = 0.0
        for lever in self.levers:
            once, each_year = lever.cost_of(terms[lever.path])
            one_off, yearly = one_off + once, yearly + each_year
        spread = one_off / self.spec.design.amortise_years
        return {"one_off": one_off, "yearly": yearly, "total_yearly": yearly + spread}


def load_levers(path: Path | str, base: LoadedConfig) -> LoadedLevers:
    """Read a lever file and check every lever against `base`: path, bounds, range and cost source."""
    path = Path(path)
    if not path.is_file():
        raise InputError(str(path), None, "the lever file does not exist.",
                         "give a lever file such as configs/design/oracle.toml.")
    spec = read_validated(path, LeverFile)
    _check_facts(spec, path)
    config = base.config.model_dump(mode="json")
    integer: set[str] = set()
    shipped: dict[str, Any] = {}
    ranges: dict[str, str] = {}
    for i, lever in enumerate(spec.levers):
        shipped[lever.path] = _shipped_choice(lever, _value_at(config, lever.path))
        if isinstance(shipped[lever.path], int) and not isinstance(shipped[lever.path], bool):
            integer.add(lever.path)
        _check_values(lever, i, base, path)
        ranges[lever.path] = _check_range(lever, i, base, path)
    return LoadedLevers(path, spec, frozenset(integer), shipped, {k: v for k, v in ranges.items() if v})


def _shipped_choice(lever: Lever, value: Any) -> Any:
    """Return the option naming the shipped value, or the value itself."""
    for name, option in (lever.options or {}).items():
        if option == value or (isinstance(value, list | tuple) and list(option) == list(value)):
            return name
    return value


def _check_facts(spec: LeverFile, path: Path) -> None:
    facts_path = find_fact_base(path.resolve().parent)
    known = load_facts(facts_path) if facts_path else {}
    for i, lever in enumerate(spec.levers):
        ids = [] if lever.fact is None else [lever.fact] if isinstance(lever.fact, str) else list(lever.fact)
        for fact in ids:
            if fact not in known:
                raise InputError(str(path), f"levers.{i}.fact", f"no fact {fact!r} in {facts_path}.",
                                 "cite an id of seeds/facts.toml, or state the cost as `assume = \"...\"`.")


def _value_at(config: dict[str, Any], dotted: str) -> Any:
    node: Any = config
    for part in dotted.split("."):
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return None
    return node


def _check_values(lever: Lever, index: int, base: LoadedConfig, path: Path) -> None:
    """Apply the lever's ends (or every choice) to the config: the path must exist and take them."""
    if lever.choices is not None:
        trials: list[tuple[str, Any]] = [("options" if lever.options else "choices", lever.value_of(c))
                                         for c in lever.choices]
    else:
        trials = [("low", lever.low), ("high", lever.high)]
    for key, value in trials:
        try:
            with_overrides(base, [(lever.path, toml_literal(value), "lever")])
        except InputError as error:
            where = "path" if error.problem.startswith("no parameter") else key
            raise InputError(str(path), f"levers.{index}.{where}",
                             f"`{lever.path}` = {value!r} on {base.path.name}: {error.problem}", error.fix) from None


def _check_range(lever: Lever, index: int, base: LoadedConfig, path: Path) -> str:
    """Return the range the lever overrides (as text), refusing a lever that is silently a range too."""
    spread = base.ranges.get(lever.path) or base.alternatives.get(lever.path)
    if spread is None:
        if lever.overrides_range:
            raise InputError(str(path), f"levers.{index}.overrides_range",
                             f"`{lever.path}` has no range in {base.path.name}: there is nothing to override.",
                             "remove `overrides_range`.")
        return ""
    shown = (f"range [{spread.low:g}, {spread.high:g}]" if isinstance(spread, Range)
             else f"alternatives {list(spread.choices)}")
    if not lever.overrides_range:
        raise InputError(str(path), f"levers.{index}.path",
                         f"`{lever.path}` is also an uncertainty of the world ({shown} in {Path(spread.source).name}); "
                         "a parameter is either a lever the parties set or a range the worlds sample, not both.",
                         "add `overrides_range = true` to pin it as a lever (its range is then not sampled), "
                         "or remove the lever.")
    return shown
