"""Email over SMTP."""

from __future__ import annotations

import asyncio
import hashlib
import smtplib
from collections.abc import Mapping
from datetime import datetime
from email.message import EmailMessage

import httpx

from alerts.messages import Message
from alerts.sinks.base import Sink, secret
from monitor.settings import SinkSettings


class EmailSink(Sink):
    """Email over SMTP (STARTTLS when the server offers it); the body is the Markdown."""

    kind = "email"

    def __init__(self, settings: SinkSettings, env: Mapping[str, str]) -> None:
        super().__init__(settings, env)
        self.user = secret(env, settings.smtp_user_env) if settings.smtp_user_env else ""
        self.password = (
            secret(env, settings.smtp_password_env) if settings.smtp_password_env else ""
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
