"""A sink that is down for a while: alerts queue, none is lost, all arrive when it is back,
within its rate limit. A real receiver; the clock is a variable, so nothing sleeps."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx

from alerts.delivery import PENDING, SENT, Delivery, Dispatcher, RateLimit, plan
from alerts.messages import Message
from alerts.sinks import ConsoleSink, Limits, build_sinks
from monitor.casework.cases import Notice, open_case
from monitor.settings import AlertSettings, SinkSettings
from tests.receivers import Receiver, receiver
from tests.unit.test_response import PLAYBOOK, event

START = datetime.now(UTC).replace(microsecond=0)  # the real clock: a real receiver is called
SETTINGS = AlertSettings(attempts=3, backoff_seconds=1, max_backoff_seconds=8)


def notices(count: int) -> list[Notice]:
    case, opened = open_case(event(), PLAYBOOK, START)
    return [Notice(**{**opened.__dict__, "key": f"{case.id}|step{n}"}) for n in range(count)]


def shown(body: dict[str, Any]) -> str:
    """What a WeCom message shows: a card's title (an alert) or the Markdown (a digest)."""
    if body["msgtype"] == "template_card":
        return str(body["template_card"]["main_title"]["title"])
    return str(body["markdown"]["content"])


class Harness:
    """A dispatcher for one WeCom robot (20 a minute), its store a dict."""

    def __init__(self, http: Receiver, count: int) -> None:
        self.now = START
        self.stored = {d.key: d for d in (Delivery(n, "robot", START) for n in notices(count))}
        self.dead: list[Delivery] = []
        self.results: list[str] = []
        self.http = http

    async def run_for(self, seconds: int, step: float = 0.5) -> None:
        config = SinkSettings(name="robot", kind="wecom", url=self.http.url)
        sink = build_sinks((config,), {})["robot"]

        async def store(delivery: Delivery) -> None:
            self.stored[delivery.key] = delivery

        async def dead_letter(delivery: Delivery) -> None:
            self.dead.append(delivery)

        async with httpx.AsyncClient(timeout=5) as client:
            dispatcher = Dispatcher(
                sink, SETTINGS, self.pending, store, dead_letter,
                client, lambda: self.now, lambda _, result: self.results.append(result),
            )  # fmt: skip
            end = self.now + timedelta(seconds=seconds)
            while self.now < end:
                await dispatcher.turn()
                self.now += timedelta(seconds=step)

    def pending(self, sink: str) -> list[Delivery]:
        return [d for d in self.stored.values() if d.sink == sink and d.state == PENDING]

    def states(self) -> set[str]:
        return {delivery.state for delivery in self.stored.values()}


def test_alerts_wait_out_an_outage_and_all_arrive_within_the_rate_limit() -> None:
    with receiver() as http:
        harness = Harness(http, 30)
        http.answer(503, b"down")
        asyncio.run(harness.run_for(200))  # tries once a minute: the limit counts failures too
        assert harness.states() == {PENDING} and http.requests == []
        assert len(harness.dead) == 30  # each dead-lettered once, after 3 tries, and kept
        assert harness.results.count("dead_lettered") == 30

        http.answer(200, b'{"errcode": 0}')
        asyncio.run(harness.run_for(60))
    assert harness.states() == {SENT}
    delivered = "".join(shown(request.json()) for request in http.requests)
    assert len(http.requests) == 20  # the robot's limit for the minute
    assert delivered.count("条告警汇总") == 1 and "11 条告警汇总" in delivered  # 19 alone + 11
    assert delivered.count("新事件") == 30  # every alert's title arrived


def test_plan_sends_singles_while_there_is_room_and_digests_the_rest() -> None:
    due = [Delivery(n, "robot", START) for n in notices(5)]
    assert [len(batch) for batch in plan(due, 3)] == [1, 1, 3]
    assert [len(batch) for batch in plan(due, 5)] == [1] * 5
    assert plan(due, 0) == []


def test_the_rate_limit_counts_a_sliding_minute_and_second() -> None:
    limit = RateLimit(Limits(per_minute=100, per_second=5))
    for n in range(5):
        limit.record(1000 + n * 0.1)
    assert limit.room(1000.45) == 0 and 0 < limit.wait(1000.45) <= 1
    assert limit.room(1001.5) == 5


def test_a_sink_that_breaks_unexpectedly_is_retried_like_one_that_refuses() -> None:
    class Broken(ConsoleSink):
        async def send(self, message: Message, now: datetime, client: httpx.AsyncClient) -> None:
            raise RuntimeError("template bug")

    stored = {d.key: d for d in (Delivery(n, "broken", START) for n in notices(1))}

    async def store(delivery: Delivery) -> None:
        stored[delivery.key] = delivery

    async def go() -> None:
        async with httpx.AsyncClient() as client:
            sink = Broken(SinkSettings(name="broken", kind="console"), {})
            await Dispatcher(sink, SETTINGS, lambda _: list(stored.values()), store, store,
                             client, lambda: START).turn()  # fmt: skip

    asyncio.run(go())
    (delivery,) = stored.values()
    assert delivery.state == PENDING and delivery.attempts == 1
    assert "RuntimeError: template bug" in delivery.error
