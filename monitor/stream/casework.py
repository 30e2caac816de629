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
from alerts.sinks.base import Sink, secret
from monitor.casework.cases import CLOSED
from monitor.casework.drill import burst
from monitor.casework.playbook import load_playbook
from monitor.detect.records import DeadLetter, dead_letter
from monitor.detect.stages import brand_partition
from monitor.metrics.collector import StreamStats
from monitor.qa.casebook import case_route
from monitor.settings import AlertSettings, Settings, drill_name
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
    alerts = settings.alerts
    partitions = settings.stream.partitions
    alert_dead_letters = app.topic(
        settings.stream.topics.alert_dead_letter, key_serializer="raw", value_serializer="raw"
    )
    deliveries = app.Table("deliveries", key_type=str)
    work = Casework(app.Table("cases", key_type=str), deliveries, partitions)
    silences = Silences(app, app.GlobalTable("silences", key_type=str), partitions)
    sinks = build_sinks(alerts.sinks, env, timedelta(minutes=alerts.alertmanager_refresh_minutes))
    signer = Signer.from_env(env, alerts.link_secret_env, alerts.token_env)
    links = Links(alerts.public_url, signer, timedelta(hours=alerts.link_hours))
    responder = RespondStage(settings, load_playbook(alerts.playbook), work.cases.data,
                             deliveries.data, silences.table.data, clock)  # fmt: skip
    changes = CaseChanges(work, responder, incidents, stats, send_dead_letter)
    app.agent(incidents)(changes.respond_to)
    app.timer(alerts.tick_seconds)(changes.take_due_steps)
    app.task(Outbox(work, alerts, sinks, links, alert_dead_letters, stats, clock).dispatch)
    app.task(silences.follow)
    app.on_partitions_revoked.connect(changes.stop_responding)  # type: ignore[arg-type]  # mode's Signal typing
    token = env.get(alerts.token_env, "")
    register_api(app, responder, changes.respond, silences.save, token, clock)
    hooks = ConsoleHooks(app, settings, clock, comments, work, qa_cases)
    people = {secret(env, p.token_env): p.name for p in alerts.console_people}
    console = Console(responder, changes.respond, signer, token, alerts.public_url, clock,
                      silences.save, hooks.start_drill, hooks.brands, hooks.owner_of, people,
                      hooks.holds, hooks.peers, hooks.held_qa)  # fmt: skip
    register_console(app, console, checker, Offload("console", MAX_CHECKS_WAITING), count_check)
    return work


@dataclass
class Casework:
    """What the rest of the app needs of the playbook: the cases, and which partitions
    this worker owns (set after each rebalance, once the tables are recovered)."""

    cases: TableT[str, Any]
    deliveries: TableT[str, Any]
    partitions: int
    owned: set[int] = field(default_factory=set)
    dispatchers: dict[str, Dispatcher] = field(default_factory=dict)
    ready: asyncio.Event = field(default_factory=asyncio.Event)

    def owns(self, brand: str) -> bool:
        return brand_partition(brand, self.partitions) in self.owned

    def take_over(self, owned: set[int]) -> None:
        self.owned.clear()
        self.owned.update(owned)
        self.ready.set()
        self.wake_dispatchers()

    def give_up(self) -> None:
        self.ready.clear()
        self.owned.clear()

    def wake_dispatchers(self) -> None:
        for dispatcher in self.dispatchers.values():
            dispatcher.wake.set()

    def open_cases(self) -> list[Mapping[str, Any]]:
        return [
            case
            for case in list(self.cases.data.values())
            if case["state"] not in CLOSED and self.owns(case["brand"])
        ]


