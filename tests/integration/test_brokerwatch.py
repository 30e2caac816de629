"""The worker creates again the topics a broker restarted empty has lost: the tables'
changelogs compacted, as Faust creates them. (Tansu refuses no CreateTopics request, not
even a name with spaces: refusals are tested on the answer, in tests/unit.)"""

from __future__ import annotations

import asyncio
import uuid

from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType

from monitor.stream.brokerwatch import BrokerProbe
from monitor.stream.ingest import bootstrap_servers


async def cleanup_policy(bootstrap: str, topic: str) -> str:
    admin = AIOKafkaAdminClient(bootstrap_servers=bootstrap)
    await admin.start()
    try:
        [response] = await admin.describe_configs([ConfigResource(ConfigResourceType.TOPIC, topic)])
        entries = {entry[0]: entry[1] for entry in response.resources[0][4]}
        return str(entries.get("cleanup.policy"))
    finally:
        await admin.close()


def test_lost_topics_are_created_again_and_changelogs_are_compacted(broker: str) -> None:
    bootstrap = bootstrap_servers(broker)
    name = f"t{uuid.uuid4().hex[:10]}"
    topics, changelogs = [f"{name}-comments"], [f"{name}-mentions-changelog"]

    async def go() -> tuple[list[str], list[str], str, str]:
        probe = BrokerProbe(bootstrap)
        created = await probe.ensure_topics(topics, 2, changelogs)
        again = await probe.ensure_topics(topics, 2, changelogs)  # nothing is missing now
        policies = [await cleanup_policy(bootstrap, topic) for topic in (*topics, *changelogs)]
        return created, again, *policies

    created, again, plain, compacted = asyncio.run(go())
    assert created == sorted([*topics, *changelogs]) and again == []
    assert compacted == "compact" and plain != "compact"
