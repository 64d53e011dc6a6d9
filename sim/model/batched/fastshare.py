"""Requests drawn once for every arrangement of a world and replication (common random numbers).

Replication r of every arrangement draws its requests from the streams of (seed, r), named
by the actor group, so arrangements whose groups arrive, ask and choose alike draw the same
batches: the arrival instants, the group, purpose and class of each request, its rows of
uniforms and normals and its least-resistance draw. Only what comes after (whether that draw
prefers the least-resistant route, routing against the holdings, the gate, the decisions, the
reads) depends on the arrangement. Running the arrangements of a world and replication in one
task with one `shared` dict draws each batch once; the key below holds everything the draws
depend on, so a group that differs between two arrangements (another rate or calendar) draws
afresh. Shared batches always carry the normals and the least-resistance draws: each comes
from the group's own stream, so drawing it where a run reads none of it moves no other draw.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import numpy as np

from sim.model.rng import Streams
from sim.model.rulebook.routing import Actor, keys_share
from sim.model.rulebook.rules import route_variants


class Drawing(Protocol):
    """What the key reads of an actor group's draws (the fast engine's `_Group`)."""

    actor: Actor
    arrivals: Any
    purpose_cum: np.ndarray
    class_cum: np.ndarray
    class_of: np.ndarray


#: Draw keys whose batches a task keeps at a time. The arrangements of a world share one key, as do a
#: generation's candidates unless their levers set the actor groups' rates or calendars; a key's batches
#: over four years take about 30 MB, so a task of two dozen runs that each draw afresh keeps two sets, not 24.
SHARED_KEYS = 2


class SharedDraws(dict[Any, Any]):
    """The batches a task's runs share (the `shared` of `FastWorld`), kept for the `keep` draw keys used last.

    Every entry's key starts with the draw key of the run that stored it (`draw_key`). When a
    run stores batches under a new draw key and `keep` keys are held already, the batches of the
    key used longest ago are dropped: a later run of that key draws them again, the same draws
    (shared or not, a run's draws are its own streams'), so no result depends on `keep`, only
    the time and memory a task takes.
    """

    def __init__(self, keep: int = SHARED_KEYS) -> None:
        super().__init__()
        self.keep = keep
        self.held: dict[Any, list[Any]] = {}  # draw key -> the entries stored under it, the key used last at the end

    def __getitem__(self, key: Any) -> Any:
        value = super().__getitem__(key)
        self.held[key[0]] = self.held.pop(key[0])  # used now: the last to be dropped
        return value

    def __setitem__(self, key: Any, value: Any) -> None:
        draw = key[0]
        if draw not in self.held:
            while len(self.held) >= self.keep:
                for entry in self.held.pop(next(iter(self.held))):
                    super().__delitem__(entry)
            self.held[draw] = []
        self.held[draw].append(key)
        super().__setitem__(key, value)


def draw_key(streams: Streams, span: float, horizon: float, groups: Sequence[Drawing]) -> tuple[Any, ...]:
    """Return everything a run's batches of draws depend on: runs with equal keys draw equal batches."""
    return (streams.seed, streams.replication, span, horizon, tuple(
        (g.actor.name, g.arrivals is not None, tuple(g.actor.windows), g.actor.spec.headcount,
         g.actor.spec.requests_per_hour, len(g.actor.purposes), len(g.actor.classes), g.purpose_cum.tobytes(),
         g.class_cum.tobytes(), g.class_of.tobytes()) for g in groups))


def read_only(columns: tuple[np.ndarray, ...] | None) -> tuple[np.ndarray, ...] | None:
    """Return a batch's columns made read-only: a run that wrote into shared draws would fail, not drift."""
    for column in columns or ():
        column.flags.writeable = False
    return columns


def table_of(actor: Actor, uniforms: np.ndarray) -> np.ndarray:
    """Return the route table (`Actor.tables`) of each of a group's requests from its route uniforms."""
    spec = actor.spec
    return np.asarray(route_variants(uniforms, spec.least_resistance_share, keys_share(spec),
                                     actor.preferred_candidates is not None, actor.mixes_keys)).astype(np.int64)


def rule_key(actor: Actor | None) -> tuple[float, float, bool, bool] | None:
    """Return all that `table_of` reads of an actor (None: its requests follow table 0)."""
    if actor is None:
        return None
    return (actor.spec.least_resistance_share, keys_share(actor.spec), actor.preferred_candidates is not None,
            actor.mixes_keys)


def tables_of(actors: Sequence[Actor | None], group_of: np.ndarray, uniforms: np.ndarray) -> np.ndarray:
    """Return each request's route table from its route uniform, once per distinct rule.

    `actors` holds each group's actor where this run reads its route uniforms, else None (its
    requests follow table 0). Groups whose rule (`table_of`) takes the same parameters are
    settled together: the rule is element by element, so it gives for a group's rows taken
    from the merged batch what it gives for them drawn alone. The result depends only on the
    groups' `rule_key`s and the columns, so runs of a world whose keys agree may share it.
    """
    tables = np.zeros(group_of.size, dtype=np.int64)
    rules: dict[tuple[float, float, bool, bool], int] = {}
    rule_of = np.full(len(actors), -1, dtype=np.int64)
    first: list[Actor] = []
    for k, actor in enumerate(actors):
        key = rule_key(actor)
        if actor is not None and key is not None:
            rule_of[k] = rules.setdefault(key, len(rules))
            if rule_of[k] == len(first):
                first.append(actor)
    if not first:
        return tables
    row_rule = rule_of[group_of]
    for rule, actor in enumerate(first):
        rows = np.flatnonzero(row_rule == rule)
        if rows.size:
            tables[rows] = table_of(actor, uniforms[rows])
    return tables
