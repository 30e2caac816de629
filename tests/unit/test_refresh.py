"""Alertmanager keeps an open incident's alert only while someone re-posts it: the
refresh schedule (a fake clock, nothing sleeps), what a re-post says, and the alerts
posted for a digest."""

from __future__ import annotations

import asyncio
import json
from dataclasses import replace
from datetime import datetime, timedelta
from typing import Any

import httpx

from alerts.delivery import PENDING, SENT, Delivery, Dispatcher
from alerts.messages import Message, digest, render
from alerts.outbox import RespondStage, RespondWrites
from alerts.routing import Silence
from alerts.sinks import AlertmanagerSink, ConsoleSink, build_sinks
from monitor.casework.cases import Case, act, open_case, refresh
from monitor.settings import AlertSettings, Settings, SinkSettings
from monitor.signing import Links
from tests.unit.test_response import DETECTED, PLAYBOOK, event, minutes

EVERY = timedelta(minutes=5)
AM = SinkSettings(name="am", kind="alertmanager", url="http://alertmanager.example")
HOOK = SinkSettings(name="hook", kind="webhook", url="http://hook.example")
CASE_ID = "云朵咖啡:negative_volume:100"


def settings(*sinks: SinkSettings) -> Settings:
    return Settings(alerts=AlertSettings(sinks=sinks or (AM, HOOK), alertmanager_refresh_minutes=5))


class Worker:
    """The respond stage on plain dicts, its clock a variable."""

    def __init__(self, config: Settings | None = None) -> None:
        self.now = DETECTED
        self.cases: dict[str, dict[str, Any]] = {}
        self.deliveries: dict[str, dict[str, Any]] = {}
        self.silences: dict[str, dict[str, Any]] = {}
        self.stage = RespondStage(config or settings(), PLAYBOOK, self.cases, self.deliveries,
                                  self.silences, lambda: self.now)  # fmt: skip
        self.apply(self.stage.detected(event()))

    def apply(self, writes: RespondWrites) -> RespondWrites:
        for key, value in writes.deliveries.items():
            if value is None:
                self.deliveries.pop(key, None)
            else:
                self.deliveries[key] = value
        self.cases.update(writes.cases)
        return writes

    def tick(self, at: float) -> RespondWrites:
        self.now = minutes(at)
        return self.apply(self.stage.tick(lambda brand: True))

    def refreshes(self) -> dict[str, str]:
        """Delivery key → sink, of the re-posts in the outbox."""
        return {
            key: document["sink"]
            for key, document in self.deliveries.items()
            if document["notice"]["kind"] == "refresh"
        }

    def case(self) -> Case:
        return Case.from_dict(self.cases[CASE_ID])


def refresh_key(at: float, sink: str = "am") -> str:
    return f"{CASE_ID}|refresh:{minutes(at).isoformat()}|{sink}"


def test_an_open_case_is_refreshed_every_interval_from_its_opening() -> None:
    opened, _ = open_case(event(), PLAYBOOK, DETECTED)
    assert opened.refreshed_at == DETECTED  # the opening page posted the alert
    assert refresh(opened, minutes(4.99), EVERY) == (opened, None)
    case, notice = refresh(opened, minutes(5), EVERY)
    assert notice is not None and notice.kind == "refresh" and notice.people == ()
    assert notice.key == f"{CASE_ID}|refresh:{minutes(5).isoformat()}"
    assert case.refreshed_at == minutes(5) and case.timeline == opened.timeline
    assert refresh(case, minutes(9), EVERY)[1] is None
    assert refresh(case, minutes(10), EVERY)[1] is not None


def test_refreshes_missed_while_the_worker_was_down_are_made_up_once() -> None:
    case, _ = open_case(event(), PLAYBOOK, DETECTED)
    case, notice = refresh(case, minutes(47), EVERY)
    assert notice is not None and case.refreshed_at == minutes(47)
    assert refresh(case, minutes(47), EVERY)[1] is None
    assert refresh(case, minutes(51), EVERY)[1] is None


def test_a_case_stored_before_refreshes_existed_is_refreshed_at_once() -> None:
    stored = open_case(event(), PLAYBOOK, DETECTED)[0].as_dict()
    del stored["refreshed_at"]
    assert refresh(Case.from_dict(stored), minutes(1), EVERY)[1] is not None


def test_a_closed_case_is_never_refreshed() -> None:
    case, _ = act(open_case(event(), PLAYBOOK, DETECTED)[0], "false_alarm", "张伟", "", minutes(1))
    assert refresh(case, minutes(60), EVERY) == (case, None)


def test_the_timer_reposts_to_alertmanager_only_and_pages_nobody() -> None:
    worker = Worker()
    assert worker.tick(4).deliveries == {} and worker.refreshes() == {}
    writes = worker.tick(5)
    assert worker.refreshes() == {refresh_key(5): "am"}  # not the webhook: no page
    assert writes.events == [] and writes.deadlines == []
    assert [entry["kind"] for entry in worker.case().timeline] == ["opened"]
    assert worker.case().refreshed_at == minutes(5)
    assert worker.tick(6).deliveries == {}


def test_a_newer_refresh_replaces_the_older_so_an_outage_queues_no_backlog() -> None:
    worker = Worker()
    worker.tick(5)
    writes = worker.tick(10)
    assert writes.deliveries[refresh_key(5)] is None
    assert worker.refreshes() == {refresh_key(10): "am"}
    worker.tick(15)  # the first page and reminder fall due too: they go to both sinks
    assert worker.refreshes() == {refresh_key(15): "am"}
    paged = {d["sink"] for d in worker.deliveries.values() if d["notice"]["kind"] == "page"}
    assert paged == {"am", "hook"}


