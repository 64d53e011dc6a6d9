"""The one schema of a scenario: every parameter, its type, its bounds and its default.

This module is the only home of defaults. Model code reads validated, frozen values from
here and never supplies fallbacks of its own.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal, get_args

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator
from pydantic_core import PydanticCustomError

from sim.config.codes import code_problems
from sim.config.names import (
    MAX_DAYS,
    MAX_HEADCOUNT,
    MAX_HOURS,
    MAX_RECORDS,
    check_date,
    check_mix,
    check_path_name,
    check_timezone,
)
from sim.config.names import WILDCARD as WILDCARD
from sim.config.references import reference_problems as reference_problems
from sim.config.vocabulary import CHANNEL_TITLES as CHANNEL_TITLES
from sim.config.vocabulary import GATE_TITLES as GATE_TITLES
from sim.config.vocabulary import display as display

Probability = Annotated[float, Field(ge=0.0, le=1.0)]
Hour = Annotated[float, Field(ge=0.0, le=24.0)]
#: Lognormal shapes above 5 put the mean e^12.5 times above the median: no data supports that.
Sigma = Annotated[float, Field(ge=0.0, le=5.0)]

#: "key_release": the gatekeeper is the organisation holding the site's keys, and its grants release
#: them (plaintext, no gateway); see `Gatekeeper`.
GateKind = Literal["none", "parent", "steward", "key_release", "blocked"]
SiteRole = Literal["primary", "backup", "legacy"]
ReviewDistribution = Literal["exponential", "lognormal"]
#: How an actor group chooses among the routes open to it (see `ActorGroup.route_choice`).
RouteChoice = Literal["least_resistance", "preferred_site", "share"]

#: What "least resistance" means (`ActorGroup.route_choice`): the weakest gate first. The two
#: reviewing gates (the steward's and the key holder's release) are equally strong.
GATE_ORDER: dict[str, int] = {"none": 0, "parent": 1, "steward": 2, "key_release": 2}
SITE_ROLES: tuple[SiteRole, ...] = get_args(SiteRole)
#: The default order of preference by role among sites behind equally weak gates
#: (`ActorGroup.role_order`): the live system, then the old primary being emptied, then the backup.
DEFAULT_ROLE_ORDER = "primary,legacy,backup"

#: Channels through which protected data is read from abroad.
Channel = Literal[
    "approved_by_policy",
    "approved_in_error",
    "emergency_path",
    "parent_override",
    "legacy_or_backup_abroad",
    "covert",
]
CHANNELS: tuple[Channel, ...] = get_args(Channel)
HEX_COLOUR = r"^(#[0-9A-Fa-f]{6})?$"

#: The default seed of every file that takes one (scenarios, sweeps, lessons): the day all US
#: traffic moved to Oracle, which is also the default start date.
DEFAULT_SEED = 20220617
MAX_SEED = 2**63 - 1  # results databases keep seeds as SQLite's signed 64-bit integers
#: The arrangement a comparison takes its paired differences from unless told otherwise.
DEFAULT_BASELINE = "status_quo"
#: The most replications --target-ci may add up to unless told otherwise.
MAX_REPLICATIONS = 200


class Strict(BaseModel):
    """Base of every schema part: unknown keys are errors and values are frozen."""

    model_config = ConfigDict(extra="forbid", frozen=True, allow_inf_nan=False)


class Scenario(Strict):
    """Name, calendar and run length of a scenario."""

    name: str = Field(description="Short identifier used in tables and file names.")
    title: str = ""
    display: str = Field("", description="Short name for figures and tables (default: from `name`).")
    colour: str = Field("", pattern=HEX_COLOUR, description="Colour of the arrangement in figures, '#RRGGBB'.")
    description: str = ""
    start_date: dt.date = Field(dt.date(2022, 6, 17), description="Calendar date of hour 0 (UTC).")
    days: int = Field(365, ge=1, le=3660, description="Simulated horizon in days.")
    seed: int = Field(DEFAULT_SEED, ge=0, le=MAX_SEED, description="Default seed of the random streams.")
    replications: int = Field(20, ge=1, le=10_000, description="Default replications.")

    @field_validator("name")
    @classmethod
    def _name_fits_a_folder(cls, value: str) -> str:
        return check_path_name(value)

    @field_validator("start_date")
    @classmethod
    def _inside_calendar(cls, value: dt.date) -> dt.date:
        return check_date(value)


class Policy(Strict):
    """Where protected data may rest and from where it may be read."""

    allowed_rest: tuple[str, ...] = ("US",)
    allowed_read: tuple[str, ...] = ("US",)
    counted_classes: tuple[str, ...] = ("protected",)


class Organisation(Strict):
    """A company or team, its home and its independence from its parent."""

    jurisdiction: str
    title: str = Field("", description="Display name (default: from the key).")
    parent: str | None = None
    independence: Probability = Field(
        1.0,
        description="Chance the organisation resists its parent's instruction (1: fully independent).",
    )


class DataClass(Strict):
    """A class of data and how many user records it covers."""

    records: float = Field(ge=0.0, le=MAX_RECORDS)
    title: str = Field("", description="Display name (default: from the key).")
    covert_overlap_share: Probability = Field(
        0.0, description="Share of each covert export drawn from one fixed cohort of users (re-sent lists); "
        "0 draws every export uniformly, the upper bound on people exposed.")


class Site(Strict):
    """A data centre: where it is, who runs it, who holds its keys, what it holds at hour 0."""

    jurisdiction: str
    title: str = Field("", description="Display name (default: from the key).")
    operator: str
    role: SiteRole
    key_custody: str
    access_logged: bool = True
    holdings: dict[str, Probability] = Field(
        default_factory=dict, description="Share of each data class held at hour 0."
    )


class Replication(Strict):
    """Periodic copy of one data class from a source site to a target site."""

    source: str
    target: str
    data_class: str = "protected"
    interval_hours: float = Field(24.0, ge=0.1, le=MAX_HOURS, description="Hours between copies.")
    until: dt.date | None = None


class Migration(Strict):
    """Move (or copy) a data class from one site to another at a constant pace."""

    source: str
    target: str
    data_class: str = "protected"
    start: dt.date
    duration_days: float = Field(gt=0.0, le=MAX_DAYS)
    keep_source: bool = False


class Deletion(Strict):
    """Delete a data class at a site over a long-tailed, uncertain duration."""

    site: str
    data_class: str = "protected"
    start: dt.date
    median_days: float = Field(gt=0.0, le=MAX_DAYS)
    sigma: Sigma = 0.8
    incomplete_probability: Probability = 0.0
    residue_share: Probability = 0.0
    duration_quantile: Annotated[float, Field(gt=0.0, lt=1.0)] = Field(
        0.5, description="Where this world's completion falls in the lognormal(median_days, sigma) spread "
        "(0.5: the median). One unknown fact of the world: fixed in run and compare, ranged for explore.")
    stall_quantile: Probability = Field(
        0.5, description="This world's place among the worlds the deletion could go: it stalls (leaving "
        "residue_share) when stall_quantile < incomplete_probability. Fixed in run, ranged for explore.")


class WorkingHours(Strict):
    """Daily working window in local time; `start_hour=0, end_hour=24` means around the clock."""

    start_hour: Hour = 9.0
    end_hour: Hour = 18.0
    weekdays_only: bool = True

    @model_validator(mode="after")
    def _window_not_empty(self) -> WorkingHours:
        if self.end_hour <= self.start_hour:
            raise ValueError("end_hour must be later than start_hour (windows do not wrap midnight)")
        return self

    @property
    def around_the_clock(self) -> bool:
        """Return True when the window covers every hour of every day."""
        return self.start_hour == 0.0 and self.end_hour == 24.0 and not self.weekdays_only


class ActorGroup(Strict):
    """People in one place who ask for data, and their covert attempts."""

    location: str
    title: str = Field("", description="Display name (default: from the key).")
    timezone: str = "UTC"
    employer: str
    headcount: int = Field(ge=0, le=MAX_HEADCOUNT)
    hours: WorkingHours = WorkingHours()
    requests_per_hour: float = Field(ge=0.0, le=100.0, description="Requests per person per working hour.")
    purposes: dict[str, Probability]
    data_classes: dict[str, Probability]
    preferred_sites: tuple[str, ...] = ()
    route_choice: RouteChoice = Field(
        "least_resistance",
        description="How requests choose among open routes: least_resistance (the weakest gate "
        "first), preferred_site (`preferred_sites`, then the live primary, whatever the gate), "
        "or share (`least_resistance_share` of requests the first way, the rest the second).",
    )
    least_resistance_share: Probability = Field(
        1.0, description="With route_choice = share, the share of requests that take the weakest gate first."
    )
    routes_around_keys: bool = Field(
        False,
        description="Whether requesters avoid sites whose keys their side does not control (true), "
        "or read there and get ciphertext (false).",
    )
    role_order: str = Field(
        DEFAULT_ROLE_ORDER, description="Which site a request tries first among sites behind equally weak gates, "
        "by role: the three roles primary, legacy and backup, comma-separated, in the order tried.")
    routes_around_keys_share: Probability = Field(
        0.0, description="Share of requests that route around keys as `routes_around_keys` does (fall back to "
        "a site whose keys their side controls); the rest read where their route leads. true above makes it 1.")
    records_median: float = Field(100.0, gt=0.0, le=MAX_RECORDS)
    records_sigma: Sigma = 1.5
    covert_attempts_per_year: float = Field(
        0.0, ge=0.0, le=100_000.0, description="Human exfiltration attempts per year (bulk exports by email or chat); "
        "egress monitoring stops a share, audit finds a share.",
    )
    covert_records_median: float = Field(10_000.0, gt=0.0, le=MAX_RECORDS)
    covert_records_sigma: Sigma = 1.5
    covert_records_max: float | None = Field(
        None, gt=0.0, le=MAX_RECORDS, description="Largest human export: sizes follow the lognormal truncated here.")
    code_covert_attempts_per_year: float = Field(
        0.0, ge=0.0, le=100_000.0, description="Code-borne covert reads per year (backdoors, hidden credentials); "
        "source-code review stops a share, audit finds a share.",
    )
    code_covert_records_median: float = Field(10_000.0, gt=0.0, le=MAX_RECORDS)
    code_covert_records_sigma: Sigma = 1.5

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check_timezone(value)

    @field_validator("purposes", "data_classes")
    @classmethod
    def _mix_sums_to_one(cls, mix: dict[str, float]) -> dict[str, float]:
        return check_mix(mix)

    @field_validator("role_order")
    @classmethod
    def _every_role_once(cls, value: str) -> str:
        if sorted(part.strip() for part in value.split(",")) != sorted(SITE_ROLES):
            raise ValueError(f"role_order must name each of {', '.join(SITE_ROLES)} once, comma-separated "
                             f"(got {value!r}); for example {DEFAULT_ROLE_ORDER!r}")
        return value

    @property
    def roles(self) -> dict[str, int]:
        """Return each site role's rank in this group's `role_order` (0: tried first)."""
        return {part.strip(): rank for rank, part in enumerate(self.role_order.split(","))}


class Gatekeeper(Strict):
    """The team that reviews access requests: a stewardship team, or the key holder's release team.

    Routes with gate "steward" or "key_release" queue here (one queue per arrangement); a
    "key_release" route names sites whose keys this organisation holds, and a denial it gives
    is pressed by the requester's company with the chance its independence leaves.
    """

    organisation: str
    reviewers: int = Field(1, ge=1, le=MAX_HEADCOUNT, description="Reviewers working the queue while on shift.")
    timezone: str = "UTC"
    hours: WorkingHours = WorkingHours(start_hour=0.0, end_hour=24.0, weekdays_only=False)
    review_distribution: ReviewDistribution = "lognormal"
    review_hours_mean: float = Field(
        4.0, ge=1e-3, le=MAX_HOURS, description="Mean review time (a mean, not a median: a lognormal's median "
        "is exp(-sigma^2/2) of it).")
    review_hours_sigma: Sigma = Field(0.8, description="Lognormal shape of review times.")
    policy: dict[str, tuple[str, ...]] = Field(
        default_factory=dict, description="For each purpose, the data classes policy allows."
    )
    false_approval: Probability = 0.0
    false_denial: Probability = 0.0
    expiry_hours: Annotated[float, Field(gt=0.0, le=MAX_HOURS)] | None = None
    emergency_purposes: tuple[str, ...] = ()

    @field_validator("timezone")
    @classmethod
    def _known_timezone(cls, value: str) -> str:
        return check_timezone(value)


class ParentApproval(Strict):
    """The parent company's internal approval: a delay and a yes or no, without a queue."""

    approve_probability: Probability = 0.9
    delay_hours_median: float = Field(2.0, gt=0.0, le=MAX_HOURS)
    delay_sigma: Sigma = 0.8


