"""The count-and-detect stage and the enrich stage, without a broker."""

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.detect.enrich import Enricher
from monitor.detect.records import DeadLetter, RecordError
from monitor.detect.stages import Replay, Writes, bundle, check_scored, enrich_batch, read_scored
from monitor.settings import Settings
from tests.hostile import comment, hostile

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def record(n: int, brand: str = "云朵咖啡", negative: bool = True, minute: int = 0,
           **extra: Any) -> dict[str, Any]:  # fmt: skip
    return {
        "id": str(n), "platform": "weibo", "brand": brand,
        "created_at": (NOW + timedelta(minutes=minute)).isoformat(),
        "label": "negative" if negative else "positive",
        "author_followers": 10, "likes": 0, "shares": 0,
        "crisis_keywords": [], "keywords": ["物流慢"] if negative else [], **extra,
    }  # fmt: skip


@pytest.fixture
def stage(settings: Settings) -> Replay:
    """The count stage over plain dicts, with the writes applied as Faust would."""
    return Replay(settings, lambda: NOW)


def opened(writes: Writes, cause: str = "negative_volume") -> list[dict[str, Any]]:
    return [e for e in writes.events if e["event"] == "opened" and e["incident"]["cause"] == cause]


def test_exactly_the_threshold_opens_nothing_and_one_more_opens_one(stage: Replay) -> None:
    assert opened(stage.feed([record(n, minute=n) for n in range(10)])) == []
    (event,) = opened(stage.feed([record(10, minute=10)]))
    assert event["incident"]["brand"] == "云朵咖啡"
    assert event["incident"]["level_name"] == "watch"
    assert event["incident"]["facts"]["negatives"] == 11


def test_a_storm_grows_one_incident_and_raises_its_level(stage: Replay) -> None:
    stage.feed([record(n, minute=n % 30) for n in range(11)])
    events = []
    for start in range(11, 211, 20):
        events += stage.feed([record(n, minute=n % 30) for n in range(start, start + 20)]).events
    volume = [e for e in events if e["incident"]["cause"] == "negative_volume"]
    assert not [e for e in volume if e["event"] == "opened"]
    assert [e["incident"]["level_name"] for e in volume if e["event"] == "level_changed"] == [
        "warning",
        "crisis",
    ]
    assert len(stage.incidents) >= 1
    assert {key.split("|")[1] for key in stage.incidents} >= {"negative_volume"}


def test_the_same_comment_is_counted_once(stage: Replay) -> None:
    first = stage.feed([record(1), record(2)])
    again = stage.feed([record(1), record(2), record(3)])
    assert (first.counted, again.counted, again.duplicates) == (2, 1, 2)
    assert stage.stage.counts.mentions_by_brand()["云朵咖啡"] == 3


def test_late_records_within_lateness_count_later_ones_do_not(stage: Replay) -> None:
    stage.feed([record(1, minute=500)])
    writes = stage.feed([record(2, minute=500 - 60), record(3, minute=500 - 200)])
    assert (writes.counted, writes.late) == (1, 1)


def test_old_minutes_are_dropped_with_their_storage(stage: Replay) -> None:
    stage.feed([record(1, minute=0)])
    writes = stage.feed([record(2, minute=500)])
    assert writes.mentions["云朵咖啡|weibo:1"] is None
    assert stage.stage.counts.mentions_by_brand()["云朵咖啡"] == 1


def test_brands_have_their_own_thresholds(settings: Settings) -> None:
    stage = Replay(settings, lambda: NOW)  # 极光咖啡's threshold is 15 in the default config
    assert opened(stage.feed([record(n, brand="极光咖啡", minute=n) for n in range(15)])) == []
    assert opened(stage.feed([record(15, brand="极光咖啡", minute=15)]))


def test_a_keyword_surge_opens_its_own_incident(stage: Replay) -> None:
    writes = stage.feed([record(n, minute=n) for n in range(10)])
    (event,) = opened(writes, "keyword:物流慢")
    assert event["incident"]["reasons"][0]["keyword"] == "物流慢"


def test_an_incident_clears_after_a_quiet_hour(stage: Replay) -> None:
    stage.feed([record(n, minute=n) for n in range(12)])
    writes = stage.feed([record(100, negative=False, minute=200)])
    cleared = [e for e in writes.events if e["event"] == "cleared"]
    assert {e["incident"]["cause"] for e in cleared} >= {"negative_volume"}
    assert opened(stage.feed([record(n, minute=300 + n) for n in range(200, 212)]))


