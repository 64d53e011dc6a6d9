"""Sweep files: which arrangements, which factors over which values, and the design.

A sweep expands into points (an arrangement plus factor values); each point becomes one
resolved config whose hash, with the seed and the package version, keys its result rows.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import itertools
import json
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import numpy as np
from pydantic import BaseModel, Field, field_validator, model_validator

from sim.config.diagnostics import validated
from sim.config.loader import (
    LoadedConfig,
    did_you_mean,
    load_config,
    read_toml,
    toml_literal,
    with_overrides,
)
from sim.config.names import check_path_name
from sim.config.overrides import path_tree
from sim.config.paths import get_path
from sim.config.resources import shipped_config
from sim.config.schema import DEFAULT_SEED, MAX_SEED, Strict, config_problem
from sim.errors import InputError
from sim.version import __version__

Design = Literal["grid", "latin", "sobol", "morris"]
SAMPLED: tuple[str, ...] = ("latin", "sobol", "morris")
#: The most points a sweep may expand into (each point holds a resolved config in memory).
MAX_POINTS = 20_000
# Smart mode keeps TOML's types: true stays a bool and 9 an int (left_to_right made them 1.0 and 9.0).
Scalar = Annotated[bool | int | float | str, Field(union_mode="smart")]


class Factor(Strict):
    """One parameter to vary: a list of values (grid) or a range (sampled designs)."""

    path: str = Field(description="Dotted parameter path, as `--set` takes it.")
    values: tuple[Scalar, ...] | None = None
    low: float | None = None
    high: float | None = None
    distribution: Literal["uniform", "loguniform"] = "uniform"


class SweepSpec(Strict):
    """What to run: the arrangements, the design, the outputs, replications and seed."""

    name: str
    title: str = ""
    question: str = ""
    arrangements: tuple[str, ...] = Field(min_length=1)
    design: Design = "grid"
    samples: int = Field(16, ge=1, le=100_000, description="Base sample size N of sampled designs.")
    levels: int = Field(4, ge=2, le=20, description="Grid levels of a Morris design.")
    replications: int = Field(10, ge=1, le=10_000)
    seed: int = Field(DEFAULT_SEED, ge=0, le=MAX_SEED)
    days: int | None = Field(None, ge=1, le=3660)
    outputs: tuple[str, ...] = Field(("residual_access.events",), min_length=1)

    @field_validator("name")
    @classmethod
    def _name_fits_a_folder(cls, value: str) -> str:
        return check_path_name(value)


class SweepFile(Strict):
    """A whole sweep file."""

    sweep: SweepSpec
    factors: tuple[Factor, ...] = Field(min_length=1, max_length=100)

    @model_validator(mode="after")
    def _design_fits_in_memory(self) -> SweepFile:
        points = design_size(self)
        if points > MAX_POINTS:
            raise config_problem("factors", f"the {self.sweep.design} design would have {points:,} points over "
                                 f"{len(self.sweep.arrangements)} arrangement(s); a sweep holds at most "
                                 f"{MAX_POINTS:,}.", "use fewer factors, values or samples, or split the sweep.")
        return self

    @model_validator(mode="after")
    def _design_fits_factors(self) -> SweepFile:
        design = self.sweep.design
        seen: set[str] = set()
        for i, factor in enumerate(self.factors):
            key = f"factors.{i}"
            if factor.path in seen:
                raise config_problem(f"{key}.path", f"factor {factor.path!r} is listed twice.")
            seen.add(factor.path)
            if design == "grid":
                if factor.values is None:
                    raise config_problem(f"{key}.values", "a grid design needs a list of values for every "
                                   "factor (for a range, choose design = \"latin\", \"sobol\" or \"morris\").")
                if not factor.values:
                    raise config_problem(f"{key}.values", "the value list is empty.",
                                         "give at least one value, or remove the factor.")
                continue
            if factor.low is None or factor.high is None:
                raise config_problem(key, f"a {design} design needs `low` and `high` for every factor.")
            if not factor.low < factor.high:
                raise config_problem(f"{key}.low", f"low ({factor.low:g}) must be below high ({factor.high:g}).",
                                     "swap them, or correct the range.")
            if factor.distribution == "loguniform" and factor.low <= 0:
                raise config_problem(f"{key}.low", "a loguniform range needs low > 0.")
        if design == "sobol" and self.sweep.samples & (self.sweep.samples - 1):
            raise config_problem("sweep.samples", "a Sobol design needs a power of two for `samples` "
                           f"(got {self.sweep.samples}; try {1 << max(0, self.sweep.samples.bit_length() - 1)}).")
        if design in SAMPLED and len(self.factors) < 2 and design != "latin":
            raise config_problem("factors", f"a {design} design needs at least two factors.")
        return self


def design_size(spec: SweepFile) -> int:
    """Return how many points a sweep expands into, computed without expanding it."""
    sweep, k = spec.sweep, len(spec.factors)
    if sweep.design == "grid":
        per_arrangement = math.prod(len(f.values or ()) for f in spec.factors)
    else:
        per_arrangement = {"sobol": sweep.samples * (k + 2), "morris": sweep.samples * (k + 1)}.get(
            sweep.design, sweep.samples)
    return per_arrangement * len(sweep.arrangements)


@dataclass(frozen=True)
class Point:
    """One point of a sweep: an arrangement with factor values, resolved into a config.

    `source` is the resolved config, or how to resolve it (an exploration's points keep only
    that, so that planning's memory does not grow with the worlds); `loaded` gives the config.
    """

    index: int
    arrangement: str
    factors: dict[str, Any]
    source: LoadedConfig | Callable[[], LoadedConfig]
    run_key: str

    @property
    def loaded(self) -> LoadedConfig:
        """Return the point's resolved config (resolved again at each call where the point keeps only how)."""
        return self.source if isinstance(self.source, LoadedConfig) else self.source()


@dataclass(frozen=True)
class LoadedSweep:
    """A validated sweep with its expanded points."""

    path: Path
    spec: SweepFile
    points: list[Point]
    matrix: np.ndarray | None  # the sampled design (rows = samples), for sensitivity analysis

    def definition(self) -> dict[str, Any]:
        """Return the sweep's definition as stored beside its results: its content, never its path.

        The points' run keys hash every fully resolved config (included files, --set overrides),
        so a change anywhere in what the rows would mean changes the definition, while a sweep
        file that only moved keeps it and resumes.
        """
        keys = hashlib.sha256("\n".join(p.run_key for p in self.points).encode("ascii")).hexdigest()[:24]
        return {"spec": self.spec.model_dump(mode="json"), "points": len(self.points), "run_keys": keys,
                "version": __version__}


def run_key(loaded: LoadedConfig, seed: int) -> str:
    """Return the hash of a resolved config, the seed and the package version."""
    payload = json.dumps(
        {"config": loaded.config.model_dump(mode="json"), "seed": seed, "version": __version__},
        sort_keys=True,
    )
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:24]


