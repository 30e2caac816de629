"""A CreateTopics answer carries an error per topic and never raises by itself."""

from __future__ import annotations

import pytest
from aiokafka.errors import InvalidReplicationFactorError, InvalidTopicError

from monitor.stream.brokerwatch import raise_refusals


def test_created_topics_and_ones_another_worker_created_are_fine() -> None:
    raise_refusals([("t-comments", 0, None), ("t-scored", 36, "already exists")])


@pytest.mark.parametrize(
    ("answer", "refusal"),
    [
        (("bad name", 17, "Topic name is illegal"), InvalidTopicError),
        (("t-comments", 38, None), InvalidReplicationFactorError),  # no message: the class's
    ],
)
def test_a_refusal_raises_with_the_topic_and_the_brokers_words(
    answer: tuple[str, int, str | None], refusal: type[Exception]
) -> None:
    with pytest.raises(refusal, match=answer[0]):
        raise_refusals([("t-ok", 0, None), answer])
