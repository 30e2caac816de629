"""The Faust app: topics, tables and two thin agents around `monitor.detect.stages`; the
playbook's agent, timer and dispatchers are added by `monitor.stream.casework`.

comments ─► enrich ─► scored (partitioned by brand) ─► count ─► incidents ─► casework
                └─► dead letters (the record as it came, reason in the headers)
conversations ─► QA review ─► qa-cases (`monitor.stream.qa`)

State lives in tables whose changelog partition is the brand's partition, so a worker
that restarts, or one that takes over a partition, rebuilds exactly the counts, baseline,
incidents, cases and undelivered alerts of the brands it now owns. Silences are in a
global table: every worker needs all of them.

Both agents take their records in batches (`batches`): Faust's `noack_take`, acknowledged
by hand once everything the batch produced is stored, and counted in one step, so that a
brand's hour, waves and incidents are looked at once per batch rather than once per
mention (twice the throughput). The enrich agent sends a batch's scored records as one
message per brand (`bundle`): the broker stores, and the count agent reads, a message per
brand and batch where it took one per mention (2,200 comments/s to 4,000 in
`bench.stream`). Not `take_events`: with it a worker killed mid-stream lost 0.2-0.5 % of
the records it had read (their offsets were committed, their results never sent): when a
batch is cut by its timeout, records read while it is processed can join the list it
acknowledges at its end. Here only the records handed to the agent are acknowledged, and
Faust commits no offset past one that was not.

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
import sys
import threading
from collections import Counter
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path
from typing import Any, cast

import faust
from faust.streams import Stream
from faust.types import EventT, StreamT, TableT, TopicT
from faust.web import Request, Response, View
from prometheus_client import CONTENT_TYPE_LATEST

from monitor.detect.counting import Counts, Mention
from monitor.detect.enrich import Enricher
from monitor.detect.records import DeadLetter, dead_letter
from monitor.detect.stages import (
    CountStage,
    Writes,
    brand_of_key,
    brand_partition,
    bundle,
    enrich_batch,
    read_scored,
)
from monitor.metrics.collector import Metrics, StreamStats
from monitor.settings import Settings, StreamSettings, TopicNames
from monitor.stream.brokerwatch import BrokerProbe
from monitor.stream.casework import Casework, SendDeadLetter, add_casework
from monitor.stream.ingest import bootstrap_servers
from monitor.stream.qa import add_qa, qa_table
from monitor.stream.tables import gc_paused, publish, recover_tail, until_stored, write_table
from monitor.stream.transport import transport_url
from monitor.text.compliance import default_checker
from monitor.web.api import register_compliance

log = logging.getLogger(__name__)

# An agent takes up to BATCH_EVENTS records, or what came within BATCH_SECONDS, and
# acknowledges them once everything they produced is stored (see the module's notes).
BATCH_EVENTS = 500
BATCH_SECONDS = 0.05
# A scored message holds at most this much: Faust's producer refuses a request over
# 1,000,000 bytes (producer_max_request_size), whatever limits.max_record_bytes allows.
MESSAGE_BYTES = 900_000
# A scored message read, its records that can be counted, and whether it held only those.
Checked = tuple[EventT[bytes], list[Mapping[str, Any]], bool]


def build_app(
    settings: Settings,
    broker: str,
    datadir: Path,
    web_port: int | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    env: Mapping[str, str] = os.environ,
) -> faust.App:
    app = _faust_app(settings.stream, broker, datadir, web_port)
    topics = Topics.declare(app, settings.stream.topics)
    tables = CountTables.declare(app)
    stats = StreamStats()
    dead_letters = DeadLetters(topics.dead_letters, stats)
    enricher = Enricher(settings)
    counts = Counts(settings.waves)
    compliance = settings.compliance
    checker = default_checker(compliance.exempt_names, compliance.off_categories)
    count_check = partial(_count_check, stats)
    qa_cases = qa_table(app)
    casework = add_casework(app, settings, topics.incidents, topics.comments, stats, clock, env,
                            dead_letters.send, checker, count_check, qa_cases)  # fmt: skip
    metrics = Metrics(settings, stats, counts, casework.open_cases, lambda: _lag(app))
    add_qa(app, settings, enricher.scorer, metrics, clock, dead_letters.send, qa_cases)
    pipeline = Pipeline(settings, topics, tables, enricher, counts, stats, metrics,
                        dead_letters.send, clock)  # fmt: skip
    app.agent(topics.comments)(pipeline.enrich)
    app.agent(topics.scored)(pipeline.count)
    recovered = [tables.mentions, tables.hourly, tables.incidents, casework.cases,
                 casework.deliveries, qa_cases]  # fmt: skip
    recovery = Recovery(broker, topics.scored, recovered, pipeline, casework)
    app.on_rebalance_complete.connect(recovery.rebuild_counts)  # type: ignore[arg-type]  # mode's Signal typing
    register_compliance(app, checker, count_check)
    watch = BrokerWatch(app, settings.stream, broker, stats, clock)
    app.timer(interval=settings.stream.broker_check_seconds)(watch.watch_broker)
    _add_status_pages(app, settings, stats, metrics, counts)
    return app


def _faust_app(
    stream: StreamSettings, broker: str, datadir: Path, web_port: int | None
) -> faust.App:
    return faust.App(
        stream.app_id,
        broker=transport_url(broker),  # Faust's aiokafka, fetching without a 1.5 s hold
        store="guanchao://",  # ChangelogStore: reads its changelog in bulk
        datadir=str(datadir),
        web_host=stream.web_host,
        web_bind=stream.web_host,
        web_port=stream.web_port if web_port is None else web_port,
        canonical_url=stream.web_url or None,  # how other workers reach this one
        # Faust's own views serve table contents (cases with phone numbers) to anyone:
        # every route Guanchao serves is its own, and those with case data need the token.
        web_router_enabled=False,
        web_tables_enabled=False,
        web_stats_enabled=False,
        web_graph_enabled=False,
        web_metrics_enabled=False,
        topic_partitions=stream.partitions,
        topic_replication_factor=1,
        table_standby_replicas=0,
        consumer_auto_offset_reset="earliest",
        broker_rebalance_timeout=stream.rebalance_timeout_seconds,
        broker_session_timeout=max(10.0, stream.rebalance_timeout_seconds * 2),
        broker_heartbeat_interval=1.0,
        broker_commit_interval=0.5,
        producer_linger=0.005,
        stream_wait_empty=False,
        # The check compares the changelog's end with offsets only this process applied:
        # tables are in memory, rebuilt from the changelog at every start, and Tansu
        # reports an end one short (see `recover_tail`). It stopped a worker whose state
        # was right with ConsistencyError after a crash and two quick restarts (#10).
        recovery_consistency_check=False,
    )


@dataclass(frozen=True)
class Topics:
    """The comment pipeline's topics, in raw bytes: `monitor.detect` reads and writes
    the records, so a record it cannot read is still dead-lettered as it came."""

    comments: TopicT
    scored: TopicT
    incidents: TopicT
    dead_letters: TopicT

    @classmethod
    def declare(cls, app: faust.App, names: TopicNames) -> Topics:
        def raw(name: str) -> TopicT:
            return app.topic(name, key_serializer="raw", value_serializer="raw")

        return cls(raw(names.comments), raw(names.scored), raw(names.incidents),
                   raw(names.dead_letter))  # fmt: skip


@dataclass(frozen=True)
class CountTables:
    mentions: TableT[str, Any]
    hourly: TableT[str, Any]
    incidents: TableT[str, Any]

    @classmethod
    def declare(cls, app: faust.App) -> CountTables:
        return cls(*(app.Table(name, key_type=str) for name in ("mentions", "hourly", "incidents")))


@dataclass(frozen=True)
class DeadLetters:
    topic: TopicT
    stats: StreamStats

    async def send(self, dead: DeadLetter, source: Any) -> None:
        """Counted once the broker has it, so /health never shows more than the topic."""
        value, headers = dead.message_for(source.partition, source.offset, source.key)

        async def write() -> None:
            await (await self.topic.send(value=value, headers=headers, force=True))

        try:
            await until_stored(write, f"a dead letter ({dead.reason})")
        except Exception:  # nothing left to keep it in: said, and the stream goes on
            log.exception("a dead letter (%s) could not be stored", dead.reason)
            return
        self.stats.dead_lettered[dead.reason] += 1


def _count_check(stats: StreamStats, result: str) -> None:
    stats.compliance[result] += 1


async def batches(stream: StreamT[bytes]) -> AsyncIterator[list[EventT[bytes]]]:
    """Up to BATCH_EVENTS events, or those that came within BATCH_SECONDS; each is
    acknowledged once the loop's body is done with its batch, never before."""
    taking = cast(Stream[bytes], stream).noack_take(BATCH_EVENTS, within=BATCH_SECONDS)
    async for taken in taking:
        events = cast(list[EventT[bytes]], taken)  # typed as values, but they are events
        yield events
        for event in events:
            await stream.ack(event)


