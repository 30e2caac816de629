"""The incident API on the worker's web server, for the on-call person and the CLI.

GET  /incidents?state=&brand=&level=         the cases this worker owns
GET  /incidents/{id}                          one case: deadlines, timeline, deliveries
POST /incidents/{id}/{ack|statement|resolve|false-alarm}   {"who": "张伟", "note": "…"}
GET  /silences        POST /silences {"brand", "level", "minutes", "who", "comment"}
DELETE /silences/{id} expires a silence (it stays listed, ended)

Every route needs `Authorization: Bearer <token>`, the token from the environment variable
the config names; with none set, the API refuses everything (401) rather than run open.

POST /compliance {"text": "…"} checks copy for advertising-law terms; it changes nothing,
so it needs no token. Anyone can reach it, so it is bounded: a body of at most
MAX_BODY_BYTES (413 beyond), copy of at most MAX_COPY_CHARS, the first MAX_HITS hits (with
`hits_total` and `truncated`), and the check runs in a thread of its own, never on the
event loop that serves /health and runs the timers; with MAX_CHECKS_WAITING checks already
queued the answer is 503.

Every body is decoded by `strictjson`: nesting deeper than it allows, lone surrogates and
numbers out of range are a 400 with the reason, like any other body that is not JSON.
"""

from __future__ import annotations

import asyncio
import hmac
import threading
import uuid
from collections.abc import Awaitable, Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any, ClassVar, TypeVar, cast

import faust
from aiohttp import web
from faust.web import Request, Response, View

from alerts.outbox import RespondStage, RespondWrites
from alerts.routing import ANY, Silence
from monitor import strictjson
from monitor.casework.cases import ACTIONS, ActionError, Case
from monitor.settings import LEVELS
from monitor.text.compliance import ComplianceChecker
from monitor.web.routes import add_page

MAX_NOTE_CHARS = 2000
MAX_COPY_CHARS = 200_000
MAX_SILENCE_MINUTES = 7 * 24 * 60
# aiohttp's own default: MAX_COPY_CHARS of Chinese fits as UTF-8 (3 bytes a character),
# not as \uXXXX escapes (6), which the 413 then says
MAX_BODY_BYTES = 1024 * 1024
MAX_HITS = 200  # hits in a compliance answer; `hits_total` counts them all
MAX_CHECKS_WAITING = 4  # compliance checks running or queued before the answer is 503
_READ_CHUNK = 64 * 1024
_T = TypeVar("_T")
Respond = Callable[[Callable[[], RespondWrites]], Awaitable[RespondWrites]]


@dataclass(frozen=True)
class ApiContext:
    """What the API's views act on: this worker's cases and silences, and its token."""

    responder: RespondStage
    respond: Respond
    save_silence: Callable[[Silence], Awaitable[None]]
    token: str
    clock: Callable[[], datetime]


class Guarded(View):
    """An API view: refused without the token, an `ActionError` answered as JSON."""

    api: ClassVar[ApiContext]  # this worker's (`routes.add_page`)

    async def dispatch(self, request: Any) -> Any:
        refusal = _refuse(request, self.api.token)
        if refusal:
            return self.json({"error": refusal}, status=401)
        try:
            return await super().dispatch(request)
        except ActionError as error:
            return self.json({"error": str(error)}, status=error.status)


class Incidents(Guarded):
    async def get(self, request: Request) -> Response:
        wanted = {name: request.query.get(name) for name in ("state", "brand", "level")}
        found = [
            _listed(Case.from_dict(document))
            for document in list(self.api.responder.cases.values())
            if all(value in (None, document[name]) for name, value in wanted.items())
        ]
        found.sort(key=lambda case: case["detected_at"], reverse=True)
        return self.json({"incidents": found})


class OneIncident(Guarded):
    async def get(self, request: Request, case_id: str) -> Response:
        return self.json(case_document(self.api.responder, case_id))


