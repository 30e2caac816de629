"""The respond stage: cases from the detector's events, people's actions and the clock,
and the deliveries each notice needs, as writes for the Faust adapter to apply.

Like `CountStage`, it reads the tables through plain mappings and returns what to write,
so it is tested without a broker. Deliveries are written before the case that records
the step as done (see `RespondWrites`), so a crash in between repeats a step's notice
(dropped as a duplicate by its key) instead of losing it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from alerts.delivery import MUTED, SENT, Delivery
from alerts.playbook import Playbook
from alerts.routing import Silence, route
from monitor.response import ActionError, Case, Notice, act, on_detection, open_case, tick
from monitor.settings import Settings

KEEP_DELIVERED = timedelta(days=2)
CASE_EVENT = "case"  # the playbook's events on the incidents topic; the detector's differ


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
        return writes

    def tick(self, owned: Callable[[str], bool]) -> RespondWrites:
        """Every step due now, for the cases of the brands this worker owns; and the
        delivered notices old enough to forget."""
        writes = RespondWrites()
        now = self.clock()
        for stored in list(self.cases.values()):
            if stored["state"] in ("resolved", "false_alarm") or not owned(stored["brand"]):
                continue
            case, notices = tick(Case.from_dict(stored), now)
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
