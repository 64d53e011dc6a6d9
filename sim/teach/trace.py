"""A narrated trace: the model's first events told in plain language, in each actor's local time."""

from __future__ import annotations

import math
from dataclasses import dataclass

from sim.config.schema import Config, display
from sim.model.calendar import HOURS_PER_DAY, to_datetime, working_windows
from sim.model.rulebook.events import (
    Accessed,
    CovertAttempt,
    Decided,
    Event,
    Observer,
    Queued,
    ReviewStarted,
    Shielded,
    Submitted,
)

CHANNEL_WORDS = {
    "approved_by_policy": "approved under the rules in force", "approved_in_error": "approved by mistake",
    "emergency_path": "granted on the emergency path", "parent_override": "the parent overrode the denial",
    "legacy_or_backup_abroad": "read from a copy held abroad", "covert": "through a covert channel",
}
SHIELDS = {
    "deidentified": "the gateway hands it back de-identified", "ciphertext": "it gets only ciphertext: "
    "the keys are held by someone its company does not control", "code_review": "source-code review stops it",
    "egress_monitoring": "egress monitoring stops the export",
    "no_reach": "it finds no plaintext it can reach, and no insider exports for it",
}


@dataclass(frozen=True)
class TraceEvent:
    """One event as the model reported it."""

    t: float
    kind: str
    number: int | None
    actor: str | None
    detail: dict[str, object]


class Tee:
    """Pass every event on to several observers."""

    def __init__(self, *observers: Observer) -> None:
        self.observers = observers

    def notify(self, event: Event) -> None:
        """Forward an event to each observer in turn."""
        for o in self.observers:
            o.notify(event)


class Tracer:
    """Keep the model's request events up to a time limit, for narration."""

    def __init__(self, until_hours: float, actor: str | None = None, limit: int = 100_000) -> None:
        self.until = until_hours
        self.actor = actor
        self.limit = limit
        self.events: list[TraceEvent] = []

    def _keep(self, t: float, kind: str, number: int | None, actor: str | None, **detail: object) -> None:
        if t <= self.until and len(self.events) < self.limit and (self.actor is None or actor == self.actor):
            self.events.append(TraceEvent(t, kind, number, actor, dict(detail)))

    def notify(self, event: Event) -> None:
        """Keep request events, accesses that cross the border, shields and covert tries."""
        match event:
            case Submitted(t, request):
                self._keep(t, "submitted", request.number, request.actor, purpose=request.purpose,
                           data_class=request.data_class)
            case Queued(t, request, ahead):
                self._keep(t, "queued", request.number, request.actor, ahead=ahead)
            case ReviewStarted(t, request, wait):
                self._keep(t, "review_started", request.number, request.actor, wait=wait)
            case Decided(t, request, outcome, why):
                self._keep(t, "decided", request.number, request.actor, outcome=outcome, why=why,
                           data_class=request.data_class, purpose=request.purpose, site=request.site)
            case Accessed(channel=None):
                pass  # routine reads are left out of the story
            case Accessed():
                self._keep(event.t, "accessed", None if event.request is None else event.request.number,
                           event.actor, site=event.site, data_class=event.data_class,
                           records=event.records, channel=event.channel, detected_at=event.detected_at)
            case Shielded(t, actor, how):
                self._keep(t, "shielded", None, actor, how=how)
            case CovertAttempt(t, actor, mode):
                self._keep(t, "covert_attempt", None, actor, mode=mode)
            case _:
                pass  # holdings, transfers and the gate's bookkeeping: the trace follows requests

    def first(self, count: int) -> list[TraceEvent]:
        """Return the first `count` events in time order (the model reports some ahead of time)."""
        return sorted(self.events, key=lambda e: e.t)[:count]


def place(timezone: str) -> str:
    """Return the city that names a time zone ("Asia/Shanghai" -> "Shanghai"; "UTC" stays)."""
    return timezone.rsplit("/", 1)[-1].replace("_", " ")


def group_name(config: Config, actor: str | None) -> str:
    """Return how narration names an actor group: its title, else its key in words."""
    group = config.actors.get(actor or "")
    return display(actor or "someone", group.title if group else "")


def one_of(config: Config, actor: str | None) -> str:
    """Return "one of the engineers in China" for an actor group titled "Engineers in China"."""
    name = group_name(config, actor)
    return f"one of the {name[:1].lower()}{name[1:]}"


def data_name(config: Config, data_class: str) -> str:
    """Return a data class in words, from its title in the config."""
    item = config.data.get(data_class)
    return item.title if item is not None and item.title else data_class.replace("_", " ")


def site_name(config: Config, site: str) -> str:
    """Return a site's display name and its place ("Singapore backup, Singapore")."""
    item = config.sites.get(site)
    if item is None:
        return display(site)
    return f"{display(site, item.title)}, {config.places.get(item.jurisdiction, item.jurisdiction)}"


