"""Deciding, from a brand's rolling-hour totals, whether something needs a person.

Pure: totals and the brand's baseline in, detections out. The threshold from the operating
plan ("more than 10 negative mentions in an hour") opens a watch; volume, growth against
the brand's own baseline, crisis keywords, a high-reach author and spread across platforms
each raise the level by one.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import IntEnum
from typing import Any

from monitor.detect.counting import WindowTotals
from monitor.detect.reasons import Reason
from monitor.settings import RuleSettings

NEGATIVE_VOLUME = "negative_volume"
KEYWORD_CAUSE = "keyword:"
MAX_WAVES = 3  # the largest, in an alert: more would crowd out the comments


class Level(IntEnum):
    WATCH = 1
    WARNING = 2
    CRISIS = 3

    @property
    def label(self) -> str:
        return self.name.lower()


@dataclass(frozen=True)
class Baseline:
    """The brand's mean for this hour of day over the past days that have data."""

    negatives: float
    keywords: Mapping[str, float] = field(default_factory=dict)
    days: int = 0


@dataclass(frozen=True)
class Detection:
    brand: str
    cause: str
    level: Level
    minute: int
    reasons: tuple[Reason, ...]  # worded by `monitor.detect.reasons`
    facts: Mapping[str, Any]


def evaluate(
    totals: WindowTotals, threshold: int, baseline: Baseline | None, rules: RuleSettings
) -> list[Detection]:
    detections = []
    if totals.negatives > threshold:
        detections.append(_negative_volume(totals, threshold, baseline, rules))
    detections += _keyword_surges(totals, baseline, rules)
    return detections


def _negative_volume(
    totals: WindowTotals, threshold: int, baseline: Baseline | None, rules: RuleSettings
) -> Detection:
    reasons: list[Reason] = [
        {"kind": "volume", "negatives": totals.negatives, "threshold": threshold}
    ]
    negative_waves = [wave for wave in totals.waves if wave.negatives]
    reasons += [wave.reason() for wave in negative_waves[:MAX_WAVES]]
    raise_by = 0
    if totals.negatives > threshold * rules.crisis_factor:
        raise_by += 2
        reasons.append({"kind": "over_threshold", "factor": rules.crisis_factor})
    elif totals.negatives > threshold * rules.warning_factor:
        raise_by += 1
        reasons.append({"kind": "over_threshold", "factor": rules.warning_factor})
    growth = None
    if baseline and baseline.days and baseline.negatives > 0:
        growth = totals.negatives / baseline.negatives
        if growth >= rules.growth_factor:
            raise_by += 1
            reasons.append({"kind": "growth", "growth": growth, "baseline": baseline.negatives})
    crisis_hits = sum(totals.crisis.values())
    if crisis_hits >= rules.crisis_keyword_hits:
        raise_by += 1
        top = [word for word, _ in totals.crisis.most_common(3)]
        reasons.append({"kind": "crisis_keywords", "hits": crisis_hits, "words": top})
    if totals.top_negative_followers >= rules.high_reach_followers:
        raise_by += 1
        reasons.append({"kind": "high_reach", "followers": totals.top_negative_followers})
    if len(totals.negative_platforms) >= rules.platforms:
        raise_by += 1
        reasons.append({"kind": "platforms", "count": len(totals.negative_platforms)})
    return Detection(
        brand=totals.brand,
        cause=NEGATIVE_VOLUME,
        level=Level(min(Level.WATCH + raise_by, Level.CRISIS)),
        minute=totals.end_minute,
        reasons=tuple(reasons),
        facts={
            "negatives": totals.negatives,
            "mentions": totals.mentions,
            "threshold": threshold,
            "baseline_negatives": baseline.negatives if baseline else None,
            "growth": growth,
            "crisis_keywords": dict(totals.crisis.most_common(5)),
            "top_keywords": dict(totals.keywords.most_common(5)),
            "platforms": sorted(totals.negative_platforms),
            "top_negative_followers": totals.top_negative_followers,
            "top_negatives": [mention.quoted() for mention in totals.top_negatives],
            "posted_negatives": totals.posted_negatives,
            "waves": [wave.as_fact() for wave in negative_waves[:MAX_WAVES]],
        },
    )


def _keyword_surges(
    totals: WindowTotals, baseline: Baseline | None, rules: RuleSettings
) -> list[Detection]:
    """The 「物流慢」 case: one complaint topic rising well above its usual level."""
    detections: list[Detection] = []
    for keyword, count in totals.keywords.most_common():
        if count < rules.keyword_min_volume or len(detections) >= rules.max_keyword_incidents:
            break
        usual = baseline.keywords.get(keyword, 0.0) if baseline else 0.0
        if count < usual * (1 + rules.keyword_surge):
            continue
        detections.append(
            Detection(
                brand=totals.brand,
                cause=KEYWORD_CAUSE + keyword,
                level=Level.WATCH,
                minute=totals.end_minute,
                reasons=(
                    {"kind": "keyword_surge", "keyword": keyword, "count": count, "usual": usual},
                ),
                facts={"keyword": keyword, "count": count, "baseline": usual},
            )
        )
    return detections
