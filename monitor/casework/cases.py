"""The response to an incident: who must do what by when, as a pure state machine.

open ─ack─► acknowledged ─statement─► statement ─resolve─► resolved
  └──────────────┴───────────────────────┴──false-alarm──► false_alarm

A `Case` is the people's side of a detected incident (`monitor/detect/incidents.py` is the
detector's side). It opens on the detector's "opened" event, takes a snapshot of the
playbook, and from then on `tick` says which pages, reminders and missed deadlines are
due at a given time. Each of those steps has a key, recorded in `done` when taken, so a
worker that restarts takes every step that fell due while it was down exactly once.
`refresh` says when an open case's Alertmanager alert is due to be re-posted.
Nothing here reads a clock: `now` is passed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from functools import cached_property
from typing import Any

from monitor.casework.playbook import DEADLINES, Person, Playbook
from monitor.detect.reasons import Reason
from monitor.documents import Document
from monitor.settings import is_drill

OPEN = "open"
ACKNOWLEDGED = "acknowledged"
STATEMENT = "statement"
RESOLVED = "resolved"
FALSE_ALARM = "false_alarm"
CLOSED = (RESOLVED, FALSE_ALARM)

# action → (states it may start from, the state it leads to, deadlines it meets)
ACTIONS: dict[str, tuple[tuple[str, ...], str, tuple[str, ...]]] = {
    "ack": ((OPEN,), ACKNOWLEDGED, ("response",)),
    "statement": ((OPEN, ACKNOWLEDGED), STATEMENT, ("response", "statement")),
    "resolve": ((ACKNOWLEDGED, STATEMENT), RESOLVED, DEADLINES),
    "false_alarm": ((OPEN, ACKNOWLEDGED, STATEMENT), FALSE_ALARM, ()),
}
REFRESH = "refresh"  # a notice kind: the open case re-posted to Alertmanager, nobody paged


class ActionError(ValueError):
    """An action the case's state does not allow; `status` is the HTTP answer."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True)
class Notice(Document):
    """Something to tell people. `key` is its idempotency key: incident + step."""

    key: str
    kind: str
    at: datetime
    case: dict[str, Any]
    people: tuple[dict[str, str], ...] = ()
    deadline: str | None = None
    tier: int = 0


@dataclass(frozen=True)
class Case(Document):
    id: str
    brand: str
    cause: str
    level: str
    state: str
    detected_at: datetime
    playbook: dict[str, Any]
    reasons: tuple[Reason | str, ...]  # worded by `monitor.detect.reasons`
    facts: dict[str, Any]
    drill: bool = False
    met: dict[str, str] = field(default_factory=dict)
    done: tuple[str, ...] = ()
    timeline: tuple[dict[str, Any], ...] = ()
    series: tuple[tuple[str, int], ...] = ()  # (when, negatives in the rolling hour)
    refreshed_at: datetime | None = None  # last re-post to Alertmanager (None: due now)

    @property
    def closed(self) -> bool:
        return self.state in CLOSED

    @cached_property
    def rules(self) -> Playbook:
        return Playbook.model_validate(self.playbook)

    def due_at(self, deadline: str) -> datetime:
        minutes = self.rules.levels[self.level].minutes(deadline)  # type: ignore[index]
        return self.detected_at + timedelta(minutes=minutes)

    def deadlines(self) -> list[dict[str, Any]]:
        """Each deadline with its due time and, once met, when."""
        return [
            {"deadline": name, "due": self.due_at(name).isoformat(), "met": self.met.get(name)}
            for name in DEADLINES
        ]

    def on_duty(self, at: datetime) -> Person | None:
        return self.rules.rotation.on_duty(at)

    def summary(self, now: datetime) -> dict[str, Any]:
        """What a message needs to say about the case, frozen at `now`."""
        on_duty = self.on_duty(now)
        return {
            "id": self.id,
            "brand": self.brand,
            "cause": self.cause,
            "level": self.level,
            "state": self.state,
            "drill": self.drill,
            "detected_at": self.detected_at.isoformat(),
            "reasons": list(self.reasons),
            "facts": self.facts,
            "deadlines": self.deadlines(),
            "on_duty": on_duty.model_dump() if on_duty else None,
            "timezone": self.rules.rotation.timezone,
        }


def open_case(event: dict[str, Any], playbook: Playbook, now: datetime) -> tuple[Case, Notice]:
    """A case for the detector's "opened" event, paging the first tier."""
    incident = event["incident"]
    case = Case(
        id=incident["id"],
        brand=incident["brand"],
        cause=incident["cause"],
        level=incident["level_name"],
        state=OPEN,
        detected_at=datetime.fromisoformat(event["at"]),
        playbook=playbook.model_dump(mode="json", by_alias=True),
        reasons=tuple(incident["reasons"]),
        facts=incident["facts"],
        drill=is_drill(incident["brand"]),
        series=_point(event),
        refreshed_at=now,  # the opening page posts the alert
    )
    case = _record(case, "opened", now, "guanchao", "")  # the reasons are the case's
    people = _people(case, 0, now)
    return case, _notice(case, "opened", now, "opened", people=people)


def on_detection(case: Case, event: dict[str, Any], now: datetime) -> tuple[Case, list[Notice]]:
    """The detector saw the incident again: new counts, maybe a higher level.

    Only a level change re-notifies; growing counts are recorded silently.
    """
    incident = event["incident"]
    grown = replace(
        case,
        reasons=tuple(incident["reasons"]),
        facts=incident["facts"],
        series=case.series + _point(event),
    )
    kind = event["event"]
    if kind == "level_changed" and incident["level_name"] != case.level:
        grown = replace(grown, level=incident["level_name"])
        grown = _record(grown, "level_changed", now, "guanchao", f"{case.level} → {grown.level}")
        key = f"level:{grown.level}"
        return grown, [_notice(grown, key, now, "level_changed", people=_people(grown, 0, now))]
    if kind == "cleared":
        return _record(grown, "detection_cleared", now, "guanchao", "negatives back under"), []
    return grown, []


