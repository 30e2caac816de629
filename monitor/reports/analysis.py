"""Offline analysis of an exported comment file: what the stream would have seen.

Per brand and local hour: mentions and negatives; the rolling hours in which negatives
crossed the brand's threshold; the words that dominate its negative comments.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from monitor.detect.enrich import Enricher, Scored
from monitor.detect.records import RecordError, parse_comment
from monitor.detect.stages import Replay
from monitor.detect.windows import Crossing, hour_bucket, threshold_crossings
from monitor.settings import Settings

TOP_KEYWORDS = 10


@dataclass
class HourCounts:
    mentions: int = 0
    negatives: int = 0


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
    for report in reports.values():
        report.crossings = threshold_crossings(report.negative_times, report.threshold)
    return Analysis(dict(sorted(reports.items())), records, skipped, replay.opened())


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