class Pipeline:
    """The two comment agents, enrich and count (in batches, every send `force=True`:
    see the module's notes)."""

    def __init__(
        self,
        settings: Settings,
        topics: Topics,
        tables: CountTables,
        enricher: Enricher,
        counts: Counts,
        stats: StreamStats,
        metrics: Metrics,
        send_dead_letter: SendDeadLetter,
        clock: Callable[[], datetime],
    ) -> None:
        self.settings = settings
        self.partitions = settings.stream.partitions
        self.topics = topics
        self.tables = tables
        self.enricher = enricher
        self.counts = counts
        self.stats = stats
        self.metrics = metrics
        self.send_dead_letter = send_dead_letter
        self.clock = clock
        self.stage = CountStage(settings, counts, tables.hourly.data, tables.incidents.data, clock)

    async def enrich(self, events_stream: StreamT[bytes]) -> None:
        async for events in batches(events_stream):
            sent = await self.enrich_batch(events)
            await asyncio.gather(*sent, return_exceptions=True)  # `stored` counts them

    async def enrich_batch(self, events: Sequence[EventT[bytes]]) -> list[asyncio.Future[Any]]:
        """Score a batch and send its records, one message per brand (`bundle`); the
        futures of the sends."""
        self.stats.received += len(events)
        scored: list[tuple[str, bytes, EventT[bytes]]] = []
        for event in events:
            result = enrich_batch([event.value], self.enricher, self.settings, self.clock())
            scored += [(brand, record, event) for brand, record in result.records]
            for dead in result.dead:
                await self.send_dead_letter(dead, event.message)
            self.stats.unattributed += result.unattributed
            now = self.clock()
            for created in result.created:
                self.metrics.latency.observe(max(0.0, (now - created).total_seconds()))
        sent: list[asyncio.Future[Any]] = []
        refused: dict[int, tuple[EventT[bytes], str]] = {}  # by event, once however many
        for message in bundle(scored, min(self.settings.limits.max_scored_bytes, MESSAGE_BYTES)):
            try:
                future = await self.topics.scored.send(
                    key=message.brand.encode(), value=message.value, force=True,
                    partition=brand_partition(message.brand, self.partitions),
                )  # fmt: skip
            except Exception as error:  # refused before sending (size): its records are kept
                refused.update((id(event), (event, repr(error))) for event in message.sources)
                continue
            sent.append(asyncio.ensure_future(future))
            sent[-1].add_done_callback(partial(self.stored, len(message.sources)))
        for event, why in refused.values():
            await self.send_dead_letter(DeadLetter(event.value, "unsendable", why), event.message)
        return sent

    def stored(self, records: int, sent: asyncio.Future[Any]) -> None:
        """Scored records are counted once the broker has them: awaiting each message
        would serialise the stream on round trips."""
        error = "cancelled" if sent.cancelled() else sent.exception()
        if error is None:
            self.stats.scored += records
        else:
            self.stats.unsent += records
            log.error("%d scored records were not stored: %s", records, error)

    async def count(self, events_stream: StreamT[bytes]) -> None:
        async for events in batches(events_stream):
            await self.count_batch(events)

    async def count_batch(self, events: Sequence[EventT[bytes]]) -> None:
        """Count a batch in one step: the hour's totals, waves and incidents of each brand
        are looked at once per batch, not once per mention."""
        checked: list[Checked] = []
        for event in events:
            try:
                records, dead = read_scored(event.value, self.settings, self.clock())
            except Exception as error:  # a message we did not write: kept, not fatal
                await self.send_dead_letter(dead_letter(event.value, error), event.message)
                continue
            for refused in dead:
                await self.send_dead_letter(refused, event.message)
            if records:
                checked.append((event, records, not dead))
        try:
            writes = self.stage.process([record for _, records, _ in checked for record in records])
            await until_stored(lambda: self.apply(writes), "counted mentions")
        except Exception as error:  # a bug, or a write the broker refuses: the records are kept
            await self.keep_uncounted(checked, error)
            return
        self.stats.counted += writes.counted
        for mention, label in writes.counted_labels:
            self.metrics.mention(mention.brand, mention.platform, label, len(mention.crisis))
        self.stats.late += writes.late
        self.stats.duplicates += writes.duplicates
        self.stats.incident_events.update(change["event"] for change in writes.events)

    async def keep_uncounted(self, checked: Sequence[Checked], error: Exception) -> None:
        """Dead letters for records that could not be counted: a message whole, or, where
        some of its records went to the dead-letter topic already, each of the others."""
        for event, records, whole in checked:
            if whole:
                await self.send_dead_letter(dead_letter(event.value, error), event.message)
                continue
            for record in records:
                raw = json.dumps(record, ensure_ascii=False).encode()
                await self.send_dead_letter(dead_letter(raw, error), event.message)

    async def apply(self, writes: Writes) -> None:
        """The counts in memory have the mention already, and a replay of it would be a
        duplicate: its writes are sent again while the broker refuses them."""
        tables = self.tables
        for table, changes in ((tables.mentions, writes.mentions), (tables.hourly, writes.hourly),
                               (tables.incidents, writes.incidents)):  # fmt: skip
            await write_table(table, changes, self.partitions)
        for incident_event in writes.events:
            brand = incident_event["incident"]["brand"]
            await publish(self.topics.incidents, brand, incident_event, self.partitions)

    def recount(self, mine: set[int]) -> None:
        stored = list(self.tables.mentions.data.items())
        with gc_paused():
            self.counts.restore(
                Mention.from_json(key, value)
                for key, value in stored
                if brand_partition(brand_of_key(key), self.partitions) in mine
            )
        log.info("counts rebuilt: %s", dict(self.counts.mentions_by_brand()))