def act(case: Case, action: str, who: str, note: str, now: datetime) -> tuple[Case, Notice]:
    """A person's action on the case: acknowledge, statement, resolve, false alarm."""
    if action not in ACTIONS:
        raise ActionError(400, f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
    if not who.strip():
        raise ActionError(400, "say who is acting (`who`)")
    allowed, target, meets = ACTIONS[action]
    if case.state not in allowed:
        raise ActionError(409, f"incident {case.id} is {case.state}; cannot {action}")
    met = dict(case.met)
    for deadline in meets:
        met.setdefault(deadline, now.isoformat())
    changed = replace(case, state=target, met=met)
    changed = _record(changed, target, now, who.strip(), note)
    return changed, _notice(changed, target, now, target)


def tick(case: Case, now: datetime) -> tuple[Case, list[Notice]]:
    """Take every step due by `now` that was not taken yet: pages while nobody has
    answered, reminders before open deadlines, and the alert when one is missed."""
    notices = []
    done = list(case.done)
    for at, key, kind, deadline, tier in _steps(case):
        if at > now or key in done:
            continue
        done.append(key)
        if kind == "reminder" and deadline and now >= case.due_at(deadline):
            continue  # the deadline passed while we were down: its miss says it all
        people = _people(case, tier, now)
        notices.append(_notice(case, key, now, kind, people, deadline, tier))
    if not notices and len(done) == len(case.done):
        return case, []
    changed = replace(case, done=tuple(done))
    for notice in notices:
        note = notice.deadline or ", ".join(person["name"] for person in notice.people)
        changed = _record(changed, notice.kind, now, "guanchao", note)
    return changed, notices


def refresh(case: Case, now: datetime, every: timedelta) -> tuple[Case, Notice | None]:
    """Re-post an open case's alert every `every`, the way Prometheus re-sends a firing
    alert: Alertmanager resolves one whose `endsAt` passes. Not a step: no timeline entry,
    no event, nobody paged (the notice goes to Alertmanager sinks only). One missed while
    the worker was down is made up once, not once per interval."""
    if case.closed or (case.refreshed_at is not None and now < case.refreshed_at + every):
        return case, None
    changed = replace(case, refreshed_at=now)
    return changed, _notice(changed, refresh_step(now), now, REFRESH)


def refresh_step(at: datetime) -> str:
    """The step of the refresh made at `at` (its notice's key is the case id, "|", this)."""
    return f"{REFRESH}:{at.isoformat()}"


def next_step_at(case: Case) -> datetime | None:
    """When `tick` will next have something to do (for the timer and the API)."""
    pending = [at for at, key, *_ in _steps(case) if key not in case.done]
    return min(pending, default=None)


Step = tuple[datetime, str, str, str | None, int]  # when, key, kind, deadline, tier


def _steps(case: Case) -> list[Step]:
    """Every step the playbook plans for the case."""
    if case.closed:
        return []
    rules = case.rules
    steps: list[Step] = []
    if case.state == OPEN:
        for tier in range(1, len(rules.chain)):
            at = case.detected_at + timedelta(minutes=rules.ack_minutes * tier)
            steps.append((at, f"page:{tier}", "page", None, tier))
    for index, deadline in enumerate(DEADLINES):
        if deadline in case.met:
            continue
        due = case.due_at(deadline)
        allowed = due - case.detected_at
        stamp = due.isoformat()
        for fraction in rules.reminders.at_fraction:
            at = case.detected_at + allowed * fraction
            steps.append((at, f"remind:{deadline}:{stamp}:{fraction:g}", "reminder", deadline, 0))
        for minutes in rules.reminders.minutes_before:
            at = due - timedelta(minutes=minutes)
            if at > case.detected_at:
                key = f"remind:{deadline}:{stamp}:-{minutes}m"
                steps.append((at, key, "reminder", deadline, 0))
        steps.append((due, f"missed:{deadline}:{stamp}", "deadline_missed", deadline, index + 1))
    return sorted(steps, key=lambda step: step[0])


def _point(event: dict[str, Any]) -> tuple[tuple[str, int], ...]:
    negatives = event["incident"]["facts"].get("negatives")
    return ((event["at"], int(negatives)),) if negatives is not None else ()


def _people(case: Case, tier: int, now: datetime) -> tuple[dict[str, str], ...]:
    return tuple(person.model_dump() for person in case.rules.tier_people(tier, now))


def _notice(
    case: Case,
    step: str,
    now: datetime,
    kind: str,
    people: tuple[dict[str, str], ...] = (),
    deadline: str | None = None,
    tier: int = 0,
) -> Notice:
    return Notice(
        key=f"{case.id}|{step}",
        kind=kind,
        at=now,
        case=case.summary(now),
        people=people,
        deadline=deadline,
        tier=tier,
    )


def _record(case: Case, kind: str, now: datetime, who: str, note: str) -> Case:
    entry = {
        "at": now.isoformat(),
        "kind": kind,
        "who": who,
        "note": note,
        "level": case.level,
        "state": case.state,
        "negatives": case.facts.get("negatives"),
        "threshold": case.facts.get("threshold"),
    }
    return replace(case, timeline=(*case.timeline, entry))
