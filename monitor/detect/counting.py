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
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from monitor.detect.waves import NearDuplicates, Wave, sketch_text, wave_of
from monitor.settings import WaveSettings

WINDOW_MINUTES = 60
MAX_KEYWORDS = 8
TOP_NEGATIVES = 3
EXCERPT_CHARS = 80
AUTHOR_CHARS = 64


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
    author: str = ""
    sketch: str = ""  # the text as waves compare it; only where it is long enough
    group: str = ""  # the first mention of its near-identical group (see `waves`)

    def to_json(self) -> list[object]:
        return [self.brand, self.minute, int(self.negative), self.platform, self.followers,
                self.engagement, list(self.crisis), list(self.keywords), self.excerpt,
                self.url, self.author, self.sketch, self.group]  # fmt: skip

    def quoted(self) -> dict[str, object]:
        return {"platform": self.platform, "text": self.excerpt, "url": self.url,
                "engagement": self.engagement}  # fmt: skip

    @classmethod
    def from_record(cls, record: Mapping[str, Any], sketched: bool = True) -> Mention:
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
            author=str(record.get("author") or "")[:AUTHOR_CHARS],
            sketch=sketch_text(str(record.get("text") or "")) if sketched else "",
        )

    @classmethod
    def from_json(cls, key: str, value: Sequence[object]) -> Mention:
        """Also from the ten fields stored before waves were looked for."""
        brand, minute, negative, platform, followers, engagement, crisis, keywords, excerpt, url = (
            value[:10]
        )
        author, sketch, group = (*value[10:13], "", "", "")[:3]
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
            author=str(author),
            sketch=str(sketch),
            group=str(group),
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
    waves: tuple[Wave, ...] = ()
    posted_negatives: int = 0  # before a wave's copies were counted once


class BrandWindow:
    """One brand's minute buckets, built from its counted mentions, and its groups of
    near-identical mentions (only those large enough to be a wave are looked at)."""

    def __init__(self, brand: str, waves: WaveSettings | None = None) -> None:
        self.brand = brand
        self.buckets: dict[int, Bucket] = {}
        self.members: dict[int, list[Mention]] = {}
        self.latest_minute = 0
        self.waves = waves
        self.groups: dict[str, list[Mention]] = {}
        self.large: set[str] = set()
        self.changes: Counter[str] = Counter()  # per group: members added or removed
        self.seen: dict[str, tuple[tuple[int, int, int], Wave | None]] = {}  # last look

    def add(self, mention: Mention) -> None:
        bucket = self.buckets.get(mention.minute)
        if bucket is None:  # not setdefault: a Bucket is three Counters, made for every mention
            bucket = self.buckets[mention.minute] = Bucket()
        self.members.setdefault(mention.minute, []).append(mention)
        if self.waves and mention.sketch:
            name = mention.group or mention.key
            group = self.groups.setdefault(name, [])
            group.append(mention)
            self.changes[name] += 1
            if len(group) >= self.waves.min_copies:
                self.large.add(name)
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
        for mention in dropped:
            self._ungroup(mention)
        return dropped

    def _ungroup(self, mention: Mention) -> None:
        name = mention.group or mention.key
        group = self.groups.get(name)
        if group is None:
            return
        group.remove(mention)
        self.changes[name] += 1
        if not group:
            del self.groups[name], self.changes[name]
            self.seen.pop(name, None)
        if self.waves and len(group) < self.waves.min_copies:
            self.large.discard(name)

    def waves_in(self, start: int, end: int) -> tuple[Wave, ...]:
        if not self.waves:
            return ()
        found = [wave for name in self.large if (wave := self._wave(name, start, end))]
        return tuple(sorted(found, key=lambda wave: -wave.copies))

    def _wave(self, name: str, start: int, end: int) -> Wave | None:
        """The group as a wave in [start, end], looked at again only when the group or
        the hour changed: totals are asked for after every counted mention."""
        assert self.waves
        look = (self.changes[name], start, end)
        if name in self.seen and self.seen[name][0] == look:
            return self.seen[name][1]
        inside = [m for m in self.groups[name] if start <= m.minute <= end]
        wave = wave_of(inside, self.waves) if len(inside) >= self.waves.min_copies else None
        self.seen[name] = (look, wave)
        return wave

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
        posted = sum(bucket.negatives for bucket in inside)
        waves = self.waves_in(end - width + 1, end)
        for wave in waves:
            keywords -= wave.repeated_keywords
            crisis -= wave.repeated_crisis
        return WindowTotals(
            brand=self.brand,
            end_minute=end,
            mentions=sum(bucket.mentions for bucket in inside),
            negatives=posted - sum(wave.negatives - wave.counted_negatives for wave in waves),
            crisis=+crisis,
            keywords=+keywords,
            negative_platforms=frozenset(name for name, count in platforms.items() if count > 0),
            top_negative_followers=max((b.top_negative_followers for b in inside), default=0),
            top_negatives=tuple(_most_engaged([m for b in inside for m in b.top_negatives])),
            waves=waves,
            posted_negatives=posted,
        )