class Act(Guarded):
    async def post(self, request: Request, case_id: str, action: str) -> Response:
        body = await _body(request)
        action = action.replace("-", "_")
        if action not in ACTIONS:
            raise ActionError(400, f"unknown action {action!r}; one of {', '.join(ACTIONS)}")
        who, note = _text(body, "who", 100), _text(body, "note", MAX_NOTE_CHARS)
        writes = await self.api.respond(lambda: self.api.responder.act(case_id, action, who, note))
        return self.json(_listed(Case.from_dict(writes.cases[case_id])))


class Silences(Guarded):
    async def get(self, request: Request) -> Response:
        now = self.api.clock()
        listed = [
            {**silence.as_dict(), "active": silence.starts_at <= now < silence.ends_at}
            for silence in self.api.responder.active_silences()
        ]
        return self.json({"silences": listed})

    async def post(self, request: Request) -> Response:
        silence = silence_from(await _body(request), self.api.clock())
        await self.api.save_silence(silence)
        return self.json(silence.as_dict(), status=201)


class OneSilence(Guarded):
    async def delete(self, request: Request, silence_id: str) -> Response:
        stored = self.api.responder.silences.get(silence_id)
        if stored is None:
            raise ActionError(404, f"no silence {silence_id}")
        silence = Silence.from_dict(stored)
        ended = replace(silence, ends_at=min(silence.ends_at, self.api.clock()))
        await self.api.save_silence(ended)
        return self.json(ended.as_dict())


API_PAGES: dict[str, type[Guarded]] = {
    "/incidents": Incidents,
    "/incidents/{case_id}": OneIncident,
    "/incidents/{case_id}/{action}": Act,
    "/silences": Silences,
    "/silences/{silence_id}": OneSilence,
}


def register_api(
    app: faust.App,
    responder: RespondStage,
    respond: Respond,
    save_silence: Callable[[Silence], Awaitable[None]],
    token: str,
    clock: Callable[[], datetime],
) -> None:
    api = ApiContext(responder, respond, save_silence, token, clock)
    for path, view in API_PAGES.items():
        add_page(app, path, view, api=api)


def _refuse(request: Request, token: str) -> str:
    if not token:
        return "the incident API is off: set the API token variable on the worker"
    offered = request.headers.get("Authorization", "").removeprefix("Bearer ").strip()
    if not offered or not hmac.compare_digest(offered.encode(), token.encode()):
        return "missing or wrong token (Authorization: Bearer …)"
    return ""


async def _body(request: Request) -> dict[str, Any]:
    return _document(await read_body(request, MAX_BODY_BYTES))


async def read_body(request: Request, limit: int) -> bytes:
    """The body, or a 413 as soon as it is known to be longer than `limit` bytes."""
    raw_request = cast(web.Request, request)  # what the aiohttp driver hands the views
    declared = raw_request.content_length
    if declared is not None and declared > limit:
        raise ActionError(413, f"the body is {declared} bytes; the limit is {limit}")
    chunks: list[bytes] = []
    size = 0
    while chunk := await raw_request.content.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise ActionError(413, f"the body is over {limit} bytes, the limit")
        chunks.append(chunk)
    return b"".join(chunks)


