"""What an alert says, in Chinese or English, from the templates in `alerts/templates/`.

Pure: a notice and the time in, a title and a Markdown body out. Times are shown as clock
times in the rotation's time zone, with the minutes left (or overdue) at `now`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import jinja2

from monitor.casework.cases import REFRESH, Notice
from monitor.detect.reasons import joined
from monitor.settings import LEVELS
from monitor.signing import Links

TEMPLATES = Path(__file__).with_name("templates")


CLOSING = ("resolved", "false_alarm")
BUTTONS = {"zh": ("确认", "查看详情"), "en": ("Acknowledge", "Details")}
# A refresh says what the case is now: the template's words for its state.
STATE_KINDS = {"open": "opened", "acknowledged": "acknowledged", "statement": "statement"}


@dataclass(frozen=True)
class Message:
    title: str
    markdown: str
    level: str
    key: str  # the idempotency key: incident + step
    incident: str
    brand: str
    cause: str
    closes: bool = False  # the incident is over (Alertmanager resolves its alert)
    link: str = ""  # the incident's console page, signed for the person paged
    summary: str = ""  # a line or two, for cards that hold no Markdown (WeCom)
    buttons: tuple[tuple[str, str], ...] = ()  # (label, URL): 确认 and 查看详情
    started: datetime | None = None  # when the incident was detected
    parts: tuple[Message, ...] = ()  # a digest's messages, for sinks that take them apart


@cache
def _environment() -> jinja2.Environment:
    environment = jinja2.Environment(
        loader=jinja2.FileSystemLoader(TEMPLATES),
        autoescape=False,  # Markdown for chat robots, not HTML
        undefined=jinja2.StrictUndefined,
        trim_blocks=False,
        keep_trailing_newline=False,
    )
    environment.filters["reasons"] = joined
    return environment


def render(notice: Notice, language: str, links: Links, now: datetime) -> Message:
    template = _environment().get_template(f"alert.{language}.md.j2")
    context = _context(notice, links, now)
    if notice.kind == REFRESH:
        context["kind"] = STATE_KINDS.get(notice.case["state"], "opened")
    body = template.render(**context).strip()
    title, _, _ = body.partition("\n")
    summary = _environment().get_template(f"summary.{language}.txt.j2").render(**context)
    case = notice.case
    return Message(
        title=title,
        markdown=body,
        level=case["level"],
        key=notice.key,
        incident=case["id"],
        brand=case["brand"],
        cause=case["cause"],
        closes=notice.kind in CLOSING,
        link=context["url"],
        summary=summary.strip(),
        buttons=_buttons(context["url"], language, notice.kind in CLOSING),
        started=datetime.fromisoformat(case["detected_at"]),
    )


def _buttons(url: str, language: str, closed: bool) -> tuple[tuple[str, str], ...]:
    """确认 opens the page at its actions; a closed incident has only its details."""
    acknowledge, details = BUTTONS[language]
    return ((details, url),) if closed else ((acknowledge, f"{url}#act"), (details, url))


def digest(messages: list[Message], language: str) -> Message:
    """Several messages as one short list, when a sink's rate limit leaves room for only
    one more: one line each, so that a digest of many still fits a chat message. The
    messages ride along in `parts`: Alertmanager gets each incident as its own alert."""
    head = f"{len(messages)} 条告警汇总" if language == "zh" else f"{len(messages)} alerts"
    level = max((message.level for message in messages), key=LEVELS.index)
    lines = [f"{n}. {message.title}" for n, message in enumerate(messages, 1)]
    return Message(
        title=head,
        markdown="\n".join([head, "", *lines]),
        level=level,
        key="digest:" + ",".join(message.key for message in messages),
        incident=",".join(dict.fromkeys(message.incident for message in messages)),
        brand=",".join(dict.fromkeys(message.brand for message in messages)),
        cause="digest",
        parts=tuple(messages),
    )


def _context(notice: Notice, links: Links, now: datetime) -> dict[str, Any]:
    case = notice.case
    facts = case["facts"]
    zone = ZoneInfo(case["timezone"])

    def clock(iso: str) -> str:
        return datetime.fromisoformat(iso).astimezone(zone).strftime("%m-%d %H:%M")

    deadlines = [
        {
            "deadline": item["deadline"],
            "due": clock(item["due"]),
            "met": clock(item["met"]) if item["met"] else None,
            "left": _minutes_left(datetime.fromisoformat(item["due"]), now),
            "overdue": now >= datetime.fromisoformat(item["due"]),
        }
        for item in case["deadlines"]
    ]
    on_duty = case["on_duty"]
    return {
        "kind": notice.kind,
        "deadline": notice.deadline,
        "case": case,
        "facts": {"negatives": None, "threshold": None, "growth": None, "waves": [], **facts},
        "keywords": _keywords(facts),
        "top": facts.get("top_negatives") or [],
        "deadlines": deadlines,
        "detected": clock(case["detected_at"]),
        "on_duty": _person(on_duty) if on_duty else "",
        "people": "、".join(_person(person) for person in notice.people),
        "url": links.incident(case["id"], _paged(notice), now),
    }


def _minutes_left(due: datetime, now: datetime) -> int:
    """Whole minutes, rounded away from now: 30 s left is "1 minute left"."""
    seconds = (due - now).total_seconds()
    return math.ceil(seconds / 60) if seconds >= 0 else math.floor(seconds / 60)


def _paged(notice: Notice) -> str:
    """Whom the link is for: the first person paged, else whoever is on duty."""
    person = notice.people[0] if notice.people else notice.case["on_duty"]
    return str(person["name"]) if person else ""


def _person(person: dict[str, str]) -> str:
    return f"{person['name']} {person.get('phone', '')}".strip()


def _keywords(facts: dict[str, Any]) -> list[str]:
    if "keyword" in facts:
        return [str(facts["keyword"])]
    return [str(word) for word in facts.get("top_keywords") or ()]
