"""The console: server-rendered pages for the people who are not engineers.

GET  /console/incidents/{id}?token=…   one incident, opened from the link in its alert
POST /console/incidents/{id}/{action}  acknowledge, statement, resolve, false alarm
GET  /console/incidents/{id}/review     the post-incident review, printable
GET  /console/                          the board of incidents (signed in)
GET|POST /console/sign-in, POST /console/sign-out
GET|POST /console/compliance            copy checked in place (signed in)
POST /console/compliance/file           the copy of an uploaded .txt or .docx, checked so
GET|POST /console/silences, POST /console/silences/{id}/expire   (signed in)
GET|POST /console/drills                a drill started, and how fast it was handled
GET  /console/qa, /console/qa/{id}      failed service conversations (`monitor.web.qa_console`)
GET  /console/rows/{board|drills|silences|qa}   this worker's own rows of those pages, as JSON
GET  /console/static/{name}             the console's own CSS and JS

Getting in: the link in an alert is signed for its incident and the person paged, and
expires (`monitor.signing`); everything else needs a sign-in with the API token, which
becomes a signed session cookie (HttpOnly, SameSite=Strict, Secure behind https).
Opening a page never changes anything (link scanners fetch URLs before people do):
actions are POSTs carrying a CSRF token tied to the credential, from the same origin.

Several workers: a case lives on the worker that owns its brand's partition. A request for
one case is passed on to its owner; the board, silences and drills ask every other worker of the
group for its rows at once (with the visitor's own session, checked there) and say which
did not answer in time.
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
import time
from collections import deque
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from functools import cache
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qs, quote, urlsplit
from zoneinfo import ZoneInfo

import faust
import httpx
from aiohttp import web
from faust.web import Request, Response, View
from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape
from yarl import URL

from alerts.outbox import RespondStage
from alerts.routing import Silence
from monitor.casework.cases import ACTIONS, CLOSED, ActionError, Case
from monitor.casework.drill import drill_timings
from monitor.detect.reasons import cause_worded, joined, worded
from monitor.reports.review import deadline_outcomes, negatives_chart, review_html
from monitor.settings import LEVELS
from monitor.signing import BadToken, Signer, incident_scope
from monitor.text.compliance import ComplianceChecker
from monitor.web.api import (
    MAX_COPY_CHARS,
    MAX_HITS,
    MAX_NOTE_CHARS,
    Offload,
    Respond,
    case_document,
    read_body,
    silence_from,
)
from monitor.web.qa_console import QA_ROW_KEYS, qa_row, register_qa_pages
from monitor.web.upload import UploadError, copy_from_file, uploaded_fields
from monitor.web.words import WORDS, language_of

STATIC = Path(__file__).with_name("static")
SESSION_COOKIE = "guanchao_session"
SESSION_HOURS = 12
SIGN_IN_TRIES_PER_MINUTE = 5
FORM_BYTES = 9 * MAX_COPY_CHARS + 64 * 1024  # form-encoded Chinese: 9 bytes a character
FORWARD_SECONDS = 30.0
PEER_SECONDS = 3.0  # a page asking every worker waits this long for the slowest
# What a row from another worker must carry to be shown (a worker of another version may
# answer with rows of another shape: those are left out, and the page says so)
ROW_KEYS = {
    "board": frozenset({"id", "brand", "cause", "level", "state", "drill", "detected",
                        "detected_at", "facts", "next", "next_due", "minutes_left",
                        "on_duty_name"}),
    "drills": frozenset({"id", "brand", "state", "detected", "detected_at", "to_page",
                         "to_ack"}),
    "silences": frozenset({"id", "brand", "level", "starts_at", "ends_at", "created_by",
                           "comment", "from", "until"}),
    "qa": QA_ROW_KEYS,
}  # fmt: skip
SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; img-src 'self' data:; "
    "frame-ancestors 'none'; form-action 'self'",
    "X-Content-Type-Options": "nosniff",
    # The page's URL carries the signed link: it is not sent to other sites (and "no-referrer"
    # would make browsers send `Origin: null` with the forms, which `_same_origin` refuses)
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}
FORWARDED = "X-Guanchao-Forwarded"  # a request passed on once is not passed on again
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
PASSED_BACK = {"content-type", "location", "set-cookie", "content-security-policy",
               "x-content-type-options", "referrer-policy", "cache-control"}  # fmt: skip
# The review is one self-contained page (`guanchao incidents report --html`): its own styles
REVIEW_POLICY = "default-src 'none'; style-src 'unsafe-inline'; frame-ancestors 'none'"


@dataclass(frozen=True)
class Visitor:
    """Who is looking: through a signed link (one incident) or signed in (everything)."""

    credential: str  # the link token or the session token: the CSRF token is tied to it
    name: str
    signed_in: bool


class Console:
    """What the pages need; the views below are thin."""

    def __init__(
        self,
        responder: RespondStage,
        respond: Respond,
        signer: Signer | None,
        token: str,
        public_url: str,
        clock: Callable[[], datetime],
        save_silence: Callable[[Silence], Awaitable[None]],
        start_drill: Callable[[str], Awaitable[int]],
        brands: Sequence[str],
        owner_of: Callable[[str], str | None] = lambda case_id: None,
        people: Mapping[str, str] | None = None,
        holds: Callable[[str], bool] | None = None,
        peers: Callable[[], Sequence[str]] = lambda: (),
        qa_cases: Callable[[], Mapping[str, Mapping[str, Any]]] = dict,
    ) -> None:
        self.owner_of = owner_of
        self.qa_cases = qa_cases  # the QA cases of the shops this worker owns, by id
        self.peers = peers  # the web addresses of the group's other workers, now
        # A worker keeps the cases of partitions it gave up in memory: only those of the
        # partitions it owns now are its to show and act on
        self.holds = holds or (lambda case_id: case_id in responder.cases)
        self.public = urlsplit(public_url)
        self.people = dict(people or {})  # a person's own token → their name
        self.save_silence = save_silence
        self.start_drill = start_drill
        self.brands = list(brands)
        self.responder = responder
        self.respond = respond
        self.signer = signer
        self.token = token
        self.base = urlsplit(public_url).path.rstrip("/") + "/console"
        self.clock = clock
        self.tries = SignInTries()
        self.signed_out: dict[str, datetime] = {}  # sessions ended early → when they expire

    def visitor(
        self, request: Request, case_id: str | None = None, link: str = ""
    ) -> Visitor | None:
        """The link token (good for `case_id`) or the session cookie, if either is good now."""
        if self.signer is None:
            return None
        now = self.clock()
        raw = cast(web.Request, request)
        if case_id is not None and link:
            try:
                return Visitor(link, self.signer.verify(incident_scope(case_id), link, now), False)
            except BadToken:
                pass
        session = raw.cookies.get(SESSION_COOKIE, "")
        if session in self.signed_out:
            return None
        try:
            data = self.signer.verify("session", session, now)
        except BadToken:
            return None
        return Visitor(session, data.partition("\n")[2] if "\n" in data else data, True)

    def form_is_ours(self, request: Request, visitor: Visitor, form: Mapping[str, str]) -> bool:
        """From one of our pages, rendered for this visitor (CSRF), and from our origin."""
        offered = form.get("csrf", "").encode("utf-8", "replace")
        return self.same_origin(request) and hmac.compare_digest(
            offered, self.csrf(visitor).encode()
        )

    def same_origin(self, request: Request) -> bool:
        """A form posted from another site says so in Origin (browsers send it on POST):
        it must be this worker as the browser reached it, or the configured public URL."""
        raw = cast(web.Request, request)
        origin = raw.headers.get("Origin")
        return origin is None or urlsplit(origin).netloc in (raw.host, self.public.netloc)

    def cookie(self, value: str, max_age: int) -> str:
        """Secure when the console is served over https (the configured public URL)."""
        secure = "; Secure" if self.public.scheme == "https" else ""
        return (f"{SESSION_COOKIE}={value}; Path={self.base}; Max-Age={max_age}; HttpOnly; "
                f"SameSite=Strict{secure}")  # fmt: skip

    def csrf(self, visitor: Visitor) -> str:
        assert self.signer is not None  # there is no visitor without one
        return self.signer.tie("csrf", visitor.credential)

    def signed_in_as(self, offered: str, name: str) -> str | None:
        """The name a sign-in gets: a person's own token says who they are; the API token
        takes the name typed. None for a wrong token (compared in constant time)."""
        if self.signer is None or not offered:
            return None
        person = next((p for t, p in self.people.items()
                       if hmac.compare_digest(offered.encode(), t.encode())), None)  # fmt: skip
        if person is not None:
            return person
        if self.token and hmac.compare_digest(offered.encode(), self.token.encode()):
            return name
        return None

    def sign_out(self, visitor: Visitor) -> None:
        """The session is refused from now on, not only forgotten by this browser (a copy
        of the cookie stops working too); remembered until it would have expired."""
        now = self.clock()
        self.signed_out = {s: until for s, until in self.signed_out.items() if until > now}
        self.signed_out[visitor.credential] = now + timedelta(hours=SESSION_HOURS)

    async def sign_out_everywhere(self, visitor: Visitor) -> None:
        """Each other worker is told too (best effort: one down now, or restarted
        later, does not know; the session still ends when it expires)."""
        async with httpx.AsyncClient(timeout=PEER_SECONDS, headers=_as(visitor)) as client:
            sent = [client.post(f"{url.rstrip('/')}/console/sign-out") for url in self.peers()]
            await asyncio.gather(*sent, return_exceptions=True)

    def session(self, name: str) -> str:
        """A session of its own each sign-in (a nonce before the name), so that one
        signed out is never the same token as the next one."""
        assert self.signer is not None
        expires = self.clock() + timedelta(hours=SESSION_HOURS)
        return self.signer.sign("session", f"{secrets.token_hex(8)}\n{name}", expires)

    def incident_page(self, case: Case, visitor: Visitor) -> dict[str, Any]:
        now = self.clock()
        summary = case.summary(now)
        zone = ZoneInfo(summary["timezone"])
        deliveries = self.responder.deliveries.values()
        sent = [d for d in deliveries if d["notice"]["case"]["id"] == case.id]
        document = {**summary, "series": [list(p) for p in case.series], "timeline": case.timeline}
        return {
            "case": summary,
            "visitor": visitor,
            "csrf": self.csrf(visitor),
            "actions": [name for name, (allowed, _, _) in ACTIONS.items() if case.state in allowed],
            "deadlines": _deadlines(document, now, zone),
            "timeline": [{**entry, "at": _clock(entry["at"], zone)} for entry in case.timeline],
            "chart": negatives_chart(document["series"], case.facts.get("threshold")),
            "case_series_points": len(case.series),
            "keywords": list((case.facts.get("top_keywords") or {}).items())[:10],
            "top": case.facts.get("top_negatives") or [],
            "deliveries": [_delivery(d, zone) for d in sent],
            "detected": _clock(summary["detected_at"], zone),
        }

    def silence_rows(self) -> list[dict[str, Any]]:
        zone = self.zone()
        return [_silence_row(silence, zone) for silence in self.responder.active_silences()]

    def silences(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        now = self.clock()
        rows.sort(key=lambda row: datetime.fromisoformat(row["ends_at"]), reverse=True)
        ended = [row for row in rows if datetime.fromisoformat(row["ends_at"]) <= now]
        return {
            "active": [row for row in rows if datetime.fromisoformat(row["starts_at"]) <= now
                       and row not in ended],
            "ended": ended[:20],
            "brands": self.brands,
            "levels": LEVELS,
        }  # fmt: skip

    def rows(self, kind: str) -> list[dict[str, Any]]:
        """This worker's own rows of a page that shows every worker's (`ROW_KEYS`): its
        part of its own page, and its answer to the other workers' fan-out."""
        return {"board": self.board_rows, "drills": self.drill_rows,
                "silences": self.silence_rows, "qa": self.qa_rows}[kind]()  # fmt: skip

    def qa_rows(self) -> list[dict[str, Any]]:
        zone = self.zone()
        return [qa_row(key, case, zone) for key, case in self.qa_cases().items()]

    def drill_rows(self) -> list[dict[str, Any]]:
        cases = [
            c for c in list(self.responder.cases.values()) if c.get("drill") and self.holds(c["id"])
        ]
        documents = [case_document(self.responder, case["id"]) for case in cases]
        rows = drill_timings(documents)
        zone = self.zone()
        for row, case in zip(rows, documents, strict=True):
            row |= {"brand": case["brand"], "detected": _clock(case["detected_at"], zone)}
        return rows

    def board_rows(self) -> list[dict[str, Any]]:
        now = self.clock()
        documents = [d for d in list(self.responder.cases.values()) if self.holds(d["id"])]
        return [_board_row(Case.from_dict(document), now) for document in documents]

    async def everywhere(self, kind: str, visitor: Visitor) -> tuple[list[dict[str, Any]], int]:
        """Every worker's rows of `kind`, asked at once with the visitor's session (each
        worker checks it itself), and how many other workers did not answer in time."""
        peers = list(self.peers())
        if not peers:
            return self.rows(kind), 0
        async with httpx.AsyncClient(timeout=PEER_SECONDS, headers=_as(visitor)) as client:
            answers = await asyncio.gather(*(_peer_rows(client, url, kind) for url in peers))
        rows = {row["id"]: row for answer in answers if answer for row in answer}
        rows |= {row["id"]: row for row in self.rows(kind)}  # its own, if both claim one
        return list(rows.values()), sum(answer is None for answer in answers)

    def drills(self, rows: list[dict[str, Any]]) -> dict[str, Any]:
        rows.sort(key=lambda row: str(row["detected_at"]), reverse=True)
        return {"rows": rows, "brands": self.brands}

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.responder.playbook.rotation.timezone)

    def board(self, query: Mapping[str, str], rows: list[dict[str, Any]]) -> dict[str, Any]:
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