#: How `json.dumps` writes a plain value of each type (a date as pydantic's JSON mode writes it), for `RunKeys`.
_PLAIN: dict[type, Callable[[Any], str]] = {
    str: json.encoder.encode_basestring_ascii,
    int: int.__repr__,
    bool: lambda value: "true" if value else "false",
    type(None): lambda _: "null",
    dt.date: lambda value: f'"{value.isoformat()}"',
}
_MARKER = "\x00run-key-slot-{}\x00"
_MARKED = re.compile(r'"\\u0000run-key-slot-(\d+)\\u0000"')


class RunKeys:
    """`run_key` of the configs resolved from one config over the same paths, without dumping and encoding each whole.

    The base's payload is encoded once, with a marker where each path ends. A config that
    `with_values` (or a `Resolver`) resolved from the base over those paths shares every other
    part with the base, so its payload is the base's text with its own values at the markers,
    written as `json.dumps` writes them. Where that cannot be known (a value that is not text, a
    finite number, a boolean, None or a date; a part along the paths that the config does not
    share with the base; paths the payload cannot take) the key is `run_key`'s, the long way.
    """

    def __init__(self, base: LoadedConfig, keys: Sequence[str], seed: int) -> None:
        self.base, self.seed = base.config, seed
        self.tree = path_tree([key.split(".") for key in keys]) if keys and all(keys) else None
        self.pieces: list[str] | None = None
        self.order: list[int] = []
        if self.tree is not None:
            self._template(base)

    def _template(self, base: LoadedConfig) -> None:
        """Encode the base's payload with a marker at each path's end, and split the text at the markers."""
        assert self.tree is not None
        dumped = base.config.model_dump(mode="json")
        count = 0

        def mark(node: Any, below: dict[str, Any]) -> bool:
            nonlocal count
            for part, rest in below.items():
                if isinstance(node, list) and part.isdecimal() and int(part) < len(node):
                    index: Any = int(part)
                elif isinstance(node, dict) and part in node:
                    index = part
                else:
                    return False
                if rest is None:
                    node[index] = _MARKER.format(count)
                    count += 1
                elif not mark(node[index], rest):
                    return False
            return True

        if not mark(dumped, self.tree):
            return
        text = json.dumps({"config": dumped, "seed": self.seed, "version": __version__}, sort_keys=True)
        parts = _MARKED.split(text)
        order = [int(i) for i in parts[1::2]]
        if sorted(order) == list(range(count)):
            self.pieces, self.order = parts[::2], order

    def key(self, loaded: LoadedConfig) -> str:
        """Return `run_key(loaded, seed)` for a config resolved from the base over the paths."""
        values: list[str] = []
        if self.pieces is None or not _plain_along(loaded.config, self.base, self.tree, values):
            return run_key(loaded, self.seed)
        pieces = self.pieces
        text = [pieces[0]]
        for position, slot in enumerate(self.order):
            text += (values[slot], pieces[position + 1])
        return hashlib.sha256("".join(text).encode("utf-8")).hexdigest()[:24]


