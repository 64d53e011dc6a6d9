"""Plausible worlds: sample every ranged parameter, run every arrangement in each world, resumably.

A parameter of the shared world (an entry arrangements take from an included file, such as
the actor groups) takes one value per world for every arrangement that takes it; an
arrangement's own parameter is sampled for that arrangement. Every world and every arrangement runs the same
replications under the same seed (common random numbers), so differences within a world are
paired, and a world whose ranges all collapse to their values is exactly what `compare` runs.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import functools
from collections.abc import Collection, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from sim.config.loader import LoadedConfig
from sim.config.ranges import Alternatives, Range
from sim.config.resolver import Records, Resolver
from sim.errors import InputError
from sim.experiment.executors import Executor
from sim.experiment.memory import collection_paused
from sim.experiment.replications import Progress
from sim.experiment.sweep import run_world_tasks, world_tasks
from sim.experiment.sweep_file import Point, RunKeys
from sim.results.store import Store
from sim.version import __version__

DESIGNS = ("latin", "sobol")
KIND = "explore"


@dataclass(frozen=True)
class Dimension:
    """One sampled direction of the worlds: a parameter path and the arrangements it applies to.

    Attributes:
        key: Its name in results: the dotted path, or `arrangement:path` when several
            arrangements own different entries for the same path.
        path: The dotted path `--set` takes.
        arrangements: The arrangements whose config it sets.
        shared: Whether it belongs to the shared world (one value per world for all).
        spread: Its range or alternatives.
    """

    key: str
    path: str
    arrangements: tuple[str, ...]
    shared: bool
    spread: Range | Alternatives

    def value_at(self, unit: float) -> float | int | str:
        """Return the parameter's value at design coordinate `unit` (0 to 1)."""
        return self.spread.at(unit)

    def describe(self) -> dict[str, Any]:
        """Return the dimension as stored beside the results."""
        spread = self.spread
        about: dict[str, Any] = {"path": self.path, "arrangements": list(self.arrangements),
                                 "shared": self.shared, "source": spread.source, "cite": spread.cite}
        if isinstance(spread, Range):
            about |= {"range": [spread.low, spread.high], "distribution": spread.distribution,
                      "value": spread.value, "integer": spread.integer}
        else:
            about |= {"alternatives": list(spread.choices)}
        return about


@dataclass(frozen=True)
class Exploration:
    """The arrangements, the sampled worlds and every (world, arrangement) point to run."""

    arrangements: list[LoadedConfig]
    dimensions: list[Dimension]
    units: np.ndarray  # worlds x dimensions, in [0, 1)
    points: list[Point]  # world-major: point = world * arrangements + arrangement
    seed: int
    replications: int
    design: str
    history: list[Point] = field(default_factory=list)  # world-major runs on the record's calendar, after `points`
    calendars: dict[str, tuple[dt.date, int]] = field(default_factory=dict)  # their first day and days

    @property
    def worlds(self) -> int:
        """Return the number of worlds."""
        return int(self.units.shape[0])

    @property
    def names(self) -> list[str]:
        """Return the arrangements' names in order."""
        return [item.name for item in self.arrangements]

    def world_values(self, world: int) -> dict[str, Any]:
        """Return every dimension's value in a world, by key (the exploration's own record: do not change it)."""
        return self._world_values[world]

    @functools.cached_property
    def _world_values(self) -> list[dict[str, Any]]:
        """Every world's values, worked out once: planning and the summary (twice with history matching) read them."""
        return [{d.key: d.value_at(u) for d, u in zip(self.dimensions, row, strict=True)}
                for row in self.units.tolist()]

    def definition(self) -> dict[str, Any]:
        """Return what the results folder holds, to refuse mixing another exploration's rows."""
        return {"arrangements": {item.name: str(item.path.resolve()) for item in self.arrangements},
                "worlds": self.worlds, "replications": self.replications, "seed": self.seed,
                "design": self.design, "version": __version__,
                "dimensions": {d.key: {k: v for k, v in d.describe().items() if k != "source"}
                               for d in self.dimensions}}  # the source as typed would tie resuming to one path


