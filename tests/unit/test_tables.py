"""A write the broker does not take is sent again, not dead-lettered or dropped: the
broker being down is not the fault of the record at hand."""

from __future__ import annotations

import asyncio
import logging

import pytest
from aiokafka.errors import KafkaTimeoutError, MessageSizeTooLargeError

from monitor.stream import tables
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
