"""What the console's QA pages show of the kept cases (`monitor.web.qa_console`): the
rows without the turns, filtered and newest first; each deduction at its turn."""

from __future__ import annotations

from zoneinfo import ZoneInfo

from monitor.web.qa_console import QA_ROW_KEYS, qa_detail, qa_list, qa_row
from tests.unit.test_qa_casebook import case

SHANGHAI = ZoneInfo("Asia/Shanghai")


def test_a_row_carries_what_the_list_shows_and_not_the_conversation() -> None:
    row = qa_row("taobao:conv-1", case(1), SHANGHAI)
    assert row.keys() == QA_ROW_KEYS and "turns" not in row
    shown = (row["id"], row["started"], row["deductions_left_out"])
    assert shown == ("taobao:conv-1", "12-01 17:01", 0)


def test_the_list_is_filtered_by_shop_and_agent_newest_first() -> None:
    rows = [qa_row(f"taobao:conv-{n}", case(n, shop="ab"[n // 3]), SHANGHAI) for n in range(6)]
    page = qa_list({}, list(rows))
    assert [row["id"][-1] for row in page["rows"]] == list("543210")
    assert (page["shops"], page["agents"], page["total"]) == (["a", "b"], ["agent-0", "agent-1"], 6)
    wanted = qa_list({"shop": "b", "agent": "agent-0"}, list(rows))["rows"]
    assert [row["id"] for row in wanted] == ["taobao:conv-4"]


def test_each_deduction_is_marked_at_its_turn_and_one_beyond_them_apart() -> None:
    stray = {"kind": "unresolved", "name": "问题未解决", "points": 15, "turn": 7, "why": "x",
             "evidence": ""}  # fmt: skip
    stored = case(2)
    detail = qa_detail("taobao:conv-2", {**stored, "deductions": [*stored["deductions"], stray]},
                       SHANGHAI)  # fmt: skip
    turns = detail["turns"]
    assert [(t["number"], t["role"], len(t["deductions"])) for t in turns] == [
        (1, "customer", 0), (2, "agent", 1)]  # fmt: skip
    assert turns[1]["deductions"][0]["kind"] == "blame" and turns[0]["time"] == "12-01 17:00:00"
    assert detail["elsewhere"] == [stray]