def _as(visitor: Visitor) -> dict[str, str]:
    """A request to another worker on the visitor's behalf: their session, checked there."""
    return {"Cookie": f"{SESSION_COOKIE}={visitor.credential}", FORWARDED: "1"}


async def _peer_rows(client: httpx.AsyncClient, url: str, kind: str) -> list[dict[str, Any]] | None:
    """Another worker's own rows, or None when it does not answer in time, refuses, or
    answers with something this worker cannot show."""
    try:
        answer = await client.get(f"{url.rstrip('/')}/console/rows/{kind}")
        rows = answer.json()["rows"]
    except (httpx.HTTPError, ValueError, KeyError, TypeError):
        return None
    if answer.status_code != 200 or not isinstance(rows, list):
        return None
    shown = [row for row in rows if isinstance(row, dict) and ROW_KEYS[kind] <= row.keys()]
    levels_known = kind != "board" or all(row["level"] in LEVELS for row in shown)
    return shown if len(shown) == len(rows) and levels_known else None


class SignInTries:
    """Wrong tokens per client, over a sliding minute: guessing is slow, and the memory
    it takes is bounded (the oldest clients are forgotten first)."""

    MAX_CLIENTS = 10_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.failures: dict[str, deque[float]] = {}

    def allowed(self, client: str) -> bool:
        recent = self.failures.get(client)
        now = self.clock()
        while recent and now - recent[0] > 60:
            recent.popleft()
        return not recent or len(recent) < SIGN_IN_TRIES_PER_MINUTE

    def failed(self, client: str) -> None:
        if client not in self.failures and len(self.failures) >= self.MAX_CLIENTS:
            del self.failures[next(iter(self.failures))]
        self.failures.setdefault(client, deque()).append(self.clock())


