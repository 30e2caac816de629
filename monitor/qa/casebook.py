"""The QA cases a worker keeps for the console: read back from the QA-cases topic, keyed
by conversation, in the partition of the shop (else the agent) the case is keyed by, and
bounded.

The bound is a count, not an age: at most `KEPT_PER_PARTITION` cases in each partition of
the table, the oldest conversations (by their start) forgotten first. A count bounds the
memory even when a shop's whole team fails for a day; an age alone would not. With the
default four partitions that is 2,000 cases in all, each worker holding its partitions'
share. The weekly report (`guanchao qa report`) is where older cases are read.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime
from typing import Any

from monitor.qa.intake import CASE_EVENT, route_key

KEPT_PER_PARTITION = 500
# What a kept case must carry for the console to show it (`monitor.web.qa_console`)
CASE_FIELDS = {"conversation_id": str, "shop": str, "channel": str, "agent_id": str,
               "started_at": str, "score": int, "pass_mark": int, "deductions": list,
               "turns": list}  # fmt: skip
DEDUCTION_FIELDS = {"kind": str, "name": str, "points": int, "turn": int, "why": str,
                    "evidence": str}  # fmt: skip
TURN_FIELDS = {"role": str, "text": str, "time": str}


def read_case(raw: bytes | None) -> dict[str, Any] | None:
    """A case as `intake.make_case` wrote it, or None for anything else on the topic (a
    record another producer wrote, or one of an older shape): the console shows only what
    it can show whole."""
    try:
        case = json.loads(raw or b"")
        datetime.fromisoformat(case["started_at"])
    except (ValueError, TypeError, KeyError):
        return None
    if not isinstance(case, dict) or case.get("event") != CASE_EVENT:
        return None
    if not all(isinstance(case.get(name), kind) for name, kind in CASE_FIELDS.items()):
        return None
    deductions, turns = case["deductions"], case["turns"]
    whole = _all_have(deductions, DEDUCTION_FIELDS) and _all_have(turns, TURN_FIELDS)
    return case if whole and case["conversation_id"] else None


def _all_have(items: list[Any], fields: Mapping[str, type]) -> bool:
    return all(
        isinstance(item, dict) and all(isinstance(item.get(n), k) for n, k in fields.items())
        for item in items
    )


def case_key(case: Mapping[str, Any]) -> str:
    """The table's key and the console's id of a case: the channel and the conversation
    id, as `Conversation.key` (the same id may exist on Taobao and on JD)."""
    return f"{case['channel']}:{case['conversation_id']}"


def case_route(case: Mapping[str, Any]) -> str:
    """What the case is keyed and partitioned by on the topic and in the table."""
    return route_key(str(case.get("shop") or ""), str(case.get("agent_id") or ""))


def forgotten(
    cases: Iterable[tuple[str, Mapping[str, Any]]],
    partition_of: Callable[[Mapping[str, Any]], int],
    partition: int,
    keep: int = KEPT_PER_PARTITION,
) -> list[str]:
    """The ids of `partition`'s cases beyond the newest `keep` (by the conversation's
    start, then id, so that every worker forgets the same ones)."""
    mine = [(started(case), key) for key, case in cases if partition_of(case) == partition]
    if len(mine) <= keep:
        return []
    mine.sort(reverse=True)
    return [key for _, key in mine[keep:]]


def started(case: Mapping[str, Any]) -> datetime:
    """When the conversation began (aware: the contract gives every time a zone)."""
    return datetime.fromisoformat(str(case["started_at"]))
