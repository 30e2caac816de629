"""DingTalk custom robots."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from typing import Any
from urllib.parse import quote_plus

from alerts.messages import Message
from alerts.sinks.base import JsonSink, Limits, as_json, cut


class DingTalkSink(JsonSink):
    """DingTalk custom robot, HMAC-SHA256 signed in the URL. Limit: 20 a minute. An alert
    is an ActionCard (Markdown with buttons that open the incident's signed page); a
    digest is plain Markdown."""

    kind = "dingtalk"
    limits = Limits(per_minute=20)

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        url = self.url
        if self.secret:
            timestamp = str(int(now.timestamp() * 1000))
            sign = quote_plus(dingtalk_sign(self.secret, timestamp))
            url += f"{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"
        payload: dict[str, Any] = {"msgtype": "markdown", "markdown": {
            "title": message.title, "text": cut(message.markdown)}}  # fmt: skip
        if message.buttons:
            buttons = [{"title": label, "actionURL": url} for label, url in message.buttons]
            payload = {"msgtype": "actionCard", "actionCard": {
                "title": message.title, "text": cut(message.markdown), "btnOrientation": "1",
                "btns": buttons}}  # fmt: skip
        return url, as_json(payload), {}


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """DingTalk: HMAC-SHA256 keyed with the secret over "timestamp\\nsecret"."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()
