"""The comment record contract (DESIGN.md): parsing and the reasons a record is rejected.

Every rejection carries a short reason class (for metrics and the dead-letter topic) and a
sentence a person can act on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from monitor import strictjson
from monitor.settings import LimitSettings

REQUIRED_FIELDS = ("id", "platform", "text", "created_at")
MAX_ID_CHARS = 200
MAX_PLATFORM_CHARS = 40
MAX_COUNT = 2**53  # followers, likes, shares: beyond this a count is not a real one
# Why a record went to the dead-letter topic: a bounded set, because it is a metric label.
# `unprocessable` is any other exception on the record: a bug of ours, kept with the record.
REASONS = ("empty", "too_large", "not_json", *strictjson.REASONS[1:], "not_object",
           "missing_field", "bad_field", "empty_text", "text_too_long", "bad_time",
           "absurd_time", "unknown_brand", "not_scored", "not_an_event", "unsendable",
           "unprocessable")  # fmt: skip


class RecordError(ValueError):
    """A record that breaks the contract. `reason` is a short, bounded class name."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        assert reason in REASONS, f"add {reason!r} to REASONS"
        self.reason = reason


@dataclass(frozen=True, slots=True)
class Comment:
    id: str
    platform: str
    text: str
    created_at: datetime
    brand: str | None = None
    author_followers: int = 0
    likes: int = 0
    shares: int = 0
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Unique across platforms: the same id may exist on Weibo and on Douyin."""
        return f"{self.platform}:{self.id}"


def check_length(text: str, limits: LimitSettings, what: str = "text") -> None:
    if len(text) > limits.max_text_chars:
        raise RecordError(
            "text_too_long",
            f"{what} has {len(text)} characters; the limit is {limits.max_text_chars}",
        )


def check_time(created_at: datetime, limits: LimitSettings, now: datetime) -> None:
    if created_at.tzinfo is None:
        raise RecordError("absurd_time", f"created_at {created_at.isoformat()} has no zone")
    if created_at.year < limits.earliest_year:
        raise RecordError("absurd_time", f"created_at {created_at.isoformat()} is too far back")
    if created_at > now + timedelta(seconds=limits.max_future_seconds):
        raise RecordError("absurd_time", f"created_at {created_at.isoformat()} is in the future")


def parse_comment(
    fields: Mapping[str, Any], limits: LimitSettings, zone: ZoneInfo, now: datetime
) -> Comment:
    """Validate one record. Naive times are read in `zone`; `now` bounds future dates."""
    missing = [name for name in REQUIRED_FIELDS if fields.get(name) in (None, "")]
    if missing:
        raise RecordError("missing_field", f"missing required field(s): {', '.join(missing)}")
    text = fields["text"]
    if not isinstance(text, str):
        raise RecordError("bad_field", "text must be a string")
    if not text.strip():
        raise RecordError("empty_text", "text is empty")
    check_length(text, limits)
    created_at = parse_time(fields["created_at"], zone)
    check_time(created_at, limits, now)
    known = {*REQUIRED_FIELDS, "brand", "author_followers", "likes", "shares"}
    brand = fields.get("brand")
    return Comment(
        id=short_text(fields, "id", MAX_ID_CHARS),
        platform=short_text(fields, "platform", MAX_PLATFORM_CHARS).strip().lower(),
        text=text,
        created_at=created_at,
        brand=short_text(fields, "brand", MAX_ID_CHARS) if brand else None,
        author_followers=_count(fields, "author_followers"),
        likes=_count(fields, "likes"),
        shares=_count(fields, "shares"),
        extra={key: value for key, value in fields.items() if key not in known},
    )


def parse_time(value: Any, zone: ZoneInfo) -> datetime:
    """ISO 8601 (a missing zone means `zone`) or epoch seconds, as an aware datetime."""
    try:
        if isinstance(value, int | float) or (isinstance(value, str) and _is_number(value)):
            return datetime.fromtimestamp(float(value), tz=UTC)
        if isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip())
            return parsed if parsed.tzinfo else parsed.replace(tzinfo=zone)
    except (ValueError, OverflowError, OSError):
        pass
    raise RecordError("bad_time", f"created_at {value!r} is neither ISO 8601 nor epoch seconds")


def _is_number(value: str) -> bool:
    try:
        float(value)
    except ValueError:
        return False
    return True


def parse_document(raw: bytes | None, max_bytes: int) -> Any:
    """A record's bytes as JSON, or RecordError: nothing a stranger can send gets further
    than this unchecked (see `monitor.strictjson`)."""
    if raw is None or not raw:
        raise RecordError("empty", "the record is empty")
    if len(raw) > max_bytes:
        raise RecordError("too_large", f"the record is {len(raw)} bytes; the limit is {max_bytes}")
    try:
        return strictjson.loads(raw)
    except strictjson.StrictJSONError as error:
        raise RecordError(error.reason, str(error)) from None


def parse_json(raw: bytes | None, max_bytes: int, what: str = "a comment") -> dict[str, Any]:
    """A record's bytes as a JSON object, or RecordError."""
    document = parse_document(raw, max_bytes)
    if not isinstance(document, dict):
        raise RecordError("not_object", f"{what} must be a JSON object")
    return document


def short_text(fields: Mapping[str, Any], name: str, limit: int) -> str:
    value = fields[name]
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise RecordError("bad_field", f"{name} must be a string or a whole number")
    text = str(value)
    if len(text) > limit:
        raise RecordError("bad_field", f"{name} has {len(text)} characters; the limit is {limit}")
    return text


def _count(fields: Mapping[str, Any], name: str) -> int:
    value = fields.get(name)
    try:
        return min(MAX_COUNT, max(0, int(value))) if value not in (None, "") else 0
    except (TypeError, ValueError, OverflowError):
        raise RecordError("bad_field", f"{name} must be a whole number, not {value!r}") from None


DEAD_LETTER_MAX_BYTES = 64_000  # what is kept of a larger record: enough to see what it was
ERROR_MAX_CHARS = 500


@dataclass(frozen=True, slots=True)
class DeadLetter:
    original: bytes
    reason: str
    message: str

    def message_for(
        self, partition: int | None, offset: int | None, key: bytes | None
    ) -> tuple[bytes, dict[str, bytes]]:
        """The dead-letter topic's value and headers: where the record came from, and as
        much of it as the broker takes (`original_size` says how much was cut)."""
        headers = {
            "reason": self.reason.encode(),
            "error": _printable(self.message[:ERROR_MAX_CHARS]).encode(),
            "original_size": str(len(self.original)).encode(),
        }
        for name, value in (("partition", partition), ("offset", offset)):
            if value is not None:
                headers[name] = str(value).encode()
        if key is not None:
            headers["key"] = key[: DEAD_LETTER_MAX_BYTES // 64]
        if len(self.original) > DEAD_LETTER_MAX_BYTES:
            headers["truncated"] = b"true"
        return self.original[:DEAD_LETTER_MAX_BYTES], headers


def _printable(text: str) -> str:
    """An error message as valid UTF-8, whatever the record held (lone surrogates)."""
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def dead_letter(raw: bytes | None, error: Exception) -> DeadLetter:
    """Any exception on one record: its reason class, or `unprocessable` for our bugs."""
    if isinstance(error, RecordError):
        return DeadLetter(raw or b"", error.reason, str(error))
    return DeadLetter(raw or b"", "unprocessable", f"{type(error).__name__}: {error}")
