"""The pages that list every worker's rows: the board of incidents, the silences and the
drills (`Console.everywhere`), and `Rows`, this worker's own rows for another's page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar, cast
from urllib.parse import quote

from aiohttp import web
from faust.web import Request, Response, View

from alerts.routing import Silence
from monitor.casework.cases import CLOSED, ActionError
from monitor.settings import LEVELS
from monitor.web.api import read_body, silence_from
from monitor.web.fanout import ROW_KEYS
from monitor.web.page import FORM_BYTES, SECURITY_HEADERS, Page

if TYPE_CHECKING:
    from monitor.web.console import Console


class Board(Page):
    async def get(self, request: Request) -> Response:
        visitor = self.signed_in(request)
        query = cast(web.Request, request).query
        rows, missing = await self.console.everywhere("board", visitor)
        template = "board_list.html" if query.get("fragment") else "board.html"
        return self.page(request, template, visitor=visitor, csrf=self.console.csrf(visitor),
                         missing=missing, **board(query, rows))  # fmt: skip


class Rows(View):
    console: ClassVar[Console]  # this worker's (`routes.add_page`)

    async def get(self, request: Request, kind: str) -> Response:
        """This worker's own rows of the board or the drills, for another worker's page
        (`Console.everywhere`): for a signed-in session only, never asked on again."""
        visitor = self.console.visitor(request)
        if visitor is None or not visitor.signed_in:
            return self.json({"error": "sign in first"}, status=403)
        if kind not in ROW_KEYS:
            return self.json({"error": f"no rows called {kind[:40]!r}"}, status=404)
        return self.json({"rows": self.console.rows(kind)}, headers=SECURITY_HEADERS)


class Silences(Page):
    async def get(self, request: Request) -> Response:
        visitor = self.signed_in(request)
        rows, missing = await self.console.everywhere("silences", visitor)
        return self.page(request, "silences.html", visitor=visitor, missing=missing,
                         csrf=self.console.csrf(visitor),
                         **silences(rows, self.console.clock(), self.console.brands))  # fmt: skip

    async def post(self, request: Request) -> Response:
        visitor, form = await self.signed_form(request)
        body: dict[str, Any] = {**form, "who": visitor.name or form.get("who", "")}
        body["minutes"] = int(form["minutes"]) if form.get("minutes", "").isdigit() else None
        await self.console.save_silence(silence_from(body, self.console.clock()))
        return self.go(request, f"{self.console.base}/silences")


class ExpireSilence(Page):
    async def post(self, request: Request, silence_id: str) -> Response:
        body = await read_body(request, FORM_BYTES)
        await self.signed_form(request, body)
        stored = self.console.responder.silences.get(silence_id)
        if stored is None:  # listed from another worker (`Console.everywhere`)
            return await self.at_peers(request, body, "no_silence")
        silence = Silence.from_dict(stored)
        ended = replace(silence, ends_at=min(silence.ends_at, self.console.clock()))
        await self.console.save_silence(ended)
        return self.go(request, f"{self.console.base}/silences")


class Drills(Page):
    async def get(self, request: Request) -> Response:
        visitor = self.signed_in(request)
        query = cast(web.Request, request).query
        started = {"brand": query.get("started", ""), "size": query.get("size", "")}
        rows, missing = await self.console.everywhere("drills", visitor)
        rows.sort(key=lambda row: str(row["detected_at"]), reverse=True)
        return self.page(request, "drills.html", visitor=visitor, csrf=self.console.csrf(visitor),
                         started=started if started["brand"] else None, missing=missing,
                         rows=rows, brands=self.console.brands)  # fmt: skip

    async def post(self, request: Request) -> Response:
        _, form = await self.signed_form(request)
        brand = form.get("brand", "")
        if brand not in self.console.brands:
            raise ActionError(400, f"not a brand of the config: {brand[:40]!r}")
        size = await self.console.start_drill(brand)  # then a GET: a reload starts no other
        return self.go(request, f"{self.console.base}/drills?started={quote(brand)}&size={size}")


def board(query: Mapping[str, str], rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The board's open and closed incidents of the wanted brand, level and state,
    the highest level first, then the oldest."""
    wanted = {name: query.get(name) or None for name in ("brand", "level", "state")}
    shown = [row for row in rows if all(v in (None, row[k]) for k, v in wanted.items())]
    shown.sort(key=lambda row: (-LEVELS.index(row["level"]), row["detected_at"]))
    return {
        "open": [row for row in shown if row["state"] not in CLOSED],
        "closed": [row for row in shown if row["state"] in CLOSED],
        "brands": sorted({row["brand"] for row in rows}),
        "wanted": wanted,
        "levels": LEVELS,
        "states": ["open", "acknowledged", "statement", *sorted(CLOSED)],
    }


def silences(rows: list[dict[str, Any]], now: datetime, brands: list[str]) -> dict[str, Any]:
    """The silences in force now and the last 20 ended, the latest ending first."""
    rows.sort(key=lambda row: datetime.fromisoformat(row["ends_at"]), reverse=True)
    ended = [row for row in rows if datetime.fromisoformat(row["ends_at"]) <= now]
    return {
        "active": [row for row in rows if datetime.fromisoformat(row["starts_at"]) <= now
                   and row not in ended],
        "ended": ended[:20],
        "brands": brands,
        "levels": LEVELS,
    }  # fmt: skip