class Route(Strict):
    """Which gate an actor group passes to read a data class at a site (`*` matches any)."""

    actor: str = WILDCARD
    site: str = WILDCARD
    data_class: str = WILDCARD
    gate: GateKind = Field(description="none; parent (the parent's own approval, no queue); steward (the "
                           "gatekeeper's review, grants through the gateway); key_release (the gatekeeper holds the "
                           "site's keys and its grants release them: plaintext); blocked.")


class Controls(Strict):
    """Technical controls beside the gate."""

    code_review_coverage: Probability = Field(
        0.0, description="Share of code-borne covert attempts that source-code review stops."
    )
    egress_monitoring_share: Probability = Field(
        0.0, description="Share of human exfiltration attempts that egress monitoring stops."
    )
    gateway_deidentify_share: Probability = Field(
        0.0, description="Share of gated grants the gateway returns de-identified."
    )
    insider_export_share: Probability = Field(
        0.0, description="Share of covert attempts that, finding no plaintext they can reach, an insider of the "
        "site's operator still exports.")
    key_custody_enforced: bool = Field(
        True, description="Whether key custody turns reads that bypass the steward gate into ciphertext."
    )
    audit_detect_probability: Probability = 0.0
    audit_delay_days_median: float = Field(180.0, gt=0.0, le=MAX_DAYS)
    audit_delay_sigma: Sigma = 0.6


