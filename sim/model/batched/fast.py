"""The batched engine: requests settled in batches with numpy by the same rules (`rules`) as `World`.

The slow world (`SlowWorld`: holdings, deletions, actors, covert attempts) is the one the
event engine runs; this driver only settles requests. Each batch is drawn from the same named
streams with the same row layout, routed against the holdings in force at their instants (a
log of share changes), decided by the rules over arrays, and passed through the gate's
next-free-time recursion (`fastgate`). Common
outcomes reach the observer in bulk (`Tally`), residual and shielded reads as rows (`Reads`,
settled in `fastreads`) merged with covert reads in the order the event engine reports them.
Nothing a request does feeds back into the world, which is what makes this exact.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from typing import Any, Literal, Protocol

import numpy as np

from sim.config.schema import Config
from sim.model.batched.arrivals import GroupArrivals, label_order, narrow_labels, time_order
from sim.model.batched.fastgate import EXPIRED, STARTED, GateState, close_gate, pick, run_gate, shift_clocks
from sim.model.batched.fastreads import ReadTables
from sim.model.batched.fastshare import draw_key, read_only, rule_key, tables_of
from sim.model.calendar import rostered_hours
from sim.model.rng import Streams
from sim.model.rulebook.draws import (
    REQUEST_NORMALS,
    REQUEST_UNIFORMS,
    U_CLASS,
    U_DECISION,
    U_OVERRIDE,
    U_PURPOSE,
    U_REVIEW,
    U_SITE,
    Z_PARENT_DELAY,
    Z_REVIEW,
)
from sim.model.rulebook.events import Accessed, Event, Grant, Observer, ShiftsPlanned
from sim.model.rulebook.routing import Actor, control_probability
from sim.model.rulebook.rules import (
    NONE,
    PARENT,
    RELEASE,
    REVIEWED,
    STEWARD,
    choose_sites,
    expiries,
    gate_code,
    improper,
    parent_decisions,
    review_hours,
    review_reads_normals,
    steward_decisions,
)
from sim.model.rulebook.tally import Reads, Tally
from sim.model.slow.world import SlowWorld

#: The engines that run a replication: the fast one (this module) and the event one (`World`).
Engine = Literal["fast", "event"]
ENGINES: tuple[Engine, ...] = ("fast", "event")
#: Requests settled per batch, about (bounds memory; results do not depend on it: the same rows at 2^16 and
#: 2^18). 2^18 costs 9% less CPU than 2^16 on a three-year explore (fewer per-batch steps in Python) and 15 MB
#: more peak memory per worker; 2^17, 2^19 and 2^20 were no faster (measured 2026-12-05).
BATCH_REQUESTS = 1 << 18


class BulkObserver(Observer, Protocol):
    """An observer that also takes a batch of requests' bulk contributions."""

    def tally(self, tally: Tally) -> None:
        """Take a batch's counts and ordered addends."""


class _Slow:
    """Pass the slow processes' events on, holding back covert reads to merge them in order."""

    def __init__(self, target: Observer) -> None:
        self.target = target
        self.clock: Callable[[], float] = lambda: 0.0
        self.held: list[tuple[float, Event]] = []

    def notify(self, event: Event) -> None:
        """Hold a read back with the instant it is reported; pass anything else on."""
        if isinstance(event, Accessed):
            self.held.append((self.clock(), event))
            return
        self.target.notify(event)


@dataclass
class _Group:
    """An actor group's streams and the lookup tables its draws read."""

    actor: Actor
    arrivals: Callable[[int], np.ndarray] | None  # the unit gaps between arrivals (None: the group makes none)
    uniforms: Callable[..., np.ndarray]
    normals: Callable[..., np.ndarray]
    route: Callable[..., np.ndarray] | None  # the route uniforms (also drawn, unread, when shared)
    routes: bool  # whether this run's requests read their route uniform (`rules.route_variants`)
    purpose_cum: np.ndarray
    class_of: np.ndarray  # the group's class index -> the config's class index
    class_cum: np.ndarray
    normals_read: bool  # whether any request of the group can read its row of normals


@dataclass
class _Batch:
    """One batch of requests in arrival order, with their draws and routes."""

    t: np.ndarray
    group: np.ndarray
    purpose: np.ndarray
    cls: np.ndarray
    u: np.ndarray
    z: np.ndarray
    variant: np.ndarray  # the route table each request follows (`rules.route_variants`)
    site: np.ndarray
    gate: np.ndarray