def gate_name(config: Config) -> str:
    """Return the name of the gatekeeping organisation (its title, else its key in words)."""
    gate = config.gatekeeper
    if gate is None:
        return "the gatekeeper"
    org = config.organisations.get(gate.organisation)
    return display(gate.organisation, org.title if org else "")


def when(config: Config, t: float, timezone: str) -> str:
    """Return 'day N (date), HH:MM Place time' for a simulated hour."""
    local = to_datetime(config.scenario.start_date, t, timezone)
    day = int(t // HOURS_PER_DAY) + 1
    return f"day {day} ({local.date().isoformat()}), {local:%H:%M} {place(timezone)} time"


def next_opening(config: Config, t: float) -> float | None:
    """Return the next simulated hour the gatekeeper's shift opens after t, if it works shifts."""
    gate = config.gatekeeper
    if gate is None or gate.hours.around_the_clock:
        return None
    for start, end in working_windows(gate.hours, gate.timezone, config.scenario.start_date, config.scenario.days):
        if start <= t < end:
            return None
        if start > t:
            return start
    return None


def narrate(config: Config, events: list[TraceEvent]) -> list[str]:
    """Tell each event in plain language, in the local time of whoever acts."""
    lines = []
    gate = config.gatekeeper
    gate_tz = gate.timezone if gate else "UTC"
    gatekeeper = gate_name(config)
    for event in events:
        actor = config.actors.get(event.actor or "")
        actor_tz = actor.timezone if actor else "UTC"
        tag = f" (request #{event.number})" if event.number is not None else ""
        d = event.detail
        if event.kind == "submitted":
            lines.append(f"{when(config, event.t, actor_tz)}: {one_of(config, event.actor)} asks for "
                         f"{data_name(config, str(d['data_class']))} for {str(d['purpose']).replace('_', ' ')}{tag}.")
        elif event.kind == "queued":
            opening = next_opening(config, event.t)
            opens = "" if opening is None else (f"; {gatekeeper} opens at "
                                                f"{to_datetime(config.scenario.start_date, opening, gate_tz):%A %H:%M}"
                                                f" {place(gate_tz)} time")
            ahead = int(str(d["ahead"]))
            lines.append(f"{when(config, event.t, actor_tz)}: {ahead} request{'s are' if ahead != 1 else ' is'} "
                         f"ahead of it at {gatekeeper}{opens}{tag}.")
        elif event.kind == "review_started":
            wait = float(str(d["wait"]))
            lines.append(f"{when(config, event.t, gate_tz)}: a reviewer at {gatekeeper} takes it up after "
                         f"{_duration(wait)} of waiting{tag}.")
        elif event.kind == "decided":
            lines.append(f"{when(config, event.t, gate_tz if d['why'] in ('policy', 'error', 'expiry') else actor_tz)}"
                         f": {_decision(config, d)}{tag}.")
        elif event.kind == "accessed" and d.get("channel"):
            lines.append(f"{when(config, event.t, actor_tz)}: {group_name(config, event.actor)} read "
                         f"{float(str(d['records'])):,.0f} protected records at {site_name(config, str(d['site']))}: "
                         "residual cross-border access, "
                         f"{CHANNEL_WORDS[str(d['channel'])]}{tag}"
                         + ("" if d.get("detected_at") is None else
                            f"; an audit will find it on day {int(float(str(d['detected_at'])) // 24) + 1}") + ".")
        elif event.kind == "shielded":
            lines.append(f"{when(config, event.t, actor_tz)}: a read by {one_of(config, event.actor)} is harmless: "
                         f"{SHIELDS.get(str(d['how']), d['how'])}.")
        elif event.kind == "covert_attempt":
            how = ("through code planted in the system" if d.get("mode") == "code_borne"
                   else "by exporting data by hand")
            lines.append(f"{when(config, event.t, actor_tz)}: {one_of(config, event.actor)} tries a covert export "
                         f"{how}, going around every official channel.")
    return lines


def _decision(config: Config, detail: dict[str, object]) -> str:
    outcome, why = detail["outcome"], detail["why"]
    subject = data_name(config, str(detail["data_class"]))
    if outcome == "expired":
        return "the request expires unanswered"
    if why == "no_route":
        return f"the request is refused: there is no route to {subject} for it"
    if why == "no_gate":
        return f"the request is served at once from {site_name(config, str(detail['site']))}, no gate in the way"
    if why == "emergency":
        return "granted at once on the emergency path, to be reviewed afterwards"
    if why == "parent":
        return f"the parent company's manager {'approves' if outcome == 'granted' else 'refuses'} it"
    if outcome == "granted":
        return "granted: policy allows it" if why == "policy" else "granted, though policy forbids it (a mistake)"
    return "denied: policy forbids it" if why == "policy" else "denied, though policy allows it (a mistake)"


def _duration(hours: float) -> str:
    if math.isclose(hours, 0.0, abs_tol=1e-9):
        return "no time"
    if hours < 1:
        return f"{hours * 60:.0f} minutes"
    return f"{hours:.1f} hours"
