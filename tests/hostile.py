"""Records built to break the stream (issue #10), shared by the unit tests, the
integration tests and `bench/hostile.py`: each with the dead-letter reason it must get, or
None for a record that is odd but fine."""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any


def comment(now: datetime, **fields: Any) -> bytes:
    good = {
        "id": "g1",
        "platform": "weibo",
        "text": "云朵咖啡太难喝了",
        "created_at": now.isoformat(),
    }
    return json.dumps({**good, **fields}, ensure_ascii=False).encode()


def _nested(depth: int) -> bytes:
    return b'{"id": "n", "platform": "weibo", "text": "t", "created_at": 1, "x": ' + (
        b"[" * depth + b"]" * depth + b"}"
    )


def hostile(now: datetime, n: int = 0) -> dict[str, tuple[bytes, str | None]]:
    """Every kind, the `n`th of its kind (ids differ, so none is a duplicate)."""
    good = comment(now, id=f"h{n}")
    return {
        "nested 10,000 deep": (_nested(10_000), "too_deep"),
        "an integer of 5,000 digits": (
            good.replace(f'"h{n}"'.encode(), b"9" * 5000),
            "bad_number",
        ),
        "Infinity in a count": (good[:-1] + b', "likes": Infinity}', "bad_number"),
        "1e400 in a count": (good[:-1] + b', "shares": 1e400}', "bad_number"),
        "a lone surrogate in the text": (good.replace("太难喝".encode(), b"\\ud800"), "bad_text"),
        "a lone surrogate in the id": (
            good.replace(f'"h{n}"'.encode(), b'"\\ud800"'),
            "bad_text",
        ),
        "a lone surrogate in a key": (good[:-1] + b', "\\udfff": 1}', "bad_text"),
        "1,000,000 characters of text": (
            comment(now, id=f"h{n}", text="长" * 1_000_000),
            "too_large",
        ),
        "an object of 68,000 keys": (
            comment(now, **{f"k{k}": k for k in range(68_000)}),
            "too_large",
        ),
        "an id that is an object": (comment(now, id={"a": n}), "bad_field"),
        "not JSON": (b"{not json", "not_json"),
        "binary": (b"\xff\xfe\x00binary", "not_json"),
        "empty": (b"", "empty"),
        "a list": (b"[1, 2]", "not_object"),
        "no text": (comment(now, id=f"h{n}", text=""), "missing_field"),
        "a date in 2099": (
            comment(now, id=f"h{n}", created_at="2099-01-01T00:00:00+08:00"),
            "absurd_time",
        ),
        "a brand with a pipe": (comment(now, id=f"p{n}", brand="云朵咖啡|山海茶饮"), None),
        "a count of 10^300": (comment(now, id=f"b{n}", likes=1e300), None),
    }