def dimensions_of(arrangements: Sequence[LoadedConfig]) -> list[Dimension]:
    """Return the sampled dimensions: each entry once, for every arrangement that takes it.

    An entry is one unit (value, range and source), so arrangements that take the same entry,
    from the shared world or from an arrangement file one of them includes, share one value
    per world; an arrangement's own entry is sampled for it alone.
    """
    groups: dict[tuple[str, Range | Alternatives], list[tuple[str, str, Range | Alternatives]]] = {}
    for item in arrangements:
        spreads: dict[str, Range | Alternatives] = {**item.ranges, **item.alternatives}
        for path, spread in sorted(spreads.items()):
            # An included file's entries carry its resolved path, the file given its path as typed.
            same = dataclasses.replace(spread, source=str(Path(spread.source).resolve()))
            groups.setdefault((path, same), []).append((item.name, str(Path(item.path).resolve()), spread))
    by_path: dict[str, int] = {}
    for path, _ in groups:
        by_path[path] = by_path.get(path, 0) + 1
    dimensions: list[Dimension] = []
    used: set[str] = set()
    for (path, same), members in groups.items():
        names = tuple(name for name, _, _ in members)
        owner = next((name for name, own_file, _ in members if own_file == same.source), None)
        shared = owner is None or len(names) > 1
        prefix = owner if owner is not None else Path(same.source).stem
        key, n = (path if by_path[path] == 1 else f"{prefix}:{path}"), 1
        while key in used:  # two included files of one name (a/world.toml, b/world.toml): number them
            n += 1
            key = f"{prefix}{n}:{path}"
        used.add(key)
        dimensions.append(Dimension(key, path, names, shared, members[0][2]))
    return sorted(dimensions, key=lambda d: d.key)


def sample_units(count: int, worlds: int, design: str, seed: int) -> np.ndarray:
    """Return a space-filling design of `worlds` rows over `count` unit coordinates."""
    if design not in DESIGNS:
        raise InputError("--design", design, "unknown design.", f"use one of {', '.join(DESIGNS)}.")
    if count == 0:
        return np.zeros((worlds, 0))
    if design == "sobol":
        if worlds & (worlds - 1):
            raise InputError("--worlds", str(worlds), "a Sobol design needs a power of two worlds.",
                             f"use --worlds {1 << max(0, worlds.bit_length() - 1)} or --design latin.")
        from scipy.stats import qmc

        return np.asarray(qmc.Sobol(count, seed=seed).random_base2(worlds.bit_length() - 1))
    from scipy.stats import qmc

    return np.asarray(qmc.LatinHypercube(count, seed=seed).random(worlds))


def plan(arrangements: Sequence[LoadedConfig], worlds: int, replications: int, seed: int,
         design: str = "latin", box: tuple[np.ndarray, np.ndarray] | None = None,
         history: dict[str, tuple[dt.date, int]] | None = None) -> Exploration:
    """Sample the worlds and resolve every (world, arrangement) config before anything runs.

    `box` (low and high unit coordinates per dimension) confines the design to part of the
    space: a later wave of history matching samples only what the record has not ruled out.
    `history` (arrangement -> first day and days) adds, in every world, a run of those
    arrangements on the record's calendar, which history matching reads by date.
    """
    if worlds < 1:
        raise InputError("--worlds", str(worlds), "there must be at least one world.", "use --worlds 1 or more.")
    names = [item.name for item in arrangements]
    if len(set(names)) != len(names):
        twice = next(n for n in names if names.count(n) > 1)
        raise InputError(str(arrangements[names.index(twice)].path), "scenario.name",
                         f"two configs share the name {twice!r}.", "give each arrangement its own scenario.name.")
    dimensions = dimensions_of(arrangements)
    units = sample_units(len(dimensions), worlds, design, seed)
    if box is not None:
        units = box[0] + (box[1] - box[0]) * units
    calendars = dict(sorted((history or {}).items()))
    exploration = Exploration(list(arrangements), dimensions, units, [], seed, replications, design, [], calendars)
    by_name = {item.name: item for item in arrangements}
    taken = {item.name: [d for d in dimensions if item.name in d.arrangements] for item in arrangements}
    with collection_paused():
        resolving = [_Resolving(item, taken[item.name], seed) for item in arrangements]
        for world in range(worlds):
            values, records = exploration.world_values(world), Records()
            for index, how in enumerate(resolving):
                exploration.points.append(how.point(values, world, world * len(arrangements) + index, records))
        if calendars:
            on_record = [_Resolving(by_name[name], taken[name], seed,
                                    [("scenario.start_date", start, "history matching"),
                                     ("scenario.days", days, "history matching")])
                         for name, (start, days) in calendars.items()]
            for world in range(worlds):
                values, records = exploration.world_values(world), Records()
                for index, how in enumerate(on_record):
                    exploration.history.append(how.point(values, world, len(exploration.points)
                                                         + world * len(calendars) + index, records))
    return exploration


