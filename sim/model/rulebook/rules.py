"""The request rules, written once over arrays: a single request is a batch of one.

Both drivers settle requests with these functions: the event engine (`World`, one request at a
time, as a batch of one) and the batched engine (`FastWorld`, thousands at a time). What a gate
decides, how long a review takes, when a request expires, which site serves it, whether a
control shields a read, which channel and grant it counts under, whether policy forbids it and
when the audit finds it are each computed here and nowhere else, so the two engines agree to
the bit by construction. Every exp and log goes through libm (`libm`), as Python's `math` does.

The enumerations the rules branch on (gate kinds, review distributions, route choices, grants)
are handled here, each exhaustively: a value the rules do not know is a config error
(`unknown`), never taken silently as some default.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from typing import Any, NoReturn, TypeAlias, get_args

import numpy as np

from sim.config.schema import (
    CHANNELS,
    Channel,
    Config,
    Controls,
    Gatekeeper,
    GateKind,
    ParentApproval,
    ReviewDistribution,
    RouteChoice,
)
from sim.errors import InputError
from sim.model.calendar import HOURS_PER_DAY
from sim.model.compiled import libm_all
from sim.model.rulebook.events import GRANTS, Gate, Grant
from sim.model.rulebook.tally import ACCESS, CIPHERTEXT, DEIDENTIFIED

#: The gates a request can pass, in the order of their codes (a route that is "blocked" is never taken).
GATES: tuple[Gate, ...] = get_args(Gate)
NONE, PARENT, STEWARD, RELEASE = (GATES.index(gate) for gate in ("none", "parent", "steward", "key_release"))
#: The gates whose requests queue for the gatekeeper's review: the steward's, and the key holder's release.
REVIEWED = ("steward", "key_release")
#: The review-time distributions and route choices the rules know.
REVIEW_DISTRIBUTIONS: tuple[ReviewDistribution, ...] = get_args(ReviewDistribution)
ROUTE_CHOICES: tuple[RouteChoice, ...] = get_args(RouteChoice)
GATE_KINDS: tuple[GateKind, ...] = get_args(GateKind)
#: The channel (the legacy view of residual access) of each grant read at a site at home.
CHANNEL_OF: dict[Grant, Channel] = {
    "policy": "approved_by_policy", "no_gate": "approved_by_policy",
    "parent_approval": "approved_by_policy", "error": "approved_in_error",
    "emergency": "emergency_path", "override": "parent_override", "covert": "covert",
}
LEGACY = CHANNELS.index("legacy_or_backup_abroad")
#: What the rules take and give: numpy arrays over a batch of requests, or plain floats and
#: bools for a batch of one (the event engine's requests, where array calls would dominate).
#: Every rule uses only arithmetic, comparisons, & and | and the helpers below, which mean
#: the same on both and round alike (IEEE 754), so both give the same bits.
Values: TypeAlias = Any
#: Smaller than any gap between 1 and a float below it: a floor for divisors that leaves them unchanged.
TINY = 1e-300


def unknown(key: str, value: object, known: tuple[str, ...]) -> NoReturn:
    """Raise the config error for an enumerated value the rules do not know."""
    raise InputError("config", key, f"`{value}` is not a value the model knows.",
                     f"use one of {', '.join(known)}.")


def libm(function: Callable[[float], float], values: Values) -> Values:
    """Return `function` (math.exp, math.log) of each value, computed by libm as Python's math does.

    numpy's vectorised exp and log may differ from libm in the last bit, and between CPUs.
    """
    if not isinstance(values, np.ndarray):
        return function(values)
    return libm_all(function, values)


def where(condition: Values, yes: Values, no: Values) -> Values:
    """Return `yes` where the condition holds, else `no` (np.where, or a conditional for one value)."""
    return np.where(condition, yes, no) if isinstance(condition, np.ndarray) else (yes if condition else no)


def any_of(condition: Values) -> bool:
    """Return whether the condition holds anywhere."""
    return bool(condition.any()) if isinstance(condition, np.ndarray) else bool(condition)


def not_(condition: Values) -> Values:
    """Return the negation of a condition."""
    return ~condition if isinstance(condition, np.ndarray) else not condition


def filled(like: Values, value: float | bool, dtype: type = float) -> Values:
    """Return `value` in the shape of `like` (the value itself for a batch of one)."""
    return np.full(like.size, value, dtype=dtype) if isinstance(like, np.ndarray) else value


def _at_least(values: Values, low: float) -> Values:
    return np.maximum(values, low) if isinstance(values, np.ndarray) else (values if values >= low else low)


# -- enumerations -----------------------------------------------------------------------------
def gate_code(kind: str, key: str = "routes.gate") -> int:
    """Return the code of a route's gate, -1 for "blocked"; an unknown kind is a config error."""
    if kind == "blocked":
        return -1
    if kind in GATES:
        return GATES.index(kind)
    unknown(key, kind, GATE_KINDS)


