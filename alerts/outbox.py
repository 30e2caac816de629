"""The respond stage: cases from the detector's events, people's actions and the clock,
and the deliveries each notice needs, as writes for the Faust adapter to apply.

Like `CountStage`, it reads the tables through plain mappings and returns what to write,
so it is tested without a broker. Deliveries are written before the case that records
the step as done (see `RespondWrites`), so a crash in between repeats a step's notice
(dropped as a duplicate by its key) instead of losing it.

Open cases are re-posted to the Alertmanager sinks every `alerts.alertmanager_refresh_minutes`
(`monitor.casework.cases.refresh`); only the newest re-post of a case is kept in the outbox, and
closing the case drops it, so that an outage never queues a backlog of them and a retried
one cannot reopen a resolved alert.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.delivery import MUTED, SENT, Delivery
from alerts.routing import Silence, route
from monitor.casework.cases import (
    CLOSED,
    REFRESH,
    ActionError,
    Case,
    Notice,
    act,
    on_detection,
    open_case,
    refresh,
    refresh_step,
    tick,
)
from monitor.casework.playbook import Playbook
from monitor.detect.records import RecordError, parse_json
from monitor.settings import LEVELS, Settings

KEEP_DELIVERED = timedelta(days=2)
CASE_EVENT = "case"  # the playbook's events on the incidents topic; the detector's differ
MAX_REASONS = 20
DETECTOR_EVENTS = ("opened", "updated", "level_changed", "cleared")


@dataclass
class RespondWrites:
    """Apply `deliveries` first, then `cases`; publish `events` on the incidents topic."""

    deliveries: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    cases: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    notices: list[Notice] = field(default_factory=list)
    deadlines: list[tuple[str, str]] = field(default_factory=list)  # (deadline, met|late|missed)


class RespondStage:
    def __init__(
        self,
        settings: Settings,
        playbook: Playbook,
        cases: Mapping[str, dict[str, Any]],
        deliveries: Mapping[str, dict[str, Any]],
        silences: Mapping[str, dict[str, Any]],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.playbook = playbook
        self.cases = cases
        self.deliveries = deliveries
        self.silences = silences
        self.clock = clock
        alerts = settings.alerts
        self.alertmanagers = tuple(s.name for s in alerts.sinks if s.kind == "alertmanager")
        self.refresh_every = timedelta(minutes=alerts.alertmanager_refresh_minutes)

    def detected(self, event: dict[str, Any]) -> RespondWrites:
        """An event from the detector: open a case, or update the one it belongs to."""
        writes = RespondWrites()
        now = self.clock()
        stored = self.cases.get(event["incident"]["id"])
        if stored is None:
            if event["event"] != "opened":
                return writes  # the case was never opened here (it predates the playbook)
            case, notice = open_case(event, self.playbook, now)
            self._changed(case, [notice], writes, now)
        else:
            case, notices = on_detection(Case.from_dict(stored), event, now)
            self._changed(case, notices, writes, now)
        return writes

    def case(self, case_id: str) -> Case:
        """The case, or a 404 ActionError: another worker may own it."""
        stored = self.cases.get(case_id)
        if stored is None:
            raise ActionError(404, f"no incident {case_id} on this worker")
        return Case.from_dict(stored)

    def act(self, case_id: str, action: str, who: str, note: str) -> RespondWrites:
        before = self.case(case_id)
        now = self.clock()
        case, notice = act(before, action, who, note, now)
        writes = RespondWrites()
        for deadline in case.met.keys() - before.met.keys():
            writes.deadlines.append((deadline, "met" if now <= case.due_at(deadline) else "late"))
        self._changed(case, [notice], writes, now)
        if case.closed:
            self._forget_refresh(case, writes)
        return writes

    def tick(self, owned: Callable[[str], bool]) -> RespondWrites:
        """Every step due now, for the cases of the brands this worker owns, and the
        Alertmanager re-posts due; and the delivered notices old enough to forget."""
        writes = RespondWrites()
        now = self.clock()
        for stored in list(self.cases.values()):
            if stored["state"] in CLOSED or not owned(stored["brand"]):
                continue
            before = Case.from_dict(stored)
            case, notices = tick(before, now)
            if self.alertmanagers:
                case, again = refresh(case, now, self.refresh_every)
                if again:
                    self._forget_refresh(before, writes)
                    notices = [*notices, again]
            if notices:
                self._changed(case, notices, writes, now)
        for key, stored in list(self.deliveries.items()):
            done_at = stored.get("done_at")
            finished = stored["state"] in (SENT, MUTED) and done_at is not None
            if finished and datetime.fromisoformat(str(done_at)) < now - KEEP_DELIVERED:
                writes.deliveries[key] = None
        return writes

    def brand_cases(self, brand: str) -> list[Case]:
        return [Case.from_dict(c) for c in self.cases.values() if c["brand"] == brand]

    def active_silences(self) -> list[Silence]:
        return [Silence.from_dict(document) for document in self.silences.values()]

    def _changed(
        self, case: Case, notices: Iterable[Notice], writes: RespondWrites, now: datetime
    ) -> None:
        writes.cases[case.id] = case.as_dict()
        others = [c for c in self.brand_cases(case.brand) if c.id != case.id]
        silences = self.active_silences()
        for notice in notices:
            writes.notices.append(notice)
            if notice.kind == REFRESH:
                self._refresh(notice, others, silences, writes, now)
                continue
            if notice.kind == "deadline_missed" and notice.deadline:
                writes.deadlines.append((notice.deadline, "missed"))
            writes.events.append(
                {
                    "event": CASE_EVENT,
                    "step": notice.kind,
                    "at": now.isoformat(),
                    "key": notice.key,
                    "case": notice.case,
                }
            )
            decision = route(notice, self.settings.alerts.sinks, others, silences, now)
            for sink in decision.sinks:
                delivery = Delivery(notice, sink, now)
                if delivery.key not in self.deliveries:
                    writes.deliveries[delivery.key] = delivery.as_dict()
            if decision.muted_by:
                muted = Delivery(notice, "-", now, MUTED, done_at=now, muted_by=decision.muted_by)
                writes.deliveries[muted.key] = muted.as_dict()

    def _refresh(
        self,
        notice: Notice,
        others: list[Case],
        silences: list[Silence],
        writes: RespondWrites,
        now: datetime,
    ) -> None:
        """Routed like any notice (what is muted stays unposted), to Alertmanager only."""
        decision = route(notice, self.settings.alerts.sinks, others, silences, now)
        for sink in decision.sinks:
            if sink in self.alertmanagers:
                delivery = Delivery(notice, sink, now)
                writes.deliveries[delivery.key] = delivery.as_dict()

    def _forget_refresh(self, case: Case, writes: RespondWrites) -> None:
        """The case's latest re-post, sent or still pending: superseded, or the case closed."""
        if case.refreshed_at is None:
            return
        for sink in self.alertmanagers:
            key = f"{case.id}|{refresh_step(case.refreshed_at)}|{sink}"  # as `Delivery.key`
            if key in self.deliveries:
                writes.deliveries[key] = None


