"""Exact hand-computed timelines of the stewardship gate and the world's decision paths."""

from __future__ import annotations

import math
from collections.abc import Generator, Sequence
from pathlib import Path
from typing import Any

import simpy
from conftest import LogObserver, write_config

from sim.config.loader import load_config
from sim.metrics.recorder import GateLedger
from sim.model.event.gatekeeper import StewardGate
from sim.model.event.world import World
from sim.model.rng import Streams
from sim.model.rulebook.events import Decided, Request, Submitted

INF = math.inf


def request(number: int, t: float, review: float, expires_at: float = INF) -> Request:
    """Return a hand-made request submitted at t with a fixed review time and deadline."""
    return Request(
        number=number, actor="analysts", t_submit=t, purpose="review", data_class="protected",
        records=1.0, review_hours=review, uniforms=[], normals=[], expires_at=expires_at,
    )


def drive(
    requests: Sequence[Request], *, horizon: float, reviewers: int = 1,
    shifts: list[tuple[float, float]] | None = None,
) -> tuple[list[tuple[object, ...]], StewardGate, int]:
    """Submit requests to a bare gate at their times, run to the horizon and close the gate."""
    env = simpy.Environment()
    observer = LogObserver()

    def decide(t: float, req: Request) -> None:
        observer.notify(Decided(t, req, "granted", "policy"))

    gate = StewardGate(env, reviewers, shifts, horizon, observer, decide)

    def source() -> Generator[Any, Any, None]:
        for req in sorted(requests, key=lambda r: r.t_submit):
            yield env.timeout(req.t_submit - env.now)
            observer.notify(Submitted(env.now, req))
            gate.submit(req)

    env.process(source())
    env.run(until=horizon)
    pending = gate.close()
    return observer.log, gate, pending


def ledger(gate: StewardGate) -> GateLedger:
    """Return the queue area, busy and available hours that the gate's events add up to."""
    observer = gate.observer
    assert isinstance(observer, LogObserver)
    return observer.gate


# -- (a) expiry ---------------------------------------------------------------------------


def test_queued_request_expires_at_its_deadline_and_never_starts() -> None:
    """A request that outwaits its deadline leaves at the deadline; a patient one starts at 10."""
    log, gate, pending = drive([
        request(0, 0.0, 10.0),
        request(1, 1.0, 1.0, expires_at=1.0 + 3.0),
        request(2, 1.0, 1.0, expires_at=1000.0),
    ], horizon=20.0)
    assert log == [
        ("submitted", 0.0, 0),
        ("review_started", 0.0, 0, 0.0),
        ("submitted", 1.0, 1),
        ("submitted", 1.0, 2),
        ("decided", 10.0, 0, "granted", "policy"),
        ("decided", 4.0, 1, "expired", "expiry"),
        ("review_started", 10.0, 2, 9.0),
        ("decided", 11.0, 2, "granted", "policy"),
    ]
    assert pending == 0
    # Request 1 queued from 1 to its deadline at 4, request 2 from 1 to 10.
    assert ledger(gate).queue_area == 3.0 + 9.0
    assert ledger(gate).busy_hours == 11.0


def test_close_expires_overdue_requests_and_counts_the_rest_pending() -> None:
    """At the horizon an overdue queued request expires at its deadline; others stay pending."""
    log, gate, pending = drive([
        request(0, 0.0, 100.0),
        request(1, 1.0, 1.0, expires_at=5.0),
        request(2, 2.0, 1.0, expires_at=50.0),
    ], horizon=20.0)
    assert log == [
        ("submitted", 0.0, 0),
        ("review_started", 0.0, 0, 0.0),
        ("submitted", 1.0, 1),
        ("submitted", 2.0, 2),
        ("decided", 5.0, 1, "expired", "expiry"),
    ]
    assert pending == 2  # request 0 under review, request 2 still queued
    assert ledger(gate).queue_area == (5.0 - 1.0) + (20.0 - 2.0)
    assert ledger(gate).busy_hours == 20.0  # the review is counted only up to the horizon
    assert not gate.queue


# -- (b) shifts ---------------------------------------------------------------------------

SHIFTS = [(9.0, 17.0), (33.0, 41.0)]


def test_review_under_way_at_shift_end_is_finished() -> None:
    """A review started at 16.5 ends at 17.5; the next request waits for the next shift."""
    log, gate, pending = drive([
        request(0, 16.5, 1.0),
        request(1, 16.75, 1.0),
    ], horizon=48.0, shifts=SHIFTS)
    assert log == [
        ("submitted", 16.5, 0),
        ("review_started", 16.5, 0, 0.0),
        ("submitted", 16.75, 1),
        ("decided", 17.5, 0, "granted", "policy"),
        ("review_started", 33.0, 1, 16.25),
        ("decided", 34.0, 1, "granted", "policy"),
    ]
    assert pending == 0
    assert ledger(gate).queue_area == 33.0 - 16.75
    assert ledger(gate).busy_hours == 2.0
    assert ledger(gate).busy_hours <= ledger(gate).available_hours


