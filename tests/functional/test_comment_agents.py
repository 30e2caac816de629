"""Comments through the enrich and count agents, in memory: what the stream does with a
batch, a poison record and a replayed message, in well under a second each."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from monitor.settings import Settings

from .conftest import NOW, Stream, comment_stream


def comment(n: int, text: str = "云朵咖啡太难喝了，避雷[怒]", **fields: Any) -> dict[str, Any]:
    return {"id": str(n), "platform": "weibo", "text": text, "created_at": NOW.isoformat(),
            **fields}  # fmt: skip


def run(settings: Settings, scenario: Any) -> None:
    async def main() -> None:
        async with comment_stream(settings) as stream:
            await scenario(stream)

    asyncio.run(main())


def test_eleven_negatives_in_an_hour_open_one_incident(settings: Settings) -> None:
    async def scenario(stream: Stream) -> None:
        await stream.send(*(comment(n) for n in range(11)), comment(99, "云朵咖啡的拿铁很好喝[赞]"))
        await stream.until(lambda: stream.stats.counted == 12, "12 mentions counted")
        events = [json.loads(e.value) for e in await stream.events(stream.incidents, 1)]
        (opened,) = [e["incident"] for e in events if e["event"] == "opened"]
        assert (opened["brand"], opened["cause"], opened["facts"]["negatives"]) == (
            "云朵咖啡", "negative_volume", 11,
        )  # fmt: skip
        assert dict(stream.counts.mentions_by_brand()) == {"云朵咖啡": 12}
        assert len(stream.tables.mentions.data) == 12  # the state a restart recovers

    run(settings, scenario)


def test_a_poison_comment_is_a_dead_letter_and_the_batch_goes_on(settings: Settings) -> None:
    async def scenario(stream: Stream) -> None:
        await stream.send(comment(1), b"{not json", comment(2, text=""), comment(3))
        await stream.until(lambda: stream.stats.counted == 2, "the two good ones counted")
        dead = await stream.events(stream.dead_letters, 2)
        assert sorted(dict(d.headers)["reason"] for d in dead) == [b"missing_field", b"not_json"]
        assert {dict(d.headers)["offset"] for d in dead} == {b"1", b"2"}  # where they were
        assert stream.stats.received == 4 and stream.stats.scored == 2
        assert sum(stream.stats.dead_lettered.values()) == 2  # each once, nothing else

    run(settings, scenario)


def test_a_bad_record_in_a_scored_message_is_dead_lettered_alone(settings: Settings) -> None:
    scored = {"id": "s", "platform": "weibo", "brand": "云朵咖啡", "label": "negative",
              "created_at": NOW.isoformat()}  # fmt: skip

    async def scenario(stream: Stream) -> None:
        message = [scored, {**scored, "id": "t", "brand": "冒牌"}, {**scored, "id": "u"}]
        await stream.send(json.dumps(message).encode(), to="scored")
        await stream.until(lambda: stream.stats.counted == 2, "the good two counted")
        (dead,) = await stream.events(stream.dead_letters, 1)
        assert dict(dead.headers)["reason"] == b"unknown_brand"
        assert json.loads(dead.value)["id"] == "t"

    run(settings, scenario)


def test_a_replayed_scored_message_is_not_counted_twice(settings: Settings) -> None:
    async def scenario(stream: Stream) -> None:
        await stream.send(*(comment(n) for n in range(5)))
        await stream.until(lambda: stream.stats.counted == 5, "five counted")
        (message,) = await stream.events(stream.scored_messages, 1)  # one brand, one batch
        assert [record["id"] for record in json.loads(message.value)] == list("01234")
        await stream.send(message.value, to="scored")  # as after a crash before the commit
        await stream.until(lambda: stream.stats.duplicates == 5, "the replay seen as such")
        assert stream.stats.counted == 5

    run(settings, scenario)