class Recovery:
    """After recovery the tables hold the owned brands' state: count again, and let
    the timer and the dispatchers work on the owned brands' cases."""

    def __init__(
        self,
        broker: str,
        scored: TopicT,
        tables: Sequence[TableT[str, Any]],
        pipeline: Pipeline,
        casework: Casework,
    ) -> None:
        self.bootstrap = bootstrap_servers(broker)
        self.scored = scored
        self.tables = tables
        self.pipeline = pipeline
        self.casework = casework

    async def rebuild_counts(self, sender: faust.App, **_: Any) -> None:
        topic = self.scored.get_topic_name()
        mine = {tp.partition for tp in sender.assignor.assigned_actives() if tp.topic == topic}
        try:
            applied = await recover_tail(self.bootstrap, self.tables, mine)
            log.info("recovery completed with %d newest changelog records", applied)
        except Exception as error:  # the broker went away meanwhile: a worker stopped here
            log.warning("the newest changelog records were not re-read (%s: %s); the tables "
                        "are as Faust recovered them", type(error).__name__, error)  # fmt: skip
        self.pipeline.recount(mine)
        self.casework.take_over(mine)
        self.pipeline.stats.ready = True


class BrokerWatch:
    """/health says when the broker is gone; when it is back, the topics it lost are
    created again (a broker restarted empty would otherwise leave the worker idle)."""

    def __init__(
        self,
        app: faust.App,
        stream: StreamSettings,
        broker: str,
        stats: StreamStats,
        clock: Callable[[], datetime],
    ) -> None:
        self.app = app
        self.stream = stream
        self.broker = broker
        self.probe = BrokerProbe(bootstrap_servers(broker))
        self.stats = stats
        self.clock = clock

    async def watch_broker(self) -> None:
        error = await self.probe.answer()
        if error and self.stats.broker_failed(self.clock(), error):
            log.warning("the broker at %s does not answer: %s", self.broker, error)
        elif not error and self.stats.broker_answered():
            await self.restore_topics()

    async def restore_topics(self) -> None:
        names = list(self.stream.topics.model_dump().values())
        changelogs = [table.changelog_topic.get_topic_name() for table in self.app.tables.values()]
        try:
            created = await self.probe.ensure_topics(names, self.stream.partitions, changelogs)
        except Exception as failure:  # gone again: the next check says so
            self.stats.broker_failed(self.clock(), f"{type(failure).__name__}: {failure}")
            return
        lost = f"; it had lost these topics, created again: {', '.join(created)}"
        log.warning("the broker answers again%s", lost if created else "")


