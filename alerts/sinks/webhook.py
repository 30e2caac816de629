"""Any JSON webhook, signed."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime

import httpx

from alerts.messages import Message
from alerts.sinks.base import JsonSink, as_json


class WebhookSink(JsonSink):
    """Generic JSON webhook: the body signed with HMAC-SHA256 when a secret is set, and an
    idempotency key so that a receiver can drop the repeat of a retried delivery."""

    kind = "webhook"

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        body = as_json({"key": message.key, "title": message.title, "level": message.level,
                      "markdown": message.markdown, "sent_at": now.isoformat()})  # fmt: skip
        headers = {"Idempotency-Key": idempotency_key(message.key)}
        if self.secret:
            headers["X-Guanchao-Signature"] = "sha256=" + webhook_signature(self.secret, body)
        return self.url, body, headers

    def accepted(self, response: httpx.Response) -> bool:
        return True


def idempotency_key(key: str) -> str:
    """HTTP headers are ASCII and our keys hold brand names: send their SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()


def webhook_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
