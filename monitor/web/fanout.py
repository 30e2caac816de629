"""Rows of the console's shared pages (board, drills, silences, QA cases) from the other
workers of the group, each asked with the visitor's own session."""

from __future__ import annotations

from typing import Any

import httpx

from monitor.settings import LEVELS
from monitor.web.forwarding import FORWARDED
from monitor.web.qa_console import QA_ROW_KEYS
from monitor.web.sessions import SESSION_COOKIE, Visitor

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


def on_behalf_of(visitor: Visitor) -> httpx.AsyncClient:
    """Requests to other workers on the visitor's behalf: their session, checked there."""
    headers = {"Cookie": f"{SESSION_COOKIE}={visitor.credential}", FORWARDED: "1"}
    return httpx.AsyncClient(timeout=PEER_SECONDS, headers=headers)


async def peer_rows(client: httpx.AsyncClient, url: str, kind: str) -> list[dict[str, Any]] | None:
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
