"""The stream's stages as plain functions of a batch, so they are tested without a broker.

`enrich_batch` turns raw comment bytes into scored records (or dead letters); `bundle`
makes them the scored topic's messages, a JSON array of one brand's records each, which
`read_scored` checks and reads back.
`CountStage.process` counts scored records, keeps the hourly baseline, evaluates the rules
and advances incidents, returning every state write and event for the Faust adapter
(`monitor/stream/app.py`) to apply. Time comes from the records (event time) and from the
clock passed in (processing time, for stamps only).
"""

from __future__ import annotations

import functools
import json
from collections import Counter
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

from aiokafka.partitioner import murmur2

from monitor.detect.counting import WINDOW_MINUTES, Counts, Mention
from monitor.detect.enrich import Enricher
from monitor.detect.incidents import Incident, step
from monitor.detect.records import (
    DeadLetter,
    RecordError,
    check_time,
    dead_letter,
    parse_comment,
    parse_document,
    parse_json,
)
from monitor.detect.rules import NEGATIVE_VOLUME, Baseline, Detection, evaluate
from monitor.detect.waves import Wave
from monitor.settings import OTHER, LimitSettings, Settings

HOURLY_KEYWORDS = 50
MAX_DEAD_IN_MESSAGE = 10  # bad records a scored message may hold before it is refused whole


@functools.lru_cache(maxsize=65536)
def brand_partition(brand: str, partitions: int) -> int:
    """Kafka's default partitioner on the brand: every stage of a brand meets in one place.
    Remembered: kafka-python's murmur2 is pure Python, and a restart asks it once per
    stored mention (5 s of a million's)."""
    return int(murmur2(brand.encode("utf-8")) & 0x7FFFFFFF) % partitions


@dataclass
class Enriched:
    records: list[tuple[str, bytes]] = field(default_factory=list)  # (brand, JSON record)
    dead: list[DeadLetter] = field(default_factory=list)
    unattributed: int = 0
    created: list[datetime] = field(default_factory=list)  # event times of the scored


def enrich_batch(
    raws: Iterable[bytes | None], enricher: Enricher, settings: Settings, now: datetime
) -> Enriched:
    """Parse, validate and score; a record that fails in any way becomes a dead letter
    with its reason, and never stops the rest."""
    result = Enriched()
    limits = settings.limits
    for raw in raws:
        try:
            comment = parse_comment(
                parse_json(raw, limits.max_record_bytes), limits, settings.zone, now
            )
            records = [
                (brand, _encoded(record, limits))
                for brand, record in enricher.records(enricher.enrich(comment))
            ]
        except Exception as error:  # any failure is this record's, not the stream's
            result.dead.append(dead_letter(raw, error))
            continue
        if not records:
            result.unattributed += 1
        else:
            result.created.append(comment.created_at)
        result.records += records
    return result


def _encoded(record: Mapping[str, Any], limits: LimitSettings) -> bytes:
    encoded = json.dumps(record, ensure_ascii=False, allow_nan=False).encode()
    if len(encoded) + 2 > limits.max_scored_bytes:  # + 2: a message of its own, in brackets
        raise RecordError("too_large", f"the scored record would be {len(encoded)} bytes")
    return encoded


Source = TypeVar("Source")


@dataclass(frozen=True, slots=True)
class Bundle(Generic[Source]):
    """One message of the scored topic: a JSON array of one brand's scored records."""

    brand: str
    value: bytes
    sources: tuple[Source, ...]  # where each of its records came from, in order


def bundle(records: Iterable[tuple[str, bytes, Source]], max_bytes: int) -> list[Bundle[Source]]:
    """A batch's (brand, scored record, source) as one message per brand, in order (more
    than one where it would pass `max_bytes`): the broker stores, and the count stage
    reads, one message per brand and batch instead of one per mention."""
    by_brand: dict[str, list[tuple[bytes, Source]]] = {}
    for brand, record, source in records:
        by_brand.setdefault(brand, []).append((record, source))
    bundles = []
    for brand, items in by_brand.items():
        start, size = 0, 1  # "[", then each record and the "," or "]" after it
        for end, (record, _) in enumerate(items):
            if end > start and size + len(record) + 1 > max_bytes:
                bundles.append(_bundle(brand, items[start:end]))
                start, size = end, 1
            size += len(record) + 1
        bundles.append(_bundle(brand, items[start:]))
    return bundles