def test_closing_the_case_drops_its_pending_refresh() -> None:
    worker = Worker()
    worker.tick(5)
    assert worker.deliveries[refresh_key(5)]["state"] == PENDING
    worker.apply(worker.stage.act(CASE_ID, "false_alarm", "张伟", "测试"))
    assert worker.refreshes() == {}
    assert worker.tick(60).deliveries == {}  # and none after


def test_without_an_alertmanager_sink_nothing_is_refreshed_or_written() -> None:
    worker = Worker(settings(HOOK))
    assert worker.tick(5).cases == {}
    assert worker.tick(11).cases == {}


def test_a_silenced_case_is_not_reposted_either() -> None:
    worker = Worker()
    muted = Silence("s1", "云朵咖啡", "*", DETECTED, minutes(60), "王敏", "known")
    worker.silences[muted.id] = muted.as_dict()
    assert worker.tick(5).deliveries == {}  # no re-post, and no muted record every interval
    assert worker.case().refreshed_at == minutes(5)  # asked again only after an interval


def test_a_refresh_reads_as_the_case_stands_and_carries_the_link() -> None:
    case, _ = open_case(event(level="warning"), PLAYBOOK, DETECTED)
    _, notice = refresh(case, minutes(5), EVERY)
    assert notice is not None
    message = render(notice, "en", Links("https://guanchao.example", None), minutes(5))
    assert message.title == "[WARNING] 云朵咖啡 · new incident"
    assert "paged now" not in message.markdown and not message.closes
    assert message.link.startswith("https://guanchao.example/console/incidents/")
    assert message.started == DETECTED
    acked, _ = act(case, "ack", "张伟", "", minutes(6))
    _, notice = refresh(acked, minutes(11), EVERY)
    assert notice is not None
    assert render(notice, "zh", Links("", None), minutes(11)).title == "【预警】云朵咖啡 · 已确认"


def message(incident: str, level: str = "warning", closes: bool = False) -> Message:
    return Message(
        title=f"【预警】{incident}",
        markdown="body",
        level=level,
        key=f"{incident}|{'resolved' if closes else 'opened'}",
        incident=incident,
        brand="云朵咖啡",
        cause="negative_volume",
        closes=closes,
        link=f"https://guanchao.example/incidents/{incident}",
        started=DETECTED,
    )


def posted(sink: AlertmanagerSink, sent: Message, now: datetime) -> list[dict[str, Any]]:
    url, body, _ = sink.request(sent, now)
    assert url == "http://alertmanager.example/api/v2/alerts"
    alerts: list[dict[str, Any]] = json.loads(body)
    return alerts


def alertmanager(refresh_every: timedelta = EVERY) -> AlertmanagerSink:
    sink = build_sinks((AM,), {}, refresh_every)["am"]
    assert isinstance(sink, AlertmanagerSink)
    return sink


def test_labels_identify_the_incident_and_annotations_describe_it() -> None:
    (alert,) = posted(alertmanager(timedelta(minutes=2)), message("a"), minutes(30))
    assert alert["labels"] == {"alertname": "GuanchaoIncident", "incident": "a",
                               "brand": "云朵咖啡", "cause": "negative_volume"}  # fmt: skip
    assert alert["annotations"] == {
        "summary": "【预警】a", "level": "warning", "description": "body",
        "link": "https://guanchao.example/incidents/a",
    }  # fmt: skip
    assert alert["startsAt"] == DETECTED.isoformat()
    assert alert["endsAt"] == minutes(38).isoformat()  # four refresh intervals
    (closed,) = posted(alertmanager(), message("a", closes=True), minutes(40))
    assert closed["endsAt"] == minutes(40).isoformat()


def test_a_digest_posts_each_incident_as_its_own_alert() -> None:
    both = digest([message("a"), message("b", "crisis")], "zh")
    assert both.incident == "a,b"  # what a chat robot's digest says …
    alerts = posted(alertmanager(), both, minutes(1))  # … never an Alertmanager label
    assert [a["labels"]["incident"] for a in alerts] == ["a", "b"]
    assert [a["annotations"]["level"] for a in alerts] == ["warning", "crisis"]


def test_in_a_digest_a_closing_message_wins_over_others_of_its_incident() -> None:
    batch = digest([message("a", closes=True), message("b"), message("a")], "en")
    alerts = {a["labels"]["incident"]: a for a in posted(alertmanager(), batch, minutes(9))}
    assert set(alerts) == {"a", "b"} and alerts["a"]["endsAt"] == minutes(9).isoformat()


def test_a_notice_that_cannot_be_rendered_fails_alone_and_the_rest_are_sent() -> None:
    case, notice = open_case(event(), PLAYBOOK, DETECTED)
    broken = replace(notice, key=f"{case.id}|broken", case={**notice.case, "deadlines": None})
    stored = {
        d.key: d for d in (Delivery(broken, "log", DETECTED), Delivery(notice, "log", DETECTED))
    }

    async def store(delivery: Delivery) -> None:
        stored[delivery.key] = delivery

    async def go() -> None:
        sink = ConsoleSink(SinkSettings(name="log", kind="console"), {})
        async with httpx.AsyncClient() as client:
            await Dispatcher(sink, AlertSettings(), lambda _: list(stored.values()), store, store,
                             client, lambda: DETECTED).turn()  # fmt: skip

    asyncio.run(go())
    assert stored[f"{case.id}|opened|log"].state == SENT
    failed = stored[f"{case.id}|broken|log"]
    assert failed.state == PENDING and failed.attempts == 1 and "TypeError" in failed.error
