"""Signing in to the console with a token, and out again (`Console.sign_out`)."""

from __future__ import annotations

from typing import cast

from aiohttp import web
from faust.web import Request, Response

from monitor.web.forwarding import was_forwarded
from monitor.web.page import Page, next_page, read_form
from monitor.web.sessions import SESSION_HOURS


class SignIn(Page):
    async def get(self, request: Request) -> Response:
        return self.page(request, "sign_in.html", failed=False,
                         next=next_page(request, self.console.base))  # fmt: skip

    async def post(self, request: Request) -> Response:
        form = await read_form(request)
        if not self.console.same_origin(request):
            return self.refuse(request, 403, "csrf")
        client = cast(web.Request, request).remote or "?"
        if not self.console.tries.allowed(client):
            return self.refuse(request, 429, "too_many_tries")
        name = self.console.signed_in_as(form.get("token", ""),
                                         form.get("name", "").strip()[:100])  # fmt: skip
        if name is None:
            self.console.tries.failed(client)
            return self.page(request, "sign_in.html", 401, failed=True,
                             next=next_page(request, self.console.base))  # fmt: skip
        cookie = self.console.cookie(self.console.session(name), SESSION_HOURS * 3600)
        return self.go(request, next_page(request, self.console.base) or f"{self.console.base}/",
                       {"Set-Cookie": cookie})  # fmt: skip


class SignOut(Page):
    async def post(self, request: Request) -> Response:
        visitor = self.console.visitor(request)
        if visitor is not None and visitor.signed_in:
            self.console.sign_out(visitor)
            if not was_forwarded(request):
                await self.console.sign_out_everywhere(visitor)
        return self.go(request, f"{self.console.base}/sign-in",
                       {"Set-Cookie": self.console.cookie("", 0)})  # fmt: skip
