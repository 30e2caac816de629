"""The conversation record contract: one customer-service chat, its turns, and why a
record is refused.

A conversation arrives as one JSON object (the stream, a JSONL export) or as CSV rows, one
per turn, grouped by `id` (`group_turn_rows`). Required: `id`, `channel` (wecom, taobao,
tmall, jd, douyin, pinduoduo, miniprogram, …), `agent_id` and `turns`, each turn with
`role` (agent or customer), `text` and `time` (ISO 8601, a missing zone meaning the
configured one, or epoch seconds). Optional: `shop` (the per-shop sample rate keys on it),
`resolved` (true/false, when the platform knows). Unknown fields, of the conversation and
of each turn, are kept.

A refused record raises `RecordError` with a reason class of `monitor.detect.records`
(the same bounded set the comment contract uses, so the stream can dead-letter it the
same way), never another exception.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal
from zoneinfo import ZoneInfo

from monitor import strictjson
from monitor.detect.records import (
    MAX_ID_CHARS,
    MAX_PLATFORM_CHARS,
    RecordError,
    check_length,
    check_time,
    parse_json,
    parse_time,
    short_text,
)
from monitor.settings import LimitSettings

Role = Literal["agent", "customer"]
REQUIRED_FIELDS = ("id", "channel", "agent_id", "turns")
TURN_FIELDS = ("role", "text", "time")
MAX_TURNS = 1000
MAX_CONVERSATION_CHARS = 200_000  # all turns together; one turn is bounded by max_text_chars
# What exports call the two sides (Taobao's 买家/卖家, WeCom's 客户/员工, …).
ROLE_NAMES: Mapping[str, Role] = {
    "agent": "agent", "staff": "agent", "seller": "agent", "service": "agent",
    "客服": "agent", "卖家": "agent", "员工": "agent", "商家": "agent",
    "customer": "customer", "buyer": "customer", "user": "customer", "client": "customer",
    "顾客": "customer", "客户": "customer", "买家": "customer", "用户": "customer",
}  # fmt: skip
_TRUE = {"true", "1", "yes", "y", "是"}
_FALSE = {"false", "0", "no", "n", "否"}


@dataclass(frozen=True, slots=True)
class Turn:
    role: Role
    text: str
    time: datetime
    extra: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Conversation:
    """Turns in time order (a stable sort: turns of the same second keep their order);
    a deduction's `turn` is an index into `turns`."""

    id: str
    channel: str
    agent_id: str
    turns: tuple[Turn, ...]
    shop: str = ""
    resolved: bool | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def key(self) -> str:
        """Unique across channels: the same id may exist on Taobao and on JD."""
        return f"{self.channel}:{self.id}"

    @property
    def started_at(self) -> datetime:
        return self.turns[0].time


def parse_conversation_json(
    raw: bytes | None, limits: LimitSettings, zone: ZoneInfo, now: datetime
) -> Conversation:
    """One conversation record's bytes (the stream's value, a JSONL line)."""
    return parse_conversation(
        parse_json(raw, limits.max_record_bytes, "a conversation"), limits, zone, now
    )


