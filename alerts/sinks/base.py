"""The contract every sink keeps: `send` delivers one message or raises `DeliveryError`,
with none of the sink's secrets in the error's text. Secrets (robot keys inside URLs,
signing secrets, SMTP passwords) are read from the environment variables the config names,
once, when the sink is built."""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar

import httpx

from alerts.messages import Message
from monitor.redaction import Redactor
from monitor.settings import ConfigError, SinkSettings

# Markdown bodies beyond the services' limits are cut (WeCom: 4,096 bytes).
MAX_MARKDOWN_BYTES = 4000
LEVEL_COLOURS = {"watch": "blue", "warning": "orange", "crisis": "red"}


class DeliveryError(Exception):
    """The service did not take the message; the text says what it answered."""


@dataclass(frozen=True)
class Limits:
    per_minute: int | None = None
    per_second: int | None = None


class Sink:
    """The contract: `send` delivers one message or raises `DeliveryError`."""

    kind: ClassVar[str]
    limits: ClassVar[Limits] = Limits()

    def __init__(self, settings: SinkSettings, env: Mapping[str, str]) -> None:
        self.settings = settings
        self.name = settings.name
        self.url = secret(env, settings.url_env) if settings.url_env else settings.url or ""
        self.secret = secret(env, settings.secret_env) if settings.secret_env else ""

    @property
    def rate(self) -> Limits:
        return Limits(
            self.settings.per_minute or self.limits.per_minute,
            self.settings.per_second or self.limits.per_second,
        )

    async def send(self, message: Message, now: datetime, client: httpx.AsyncClient) -> None:
        raise NotImplementedError

    def failure(self, detail: str) -> DeliveryError:
        """The error for a failed send, with none of this sink's secrets in its text: an
        httpx error or a service's answer may quote the URL with its key, and the text is
        logged, stored with the delivery, shown by the API and dead-lettered."""
        return DeliveryError(Redactor(self.secrets())(f"{self.name}: {detail}"))

    def secrets(self) -> tuple[str, ...]:
        return (self.url if self.settings.url_env else "", self.secret)


class JsonSink(Sink):
    """A robot or webhook that takes one JSON POST; subclasses say what to post."""

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        raise NotImplementedError

    def accepted(self, response: httpx.Response) -> bool:
        """Chat robots answer 200 with an error code in the body."""
        body = response.json()
        return bool(body.get("errcode", body.get("code", 0)) == 0)

    async def send(self, message: Message, now: datetime, client: httpx.AsyncClient) -> None:
        url, body, headers = self.request(message, now)
        try:
            response = await client.post(
                url, content=body, headers={"Content-Type": "application/json", **headers}
            )
        except (httpx.HTTPError, httpx.InvalidURL) as error:
            raise self.failure(f"{type(error).__name__}: {error}") from None
        try:
            ok = response.is_success and self.accepted(response)
        except ValueError:
            ok = False
        if not ok:
            raise self.failure(f"HTTP {response.status_code}: {response.text[:200]}")


def secret(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError(f"environment variable {name} is not set (the config names it)")
    return value


def as_json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def cut(markdown: str) -> str:
    encoded = markdown.encode()
    if len(encoded) <= MAX_MARKDOWN_BYTES:
        return markdown
    return encoded[: MAX_MARKDOWN_BYTES - 3].decode(errors="ignore") + "…"