def _plain_along(node: Any, base: Any, tree: dict[str, Any] | None, out: list[str]) -> bool:
    """Append the JSON of `node`'s value at each path's end (in the tree's order) to `out`; return False where
    `node` may differ from `base` off the paths (a type, keys or length differ along them) or a value is not plain."""
    if tree is None:
        write = _PLAIN.get(type(node))
        if write is not None:
            out.append(write(node))
            return True
        if type(node) is float and math.isfinite(node):
            out.append(float.__repr__(node))
            return True
        return False
    if type(node) is not type(base):
        return False
    if isinstance(node, BaseModel):
        fields, base_fields = node.__dict__, base.__dict__
        return all(name in fields and name in base_fields and _plain_along(fields[name], base_fields[name], below, out)
                   for name, below in tree.items())
    if isinstance(node, dict):
        return node.keys() == base.keys() and all(
            name in node and _plain_along(node[name], base[name], below, out) for name, below in tree.items())
    if isinstance(node, (list, tuple)):
        return len(node) == len(base) and all(
            part.isdecimal() and int(part) < len(node) and _plain_along(node[int(part)], base[int(part)], below, out)
            for part, below in tree.items())
    return False


def load_sweep(
    path: Path | str, extra: tuple[tuple[str, str, str], ...] = (), *, seed: int | None = None,
    replications: int | None = None,
) -> LoadedSweep:
    """Read and validate a sweep file, then expand and resolve its points.

    `seed` and `replications`, when given (the command's --seed and -r), replace the file's own.
    """
    path = Path(path)
    raw = read_toml(path)
    given = {"seed": seed, "replications": replications}
    if isinstance(raw.get("sweep"), dict):
        raw["sweep"].update({key: value for key, value in given.items() if value is not None})
    spec = validated(SweepFile, raw, str(path))
    bases = [_arrangement_path(path, i, name) for i, name in enumerate(spec.sweep.arrangements)]
    matrix = design_matrix(spec)
    rows = _design_rows(spec, matrix)
    points: list[Point] = []
    for base in bases:
        base_loaded = load_config(base)
        integer_paths = _integer_paths(base_loaded, spec)
        for row in rows:
            values = {f.path: (round(v) if f.path in integer_paths and isinstance(v, float) else v)
                      for f, v in zip(spec.factors, row, strict=True)}
            loaded = _resolve(path, base_loaded, spec, values, extra)
            points.append(Point(len(points), loaded.name, values, loaded, run_key(loaded, spec.sweep.seed)))
    return LoadedSweep(path, spec, points, matrix)