def parse_conversation(
    fields: Mapping[str, Any], limits: LimitSettings, zone: ZoneInfo, now: datetime
) -> Conversation:
    """Validate one record. Naive times are read in `zone`; `now` bounds future dates."""
    if not isinstance(fields, Mapping):
        raise RecordError("not_object", "a conversation must be a JSON object")
    try:
        strictjson.check_document(fields)
    except strictjson.StrictJSONError as error:
        raise RecordError(error.reason, str(error)) from None
    missing = [name for name in REQUIRED_FIELDS if fields.get(name) in (None, "", [])]
    if missing:
        raise RecordError("missing_field", f"missing required field(s): {', '.join(missing)}")
    raw_turns = fields["turns"]
    if not isinstance(raw_turns, list | tuple):
        raise RecordError("bad_field", "turns must be a list of turns")
    if len(raw_turns) > MAX_TURNS:
        raise RecordError(
            "too_large", f"the conversation has {len(raw_turns)} turns; the limit is {MAX_TURNS}"
        )
    turns = [_turn(number, turn, limits, zone, now) for number, turn in enumerate(raw_turns)]
    characters = sum(len(turn.text) for turn in turns)
    if characters > MAX_CONVERSATION_CHARS:
        raise RecordError(
            "too_large",
            f"the turns hold {characters} characters; the limit is {MAX_CONVERSATION_CHARS}",
        )
    turns.sort(key=lambda turn: turn.time)
    shop = fields.get("shop")
    return Conversation(
        id=_short_text(fields, "id", MAX_ID_CHARS),
        channel=_short_text(fields, "channel", MAX_PLATFORM_CHARS).strip().lower(),
        agent_id=_short_text(fields, "agent_id", MAX_ID_CHARS).strip(),
        turns=tuple(turns),
        shop=_short_text(fields, "shop", MAX_ID_CHARS).strip() if shop not in (None, "") else "",
        resolved=_flag(fields.get("resolved")),
        extra={key: value for key, value in fields.items()
               if key not in {*REQUIRED_FIELDS, "shop", "resolved"}},
    )  # fmt: skip


def _turn(number: int, raw: Any, limits: LimitSettings, zone: ZoneInfo, now: datetime) -> Turn:
    where = f"turn {number}"
    if not isinstance(raw, Mapping):
        raise RecordError("bad_field", f"{where} must be an object with role, text and time")
    missing = [name for name in TURN_FIELDS if raw.get(name) is None]
    if missing:
        raise RecordError("missing_field", f"{where} lacks {', '.join(missing)}")
    role_name = raw["role"]
    role = ROLE_NAMES.get(role_name.strip().lower()) if isinstance(role_name, str) else None
    if role is None:
        raise RecordError("bad_field", f"{where}: role must be agent or customer")
    text = raw["text"]
    if not isinstance(text, str):
        raise RecordError("bad_field", f"{where}: text must be a string")
    check_length(text, limits, where)
    time = parse_time(raw["time"], zone)
    check_time(time, limits, now)
    extra = {key: value for key, value in raw.items() if key not in TURN_FIELDS}
    return Turn(role, text, time, extra)


def _short_text(fields: Mapping[str, Any], name: str, limit: int) -> str:
    """A comment's short-text check (`records.short_text`), and never blank."""
    text = short_text(fields, name, limit)
    if not text.strip():
        raise RecordError("missing_field", f"{name} is blank")
    return text


def _flag(value: Any) -> bool | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        return value
    folded = str(value).strip().lower() if isinstance(value, str | int) else None
    if folded in _TRUE:
        return True
    if folded in _FALSE:
        return False
    raise RecordError("bad_field", f"resolved must be true or false, not {str(value)[:40]!r}")


def group_turn_rows(rows: Iterable[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """CSV rows, one per turn (`id`, `role`, `text`, `time` and the conversation's columns),
    as conversation records in the order each first appears.

    The conversation's fields come from its first row; a row without an id is a record of
    its own (and is refused for it). A conversation stops growing one turn past MAX_TURNS,
    enough for the contract to refuse it, so one huge group costs bounded memory.
    """
    records: dict[str, dict[str, Any]] = {}
    first_seen: dict[str, int] = {}
    alone: list[tuple[int, dict[str, Any]]] = []
    for position, row in enumerate(rows):
        turn = {name: row.get(name) for name in TURN_FIELDS}
        key = row.get("id")
        if not isinstance(key, str | int) or isinstance(key, bool) or not str(key).strip():
            alone.append((position, {**row, "turns": [turn]}))
            continue
        record = records.get(str(key))
        if record is None:
            conversation = {name: value for name, value in row.items() if name not in TURN_FIELDS}
            records[str(key)] = {**conversation, "turns": [turn]}
            first_seen[str(key)] = position
        elif len(record["turns"]) <= MAX_TURNS:
            record["turns"].append(turn)
    grouped = [(first_seen[key], record) for key, record in records.items()]
    return [record for _, record in sorted([*grouped, *alone], key=lambda item: item[0])]
