"""Producing comments into the stream from an export, paced or as fast as possible.

JSONL lines are sent as they are, bad ones included: judging records is the stream's job,
and a bad line must reach the dead-letter topic with its reason rather than vanish here.

A comment counts as sent once the broker has acknowledged it; one the broker refused or
never answered for (gone, too large, timed out) counts as failed, with the reason.
"""

from __future__ import annotations

import json
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor.detect.records import RecordError, parse_time
from monitor.settings import Settings
from monitor.stream.broker import BrokerError


def bootstrap_servers(broker: str) -> str:
    """kafka://host:port[;kafka://host2:port] → host:port[,host2:port] for kafka-python
    (any scheme: the app's own URLs are `guanchao://`, `monitor.stream.transport`)."""
    return ",".join(part.split("://", 1)[-1] for part in broker.replace(";", ",").split(","))


def check_broker(broker: str) -> None:
    """Refuse a URL kafka-python cannot parse (it raises ValueError deep inside, leaking the
    sockets of a half-built client): hosts without spaces, ports that are numbers."""
    for server in bootstrap_servers(broker).split(","):
        host, colon, port = server.strip().rpartition(":")
        if not colon:  # no port: kafka-python's default
            host, port = port, "9092"
        if not host or any(c.isspace() for c in host) or not port.isascii() or not port.isdigit():
            raise BrokerError(f"{broker!r} is not a broker URL like kafka://host:9092")
        if not 0 < int(port) < 65536:
            raise BrokerError(f"{broker!r}: port {port} is not between 1 and 65535")


def ensure_topics(broker: str, settings: Settings, timeout: float = 30.0) -> None:
    """Create Guanchao's topics with the configured partitions if they do not exist yet;
    a broker that cannot be reached within `timeout` seconds raises."""
    from kafka.admin import KafkaAdminClient, NewTopic
    from kafka.errors import TopicAlreadyExistsError

    names = settings.stream.topics
    admin = KafkaAdminClient(
        bootstrap_servers=bootstrap_servers(broker), bootstrap_timeout_ms=int(timeout * 1000)
    )
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
        partitions: set[int] = set()
        while not partitions:  # a topic not created yet (or lost with a broker) is empty
            if stop():
                return
            partitions = consumer.partitions_for_topic(topic) or set()
            if not partitions:
                time.sleep(0.2)
        assigned = [TopicPartition(topic, partition) for partition in sorted(partitions)]
        consumer.assign(assigned)
        consumer.seek_to_beginning(*assigned)
        while not stop():
            for batch in consumer.poll(timeout_ms=200).values():
                yield from batch
    finally:
        consumer.close()


DELIVERY_TIMEOUT_SECONDS = 120.0
LINGER_MS = 5


@dataclass
class Delivery:
    """What the broker acknowledged, and why the rest failed (reason: count)."""

    delivered: int = 0
    failed: Counter[str] = field(default_factory=Counter)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False, compare=False)

    def succeeded(self, _metadata: object = None) -> None:
        with self._lock:
            self.delivered += 1

    def refused(self, error: BaseException | str) -> None:
        reason = error if isinstance(error, str) else type(error).__name__
        with self._lock:
            self.failed[reason] += 1

    @property
    def settled(self) -> int:
        with self._lock:
            return self.delivered + self.failed.total()

    def snapshot(self) -> Delivery:
        """A copy that late callbacks cannot change any more."""
        with self._lock:
            return Delivery(self.delivered, Counter(self.failed))

    def describe(self, topic: str) -> str:
        """`sent 1990 comments to T, 10 failed (KafkaTimeoutError: 10)`."""
        text = f"sent {self.delivered} comments to {topic}"
        if self.failed:
            reasons = ", ".join(f"{reason}: {count}" for reason, count in self.failed.most_common())
            text += f", {self.failed.total()} failed ({reasons})"
        return text


def produce_comments(
    broker: str,
    settings: Settings,
    rows: Iterable[dict[str, Any] | bytes],
    shift: Callable[[dict[str, Any]], None] = keep_time,
    pacer: Pacer | None = None,
    timeout: float = DELIVERY_TIMEOUT_SECONDS,
) -> Delivery:
    """Send rows to the comments topic (creating the topics first) and wait for every
    acknowledgement; a comment the broker has not acknowledged within `timeout` seconds
    (retried meanwhile, a broker restart included) counts as failed. An unreachable broker
    is a `BrokerError` that says so."""
    from kafka import KafkaProducer
    from kafka.errors import KafkaError, KafkaTimeoutError

    delivery_ms = max(int(timeout * 1000), 2 * LINGER_MS + 1)
    check_broker(broker)
    try:
        ensure_topics(broker, settings, timeout)
        producer = KafkaProducer(
            bootstrap_servers=bootstrap_servers(broker),
            linger_ms=LINGER_MS,
            # A restarted broker that lost its state (the embedded one keeps everything in
            # memory) refuses the old producer id, and an idempotent producer then fails
            # every later comment. Without it a retry may send a comment twice, which the
            # stream counts once (platform + id).
            enable_idempotence=False,
            delivery_timeout_ms=delivery_ms,
            request_timeout_ms=min(30_000, delivery_ms - LINGER_MS),
            max_block_ms=min(60_000, delivery_ms),
        )
    except Exception as error:  # kafka-python raises ValueError for a bad host:port too
        raise BrokerError(f"cannot reach the broker at {broker}: {_reason(error)}") from None
    delivery = Delivery()
    attempted = 0
    topic = settings.stream.topics.comments
    try:
        for message in outgoing(rows, shift):
            attempted += 1
            try:
                future = producer.send(topic, key=message.key, value=message.value)
            except KafkaError as error:  # too large for the broker, or no metadata in time
                delivery.refused(error)
            else:
                future.add_callback(delivery.succeeded)
                future.add_errback(delivery.refused)
            if pacer:
                pacer.wait()
        with suppress(KafkaTimeoutError):
            producer.flush(timeout=timeout + 30)
    finally:
        producer.close(timeout=5)
    result = delivery.snapshot()
    unanswered = attempted - result.settled
    if unanswered > 0:
        result.failed["no answer"] += unanswered
    return result


def _reason(error: BaseException) -> str:
    """One line: the error's class and message (kafka-python's already start with it)."""
    name = type(error).__name__
    text = " ".join(str(error).split())
    return text if text.startswith(name) else f"{name}: {text}" if text else name
