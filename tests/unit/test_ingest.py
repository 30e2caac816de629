from collections.abc import Callable
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import kafka
import pytest
from kafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from monitor.settings import Settings
from monitor.stream import ingest
from monitor.stream.broker import BrokerError
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


class FakeFuture:
    def __init__(self) -> None:
        self.callbacks: list[Callable[[object], None]] = []
        self.errbacks: list[Callable[[BaseException], None]] = []

    def add_callback(self, callback: Callable[[object], None]) -> None:
        self.callbacks.append(callback)

    def add_errback(self, errback: Callable[[BaseException], None]) -> None:
        self.errbacks.append(errback)


class FakeProducer:
    """Acknowledges comments whose text says `ok` at flush, fails `gone`, never answers for
    `lost`, and refuses `huge` in send() as kafka-python does above max_request_size."""

    def __init__(self, **config: object) -> None:
        self.config = config
        self.pending: list[tuple[bytes, FakeFuture]] = []

    def send(self, topic: str, key: bytes | None, value: bytes) -> FakeFuture:
        if b"huge" in value:
            raise MessageSizeTooLargeError("the message is 10485760 bytes")
        future = FakeFuture()
        self.pending.append((value, future))
        return future

    def flush(self, timeout: float | None = None) -> None:
        for value, future in self.pending:
            if b"ok" in value:
                for callback in future.callbacks:
                    callback(object())
            elif b"gone" in value:
                for errback in future.errbacks:
                    errback(KafkaTimeoutError("Expiring 1 record(s)"))

    def close(self, timeout: float | None = None) -> None:
        pass


def test_only_acknowledged_comments_count_as_sent(
    monkeypatch: pytest.MonkeyPatch, settings: Settings
) -> None:
    monkeypatch.setattr(kafka, "KafkaProducer", FakeProducer)
    monkeypatch.setattr(ingest, "ensure_topics", lambda broker, settings, timeout: None)
    rows: list[dict[str, object] | bytes] = [
        {"id": "1", "text": "ok"}, {"id": "2", "text": "ok"}, {"id": "3", "text": "gone"},
        {"id": "4", "text": "huge"}, b"{lost", {"id": "6", "text": "ok"},
    ]  # fmt: skip
    delivery = ingest.produce_comments("kafka://127.0.0.1:1", settings, rows, timeout=5)
    assert delivery.delivered == 3
    assert dict(delivery.failed) == {
        "KafkaTimeoutError": 1,
        "MessageSizeTooLargeError": 1,
        "no answer": 1,
    }
    assert delivery.describe("comments") == (
        "sent 3 comments to comments, 3 failed "
        "(MessageSizeTooLargeError: 1, KafkaTimeoutError: 1, no answer: 1)"
    )


@pytest.mark.parametrize(
    "url", ["kafka://no such host:x", "kafka://host:", "kafka://:9092", "kafka://h:99999"]
)
def test_a_broker_url_kafka_python_cannot_parse_is_an_input_error(
    settings: Settings, url: str
) -> None:
    with pytest.raises(BrokerError, match=r"broker URL|port"):
        ingest.produce_comments(url, settings, [])


def test_good_broker_urls_pass() -> None:
    ingest.check_broker("kafka://127.0.0.1:9092;kafka://[::1]:9093,kafka://localhost")
