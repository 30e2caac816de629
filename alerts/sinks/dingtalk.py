"""DingTalk custom robots."""

from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import datetime
from urllib.parse import quote_plus

from alerts.messages import Message
from alerts.sinks.base import JsonSink, Limits, as_json, cut


class DingTalkSink(JsonSink):
    """DingTalk custom robot, markdown, HMAC-SHA256 signed in the URL. Limit: 20 a minute."""

    kind = "dingtalk"
    limits = Limits(per_minute=20)

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        url = self.url
        if self.secret:
            timestamp = str(int(now.timestamp() * 1000))
            sign = quote_plus(dingtalk_sign(self.secret, timestamp))
            url += f"{'&' if '?' in url else '?'}timestamp={timestamp}&sign={sign}"
        payload = {"msgtype": "markdown", "markdown": {"title": message.title,
                                                       "text": cut(message.markdown)}}  # fmt: skip
        return url, as_json(payload), {}


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """DingTalk: HMAC-SHA256 keyed with the secret over "timestamp\\nsecret"."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()