class _Resolving:
    """One arrangement's points: the dimensions it takes and `extra` values (such as a calendar), resolved per world."""

    def __init__(self, item: LoadedConfig, dimensions: list[Dimension], seed: int,
                 extra: list[tuple[str, Any, str]] | None = None) -> None:
        self.item, self.dimensions, self.extra = item, dimensions, extra or []
        paths = [d.path for d in dimensions] + [key for key, _, _ in self.extra]
        self.resolver = Resolver(item, paths)
        self.keys = RunKeys(item, paths, seed)

    def point(self, values: dict[str, Any], world: int, index: int, records: Records | None = None) -> Point:
        """Return the arrangement's point in a world whose dimensions take `values` (by key); `records`: the
        world's overrides' records, shared with its other arrangements.

        The point keeps its run key and how to resolve its config again, not the config itself
        (about 25 KB a point), so what planning holds does not grow with the resolved configs.
        """
        resolved = self.resolve(values, world, records)
        return Point(index, self.item.name, {d.key: values[d.key] for d in self.dimensions},
                     functools.partial(self.resolve, values, world), self.keys.key(resolved))

    def resolve(self, values: dict[str, Any], world: int, records: Records | None = None) -> LoadedConfig:
        """Return the arrangement's config in a world whose dimensions take `values` (the same each time)."""
        flag = f"explore world {world}"
        return self.resolver.resolve([(d.path, values[d.key], flag) for d in self.dimensions] + self.extra, records)


@dataclass(frozen=True)
class ExploreOutcome:
    """What a run did: rows planned, found already stored, and run now."""

    total: int
    skipped: int
    ran: int


def run_exploration(exploration: Exploration, store: Store, executor: Executor,
                    progress: Progress | None = None) -> ExploreOutcome:
    """Run every (world, arrangement, replication) not yet stored, committing each row as it finishes.

    One task runs a world's arrangements for one replication, so the requests they draw alike
    (common random numbers) are drawn once; the rows are those of one task per arrangement.
    """
    store.claim(KIND, exploration.definition())
    points = [*exploration.points, *exploration.history]
    store.add_points([(p.index, p.arrangement, p.factors, p.run_key) for p in points])
    per_world, per_history = len(exploration.arrangements), len(exploration.calendars)
    worlds = []  # each world's points: its arrangements', then its runs on the record's calendar
    for world in range(exploration.worlds):
        after = len(exploration.points) + world * per_history
        worlds.append([*range(world * per_world, (world + 1) * per_world), *range(after, after + per_history)])
    tasks = world_tasks(points, worlds, exploration.replications, store.done())
    total = len(points) * exploration.replications
    planned = sum(len(todo) for todo, _ in tasks)
    ran = run_world_tasks(executor, points, tasks, exploration.seed, store, progress,
                          functools.partial(_where, exploration))
    return ExploreOutcome(total, total - planned, ran)


def _where(exploration: Exploration, point: Point) -> str:
    """Name a point in progress lines: its world and arrangement, and the record's calendar for a history run."""
    main = len(exploration.points)
    if point.index < main:
        return f"world {point.index // len(exploration.arrangements) + 1}/{exploration.worlds} {point.arrangement}"
    world = (point.index - main) // max(1, len(exploration.calendars))
    return f"world {world + 1}/{exploration.worlds} {point.arrangement} (on the record's calendar)"


def history_table(store: Store, exploration: Exploration,
                  metrics: Collection[str] | None = None) -> dict[str, dict[str, list[list[float | None]]]]:
    """Return metric -> arrangement -> per-world replication values of the runs on the record's calendar.

    `metrics` names the metrics wanted (all when None): only those are decoded from each row.
    """
    main, names = len(exploration.points), list(exploration.calendars)
    table: dict[str, dict[str, list[list[float | None]]]] = {}
    if not names:
        return table
    rows = ((row.point, row.metrics) for row in store.rows()) if metrics is None else store.metric_rows(metrics)
    for point, values in rows:
        if point < main:
            continue
        world, index = divmod(point - main, len(names))
        if world >= exploration.worlds:
            continue
        for metric, value in values.items():
            cells = table.get(metric)
            if cells is None:
                cells = table[metric] = {n: [[] for _ in range(exploration.worlds)] for n in names}
            cells[names[index]][world].append(value)
    return table


def world_table(store: Store, names: Sequence[str], worlds: int,
                metrics: Collection[str] | None = None) -> dict[str, dict[str, list[list[float | None]]]]:
    """Return metric -> arrangement -> per-world lists of replication values, read from the store.

    `metrics` names the metrics wanted (all when None): only those are decoded from each row.
    """
    per_world = len(names)
    table: dict[str, dict[str, list[list[float | None]]]] = {}
    rows = ((row.point, row.metrics) for row in store.rows()) if metrics is None else store.metric_rows(metrics)
    for point, values in rows:
        world, index = divmod(point, per_world)
        if world >= worlds or index >= per_world:
            continue
        for metric, value in values.items():
            cells = table.get(metric)
            if cells is None:  # not setdefault: its default would be built for every value
                cells = table[metric] = {n: [[] for _ in range(worlds)] for n in names}
            cells[names[index]][world].append(value)
    return table