def register_console(app: faust.App, console: Console, checker: ComplianceChecker,
                     offload: Offload, count_check: Callable[[str], None]) -> None:  # fmt: skip
    class Page(View):
        async def dispatch(self, request: Any) -> Any:
            try:
                return await super().dispatch(request)
            except ActionError as error:  # an unreadable form, a body too large, a full queue
                return self.page(request, "message.html", error.status, why="bad_request",
                                 detail=str(error))  # fmt: skip

        def page(self, request: Request, template: str, status: int = 200,
                 headers: Mapping[str, str] | None = None, **context: Any) -> Response:  # fmt: skip
            lang = language_of(request)
            url = _here(request, console.base)
            html = (
                _templates()
                .get_template(f"console/{template}")
                .render(
                    t=WORDS[lang],
                    lang=lang,
                    base=console.base,
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
            visitor = console.visitor(request)
            form = _parsed_form(await read_body(request, FORM_BYTES) if body is None else body)
            if visitor is None or not visitor.signed_in:
                raise ActionError(403, "sign in first")
            if not console.form_is_ours(request, visitor, form):
                raise ActionError(403, "the form has expired or came from another site")
            return visitor, form

        async def at_owner(self, request: Request, case_id: str, body: bytes = b"") -> Response:
            """The case is another worker's: the request goes there, as it came, and its
            answer comes back (a link in an alert reaches whichever worker it reaches).
            Called once the visitor's credential was checked here."""
            owner = console.owner_of(case_id)
            if owner is None or cast(web.Request, request).headers.get(FORWARDED):
                return self.refuse(request, 404, "no_incident")
            return await self.passed_on(request, [owner], body, "no_incident")

        async def passed_on(self, request: Request, workers: Sequence[str], body: bytes,
                            missing: str) -> Response:  # fmt: skip
            """The request as it came, to each of `workers` in turn until one has what it
            names (answers other than 404), and that one's answer; else a 404 (`missing`)."""
            raw = cast(web.Request, request)
            headers = {k: v for k, v in raw.headers.items() if k.lower() not in HOP_BY_HOP}
            answer = None
            try:
                async with httpx.AsyncClient(timeout=FORWARD_SECONDS) as client:
                    for worker in workers:
                        answer = await client.request(
                            raw.method, worker.rstrip("/") + str(raw.rel_url), content=body,
                            headers={**headers, FORWARDED: "1"},
                        )  # fmt: skip
                        if answer.status_code != 404:
                            break
            except httpx.HTTPError as error:
                return self.page(request, "message.html", 502, why="owner_unreachable",
                                 detail=type(error).__name__)  # fmt: skip
            if answer is None:
                return self.refuse(request, 404, missing)
            kept = {k: v for k, v in answer.headers.items() if k.lower() in PASSED_BACK}
            kind = kept.pop("content-type", "text/html").split(";")[0]
            return self.bytes(answer.content, content_type=kind, status=answer.status_code,
                              headers=kept)  # fmt: skip

        async def at_peers(self, request: Request, body: bytes, missing: str) -> Response:
            """What the page names is not here: the other workers are asked in turn (a
            request passed on once is not passed on again)."""
            if cast(web.Request, request).headers.get(FORWARDED):
                return self.refuse(request, 404, missing)
            return await self.passed_on(request, console.peers(), body, missing)

        def sign_in_first(self, request: Request) -> Response:
            here = str(_here(request, console.base))
            return self.go(request, f"{console.base}/sign-in?next={quote(here, safe='')}")

    @app.page("/console/incidents/{case_id}")
    class IncidentPage(Page):
        async def get(self, request: Request, case_id: str) -> Response:
            link = cast(web.Request, request).query.get("token", "")
            visitor = console.visitor(request, case_id, link)
            if visitor is None:
                return self.refuse(request, 403, "link_refused")
            if not console.holds(case_id):
                return await self.at_owner(request, case_id)
            context = console.incident_page(console.responder.case(case_id), visitor)
            done = cast(web.Request, request).query.get("done", "")
            return self.page(request, "incident.html", **context, done=_done_state(done))

    @app.page("/console/incidents/{case_id}/{action}")
    class IncidentAction(Page):
        async def get(self, request: Request, case_id: str, action: str) -> Response:
            """Only the review is read here; an action's URL opened changes nothing."""
            if action != "review":
                return self.refuse(request, 405, "get_changes_nothing")
            link = cast(web.Request, request).query.get("token", "")
            if console.visitor(request, case_id, link) is None:
                return self.refuse(request, 403, "link_refused")
            if not console.holds(case_id):
                return await self.at_owner(request, case_id)
            document = case_document(console.responder, case_id)
            headers = {**SECURITY_HEADERS, "Content-Security-Policy": REVIEW_POLICY}
            return self.html(review_html(document, console.clock()), headers=headers)

        async def post(self, request: Request, case_id: str, action: str) -> Response:
            body = await read_body(request, FORM_BYTES)
            form = _parsed_form(body)
            link = form.get("token", "")  # in the form: a POST's URL carries no secret
            visitor = console.visitor(request, case_id, link)
            if visitor is None:
                return self.refuse(request, 403, "link_refused")
            if not console.form_is_ours(request, visitor, form):
                return self.refuse(request, 403, "csrf")
            if not console.holds(case_id):
                return await self.at_owner(request, case_id, body)
            # signed in, the name is the one signed in with; a link's person may correct it
            signed_name = visitor.name if visitor.signed_in else ""
            who = signed_name or form.get("who", "").strip()[:100]
            note = form.get("note", "")[:MAX_NOTE_CHARS]
            try:
                await console.respond(
                    lambda: console.responder.act(case_id, action.replace("-", "_"), who, note)
                )
            except ActionError as error:
                return self.page(request, "message.html", error.status, why="action_refused",
                                 detail=str(error))  # fmt: skip
            back = f"{console.base}/incidents/{quote(case_id, safe='')}"
            return self.go(request, f"{back}?token={quote(link)}&done={action}" if link else back)

    @app.page("/console/")
    class Board(Page):
        async def get(self, request: Request) -> Response:
            visitor = console.visitor(request)
            if visitor is None:
                return self.sign_in_first(request)
            query = cast(web.Request, request).query
            rows, missing = await console.everywhere("board", visitor)
            template = "board_list.html" if query.get("fragment") else "board.html"
            return self.page(request, template, visitor=visitor, csrf=console.csrf(visitor),
                             missing=missing, **console.board(query, rows))  # fmt: skip

    @app.page("/console/rows/{kind}")
    class Rows(View):
        async def get(self, request: Request, kind: str) -> Response:
            """This worker's own rows of the board or the drills, for another worker's page
            (`Console.everywhere`): for a signed-in session only, never asked on again."""
            visitor = console.visitor(request)
            if visitor is None or not visitor.signed_in:
                return self.json({"error": "sign in first"}, status=403)
            if kind not in ROW_KEYS:
                return self.json({"error": f"no rows called {kind[:40]!r}"}, status=404)
            return self.json({"rows": console.rows(kind)}, headers=SECURITY_HEADERS)

    @app.page("/console/sign-in")
    class SignIn(Page):
        async def get(self, request: Request) -> Response:
            return self.page(request, "sign_in.html", failed=False,
                             next=_next(request, console.base))  # fmt: skip

        async def post(self, request: Request) -> Response:
            form = await _form(request)
            if not console.same_origin(request):
                return self.refuse(request, 403, "csrf")
            client = cast(web.Request, request).remote or "?"
            if not console.tries.allowed(client):
                return self.refuse(request, 429, "too_many_tries")
            name = console.signed_in_as(form.get("token", ""), form.get("name", "").strip()[:100])
            if name is None:
                console.tries.failed(client)
                return self.page(request, "sign_in.html", 401, failed=True,
                                 next=_next(request, console.base))  # fmt: skip
            cookie = console.cookie(console.session(name), SESSION_HOURS * 3600)
            return self.go(request, _next(request, console.base) or f"{console.base}/",
                           {"Set-Cookie": cookie})  # fmt: skip

    @app.page("/console/sign-out")
    class SignOut(Page):
        async def post(self, request: Request) -> Response:
            visitor = console.visitor(request)
            if visitor is not None and visitor.signed_in:
                console.sign_out(visitor)
                if not cast(web.Request, request).headers.get(FORWARDED):
                    await console.sign_out_everywhere(visitor)
            return self.go(request, f"{console.base}/sign-in",
                           {"Set-Cookie": console.cookie("", 0)})  # fmt: skip

    @app.page("/console/compliance")
    class Compliance(Page):
        async def get(self, request: Request) -> Response:
            visitor = console.visitor(request)
            if visitor is None:
                return self.sign_in_first(request)
            return self.page(request, "compliance.html", visitor=visitor, text="", result=None,
                             csrf=console.csrf(visitor))  # fmt: skip

        async def post(self, request: Request) -> Response:
            visitor, form = await self.signed_form(request)
            template = "compliance_result.html" if form.get("fragment") else "compliance.html"
            return await self.checked(request, template, visitor, form.get("text", ""))

        async def checked(self, request: Request, template: str, visitor: Visitor, text: str,
                          **upload: Any) -> Response:  # fmt: skip
            """The copy (its first MAX_COPY_CHARS) checked and marked in place."""
            text = text[:MAX_COPY_CHARS]
            result = await offload.run(lambda: checker.check(text, limit=MAX_HITS))
            count_check(result.result)
            return self.page(request, template, visitor=visitor, text=text, result=result,
                             marked=_marked(text, result.hits), csrf=console.csrf(visitor),
                             **upload)  # fmt: skip

    @app.page("/console/compliance/file")
    class ComplianceFile(Compliance):
        async def get(self, request: Request) -> Response:
            return self.go(request, f"{console.base}/compliance")

        async def post(self, request: Request) -> Response:
            """A .txt or .docx file's copy checked like pasted copy; a file that cannot be
            read is said on the page (`UploadError`), never a server error."""
            visitor = console.visitor(request)
            if visitor is None or not visitor.signed_in:
                raise ActionError(403, "sign in first")
            try:
                name, text = await self.uploaded(request, visitor)
            except UploadError as error:
                return self.page(request, "compliance.html", 413 if error.why == "too_big" else 400,
                                 visitor=visitor, text="", result=None, csrf=console.csrf(visitor),
                                 upload={"error": error.why})  # fmt: skip
            upload = {"name": name, "chars": len(text), "cut": len(text) > MAX_COPY_CHARS}
            return await self.checked(request, "compliance.html", visitor, text, upload=upload)

        async def uploaded(self, request: Request, visitor: Visitor) -> tuple[str, str]:
            """The file's name and text, read once the form is known to be one of ours."""
            try:
                body = await read_body(request, FORM_BYTES)
            except ActionError:
                raise UploadError("too_big") from None
            kind = cast(web.Request, request).headers.get("Content-Type", "")
            fields = await offload.run(lambda: uploaded_fields(kind, body))
            csrf = fields.get("csrf", ("", b""))[1].decode("utf-8", "replace")
            if not console.form_is_ours(request, visitor, {"csrf": csrf}):
                raise ActionError(403, "the form has expired or came from another site")
            name, data = fields.get("file", ("", b""))
            return name, await offload.run(lambda: copy_from_file(name, data))

    @app.page("/console/silences")
    class Silences(Page):
        async def get(self, request: Request) -> Response:
            visitor = console.visitor(request)
            if visitor is None:
                return self.sign_in_first(request)
            rows, missing = await console.everywhere("silences", visitor)
            return self.page(request, "silences.html", visitor=visitor, missing=missing,
                             csrf=console.csrf(visitor), **console.silences(rows))  # fmt: skip

        async def post(self, request: Request) -> Response:
            visitor, form = await self.signed_form(request)
            body: dict[str, Any] = {**form, "who": visitor.name or form.get("who", "")}
            body["minutes"] = int(form["minutes"]) if form.get("minutes", "").isdigit() else None
            await console.save_silence(silence_from(body, console.clock()))
            return self.go(request, f"{console.base}/silences")

    @app.page("/console/silences/{silence_id}/expire")
    class ExpireSilence(Page):
        async def post(self, request: Request, silence_id: str) -> Response:
            body = await read_body(request, FORM_BYTES)
            await self.signed_form(request, body)
            stored = console.responder.silences.get(silence_id)
            if stored is None:  # listed from another worker (`Console.everywhere`)
                return await self.at_peers(request, body, "no_silence")
            silence = Silence.from_dict(stored)
            ended = replace(silence, ends_at=min(silence.ends_at, console.clock()))
            await console.save_silence(ended)
            return self.go(request, f"{console.base}/silences")

    @app.page("/console/drills")
    class Drills(Page):
        async def get(self, request: Request) -> Response:
            visitor = console.visitor(request)
            if visitor is None:
                return self.sign_in_first(request)
            query = cast(web.Request, request).query
            started = {"brand": query.get("started", ""), "size": query.get("size", "")}
            rows, missing = await console.everywhere("drills", visitor)
            return self.page(request, "drills.html", visitor=visitor, csrf=console.csrf(visitor),
                             started=started if started["brand"] else None, missing=missing,
                             **console.drills(rows))  # fmt: skip

        async def post(self, request: Request) -> Response:
            _, form = await self.signed_form(request)
            brand = form.get("brand", "")
            if brand not in console.brands:
                raise ActionError(400, f"not a brand of the config: {brand[:40]!r}")
            size = await console.start_drill(brand)  # then a GET: a reload starts no other
            return self.go(request, f"{console.base}/drills?started={quote(brand)}&size={size}")

    register_qa_pages(app, console, Page)

    @app.page("/console/static/{name}")
    class Static(View):
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


def _clock(iso: str, zone: ZoneInfo) -> str:
    return datetime.fromisoformat(iso).astimezone(zone).strftime("%m-%d %H:%M")


def _deadlines(case: dict[str, Any], now: datetime, zone: ZoneInfo) -> list[dict[str, Any]]:
    """Each deadline with its clock time, and the minutes left, or how late it was met."""
    shown = []
    for item in deadline_outcomes(case, now):
        due = datetime.fromisoformat(item["due"])
        done = datetime.fromisoformat(item["met"]) if item["met"] else None
        minutes = round(((done or now) - due).total_seconds() / 60)
        shown.append({"deadline": item["deadline"], "due": _clock(item["due"], zone),
                      "met": _clock(item["met"], zone) if done else None, "late": minutes,
                      "missed": item["missed"], "closed": case["state"] in CLOSED,
                      "due_ts": int(due.timestamp())})  # fmt: skip
    return shown


def _silence_row(silence: Silence, zone: ZoneInfo) -> dict[str, Any]:
    return {**silence.as_dict(), "from": _clock(silence.starts_at.isoformat(), zone),
            "until": _clock(silence.ends_at.isoformat(), zone)}  # fmt: skip


def _done_state(action: str) -> str | None:
    """The state an action the visitor just took led to, to say it was recorded."""
    known = ACTIONS.get(action.replace("-", "_"))
    return known[1] if known else None


def _board_row(case: Case, now: datetime) -> dict[str, Any]:
    """What the board shows of a case, JSON as it is (it travels between workers)."""
    summary = case.summary(now)
    pending = [d for d in summary["deadlines"] if not d["met"]]
    next_due = min((datetime.fromisoformat(d["due"]) for d in pending), default=None)
    zone = ZoneInfo(summary["timezone"])
    facts = {k: v for k, v in summary["facts"].items() if k in ("negatives", "threshold")}
    return {**summary, "facts": facts, "detected": _clock(summary["detected_at"], zone),
            "next": next((d["deadline"] for d in pending if datetime.fromisoformat(d["due"])
                          == next_due), None),
            "next_due": _clock(next_due.isoformat(), zone) if next_due else None,
            "minutes_left": round((next_due - now).total_seconds() / 60) if next_due else None,
            "on_duty_name": (summary["on_duty"] or {}).get("name", "")}  # fmt: skip


def _delivery(delivery: Mapping[str, Any], zone: ZoneInfo) -> dict[str, Any]:
    done = delivery.get("done_at")
    return {"sink": delivery["sink"], "kind": delivery["notice"]["kind"],
            "state": delivery["state"], "attempts": delivery["attempts"],
            "error": delivery.get("error") or "", "muted_by": delivery.get("muted_by") or "",
            "done_at": _clock(done, zone) if done else ""}  # fmt: skip


def _marked(text: str, hits: Any) -> list[tuple[str, Any]]:
    """The copy cut into plain parts and hits, in order: (text, hit or None)."""
    parts: list[tuple[str, Any]] = []
    at = 0
    for hit in sorted(hits, key=lambda h: h.start):
        if hit.start < at:
            continue
        parts.append((text[at : hit.start], None))
        parts.append((text[hit.start : hit.end], hit))
        at = hit.end
    parts.append((text[at:], None))
    return parts


async def _form(request: Request) -> dict[str, str]:
    return _parsed_form(await read_body(request, FORM_BYTES))


def _parsed_form(raw: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError) as error:
        raise ActionError(400, f"the form is not readable: {error}") from None
    return {name: values[0] for name, values in fields.items()}


def _here(request: Request, base: str) -> URL:
    """This page's URL as the browser sees it: under `base`, the public path prefix."""
    raw = cast(web.Request, request)
    return URL(base + raw.rel_url.path.removeprefix("/console")).with_query(raw.rel_url.query)


def _next(request: Request, base: str) -> str:
    """Where to go after signing in: a page of the console, nothing else (no other host,
    no backslash or control characters that browsers read as one)."""
    wanted = cast(web.Request, request).query.get("next", "")
    plain = wanted.isprintable() and not any(c.isspace() or c == "\\" for c in wanted)
    return wanted if plain and wanted.startswith(base + "/") else ""