class CaseChanges:
    """The incidents agent, the timer and the API: every change to the cases goes through
    `respond`, so they change them one at a time."""

    def __init__(
        self,
        work: Casework,
        responder: RespondStage,
        incidents: TopicT,
        stats: StreamStats,
        send_dead_letter: SendDeadLetter,
    ) -> None:
        self.work = work
        self.responder = responder
        self.incidents = incidents
        self.stats = stats
        self.send_dead_letter = send_dead_letter
        self.lock = asyncio.Lock()

    async def respond(self, change: Callable[[], RespondWrites]) -> RespondWrites:
        async with self.lock:
            writes = change()
            await self._store(writes)
            self.stats.deadlines.update(writes.deadlines)
            self.stats.case_events.update(event["step"] for event in writes.events)
        self.work.wake_dispatchers()
        return writes

    async def _store(self, writes: RespondWrites) -> None:
        """Under the lock, so that no later change to the same case reaches the changelog
        before this one; an API caller waits too, as the change is in the store already."""
        work, partitions = self.work, self.work.partitions

        async def write() -> None:
            await write_table(work.deliveries, writes.deliveries, partitions, delivery_brand, True)
            await write_table(work.cases, writes.cases, partitions, case_brand, True)
            for event in writes.events:
                await publish(self.incidents, event["case"]["brand"], event, partitions)

        await until_stored(write, "a playbook step")

    async def respond_to(self, events_stream: StreamT[bytes]) -> None:
        """Waits for the tables after each rebalance: a case must be known before an event
        about it is handled, or a replayed "opened" would open it (and page) again."""
        async for event in events_stream.events():
            await self.work.ready.wait()
            try:
                document = parse_detection(event.value)
                if document is not None:
                    await self.respond(lambda: self.responder.detected(document))  # noqa: B023  # awaited
            except Exception as error:  # any failure but the broker's is this record's
                await self._refuse(dead_letter(event.value, error), event.message)

    async def _refuse(self, dead: DeadLetter, source: Any) -> None:
        log.warning("incident event dead-lettered (%s): %s", dead.reason, dead.message)
        try:
            await self.send_dead_letter(dead, source)
        except Exception:
            log.exception("could not dead-letter an incident event (%s)", dead.reason)

    async def take_due_steps(self) -> None:
        if not self.work.owned:
            return
        try:
            await self.respond(lambda: self.responder.tick(self.work.owns))
        except Exception:  # a bug in one case's step must not stop the timer for all
            log.exception("the playbook's due steps failed; trying again at the next tick")

    async def stop_responding(self, sender: faust.App, *_: Any, **__: Any) -> None:
        """No event is handled and no step taken until the tables are recovered after the
        rebalance (`Casework.take_over`)."""
        self.work.give_up()


class Outbox:
    """One dispatcher per sink, each sending the pending deliveries of the brands this
    worker owns."""

    def __init__(
        self,
        work: Casework,
        alerts: AlertSettings,
        sinks: Mapping[str, Sink],
        links: Links,
        dead_letters: TopicT,
        stats: StreamStats,
        clock: Callable[[], datetime],
    ) -> None:
        self.work = work
        self.alerts = alerts
        self.sinks = sinks
        self.links = links
        self.dead_letters = dead_letters
        self.stats = stats
        self.clock = clock

    async def dispatch(self) -> None:
        async with httpx.AsyncClient(timeout=10) as client:
            for name, sink in self.sinks.items():
                self.work.dispatchers[name] = Dispatcher(
                    sink, self.alerts, self.pending, self.store, self.dead_letter, client,
                    self.clock, self.count, self.links,
                )  # fmt: skip
            await asyncio.gather(*(d.run() for d in self.work.dispatchers.values()))

    def pending(self, sink: str) -> list[Delivery]:
        """Filtered before parsing: every dispatcher asks on each turn."""
        return [
            Delivery.from_dict(document)
            for document in list(self.work.deliveries.data.values())
            if document["sink"] == sink
            and document["state"] == PENDING
            and self.work.owns(document["notice"]["case"]["brand"])
        ]

    async def store(self, delivery: Delivery) -> None:
        """Waits for the broker: a delivery marked sent must not be sent again after a
        restart (the idempotency key covers the moment in between)."""
        await write_table(self.work.deliveries, {delivery.key: delivery.as_dict()},
                          self.work.partitions, delivery_brand, wait=True)  # fmt: skip

    async def dead_letter(self, delivery: Delivery) -> None:
        await self.dead_letters.send(
            key=delivery.key.encode(),
            value=json.dumps(delivery.as_dict(), ensure_ascii=False).encode(),
            headers={"reason": b"sink_failed", "error": delivery.error.encode()},
            force=True,
        )

    def count(self, sink: str, result: str) -> None:
        self.stats.alerts[(sink, result)] += 1