def design_matrix(spec: SweepFile) -> np.ndarray | None:
    """Return the sampled design's matrix (one row per sample), or None for a grid."""
    design, sweep = spec.sweep.design, spec.sweep
    if design == "grid":
        return None
    problem = salib_problem(spec)
    if design == "sobol":
        from SALib.sample import sobol

        unit = sobol.sample(problem, sweep.samples, calc_second_order=False, seed=sweep.seed)
    elif design == "morris":
        from SALib.sample import morris

        unit = morris.sample(problem, sweep.samples, num_levels=sweep.levels, seed=sweep.seed)
    else:
        from SALib.sample import latin

        unit = latin.sample(problem, sweep.samples, seed=sweep.seed)
    return np.asarray(unit, dtype=float)


def salib_problem(spec: SweepFile) -> dict[str, Any]:
    """Return the SALib problem: names and bounds (log bounds for loguniform factors)."""
    bounds = []
    for factor in spec.factors:
        low, high = float(factor.low or 0.0), float(factor.high or 0.0)
        if factor.distribution == "loguniform":
            low, high = math.log(low), math.log(high)
        bounds.append([low, high])
    return {"num_vars": len(spec.factors), "names": [f.path for f in spec.factors], "bounds": bounds}


def _design_rows(spec: SweepFile, matrix: np.ndarray | None) -> list[tuple[Any, ...]]:
    if matrix is None:
        return list(itertools.product(*[f.values or () for f in spec.factors]))
    rows = []
    for sample in matrix.tolist():
        rows.append(tuple(_scaled(f, v) for f, v in zip(spec.factors, sample, strict=True)))
    return rows


def _scaled(factor: Factor, unit: float) -> float:
    """Map a design value to the factor's range; exp(log(x)) can miss x by an ulp, so clamp."""
    value = math.exp(unit) if factor.distribution == "loguniform" else float(unit)
    return min(max(value, float(factor.low or 0.0)), float(factor.high or 0.0))


def _arrangement_path(sweep_path: Path, index: int, name: str) -> Path:
    candidate = (sweep_path.parent / name)
    if candidate.is_file():
        return candidate
    named = sweep_path.parent.parent / "arrangements" / f"{name}.toml"
    if named.is_file():
        return named
    shipped = shipped_config(name)
    if shipped is not None:
        return shipped
    raise InputError(str(sweep_path), f"sweep.arrangements.{index}", f"no config {name!r} was found.",
                     "give a path relative to the sweep file or the name of a file in configs/arrangements/.")


def _integer_paths(base: LoadedConfig, spec: SweepFile) -> set[str]:
    """Return the factor paths whose parameter is an integer in the schema (sampled values round)."""
    config = base.config.model_dump()
    integers = set()
    for factor in spec.factors:
        node = get_path(config, factor.path)
        if isinstance(node, int) and not isinstance(node, bool):
            integers.add(factor.path)
    return integers


def _resolve(
    sweep_path: Path, base: LoadedConfig, spec: SweepFile, values: dict[str, Any],
    extra: tuple[tuple[str, str, str], ...],
) -> LoadedConfig:
    overrides = [(p, toml_literal(v), "sweep factor") for p, v in values.items()]
    if spec.sweep.days is not None:
        overrides.append(("scenario.days", str(spec.sweep.days), "sweep.days"))
    try:
        return with_overrides(base, [*overrides, *extra])
    except InputError as error:
        if error.source.startswith("sweep factor"):
            index = next(i for i, f in enumerate(spec.factors) if error.key and
                         (error.key == f.path or error.key.startswith(f.path + ".")
                          or f.path.startswith(error.key)))
            raise InputError(str(sweep_path), f"factors.{index}.path",
                             f"`{spec.factors[index].path}` on {base.path.name}: {error.problem}", error.fix) from None
        raise


def check_outputs(spec: SweepFile, source: str, known: list[str]) -> None:
    """Fail on the first output of interest that is not a metric the model reports."""
    for i, name in enumerate(spec.sweep.outputs):
        if name not in known:
            hint = did_you_mean(name, dict.fromkeys(known))
            raise InputError(source, f"sweep.outputs.{i}", f"{name!r} is not a metric the model reports.",
                             (hint + " " if hint else "") + "Use a path from `residency run CONFIG --json`, "
                             "such as residual_access.events or friction.wait_hours.")
