"""What every console page shares: its template in the reader's language, the security
headers, redirects, signed forms, and passing a request on to the worker that has what
it names (`monitor.web.forwarding`)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar, cast
from urllib.parse import parse_qs, quote

import httpx
from aiohttp import web
from faust.web import Request, Response, View
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from yarl import URL

from monitor.casework.cases import ActionError
from monitor.detect.reasons import cause_worded, joined, worded
from monitor.web.api import MAX_COPY_CHARS, read_body
from monitor.web.forwarding import PASSED_BACK, pass_on, was_forwarded
from monitor.web.sessions import Visitor
from monitor.web.words import WORDS, language_of

if TYPE_CHECKING:
    from monitor.web.console import Console

STATIC = Path(__file__).with_name("static")
FORM_BYTES = 9 * MAX_COPY_CHARS + 64 * 1024  # form-encoded Chinese: 9 bytes a character
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    # The page's URL carries the signed link: it is not sent to other sites (and "no-referrer"
    # would make browsers send `Origin: null` with the forms, which `Console.same_origin` refuses)
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}


class SignInFirst(Exception):
    """A page for signed-in visitors only, opened without a session (`Page.signed_in`)."""


class Page(View):
    """A console page of this worker's console (`routes.add_page`)."""

    console: ClassVar[Console]

    async def dispatch(self, request: Any) -> Any:
        try:
            return await super().dispatch(request)
        except ActionError as error:  # an unreadable form, a body too large, a full queue
            return self.page(request, "message.html", error.status, why="bad_request",
                             detail=str(error))  # fmt: skip
        except SignInFirst:
            url = str(here(request, self.console.base))
            return self.go(request, f"{self.console.base}/sign-in?next={quote(url, safe='')}")

    def signed_in(self, request: Request) -> Visitor:
        """The signed-in visitor; with none, the sign-in page, which comes back here."""
        visitor = self.console.visitor(request)
        if visitor is None:
            raise SignInFirst
        return visitor

    def page(self, request: Request, template: str, status: int = 200,
             headers: Mapping[str, str] | None = None, **context: Any) -> Response:  # fmt: skip
        lang = language_of(request)
        url = here(request, self.console.base)
        html = (
            _templates()
            .get_template(f"console/{template}")
            .render(
                t=WORDS[lang],
                lang=lang,
                base=self.console.base,
                path=str(url),
                switch=str(url.update_query(lang="en" if lang == "zh" else "zh")),
                link=lambda path: f"{path}?lang=en" if lang == "en" else path,
                **{"done": None, "upload": None, **context},
            )
        )
        return self.html(html, status=status, headers={**SECURITY_HEADERS, **(headers or {})})

    def refuse(self, request: Request, status: int, why: str) -> Response:
        return self.page(request, "message.html", status, why=why)

    def go(self, request: Request, location: str,
           headers: Mapping[str, str] | None = None) -> Response:  # fmt: skip
        """A redirect (303: the browser GETs it), in the reader's language."""
        if language_of(request) == "en":
            location = str(URL(location).update_query(lang="en"))
        return self.html("", status=303, headers={**SECURITY_HEADERS, "Location": location,
                                                  **(headers or {})})  # fmt: skip

    async def signed_form(
        self, request: Request, body: bytes | None = None
    ) -> tuple[Visitor, dict[str, str]]:
        """The form of a signed-in visitor, from one of our pages (else a 403)."""
        visitor = self.console.visitor(request)
        form = parsed_form(await read_body(request, FORM_BYTES) if body is None else body)
        if visitor is None or not visitor.signed_in:
            raise ActionError(403, "sign in first")
        if not self.console.form_is_ours(request, visitor, form):
            raise ActionError(403, "the form has expired or came from another site")
        return visitor, form

    async def at_owner(self, request: Request, case_id: str, body: bytes = b"") -> Response:
        """The case is another worker's: the request goes there, as it came, and its
        answer comes back (a link in an alert reaches whichever worker it reaches).
        Called once the visitor's credential was checked here."""
        owner = self.console.owner_of(case_id)
        if owner is None or was_forwarded(request):
            return self.refuse(request, 404, "no_incident")
        return await self.passed_on(request, [owner], body, "no_incident")

    async def at_peers(self, request: Request, body: bytes, missing: str) -> Response:
        """What the page names is not here: the other workers are asked in turn (a
        request passed on once is not passed on again)."""
        if was_forwarded(request):
            return self.refuse(request, 404, missing)
        return await self.passed_on(request, self.console.peers(), body, missing)

    async def passed_on(self, request: Request, workers: Sequence[str], body: bytes,
                        missing: str) -> Response:  # fmt: skip
        """The answer `forwarding.pass_on` brings back, as this worker's own; a 502 when a
        worker cannot be reached, and a 404 (`missing`) when there is none to ask."""
        try:
            answer = await pass_on(request, workers, body)
        except httpx.HTTPError as error:
            return self.page(request, "message.html", 502, why="owner_unreachable",
                             detail=type(error).__name__)  # fmt: skip
        if answer is None:
            return self.refuse(request, 404, missing)
        kept = {k: v for k, v in answer.headers.items() if k.lower() in PASSED_BACK}
        kind = kept.pop("content-type", "text/html").split(";")[0]
        return self.bytes(answer.content, content_type=kind, status=answer.status_code,
                          headers=kept)  # fmt: skip


class Static(View):
    """The console's own CSS and JS."""

    async def get(self, request: Request, name: str) -> Response:
        path = STATIC / name
        if name not in _static_names():
            return self.text("not found", status=404)
        kind = "text/css" if name.endswith(".css") else "text/javascript"
        return self.bytes(path.read_bytes(), content_type=kind,
                          headers={"Cache-Control": "max-age=3600"})  # fmt: skip


@cache
def _templates() -> Environment:
    environment = Environment(
        loader=PackageLoader("monitor", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    environment.filters |= {"reason": worded, "reasons": joined, "cause": cause_worded}
    return environment


@cache
def _static_names() -> frozenset[str]:
    return frozenset(path.name for path in STATIC.iterdir())


async def read_form(request: Request) -> dict[str, str]:
    return parsed_form(await read_body(request, FORM_BYTES))


def parsed_form(raw: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as error:
        raise ActionError(400, f"the form is not readable: {error}") from None
    return {name: values[0] for name, values in fields.items()}


def here(request: Request, base: str) -> URL:
    """This page's URL as the browser sees it: under `base`, the public path prefix."""
    raw = cast(web.Request, request)
    return URL(base + raw.rel_url.path.removeprefix("/console")).with_query(raw.rel_url.query)


def next_page(request: Request, base: str) -> str:
    """Where to go after signing in: a page of the console, nothing else (no other host,
    no backslash or control characters that browsers read as one)."""
    wanted = cast(web.Request, request).query.get("next", "")
    plain = wanted.isprintable() and not any(c.isspace() or c == "\\" for c in wanted)
    return wanted if plain and wanted.startswith(base + "/") else ""
