"""Writing Faust tables and the incidents topic in the brand's partition.

Every table of Guanchao is partitioned by brand (Kafka's murmur2 of the brand name), so
that a worker owning a partition owns whole brands: their counts, incidents and cases.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Mapping
from typing import Any

from faust.types import TableT, TopicT

from monitor.pipeline import brand_of_key, brand_partition

BrandOf = Callable[[str, Any], str]
# A tombstone for a key that never holds a value, written after the real records (`tail`).
TAIL_KEY = "\x00tail"


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
    tail: bool = False,
) -> None:
    """Write to a table's store and changelog, in the brand's partition; with `wait`,
    return only once the broker has the changelog records.

    The store is updated for every key before the first send, so that nothing else on
    the event loop reads a half-applied change. The changelog is sent directly, not
    through `Table.__setitem__`: that needs a current event (which timers and web views do
    not have, faust-streaming #497) and goes through Faust's producer buffer, whose flush
    can return before it is empty, so that a commit could overtake the state it covers.

    With `tail`, each partition written then gets a harmless tombstone in a batch of its
    own: Tansu (the embedded broker) answers ListOffsets short of the end, so Faust's
    recovery stops before the newest batch and would lose the newest change (for cases and
    deliveries, a page sent twice after a restart).
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
    if wait or tail:
        await asyncio.gather(*sent)
    if tail:  # in a batch of its own, after the records it protects
        tails = [
            await table.changelog_topic.send(
                key=TAIL_KEY, value=None, partition=partition, value_serializer="raw", force=True
            )
            for partition in set(where.values())
        ]
        await asyncio.gather(*tails)


async def publish(topic: TopicT, brand: str, event: Mapping[str, Any], partitions: int) -> None:
    """An event as JSON, keyed and partitioned by its brand."""
    await topic.send(
        key=brand.encode(),
        value=json.dumps(event, ensure_ascii=False).encode(),
        partition=brand_partition(brand, partitions),
        force=True,
    )