class Silences:
    """The silences, in a global table: every worker needs all of them."""

    def __init__(self, app: faust.App, table: TableT[str, Any], partitions: int) -> None:
        self.app = app
        self.table = table
        self.partitions = partitions

    async def follow(self) -> None:
        broker = ";".join(str(url) for url in self.app.conf.broker)
        await follow_changelog(bootstrap_servers(broker), self.table, self.partitions,
                               keep=sooner_end)  # fmt: skip

    async def save(self, silence: Silence) -> None:
        changes = {silence.id: silence.as_dict()}
        await write_table(self.table, changes, self.partitions, any_brand, True)


def sooner_end(stored: dict[str, Any], read: dict[str, Any]) -> dict[str, Any]:
    """A silence is only ever ended early, never extended: a record of it read after a
    later one (a worker catching up on the changelog) must not bring it back to life."""
    later = datetime.fromisoformat(read["ends_at"]) > datetime.fromisoformat(stored["ends_at"])
    return stored if later else read


class ConsoleHooks:
    """What the console asks of the stream: drills, and which worker holds what."""

    def __init__(
        self,
        app: faust.App,
        settings: Settings,
        clock: Callable[[], datetime],
        comments: TopicT,
        work: Casework,
        qa_cases: TableT[str, Any],
    ) -> None:
        self.app = app
        self.settings = settings
        self.clock = clock
        self.comments = comments
        self.work = work
        self.qa_cases = qa_cases
        self.brands = [brand.name for brand in settings.brands]
        self.known = sorted({*self.brands, *map(drill_name, self.brands)}, key=len, reverse=True)

    async def start_drill(self, brand: str) -> int:
        """A drill's burst on the comments topic, through the real pipeline; its size."""
        size = self.settings.threshold_for(brand) + 5
        complaints = burst(brand, size, uuid.uuid4().hex[:8], self.clock())
        for complaint in complaints:
            value = json.dumps(complaint, ensure_ascii=False).encode()

            async def send(value: bytes = value) -> None:
                await (await self.comments.send(value=value, force=True))

            await until_stored(send, "a drill complaint")
        return len(complaints)

    def owner_of(self, case_id: str) -> str | None:
        """The web address of the worker that holds the case, when it is another one:
        its brand's partition of the cases' changelog, in the group's assignment."""
        brand = next((name for name in self.known if case_id.startswith(f"{name}:")), None)
        if brand is None:
            return None
        topic = self.work.cases.changelog_topic.get_topic_name()
        partition = brand_partition(brand, self.work.partitions)
        me = URL(str(self.app.conf.canonical_url))
        for url, topics in self.app.assignor.table_metadata(topic).items():
            if partition in topics.get(topic, ()) and URL(url) != me:
                return url
        return None

    def peers(self) -> list[str]:
        """The web addresses of the group's other workers, in its assignment: the
        console's board, silences and drills show what each of them holds."""
        me = URL(str(self.app.conf.canonical_url))
        return sorted(url for url in self.app.assignor.tables_metadata() if URL(url) != me)

    def holds(self, case_id: str) -> bool:
        stored = self.work.cases.data.get(case_id)
        return stored is not None and self.work.owns(stored["brand"])

    def held_qa(self) -> dict[str, Any]:
        """The QA cases of the shops whose partitions this worker owns now."""
        return {key: case for key, case in list(self.qa_cases.data.items())
                if self.work.owns(case_route(case))}  # fmt: skip