def check_review_distribution(gate: Gatekeeper) -> ReviewDistribution:
    """Return the gate's review distribution, a config error if the rules do not know it."""
    distribution = gate.review_distribution
    if distribution not in REVIEW_DISTRIBUTIONS:
        unknown("gatekeeper.review_distribution", distribution, REVIEW_DISTRIBUTIONS)
    return distribution


def check_route_choice(choice: RouteChoice, actor: str) -> RouteChoice:
    """Return an actor group's route choice, a config error if the rules do not know it."""
    if choice not in ROUTE_CHOICES:
        unknown(f"actors.{actor}.route_choice", choice, ROUTE_CHOICES)
    return choice


def first_order(choice: RouteChoice) -> str:
    """Return which order a group's first route table follows: "least_resistance" or "preferred_site".

    A group that mixes the two ("share") keeps the least-resistance order first and the
    preferred-site order second (`second_order`).
    """
    match choice:
        case "least_resistance" | "share":
            return "least_resistance"
        case "preferred_site":
            return "preferred_site"
    unknown("actors.route_choice", choice, ROUTE_CHOICES)


def second_order(choice: RouteChoice) -> bool:
    """Return whether a group mixes two route orders, drawing one more uniform per request."""
    match choice:
        case "share":
            return True
        case "least_resistance" | "preferred_site":
            return False
    unknown("actors.route_choice", choice, ROUTE_CHOICES)


def route_variants(u: Values, least_share: float, keys_share: float, orders: bool, keys: bool) -> Values:
    """Return each request's route table (`routing.Actor.tables`) from its route uniform `u`.

    With two orders (`orders`), `u` at or above `least_share` takes the second order (+1);
    with a fractional share routing around keys (`keys`), the uniform rescaled within its
    order's interval decides that (+2), so one uniform settles both.
    """
    second = (u >= least_share) if orders else filled(u, False, bool)
    code = where(second, 1, 0)
    if not keys:
        return code
    low = where(second, least_share, 0.0) if orders else filled(u, 0.0)
    span = where(second, 1.0 - least_share, least_share) if orders else filled(u, 1.0)
    aware = (u - low) / _at_least(span, TINY) < keys_share
    return code + where(aware, 2, 0)


def review_reads_normals(gate: Gatekeeper | None) -> bool:
    """Return whether a review time reads the request's normals (a lognormal review does)."""
    if gate is None:
        return False
    match check_review_distribution(gate):
        case "exponential":
            return False
        case "lognormal":
            return True


def check(config: Config) -> None:
    """Raise a config error for any enumerated value in `config` the rules do not know."""
    if config.gatekeeper is not None:
        check_review_distribution(config.gatekeeper)
    for name, spec in config.actors.items():
        check_route_choice(spec.route_choice, name)
    for i, route in enumerate(config.routes):
        gate_code(route.gate, f"routes[{i}].gate")


# -- the rules --------------------------------------------------------------------------------
def review_hours(gate: Gatekeeper, u: Values, z: Values) -> Values:
    """Return each review's duration from the request's review uniform `u` and normal `z`.

    Exponential reviews have the configured mean; lognormal ones the configured mean and shape.
    """
    match check_review_distribution(gate):
        case "exponential":
            return -gate.review_hours_mean * libm(math.log, 1.0 - u)
        case "lognormal":
            mu = math.log(gate.review_hours_mean) - gate.review_hours_sigma**2 / 2
            return libm(math.exp, mu + gate.review_hours_sigma * z)


def expiries(gate: Gatekeeper, t: Values, emergency: Values) -> Values:
    """Return when each request handed to the gate at `t` expires in its queue (never for a post-review)."""
    expiry = gate.expiry_hours
    return where(emergency, math.inf, t + (math.inf if expiry is None else expiry))


