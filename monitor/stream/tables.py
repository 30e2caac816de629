"""Writing Faust tables and the incidents topic in the brand's partition.

Every table of Guanchao is partitioned by brand (Kafka's murmur2 of the brand name), so
that a worker owning a partition owns whole brands: their counts, incidents and cases.
"""

from __future__ import annotations

import asyncio
import gc
import json
import logging
from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaConnectionError, KafkaError, KafkaTimeoutError
from faust.stores import memory
from faust.types import TP, TableT, TopicT

from monitor.detect.stages import brand_of_key, brand_partition

log = logging.getLogger(__name__)

BrandOf = Callable[[str, Any], str]
Keep = Callable[[Any, Any], Any]  # of the stored value and one read from the changelog
TAIL_SECONDS = 5.0  # the longest `recover_tail` reads, once per rebalance
RETRY_SECONDS = 1.0  # between sends of writes the broker did not take
STALL_SECONDS = 10.0  # a bulk read that gets nothing for this long is left to Faust
FETCH_BYTES = 8 * 1024 * 1024  # per partition and fetch, when a store reads its changelog


async def until_stored(write: Callable[[], Awaitable[None]], what: str) -> None:
    """Send again until the broker takes it: a broker that is down is not the fault of
    the record being handled, so it is neither dead-lettered nor acknowledged meanwhile.
    Only for idempotent writes (`write_table` updates the store before it sends). Any
    other failure (a record too large, a bug) is raised: retrying would never end."""
    while True:
        try:
            await write()
            return
        except Exception as error:
            if not _retriable(error):
                raise
            log.warning("%s not stored, sending again in %.0fs: %s: %s",
                        what, RETRY_SECONDS, type(error).__name__, error)  # fmt: skip
            await asyncio.sleep(RETRY_SECONDS)


def _retriable(error: Exception) -> bool:
    """The broker is away or busy: aiokafka's retriable errors, timeouts, connections."""
    if isinstance(error, KafkaError):
        return bool(error.retriable) or isinstance(error, KafkaConnectionError | KafkaTimeoutError)
    return isinstance(error, OSError | TimeoutError)


def brand_in_key(key: str, value: Any) -> str:
    return brand_of_key(key)


def any_brand(key: str, value: Any) -> str:
    return ""


def case_brand(key: str, case: Any) -> str:
    return str(case["brand"])


def delivery_brand(key: str, delivery: Any) -> str:
    return str(delivery["notice"]["case"]["brand"])


async def write_table(
    table: TableT[str, Any],
    changes: Mapping[str, Any],
    partitions: int,
    brand_of: BrandOf = brand_in_key,
    wait: bool = False,
) -> None:
    """Write to a table's store and changelog, in the brand's partition; with `wait`,
    return only once the broker has the changelog records.

    The store is updated for every key before the first send, so that nothing else on
    the event loop reads a half-applied change. The changelog is sent directly, not
    through `Table.__setitem__`: that needs a current event (which timers and web views do
    not have, faust-streaming #497) and goes through Faust's producer buffer, whose flush
    can return before it is empty, so that a commit could overtake the state it covers.
    """
    where = {}
    for key, value in changes.items():
        stored = table.data.get(key) if value is None else value
        if stored is None:
            continue  # deleting what is not there
        where[key] = brand_partition(brand_of(key, stored), partitions)
        if value is None:
            del table.data[key]
        else:
            table.data[key] = value
    sent = []
    for key, partition in where.items():
        value = changes[key]
        serializer = "raw" if value is None else None
        sent.append(
            await table.changelog_topic.send(
                key=key, value=value, partition=partition, value_serializer=serializer, force=True
            )
        )
    if wait:
        await asyncio.gather(*sent)