def _gather(table: np.ndarray, rows: np.ndarray, *columns: np.ndarray) -> np.ndarray:
    """Return `table[columns[0][rows], columns[1][rows], ...]`; a table of one value is filled, not looked up."""
    first = table.flat[0]
    if (table == first).all():
        return np.full(rows.size, first, dtype=table.dtype)
    return table[tuple(column[rows] for column in columns)]  # type: ignore[no-any-return]


def _column(values: np.ndarray, rows: np.ndarray, *column: int) -> np.ndarray:
    """Return `values[rows, column]` for sorted, distinct `rows`: a view, not a copy, where they are all rows."""
    index: tuple[Any, ...] = (slice(None) if rows.size == values.shape[0] else rows, *column)
    return values[index]  # type: ignore[no-any-return]


def batch_hours(config: Config) -> float:
    """Return a batch's span: about `BATCH_REQUESTS` requests at the busiest working-hour rate."""
    rate = sum(spec.headcount * spec.requests_per_hour for spec in config.actors.values())
    return max(1.0, BATCH_REQUESTS / rate) if rate > 0.0 else math.inf


class FastWorld:
    """One replication settled by the fast engine; `run` gives what `World.run` gives."""

    def __init__(self, config: Config, streams: Streams, observer: BulkObserver,
                 span: float | None = None, shared: dict[Any, Any] | None = None) -> None:
        self.config = config
        self.observer = observer
        self.slow = _Slow(observer)
        self.world = SlowWorld(config, streams, self.slow)
        env = self.env = self.world.env
        self.slow.clock = lambda: env.now
        self.horizon = self.world.horizon
        self.span = span if span is not None else batch_hours(config)
        self.shared = shared  # batches' draws kept for the other runs of a world and replication (fastshare)
        gate = config.gatekeeper
        self.allowed = frozenset((purpose, cls) for purpose, classes in (gate.policy.items() if gate else ())
                                 for cls in classes)
        # Where a gatekeeper guards the data, the parent's own approval goes around it (improper).
        self.parent_improper = gate is not None
        self.classes = list(config.data)
        self.sites = list(config.sites)
        self.holdings = self.world.holdings
        # What the sites hold after each change: the instants, and a row of shares by (site, class) each.
        self.log_times: list[float] = [-math.inf]
        self.held_last = self._snapshot()
        self.log_rows: list[list[float]] = [self._row()]
        self._options: dict[int, tuple[list[int], np.ndarray, np.ndarray]] = {}  # `alike` set -> columns, sites, gates
        self._pieces: dict[tuple[Any, ...], Any] = {}
        self.groups = [self._group(actor, streams) for actor in self.world.actors]
        self.foreign = np.array([group.actor.foreign for group in self.groups], dtype=bool)
        actors = [g.actor if g.routes else None for g in self.groups]  # those whose route draws choose their tables
        self.route_actors = (actors, tuple(rule_key(actor) for actor in actors))
        self._lookups()
        self.arrivals = GroupArrivals([(self._windows(g.actor), g.actor.spec.headcount * g.actor.spec.requests_per_hour,
                                        g.arrivals) if g.arrivals is not None else None for g in self.groups])
        self.counted = np.array([cls in config.policy.counted_classes for cls in self.classes], dtype=bool)
        self.review_normals = review_reads_normals(config.gatekeeper)
        gate = config.gatekeeper
        shifts = self.world.shifts
        reviewers = gate.reviewers if gate else 0
        self.gate = GateState(reviewers, shift_clocks(shifts, self.horizon), self.horizon)
        observer.notify(ShiftsPlanned(env.now, rostered_hours(reviewers, shifts, self.horizon)))
        self.parent_pending = 0
        self.carry_hours = (np.empty(0), np.empty(0))  # decision hours reported later: (instant, hours)
        self.carry_reads = Reads.empty()
        self._order = 0
        self.tables = ReadTables(config, [group.actor for group in self.groups])
        self.draw_key = draw_key(streams, self.span, self.horizon, self.groups) if shared is not None else None

    def _group(self, actor: Actor, streams: Streams) -> _Group:
        spec, name = actor.spec, actor.name
        rate = spec.headcount * spec.requests_per_hour
        routes = actor.route_draws is not None
        tables = actor.tables or [actor.candidates]
        return _Group(
            actor=actor,
            arrivals=streams.rng(f"actor.{name}.arrivals").standard_exponential if rate > 0.0 else None,
            uniforms=streams.rng(f"actor.{name}.request.u").random,
            normals=streams.rng(f"actor.{name}.request.z").standard_normal,
            route=streams.rng(f"actor.{name}.request.route").random if routes or self.shared is not None else None,
            routes=routes,
            purpose_cum=self._piece(("purpose_cum", id(actor.purpose_cum)), lambda: np.array(actor.purpose_cum)),
            class_of=self._piece(("class_of", id(actor.classes)), lambda: np.array(
                [self.classes.index(cls) for cls in actor.classes], dtype=np.int64)),
            class_cum=self._piece(("class_cum", id(actor.class_cum)), lambda: np.array(actor.class_cum)),
            normals_read=self._piece(("normals_read", actor.foreign, *map(id, tables)),
                                     lambda: self._reads_normals(actor)),
        )

    def _piece(self, key: tuple[Any, ...], build: Callable[[], Any]) -> Any:
        """Return a piece of a group's build that groups alike share: built once per distinct key.

        Keys name the lists a piece is built from by identity: groups alike in a part share
        that part's lists (`SlowWorld._alike`), which live as long as the world and nothing writes to.
        """
        found = self._pieces.get(key, self._pieces)
        if found is self._pieces:
            found = self._pieces[key] = build()
        return found

    def _lookups(self) -> None:
        """Build the per-group lookups as arrays indexed by group (and purpose, class or route variant).

        `allowed_of[group, purpose, class]`: policy allows it; `emergency_of[group, purpose]`: an
        emergency purpose; `override_of[group]`: the chance a denial is overridden;
        `route_table_of[group, variant]`: the group's route table (`Actor.tables`) as an index into
        `route_tables`, shared by groups with the same tables.
        """
        gate = self.config.gatekeeper
        emergency = set(gate.emergency_purposes if gate else ())
        purposes = max((len(group.actor.purposes) for group in self.groups), default=1)
        count = len(self.groups)
        # Groups alike in what the lookups read (purposes, employer, route tables) share a row: built once per kind.
        lookup_kinds: dict[tuple[int, str, int], int] = {}
        kind_of = np.empty(count, dtype=np.int64)
        firsts: list[Actor] = []
        for k, group in enumerate(self.groups):
            actor = group.actor
            alike = (id(actor.purposes), actor.spec.employer, id(actor.tables if actor.tables is not None
                                                                 else actor.candidates))
            kind = lookup_kinds.get(alike)
            if kind is None:
                kind = lookup_kinds[alike] = len(firsts)
                firsts.append(actor)
            kind_of[k] = kind
        allowed_of = np.zeros((len(firsts), purposes, len(self.classes)), dtype=bool)
        emergency_of = np.zeros((len(firsts), purposes), dtype=bool)
        override_of = np.zeros(len(firsts))
        self.route_tables: list[dict[str, list[tuple[str, Any]]]] = []
        route_table_of = np.zeros((len(firsts), 4), dtype=np.int64)
        numbers: dict[int, int] = {}
        for k, actor in enumerate(firsts):
            allowed_of[k, :len(actor.purposes)] = self._allowed(actor.purposes)
            emergency_of[k, :len(actor.purposes)] = [p in emergency for p in actor.purposes]
            if gate:
                override_of[k] = self._piece(("override", actor.spec.employer), partial(
                    control_probability, self.config, gate.organisation, actor.spec.employer))
            tables = actor.tables if actor.tables is not None else [actor.candidates] * 4
            for variant, route_table in enumerate(tables):
                if id(route_table) not in numbers:
                    numbers[id(route_table)] = len(self.route_tables)
                    self.route_tables.append(route_table)
                route_table_of[k, variant] = numbers[id(route_table)]
        self.allowed_of, self.emergency_of = allowed_of[kind_of], emergency_of[kind_of]
        self.override_of, self.route_table_of = override_of[kind_of], route_table_of[kind_of]
        # Each group's table of purpose and class shares, as an index into the distinct ones.
        self.shares: list[tuple[np.ndarray, np.ndarray, np.ndarray]] = []
        self.share_of = np.zeros(count, dtype=np.int64)
        kinds: dict[tuple[int, ...], int] = {}
        for k, group in enumerate(self.groups):
            pieces = (group.purpose_cum, group.class_cum, group.class_of)
            self.share_of[k] = kinds.setdefault(tuple(map(id, pieces)), len(kinds))
            if self.share_of[k] == len(self.shares):
                self.shares.append(pieces)
        # [table, class] -> the distinct (class, options) the requests choose among (-1: none).
        self.alike: list[tuple[str, tuple[tuple[str, Any], ...]]] = []
        self.alike_of = np.full((len(self.route_tables), len(self.classes)), -1, dtype=np.int64)
        seen: dict[tuple[str, tuple[tuple[str, Any], ...]], int] = {}
        for t, table in enumerate(self.route_tables):
            for c, cls in enumerate(self.classes):
                options = table.get(cls)
                if options:
                    key = (cls, tuple(options))
                    if key not in seen:
                        seen[key] = len(self.alike)
                        self.alike.append(key)
                    self.alike_of[t, c] = seen[key]
        self.alike_of = narrow_labels(self.alike_of, len(self.alike))  # as `label_order` sorts them: no copy per batch

    def _windows(self, actor: Actor) -> np.ndarray:
        """Return a group's working windows as rows of (start, end), one array per calendar."""
        bounds: np.ndarray = self._piece(("windows", id(actor.windows)), lambda: np.array(
            actor.windows, dtype=float).reshape(-1, 2))
        return bounds

    def _allowed(self, purposes: list[str]) -> np.ndarray:
        """Return whether policy allows each [purpose, class] of a group with these purposes."""
        return np.array([[(p, cls) in self.allowed for cls in self.classes] for p in purposes], dtype=bool)

    def _reads_normals(self, actor: Actor) -> bool:
        """Return whether a request of the group can read its normals.

        They set a residual read's records and audit delay (foreign groups only), a parent's
        delay and a lognormal review. The stream is the group's own, so a group that reads
        none of them need not draw it: no other request's draws move.
        """
        orders = actor.tables or [actor.candidates]
        gates = {kind for order in orders for options in order.values() for _, kind in options}
        review = review_reads_normals(self.config.gatekeeper)
        return actor.foreign or "parent" in gates or (any(kind in gates for kind in REVIEWED) and review)

    # -- the clock ------------------------------------------------------------------------
    def run(self) -> int:
        """Run to the horizon and return how many requests are still pending."""
        start = 0.0
        while start < self.horizon:
            end = min(start + self.span, self.horizon)
            self._advance(end)
            self._settle(end)
            start = end
        pending, expired, columns = close_gate(self.gate)
        self.observer.tally(Tally(decided={"expired": np.array(expired)}, gate=columns))
        return pending + self.parent_pending

    def _snapshot(self) -> dict[str, dict[str, float]]:
        return {site: dict(shares) for site, shares in self.holdings.share.items()}

    def _row(self) -> list[float]:
        """Return the shares held now, site by site and class by class (`self.sites` x `self.classes`)."""
        share = self.holdings.share
        return [share[site][cls] for site in self.sites for cls in self.classes]

    def _advance(self, limit: float) -> None:
        """Run the slow processes up to `limit`, logging every change in what the sites hold."""
        env = self.env
        while env.peek() < limit:
            env.step()
            if self.holdings.share != self.held_last:
                self.log_times.append(env.now)
                self.held_last = self._snapshot()
                self.log_rows.append(self._row())

    # -- a batch of requests --------------------------------------------------------------
    def _draw(self, limit: float) -> _Batch | None:
        columns = self._columns(limit)
        if columns is None:
            return None
        t, group_of, purpose, cls, u, z, route = columns
        # The route uniforms give this run's route tables (the same rule whether drawn now or shared).
        actors, rules = self.route_actors
        if self.shared is None:
            variant = tables_of(actors, group_of, route)
        else:  # the same rules over the same shared columns give the same tables: worked out once per world
            key = (self.draw_key, limit, "tables", rules)
            if key not in self.shared:
                self.shared[key] = read_only((tables_of(actors, group_of, route),))
            (variant,) = self.shared[key]
        n = t.size
        batch = _Batch(t, group_of, purpose, cls, u, z, variant,
                       np.full(n, -1, dtype=np.int64), np.full(n, -1, dtype=np.int64))
        self._route(batch)
        return batch

    def _columns(self, limit: float) -> tuple[np.ndarray, ...] | None:
        """Return a batch's columns in arrival order, drawn once for all runs that share `shared` and the draw key."""
        if self.shared is None:
            return self._draw_columns(limit)
        key = (self.draw_key, limit)
        if key not in self.shared:
            columns = self._draw_columns(limit)
            self.shared[key] = read_only(columns)
        return self.shared[key]  # type: ignore[no-any-return]

    def _draw_columns(self, limit: float) -> tuple[np.ndarray, ...] | None:
        """Return a batch's arrivals with their draws: time, group, purpose, class, uniforms, normals, route uniform.

        Each group draws its rows from its own streams into its slice of the batch (the groups'
        arrivals come group after group); purposes and classes are looked up once per distinct
        table of shares; then one stable sort by time puts the rows in arrival order.
        """
        t, group_of = self.arrivals.until(limit)
        n = t.size
        if not n:
            return None
        counts = np.bincount(group_of, minlength=len(self.groups))
        ends = np.cumsum(counts).tolist()
        u = np.empty((n, REQUEST_UNIFORMS))
        z = np.zeros((n, REQUEST_NORMALS))
        route = np.zeros(n)
        shared = self.shared is not None
        for k in np.flatnonzero(counts).tolist():
            group = self.groups[k]
            a, b = ends[k] - int(counts[k]), ends[k]
            group.uniforms(out=u[a:b])
            if group.normals_read or shared:  # unread normals move no other draw
                group.normals(out=z[a:b])
            if group.route is not None:
                group.route(out=route[a:b])
        purpose = np.zeros(n, dtype=np.int64)
        cls = np.zeros(n, dtype=np.int64)
        share_of = self.share_of[group_of]
        for s, (purpose_cum, class_cum, class_of) in enumerate(self.shares):
            rows = np.flatnonzero(share_of == s) if len(self.shares) > 1 else np.arange(n)
            if not rows.size:
                continue
            if purpose_cum.size > 1:
                purpose[rows] = np.minimum(np.searchsorted(purpose_cum, u[rows, U_PURPOSE], side="right"),
                                           purpose_cum.size - 1)
            local = (np.minimum(np.searchsorted(class_cum, u[rows, U_CLASS], side="right"), class_cum.size - 1)
                     if class_cum.size > 1 else np.zeros(rows.size, dtype=np.int64))
            cls[rows] = class_of[local]
        runs = int(np.count_nonzero(counts))
        if runs == 1:  # one group: its arrivals are in order already
            return t, group_of, purpose, cls, u, z, route
        order = time_order(t, runs)
        return tuple(column.take(order, axis=0) for column in (t, group_of, purpose, cls, u, z, route))

    def _route(self, batch: _Batch) -> None:
        """Choose each request's site and gate against the holdings in force at its instant."""
        # Arrivals only move forward: drop the holdings that no request can see again.
        stale = int(np.searchsorted(np.array(self.log_times), batch.t[0], side="right")) - 1
        del self.log_times[:stale], self.log_rows[:stale]
        segment: np.ndarray | None = None
        table = np.array(self.log_rows)  # [change, site x class]
        # Requests with the same options for their class choose alike: settle them together.
        if (self.alike_of == self.alike_of.flat[0]).all():  # every request has the same options, or none
            sets = [(int(self.alike_of.flat[0]), np.arange(batch.t.size))]
        else:
            alike = self.alike_of[self.route_table_of[batch.group, batch.variant], batch.cls]
            order = label_order(alike, len(self.alike))
            bounds = np.searchsorted(alike[order], np.arange(len(self.alike) + 1))
            sets = [(k, order[bounds[k]:bounds[k + 1]]) for k in range(len(self.alike))]
        for k, members in sets:
            if k < 0 or not members.size:
                continue
            columns, sites, gates = self._alike_options(k)
            held = table[:, columns]  # [change, option]: the share of the class each option's site holds
            if (held[:, 0] >= 1.0).all():  # the first option holds all of the class throughout: it serves all
                batch.site[members], batch.gate[members] = sites[0], gates[0]
                continue
            if held.shape[0] == 1 or (held == held[0]).all():  # no change in this batch: one share per option
                chosen = choose_sites(list(held[0]), batch.u[members, U_SITE])
            else:
                if segment is None:
                    segment = np.searchsorted(np.array(self.log_times), batch.t, side="right") - 1
                chosen = choose_sites(held[segment[members]].T, batch.u[members, U_SITE])
            ok = chosen >= 0
            picked = chosen[ok]
            batch.site[members[ok]] = sites[picked]
            batch.gate[members[ok]] = gates[picked]

    def _alike_options(self, k: int) -> tuple[list[int], np.ndarray, np.ndarray]:
        """Return an `alike` set's options as columns of the log's rows, site codes and gate codes (built once)."""
        found = self._options.get(k)
        if found is None:
            cls, options = self.alike[k]
            c = self.classes.index(cls)
            found = self._options[k] = ([self.sites.index(s) * len(self.classes) + c for s, _ in options],
                                        np.array([self.sites.index(s) for s, _ in options]),
                                        np.array([gate_code(g) for _, g in options]))
        return found

    def _settle(self, limit: float) -> None:
        batch = self._draw(limit)
        tally = Tally()
        hours: list[tuple[np.ndarray, np.ndarray]] = [self.carry_hours]
        reads = [self.carry_reads, *self._covert_reads()]
        if batch is not None:
            self._dispatch(batch, tally, hours, reads, limit)
        instants = np.concatenate([h[0] for h in hours])
        values = np.concatenate([h[1] for h in hours])
        now = instants < limit
        order = np.argsort(instants[now], kind="stable")
        tally.decision_hours = values[now][order]
        self.carry_hours = (instants[~now], values[~now])
        tally.reads, self.carry_reads = Reads.join(reads).split(limit)
        self.observer.tally(tally)

    def _dispatch(self, b: _Batch, tally: Tally, hours: list[tuple[np.ndarray, np.ndarray]],
                  reads: list[Reads], limit: float) -> None:
        tally.submitted = b.t
        granted: list[np.ndarray] = []
        denied: list[np.ndarray] = []
        lost = np.flatnonzero(b.gate < 0)
        denied.append(b.t[lost])
        if lost.size:  # counted by (group, class), then by (actor, class): groups of one actor share its name
            classes = len(self.classes)
            counts = np.bincount(b.group[lost] * classes + b.cls[lost])
            for code in np.flatnonzero(counts).tolist():
                group, c = divmod(code, classes)
                pair = (self.groups[group].actor.name, self.classes[c])
                tally.no_route[pair] = tally.no_route.get(pair, 0) + int(counts[code])
        free = np.flatnonzero(b.gate == NONE)
        granted.append(b.t[free])
        self._reads(b, free, b.t[free], b.t[free], "no_gate", tally, reads)
        self._parents(b, np.flatnonzero(b.gate == PARENT), tally, hours, reads, granted, denied)
        steward = np.flatnonzero((b.gate == STEWARD) | (b.gate == RELEASE))
        emergency = _gather(self.emergency_of, steward, b.group, b.purpose)
        urgent = steward[emergency]
        granted.append(b.t[urgent])
        tally.emergency = int(urgent.size)
        self._reads(b, urgent, b.t[urgent], b.t[urgent], "emergency", tally, reads)
        self._review(b, steward, emergency, limit, tally, hours, reads, granted, denied)
        tally.decided = {"granted": np.concatenate(granted), "denied": np.concatenate(denied),
                         "expired": tally.decided.get("expired", np.empty(0))}

    def _parents(self, b: _Batch, idx: np.ndarray, tally: Tally, hours: list[tuple[np.ndarray, np.ndarray]],
                 reads: list[Reads], granted: list[np.ndarray], denied: list[np.ndarray]) -> None:
        if not idx.size:
            return
        when, decided, yes = parent_decisions(self.config.parent_approval, b.t[idx], b.u[idx, U_DECISION],
                                              b.z[idx, Z_PARENT_DELAY], self.horizon)
        self.parent_pending += int(idx.size - decided.sum())
        idx, when, yes = idx[decided], when[decided], yes[decided]
        hours.append((b.t[idx], when - b.t[idx]))
        granted.append(when[yes])
        denied.append(when[~yes])
        self._reads(b, idx, when, b.t[idx], "parent_approval", tally, reads, yes)

    def _review(self, b: _Batch, steward: np.ndarray, emergency: np.ndarray, limit: float, tally: Tally,
                hours: list[tuple[np.ndarray, np.ndarray]], reads: list[Reads],
                granted: list[np.ndarray], denied: list[np.ndarray]) -> None:
        gate = self.config.gatekeeper
        if gate is None or not steward.size:
            return
        normals = _column(b.z, steward, Z_REVIEW) if self.review_normals else np.broadcast_to(0.0, steward.shape)
        review = review_hours(gate, _column(b.u, steward, U_REVIEW), normals)  # (exponential: normals unread)
        arrivals = _column(b.t, steward)
        expires = expiries(gate, arrivals, emergency)
        out = run_gate(self.gate, arrivals, review, expires, emergency, limit)
        start = out.start
        tally.gate = out.columns
        expired = (out.status == EXPIRED) & ~emergency
        started = (out.status == STARTED) & ~emergency
        tally.review_starts = pick(start, started)
        tally.waits = pick(start - arrivals, started)
        done = start + review
        decided = started & (done < self.horizon)
        idx, when = pick(steward, decided), pick(done, decided)
        hours.append((when, when - _column(b.t, idx)))
        ok = _gather(self.allowed_of, idx, b.group, b.purpose, b.cls)
        override = _gather(self.override_of, idx, b.group)
        policy, error, no, overridden = steward_decisions(gate, ok, _column(b.u, idx, U_DECISION),
                                                          _column(b.u, idx, U_OVERRIDE), override)
        granted.append(pick(when, policy | error))
        denied.append(when[no])
        tally.decided["expired"] = expires[expired]
        self._reads(b, idx, when, when, "policy", tally, reads, policy)
        self._reads(b, idx, when, when, "error", tally, reads, error)
        self._reads(b, idx, when, when, "override", tally, reads, overridden)

    def _reads(self, b: _Batch, idx: np.ndarray, at: np.ndarray, reported: np.ndarray, grant: Grant,
               tally: Tally, reads: list[Reads], keep: np.ndarray | None = None) -> None:
        """Count ordinary reads in bulk; settle the candidates for residual access as rows of `Reads`.

        The reads are the rows `idx` (those of them `keep` marks, if given), granted at `at` and
        reported at `reported`. Only foreign groups' reads count, so the others are never taken out.
        """
        if not idx.size:
            return
        foreign = _gather(self.foreign, idx, b.group)
        if keep is not None:
            foreign &= keep
        if not foreign.any():
            return
        idx, at, reported = idx[foreign], at[foreign], reported[foreign]
        counted = self.counted[b.cls[idx]]
        plain = np.bincount(b.cls[idx[~counted]], minlength=len(self.classes))
        for c in np.flatnonzero(plain).tolist():
            cls = self.classes[c]
            tally.class_events[cls] = tally.class_events.get(cls, 0) + int(plain[c])
        if counted.any():
            reads.append(self._residual(b, idx[counted], at[counted], reported[counted], grant))

    def _residual(self, b: _Batch, idx: np.ndarray, t: np.ndarray, reported: np.ndarray, grant: Grant) -> Reads:
        """Settle reads of counted classes by foreign groups (`fastreads`), numbered in report order."""
        allowed = self.allowed_of[b.group[idx], b.purpose[idx], b.cls[idx]]
        wrong = improper(grant, allowed, self.parent_improper)
        order = np.arange(self._order, self._order + idx.size)
        self._order += idx.size
        return self.tables.residual(grant, b.group[idx], b.site[idx], b.gate[idx] == STEWARD,
                                    b.gate[idx] == RELEASE, b.u[idx], b.z[idx],
                                    b.cls[idx], wrong, t, reported, order)

    def _covert_reads(self) -> list[Reads]:
        """Return the covert reads held back from the slow processes as rows (others go on at once)."""
        instants: list[float] = []
        reads: list[Accessed] = []
        for reported, event in self.slow.held:
            if not isinstance(event, Accessed) or event.channel is None:
                self.observer.notify(event)
                continue
            instants.append(reported)
            reads.append(event)
        self.slow.held = []
        if not reads:
            return []
        rows = self.tables.covert(instants, self._order, reads)
        self._order += len(reads)
        return [rows]