def test_enrich_sends_a_comment_once_per_brand_and_dead_letters_bad_records(
    settings: Settings,
) -> None:
    enricher = Enricher(settings)
    good = {"id": "1", "platform": "weibo", "text": "云朵咖啡比山海茶饮差多了，避雷",
            "created_at": NOW.isoformat()}  # fmt: skip
    raws = [
        json.dumps(good, ensure_ascii=False).encode(),
        b"{not json",
        b"",
        json.dumps({**good, "text": ""}).encode(),
        json.dumps({**good, "created_at": "2099-01-01T00:00:00+08:00"}).encode(),
        json.dumps({**good, "text": "长" * 30_000}).encode(),
        "\u0000\ud800".encode("utf-8", "surrogatepass"),
    ]
    result = enrich_batch(raws, enricher, settings, NOW)
    assert sorted(brand for brand, _ in result.records) == ["云朵咖啡", "山海茶饮"]
    assert [dead.reason for dead in result.dead] == [
        "not_json", "empty", "missing_field", "absurd_time", "text_too_long", "not_json",
    ]  # fmt: skip
    assert result.dead[0].original == b"{not json"
    scored = json.loads(result.records[0][1])
    assert scored["label"] == "negative"
    assert "避雷" in scored["keywords"]


def raw(**fields: Any) -> bytes:
    return comment(NOW, **fields)


HOSTILE = hostile(NOW)


@pytest.mark.parametrize("name", HOSTILE)
def test_a_hostile_record_is_a_dead_letter_with_its_reason(settings: Settings, name: str) -> None:
    record, reason = HOSTILE[name]
    result = enrich_batch([record, raw()], Enricher(settings), settings, NOW)
    assert [dead.reason for dead in result.dead] == ([reason] if reason else [])
    assert len(result.records) == (1 if reason else 2)  # the good record after it goes on
    for _, scored in result.records:
        assert json.loads(scored)["likes"] <= 2**53


def test_any_exception_on_one_record_is_that_records_dead_letter(settings: Settings) -> None:
    class Broken(Enricher):
        def records(self, scored: Any) -> Any:
            raise RuntimeError("a bug of ours")

    result = enrich_batch([raw()], Broken(settings), settings, NOW)
    (dead,) = result.dead
    assert (dead.reason, dead.message) == ("unprocessable", "RuntimeError: a bug of ours")


def test_a_dead_letter_too_large_for_the_broker_is_cut_and_says_where_it_came_from() -> None:
    original = b"x" * 3_000_000
    value, headers = DeadLetter(original, "too_large", "big \ud800").message_for(3, 41, b"k")
    assert len(value) <= 100_000 and original.startswith(value)
    assert headers["original_size"] == b"3000000" and headers["truncated"] == b"true"
    assert (headers["partition"], headers["offset"], headers["key"]) == (b"3", b"41", b"k")
    assert headers["reason"] == b"too_large"
    assert headers["error"].decode() == "big \\ud800"


def test_a_brand_the_config_does_not_list_is_counted_as_other_and_never_pages(
    settings: Settings, stage: Replay
) -> None:
    enricher = Enricher(settings)
    stranger = [raw(id=str(n), brand="随便一个牌子", text="太差了，避雷") for n in range(30)]
    piped = [raw(id="p", brand="云朵咖啡|evil", text="太差了")]
    result = enrich_batch([*stranger, *piped], enricher, settings, NOW)
    assert {brand for brand, _ in result.records} == {"other"}
    writes = stage.feed(counted(result.records, settings))
    assert writes.counted == 31 and writes.events == []
    assert stage.incidents == {}


def test_an_alias_given_as_brand_counts_for_the_brand(settings: Settings) -> None:
    result = enrich_batch([raw(brand=" cloud coffee ", text="难喝")], Enricher(settings),
                          settings, NOW)  # fmt: skip
    assert [brand for brand, _ in result.records] == ["云朵咖啡"]


def test_unknown_brands_may_be_dead_lettered_instead(settings: Settings) -> None:
    limits = settings.limits.model_copy(update={"unknown_brands": "dead_letter"})
    strict = settings.model_copy(update={"limits": limits})
    result = enrich_batch([raw(brand="随便一个牌子", text="太难喝")], Enricher(strict), strict, NOW)
    assert [dead.reason for dead in result.dead] == ["unknown_brand"]


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"brand": "随便一个牌子"}, "unknown_brand"),
        ({"brand": None}, "unknown_brand"),
        ({"created_at": "yesterday"}, "not_scored"),
        ({"keywords": [["nested"]]}, "not_scored"),
        ({"crisis_keywords": "投诉"}, "not_scored"),
        ({"label": None}, "not_scored"),
        ({"author_followers": "many"}, "not_scored"),
        ({"id": None, "platform": None, "label": 5}, "not_scored"),
        ({"created_at": "9999-12-31T23:59:00+00:00"}, "absurd_time"),  # every later one late
        ({"created_at": "1970-01-01T00:00:00+00:00"}, "absurd_time"),
        ({"created_at": "2026-11-20T08:00:00"}, "absurd_time"),  # no zone
    ],
)
def test_a_scored_record_we_did_not_write_is_refused(
    settings: Settings, change: dict[str, Any], reason: str
) -> None:
    document = {**record(1), **change}
    with pytest.raises(RecordError) as refused:
        check_scored(json.loads(json.dumps(document)), settings, NOW)
    assert refused.value.reason == reason