def test_request_off_shift_waits_for_the_shift_though_reviewer_is_free() -> None:
    """Requests at 5 and 20 (off shift, reviewer idle) start when the next shift opens."""
    log, _, pending = drive([
        request(0, 5.0, 2.0),
        request(1, 20.0, 1.0),
    ], horizon=48.0, shifts=SHIFTS)
    assert log == [
        ("submitted", 5.0, 0),
        ("review_started", 9.0, 0, 4.0),
        ("decided", 11.0, 0, "granted", "policy"),
        ("submitted", 20.0, 1),
        ("review_started", 33.0, 1, 13.0),
        ("decided", 34.0, 1, "granted", "policy"),
    ]
    assert pending == 0


def test_two_reviewers_serve_first_come_first_served_when_the_shift_opens() -> None:
    """Three requests queued overnight: two start at 33 in arrival order, the third after."""
    log, _, pending = drive([
        request(0, 18.0, 2.0),
        request(1, 19.0, 1.0),
        request(2, 20.0, 1.0),
    ], horizon=48.0, reviewers=2, shifts=SHIFTS)
    assert [entry for entry in log if entry[0] != "submitted"] == [
        ("review_started", 33.0, 0, 15.0),
        ("review_started", 33.0, 1, 14.0),
        ("decided", 34.0, 1, "granted", "policy"),
        ("review_started", 34.0, 2, 14.0),
        ("decided", 35.0, 0, "granted", "policy"),
        ("decided", 35.0, 2, "granted", "policy"),
    ]
    assert pending == 0


# -- (e) queue area -------------------------------------------------------------------------


def test_queue_area_is_the_integral_of_the_queue_with_expiries() -> None:
    """The gate's queue area counts each request's time in the queue, expired ones to deadline."""
    log, gate, pending = drive([
        request(0, 0.0, 10.0),
        request(1, 1.0, 1.0, expires_at=4.0),     # queued 1..4, expires
        request(2, 2.0, 1.0, expires_at=5.0),     # queued 2..5, expires
        request(3, 6.0, 1.0, expires_at=9.0),     # queued 6..9, expires
        request(4, 8.0, 5.0, expires_at=11.0),    # queued 8..10, reviewed 10..15
        request(5, 12.0, 1.0, expires_at=100.0),  # queued 12..15, reviewed 15..16
        request(6, 25.0, 10.0),                   # reviewed 25..35, past the horizon
        request(7, 26.0, 1.0, expires_at=28.0),   # queued 26..28, expired by close()
        request(8, 27.0, 1.0, expires_at=100.0),  # queued 27..30, pending
    ], horizon=30.0)
    assert ledger(gate).queue_area == 3.0 + 3.0 + 3.0 + 2.0 + 3.0 + 2.0 + 3.0
    assert pending == 2
    assert ledger(gate).busy_hours == 10.0 + 5.0 + 1.0 + (30.0 - 25.0)
    expired = [entry for entry in log if entry[0] == "decided" and entry[3] == "expired"]
    assert expired == [
        ("decided", 4.0, 1, "expired", "expiry"),
        ("decided", 5.0, 2, "expired", "expiry"),
        ("decided", 9.0, 3, "expired", "expiry"),
        ("decided", 28.0, 7, "expired", "expiry"),
    ]
    started = [entry for entry in log if entry[0] == "review_started"]
    assert started == [
        ("review_started", 0.0, 0, 0.0),
        ("review_started", 10.0, 4, 2.0),
        ("review_started", 15.0, 5, 3.0),
        ("review_started", 25.0, 6, 0.0),
    ]


# -- (c), (d) decision paths through the world ------------------------------------------------

WORLD = """
[scenario]
name = "timeline"
provenance = { assume = "test world" }
days = 2

[organisations.parentco]
provenance = { assume = "test world" }
jurisdiction = "CN"

[organisations.stewards]
provenance = { assume = "test world" }
jurisdiction = "US"
parent = "parentco"
independence = 1.0

[data.protected]
records = { value = 1000, assume = "test world" }

[sites.us_site]
provenance = { assume = "test world" }
jurisdiction = "US"
operator = "stewards"
role = "primary"
key_custody = "stewards"
holdings = { protected = 1.0 }

[actors.engineers]
provenance = { assume = "test world: no random requests, only injected ones" }
location = "CN"
employer = "parentco"
headcount = 0
requests_per_hour = 0.0
purposes = { support = 0.5, analytics = 0.25, incident = 0.25 }
data_classes = { protected = 1.0 }

[gatekeeper]
provenance = { assume = "test world" }
organisation = "stewards"
reviewers = 1
review_distribution = "exponential"
policy = { support = ["protected"], analytics = [], incident = ["protected"] }
emergency_purposes = ["incident"]

[[routes]]
provenance = { assume = "test world" }
actor = "engineers"
site = "us_site"
gate = "steward"
"""


