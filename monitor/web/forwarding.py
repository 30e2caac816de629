"""A console request passed on to another worker of the group, as it came.

A case lives on the worker that owns its brand's partition, and a link in an alert reaches
whichever worker it reaches: the request goes on to the worker that has what it names, and
that worker's answer comes back.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import cast

import httpx
from aiohttp import web
from faust.web import Request

FORWARD_SECONDS = 30.0
FORWARDED = "X-Guanchao-Forwarded"  # a request passed on once is not passed on again
HOP_BY_HOP = {"connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}
PASSED_BACK = {"content-type", "location", "set-cookie", "content-security-policy",
               "x-content-type-options", "referrer-policy", "cache-control"}  # fmt: skip


def was_forwarded(request: Request) -> bool:
    return bool(cast(web.Request, request).headers.get(FORWARDED))


async def pass_on(request: Request, workers: Sequence[str], body: bytes) -> httpx.Response | None:
    """The request as it came, to each of `workers` in turn until one has what it names
    (answers other than 404): that one's answer, else the last 404, else None (no workers).
    Raises `httpx.HTTPError` when a worker cannot be reached."""
    raw = cast(web.Request, request)
    headers = {k: v for k, v in raw.headers.items() if k.lower() not in HOP_BY_HOP}
    answer = None
    async with httpx.AsyncClient(timeout=FORWARD_SECONDS) as client:
        for worker in workers:
            answer = await client.request(
                raw.method, worker.rstrip("/") + str(raw.rel_url), content=body,
                headers={**headers, FORWARDED: "1"},
            )  # fmt: skip
            if answer.status_code != 404:
                break
    return answer