async def recover_tail(
    bootstrap: str, tables: Sequence[TableT[str, Any]], partitions: set[int], depth: int = 2
) -> int:
    """Re-apply the newest records of the changelog partitions this worker owns; the
    number applied.

    Faust recovers a table up to the end offset the broker reports. Tansu (the embedded
    broker) reports one short of Kafka's (3 records: 2, not 3), so the newest change of each
    partition was lost on every restart: a mention uncounted, a page sent twice. Reading
    the last `depth` records again is harmless on Kafka (they are the newest values of
    their keys, applied in order) and completes the recovery on Tansu.
    """
    tps = [
        TopicPartition(table.changelog_topic.get_topic_name(), partition)
        for table in tables
        for partition in partitions
    ]
    by_topic = {table.changelog_topic.get_topic_name(): table for table in tables}
    if not tps:
        return 0
    consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
    applied = 0
    try:
        await consumer.start()
        consumer.assign(tps)
        ends = await consumer.end_offsets(tps)
        for tp in tps:
            consumer.seek(tp, max(0, ends[tp] - depth))
        deadline = asyncio.get_running_loop().time() + TAIL_SECONDS
        while asyncio.get_running_loop().time() < deadline:
            for tp, records in (await consumer.getmany(timeout_ms=200)).items():
                for record in records:
                    _apply_record(by_topic[tp.topic], record.key, record.value)
                    applied += 1
            if all([await _read_to_end(consumer, tp) for tp in tps]):
                break
    finally:
        await consumer.stop()
    return applied


async def follow_changelog(
    bootstrap: str, table: TableT[str, Any], partitions: int, keep: Keep | None = None
) -> None:
    """Apply a table's changelog as it grows, for as long as the worker runs.

    Faust rebuilds a GlobalTable from its changelog when a worker starts, but did not keep
    it current afterwards: a silence added on one worker never reached the others until
    they restarted, so their alerts went out unmuted. Silences are few, so every worker
    reads the whole changelog from the start and then follows it. A record read late — this
    worker wrote a newer value meanwhile, or the reading started over — would undo it:
    `keep` chooses between the stored value and the one read (without it, the one read).
    A broker that goes away ends one reading; the next starts over after `RETRY_SECONDS`.
    """
    topic = table.changelog_topic.get_topic_name()
    while True:
        consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        try:
            await consumer.start()
            consumer.assign([TopicPartition(topic, partition) for partition in range(partitions)])
            await consumer.seek_to_beginning()
            while True:
                for records in (await consumer.getmany(timeout_ms=1000)).values():
                    for record in records:
                        _apply_record(table, record.key, record.value, keep)
        except (KafkaError, OSError) as error:
            log.debug("following %s stopped (%s); starting again", topic, error)
        finally:
            await consumer.stop()
        await asyncio.sleep(RETRY_SECONDS)


async def _read_to_end(consumer: AIOKafkaConsumer, tp: TopicPartition) -> bool:
    highwater = consumer.highwater(tp)  # from the last fetch: right on Tansu too
    return highwater is not None and await consumer.position(tp) >= highwater


def _apply_record(
    table: TableT[str, Any], key: bytes | None, value: bytes | None, keep: Keep | None = None
) -> None:
    if key is None:
        return
    name = json.loads(key)
    if value is None:
        table.data.pop(name, None)
        return
    read, stored = json.loads(value), table.data.get(name)
    table.data[name] = read if keep is None or stored is None else keep(stored, read)


async def publish(topic: TopicT, brand: str, event: Mapping[str, Any], partitions: int) -> None:
    """An event as JSON, keyed and partitioned by its brand."""
    await topic.send(
        key=brand.encode(),
        value=json.dumps(event, ensure_ascii=False).encode(),
        partition=brand_partition(brand, partitions),
        force=True,
    )