def _bundle(brand: str, items: list[tuple[bytes, Source]]) -> Bundle[Source]:
    value = b"[" + b",".join(record for record, _ in items) + b"]"
    return Bundle(brand, value, tuple(source for _, source in items))


def read_scored(
    raw: bytes | None, settings: Settings, now: datetime
) -> tuple[list[Mapping[str, Any]], list[DeadLetter]]:
    """A message of the scored topic: its records that pass `check_scored`, and a dead
    letter for each one that does not (the rest are counted), its record re-encoded. A
    message that is not an array of records, or holds more than MAX_DEAD_IN_MESSAGE that
    fail, is refused whole."""
    document = parse_document(raw, settings.limits.max_scored_bytes)
    if not isinstance(document, list) or not document:
        raise RecordError("not_scored", "a scored message must be a JSON array of records")
    records: list[Mapping[str, Any]] = []
    dead = []
    for item in document:
        try:
            records.append(check_scored(item, settings, now))
        except RecordError as error:
            dead.append(dead_letter(json.dumps(item, ensure_ascii=False).encode(), error))
    if len(dead) > MAX_DEAD_IN_MESSAGE:  # not ours: one dead letter, not a storm of them
        raise RecordError("not_scored", f"{len(dead)} of {len(document)} records are not scored")
    return records, dead


def check_scored(record: object, settings: Settings, now: datetime) -> Mapping[str, Any]:
    """A scored record, checked before it is counted: anyone who can write to the scored
    topic could otherwise page people for any name, stop the counting, or (with a date in
    9999) make every later mention late."""
    if not isinstance(record, dict):
        raise RecordError("not_object", "a scored record must be a JSON object")
    brand = record.get("brand")
    if not isinstance(brand, str) or not (brand == OTHER or settings.is_watched(brand)):
        raise RecordError("unknown_brand", f"brand {brand!r} is not in the config")
    for name in ("crisis_keywords", "keywords"):
        words = record.get(name) or []
        if not isinstance(words, list) or not all(isinstance(word, str) for word in words):
            raise RecordError("not_scored", f"{name} must be a list of text")
    try:
        Mention.from_record(record, sketched=False)
        if not isinstance(record["label"], str):
            raise TypeError("label must be text")
        created_at = datetime.fromisoformat(record["created_at"])
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        message = f"not a scored record: {type(error).__name__}: {error}"
        raise RecordError("not_scored", message) from None
    check_time(created_at, settings.limits, now)
    return record


@dataclass
class Writes:
    """What one batch changes: table writes (None deletes) and events to publish."""

    mentions: dict[str, list[object] | None] = field(default_factory=dict)
    hourly: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    incidents: dict[str, dict[str, Any] | None] = field(default_factory=dict)
    events: list[dict[str, Any]] = field(default_factory=list)
    counted_labels: list[tuple[Mention, str]] = field(default_factory=list)  # for metrics
    counted: int = 0
    late: int = 0
    duplicates: int = 0
    rolling: dict[str, tuple[int, int]] = field(default_factory=dict)  # brand: minute, negatives
    waves: dict[str, tuple[Wave, ...]] = field(default_factory=dict)  # brand: in its hour


def brand_of_key(key: str) -> str:
    return key.split("|", 1)[0]


