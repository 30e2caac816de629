"""One incident per brand and cause that grows, instead of a page per comment.

Pure: the current incident (or none) and the latest detection (or none) in; the new state
and the events to publish out. A storm of comments is one incident whose counts go up and
whose level only rises; it clears itself after a quiet period so that next week's storm is
a new incident.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from monitor.detect.counting import moment_of
from monitor.detect.reasons import Reason, joined
from monitor.detect.rules import Detection, Level

OPENED = "opened"
UPDATED = "updated"
LEVEL_CHANGED = "level_changed"
CLEARED = "cleared"


@dataclass(frozen=True)
class Incident:
    id: str
    brand: str
    cause: str
    level: int
    opened_minute: int
    last_firing_minute: int
    last_update_minute: int
    reasons: tuple[Reason | str, ...]
    facts: dict[str, Any]

    def as_dict(self) -> dict[str, Any]:
        document = {name: getattr(self, name) for name in self.__dataclass_fields__}
        document["reasons"] = list(self.reasons)
        document["facts"] = dict(self.facts)
        document["level_name"] = Level(self.level).label
        document["opened_at"] = moment_of(self.opened_minute).isoformat()
        return document

    @classmethod
    def from_dict(cls, document: dict[str, Any]) -> Incident:
        fields = {name: document[name] for name in cls.__dataclass_fields__}
        fields["reasons"] = tuple(fields["reasons"])
        return cls(**fields)


def step(
    current: Incident | None,
    detection: Detection | None,
    minute: int,
    now: datetime,
    update_every: int = 5,
    quiet_minutes: int = 60,
) -> tuple[Incident | None, list[dict[str, Any]]]:
    """Advance one brand+cause by one evaluation at event-time `minute`.

    Updates are published at most every `update_every` minutes of event time; level
    changes at once. `now` stamps the events (processing time, for latency and audit).
    """
    if current is None:
        if detection is None:
            return None, []
        opened = Incident(
            id=f"{detection.brand}:{detection.cause}:{detection.minute}",
            brand=detection.brand,
            cause=detection.cause,
            level=int(detection.level),
            opened_minute=detection.minute,
            last_firing_minute=detection.minute,
            last_update_minute=detection.minute,
            reasons=detection.reasons,
            facts=dict(detection.facts),
        )
        return opened, [_event(OPENED, opened, now)]
    if detection is None:
        if minute - current.last_firing_minute >= quiet_minutes:
            return None, [_event(CLEARED, current, now)]
        return current, []
    grown = replace(
        current,
        level=max(current.level, int(detection.level)),
        last_firing_minute=detection.minute,
        reasons=detection.reasons,
        facts=dict(detection.facts),
    )
    if grown.level > current.level:
        grown = replace(grown, last_update_minute=detection.minute)
        return grown, [_event(LEVEL_CHANGED, grown, now, previous_level=current.level)]
    if detection.minute - current.last_update_minute >= update_every:
        grown = replace(grown, last_update_minute=detection.minute)
        return grown, [_event(UPDATED, grown, now)]
    return grown, []


def _event(kind: str, incident: Incident, now: datetime, **extra: Any) -> dict[str, Any]:
    return {"event": kind, "at": now.isoformat(), "incident": incident.as_dict(), **extra}


def describe(event: dict[str, Any]) -> str:
    """One line for a console: what happened to which incident, and why."""
    incident = event["incident"]
    level = incident["level_name"].upper()
    reasons = joined(incident["reasons"], "en")
    what = f"{event['event'].upper():13} {level:8}"
    return f"{what} {incident['brand']} · {incident['cause']} · {reasons}"
