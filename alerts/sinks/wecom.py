"""WeCom (企业微信) group robots."""

from __future__ import annotations

from datetime import datetime

from alerts.messages import Message
from alerts.sinks.base import JsonSink, Limits, as_json, cut


class WeComSink(JsonSink):
    """WeCom (企业微信) group robot, markdown message. Limit: 20 messages a minute."""

    kind = "wecom"
    limits = Limits(per_minute=20)

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        content = cut(message.markdown)
        return self.url, as_json({"msgtype": "markdown", "markdown": {"content": content}}), {}