def parent_decisions(spec: ParentApproval, t: Values, u: Values, z: Values,
                     horizon: float) -> tuple[Values, Values, Values]:
    """Return when the parent decides each request, whether before the horizon, and whether it approves."""
    when = t + spec.delay_hours_median * libm(math.exp, spec.delay_sigma * z)
    return when, when < horizon, u < spec.approve_probability


def steward_decisions(gate: Gatekeeper, allowed: Values, u: Values, u_override: Values,
                      override: Values) -> tuple[Values, Values, Values, Values]:
    """Return the reviewed requests granted under policy, granted in error, denied, and overridden.

    A request policy allows is wrongly denied with `false_denial`; one it forbids wrongly
    approved with `false_approval`; a denial is overridden where the requester's employer
    controls the gate's organisation (`override`, the chance it does).
    """
    policy = allowed & (u >= gate.false_denial)
    error = not_(allowed) & (u < gate.false_approval)
    denied = not_(policy | error)
    return policy, error, denied, denied & (u_override < override)


def improper(grant: Grant, allowed: Values, gated: bool) -> Values:
    """Return whether policy forbids each read so granted, wherever the site is.

    Errors, overrides and covert reads always are; the parent's approval is where a gatekeeper
    guards the data (`gated`); an emergency grant is if its post-review finds the purpose does
    not allow the class (`allowed`).
    """
    match grant:
        case "policy" | "no_gate":
            return filled(allowed, False, bool)
        case "parent_approval":
            return filled(allowed, gated, bool)
        case "emergency":
            return not_(allowed)
        case "error" | "override" | "covert":
            return filled(allowed, True, bool)
    unknown("grant", grant, GRANTS)


def shields(controls: Controls, grant: Grant, steward: Values, released: Values, u: Values,
            key_control: Values) -> Values:
    """Return what each read became: ACCESS, or DEIDENTIFIED by the gateway, or CIPHERTEXT.

    Reads through the steward are de-identified with the gateway's share; reads the key holder
    released (`released`: through its release gate, granted, in error, in an emergency or under
    its parent's pressure) are plaintext. Others, unless an override, are ciphertext where key
    custody is enforced and the keys are held by a side the requester's company does not
    control (`key_control`, the chance it does).
    """
    cipher = filled(steward, False, bool)
    if grant != "override" and controls.key_custody_enforced:
        cipher = not_(steward | released) & (u >= key_control)
    return where(steward & (u < controls.gateway_deidentify_share), DEIDENTIFIED,
                 where(cipher, CIPHERTEXT, ACCESS))


def channels(grant: Grant, abroad: Values) -> Values:
    """Return the channel code of each residual read: a copy held abroad, or the grant's channel."""
    return where(abroad, LEGACY, CHANNELS.index(CHANNEL_OF[grant]))


def detections(controls: Controls, t: Values, wrong: Values, logged: Values, u: Values, z: Values) -> Values:
    """Return when the audit finds each read (NaN: never); it looks only at improper, logged reads."""
    found = wrong & logged & (u < controls.audit_detect_probability)
    if not any_of(found):
        return filled(t, math.nan)
    days = controls.audit_delay_days_median * libm(math.exp, controls.audit_delay_sigma * z)
    return where(found, t + days * HOURS_PER_DAY, math.nan)


def records(median: Values, sigma: Values, z: Values) -> Values:
    """Return the records each read takes: lognormal about the group's median."""
    return median * libm(math.exp, sigma * z)


def choose_sites(held: Iterable[Values], u: Values) -> Values:
    """Return the option that serves each request (-1: none), trying the options in order.

    `held` gives, option by option, the share of the class the option's site holds at each
    request's instant; `u` is each request's site uniform. Shares are taken to overlap as
    little as they can (a move leaves disjoint halves; a full copy covers everything), so an
    option serves the request with probability share / (share not yet covered).
    """
    found = filled(u, -1, np.int64)
    live = filled(u, True, bool)
    covered = filled(u, 0.0)
    for j, share in enumerate(held):
        holds = live & (share > 0.0)
        if not any_of(holds):
            continue
        chance = where(covered < 1.0, share / _at_least(1.0 - covered, TINY), 1.0)
        take = holds & ((chance >= 1.0) | (u < chance))
        found = where(take, j, found)
        live = live & not_(take)
        go_on = holds & not_(take)
        step = where(go_on, chance, 0.0)  # below 1 where the request goes on, so 1 - step > 0
        u = where(go_on, (u - step) / (1.0 - step), u)
        covered = where(go_on, covered + share, covered)
        if not any_of(live):
            break
    return found
