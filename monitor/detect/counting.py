"""Counting mentions per brand in minute buckets, by event time, with rolling-hour sums.

Each counted mention is kept as a small `Mention` under its unique key (brand, platform,
id) for as long as it can still matter (the window plus the allowed lateness). That keyed
set is the dedup set *and* the source of the counts: counting the same key twice is a no-op,
and after a restart the counts are rebuilt from the same records, so nothing is lost or
counted twice. Faust's windowed tables are not used: they lose state on restart and
rebalance (faust-streaming #385, #172, #412).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

WINDOW_MINUTES = 60
MAX_KEYWORDS = 8
TOP_NEGATIVES = 3
EXCERPT_CHARS = 80


def minute_of(moment: datetime) -> int:
    """Minutes since the epoch: the bucket a moment falls in."""
    return int(moment.timestamp() // 60)


def moment_of(minute: int) -> datetime:
    return datetime.fromtimestamp(minute * 60, tz=UTC)


@dataclass(frozen=True, slots=True)
class Mention:
    """What the counters need of one comment about one brand."""

    key: str
    brand: str
    minute: int
    negative: bool
    platform: str
    followers: int
    engagement: int
    crisis: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    excerpt: str = ""  # negatives only: what an alert quotes
    url: str = ""

    def to_json(self) -> list[object]:
        return [self.brand, self.minute, int(self.negative), self.platform, self.followers,
                self.engagement, list(self.crisis), list(self.keywords), self.excerpt,
                self.url]  # fmt: skip

    def quoted(self) -> dict[str, object]:
        return {"platform": self.platform, "text": self.excerpt, "url": self.url,
                "engagement": self.engagement}  # fmt: skip

    @classmethod
    def from_record(cls, record: Mapping[str, Any]) -> Mention:
        """From a scored record on the scored topic (see `Scored.records`)."""
        brand = str(record["brand"])
        negative = record["label"] == "negative"
        return cls(
            key=f"{brand}|{record['platform']}:{record['id']}",
            brand=brand,
            minute=minute_of(datetime.fromisoformat(record["created_at"])),
            negative=negative,
            platform=str(record["platform"]),
            followers=int(record.get("author_followers") or 0),
            engagement=int(record.get("likes") or 0) + int(record.get("shares") or 0),
            crisis=tuple(record.get("crisis_keywords") or ()),
            keywords=tuple(record.get("keywords") or ())[:MAX_KEYWORDS],
            excerpt=str(record.get("text") or "")[:EXCERPT_CHARS] if negative else "",
            url=str(record.get("url") or "") if negative else "",
        )

    @classmethod
    def from_json(cls, key: str, value: Sequence[object]) -> Mention:
        brand, minute, negative, platform, followers, engagement, crisis, keywords, excerpt, url = (
            value
        )
        return cls(
            key=key,
            brand=str(brand),
            minute=int(minute),  # type: ignore[call-overload]
            negative=bool(negative),
            platform=str(platform),
            followers=int(followers),  # type: ignore[call-overload]
            engagement=int(engagement),  # type: ignore[call-overload]
            crisis=tuple(str(word) for word in crisis),  # type: ignore[attr-defined]
            keywords=tuple(str(word) for word in keywords),  # type: ignore[attr-defined]
            excerpt=str(excerpt),
            url=str(url),
        )


@dataclass
class Bucket:
    mentions: int = 0
    negatives: int = 0
    crisis: Counter[str] = field(default_factory=Counter)
    keywords: Counter[str] = field(default_factory=Counter)
    negative_platforms: Counter[str] = field(default_factory=Counter)
    top_negative_followers: int = 0
    top_negatives: list[Mention] = field(default_factory=list)


@dataclass(frozen=True)
class WindowTotals:
    """A brand's rolling-hour totals, ending at `end_minute` (inclusive)."""

    brand: str
    end_minute: int
    mentions: int
    negatives: int
    crisis: Counter[str]
    keywords: Counter[str]
    negative_platforms: frozenset[str]
    top_negative_followers: int
    top_negatives: tuple[Mention, ...] = ()


