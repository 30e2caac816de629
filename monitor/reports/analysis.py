"""Offline analysis of an exported comment file: what the stream would have seen.

Per brand and local hour: mentions and negatives; the stretches in which the stream's
rolling hour was over the brand's threshold (the same counting, waves counted once, as the
stream's); the words that dominate its negative comments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.detect.counting import moment_of
from monitor.detect.enrich import Enricher, Scored
from monitor.detect.records import RecordError, parse_comment
from monitor.detect.stages import Replay
from monitor.detect.waves import Wave
from monitor.settings import Settings

TOP_KEYWORDS = 10
HOUR = timedelta(hours=1)


def hour_bucket(moment: datetime, zone: ZoneInfo) -> datetime:
    """The start of the local hour `moment` falls in (aware, in `zone`): the report's rows
    are the hours of the analyst's clock."""
    return moment.astimezone(zone).replace(minute=0, second=0, microsecond=0)


@dataclass
class HourCounts:
    mentions: int = 0
    negatives: int = 0


@dataclass(frozen=True, slots=True)
class Crossing:
    """A stretch over the threshold: from the minute the count went over to the last minute
    it still was, with the highest count (local times)."""

    start: datetime
    end: datetime
    peak: int


@dataclass
class BrandReport:
    brand: str
    threshold: int
    hours: dict[datetime, HourCounts] = field(default_factory=dict)
    negative_times: list[datetime] = field(default_factory=list)
    keywords: Counter[str] = field(default_factory=Counter)
    crisis_keywords: Counter[str] = field(default_factory=Counter)
    crossings: list[Crossing] = field(default_factory=list)

    @property
    def mentions(self) -> int:
        return sum(counts.mentions for counts in self.hours.values())

    @property
    def negatives(self) -> int:
        return len(self.negative_times)


@dataclass
class Analysis:
    brands: dict[str, BrandReport]
    records: int
    skipped: Counter[str]
    incidents: list[dict[str, Any]] = field(default_factory=list)  # as the stream opens them
    waves: dict[str, list[Wave]] = field(default_factory=dict)  # per brand, as they grew


def analyze(
    rows: Iterable[Mapping[str, Any]], enricher: Enricher, settings: Settings, now: datetime
) -> Analysis:
    """Rows that break the record contract are counted by reason, not fatal."""
    reports: dict[str, BrandReport] = {}
    skipped: Counter[str] = Counter()
    records = 0
    replay = Replay(settings, lambda: now)
    for fields in rows:
        try:
            comment = parse_comment(fields, settings.limits, settings.zone, now)
            scored = enricher.enrich(comment)
        except RecordError as error:
            skipped[error.reason] += 1
            continue
        records += 1
        replay.feed(record for _, record in enricher.records(scored))
        for brand in scored.brands:
            if brand not in reports:
                reports[brand] = BrandReport(brand, settings.threshold_for(brand))
            _count(reports[brand], scored, settings, enricher)
    zone = settings.zone
    for brand, report in reports.items():
        report.crossings = [
            Crossing(moment_of(start).astimezone(zone), moment_of(end).astimezone(zone), peak)
            for start, end, peak in replay.above_threshold(brand)
        ]
    waves: dict[str, list[Wave]] = {}
    for (brand, _), wave in sorted(replay.waves.items(), key=lambda item: item[1].first_minute):
        waves.setdefault(brand, []).append(wave)
    return Analysis(dict(sorted(reports.items())), records, skipped, replay.opened(), waves)


def _count(report: BrandReport, scored: Scored, settings: Settings, enricher: Enricher) -> None:
    hour = hour_bucket(scored.comment.created_at, settings.zone)
    counts = report.hours.setdefault(hour, HourCounts())
    counts.mentions += 1
    if not scored.negative:
        return
    counts.negatives += 1
    report.negative_times.append(scored.comment.created_at.astimezone(settings.zone))
    report.crisis_keywords.update(scored.crisis_keywords)
    report.keywords.update(scored.keywords(enricher.not_keywords))
