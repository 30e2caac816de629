"""The QA cases a worker keeps for the console (`monitor.qa.casebook`): only whole cases
are kept, and each partition keeps its newest, the same ones on every worker."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.qa.casebook import case_key, case_route, forgotten, read_case
from monitor.qa.intake import CASE_EVENT

START = datetime(2026, 12, 1, 9, tzinfo=UTC)


def case(n: int, shop: str = "云朵咖啡旗舰店", **fields: Any) -> dict[str, Any]:
    return {"event": CASE_EVENT, "conversation_id": f"conv-{n}", "shop": shop,
            "channel": "taobao", "agent_id": f"agent-{n % 2}", "score": 40, "pass_mark": 85,
            "started_at": (START + timedelta(minutes=n)).isoformat(),
            "deductions": [{"kind": "blame", "name": "指责顾客", "points": 15, "turn": 1,
                            "why": "把问题归咎于顾客", "evidence": "你自己的问题"}],
            "turns": [{"role": "customer", "text": "手机[电话]", "time": START.isoformat()},
                      {"role": "agent", "text": "你自己的问题", "time": START.isoformat()}],
            **fields}  # fmt: skip


def test_a_case_as_the_stream_writes_it_is_read_back_whole() -> None:
    written = case(3)
    assert read_case(json.dumps(written, ensure_ascii=False).encode()) == written
    assert case_key(written) == "taobao:conv-3" and case_route(written) == "云朵咖啡旗舰店"
    assert case_route(case(3, shop="")) == "agent:agent-1"  # as `intake.make_case` keys it


def test_anything_else_on_the_topic_is_not_kept() -> None:
    broken_turn = case(1, turns=[{"role": "agent", "text": "x"}])
    broken_deduction = case(1, deductions=[{"kind": "blame", "turn": "2"}])
    wrong = [case(1, event="other"), case(1, score="40"), case(1, started_at="yesterday"),
             case(1, conversation_id=""), broken_turn, broken_deduction]  # fmt: skip
    for raw in (b"{broken", b"[]", None, *(json.dumps(c).encode() for c in wrong)):
        assert read_case(raw) is None, raw


def test_each_partition_keeps_its_newest_conversations() -> None:
    kept = [(f"taobao:conv-{n}", case(n, shop="a" if n % 3 else "b")) for n in range(10)]
    partition_of = {"a": 0, "b": 1}

    def of(stored: dict[str, Any]) -> int:
        return partition_of[stored["shop"]]

    assert forgotten(kept, of, 0, keep=4) == ["taobao:conv-2", "taobao:conv-1"]
    assert forgotten(kept, of, 1, keep=4) == []  # conv-0, 3, 6, 9: four, none beyond
    assert forgotten(list(reversed(kept)), of, 0, keep=4) == forgotten(kept, of, 0, keep=4)
