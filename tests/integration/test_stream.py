"""The stream on a real broker: comments in, scored records, counts and incidents out."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from .conftest import Pipeline, wait_for

NEGATIVE = "云朵咖啡物流太慢了，客服也不理人，避雷[怒]"
POSITIVE = "云朵咖啡的拿铁很好喝，推荐[赞]"
START = datetime.now(UTC) - timedelta(minutes=30)  # read again when each test begins, below


@pytest.fixture(autouse=True)
def real_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """The worker reads the real clock: times made at import were a quarter of an hour
    old when CI ran the test, near the end of the rolling hour."""
    monkeypatch.setattr(sys.modules[__name__], "START", datetime.now(UTC) - timedelta(minutes=30))


def comment(n: int, text: str = NEGATIVE, minutes: float = 0, **extra: Any) -> dict[str, Any]:
    return {"id": f"c{n}", "platform": "weibo", "text": text,
            "created_at": (START + timedelta(minutes=minutes)).isoformat(), **extra}  # fmt: skip


def opened(events: list[dict[str, Any]], cause: str = "negative_volume") -> list[dict[str, Any]]:
    return [e for e in events if e["event"] == "opened" and e["incident"]["cause"] == cause]


def test_comments_become_scored_records_counts_and_an_incident(
    make_pipeline: Callable[[int], Pipeline], partitions: int
) -> None:
    pipeline = make_pipeline(partitions)
    worker = pipeline.start_worker()
    two_brands = comment(0, "云朵咖啡和山海茶饮都太差了，再也不买了[怒]")
    pipeline.produce(
        [two_brands, *[comment(n, minutes=n) for n in range(1, 12)], comment(99, POSITIVE)]
    )

    def flat(raws: list[bytes]) -> list[dict[str, Any]]:  # a message per brand and batch
        return [record for raw in raws for record in json.loads(raw)]

    records = flat(pipeline.read("scored", lambda raws: len(flat(raws)) >= 14, "14 scored"))
    assert {r["brand"] for r in records if r["id"] == "c0"} == {"山海茶饮", "云朵咖啡"}
    assert {r["label"] for r in records if r["id"] == "c99"} == {"positive"}
    events = pipeline.events(lambda es: opened(es), "an incident to open")
    (incident,) = [e["incident"] for e in opened(events)]
    assert incident["brand"] == "云朵咖啡"
    # Over the threshold of 10. Over several partitions the comments arrive in any order,
    # and a batch can count the twelfth before the brand's minute ends and it is looked at.
    assert incident["facts"]["negatives"] in (11, 12)
    wait_for(lambda: pipeline.counts() == {"云朵咖啡": 13, "山海茶饮": 1}, "counts for both brands")
    assert worker.get("/health")["counted"] == 14
    metrics = worker.text("/metrics")
    assert "guanchao_mentions_counted_total 14.0" in metrics
    assert 'guanchao_rolling_negatives{brand="云朵咖啡"} 12.0' in metrics
    assert 'guanchao_negative_threshold{brand="云朵咖啡"} 10.0' in metrics


def test_ten_is_not_a_crisis_eleven_is_and_two_hundred_more_raise_the_same_one(
    make_pipeline: Callable[[int], Pipeline],
) -> None:
    pipeline = make_pipeline(4)
    worker = pipeline.start_worker()
    pipeline.produce([comment(n, minutes=n) for n in range(10)])
    wait_for(lambda: worker.get("/health").get("counted") == 10, "ten negatives counted")
    pipeline.produce([comment(10, minutes=10)])
    events = pipeline.events(lambda es: opened(es), "the eleventh negative to open an incident")
    (first,) = opened(events)
    assert first["incident"]["facts"]["negatives"] == 11  # ten alone did not open it
    pipeline.produce([comment(n, minutes=11 + (n % 40)) for n in range(11, 211)])
    events = pipeline.events(
        lambda es: any(e["incident"]["level_name"] == "crisis" for e in es), "the level to rise"
    )
    assert len(opened(events)) == 1
    assert {e["incident"]["id"] for e in events if e["incident"]["cause"] == "negative_volume"} == {
        opened(events)[0]["incident"]["id"]
    }


def test_late_duplicate_and_malformed_records(make_pipeline: Callable[[int], Pipeline]) -> None:
    pipeline = make_pipeline(4)
    worker = pipeline.start_worker()
    pipeline.produce([comment(1, minutes=25), comment(2, minutes=25)])
    wait_for(lambda: worker.get("/health").get("counted") == 2, "two counted")
    bad: list[dict[str, Any] | bytes] = [
        b"{not json",
        b"",
        b"\xff\xfe\x00binary",
        json.dumps({"id": "x", "platform": "weibo", "created_at": 1}).encode(),
        comment(3, text=""),
        comment(4, text="长" * 30_000),
        comment(5, created_at="2099-01-01T00:00:00+08:00"),
    ]
    late, in_time = comment(7, minutes=25 - 200), comment(6, minutes=25 - 30)
    pipeline.produce([*bad, comment(1, minutes=25), in_time, late, comment(8, minutes=26)])

    dead = pipeline.read_messages("dead_letter", lambda ms: len(ms) >= len(bad), "dead letters")
    originals = [message.value for message in dead]
    assert b"{not json" in originals and b"\xff\xfe\x00binary" in originals
    assert sorted(dict(message.headers)["reason"].decode() for message in dead) == sorted(
        ["not_json", "empty", "not_json", "missing_field", "missing_field", "text_too_long",
         "absurd_time"]
    )  # fmt: skip

    def tally() -> tuple[int, int, int] | None:
        health = worker.get("/health")
        return (health["counted"], health["duplicates"], health["late"]) if health else None

    # the duplicate and the late one may be counted in a later batch than the good ones
    wait_for(lambda: tally() == (4, 1, 1), "4 counted, 1 duplicate, 1 late", state=tally)
    assert pipeline.counts() == {"云朵咖啡": 4}


def test_a_killed_worker_loses_nothing_and_counts_nothing_twice(
    make_pipeline: Callable[[int], Pipeline],
) -> None:
    pipeline = make_pipeline(4)
    first = pipeline.start_worker()
    brands = ["云朵咖啡", "山海茶饮", "极光咖啡"]
    comments: list[dict[str, Any] | bytes] = [
        comment(n, text=f"{brands[n % 3]}物流太慢了，避雷[怒]", minutes=(n % 6000) / 100)
        for n in range(20_000)
    ]
    pipeline.produce(comments[:10_000])
    wait_for(lambda: first.get("/health").get("counted", 0) > 3_000, "the worker to be busy")
    first.kill()
    pipeline.produce(comments[10_000:])
    second = pipeline.start_worker()
    expected = {
        brand: sum(1 for n in range(20_000) if n % 3 == i) for i, brand in enumerate(brands)
    }
    wait_for(
        lambda: pipeline.counts() == expected, f"counts {expected}", 180,
        lambda: (pipeline.counts(), second.get("/health")),
    )  # fmt: skip
    events = pipeline.events(lambda es: len(opened(es)) >= 3, "incidents")
    assert len(opened(events)) == 3  # one per brand, none opened twice
    assert second.get("/health")["counted"] < 20_000


def test_two_workers_count_the_same_as_one(make_pipeline: Callable[[int], Pipeline]) -> None:
    brands = ["云朵咖啡", "山海茶饮", "极光咖啡"]
    texts = ["{}很好喝，推荐[赞]", "{}物流太慢了，避雷[怒]"]
    comments: list[dict[str, Any] | bytes] = [
        comment(n, text=texts[n % 2].format(brands[n % 3]), minutes=(n % 3000) / 100)
        for n in range(3_000)
    ]
    results = []
    for workers in (1, 2):
        pipeline = make_pipeline(4)
        for _ in range(workers):
            pipeline.start_worker()
        pipeline.produce(comments)
        wait_for(lambda p=pipeline: sum(p.counts().values()) == 3_000, "all counted", timeout=120)
        results.append(pipeline.counts())
        assert all(worker.get("/counts") for worker in pipeline.workers)  # both did work
    assert results[0] == results[1] == {"云朵咖啡": 1000, "山海茶饮": 1000, "极光咖啡": 1000}
