"""Customer-service chat QA in the stream: one agent around `monitor.qa.intake.review`.

conversations ─► review (validate, sample, score) ─► qa-cases (below the pass mark, masked)
                    └─► dead letters (original bytes, reason in the headers)

The checker shares the enrich agent's sentiment scorer: one model in memory, and the
customer's emotion is judged by the same model that labels comments. Like the comment
agents it takes one event at a time and sends directly (`force=True`), so a case is with
the broker before the record's offset is committed (at least once; a replayed record
samples and scores the same, and its case comes again with the same content).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

import faust
from faust.types import StreamT

from monitor.detect.records import DeadLetter
from monitor.metrics.collector import Metrics
from monitor.qa.intake import QACase, review
from monitor.qa.scoring import build_checker
from monitor.settings import Settings
from monitor.stream.tables import until_stored
from monitor.text.sentiment import Scorer

SendDeadLetter = Callable[[DeadLetter, Any], Awaitable[None]]


def add_qa(
    app: faust.App,
    settings: Settings,
    scorer: Scorer,
    metrics: Metrics,
    clock: Callable[[], datetime],
    send_dead_letter: SendDeadLetter,
) -> None:
    """Declare the conversations and QA-cases topics and the agent between them."""
    topics = settings.stream.topics
    conversations = app.topic(topics.conversations, key_serializer="raw", value_serializer="raw")
    qa_cases = app.topic(topics.qa_cases, key_serializer="raw", value_serializer="raw")
    checker = build_checker(settings, scorer)

    async def send_case(case: QACase, original: bytes) -> DeadLetter | None:
        """The case once the broker has it; a case the broker refuses (not its absence:
        that is waited out) leaves the conversation in the dead letters instead."""

        async def write() -> None:
            await (await qa_cases.send(key=case.key.encode(), value=case.value, force=True))

        try:
            await until_stored(write, "a QA case")
        except Exception as error:
            return DeadLetter(original, "unsendable", f"the QA case was refused: {error!r}")
        return None

    @app.agent(conversations)
    async def review_conversations(events_stream: StreamT[bytes]) -> None:
        async for event in events_stream.events():
            reviewed = review(event.value, checker, settings, clock())
            if reviewed.case is not None:
                unsent = await send_case(reviewed.case, event.value or b"")
                reviewed = reviewed.with_dead(unsent)
            if reviewed.dead is not None:
                await send_dead_letter(reviewed.dead, event.message)
            metrics.conversation(reviewed)
