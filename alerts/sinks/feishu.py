"""Feishu / Lark custom bots."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any

from alerts.messages import Message
from alerts.sinks.base import LEVEL_COLOURS, JsonSink, Limits, as_json, cut


class FeishuSink(JsonSink):
    """Feishu / Lark custom bot, a card with Markdown, signed when a secret is set.
    Limits: 100 a minute, 5 a second."""

    kind = "feishu"
    limits = Limits(per_minute=100, per_second=5)

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        card: dict[str, Any] = {
            "header": {
                "title": {"tag": "plain_text", "content": message.title},
                "template": LEVEL_COLOURS.get(message.level, "blue"),
            },
            "elements": [{"tag": "markdown", "content": cut(message.markdown)}],
        }
        if message.buttons:  # buttons that open the incident's signed page
            card["elements"].append({"tag": "action", "actions": [
                {"tag": "button", "text": {"tag": "plain_text", "content": label}, "url": url,
                 "type": "primary" if n == 0 else "default"}
                for n, (label, url) in enumerate(message.buttons)
            ]})  # fmt: skip
        payload: dict[str, Any] = {"msg_type": "interactive", "card": card}
        if self.secret:
            timestamp = str(int(now.timestamp()))
            payload |= {"timestamp": timestamp, "sign": feishu_sign(self.secret, timestamp)}
        return self.url, as_json(payload), {}


def feishu_sign(secret: str, timestamp: str) -> str:
    """Feishu: HMAC-SHA256 keyed with "timestamp\\nsecret" over an empty message."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
