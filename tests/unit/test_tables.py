"""A write the broker does not take is sent again, not dead-lettered or dropped: the
broker being down is not the fault of the record at hand."""

from __future__ import annotations

import asyncio
import json
import logging

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from monitor.stream import tables
from monitor.stream.casework import sooner_end
from monitor.stream.tables import until_stored


def test_a_write_is_sent_until_the_broker_takes_it(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setattr(tables, "RETRY_SECONDS", 0.0)
    tries: list[int] = []

    async def write() -> None:
        tries.append(len(tries))
        if len(tries) < 3:
            raise KafkaTimeoutError("the broker is gone")

    with caplog.at_level(logging.WARNING):
        asyncio.run(until_stored(write, "a counted mention"))
    assert len(tries) == 3
    assert caplog.messages[0].startswith("a counted mention not stored, sending again")
    assert "KafkaTimeoutError" in caplog.messages[0]


def test_a_failure_that_sending_again_cannot_mend_is_raised(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(tables, "RETRY_SECONDS", 0.0)
    tries: list[int] = []

    async def write() -> None:
        tries.append(1)
        raise MessageSizeTooLargeError("the case is too large")

    with pytest.raises(MessageSizeTooLargeError):
        asyncio.run(until_stored(write, "a playbook step"))
    assert len(tries) == 1


def test_a_silence_read_late_from_the_changelog_does_not_come_back_to_life() -> None:
    """A worker catching up on the silences changelog reads a silence as created after it
    was ended here: the ended one stays, and a truly later end is still taken."""
    created = {"id": "s1", "ends_at": "2026-12-05T12:00:00+08:00"}
    ended = {"id": "s1", "ends_at": "2026-12-05T10:05:00+08:00"}
    table = _Table({"s1": ended})
    tables._apply_record(table, b'"s1"', json.dumps(created).encode(), keep=sooner_end)
    assert table.data["s1"] == ended
    table.data["s1"] = created
    tables._apply_record(table, b'"s1"', json.dumps(ended).encode(), keep=sooner_end)
    assert table.data["s1"] == ended


class _Table:
    def __init__(self, data: dict[str, object]) -> None:
        self.data = data
