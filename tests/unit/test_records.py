from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import pytest

from monitor.detect.records import RecordError, parse_comment
from monitor.settings import LimitSettings

NOW = datetime(2026, 11, 26, 8, 0, tzinfo=UTC)
ZONE = ZoneInfo("Asia/Shanghai")
LIMITS = LimitSettings()


def parse(**fields: object) -> object:
    base: dict[str, object] = {
        "id": "1",
        "platform": "Weibo",
        "text": "物流太慢",
        "created_at": "2026-11-26T15:00:00+08:00",
    }
    return parse_comment({**base, **fields}, LIMITS, ZONE, NOW)


def test_a_valid_record_keeps_unknown_fields() -> None:
    comment = parse(url="https://weibo.com/1", likes="12")
    assert comment.platform == "weibo"  # type: ignore[attr-defined]
    assert comment.likes == 12  # type: ignore[attr-defined]
    assert comment.extra == {"url": "https://weibo.com/1"}  # type: ignore[attr-defined]


def test_epoch_seconds_and_naive_local_times_are_understood() -> None:
    epoch = parse(created_at=datetime(2026, 11, 26, 7, 0, tzinfo=UTC).timestamp())
    naive = parse(created_at="2026-11-26 15:00:00")
    assert epoch.created_at == naive.created_at  # type: ignore[attr-defined]


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"text": ""}, "missing_field"),
        ({"text": "   "}, "empty_text"),
        ({"text": "长" * 20_001}, "text_too_long"),
        ({"created_at": "2099-01-01T00:00:00+08:00"}, "absurd_time"),
        ({"created_at": "1970-01-02T00:00:00+08:00"}, "absurd_time"),
        ({"created_at": "yesterday"}, "bad_time"),
        ({"likes": "many"}, "bad_field"),
        ({"text": ["not", "text"]}, "bad_field"),
    ],
)
def test_bad_records_are_refused_with_a_reason_class(
    fields: dict[str, object], reason: str
) -> None:
    with pytest.raises(RecordError) as caught:
        parse(**fields)
    assert caught.value.reason == reason
