"""JSON from strangers: the one decoder every entry point (stream, CLI, HTTP) uses.

Python's `json` accepts what later breaks us far from the input: `Infinity`, `NaN` and
`1e400` (not JSON, and an OverflowError when counted), integers of thousands of digits (a
ValueError on conversion), lone surrogates such as `"\\ud800"` (a UnicodeEncodeError at the
next send), and nesting deep enough to exhaust the recursion limit here or in the next
library that walks the document. Each is refused here, at the edge, with a reason class.
"""

from __future__ import annotations

import json
import math
from typing import Any

MAX_DEPTH = 32
MAX_INT_DIGITS = 30
# Why a document was refused: bounded, because it becomes a metric label.
REASONS = ("not_json", "too_deep", "bad_number", "bad_text")


class StrictJSONError(ValueError):
    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def _refuse_constant(name: str) -> Any:
    raise StrictJSONError("bad_number", f"{name} is not a JSON number")


def _parse_int(digits: str) -> int:
    if len(digits.lstrip("-")) > MAX_INT_DIGITS:
        raise StrictJSONError("bad_number", f"an integer of {len(digits)} digits")
    return int(digits)


def _parse_float(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise StrictJSONError("bad_number", f"{text[:40]} is out of range")
    return value


def loads(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """The document, or StrictJSONError with a reason from REASONS."""
    try:
        document = json.loads(
            raw,
            parse_constant=_refuse_constant,
            parse_int=_parse_int,
            parse_float=_parse_float,
        )
    except StrictJSONError:
        raise
    except RecursionError:
        raise StrictJSONError("too_deep", f"nested deeper than {max_depth}") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise StrictJSONError("not_json", f"not valid JSON: {error}") from None
    check_document(document, max_depth)
    return document


def check_document(document: Any, max_depth: int = MAX_DEPTH) -> None:
    """Refuse nesting deeper than `max_depth` and strings that are not valid Unicode."""
    pending: list[tuple[Any, int]] = [(document, 0)]
    while pending:
        value, depth = pending.pop()
        if isinstance(value, str):
            _check_text(value)
        elif isinstance(value, dict | list):
            if depth >= max_depth:
                raise StrictJSONError("too_deep", f"nested deeper than {max_depth}")
            items = value.items() if isinstance(value, dict) else enumerate(value)
            for key, item in items:
                if isinstance(key, str):
                    _check_text(key)
                pending.append((item, depth + 1))


def _check_text(text: str) -> None:
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            raise StrictJSONError("bad_text", "a string holds a lone surrogate") from None
