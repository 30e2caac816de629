"""No secret in a log line or a delivery error: the redactor, its log-record factory under
mode's logging setup, and the sinks' error messages."""

from __future__ import annotations

import asyncio
import io
import logging
import smtplib
from collections.abc import Iterator
from datetime import UTC, datetime
from email.message import EmailMessage
from urllib.parse import quote, quote_plus

import httpx
import pytest
from mode.utils.logging import setup_logging

from alerts.messages import Message
from alerts.sinks import DeliveryError, EmailSink, Sink, build_sinks
from monitor.redaction import (
    RedactingFilter,
    Redactor,
    install_redaction,
    secret_values,
    uninstall_redaction,
)
from monitor.settings import Settings

ROBOT_KEY = "SECRET-KEY-6f1d2a9c"
ROBOT_URL = f"https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={ROBOT_KEY}"
SLACK_URL = "https://hooks.slack.com/services/T0001/B0002/SLACKPATHSECRET77"
SIGNING = "SIGNING-secret/+=秘密"
TOKEN = "API-TOKEN-0b7e55"
SMTP_USER = "robot-mailer"
SMTP_PASSWORD = "SMTP-PASS-1e9a"
ENV = {
    "WECOM_URL": ROBOT_URL,
    "SLACK_URL": SLACK_URL,
    "HOOK_SECRET": SIGNING,
    "MAIL_USER": SMTP_USER,
    "MAIL_PASSWORD": SMTP_PASSWORD,
    "API_TOKEN": TOKEN,
}
SECRETS = (ROBOT_KEY, ROBOT_URL, SLACK_URL, SIGNING, TOKEN, SMTP_USER, SMTP_PASSWORD)
SETTINGS = Settings.model_validate(
    {
        "alerts": {
            "token_env": "API_TOKEN",
            "sinks": [
                {"name": "wecom", "kind": "wecom", "url_env": "WECOM_URL"},
                {"name": "slack", "kind": "slack", "url_env": "SLACK_URL"},
                {"name": "hook", "kind": "webhook", "url": "http://127.0.0.1:9/h",
                 "secret_env": "HOOK_SECRET"},
                {"name": "mail", "kind": "email", "to": ["pr@example.com"],
                 "smtp_user_env": "MAIL_USER", "smtp_password_env": "MAIL_PASSWORD"},
            ],
        }
    }
)  # fmt: skip
MESSAGE = Message(
    title="【预警】云朵咖啡 · 新事件", markdown="**原因**：23 negative mentions", level="warning",
    key="云朵咖啡:negative_volume:1|opened", incident="云朵咖啡:negative_volume:1",
    brand="云朵咖啡", cause="negative_volume",
)  # fmt: skip


def leaks(text: str) -> list[str]:
    """The secrets in `text`, also in part: the signing secret's ASCII head is in it."""
    return [secret for secret in (*SECRETS, SIGNING[:14]) if secret in text]


def test_the_settings_name_every_secret_and_only_set_ones_count() -> None:
    assert sorted(secret_values(SETTINGS, ENV)) == sorted(
        [ROBOT_URL, SLACK_URL, SIGNING, SMTP_USER, SMTP_PASSWORD, TOKEN]
    )
    assert secret_values(SETTINGS, {"API_TOKEN": ""}) == []


def test_known_secrets_are_masked_in_every_form_they_take() -> None:
    redact = Redactor.from_settings(SETTINGS, ENV)
    lines = [
        f'HTTP Request: POST {ROBOT_URL} "HTTP/1.1 200 OK"',
        f"POST {ROBOT_URL}&timestamp=1700000000000&sign=abc%2Bdef",  # DingTalk appends
        f"Slack at {SLACK_URL}",
        f"secret {SIGNING!r}, as bytes {SIGNING.encode()!r}, encoded {quote(SIGNING, safe='')}",
        f"in a URL: https://x.example/?s={quote_plus(SIGNING)}",
        f"login {SMTP_USER} / {SMTP_PASSWORD} token={TOKEN}",
        f"the key alone: {ROBOT_KEY}",
        f'json: {{"secret": "{SIGNING.encode("unicode_escape").decode()}"}}',
    ]
    for line in lines:
        redacted = redact(line)
        assert "***" in redacted and not leaks(redacted), redacted
    assert redact(f"POST {ROBOT_URL} ok") == "POST *** ok"
    assert redact("nothing secret here: 42 comments") == "nothing secret here: 42 comments"


def test_secret_looking_values_are_masked_whatever_their_origin() -> None:
    redact = Redactor()
    assert redact("GET https://x.example/send?key=abc123&sign=s%2B1&debug=1#top") == (
        "GET https://x.example/send?key=***&sign=***&debug=1#top"
    )
    assert redact("https://x.example/?ACCESS_TOKEN=zz9 and ?token=t1 'https://y?secret=q'") == (
        "https://x.example/?ACCESS_TOKEN=*** and ?token=*** 'https://y?secret=***'"
    )
    assert redact("(see https://x.example/?key=k1; or [?sign=s2], ?token=t3)") == (
        "(see https://x.example/?key=***; or [?sign=***], ?token=***)"
    )
    assert redact("kafka://guanchao:hunter22@broker:9092") == "kafka://guanchao:***@broker:9092"
    assert redact("Authorization: Bearer abc.def-123") == "Authorization: Bearer ***"
    assert redact("missing or wrong token (Authorization: Bearer …)") == (
        "missing or wrong token (Authorization: Bearer …)"
    )
    assert redact("partition key=b'brand' at 127.0.0.1:9092") == (
        "partition key=b'brand' at 127.0.0.1:9092"
    )


