"""Slack incoming webhooks."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import httpx

from alerts.messages import Message
from alerts.sinks.base import JsonSink, Limits, as_json


class SlackSink(JsonSink):
    """Slack incoming webhook. Slack asks for no more than one message a second."""

    kind = "slack"
    limits = Limits(per_second=1)

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        text = message.markdown.replace("**", "*")  # Slack's mrkdwn bold
        blocks: list[dict[str, Any]] = [
            {"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}
        ]
        if message.buttons:  # link buttons: they open the incident's signed page
            blocks.append({"type": "actions", "elements": [
                {"type": "button", "text": {"type": "plain_text", "text": label}, "url": url,
                 **({"style": "primary"} if n == 0 else {})}
                for n, (label, url) in enumerate(message.buttons)
            ]})  # fmt: skip
        payload = {"text": message.title, "blocks": blocks}
        return self.url, as_json(payload), {}

    def accepted(self, response: httpx.Response) -> bool:
        return response.text.strip() == "ok"