def _add_status_pages(
    app: faust.App, settings: Settings, stats: StreamStats, metrics: Metrics, counts: Counts
) -> None:
    @app.page("/health")
    class Health(View):
        async def get(self, request: Request) -> Response:
            assigned = len(app.consumer.assignment()) if app.consumer else 0
            health = {"assigned_partitions": assigned, **stats.health()}
            return self.json(health, status=200 if health["status"] == "ok" else 503)

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


def _lag(app: faust.App) -> dict[str, int]:
    """Records behind, per topic, over this worker's partitions (highwater − committed)."""
    consumer = app.consumer
    behind: Counter[str] = Counter()
    for tp in consumer.assignment() if consumer else ():
        committed = consumer._committed_offset.get(tp)  # type: ignore[attr-defined]  # no public accessor
        try:
            highwater = consumer.highwater(tp)
        except Exception:  # not fetched yet
            continue
        if highwater is not None:
            behind[tp.topic] += max(0, highwater - (committed or 0))
    return dict(behind)


class Worker(faust.Worker):
    """A worker that always ends when asked to: with the broker gone, Faust's shutdown
    waits on commits that never complete and the process ignored SIGTERM."""

    def __init__(self, app: faust.App, shutdown_timeout: float, **options: Any) -> None:
        super().__init__(app, **options)
        # Faust's terminal spinner turns once per log record: it sets the root logger to
        # DEBUG, and every debug call of aiokafka and Faust (several per message sent) was
        # made into a record and redacted, then dropped: a fifth of the worker's time.
        self.spinner = None
        self.shutdown_timeout = shutdown_timeout
        threading.excepthook = _thread_ended

    def _schedule_shutdown(self, signal: Any) -> None:
        timer = threading.Timer(self.shutdown_timeout, self._give_up)
        timer.daemon = True
        timer.start()
        super()._schedule_shutdown(signal)

    def _give_up(self) -> None:
        sys.stderr.write(
            f"guanchao worker: not stopped after {self.shutdown_timeout:.0f}s "
            "(is the broker reachable?); exiting without a clean shutdown\n"
        )
        sys.stderr.flush()
        os._exit(1)


def _thread_ended(args: threading.ExceptHookArgs) -> None:
    """One log line, not a stack dump on stderr: Faust's consumer thread ends with a
    CancelledError when the worker stops while the broker is gone."""
    name = args.thread.name if args.thread else "a thread"
    log.warning("%s ended: %s: %s", name, args.exc_type.__name__, args.exc_value)
    log.debug("%s ended", name, exc_info=args.exc_value)
