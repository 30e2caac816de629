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

Here: `Console`, the state the pages read and act on, and `register_console`, which puts
the pages on the worker's web server. The pages themselves, grouped by what they show:
`incident_pages` (one incident), `list_pages` (board, silences, drills, and the rows
other workers ask for), `sign_in`, `copy_pages` (the copy check), `qa_console`; what
they share is in `page` (rendering, redirects, signed forms), `forwarding` (passing a
request on), `fanout` (asking every worker) and `sessions` (who is looking).
"""

from __future__ import annotations

import asyncio
import hmac
import secrets
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime, timedelta
from functools import partial
from typing import Any, cast
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo

import faust
from aiohttp import web
from faust.web import Request

from alerts.outbox import RespondStage
from alerts.routing import Silence
from monitor.casework.cases import Case
from monitor.casework.drill import drill_timings
from monitor.signing import BadToken, Signer, incident_scope
from monitor.text.compliance import ComplianceChecker
from monitor.web.api import CopyCheck, Offload, Respond, case_document
from monitor.web.copy_pages import Compliance, ComplianceFile
from monitor.web.fanout import on_behalf_of, peer_rows
from monitor.web.incident_pages import IncidentAction, IncidentPage
from monitor.web.list_pages import Board, Drills, ExpireSilence, Rows, Silences
from monitor.web.page import Static
from monitor.web.qa_console import QACase, QACases, qa_row
from monitor.web.routes import add_page
from monitor.web.sessions import SESSION_COOKIE, SESSION_HOURS, SignInTries, Visitor
from monitor.web.sign_in import SignIn, SignOut
from monitor.web.words import clock_time


class Console:
    """What the pages need; the views (`Page` and those made on it) are thin."""

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
        async with on_behalf_of(visitor) as client:
            sent = [client.post(f"{url.rstrip('/')}/console/sign-out") for url in self.peers()]
            await asyncio.gather(*sent, return_exceptions=True)

    def session(self, name: str) -> str:
        """A session of its own each sign-in (a nonce before the name), so that one
        signed out is never the same token as the next one."""
        assert self.signer is not None
        expires = self.clock() + timedelta(hours=SESSION_HOURS)
        return self.signer.sign("session", f"{secrets.token_hex(8)}\n{name}", expires)

    def silence_rows(self) -> list[dict[str, Any]]:
        zone = self.zone()
        return [_silence_row(silence, zone) for silence in self.responder.active_silences()]

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
            row |= {"brand": case["brand"], "detected": clock_time(case["detected_at"], zone)}
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
        async with on_behalf_of(visitor) as client:
            answers = await asyncio.gather(*(peer_rows(client, url, kind) for url in peers))
        rows = {row["id"]: row for answer in answers if answer for row in answer}
        rows |= {row["id"]: row for row in self.rows(kind)}  # its own, if both claim one
        return list(rows.values()), sum(answer is None for answer in answers)

    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.responder.playbook.rotation.timezone)


def _silence_row(silence: Silence, zone: ZoneInfo) -> dict[str, Any]:
    return {**silence.as_dict(), "from": clock_time(silence.starts_at.isoformat(), zone),
            "until": clock_time(silence.ends_at.isoformat(), zone)}  # fmt: skip


def _board_row(case: Case, now: datetime) -> dict[str, Any]:
    """What the board shows of a case, JSON as it is (it travels between workers)."""
    summary = case.summary(now)
    pending = [d for d in summary["deadlines"] if not d["met"]]
    next_due = min((datetime.fromisoformat(d["due"]) for d in pending), default=None)
    zone = ZoneInfo(summary["timezone"])
    facts = {k: v for k, v in summary["facts"].items() if k in ("negatives", "threshold")}
    return {**summary, "facts": facts, "detected": clock_time(summary["detected_at"], zone),
            "next": next((d["deadline"] for d in pending if datetime.fromisoformat(d["due"])
                          == next_due), None),
            "next_due": clock_time(next_due.isoformat(), zone) if next_due else None,
            "minutes_left": round((next_due - now).total_seconds() / 60) if next_due else None,
            "on_duty_name": (summary["on_duty"] or {}).get("name", "")}  # fmt: skip


def register_console(app: faust.App, console: Console, checker: ComplianceChecker,
                     offload: Offload, count_check: Callable[[str], None]) -> None:  # fmt: skip
    """The console's pages on this worker's web server, each made for this worker's
    console; the copy check's pages also for its checker, thread and count."""
    page = partial(add_page, app, console=console)
    page("/console/incidents/{case_id}", IncidentPage)
    page("/console/incidents/{case_id}/{action}", IncidentAction)
    page("/console/", Board)
    page("/console/rows/{kind}", Rows)
    page("/console/sign-in", SignIn)
    page("/console/sign-out", SignOut)
    copy_check = CopyCheck(checker, offload, count_check)
    page("/console/compliance", Compliance, check=copy_check)
    page("/console/compliance/file", ComplianceFile, check=copy_check)
    page("/console/silences", Silences)
    page("/console/silences/{silence_id}/expire", ExpireSilence)
    page("/console/drills", Drills)
    page("/console/qa", QACases)
    page("/console/qa/{case_id}", QACase)
    add_page(app, "/console/static/{name}", Static)
