from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from monitor.detect.windows import hour_bucket, threshold_crossings

T0 = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)


def minutes(*offsets: float) -> list[datetime]:
    return [T0 + timedelta(minutes=offset) for offset in offsets]


def test_exactly_the_threshold_is_not_a_crossing() -> None:
    assert threshold_crossings(minutes(*range(10)), threshold=10) == []


def test_one_more_than_the_threshold_is_a_crossing_until_the_first_event_ages_out() -> None:
    (crossing,) = threshold_crossings(minutes(*range(11)), threshold=10)
    assert crossing.start == T0 + timedelta(minutes=10)
    assert crossing.end == T0 + timedelta(minutes=60)
    assert crossing.peak == 11


def test_events_further_apart_than_the_window_never_add_up() -> None:
    assert threshold_crossings(minutes(*range(0, 11 * 61, 61)), threshold=10) == []


def test_order_of_arrival_does_not_matter() -> None:
    moments = minutes(*range(30))
    assert threshold_crossings(moments[::-1], 10) == threshold_crossings(moments, 10)


def test_two_separate_bursts_are_two_crossings() -> None:
    bursts = minutes(*range(12), *range(200, 215))
    assert [c.peak for c in threshold_crossings(bursts, threshold=10)] == [12, 15]


def test_hour_buckets_are_local_hours() -> None:
    bucket = hour_bucket(datetime(2026, 11, 20, 16, 59, tzinfo=UTC), ZoneInfo("Asia/Shanghai"))
    assert bucket.isoformat() == "2026-11-21T00:00:00+08:00"
