"""Which sinks a notice goes to, borrowing Alertmanager's ideas: routes by level,
explicit silences, inhibition (a crisis mutes the same brand's watch-level notices) and
grouping (a keyword surge is part of the brand's storm already paged, so it is shown in
that incident's alerts as a rising keyword instead of paging on its own).

Pure: the notice, the brand's other cases, the silences and the time in; a decision out.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from monitor.casework.cases import Case, Notice
from monitor.detect.rules import KEYWORD_CAUSE
from monitor.documents import Document
from monitor.settings import SinkSettings

ANY = "*"


@dataclass(frozen=True)
class Silence(Document):
    id: str
    brand: str
    level: str
    starts_at: datetime
    ends_at: datetime
    created_by: str
    comment: str

    def matches(self, case: dict[str, Any], now: datetime) -> bool:
        return (
            self.starts_at <= now < self.ends_at
            and self.brand in (ANY, case["brand"])
            and self.level in (ANY, case["level"])
        )


@dataclass(frozen=True)
class Route:
    sinks: tuple[str, ...]
    muted_by: str = ""  # why nothing is sent: a silence id, or the inhibiting case


def route(
    notice: Notice,
    sinks: Sequence[SinkSettings],
    brand_cases: Iterable[Case],
    silences: Iterable[Silence],
    now: datetime,
) -> Route:
    case = notice.case
    for silence in silences:
        if silence.matches(case, now):
            return Route((), f"silence {silence.id}")
    detected = datetime.fromisoformat(case["detected_at"])
    for other in brand_cases:
        if other.id == case["id"] or other.closed:
            continue
        if case["level"] == "watch" and other.level == "crisis":
            return Route((), f"inhibited by crisis {other.id}")
        earlier = (other.detected_at, other.id) < (detected, case["id"])
        if case["cause"].startswith(KEYWORD_CAUSE) and earlier:
            return Route((), f"grouped into {other.id}")
    return Route(tuple(sink.name for sink in sinks if case["level"] in sink.levels))
