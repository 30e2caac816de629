"""The console's QA pages: the failed conversations a lead reads, and one conversation
with each deduction marked at its turn.

GET /console/qa                 failed conversations, newest first (?shop=…&agent=…)
GET /console/qa/{case_id}       one conversation, masked, its deductions at their turns

A case is shown as the stream kept it (`monitor.qa.casebook`): masked when it was scored,
so nothing here reads a raw record, and nothing here could unmask. A shop's cases are on
the worker that owns its partition: the list asks every worker for its rows (`rows/qa`,
the board's fan-out), and a case this worker does not hold is asked of the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, cast
from zoneinfo import ZoneInfo

from aiohttp import web
from faust.web import Request, Response

from monitor.qa.casebook import started
from monitor.web.page import Page
from monitor.web.words import clock_time

# What a row from another worker must carry to be shown (`fanout.ROW_KEYS`)
QA_ROW_KEYS = frozenset({"id", "shop", "channel", "agent_id", "score", "pass_mark",
                         "started_at", "started", "deductions", "deductions_left_out"})  # fmt: skip
SHOWN_ROWS = 200  # a page a lead can read; the filters find the rest


def qa_row(key: str, case: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """What the list shows of a case: all but the conversation's turns, which are the
    bulk of a case and travel between workers only for the one case opened."""
    row = {name: case.get(name) for name in QA_ROW_KEYS - {"id", "started"}}
    return {**row, "id": key, "started": clock_time(case["started_at"], zone),
            "deductions_left_out": case.get("deductions_left_out") or 0}  # fmt: skip


def qa_list(query: Mapping[str, str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The rows of the wanted shop and agent, newest first, the first SHOWN_ROWS."""
    wanted = {name: query.get(name) or None for name in ("shop", "agent")}
    shown = [row for row in rows if wanted["shop"] in (None, row["shop"])
             and wanted["agent"] in (None, row["agent_id"])]  # fmt: skip
    shown.sort(key=lambda row: (started(row), row["id"]), reverse=True)
    return {
        "rows": shown[:SHOWN_ROWS],
        "total": len(shown),
        "shops": sorted({row["shop"] for row in rows if row["shop"]}),
        "agents": sorted({row["agent_id"] for row in rows}),
        "wanted": wanted,
    }


def qa_detail(key: str, case: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    """The case, and its turns numbered from 1, each with the deductions found at it;
    a deduction whose turn is not among them (a case cut short) is listed apart."""
    turns = [{**turn, "number": index + 1, "time": clock_time(turn["time"], zone, seconds=True),
              "deductions": []} for index, turn in enumerate(case["turns"])]  # fmt: skip
    elsewhere: list[Mapping[str, Any]] = []
    for deduction in case["deductions"]:
        at = deduction["turn"]
        (turns[at]["deductions"] if 0 <= at < len(turns) else elsewhere).append(deduction)
    return {"case": qa_row(key, case, zone), "turns": turns, "elsewhere": elsewhere}


class QACases(Page):
    async def get(self, request: Request) -> Response:
        visitor = self.signed_in(request)
        rows, missing = await self.console.everywhere("qa", visitor)
        query = cast(web.Request, request).query
        return self.page(request, "qa.html", visitor=visitor, missing=missing,
                         **qa_list(query, rows))  # fmt: skip


class QACase(Page):
    async def get(self, request: Request, case_id: str) -> Response:
        visitor = self.signed_in(request)
        case = self.console.qa_cases().get(case_id)
        if case is None:  # another worker's shop, or none
            return await self.at_peers(request, b"", "no_qa_case")
        detail = qa_detail(case_id, case, self.console.zone())
        return self.page(request, "qa_case.html", visitor=visitor, **detail)