class CountStage:
    """Counting and detection for the brands of the partitions this worker owns.

    `hourly` and `incidents` are read-only views of the tables (the adapter applies the
    returned writes to them); `counts` is rebuilt from the mentions table after a restart.
    """

    def __init__(
        self,
        settings: Settings,
        counts: Counts,
        hourly: Mapping[str, dict[str, Any]],
        incidents: Mapping[str, dict[str, Any]],
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.counts = counts
        self.hourly = hourly
        self.incidents = incidents
        self.clock = clock
        self.keep_minutes = WINDOW_MINUTES + settings.stream.lateness_minutes

    def process(self, records: Iterable[Mapping[str, Any]]) -> Writes:
        """Count a batch. A brand is looked at (expiry, rules, incidents) when a minute of
        its mentions ends and at the end of the batch, not after every mention: the
        incidents open in the minute they would one mention at a time, and a batch of
        500 mentions of a brand costs one look instead of 500."""
        writes = Writes()
        pending: set[str] = set()  # brands counted since they were last looked at
        for record in records:
            mention = Mention.from_record(record, sketched=self.counts.waves is not None)
            window = self.counts.window(mention.brand)
            if mention.brand in pending and mention.minute > window.latest_minute:
                self._look_at(mention.brand, writes)
                pending.discard(mention.brand)
            if mention.minute <= window.latest_minute - self.keep_minutes:
                writes.late += 1
            elif counted := self.counts.add(mention):
                writes.mentions[counted.key] = counted.to_json()
                self._add_to_hour(counted, writes)
                writes.counted += 1
                writes.counted_labels.append((counted, str(record["label"])))
                pending.add(counted.brand)
            else:
                writes.duplicates += 1
        for brand in sorted(pending):
            self._look_at(brand, writes)
        return writes

    def _look_at(self, brand: str, writes: Writes) -> None:
        self._expire(brand, writes)
        if brand != OTHER:  # brands the config does not list are counted, never paged
            self._detect(brand, writes)

    def _add_to_hour(self, mention: Mention, writes: Writes) -> None:
        key = f"{mention.brand}|{mention.minute // 60}"
        hour = writes.hourly.get(key) or _copy_hour(self.hourly.get(key))
        writes.hourly[key] = hour
        hour["mentions"] += 1
        if mention.negative:
            hour["negatives"] += 1
            keywords = Counter(hour["keywords"])
            keywords.update(mention.keywords)
            hour["keywords"] = dict(keywords.most_common(HOURLY_KEYWORDS))

    def _expire(self, brand: str, writes: Writes) -> None:
        window = self.counts.window(brand)
        for mention in self.counts.expire(brand, window.latest_minute - self.keep_minutes):
            writes.mentions[mention.key] = None
        oldest_hour = window.latest_minute // 60 - 24 * (self.settings.stream.baseline_days + 1)
        for key in self.hourly:
            if brand_of_key(key) == brand and int(key.rsplit("|", 1)[1]) < oldest_hour:
                writes.hourly[key] = None

    def _detect(self, brand: str, writes: Writes) -> None:
        totals = self.counts.window(brand).totals()
        writes.rolling[brand] = (totals.end_minute, totals.negatives)
        writes.waves[brand] = totals.waves
        detections = evaluate(
            totals,
            self.settings.threshold_for(brand),
            self._baseline(brand, totals.end_minute),
            self.settings.rules,
        )
        by_cause: dict[str, Detection | None] = {d.cause: d for d in detections}
        for key in self.incidents:
            if brand_of_key(key) == brand:
                by_cause.setdefault(key.split("|", 1)[1], None)
        for cause, detection in by_cause.items():
            key = f"{brand}|{cause}"
            stored = writes.incidents.get(key, self.incidents.get(key))
            current = Incident.from_dict(stored) if stored else None
            incident, events = step(
                current,
                detection,
                totals.end_minute,
                self.clock(),
                self.settings.stream.update_every_minutes,
                self.settings.stream.quiet_minutes,
            )
            if _worth_storing(current, incident, events):
                writes.incidents[key] = incident.as_dict() if incident else None
            writes.events += events

    def _baseline(self, brand: str, minute: int) -> Baseline | None:
        """The mean of this hour of day over the past days that have data."""
        hour = minute // 60
        days = self.settings.stream.baseline_days
        past = [self.hourly.get(f"{brand}|{hour - 24 * day}") for day in range(1, days + 1)]
        seen = [entry for entry in past if entry]
        if not seen:
            return None
        keywords: Counter[str] = Counter()
        for entry in seen:
            keywords.update(entry["keywords"])
        return Baseline(
            negatives=sum(entry["negatives"] for entry in seen) / len(seen),
            keywords={word: count / len(seen) for word, count in keywords.items()},
            days=len(seen),
        )


def _worth_storing(
    current: Incident | None, incident: Incident | None, events: list[dict[str, Any]]
) -> bool:
    """Store an incident when it opens, closes, publishes or moves to another minute; the
    counts in between are recomputed from the mentions after a restart anyway. (Storing it
    for every comment cost a changelog record per comment.)"""
    if current is None or incident is None:
        return current is not incident
    return bool(events) or (incident.last_firing_minute, incident.level) != (
        current.last_firing_minute,
        current.level,
    )


def _copy_hour(stored: Mapping[str, Any] | None) -> dict[str, Any]:
    if not stored:
        return {"mentions": 0, "negatives": 0, "keywords": {}}
    return {**stored, "keywords": dict(stored["keywords"])}


class Replay:
    """The count-and-detect stage offline, its tables plain dicts: `guanchao analyze`
    replays an export through the same counting, rules and incident steps as the stream,
    so it opens the incidents the stream would have opened."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.hourly: dict[str, dict[str, Any]] = {}
        self.incidents: dict[str, dict[str, Any]] = {}
        counts = Counts(settings.waves)
        self.stage = CountStage(settings, counts, self.hourly, self.incidents, clock)
        self.events: list[dict[str, Any]] = []
        self.rolling: dict[str, list[tuple[int, int]]] = {}  # brand: (minute, negatives) seen
        self.waves: dict[tuple[str, str], Wave] = {}  # (brand, group): as large as it grew

    def feed(self, records: Iterable[Mapping[str, Any]]) -> Writes:
        writes = self.stage.process(records)
        for table, changes in ((self.hourly, writes.hourly), (self.incidents, writes.incidents)):
            for key, value in changes.items():
                if value is None:
                    table.pop(key, None)
                else:
                    table[key] = value
        self.events += writes.events
        for brand, seen in writes.rolling.items():
            self.rolling.setdefault(brand, []).append(seen)
        for brand, waves in writes.waves.items():
            for wave in waves:
                known = self.waves.get((brand, wave.group))
                if known is None or wave.copies >= known.copies:
                    self.waves[brand, wave.group] = wave
        return writes

    def opened(self) -> list[dict[str, Any]]:
        """The incidents opened, as they stood at the end of their opening minute."""
        return opened_incidents(self.events)

    def above_threshold(self, brand: str) -> list[tuple[int, int, int]]:
        """(first, last minute, peak negatives) of each negative-volume incident of the
        brand: the stretches in which the stream's rolling hour was over the threshold."""
        spans: dict[str, tuple[int, int]] = {}
        latest = [event["incident"] for event in self.events] + list(self.incidents.values())
        for incident in latest:  # the last word on each incident wins
            if incident["brand"] == brand and incident["cause"] == NEGATIVE_VOLUME:
                spans[incident["id"]] = (incident["opened_minute"], incident["last_firing_minute"])
        seen = self.rolling.get(brand, [])
        return sorted(
            (start, end, max((n for minute, n in seen if start <= minute <= end), default=0))
            for start, end in spans.values()
        )


def opened_incidents(events: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Each incident opened, as its last event in its opening minute carries it: the
    stream looks at a brand once per minute of a batch, one mention at a time it is
    looked at after each; by the end of the minute both have seen the same."""
    latest: dict[str, dict[str, Any]] = {}
    for event in events:
        incident = event["incident"]
        if event["event"] == "opened" or (
            incident["id"] in latest and incident["last_update_minute"] == incident["opened_minute"]
        ):
            latest[incident["id"]] = incident
    return list(latest.values())
