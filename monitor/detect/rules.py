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
from monitor.settings import RuleSettings

NEGATIVE_VOLUME = "negative_volume"
KEYWORD_CAUSE = "keyword:"


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
    reasons: tuple[str, ...]
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
    reasons = [f"{totals.negatives} negative mentions in the last hour (threshold {threshold})"]
    raise_by = 0
    if totals.negatives > threshold * rules.crisis_factor:
        raise_by += 2
        reasons.append(f"more than {rules.crisis_factor:g}× the threshold")
    elif totals.negatives > threshold * rules.warning_factor:
        raise_by += 1
        reasons.append(f"more than {rules.warning_factor:g}× the threshold")
    growth = None
    if baseline and baseline.days and baseline.negatives > 0:
        growth = totals.negatives / baseline.negatives
        if growth >= rules.growth_factor:
            raise_by += 1
            reasons.append(f"{growth:.1f}× this hour's 7-day mean ({baseline.negatives:.1f})")
    crisis_hits = sum(totals.crisis.values())
    if crisis_hits >= rules.crisis_keyword_hits:
        raise_by += 1
        top = "、".join(word for word, _ in totals.crisis.most_common(3))
        reasons.append(f"{crisis_hits} crisis-keyword hits ({top})")
    if totals.top_negative_followers >= rules.high_reach_followers:
        raise_by += 1
        followers = totals.top_negative_followers
        reasons.append(f"a negative post by an author with {followers:,} followers")
    if len(totals.negative_platforms) >= rules.platforms:
        raise_by += 1
        reasons.append(f"negatives on {len(totals.negative_platforms)} platforms")
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
        usual_text = f"usually {usual:.1f} in this hour" if usual else "no history for this hour"
        detections.append(
            Detection(
                brand=totals.brand,
                cause=KEYWORD_CAUSE + keyword,
                level=Level.WATCH,
                minute=totals.end_minute,
                reasons=(f"「{keyword}」 in {count} negative mentions this hour ({usual_text})",),
                facts={"keyword": keyword, "count": count, "baseline": usual},
            )
        )
    return detections