def build_world(
    tmp_path: Path, overrides: Sequence[tuple[str, str]] = (),
) -> tuple[World, LogObserver]:
    """Load the small test world with overrides and build one replication of it."""
    path = write_config(tmp_path, WORLD)
    loaded = load_config(path, [(key, value, "--set") for key, value in overrides])
    observer = LogObserver()
    return World(loaded.config, Streams(0, 0), observer), observer


def inject_at(world: World, plan: Sequence[tuple[float, str, float]]) -> None:
    """Inject (t, purpose, review_hours) requests from the engineers at their times."""

    def script() -> Generator[Any, Any, None]:
        for t, purpose, review in plan:
            yield world.env.timeout(t - world.env.now)
            world.inject("engineers", purpose, "protected", review_hours=review)

    world.env.process(script())


def test_emergency_grant_is_immediate_and_its_post_review_occupies_the_reviewer(
    tmp_path: Path,
) -> None:
    """An emergency purpose is granted at once; its post-review delays the next request by 2 h."""
    world, observer = build_world(tmp_path)
    inject_at(world, [(1.0, "incident", 2.0), (1.0, "support", 0.5)])
    pending = world.run()
    assert observer.log == [
        ("submitted", 1.0, 0),
        ("decided", 1.0, 0, "granted", "emergency"),
        ("accessed", 1.0, "engineers", "us_site", "protected", "emergency_path"),
        ("submitted", 1.0, 1),
        ("review_started", 3.0, 1, 2.0),
        ("decided", 3.5, 1, "granted", "policy"),
        ("accessed", 3.5, "engineers", "us_site", "protected", "approved_by_policy"),
    ]
    assert pending == 0
    assert observer.gate.busy_hours == 2.0 + 0.5
    assert len(observer.days) == 2


def test_world_expiry_uses_the_configured_deadline(tmp_path: Path) -> None:
    """With expiry_hours = 3 a request queued behind a 10 h review expires 3 h after it came."""
    world, observer = build_world(tmp_path, [("gatekeeper.expiry_hours", "3.0")])
    inject_at(world, [(0.0, "support", 10.0), (1.0, "support", 1.0), (8.0, "support", 1.0)])
    pending = world.run()
    assert [entry for entry in observer.log if entry[0] != "accessed"] == [
        ("submitted", 0.0, 0),
        ("review_started", 0.0, 0, 0.0),
        ("submitted", 1.0, 1),
        ("submitted", 8.0, 2),
        ("decided", 10.0, 0, "granted", "policy"),
        ("decided", 4.0, 1, "expired", "expiry"),
        ("review_started", 10.0, 2, 2.0),
        ("decided", 11.0, 2, "granted", "policy"),
    ]
    assert pending == 0
    assert observer.gate.queue_area == 3.0 + 2.0


def test_parent_override_reads_denied_data_when_the_gate_is_not_independent(
    tmp_path: Path,
) -> None:
    """With independence 0 from the employer, a denied protected request is read anyway."""
    world, observer = build_world(tmp_path, [("organisations.stewards.independence", "0.0")])
    inject_at(world, [(2.0, "analytics", 1.0)])
    world.run()
    assert observer.log == [
        ("submitted", 2.0, 0),
        ("review_started", 2.0, 0, 0.0),
        ("decided", 3.0, 0, "denied", "policy"),
        ("accessed", 3.0, "engineers", "us_site", "protected", "parent_override"),
    ]


def test_independent_gate_denial_means_no_access(tmp_path: Path) -> None:
    """With independence 1 a denied protected request leads to no access at all."""
    world, observer = build_world(tmp_path, [("organisations.stewards.independence", "1.0")])
    inject_at(world, [(2.0, "analytics", 1.0)])
    world.run()
    assert observer.log == [
        ("submitted", 2.0, 0),
        ("review_started", 2.0, 0, 0.0),
        ("decided", 3.0, 0, "denied", "policy"),
    ]


def test_false_approval_grants_in_error(tmp_path: Path) -> None:
    """A reviewer who always errs grants a request policy forbids, as approved_in_error."""
    world, observer = build_world(tmp_path, [("gatekeeper.false_approval", "1.0")])
    inject_at(world, [(2.0, "analytics", 1.0)])
    world.run()
    assert observer.log[-2:] == [
        ("decided", 3.0, 0, "granted", "error"),
        ("accessed", 3.0, "engineers", "us_site", "protected", "approved_in_error"),
    ]


def test_gateway_deidentification_shields_a_granted_read(tmp_path: Path) -> None:
    """With every gated grant de-identified, the foreign read is shielded, not accessed."""
    world, observer = build_world(tmp_path, [("controls.gateway_deidentify_share", "1.0")])
    inject_at(world, [(2.0, "support", 1.0)])
    world.run()
    assert observer.log[-2:] == [
        ("decided", 3.0, 0, "granted", "policy"),
        ("shielded", 3.0, "engineers", "deidentified"),
    ]
