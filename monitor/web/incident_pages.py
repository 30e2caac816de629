"""One incident's pages: the page a link in its alert opens, the actions taken on it, and
its post-incident review."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, cast
from urllib.parse import quote
from zoneinfo import ZoneInfo

from aiohttp import web
from faust.web import Request, Response

from monitor.casework.cases import ACTIONS, CLOSED, ActionError, Case
from monitor.reports.review import deadline_outcomes, negatives_chart, review_html
from monitor.web.api import MAX_NOTE_CHARS, case_document, read_body
from monitor.web.page import FORM_BYTES, SECURITY_HEADERS, Page, parsed_form
from monitor.web.sessions import Visitor
from monitor.web.words import clock_time

# The review is one self-contained page (`guanchao incidents report --html`): its own styles
REVIEW_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


class IncidentPage(Page):
    async def get(self, request: Request, case_id: str) -> Response:
        query = cast(web.Request, request).query
        visitor = self.console.visitor(request, case_id, query.get("token", ""))
        if visitor is None:
            return self.refuse(request, 403, "link_refused")
        if not self.console.holds(case_id):
            return await self.at_owner(request, case_id)
        context = self.incident_context(self.console.responder.case(case_id), visitor)
        return self.page(request, "incident.html", **context,
                         done=_done_state(query.get("done", "")))  # fmt: skip

    def incident_context(self, case: Case, visitor: Visitor) -> dict[str, Any]:
        now = self.console.clock()
        summary = case.summary(now)
        zone = ZoneInfo(summary["timezone"])
        deliveries = self.console.responder.deliveries.values()
        sent = [d for d in deliveries if d["notice"]["case"]["id"] == case.id]
        document = {**summary, "series": [list(p) for p in case.series], "timeline": case.timeline}
        return {
            "case": summary,
            "visitor": visitor,
            "csrf": self.console.csrf(visitor),
            "actions": [name for name, (allowed, _, _) in ACTIONS.items() if case.state in allowed],
            "deadlines": _deadlines(document, now, zone),
            "timeline": [{**entry, "at": clock_time(entry["at"], zone)} for entry in case.timeline],
            "chart": negatives_chart(document["series"], case.facts.get("threshold")),
            "case_series_points": len(case.series),
            "keywords": list((case.facts.get("top_keywords") or {}).items())[:10],
            "top": case.facts.get("top_negatives") or [],
            "deliveries": [_delivery(d, zone) for d in sent],
            "detected": clock_time(summary["detected_at"], zone),
        }


class IncidentAction(Page):
    async def get(self, request: Request, case_id: str, action: str) -> Response:
        """Only the review is read here; an action's URL opened changes nothing."""
        if action != "review":
            return self.refuse(request, 405, "get_changes_nothing")
        link = cast(web.Request, request).query.get("token", "")
        if self.console.visitor(request, case_id, link) is None:
            return self.refuse(request, 403, "link_refused")
        if not self.console.holds(case_id):
            return await self.at_owner(request, case_id)
        document = case_document(self.console.responder, case_id)
        headers = {**SECURITY_HEADERS, "Content-Security-Policy": REVIEW_POLICY}
        return self.html(review_html(document, self.console.clock()), headers=headers)

    async def post(self, request: Request, case_id: str, action: str) -> Response:
        body = await read_body(request, FORM_BYTES)
        form = parsed_form(body)
        link = form.get("token", "")  # in the form: a POST's URL carries no secret
        visitor = self.console.visitor(request, case_id, link)
        if visitor is None:
            return self.refuse(request, 403, "link_refused")
        if not self.console.form_is_ours(request, visitor, form):
            return self.refuse(request, 403, "csrf")
        if not self.console.holds(case_id):
            return await self.at_owner(request, case_id, body)
        try:
            await self.act(case_id, action, visitor, form)
        except ActionError as error:
            return self.page(request, "message.html", error.status, why="action_refused",
                             detail=str(error))  # fmt: skip
        back = f"{self.console.base}/incidents/{quote(case_id, safe='')}"
        return self.go(request, f"{back}?token={quote(link)}&done={action}" if link else back)

    async def act(self, case_id: str, action: str, visitor: Visitor,
                  form: Mapping[str, str]) -> None:  # fmt: skip
        # signed in, the name is the one signed in with; a link's person may correct it
        signed_name = visitor.name if visitor.signed_in else ""
        who = signed_name or form.get("who", "").strip()[:100]
        note = form.get("note", "")[:MAX_NOTE_CHARS]
        await self.console.respond(
            lambda: self.console.responder.act(case_id, action.replace("-", "_"), who, note)
        )


def _deadlines(case: dict[str, Any], now: datetime, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Each deadline with its clock time, and the minutes left, or how late it was met."""
    shown = []
    for item in deadline_outcomes(case, now):
        due = datetime.fromisoformat(item["due"])
        done = datetime.fromisoformat(item["met"]) if item["met"] else None
        minutes = round(((done or now) - due).total_seconds() / 60)
        shown.append({"deadline": item["deadline"], "due": clock_time(item["due"], zone),
                      "met": clock_time(item["met"], zone) if done else None, "late": minutes,
                      "missed": item["missed"], "closed": case["state"] in CLOSED,
                      "due_ts": int(due.timestamp())})  # fmt: skip
    return shown


def _delivery(delivery: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    done = delivery.get("done_at")
    return {"sink": delivery["sink"], "kind": delivery["notice"]["kind"],
            "state": delivery["state"], "attempts": delivery["attempts"],
            "error": delivery.get("error") or "", "muted_by": delivery.get("muted_by") or "",
            "done_at": clock_time(done, zone) if done else ""}  # fmt: skip


def _done_state(action: str) -> str | None:
    """The state an action the visitor just took led to, to say it was recorded."""
    known = ACTIONS.get(action.replace("-", "_"))
    return known[1] if known else None
