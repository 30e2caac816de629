"""The Faust app: topics, tables and two thin agents around `monitor.pipeline`.

comments ─► enrich ─► scored (keyed and partitioned by brand) ─► count ─► incidents
                └─► dead letters (original bytes, reason in the headers)        │
                                                                                ▼
        timer (reminders, deadlines, pages) ─► respond ◄─ API actions ─ cases table
                                                  │
                                                  ▼
            deliveries table (the outbox) ─► one dispatcher per sink ─► WeCom, Feishu, …
                                                  └─► alert dead letters

State lives in tables whose changelog partition is the brand's partition, so a worker
that restarts, or one that takes over a partition, rebuilds exactly the counts, baseline,
incidents, cases and undelivered alerts of the brands it now owns. Silences are in a
global table: every worker needs all of them.

Both agents take one event at a time. With `take_events` batches, a worker killed
mid-stream lost 0.2-0.5 % of the records it had read (their offsets were committed, their
results never sent): the crash test reproduced it for the enrich agent in 5 of 6 runs and,
later, for the count agent on CI. The cause, as far as we read faust 0.15: when a batch is
cut by its timeout, the reader that was waiting on the previous batch resets the guard of
the current one, so records read while it is processed join the list that is acknowledged
at its end. A record is acknowledged only when the agent asks for the next one.

Every send is `force=True`: otherwise Faust attaches it to "the current event" and
buffers it, and a commit can overtake it; a worker killed at that moment loses records.
Sent directly, everything a record produced is flushed before its offset is committed
(at least once), and counting is idempotent, so a replayed record is not counted twice.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
from collections import Counter
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import faust
import httpx
from faust.types import StreamT, TableT
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST

from alerts.delivery import Delivery, Dispatcher
from alerts.playbook import load_playbook
from alerts.routing import Silence
from alerts.sinks import build_sinks
from monitor.api import register_api, register_compliance
from monitor.compliance import default_checker
from monitor.counting import Counts, Mention
from monitor.enrich import Enricher
from monitor.metrics import Metrics, StreamStats
from monitor.pipeline import CountStage, Writes, brand_of_key, brand_partition, enrich_batch
from monitor.respond import CASE_EVENT, RespondStage, RespondWrites
from monitor.response import CLOSED
from monitor.settings import Settings

log = logging.getLogger(__name__)


def build_app(
    settings: Settings,
    broker: str,
    datadir: Path,
    web_port: int | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    env: Mapping[str, str] = os.environ,
) -> faust.App:
    stream = settings.stream
    partitions = stream.partitions
    app = faust.App(
        stream.app_id,
        broker=broker,
        store="memory://",
        datadir=str(datadir),
        web_host=stream.web_host,
        web_port=stream.web_port if web_port is None else web_port,
        topic_partitions=partitions,
        topic_replication_factor=1,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        broker_rebalance_timeout=stream.rebalance_timeout_seconds,
        broker_session_timeout=max(10.0, stream.rebalance_timeout_seconds * 2),
        broker_heartbeat_interval=1.0,
        broker_commit_interval=0.5,
        producer_linger=0.005,
        stream_wait_empty=False,
    )
    comments = app.topic(stream.topics.comments, key_serializer="raw", value_serializer="raw")
    scored = app.topic(stream.topics.scored, key_serializer="raw", value_serializer="raw")
    incidents_out = app.topic(stream.topics.incidents, key_serializer="raw", value_serializer="raw")
    dead_letters = app.topic(
        stream.topics.dead_letter, key_serializer="raw", value_serializer="raw"
    )
    alert_dead_letters = app.topic(
        stream.topics.alert_dead_letter, key_serializer="raw", value_serializer="raw"
    )
    mentions = app.Table("mentions", key_type=str)
    hourly = app.Table("hourly", key_type=str)
    incidents = app.Table("incidents", key_type=str)
    cases = app.Table("cases", key_type=str)
    deliveries = app.Table("deliveries", key_type=str)
    silences = app.GlobalTable("silences", key_type=str)

    enricher = Enricher(settings)
    counts = Counts()
    stage = CountStage(settings, counts, hourly.data, incidents.data, clock)
    stats = StreamStats()
    metrics = Metrics(settings, stats, counts, lambda: _owned_open(cases.data, owns),
                      lambda: _lag(app))  # fmt: skip
    sinks = build_sinks(settings.alerts.sinks, env)
    playbook = load_playbook(settings.alerts.playbook)
    responder = RespondStage(
        settings, lambda: playbook, cases.data, deliveries.data, silences.data, clock
    )
    owned: set[int] = set()  # partitions of the incidents topic this worker owns, recovered
    respond_lock = asyncio.Lock()
    dispatchers: dict[str, Dispatcher] = {}

    def owns(brand: str) -> bool:
        return brand_partition(brand, partitions) in owned

    async def apply_response(writes: RespondWrites) -> None:
        """Deliveries first, acknowledged by the broker, then the cases, then the events."""
        await _write(deliveries, writes.deliveries, partitions, _delivery_brand, wait=True)
        await _write(cases, writes.cases, partitions, _case_brand, wait=True)
        stats.deadlines.update(writes.deadlines)
        for event in writes.events:
            brand = event["case"]["brand"]
            stats.case_events[event["step"]] += 1
            await incidents_out.send(
                key=brand.encode(),
                value=json.dumps(event, ensure_ascii=False).encode(),
                partition=brand_partition(brand, partitions),
                force=True,
            )
        for dispatcher in dispatchers.values():
            dispatcher.wake.set()

    async def respond(work: Callable[[], RespondWrites]) -> RespondWrites:
        """One change to the cases at a time: the agent, the timer and the API share them."""
        async with respond_lock:
            writes = work()
            await apply_response(writes)
            return writes

    @app.agent(comments)
    async def enrich(events_stream: StreamT[bytes]) -> None:
        async for event in events_stream.events():
            stats.received += 1
            result = enrich_batch([event.value], enricher, settings, clock())
            for brand, record in result.records:
                partition = brand_partition(brand, partitions)
                await scored.send(key=brand.encode(), value=record, partition=partition, force=True)
            for dead in result.dead:
                stats.dead_lettered[dead.reason] += 1
                await dead_letters.send(
                    value=dead.original or b"",
                    headers={"reason": dead.reason.encode(), "error": dead.message.encode()},
                    force=True,
                )
            stats.scored += len(result.records)
            stats.unattributed += result.unattributed
            now = clock()
            for created in result.created:
                metrics.latency.observe(max(0.0, (now - created).total_seconds()))

    @app.agent(scored)
    async def count(events_stream: StreamT[bytes]) -> None:
        async for event in events_stream.events():
            writes = stage.process([json.loads(event.value)])
            await _apply(writes, mentions, hourly, incidents, partitions)
            stats.counted += writes.counted
            for mention, label in writes.counted_labels:
                metrics.mention(mention.brand, mention.platform, label, len(mention.crisis))
            stats.late += writes.late
            stats.duplicates += writes.duplicates
            for incident_event in writes.events:
                brand = incident_event["incident"]["brand"]
                stats.incident_events[incident_event["event"]] += 1
                await incidents_out.send(
                    key=brand.encode(),
                    value=json.dumps(incident_event, ensure_ascii=False).encode(),
                    partition=brand_partition(brand, partitions),
                    force=True,
                )

    @app.agent(incidents_out)
    async def respond_to(events_stream: StreamT[bytes]) -> None:
        async for event in events_stream.events():
            document = json.loads(event.value)
            if document.get("event") != CASE_EVENT:
                await respond(lambda: responder.detected(document))  # noqa: B023  # awaited here

    @app.timer(settings.alerts.tick_seconds)  # type: ignore[untyped-decorator]
    async def take_due_steps() -> None:
        if owned:
            await respond(lambda: responder.tick(owns))

    @app.task  # type: ignore[untyped-decorator]
    async def dispatch() -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            for name, sink in sinks.items():
                dispatchers[name] = Dispatcher(
                    sink, settings.alerts, pending_deliveries, store_delivery,
                    dead_letter_delivery, client, clock, count_alert,
                )  # fmt: skip
            await asyncio.gather(*(dispatcher.run() for dispatcher in dispatchers.values()))

    def pending_deliveries() -> list[Delivery]:
        return [
            Delivery.from_dict(document)
            for document in list(deliveries.data.values())
            if document["state"] == "pending" and owns(document["notice"]["case"]["brand"])
        ]

    async def store_delivery(delivery: Delivery) -> None:
        await _write(deliveries, {delivery.key: delivery.as_dict()}, partitions, _delivery_brand)

    async def dead_letter_delivery(delivery: Delivery) -> None:
        await alert_dead_letters.send(
            key=delivery.key.encode(),
            value=json.dumps(delivery.as_dict(), ensure_ascii=False).encode(),
            headers={"reason": b"sink_failed", "error": delivery.error.encode()},
            force=True,
        )

    def count_alert(sink: str, result: str) -> None:
        stats.alerts[(sink, result)] += 1

    def count_check(result: str) -> None:
        stats.compliance[result] += 1

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode's Signal typing
    async def stop_responding(sender: faust.App, *_: Any, **__: Any) -> None:
        owned.clear()

    @app.on_rebalance_complete.connect  # type: ignore[arg-type]  # mode's Signal typing
    async def rebuild_counts(sender: faust.App, **_: Any) -> None:
        """After recovery the tables hold the owned brands' state: count again, and let
        the timer and the dispatchers work on the owned brands' cases."""
        topic = scored.get_topic_name()
        mine = {tp.partition for tp in sender.assignor.assigned_actives() if tp.topic == topic}
        counts.clear()
        for key, value in list(mentions.data.items()):
            if brand_partition(brand_of_key(key), partitions) in mine:
                counts.add(Mention.from_json(key, value))
        log.info("counts rebuilt: %s", dict(counts.mentions_by_brand()))
        owned.clear()
        owned.update(mine)
        for dispatcher in dispatchers.values():
            dispatcher.wake.set()

    async def save_silence(silence: Silence) -> None:
        await _write(silences, {silence.id: silence.as_dict()}, partitions, _any_brand, True)

    register_compliance(app, default_checker(settings.compliance.exempt_names), count_check)
    register_api(app, responder, respond, save_silence, env.get(settings.alerts.token_env, ""),
                 clock)  # fmt: skip

    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            assigned = len(app.consumer.assignment()) if app.consumer else 0
            return self.json({"status": "ok", "assigned_partitions": assigned, **stats.health()})

    @app.page("/metrics")
    class Exposition(View):
        async def get(self, request: Request) -> Response:
            # aiohttp refuses a charset inside content_type, so the header is set after
            response = self.bytes(metrics.exposition(), content_type="text/plain")
            response.headers["Content-Type"] = CONTENT_TYPE_LATEST
            return response

    @app.page("/counts")
    class BrandCounts(View):
        """This worker's brands: mentions kept, and the rolling hour now."""

        async def get(self, request: Request) -> Response:
            document = {}
            kept = counts.mentions_by_brand()
            for brand, window in counts.windows.items():
                totals = window.totals()
                document[brand] = {
                    "mentions_kept": kept[brand],
                    "rolling_mentions": totals.mentions,
                    "rolling_negatives": totals.negatives,
                    "threshold": settings.threshold_for(brand),
                }
            return self.json(document)

    return app


