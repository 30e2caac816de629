"""The playbook on the Faust app: cases from the incidents topic, the timer that takes due
steps, one dispatcher per sink, and the incident API.

incidents topic ─► respond ─┐
timer (reminders, pages) ───┼─► cases table ─► deliveries table (the outbox) ─► dispatchers
API actions ────────────────┘                                                   └─► sinks

The agent, the timer and the API change cases one at a time (a lock), and each change is
applied deliveries first, then the case that records the step (`RespondWrites`). The timer
also re-posts open cases to the Alertmanager sinks (`RespondStage.tick`). A record of the
incidents topic that is not a detector event, or that fails in any way, is dead-lettered
with its reason and the agent goes on.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import faust
import httpx
from faust.types import StreamT, TableT, TopicT
from yarl import URL

from alerts.delivery import PENDING, Delivery, Dispatcher
from alerts.outbox import RespondStage, RespondWrites, parse_detection
from alerts.routing import Silence
from alerts.sinks import build_sinks
from alerts.sinks.base import secret
from monitor.casework.cases import CLOSED
from monitor.casework.drill import burst
from monitor.casework.playbook import load_playbook
from monitor.detect.records import DeadLetter, dead_letter
from monitor.detect.stages import brand_partition
from monitor.metrics.collector import StreamStats
from monitor.qa.casebook import case_route
from monitor.settings import Settings, drill_name
from monitor.signing import Links, Signer
from monitor.stream.ingest import bootstrap_servers
from monitor.stream.tables import (
    any_brand,
    case_brand,
    delivery_brand,
    follow_changelog,
    publish,
    until_stored,
    write_table,
)
from monitor.text.compliance import ComplianceChecker
from monitor.web.api import MAX_CHECKS_WAITING, Offload, register_api
from monitor.web.console import Console, register_console

log = logging.getLogger(__name__)

# Publishes a dead letter, with the message it came from (partition, offset, key), on
# the dead-letter topic, and counts it (`StreamStats.dead_lettered`).
SendDeadLetter = Callable[[DeadLetter, Any], Awaitable[None]]


@dataclass
class Casework:
    """What the rest of the app needs of the playbook: the cases, and which partitions
    this worker owns (set after each rebalance, once the tables are recovered)."""

    cases: TableT[str, Any]
    deliveries: TableT[str, Any]
    owned: set[int] = field(default_factory=set)
    dispatchers: dict[str, Dispatcher] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def take_over(self, partitions: set[int]) -> None:
        self.owned.clear()
        self.owned.update(partitions)
        self.ready.set()
        for dispatcher in self.dispatchers.values():
            dispatcher.wake.set()

    def give_up(self) -> None:
        self.ready.clear()
        self.owned.clear()

    def open_cases(self, partitions: int) -> list[Mapping[str, Any]]:
        return [
            case
            for case in list(self.cases.data.values())
            if case["state"] not in CLOSED
            and brand_partition(case["brand"], partitions) in self.owned
        ]


def add_casework(
    app: faust.App,
    settings: Settings,
    incidents: TopicT,
    comments: TopicT,
    stats: StreamStats,
    clock: Callable[[], datetime],
    env: Mapping[str, str],
    send_dead_letter: SendDeadLetter,
    checker: ComplianceChecker,
    count_check: Callable[[str], None],
    qa_cases: TableT[str, Any],
) -> Casework:
    partitions = settings.stream.partitions
    alert_dead_letters = app.topic(
        settings.stream.topics.alert_dead_letter, key_serializer="raw", value_serializer="raw"
    )
    deliveries = app.Table("deliveries", key_type=str)
    work = Casework(app.Table("cases", key_type=str), deliveries)
    silences = app.GlobalTable("silences", key_type=str)
    refresh = timedelta(minutes=settings.alerts.alertmanager_refresh_minutes)
    sinks = build_sinks(settings.alerts.sinks, env, refresh)
    signer = Signer.from_env(env, settings.alerts.link_secret_env, settings.alerts.token_env)
    links = Links(settings.alerts.public_url, signer, timedelta(hours=settings.alerts.link_hours))
    responder = RespondStage(
        settings,
        load_playbook(settings.alerts.playbook),
        work.cases.data,
        deliveries.data,
        silences.data,
        clock,
    )
    lock = asyncio.Lock()

    def owns(brand: str) -> bool:
        return brand_partition(brand, partitions) in work.owned

    async def respond(change: Callable[[], RespondWrites]) -> RespondWrites:
        async with lock:
            writes = change()
            await store_writes(writes)
            stats.deadlines.update(writes.deadlines)
            stats.case_events.update(event["step"] for event in writes.events)
        for dispatcher in work.dispatchers.values():
            dispatcher.wake.set()
        return writes

    async def store_writes(writes: RespondWrites) -> None:
        """Under the lock, so that no later change to the same case reaches the changelog
        before this one; an API caller waits too, as the change is in the store already."""

        async def write() -> None:
            await write_table(deliveries, writes.deliveries, partitions, delivery_brand, True)
            await write_table(work.cases, writes.cases, partitions, case_brand, True)
            for event in writes.events:
                await publish(incidents, event["case"]["brand"], event, partitions)

        await until_stored(write, "a playbook step")

    @app.agent(incidents)
    async def respond_to(events_stream: StreamT[bytes]) -> None:
        """Waits for the tables after each rebalance: a case must be known before an event
        about it is handled, or a replayed "opened" would open it (and page) again."""
        async for event in events_stream.events():
            await work.ready.wait()
            try:
                document = parse_detection(event.value)
                if document is not None:
                    await respond(lambda: responder.detected(document))  # noqa: B023  # awaited
            except Exception as error:  # any failure but the broker's is this record's
                await refuse(dead_letter(event.value, error), event.message)

    async def refuse(dead: DeadLetter, source: Any) -> None:
        log.warning("incident event dead-lettered (%s): %s", dead.reason, dead.message)
        try:
            await send_dead_letter(dead, source)
        except Exception:
            log.exception("could not dead-letter an incident event (%s)", dead.reason)

    @app.timer(settings.alerts.tick_seconds)  # type: ignore[untyped-decorator]
    async def take_due_steps() -> None:
        if not work.owned:
            return
        try:
            await respond(lambda: responder.tick(owns))
        except Exception:  # a bug in one case's step must not stop the timer for all
            log.exception("the playbook's due steps failed; trying again at the next tick")

    def pending(sink: str) -> list[Delivery]:
        """Filtered before parsing: every dispatcher asks on each turn."""
        return [
            Delivery.from_dict(document)
            for document in list(deliveries.data.values())
            if document["sink"] == sink
            and document["state"] == PENDING
            and owns(document["notice"]["case"]["brand"])
        ]

    async def store(delivery: Delivery) -> None:
        """Waits for the broker: a delivery marked sent must not be sent again after a
        restart (the idempotency key covers the moment in between)."""
        await write_table(deliveries, {delivery.key: delivery.as_dict()}, partitions,
                          delivery_brand, wait=True)  # fmt: skip

    async def dead_letter_alert(delivery: Delivery) -> None:
        await alert_dead_letters.send(
            key=delivery.key.encode(),
            value=json.dumps(delivery.as_dict(), ensure_ascii=False).encode(),
            headers={"reason": b"sink_failed", "error": delivery.error.encode()},
            force=True,
        )

    def count(sink: str, result: str) -> None:
        stats.alerts[(sink, result)] += 1

    @app.task  # type: ignore[untyped-decorator]
    async def dispatch() -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            for name, sink in sinks.items():
                work.dispatchers[name] = Dispatcher(
                    sink, settings.alerts, pending, store, dead_letter_alert, client, clock,
                    count, links,
                )  # fmt: skip
            await asyncio.gather(*(d.run() for d in work.dispatchers.values()))

    @app.task  # type: ignore[untyped-decorator]
    async def follow_silences() -> None:
        broker = ";".join(str(url) for url in app.conf.broker)
        await follow_changelog(bootstrap_servers(broker), silences, partitions)

    @app.on_partitions_revoked.connect  # type: ignore[arg-type]  # mode's Signal typing
    async def stop_responding(sender: faust.App, *_: Any, **__: Any) -> None:
        work.give_up()

    async def save_silence(silence: Silence) -> None:
        await write_table(silences, {silence.id: silence.as_dict()}, partitions, any_brand, True)

    token = env.get(settings.alerts.token_env, "")
    register_api(app, responder, respond, save_silence, token, clock)

    async def start_drill(brand: str) -> int:
        """A drill's burst on the comments topic, through the real pipeline; its size."""
        complaints = burst(brand, settings.threshold_for(brand) + 5, uuid.uuid4().hex[:8], clock())
        for complaint in complaints:
            value = json.dumps(complaint, ensure_ascii=False).encode()

            async def send(value: bytes = value) -> None:
                await (await comments.send(value=value, force=True))

            await until_stored(send, "a drill complaint")
        return len(complaints)

    brands = [brand.name for brand in settings.brands]
    known = sorted({*brands, *(drill_name(b) for b in brands)}, key=len, reverse=True)

    def owner_of(case_id: str) -> str | None:
        """The web address of the worker that holds the case, when it is another one:
        its brand's partition of the cases' changelog, in the group's assignment."""
        brand = next((name for name in known if case_id.startswith(f"{name}:")), None)
        if brand is None:
            return None
        topic = work.cases.changelog_topic.get_topic_name()
        partition = brand_partition(brand, partitions)
        for url, topics in app.assignor.table_metadata(topic).items():
            if partition in topics.get(topic, ()) and URL(url) != URL(str(app.conf.canonical_url)):
                return url
        return None

    def peers() -> list[str]:
        """The web addresses of the group's other workers, in its assignment: the
        console's board, silences and drills show what each of them holds."""
        me = URL(str(app.conf.canonical_url))
        return sorted(url for url in app.assignor.tables_metadata() if URL(url) != me)

    people = {secret(env, p.token_env): p.name for p in settings.alerts.console_people}

    def holds(case_id: str) -> bool:
        stored = work.cases.data.get(case_id)
        return stored is not None and owns(stored["brand"])

    def held_qa() -> dict[str, Any]:
        """The QA cases of the shops whose partitions this worker owns now."""
        return {key: case for key, case in list(qa_cases.data.items())
                if owns(case_route(case))}  # fmt: skip

    console = Console(responder, respond, signer, token, settings.alerts.public_url, clock,
                      save_silence, start_drill, brands, owner_of, people, holds,
                      peers, held_qa)  # fmt: skip
    register_console(app, console, checker, Offload("console", MAX_CHECKS_WAITING), count_check)
    return work
