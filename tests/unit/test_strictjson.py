"""The one JSON decoder for strangers' input: what it refuses, and why."""

from __future__ import annotations

import pytest

from monitor import strictjson
from monitor.strictjson import StrictJSONError


def reason(raw: bytes | str) -> str:
    with pytest.raises(StrictJSONError) as refused:
        strictjson.loads(raw)
    return refused.value.reason


def test_a_long_integer_stays_an_integer_and_a_longer_one_is_refused() -> None:
    assert strictjson.loads(b'{"followers": 1234567890123456789012345}') == {
        "followers": 1234567890123456789012345
    }
    assert reason(b'{"followers": 1' + b"0" * 40 + b"}") == "bad_number"


@pytest.mark.parametrize(
    ("raw", "why"),
    [
        (b"[" * 40 + b"]" * 40, "too_deep"),
        (b"[" * 5000 + b"]" * 5000, "too_deep"),
        (b'{"n": NaN}', "bad_number"),
        (b'{"n": 1e400}', "bad_number"),
        (b'{"text": "\\ud800"}', "bad_text"),
        ('{"text": "\ud800"}', "bad_text"),
        (b'{"text": "\xff"}', "not_json"),
        (b"", "not_json"),
    ],
)
def test_what_breaks_us_later_is_refused_here_with_its_reason(raw: bytes | str, why: str) -> None:
    assert reason(raw) == why


def test_ordinary_documents_read_as_json_does() -> None:
    raw = '{"text": "太难喝了[怒]", "likes": 3, "score": 0.5, "tags": [], "ok": true}'
    assert strictjson.loads(raw.encode()) == strictjson.loads(raw)
    assert strictjson.loads(raw)["likes"] == 3