class Config(Strict):
    """A whole scenario: world, arrangement, controls and run settings."""

    scenario: Scenario
    places: dict[str, str] = Field(default_factory=dict, description="Display name of each jurisdiction code.")
    policy: Policy = Policy()
    organisations: dict[str, Organisation]
    data: dict[str, DataClass]
    sites: dict[str, Site]
    replication: tuple[Replication, ...] = ()
    migrations: tuple[Migration, ...] = ()
    deletions: tuple[Deletion, ...] = ()
    actors: dict[str, ActorGroup]
    gatekeeper: Gatekeeper | None = None
    parent_approval: ParentApproval = ParentApproval()
    routes: tuple[Route, ...] = ()
    controls: Controls = Controls()

    @model_validator(mode="after")
    def _references_resolve(self) -> Config:
        for key, problem in reference_problems(self):
            raise config_problem(key, problem)
        for key, problem, fix in code_problems(self):
            raise config_problem(key, problem, fix)
        return self


def config_problem(key: str, text: str, fix: str | None = None) -> PydanticCustomError:
    """Return a validation error that names its own key (reported as `key: text` with a fix)."""
    context = {"key": key, "problem": text} | ({"fix": fix} if fix else {})
    return PydanticCustomError("reference", "{problem}", context)


def route_gate(routes: tuple[Route, ...], actor: str, site: str, data_class: str) -> GateKind:
    """Return the gate of the most specific route matching (actor, site, class); ties go to the later."""
    index = route_index(routes, actor, site, data_class)
    return "blocked" if index is None else routes[index].gate


def route_index(routes: tuple[Route, ...], actor: str, site: str, data_class: str) -> int | None:
    """Return the position of the most specific route matching (actor, site, class), or None."""
    best, best_score, wild = None, -1, WILDCARD
    for i, route in enumerate(routes):
        a, s, c = route.actor, route.site, route.data_class
        if (a == wild or a == actor) and (s == wild or s == site) and (c == wild or c == data_class):
            score = (a != wild) + (s != wild) + (c != wild)  # how many fields it names
            if score >= best_score:
                best, best_score = i, score
    return best


