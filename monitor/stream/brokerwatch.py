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

from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from aiokafka.client import AIOKafkaClient
from aiokafka.errors import TopicAlreadyExistsError

PROBE_SECONDS = 3.0


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

    async def ensure_topics(self, names: Sequence[str], partitions: int) -> list[str]:
        """Create those of `names` the broker does not have; the names created."""
        admin = AIOKafkaAdminClient(bootstrap_servers=self.bootstrap)
        await admin.start()
        try:
            missing = sorted(set(names) - set(await admin.list_topics()))
            if missing:
                with suppress(TopicAlreadyExistsError):  # another worker was quicker
                    await admin.create_topics(
                        [NewTopic(name, partitions, replication_factor=1) for name in missing]
                    )
            return missing
        finally:
            await admin.close()

    async def close(self) -> None:
        if self._client is not None:
            client, self._client = self._client, None
            await client.close()
