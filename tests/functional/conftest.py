"""The stream's agents with Faust's `test_context()`: the real agents, streams, batches and
tables, their topics and changelogs in-memory channels, no broker. Between the unit tier
(stages as plain functions) and the integration tier (a worker process on a broker)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import faust
from faust.types import ChannelT, EventT
from faust.types.agents import AgentTestWrapperT

from monitor.detect.counting import Counts
from monitor.detect.enrich import Enricher
from monitor.metrics.collector import Metrics, StreamStats
from monitor.settings import Settings
from monitor.stream.app import CountTables, DeadLetters, Pipeline, Topics

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
WAIT_SECONDS = 10.0


@dataclass
class Stream:
    """The comment agents in memory, and what they wrote."""

    topics: Topics
    tables: CountTables
    stats: StreamStats
    counts: Counts
    comments: AgentTestWrapperT
    scored: AgentTestWrapperT
    # what the agents sent, subscribed to before anything was: a channel keeps nothing
    scored_messages: ChannelT
    incidents: ChannelT
    dead_letters: ChannelT

    async def send(self, *values: bytes | dict[str, Any], to: str = "comments") -> None:
        agent = self.comments if to == "comments" else self.scored
        for value in values:
            raw = value if isinstance(value, bytes) else json.dumps(value).encode()
            await agent.put(raw, wait=False)

    async def until(self, holds: Callable[[], bool], what: str) -> None:
        async def wait() -> None:
            while not holds():
                await asyncio.sleep(0.01)

        try:
            await asyncio.wait_for(wait(), WAIT_SECONDS)
        except TimeoutError:
            raise AssertionError(f"timed out waiting for {what}: {self.stats.health()}") from None

    async def events(self, channel: ChannelT, count: int) -> list[EventT[bytes]]:
        return [await channel.get(timeout=WAIT_SECONDS) for _ in range(count)]


@asynccontextmanager
async def comment_stream(settings: Settings) -> AsyncIterator[Stream]:
    app = faust.App("guanchao-functional", broker="kafka://unused:9092", store="memory://")

    def channel() -> ChannelT:
        return app.channel(maxsize=100_000)

    topics = Topics(channel(), channel(), channel(), channel())
    tables = CountTables(*(faust.Table(app=app, name=name, key_type=str, changelog_topic=channel())
                           for name in ("mentions", "hourly", "incidents")))  # fmt: skip
    stats = StreamStats()
    counts = Counts(settings.waves)
    metrics = Metrics(settings, stats, counts, lambda: [], lambda: {})
    dead_letters = DeadLetters(topics.dead_letters, stats)
    pipeline = Pipeline(settings, topics, tables, Enricher(settings), counts, stats, metrics,
                        dead_letters.send, lambda: NOW)  # fmt: skip
    enrich = app.agent(topics.comments)(pipeline.enrich)
    count = app.agent(topics.scored)(pipeline.count)
    sent = [
        topics.scored.__aiter__(),
        topics.incidents.__aiter__(),
        topics.dead_letters.__aiter__(),
    ]
    try:
        async with (
            enrich.test_context(channel=topics.comments) as comments,
            count.test_context(channel=topics.scored) as scored,
        ):
            yield Stream(topics, tables, stats, counts, comments, scored, *sent)
    finally:
        # The streams made the app's consumer, never started: the event loop of its
        # thread is closed as a worker's stop would close it.
        app.consumer._thread.thread_loop.close()