def counted(records: list[tuple[str, bytes]], settings: Settings) -> list[Any]:
    """What the count stage reads of what the enrich stage wrote, through the topic's
    messages."""
    numbered = [(brand, scored, n) for n, (brand, scored) in enumerate(records)]
    messages = bundle(numbered, settings.limits.max_scored_bytes)
    read = [read_scored(message.value, settings, NOW) for message in messages]
    assert [dead for _, dead in read] == [[]] * len(read)
    return [scored for records, _ in read for scored in records]


def test_the_scored_topic_has_one_message_per_brand_and_batch_in_order(
    settings: Settings,
) -> None:
    brands = ["云朵咖啡", "山海茶饮", "云朵咖啡", "云朵咖啡"]
    records = [(brand, json.dumps(record(n, brand)).encode(), n) for n, brand in enumerate(brands)]
    messages = bundle(records, 10_000)
    assert [(m.brand, m.sources) for m in messages] == [("云朵咖啡", (0, 2, 3)), ("山海茶饮", (1,))]
    scored, dead = read_scored(messages[0].value, settings, NOW)
    assert [r["id"] for r in scored] == ["0", "2", "3"] and dead == []


def test_a_brand_with_more_than_a_message_holds_is_sent_in_several() -> None:
    one = json.dumps(record(0)).encode()
    records = [("云朵咖啡", one, n) for n in range(10)]
    messages = bundle(records, 4 * len(one))
    assert [m.sources for m in messages] == [(0, 1, 2), (3, 4, 5), (6, 7, 8), (9,)]
    assert all(len(m.value) <= 4 * len(one) for m in messages)
    assert [json.loads(m.value) for m in messages] == [[record(0)] * 3] * 3 + [[record(0)]]


def test_a_message_fills_its_bytes_exactly_before_the_next_begins() -> None:
    one = json.dumps(record(0)).encode()
    records = [("云朵咖啡", one, n) for n in range(3)]
    exact = 3 * len(one) + 4  # [a,b,c]
    assert [m.sources for m in bundle(records, exact)] == [(0, 1, 2)]
    assert [m.sources for m in bundle(records, exact - 1)] == [(0, 1), (2,)]
    assert len(bundle(records, exact)[0].value) == exact


def test_a_scored_message_full_of_bad_records_is_refused_whole(settings: Settings) -> None:
    with pytest.raises(RecordError) as refused:
        read_scored(json.dumps([record(1), *[0] * 11]).encode(), settings, NOW)
    assert refused.value.reason == "not_scored" and "11 of 12" in str(refused.value)


def test_in_a_scored_message_each_bad_record_is_a_dead_letter_and_the_rest_counted(
    settings: Settings,
) -> None:
    message = json.dumps([record(1), {**record(2), "brand": "冒牌"}, 5, record(3)]).encode()
    scored, dead = read_scored(message, settings, NOW)
    assert [r["id"] for r in scored] == ["1", "3"]
    assert [d.reason for d in dead] == ["unknown_brand", "not_object"]
    assert json.loads(dead[0].original)["brand"] == "冒牌" and dead[1].original == b"5"


@pytest.mark.parametrize(
    ("message", "reason"),
    [(b"", "empty"), (b"{not json", "not_json"), (b"[]", "not_scored"),
     (json.dumps(record(1)).encode(), "not_scored"), (b"[" * 100 + b"]" * 100, "too_deep")],
)  # fmt: skip
def test_a_scored_message_that_is_not_an_array_of_records_is_refused_whole(
    settings: Settings, message: bytes, reason: str
) -> None:
    with pytest.raises(RecordError) as refused:
        read_scored(message, settings, NOW)
    assert refused.value.reason == reason


def test_every_scored_record_the_enrich_stage_writes_is_read_by_the_count_stage(
    settings: Settings,
) -> None:
    limits = settings.limits.model_copy(update={"max_record_bytes": 3_000})
    small = settings.model_copy(update={"limits": limits})
    text = "云朵咖啡太难喝了，退款！" * 80  # the comment just under the limit, its record over
    result = enrich_batch([raw(text=text)], Enricher(small), small, NOW)
    assert result.dead == [] and len(result.records) == 1
    scored = result.records[0][1]
    assert len(scored) > limits.max_record_bytes
    assert [r["brand"] for r in counted(result.records, small)] == ["云朵咖啡"]
