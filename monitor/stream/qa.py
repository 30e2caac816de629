"""Customer-service chat QA in the stream: one agent around `monitor.qa.intake.review`.

conversations ─► review (validate, sample, score) ─► qa-cases (below the pass mark, masked)
                    └─► dead letters (original bytes, reason in the headers)
qa-cases ─► keep ─► the qa_cases table (the console's QA page, `monitor.web.qa_console`)

The checker shares the enrich agent's sentiment scorer: one model in memory, and the
customer's emotion is judged by the same model that labels comments. Like the comment
agents it takes one event at a time and sends directly (`force=True`), so a case is with
the broker before the record's offset is committed (at least once; a replayed record
samples and scores the same, and its case comes again with the same content).

The cases are kept by reading the topic back, not as they are written: a conversation
reaches whichever worker owns its partition of the conversations topic, while its case is
keyed by the shop, and the worker that owns the shop's partition of the QA-cases topic owns
the same partition of the table (Faust assigns the partitions of topics and changelogs of
one size together). So each shop's cases live on one worker, as a brand's incidents do.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime
from functools import cache
from typing import Any

import faust
from faust.types import StreamT, TableT

from monitor.detect.records import DeadLetter
from monitor.detect.stages import brand_partition
from monitor.metrics.collector import Metrics
from monitor.qa.casebook import case_key, case_route, forgotten, read_case
from monitor.qa.intake import QACase, review
from monitor.qa.scoring import build_checker
from monitor.settings import Settings
from monitor.stream.tables import until_stored, write_table
from monitor.text.sentiment import Scorer

log = logging.getLogger(__name__)
SendDeadLetter = Callable[[DeadLetter, Any], Awaitable[None]]


def qa_table(app: faust.App) -> TableT[str, Any]:
    """The QA cases this worker keeps, by conversation id (`monitor.qa.casebook`)."""
    return app.Table("qa_cases", key_type=str)


def route_of(key: str, case: Any) -> str:
    """The table's partition is the shop's (else the agent's), as the topic's is."""
    return case_route(case)


def add_qa(
    app: faust.App,
    settings: Settings,
    scorer: Scorer,
    metrics: Metrics,
    clock: Callable[[], datetime],
    send_dead_letter: SendDeadLetter,
    kept: TableT[str, Any],
) -> None:
    """Declare the conversations and QA-cases topics, the agent between them, and the
    agent that keeps the cases in `kept` for the console."""
    topics = settings.stream.topics
    partitions = settings.stream.partitions
    conversations = app.topic(topics.conversations, key_serializer="raw", value_serializer="raw")
    qa_cases = app.topic(topics.qa_cases, key_serializer="raw", value_serializer="raw")
    checker = build_checker(settings, scorer)

    async def send_case(case: QACase, original: bytes) -> DeadLetter | None:
        """The case once the broker has it; a case the broker refuses (not its absence:
        that is waited out) leaves the conversation in the dead letters instead."""

        async def write() -> None:
            await (await qa_cases.send(key=case.key.encode(), value=case.value,
                                       partition=brand_partition(case.key, partitions),
                                       force=True))  # fmt: skip

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

    @app.agent(qa_cases)
    async def keep_cases(events_stream: StreamT[bytes]) -> None:
        async for event in events_stream.events():
            await keep_case(kept, event.value, partitions)


async def keep_case(kept: TableT[str, Any], raw: bytes | None, partitions: int) -> None:
    """The case in the table, and the oldest of its partition beyond the bound forgotten.
    A record that is not a case is passed over, and a case the broker refuses is left out
    of the console (said in the log): it is on the topic already, which is what counts."""
    case = read_case(raw)
    if case is None:
        log.warning("a record on the QA-cases topic is not a QA case; not kept")
        return
    partition = _partition(case_route(case), partitions)
    changes: dict[str, Any] = {case_key(case): case}
    stored = [*kept.data.items(), (case_key(case), case)]
    changes |= dict.fromkeys(
        forgotten(stored, lambda c: _partition(case_route(c), partitions), partition), None
    )

    async def write() -> None:
        await write_table(kept, changes, partitions, route_of, wait=True)

    try:
        await until_stored(write, "a kept QA case")
    except Exception:
        log.exception("a QA case was not kept for the console")


@cache
def _partition(route: str, partitions: int) -> int:
    """Shops are few: murmur2 once each, not once a stored case at every new one."""
    return brand_partition(route, partitions)