class BrandWindow:
    """One brand's minute buckets, built from its counted mentions."""

    def __init__(self, brand: str) -> None:
        self.brand = brand
        self.buckets: dict[int, Bucket] = {}
        self.members: dict[int, list[Mention]] = {}
        self.latest_minute = 0

    def add(self, mention: Mention) -> None:
        bucket = self.buckets.setdefault(mention.minute, Bucket())
        self.members.setdefault(mention.minute, []).append(mention)
        bucket.mentions += 1
        self.latest_minute = max(self.latest_minute, mention.minute)
        if not mention.negative:
            return
        bucket.negatives += 1
        bucket.negative_platforms[mention.platform] += 1
        bucket.crisis.update(mention.crisis)
        bucket.keywords.update(mention.keywords)
        bucket.top_negative_followers = max(bucket.top_negative_followers, mention.followers)
        bucket.top_negatives = _most_engaged([*bucket.top_negatives, mention])

    def drop_before(self, minute: int) -> list[Mention]:
        """Remove whole minutes older than `minute`, returning their mentions."""
        dropped = []
        for old in [m for m in self.buckets if m < minute]:
            del self.buckets[old]
            dropped += self.members.pop(old)
        return dropped

    def totals(self, end_minute: int | None = None, width: int = WINDOW_MINUTES) -> WindowTotals:
        end = self.latest_minute if end_minute is None else end_minute
        inside = [self.buckets[m] for m in range(end - width + 1, end + 1) if m in self.buckets]
        crisis: Counter[str] = Counter()
        keywords: Counter[str] = Counter()
        platforms: Counter[str] = Counter()
        for bucket in inside:
            crisis.update(bucket.crisis)
            keywords.update(bucket.keywords)
            platforms.update(bucket.negative_platforms)
        return WindowTotals(
            brand=self.brand,
            end_minute=end,
            mentions=sum(bucket.mentions for bucket in inside),
            negatives=sum(bucket.negatives for bucket in inside),
            crisis=+crisis,
            keywords=+keywords,
            negative_platforms=frozenset(name for name, count in platforms.items() if count > 0),
            top_negative_followers=max((b.top_negative_followers for b in inside), default=0),
            top_negatives=tuple(_most_engaged([m for b in inside for m in b.top_negatives])),
        )


class Counts:
    """Every brand's window on one partition, fed with mentions exactly once each."""

    def __init__(self) -> None:
        self.windows: dict[str, BrandWindow] = {}
        self.counted: dict[str, Mention] = {}

    def add(self, mention: Mention) -> bool:
        """Count a mention; False when its key was already counted."""
        if mention.key in self.counted:
            return False
        self.counted[mention.key] = mention
        self.window(mention.brand).add(mention)
        return True

    def clear(self) -> None:
        """Forget everything, before counting again from the stored mentions."""
        self.windows.clear()
        self.counted.clear()

    def expire(self, brand: str, before_minute: int) -> list[Mention]:
        """Forget a brand's mentions older than `before_minute`, returning them so that
        their storage can go too."""
        expired = self.window(brand).drop_before(before_minute)
        for mention in expired:
            del self.counted[mention.key]
        return expired

    def window(self, brand: str) -> BrandWindow:
        if brand not in self.windows:
            self.windows[brand] = BrandWindow(brand)
        return self.windows[brand]

    def mentions_by_brand(self) -> Counter[str]:
        """Mentions counted per brand and still kept (the window plus lateness)."""
        return Counter(mention.brand for mention in self.counted.values())


def _most_engaged(mentions: list[Mention]) -> list[Mention]:
    return sorted(mentions, key=lambda mention: -mention.engagement)[:TOP_NEGATIVES]