class ChangelogStore(memory.Store[str, Any]):
    """Faust's in-memory store, which reads its changelog partitions itself, in bulk, when
    they are assigned; registered as the `guanchao://` store (pyproject's entry points).

    Faust recovers a table one record at a time through its stream machinery: about
    7,000 records/s here, so a worker with a million mentions in state served again
    after 161 s. aiokafka alone reads them at about 120,000/s. The store tells Faust the
    last offset it read as persisted, and Faust's recovery reads only what came after:
    the state is still rebuilt from the changelog alone, as exact after a SIGKILL as
    before. If the bulk read fails, Faust reads the whole partition as it always did.
    """

    def __post_init__(self) -> None:
        super().__post_init__()
        self.held: set[TP] = set()  # partitions whose records are in memory
        self.read_up_to: dict[TP, int] = {}  # told to Faust until its recovery is done

    async def on_rebalance(
        self, assigned: set[TP], revoked: set[TP], newly_assigned: set[TP], generation_id: int = 0
    ) -> None:
        topic = self.table.changelog_topic.get_topic_name()
        mine = {tp for tp in self.app.assignor.assigned_actives() if tp.topic == topic}
        self.held &= mine
        new = mine - self.held
        if not new:
            return
        servers = ",".join(f"{url.host}:{url.port or 9092}" for url in self.app.conf.broker)
        try:
            with gc_paused():
                self.read_up_to.update(await read_changelog(servers, new, self._apply))
        except (KafkaError, OSError, TimeoutError) as error:
            log.warning("%s: the changelog was not read in bulk (%s: %s); Faust reads it",
                        topic, type(error).__name__, error)  # fmt: skip
            return
        self.held |= new

    def _apply(self, partition: int, key: bytes | None, value: bytes | None) -> None:
        if key is None:
            return
        name = json.loads(key)
        if value is None:
            self.data.pop(name, None)
            self._key_partition.pop(name, None)
        else:
            self.data[name] = json.loads(value)
            self._key_partition[name] = partition

    def persisted_offset(self, tp: TP) -> int | None:
        return self.read_up_to.get(tp)

    async def on_recovery_completed(self, active_tps: set[TP], standby_tps: set[TP]) -> None:
        """From now on Faust's own offsets are newer than what the bulk read reached."""
        await super().on_recovery_completed(active_tps, standby_tps)
        self.read_up_to.clear()


async def read_changelog(
    servers: str, tps: set[TP], apply: Callable[[int, bytes | None, bytes | None], None]
) -> dict[TP, int]:
    """Apply every record of the partitions, oldest first; the last offset read of each."""
    consumer = AIOKafkaConsumer(bootstrap_servers=servers, enable_auto_commit=False,
                                max_partition_fetch_bytes=FETCH_BYTES,
                                fetch_max_bytes=4 * FETCH_BYTES)  # fmt: skip
    last: dict[TP, int] = {}
    try:
        await consumer.start()
        wanted = [TopicPartition(tp.topic, tp.partition) for tp in tps]
        consumer.assign(wanted)
        ends = await consumer.end_offsets(wanted)
        pending = [tp for tp in wanted if ends[tp]]  # an empty one would wait out a fetch
        if pending:  # with none, aiokafka would seek every assigned partition
            await consumer.seek_to_beginning(*pending)
        clock = asyncio.get_running_loop().time
        progress = clock()
        while pending:
            for tp, records in (await consumer.getmany(*pending, timeout_ms=500)).items():
                for record in records:
                    apply(tp.partition, record.key, record.value)
                    last[TP(tp.topic, tp.partition)] = record.offset
                progress = clock()
            pending = [tp for tp in pending if not await _read_to_end(consumer, tp)]
            if clock() - progress > STALL_SECONDS:
                raise TimeoutError(f"nothing read for {STALL_SECONDS:.0f}s")
    finally:
        await consumer.stop()
    return last


@contextmanager
def gc_paused() -> Iterator[None]:
    """For loading state: every collection the million new objects trigger walks all the
    earlier ones again (a quarter of a million mentions' restore time)."""
    gc.disable()
    try:
        yield
    finally:
        gc.enable()
