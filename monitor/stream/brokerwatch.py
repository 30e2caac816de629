"""Is the broker there? A worker asks every few seconds, so that /health can say no.

Faust keeps retrying on its own when the broker goes away, and logs every retry; it never
turns its own health red. A metadata request on a client of our own answers the question
without touching Faust's consumer, and, once the broker answers again, the topics a
broker restarted empty has lost are created again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import suppress
from typing import Any

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import TopicAlreadyExistsError, for_code

PROBE_SECONDS = 3.0
COMPACTED = {"cleanup.policy": "compact"}


class BrokerProbe:
    def __init__(self, bootstrap: str) -> None:
        self.bootstrap = bootstrap
        self._client: AIOKafkaClient | None = None

    async def error(self) -> str:
        """Why the broker does not answer, or "" when it does."""
        try:
            if self._client is None:
                self._client = AIOKafkaClient(
                    bootstrap_servers=self.bootstrap, request_timeout_ms=int(PROBE_SECONDS * 1000)
                )
                await asyncio.wait_for(self._client.bootstrap(), PROBE_SECONDS)
            await asyncio.wait_for(self._client.fetch_all_metadata(), PROBE_SECONDS)
        except Exception as error:  # any failure to answer is the answer
            await self.close()
            return f"{type(error).__name__}: {error}"[:300] or type(error).__name__
        return ""

    async def answer(self) -> str:
        """`error()`, bounded as a whole: a probe that hangs (closing a client whose broker
        is gone can) must not stop the timer that asks, or /health would stay "ok"."""
        try:
            return await asyncio.wait_for(self.error(), 3 * PROBE_SECONDS)
        except TimeoutError:
            self._client = None  # the hung one is left to the garbage collector
            return f"no answer within {3 * PROBE_SECONDS:.0f}s"

    async def ensure_topics(
        self, names: Sequence[str], partitions: int, compacted: Sequence[str] = ()
    ) -> list[str]:
        """Create those of `names` the broker does not have (`compacted` ones, the tables'
        changelogs, with cleanup.policy=compact, as Faust creates them); the names created.
        A topic another worker created meanwhile is fine; any other refusal raises."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            missing = sorted({*names, *compacted} - set(await admin.list_topics()))
            if missing:
                response = await admin.create_topics([
                    NewTopic(name, partitions, replication_factor=1,
                             topic_configs=COMPACTED if name in compacted else {})
                    for name in missing
                ])  # fmt: skip
                raise_refusals(response.topic_errors)
            return missing
        finally:
            await admin.close()

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            with suppress(Exception):
                await asyncio.wait_for(client.close(), PROBE_SECONDS)


def raise_refusals(topic_errors: Sequence[tuple[Any, ...]]) -> None:
    """CreateTopics answers per topic, (name, error code[, message]), and never raises."""
    for name, code, *message in topic_errors:
        error = for_code(code)
        if code and error is not TopicAlreadyExistsError:
            raise error(f"{name}: {message[0] if message and message[0] else error.message}")
