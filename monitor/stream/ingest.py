"""Producing comments into the stream from an export, paced or as fast as possible.

JSONL lines are sent as they are, bad ones included: judging records is the stream's job,
and a bad line must reach the dead-letter topic with its reason rather than vanish here.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.cli.inputs import InputError
from monitor.detect.records import RecordError, parse_time
from monitor.settings import Settings


def bootstrap_servers(broker: str) -> str:
    """kafka://host:port[;kafka://host2:port] → host:port[,host2:port] for kafka-python."""
    return ",".join(part.removeprefix("kafka://") for part in broker.replace(";", ",").split(","))


def ensure_topics(broker: str, settings: Settings) -> None:
    """Create Guanchao's topics with the configured partitions if they do not exist yet."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    names = settings.stream.topics
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers(broker))
    try:
        existing = set(admin.list_topics())
        wanted = list(names.model_dump().values())
        topics = [
            NewTopic(name, num_partitions=settings.stream.partitions, replication_factor=1)
            for name in wanted
            if name not in existing
        ]
        if topics:
            with suppress(TopicAlreadyExistsError):  # another worker was quicker
                admin.create_topics(topics)
    finally:
        admin.close()


@dataclass(frozen=True)
class Outgoing:
    key: bytes | None
    value: bytes


def outgoing(
    rows: Iterable[dict[str, Any] | bytes], shift: Callable[[dict[str, Any]], None]
) -> Iterator[Outgoing]:
    """Rows as messages; dicts are re-encoded (after `shift`), raw bytes pass untouched."""
    for row in rows:
        if isinstance(row, bytes):
            yield Outgoing(None, row)
            continue
        shift(row)
        key = row.get("brand") or f"{row.get('platform')}:{row.get('id')}"
        yield Outgoing(str(key).encode(), json.dumps(row, ensure_ascii=False).encode())


def time_shifter(
    rows: list[dict[str, Any] | bytes], now: datetime, zone: ZoneInfo
) -> Callable[[dict[str, Any]], None]:
    """Moves every created_at by the gap between the export's newest comment and `now`, so
    an old export replays as if it had just happened: intervals between comments are kept
    and nothing lands in the future."""
    times = [_time_of(row, zone) for row in rows if isinstance(row, dict)]
    known = [moment for moment in times if moment is not None]
    offset = now - max(known) if known else timedelta(0)

    def shift(row: dict[str, Any]) -> None:
        created = _time_of(row, zone)
        if created is not None:
            row["created_at"] = (created + offset).isoformat()

    return shift


def _time_of(row: dict[str, Any], zone: ZoneInfo) -> datetime | None:
    try:
        return parse_time(row.get("created_at"), zone)
    except RecordError:
        return None


def keep_time(row: dict[str, Any]) -> None:
    """The identity shift: records keep their own created_at."""


class Pacer:
    """Sleeps so that messages leave at `rate` per second on average (None: no pacing)."""

    def __init__(self, rate: float | None, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        self.rate = rate
        self.clock = clock
        self.sleep = sleep
        self.started = clock()
        self.sent = 0

    def wait(self) -> None:
        self.sent += 1
        if not self.rate:
            return
        ahead = self.sent / self.rate - (self.clock() - self.started)
        if ahead > 0:
            self.sleep(ahead)


def follow_topic(broker: str, topic: str, stop: Callable[[], bool]) -> Iterator[Any]:
    """Every message (kafka-python's ConsumerRecord: value, headers, partition, offset …)
    of a topic from its start, without a consumer group (Tansu does not support
    kafka-python's groups), until `stop()` says so."""
    from kafka import KafkaConsumer, TopicPartition

    consumer = KafkaConsumer(
        bootstrap_servers=bootstrap_servers(broker), group_id=None, enable_auto_commit=False
    )
    try:
        partitions = consumer.partitions_for_topic(topic) or set()
        assigned = [TopicPartition(topic, partition) for partition in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        while not stop():
            for batch in consumer.poll(timeout_ms=200).values():
                yield from batch
    finally:
        consumer.close()


def produce_comments(
    broker: str,
    settings: Settings,
    rows: Iterable[dict[str, Any] | bytes],
    shift: Callable[[dict[str, Any]], None] = keep_time,
    pacer: Pacer | None = None,
) -> int:
    """Send rows to the comments topic (creating the topics first); the count sent.
    An unreachable broker is an `InputError` that says so."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError

    try:
        ensure_topics(broker, settings)
        producer = KafkaProducer(bootstrap_servers=bootstrap_servers(broker), linger_ms=5)
    except KafkaError as error:
        raise InputError(f"cannot reach the broker at {broker}: {error}") from None
    sent = 0
    for message in outgoing(rows, shift):
        producer.send(settings.stream.topics.comments, key=message.key, value=message.value)
        sent += 1
        if pacer:
            pacer.wait()
    producer.flush()
    producer.close()
    return sent
