"""No secret in the logs: robot keys in URLs, signing secrets, SMTP credentials, the API
token.

The secrets are read once, at the edge, from the environment variables the settings name.
`Redactor` replaces each of them (and the forms it takes once quoted, percent-encoded or
normalised by httpx) with `***`, and masks what looks like a secret whatever its origin:
the value of a `key=`, `access_token=`, `token=`, `sign=`, `secret=` … query parameter,
the password of a URL's user info, a bearer token.

`install_redaction` puts it on every log record as the record is made (a log-record
factory), so it holds whatever handlers and formatters mode's Worker configures later,
and it quiets httpx and httpcore, which log every request with its full URL at info level.
`RedactingFilter` is the same as a `logging.Filter`, for a handler of one's own.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
from collections.abc import Callable, Iterable, Mapping
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlsplit

import httpx

from monitor.settings import Settings

MASK = "***"
# Query parameters whose values are secrets, whichever URL they are in.
SECRET_PARAMETERS = (
    "key", "api_key", "apikey", "access_token", "token", "sign", "signature", "secret",
    "password",
)  # fmt: skip
# Parts of a secret URL shorter than this are not masked on their own (`?debug=1`).
MIN_PART_CHARS = 8
QUIET_LOGGERS = ("httpx", "httpcore")

_PATTERNS = (
    # ?key=…, &sign=…: up to the next parameter, the fragment, a space, quote or bracket
    (
        re.compile(
            r"([?&;](?:" + "|".join(SECRET_PARAMETERS) + r")=)[^&#;,)\]\s'\"<>]+", re.IGNORECASE
        ),
        r"\1" + MASK,
    ),
    # scheme://user:password@host
    (re.compile(r"(\b[a-z][a-z0-9+.-]*://[^/\s:@'\"]*:)[^/\s@'\"]+@", re.IGNORECASE), r"\1***@"),
    # Authorization: Bearer …
    (re.compile(r"(\bbearer\s+)[A-Za-z0-9._~+/=-]+", re.IGNORECASE), r"\1" + MASK),
)
_FORMATTER = logging.Formatter()


def secret_values(settings: Settings, env: Mapping[str, str]) -> list[str]:
    """The values of every variable the settings name for a secret, as set in `env`."""
    names: list[str | None] = [settings.alerts.token_env, settings.alerts.link_secret_env]
    names += [person.token_env for person in settings.alerts.console_people]
    for sink in settings.alerts.sinks:
        names += [sink.url_env, sink.secret_env, sink.smtp_user_env, sink.smtp_password_env]
    return [env[name] for name in names if name and env.get(name)]


def _forms(secret: str) -> set[str]:
    """A secret as it may be written: as is, escaped (JSON, repr, bytes), percent-encoded,
    normalised as a URL; for a URL, also each long enough query value on its own."""
    forms = {secret, quote(secret, safe=""), quote_plus(secret), json.dumps(secret)[1:-1]}
    forms |= {repr(secret)[1:-1], repr(secret.encode())[2:-1]}
    if "://" in secret:
        with contextlib.suppress(Exception):  # not a URL httpx takes: nothing to add
            forms.add(str(httpx.URL(secret)))
        query = urlsplit(secret).query
        for _, value in parse_qsl(query, keep_blank_values=False):
            if len(value) >= MIN_PART_CHARS:
                forms |= {value, quote(value, safe=""), quote_plus(value)}
    return {form for form in forms if form}


class Redactor:
    """Replaces known secrets and secret-looking values in text with `***`."""

    def __init__(self, secrets: Iterable[str] = ()) -> None:
        forms = sorted({form for s in secrets if s for form in _forms(s)}, key=len, reverse=True)
        self.known = re.compile("|".join(map(re.escape, forms))) if forms else None

    @classmethod
    def from_settings(cls, settings: Settings, env: Mapping[str, str] = os.environ) -> Redactor:
        return cls(secret_values(settings, env))

    def __call__(self, text: str) -> str:
        if self.known is not None:
            text = self.known.sub(MASK, text)
        for pattern, replacement in _PATTERNS:
            text = pattern.sub(replacement, text)
        return text

    def record(self, record: logging.LogRecord) -> None:
        """Redact a record in place: its message formatted once (the args are gone), its
        traceback and stack rendered to text (the exception object is dropped, so that no
        formatter renders it again unredacted)."""
        try:
            message = record.getMessage()
        except Exception:  # a bad format string: keep both parts, redacted
            message = f"{record.msg} {record.args!r}"
        record.msg = self(message)
        record.args = ()  # not None: mode's formatter would make that `(None,)`
        if record.exc_info:
            if not record.exc_text:
                record.exc_text = _FORMATTER.formatException(record.exc_info)
            record.exc_info = None
        if record.exc_text:
            record.exc_text = self(record.exc_text)
        if record.stack_info:
            record.stack_info = self(record.stack_info)


class RedactingFilter(logging.Filter):
    """A `logging.Filter` that redacts every record it sees and lets it through."""

    def __init__(self, redactor: Redactor) -> None:
        super().__init__()
        self.redactor = redactor

    def filter(self, record: logging.LogRecord) -> bool:
        self.redactor.record(record)
        return True


class _RedactingFactory:
    """A log-record factory: the records of `base`, redacted."""

    def __init__(self, base: Callable[..., logging.LogRecord], redactor: Redactor) -> None:
        self.base = base
        self.redactor = redactor

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record = self.base(*args, **kwargs)
        self.redactor.record(record)
        return record


def install_redaction(settings: Settings, env: Mapping[str, str] = os.environ) -> Redactor:
    """Redact every log record of this process from now on, and quiet httpx's and
    httpcore's request logging to warnings. Installing again replaces the redactor."""
    redactor = Redactor.from_settings(settings, env)
    current = logging.getLogRecordFactory()
    base = current.base if isinstance(current, _RedactingFactory) else current
    logging.setLogRecordFactory(_RedactingFactory(base, redactor))
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
    return redactor


def uninstall_redaction() -> None:
    """Back to the record factory there was before `install_redaction` (for tests)."""
    current = logging.getLogRecordFactory()
    if isinstance(current, _RedactingFactory):
        logging.setLogRecordFactory(current.base)