def _document(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        document = strictjson.loads(raw)
    except strictjson.StrictJSONError as error:
        raise ActionError(400, f"the body is not usable JSON ({error.reason}): {error}") from None
    if not isinstance(document, dict):
        raise ActionError(400, "the body must be a JSON object")
    return document


def _text(body: Mapping[str, Any], name: str, limit: int) -> str:
    value = body.get(name, "")
    if not isinstance(value, str):
        raise ActionError(400, f"{name} must be a string")
    if len(value) > limit:
        raise ActionError(400, f"{name} is {len(value)} characters; the limit is {limit}")
    return value


def silence_from(body: Mapping[str, Any], now: datetime) -> Silence:
    brand = _text(body, "brand", 100) or ANY
    level = _text(body, "level", 20) or ANY
    if level not in (ANY, *LEVELS):
        raise ActionError(400, f"level must be one of {ANY}, {', '.join(LEVELS)}")
    minutes = body.get("minutes")
    if not isinstance(minutes, int) or isinstance(minutes, bool):
        raise ActionError(400, "minutes (how long the silence lasts) must be a whole number")
    if not 1 <= minutes <= MAX_SILENCE_MINUTES:
        raise ActionError(400, f"minutes must be between 1 and {MAX_SILENCE_MINUTES}")
    who = _text(body, "who", 100)
    if not who.strip():
        raise ActionError(400, "say who is silencing (`who`)")
    return Silence(
        id=uuid.uuid4().hex[:12],
        brand=brand,
        level=level,
        starts_at=now,
        ends_at=now + timedelta(minutes=minutes),
        created_by=who.strip(),
        comment=_text(body, "comment", MAX_NOTE_CHARS),
    )


def case_document(responder: RespondStage, case_id: str) -> dict[str, Any]:
    """One case as `GET /incidents/{id}` shows it, and as the review is written from."""
    case = responder.case(case_id)
    sent = [d for d in responder.deliveries.values() if d["notice"]["case"]["id"] == case_id]
    return {**_listed(case), "timeline": list(case.timeline), "reasons": list(case.reasons),
            "facts": case.facts, "series": [list(point) for point in case.series],
            "deliveries": [_delivered(d) for d in sent]}  # fmt: skip


def _listed(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "brand": case.brand,
        "cause": case.cause,
        "level": case.level,
        "state": case.state,
        "drill": case.drill,
        "detected_at": case.detected_at.isoformat(),
        "deadlines": case.deadlines(),
    }


def _delivered(delivery: Mapping[str, Any]) -> dict[str, Any]:
    fields = ("sink", "state", "attempts", "error", "done_at", "muted_by")
    return {"kind": delivery["notice"]["kind"], **{name: delivery[name] for name in fields}}


@dataclass(frozen=True)
class CopyCheck:
    """What checking copy needs: the checker, the thread it runs on (`Offload`), and
    the count of results by kind."""

    checker: ComplianceChecker
    offload: Offload
    count: Callable[[str], None]


class Compliance(View):
    check: ClassVar[CopyCheck]  # this worker's (`routes.add_page`)

    async def post(self, request: Request) -> Response:
        try:
            raw = await read_body(request, MAX_BODY_BYTES)
            result, answer = await self.check.offload.run(
                lambda: _check_copy(self.check.checker, raw)
            )
        except ActionError as error:
            return self.json({"error": str(error)}, status=error.status)
        self.check.count(result)
        return self.json(answer)


def register_compliance(
    app: faust.App, checker: ComplianceChecker, count: Callable[[str], None]
) -> None:
    offload = Offload("compliance", MAX_CHECKS_WAITING)
    add_page(app, "/compliance", Compliance, check=CopyCheck(checker, offload, count))


def _check_copy(checker: ComplianceChecker, raw: bytes) -> tuple[str, dict[str, Any]]:
    """Decode and check, in the offload thread: the result label and the answer."""
    text = _text(_document(raw), "text", MAX_COPY_CHARS)
    if not text.strip():
        raise ActionError(400, "text is empty")
    verdict = checker.check(text, limit=MAX_HITS)
    return verdict.result, verdict.as_dict()


class Offload:
    """CPU-bound work on one thread of its own, off the event loop, with bounded queueing.

    A slot is taken on the loop and given back when the thread finishes the work, not
    when the caller stops waiting: a client that hangs up does not make room for more.
    """

    def __init__(self, name: str, room: int) -> None:
        self._pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix=name)
        self._slots = threading.BoundedSemaphore(room)

    async def run(self, work: Callable[[], _T]) -> _T:
        if not self._slots.acquire(blocking=False):
            raise ActionError(503, "too many checks in progress; try again in a moment")
        try:
            future = self._pool.submit(work)
        except BaseException:
            self._slots.release()
            raise
        future.add_done_callback(self._release)
        return await asyncio.wrap_future(future)

    def _release(self, _: Future[Any]) -> None:
        self._slots.release()