MAX_EVENT_BYTES = 1_000_000  # the broker's own limit: the detector writes far less


def parse_detection(raw: bytes | None) -> dict[str, Any] | None:
    """A record of the incidents topic as the detector's event, checked for everything the
    playbook reads; None for the playbook's own events (`CASE_EVENT`). Anything else is a
    RecordError with its reason, for the dead-letter topic."""
    document = parse_json(raw, MAX_EVENT_BYTES, "an incident event")
    kind = _field(document, "event", str)
    if kind == CASE_EVENT:
        return None
    if kind not in DETECTOR_EVENTS:
        raise RecordError("not_an_event", f"unknown event {kind[:40]!r}")
    _time(_field(document, "at", str))
    incident = _field(document, "incident", dict)
    for name in ("id", "brand", "cause"):
        if not _field(incident, name, str, "incident."):
            raise RecordError("bad_field", f"incident.{name} is empty")
    if _field(incident, "level_name", str, "incident.") not in LEVELS:
        raise RecordError("bad_field", f"incident.level_name must be one of {', '.join(LEVELS)}")
    reasons = _field(incident, "reasons", list, "incident.")
    if len(reasons) > MAX_REASONS or not all(_reason(reason) for reason in reasons):
        raise RecordError("bad_field", "incident.reasons must be texts or {kind: …} objects")
    facts = _field(incident, "facts", dict, "incident.")
    for name, kinds in FACT_TYPES.items():
        value = facts.get(name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, kinds)):
            raise RecordError("bad_field", f"incident.facts.{name} has the wrong type")
    if not all(_quoted(comment) for comment in facts.get("top_negatives") or ()):
        raise RecordError("bad_field", "incident.facts.top_negatives must be quoted comments")
    return document


# The facts the playbook and the alert templates read, and the types they expect.
FACT_TYPES: dict[str, type | tuple[type, ...]] = {
    "negatives": int,
    "threshold": int,
    "growth": (int, float),
    "keyword": str,
    "top_keywords": (dict, list),
    "top_negatives": list,
}


def _field(document: dict[str, Any], name: str, kind: type, within: str = "") -> Any:
    if name not in document:
        raise RecordError("missing_field", f"{within}{name} is missing")
    value = document[name]
    if not isinstance(value, kind):
        raise RecordError("bad_field", f"{within}{name} must be a {kind.__name__}")
    return value


def _time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise RecordError("bad_time", f"at {text[:40]!r} is not an ISO 8601 time") from None
    if moment.tzinfo is None:
        raise RecordError("bad_time", "at has no time zone")
    return moment


def _reason(reason: object) -> bool:
    """Text (stored before reasons were data), or a kind and its numbers: the wording
    shows what it cannot word by its kind, so only the shape is checked."""
    if isinstance(reason, str):
        return True
    return isinstance(reason, dict) and isinstance(reason.get("kind"), str) and len(reason) <= 8


def _quoted(comment: Any) -> bool:
    """As `Mention.quoted` writes it: the templates read all four."""
    if not isinstance(comment, dict):
        return False
    texts = all(isinstance(comment.get(name), str) for name in ("platform", "text"))
    url = "url" in comment and isinstance(comment["url"], str | None)
    return texts and url and isinstance(comment.get("engagement"), int | float)