async def _apply(
    writes: Writes,
    mentions: TableT[str, Any],
    hourly: TableT[str, Any],
    incidents: TableT[str, Any],
    partitions: int,
) -> None:
    for table, changes in ((mentions, writes.mentions), (hourly, writes.hourly),
                           (incidents, writes.incidents)):  # fmt: skip
        await _write(table, changes, partitions)


BrandOf = Callable[[str, Any], str]


def _owned_open(cases: Mapping[str, Any], owns: Callable[[str], bool]) -> list[Mapping[str, Any]]:
    return [c for c in list(cases.values()) if c["state"] not in CLOSED and owns(c["brand"])]


def _lag(app: faust.App) -> dict[str, int]:
    """Records behind, per topic, over this worker's partitions (highwater − committed)."""
    consumer = app.consumer if app.consumer else None
    behind: Counter[str] = Counter()
    if consumer is None:
        return {}
    for tp in consumer.assignment():
        committed = consumer._committed_offset.get(tp)  # type: ignore[attr-defined]  # no public accessor
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # not fetched yet
            continue
        if highwater is not None:
            behind[tp.topic] += max(0, highwater - (committed or 0))
    return dict(behind)


def _brand_in_key(key: str, value: Any) -> str:
    return brand_of_key(key)


def _any_brand(key: str, value: Any) -> str:
    return ""


def _case_brand(key: str, case: Any) -> str:
    return str(case["brand"])


def _delivery_brand(key: str, delivery: Any) -> str:
    return str(delivery["notice"]["case"]["brand"])


async def _write(
    table: TableT[str, Any],
    changes: Mapping[str, Any],
    partitions: int,
    brand_of: BrandOf = _brand_in_key,
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