class Counts:
    """Every brand's window on one partition, fed with mentions exactly once each.

    With `waves`, a mention joins its near-identical group as it is counted; the group is
    stored with it, so counts rebuilt after a restart have the same waves."""

    def __init__(self, waves: WaveSettings | None = None) -> None:
        self.windows: dict[str, BrandWindow] = {}
        self.counted: dict[str, Mention] = {}
        self.waves = waves if waves and waves.enabled else None
        self.near: dict[str, NearDuplicates] = {}

    def add(self, mention: Mention) -> Mention | None:
        """Count a mention and return it as counted (with its group); None when its key
        was already counted."""
        if mention.key in self.counted:
            return None
        mention = self._grouped(mention)
        self.counted[mention.key] = mention
        self.window(mention.brand).add(mention)
        return mention

    def restore(self, stored: Iterable[Mention]) -> None:
        """Count stored mentions again, after a restart, instead of what was counted.

        Their groups were found when they were first counted and are stored with them
        ("" for a mention that started its own), so finding them again, one LSH lookup
        each, is not needed: it was two thirds of a million mentions' restart. Only the
        texts that new mentions could still join are indexed again.
        """
        self.clear()
        for mention in stored:
            if mention.key not in self.counted:
                mention = self._sketched(mention)
                self.counted[mention.key] = mention
                self.window(mention.brand).add(mention)
        if not self.waves:
            return
        for mention in self.counted.values():
            if mention.sketch and mention.minute >= self._joinable_from(mention.brand):
                self._near(mention.brand).join(replace(mention, group=mention.group or mention.key))

    def _grouped(self, mention: Mention) -> Mention:
        mention = self._sketched(mention)
        if not mention.sketch:
            return mention
        group = self._near(mention.brand).join(mention)
        return mention if group == mention.group else replace(mention, group=group)

    def _sketched(self, mention: Mention) -> Mention:
        """Without a text long enough to compare, a mention is in no group."""
        if mention.sketch and (not self.waves or len(mention.sketch) < self.waves.min_chars):
            return replace(mention, sketch="", group="")
        return mention

    def _near(self, brand: str) -> NearDuplicates:
        assert self.waves is not None
        near = self.near.get(brand)
        if near is None:
            near = self.near[brand] = NearDuplicates(self.waves)
        return near

    def _joinable_from(self, brand: str) -> int:
        assert self.waves is not None
        return self.window(brand).latest_minute - self.waves.minutes

    def clear(self) -> None:
        """Forget everything, before counting again from the stored mentions."""
        self.windows.clear()
        self.counted.clear()
        self.near.clear()

    def expire(self, brand: str, before_minute: int) -> list[Mention]:
        """Forget a brand's mentions older than `before_minute`, returning them so that
        their storage can go too; sketches go sooner, once nothing new can match them."""
        window = self.window(brand)
        expired = window.drop_before(before_minute)
        for mention in expired:
            del self.counted[mention.key]
        near = self.near.get(brand)
        if near:
            near.forget_before(self._joinable_from(brand))
        return expired

    def window(self, brand: str) -> BrandWindow:
        if brand not in self.windows:
            self.windows[brand] = BrandWindow(brand, self.waves)
        return self.windows[brand]

    def mentions_by_brand(self) -> Counter[str]:
        """Mentions counted per brand and still kept (the window plus lateness)."""
        return Counter(mention.brand for mention in self.counted.values())


def _most_engaged(mentions: list[Mention]) -> list[Mention]:
    return sorted(mentions, key=lambda mention: -mention.engagement)[:TOP_NEGATIVES]
