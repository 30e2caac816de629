"""Where alerts go: one registry, one contract. A sink turns a `Message` into the request
its service expects, signs it where the service asks for that, and raises `DeliveryError`
when the service did not take it. Retries, rate limits and digests live in
`alerts/delivery.py`, once for all sinks.

Secrets (robot keys inside URLs, signing secrets, SMTP passwords) are read from the
environment variables the config names, once, when the sinks are built.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import smtplib
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from email.message import EmailMessage
from typing import Any, ClassVar
from urllib.parse import quote_plus

import httpx

from alerts.messages import Message
from monitor.redaction import Redactor
from monitor.settings import ConfigError, SinkSettings

# Markdown bodies beyond the services' limits are cut (WeCom: 4,096 bytes).
MAX_MARKDOWN_BYTES = 4000
# Open incidents are re-posted to Alertmanager this often (`AlertSettings`), and each post
# lasts RESENDS times that: as Prometheus does, an alert nobody re-sends resolves itself.
ALERTMANAGER_REFRESH = timedelta(minutes=5)
RESENDS = 4
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
        self.url = _secret(env, settings.url_env) if settings.url_env else settings.url or ""
        self.secret = _secret(env, settings.secret_env) if settings.secret_env else ""

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


class WeComSink(JsonSink):
    """WeCom (企业微信) group robot, markdown message. Limit: 20 messages a minute."""

    kind = "wecom"
    limits = Limits(per_minute=20)

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        content = _cut(message.markdown)
        return self.url, _json({"msgtype": "markdown", "markdown": {"content": content}}), {}


class FeishuSink(JsonSink):
    """Feishu / Lark custom bot, a card with Markdown, signed when a secret is set.
    Limits: 100 a minute, 5 a second."""

    kind = "feishu"
    limits = Limits(per_minute=100, per_second=5)

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        card = {
            "header": {
                "title": {"tag": "plain_text", "content": message.title},
                "template": LEVEL_COLOURS.get(message.level, "blue"),
            },
            "elements": [{"tag": "markdown", "content": _cut(message.markdown)}],
        }
        payload: dict[str, Any] = {"msg_type": "interactive", "card": card}
        if self.secret:
            timestamp = str(int(now.timestamp()))
            payload |= {"timestamp": timestamp, "sign": feishu_sign(self.secret, timestamp)}
        return self.url, _json(payload), {}


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
                                                       "text": _cut(message.markdown)}}  # fmt: skip
        return url, _json(payload), {}


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
        return self.url, _json(payload), {}

    def accepted(self, response: httpx.Response) -> bool:
        return response.text.strip() == "ok"


class WebhookSink(JsonSink):
    """Generic JSON webhook: the body signed with HMAC-SHA256 when a secret is set, and an
    idempotency key so that a receiver can drop the repeat of a retried delivery."""

    kind = "webhook"

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        body = _json({"key": message.key, "title": message.title, "level": message.level,
                      "markdown": message.markdown, "sent_at": now.isoformat()})  # fmt: skip
        headers = {"Idempotency-Key": idempotency_key(message.key)}
        if self.secret:
            headers["X-Guanchao-Signature"] = "sha256=" + webhook_signature(self.secret, body)
        return self.url, body, headers

    def accepted(self, response: httpx.Response) -> bool:
        return True


class AlertmanagerSink(JsonSink):
    """Prometheus Alertmanager, API v2: its routing, silences and paging keep working.

    One alert per incident: the labels identify it (alertname, incident, brand, cause), the
    annotations describe it (summary, level, description, link), so a level change updates
    the alert instead of starting a second one. Each post lasts `RESENDS` refresh intervals
    and the worker re-posts open incidents every interval; a closed incident is sent with
    `endsAt` now, which resolves it. A digest is posted as one alert per message in it.
    """

    kind = "alertmanager"

    def __init__(
        self,
        settings: SinkSettings,
        env: Mapping[str, str],
        refresh: timedelta = ALERTMANAGER_REFRESH,
    ) -> None:
        super().__init__(settings, env)
        self.lifetime = refresh * RESENDS

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        alerts = [self.alert(part, now) for part in incidents(message)]
        return self.url.rstrip("/") + "/api/v2/alerts", _json(alerts), {}

    def accepted(self, response: httpx.Response) -> bool:
        return True

    def alert(self, message: Message, now: datetime) -> dict[str, Any]:
        annotations = {
            "summary": message.title,
            "level": message.level,
            "description": message.markdown,
        }
        document: dict[str, Any] = {
            "labels": {
                "alertname": "GuanchaoIncident",
                "incident": message.incident,
                "brand": message.brand,
                "cause": message.cause,
            },
            "annotations": annotations,
            "startsAt": (message.started or now).isoformat(),
            "endsAt": (now if message.closes else now + self.lifetime).isoformat(),
        }
        if message.link:
            annotations["link"] = message.link
            document["generatorURL"] = message.link
        return document


def incidents(message: Message) -> list[Message]:
    """A message, or a digest's, one per incident: the last of each, unless one closes it
    (a retried reminder must not reopen what a resolution in the same batch closed)."""
    latest: dict[str, Message] = {}
    for part in message.parts or (message,):
        kept = latest.get(part.incident)
        if kept is None or not kept.closes:
            latest[part.incident] = part
    return list(latest.values())


class EmailSink(Sink):
    """Email over SMTP (STARTTLS when the server offers it); the body is the Markdown."""

    kind = "email"

    def __init__(self, settings: SinkSettings, env: Mapping[str, str]) -> None:
        super().__init__(settings, env)
        self.user = _secret(env, settings.smtp_user_env) if settings.smtp_user_env else ""
        self.password = (
            _secret(env, settings.smtp_password_env) if settings.smtp_password_env else ""
        )

    async def send(self, message: Message, now: datetime, client: httpx.AsyncClient) -> None:
        email = EmailMessage()
        email["Subject"] = message.title
        email["From"] = self.settings.sender
        email["To"] = ", ".join(self.settings.to)
        email["Message-ID"] = f"<{hashlib.sha256(message.key.encode()).hexdigest()}@guanchao>"
        email.set_content(message.markdown)
        try:
            await asyncio.to_thread(self._deliver, email)
        except (OSError, smtplib.SMTPException) as error:
            raise self.failure(f"{type(error).__name__}: {error}") from None

    def _deliver(self, email: EmailMessage) -> None:
        with smtplib.SMTP(self.settings.smtp_host, self.settings.smtp_port, timeout=10) as smtp:
            if smtp.has_extn("starttls"):
                smtp.starttls()
            if self.user:
                smtp.login(self.user, self.password)
            smtp.send_message(email)

    def secrets(self) -> tuple[str, ...]:
        return (*super().secrets(), self.user, self.password)


class ConsoleSink(Sink):
    """Standard output: the demo's pager, and a witness in the logs."""

    kind = "console"

    async def send(self, message: Message, now: datetime, client: httpx.AsyncClient) -> None:
        print(f"\n{message.markdown}\n", flush=True)


