"""Slack incoming webhooks."""

from __future__ import annotations

from datetime import datetime

import httpx

from alerts.messages import Message
from alerts.sinks.base import JsonSink, Limits, as_json


class SlackSink(JsonSink):
    """Slack incoming webhook. Slack asks for no more than one message a second."""

    kind = "slack"
    limits = Limits(per_second=1)

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        text = message.markdown.replace("**", "*")  # Slack's mrkdwn bold
        payload = {
            "text": message.title,
            "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": text[:2900]}}],
        }
        return self.url, as_json(payload), {}

    def accepted(self, response: httpx.Response) -> bool:
        return response.text.strip() == "ok"
