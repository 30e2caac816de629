"""WeCom (企业微信) group robots."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from alerts.messages import Message
from alerts.sinks.base import JsonSink, Limits, as_json, cut

TITLE_CHARS = 26  # WeCom's advice for a card's title
SUMMARY_CHARS = 112  # and for its text


class WeComSink(JsonSink):
    """WeCom (企业微信) group robot. Limit: 20 messages a minute.

    An alert is a template card (text notice) with 「确认」 and 「查看详情」 buttons that open
    the incident's signed page: a robot cannot be called back, but its card can link. A
    card holds no Markdown, so the detail is on the page; a digest, which has no single
    page, is Markdown."""

    kind = "wecom"
    limits = Limits(per_minute=20)

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        if not message.buttons:
            payload = {"msgtype": "markdown", "markdown": {"content": cut(message.markdown)}}
            return self.url, as_json(payload), {}
        return self.url, as_json({"msgtype": "template_card", "template_card": card(message)}), {}


def card(message: Message) -> dict[str, Any]:
    return {
        "card_type": "text_notice",
        "source": {"desc": "观潮 Guanchao", "desc_color": 2 if message.level == "crisis" else 0},
        "main_title": {"title": _short(message.title, TITLE_CHARS)},
        "sub_title_text": _short(message.summary, SUMMARY_CHARS),
        "jump_list": [{"type": 1, "title": label, "url": url} for label, url in message.buttons],
        "card_action": {"type": 1, "url": message.link},
    }


def _short(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"