SINKS: dict[str, type[Sink]] = {
    sink.kind: sink
    for sink in (
        WeComSink,
        FeishuSink,
        DingTalkSink,
        SlackSink,
        WebhookSink,
        AlertmanagerSink,
        EmailSink,
        ConsoleSink,
    )
}


def build_sinks(
    settings: tuple[SinkSettings, ...],
    env: Mapping[str, str],
    refresh: timedelta = ALERTMANAGER_REFRESH,
) -> dict[str, Sink]:
    """Every configured sink, with its secrets; a missing variable stops the start.
    `refresh`: how often the worker re-posts open incidents to Alertmanager."""
    return {
        sink.name: AlertmanagerSink(sink, env, refresh)
        if sink.kind == AlertmanagerSink.kind
        else SINKS[sink.kind](sink, env)
        for sink in settings
    }


def feishu_sign(secret: str, timestamp: str) -> str:
    """Feishu: HMAC-SHA256 keyed with "timestamp\\nsecret" over an empty message."""
    key = f"{timestamp}\n{secret}".encode()
    return base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()


def dingtalk_sign(secret: str, timestamp: str) -> str:
    """DingTalk: HMAC-SHA256 keyed with the secret over "timestamp\\nsecret"."""
    digest = hmac.new(secret.encode(), f"{timestamp}\n{secret}".encode(), hashlib.sha256)
    return base64.b64encode(digest.digest()).decode()


def idempotency_key(key: str) -> str:
    """HTTP headers are ASCII and our keys hold brand names: send their SHA-256."""
    return hashlib.sha256(key.encode()).hexdigest()


def webhook_signature(secret: str, body: bytes) -> str:
    return hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def _secret(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value:
        raise ConfigError(f"environment variable {name} is not set (a sink needs it)")
    return value


def _json(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def _cut(markdown: str) -> str:
    encoded = markdown.encode()
    if len(encoded) <= MAX_MARKDOWN_BYTES:
        return markdown
    return encoded[: MAX_MARKDOWN_BYTES - 3].decode(errors="ignore") + "…"
