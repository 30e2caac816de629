from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from monitor.stream.ingest import Pacer, bootstrap_servers, outgoing, time_shifter

ZONE = ZoneInfo("Asia/Shanghai")


def test_rewrite_time_puts_the_newest_comment_at_now_and_keeps_the_gaps() -> None:
    rows: list[dict[str, object] | bytes] = [
        {"id": "1", "created_at": "2024-05-01T10:00:00+08:00"},
        {"id": "2", "created_at": "2024-05-01T10:30:00+08:00"},
        b"{broken",
        {"id": "3", "created_at": "not a time"},
    ]
    now = datetime(2026, 11, 26, 12, 0, tzinfo=UTC)
    sent = list(outgoing(rows, time_shifter(rows, now, ZONE)))
    assert [message.value.decode()[:60] for message in sent][2] == "{broken"
    first, second = (datetime.fromisoformat(row["created_at"]) for row in rows[:2])  # type: ignore[index]
    assert second == now
    assert (second - first).total_seconds() == 1800
    assert rows[3]["created_at"] == "not a time"  # type: ignore[index]  # left for the stream


def test_pacing_sleeps_to_keep_the_rate() -> None:
    clock = [0.0]

    def sleep(seconds: float) -> None:
        clock[0] += seconds

    pacer = Pacer(100, clock=lambda: clock[0], sleep=sleep)
    for _ in range(10):
        pacer.wait()
    assert round(clock[0], 6) == 0.1  # ten messages at 100/s take a tenth of a second
    unpaced = Pacer(None, clock=lambda: clock[0], sleep=sleep)
    unpaced.wait()
    assert round(clock[0], 6) == 0.1


def test_broker_urls_become_bootstrap_servers() -> None:
    assert bootstrap_servers("kafka://a:9092;kafka://b:9093") == "a:9092,b:9093"