@pytest.fixture
def installed() -> Iterator[None]:
    factory = logging.getLogRecordFactory()
    levels = {name: logging.getLogger(name).level for name in ("httpx", "httpcore")}
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    try:
        yield
    finally:
        uninstall_redaction()
        assert logging.getLogRecordFactory() is factory
        for name, before in levels.items():
            logging.getLogger(name).setLevel(before)
        root.handlers[:] = handlers
        root.setLevel(level)


def capture(name: str) -> tuple[logging.Logger, io.StringIO]:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(logging.Formatter("%(levelname)s %(message)s"))
    logger = logging.getLogger(name)
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.setLevel(logging.DEBUG)
    return logger, stream


def test_installed_every_record_is_redacted_tracebacks_included(installed: None) -> None:
    install_redaction(SETTINGS, ENV)
    install_redaction(SETTINGS, ENV)  # again: replaces, does not stack
    logger, stream = capture("guanchao.test.redaction")
    logger.info("posting to %s with %r", ROBOT_URL, {"secret": SIGNING})
    logger.warning(f"token {TOKEN} 100%% sure")  # no args: the % stays as written
    try:
        raise RuntimeError(f"cannot reach {ROBOT_URL} as {SMTP_USER}:{SMTP_PASSWORD}")
    except RuntimeError:
        logger.exception("dispatcher failed for %s", SLACK_URL)
    logger.error("bad format %s %s", ROBOT_KEY)  # one arg short: still logged, redacted
    output = stream.getvalue()
    assert not leaks(output), output
    assert "posting to *** with {'secret': '***'}" in output
    assert "token *** 100%% sure" in output
    assert "Traceback (most recent call last)" in output
    assert "RuntimeError: cannot reach ***" in output
    assert "bad format" in output
    assert logging.getLogger("httpx").getEffectiveLevel() == logging.WARNING
    assert logging.getLogger("httpcore").getEffectiveLevel() == logging.WARNING


def test_redaction_holds_after_mode_configures_logging(
    installed: None, capsys: pytest.CaptureFixture[str]
) -> None:
    """mode's Worker replaces the root handlers (colorlog, its own formatter) at startup,
    after `install_redaction` ran; its httpx level stays and every line stays redacted."""
    install_redaction(SETTINGS, ENV)
    setup_logging(loglevel="debug", logfile=None)
    logging.getLogger("guanchao.test.mode").debug("sent to %s (%s)", ROBOT_URL, TOKEN)
    logging.getLogger("httpx").info("HTTP Request: POST %s", ROBOT_URL)
    try:
        raise httpx.ConnectError(f"cannot connect to {SLACK_URL}")
    except httpx.ConnectError:
        logging.getLogger("guanchao.test.mode").exception("sink %s failed", "slack")
    for handler in logging.getLogger().handlers:
        handler.flush()
    captured = capsys.readouterr()
    output = captured.out + captured.err
    assert "sent to *** (***)" in output and "ConnectError: cannot connect to ***" in output
    assert "HTTP Request" not in output
    assert not leaks(output), output


def test_the_filter_redacts_what_reaches_its_handler() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RedactingFilter(Redactor.from_settings(SETTINGS, ENV)))
    logger = logging.getLogger("guanchao.test.filter")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.warning("robot %s said %s", ROBOT_URL, f"errmsg: invalid key {ROBOT_KEY}")
    assert stream.getvalue() == "robot *** said errmsg: invalid key ***\n"


def sinks() -> dict[str, Sink]:
    return build_sinks(SETTINGS.alerts.sinks, ENV)


def send_with(sink: Sink, handler: httpx.MockTransport) -> DeliveryError:
    async def go() -> None:
        async with httpx.AsyncClient(transport=handler) as client:
            await sink.send(MESSAGE, datetime.now(UTC), client)

    with pytest.raises(DeliveryError) as raised:
        asyncio.run(go())
    return raised.value


def test_a_service_answer_quoting_the_url_is_redacted_in_the_error() -> None:
    echo = httpx.MockTransport(
        lambda request: httpx.Response(500, text=f"invalid webhook url {request.url}")
    )
    error = send_with(sinks()["wecom"], echo)
    assert str(error) == "wecom: HTTP 500: invalid webhook url ***"


def test_an_httpx_error_quoting_the_url_is_redacted_in_the_error() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(f"cannot connect to {request.url}", request=request)

    for name in ("wecom", "slack"):
        error = send_with(sinks()[name], httpx.MockTransport(refuse))
        assert str(error) == f"{name}: ConnectError: cannot connect to ***"


def test_an_smtp_error_quoting_the_credentials_is_redacted_in_the_error(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def deliver(self: EmailSink, email: EmailMessage) -> None:
        raise smtplib.SMTPAuthenticationError(535, f"{SMTP_USER} {SMTP_PASSWORD} rejected")

    monkeypatch.setattr(EmailSink, "_deliver", deliver)
    error = send_with(sinks()["mail"], httpx.MockTransport(lambda r: httpx.Response(200)))
    assert "rejected" in str(error) and not leaks(str(error)), str(error)
