"""Each sink against a real receiver that checks the payload format and the signature the
way the service documents it (computed here independently of `alerts.sinks`)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import shutil
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, unquote_plus, urlsplit

import httpx
import pytest
from aiosmtpd.controller import Controller

from alerts.messages import Message, digest
from alerts.sinks import DeliveryError, Sink, build_sinks
from monitor.settings import ConfigError, SinkSettings
from monitor.stream.broker import free_port
from tests.receivers import Receiver, receiver

# The real clock: Alertmanager judges startsAt/endsAt against its own.
NOW = datetime.now(UTC).replace(microsecond=0)  # read again when each test begins, below
SECRET = "SEC-test-秘密"
MESSAGE = Message(
    title="【预警】云朵咖啡 · 新事件",
    markdown="【预警】云朵咖啡 · 新事件\n\n**原因**：23 negative mentions",
    level="warning",
    key="云朵咖啡:negative_volume:100|opened",
    incident="云朵咖啡:negative_volume:100",
    brand="云朵咖啡",
    cause="negative_volume",
)


PAGE = "https://pr.example.com/console/incidents/%E4%BA%91?token=1.x.y"
WITH_BUTTONS = replace(
    MESSAGE,
    link=PAGE,
    summary="近一小时负面 23 条（阈值 10）。23 negative mentions。首次回应 10:30 截止",
    buttons=(("确认", f"{PAGE}#act"), ("查看详情", PAGE)),
)


def make_sink(kind: str, url: str, **extra: Any) -> Sink:
    env = {"SINK_URL": url, "SINK_SECRET": SECRET}
    config = SinkSettings(name=kind, kind=kind, url_env="SINK_URL", **extra)  # type: ignore[arg-type]
    return build_sinks((config,), env)[kind]


@pytest.fixture(autouse=True)
def real_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    """Alertmanager keeps an alert only until its end, by its own clock: the time a test
    sends must be when it runs, not when the module was imported (on CI, 15 minutes
    earlier: the alert had ended before it was posted)."""
    monkeypatch.setattr(sys.modules[__name__], "NOW", datetime.now(UTC).replace(microsecond=0))


def send(sink: Sink, message: Message = MESSAGE, now: datetime | None = None) -> None:
    async def go() -> None:
        async with httpx.AsyncClient(timeout=5) as client:
            await sink.send(message, now or NOW, client)

    asyncio.run(go())


@pytest.fixture
def http() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


def test_wecom_gets_a_markdown_message(http: Receiver) -> None:
    send(make_sink("wecom", http.url + "/cgi-bin/webhook/send?key=abc"))
    (request,) = http.requests
    assert request.path == "/cgi-bin/webhook/send?key=abc"
    assert request.json() == {"msgtype": "markdown", "markdown": {"content": MESSAGE.markdown}}


def test_wecom_gets_a_card_whose_buttons_open_the_signed_page(http: Receiver) -> None:
    send(make_sink("wecom", http.url), WITH_BUTTONS)
    body = http.requests[0].json()
    assert body["msgtype"] == "template_card"
    card = body["template_card"]
    assert card["card_type"] == "text_notice" and card["main_title"]["title"] == MESSAGE.title
    assert card["sub_title_text"] == WITH_BUTTONS.summary
    assert card["jump_list"] == [{"type": 1, "title": "确认", "url": f"{PAGE}#act"},
                                 {"type": 1, "title": "查看详情", "url": PAGE}]  # fmt: skip
    assert card["card_action"] == {"type": 1, "url": PAGE}


def test_feishu_dingtalk_and_slack_carry_the_same_two_buttons(http: Receiver) -> None:
    for kind in ("feishu", "dingtalk"):
        send(make_sink(kind, http.url), WITH_BUTTONS)
    http.answer(200, b"ok")  # Slack's plain answer
    send(make_sink("slack", http.url), WITH_BUTTONS)
    feishu, dingtalk, slack = (request.json() for request in http.requests)
    expected = [("确认", f"{PAGE}#act"), ("查看详情", PAGE)]
    actions = feishu["card"]["elements"][-1]
    assert actions["tag"] == "action"
    assert [(b["text"]["content"], b["url"]) for b in actions["actions"]] == expected
    assert dingtalk["msgtype"] == "actionCard"
    assert dingtalk["actionCard"]["text"] == MESSAGE.markdown
    assert [(b["title"], b["actionURL"]) for b in dingtalk["actionCard"]["btns"]] == expected
    buttons = slack["blocks"][-1]
    assert buttons["type"] == "actions"
    assert [(b["text"]["text"], b["url"]) for b in buttons["elements"]] == expected


def test_feishu_gets_a_signed_card(http: Receiver) -> None:
    send(make_sink("feishu", http.url, secret_env="SINK_SECRET"))
    body = http.requests[0].json()
    timestamp = body["timestamp"]
    assert timestamp == str(int(NOW.timestamp()))
    key = f"{timestamp}\n{SECRET}".encode()
    expected = base64.b64encode(hmac.new(key, b"", hashlib.sha256).digest()).decode()
    assert body["sign"] == expected
    assert body["msg_type"] == "interactive"
    assert body["card"]["header"]["title"]["content"] == MESSAGE.title
    assert body["card"]["elements"][0]["content"] == MESSAGE.markdown


def test_dingtalk_signs_the_url_with_hmac_sha256(http: Receiver) -> None:
    send(make_sink("dingtalk", http.url + "/robot/send?access_token=t", secret_env="SINK_SECRET"))
    request = http.requests[0]
    query = parse_qs(urlsplit(request.path).query, keep_blank_values=True)
    timestamp = query["timestamp"][0]
    assert timestamp == str(int(NOW.timestamp() * 1000))
    string = f"{timestamp}\n{SECRET}".encode()
    digest = hmac.new(SECRET.encode(), string, hashlib.sha256).digest()
    assert unquote_plus(urlsplit(request.path).query.split("sign=")[1]) == (
        base64.b64encode(digest).decode()
    )
    assert query["access_token"] == ["t"]
    assert request.json()["markdown"] == {"title": MESSAGE.title, "text": MESSAGE.markdown}


def test_slack_gets_mrkdwn_and_its_plain_ok(http: Receiver) -> None:
    http.answer(200, b"ok")
    send(make_sink("slack", http.url))
    body = http.requests[0].json()
    assert body["text"] == MESSAGE.title
    assert "*原因*" in body["blocks"][0]["text"]["text"]


def test_a_webhook_body_is_signed_and_carries_an_idempotency_key(http: Receiver) -> None:
    send(make_sink("webhook", http.url, secret_env="SINK_SECRET"))
    request = http.requests[0]
    expected = hmac.new(SECRET.encode(), request.body, hashlib.sha256).hexdigest()
    assert request.headers["X-Guanchao-Signature"] == f"sha256={expected}"
    body = request.json()
    assert body["key"] == MESSAGE.key and body["markdown"] == MESSAGE.markdown
    assert request.headers["Idempotency-Key"] == hashlib.sha256(MESSAGE.key.encode()).hexdigest()


@pytest.mark.parametrize(
    ("status", "reply"),
    [
        (500, b"boom"),
        (200, b'{"errcode": 93000, "errmsg": "invalid webhook url"}'),
        (200, b"<html>not json</html>"),
    ],
)
def test_a_refusal_is_a_delivery_error_that_says_what_came_back(
    http: Receiver, status: int, reply: bytes
) -> None:
    http.answer(status, reply)
    with pytest.raises(DeliveryError, match=f"HTTP {status}"):
        send(make_sink("wecom", http.url))


def test_an_unreachable_sink_is_a_delivery_error(refused: Callable[[], int]) -> None:
    with pytest.raises(DeliveryError, match="ConnectError"):
        send(make_sink("webhook", f"http://127.0.0.1:{refused()}"))


def test_a_missing_secret_stops_the_start_and_names_the_variable() -> None:
    config = SinkSettings(name="robot", kind="wecom", url_env="WECOM_ROBOT_URL")
    with pytest.raises(ConfigError, match="WECOM_ROBOT_URL"):
        build_sinks((config,), {})


def test_email_reaches_a_real_smtp_server() -> None:
    received: list[Any] = []

    class Handler:
        async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
            received.append(envelope)
            return "250 OK"

    port = free_port()
    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        config = SinkSettings(name="mail", kind="email", smtp_port=port, to=("pr@example.com",))
        send(build_sinks((config,), {})["mail"])
    finally:
        controller.stop()
    (envelope,) = received
    assert envelope.rcpt_tos == ["pr@example.com"]
    text = envelope.content.decode()
    assert "Subject: =?utf-8?" in text and "guanchao" in text.lower()


ALERTMANAGER_CONFIG = """
route:
  receiver: nowhere
receivers:
  - name: nowhere
"""


@pytest.fixture(scope="module")
def alertmanager(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    binary = shutil.which("prometheus-alertmanager") or shutil.which("alertmanager")
    if binary is None:
        pytest.fail("alertmanager is not installed: scripts/test installs prometheus-alertmanager")
    folder: Path = tmp_path_factory.mktemp("alertmanager")
    (folder / "alertmanager.yml").write_text(ALERTMANAGER_CONFIG)
    port = free_port()
    log = (folder / "log").open("wb")
    process = subprocess.Popen(
        [
            binary,
            f"--config.file={folder / 'alertmanager.yml'}",
            f"--storage.path={folder}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--cluster.listen-address=",
        ],
        stdout=subprocess.DEVNULL,
        stderr=log,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_ready(url, process, folder / "log")
        yield url
    finally:
        process.terminate()
        process.wait(10)
        log.close()


def _wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and process.poll() is None:
        try:
            urllib.request.urlopen(url + "/-/ready", timeout=1).close()
            return
        except OSError:
            time.sleep(0.2)
    pytest.fail(f"alertmanager did not become ready at {url}; its log:\n{log.read_text()}")


def alerts_in(url: str) -> list[dict[str, Any]]:
    with urllib.request.urlopen(url + "/api/v2/alerts", timeout=5) as response:
        return json.load(response)  # type: ignore[no-any-return]


def active(url: str, incident: str) -> list[dict[str, Any]]:
    return [alert for alert in alerts_in(url) if alert["labels"]["incident"] == incident]


def am_sink(url: str) -> Sink:
    return build_sinks((SinkSettings(name="am", kind="alertmanager", url=url),), {})["am"]


def incident_message(number: int, **changes: Any) -> Message:
    """An incident detected ten minutes ago (Alertmanager keeps startsAt, not our clock)."""
    incident = f"云朵咖啡:negative_volume:{number}"
    opened = replace(MESSAGE, incident=incident, key=f"{incident}|opened",
                     link=f"http://127.0.0.1:6066/incidents/{number}",
                     started=NOW - timedelta(minutes=10))  # fmt: skip
    return replace(opened, **changes)


def closing(message: Message) -> Message:
    return replace(message, key=message.incident + "|resolved", closes=True)


def ends(alert: dict[str, Any]) -> datetime:
    return datetime.fromisoformat(alert["endsAt"])


def test_alertmanager_shows_the_alert_and_resolves_it_when_the_incident_closes(
    alertmanager: str,
) -> None:
    sink = am_sink(alertmanager)
    send(sink)
    (alert,) = active(alertmanager, MESSAGE.incident)
    assert alert["labels"] == {
        "alertname": "GuanchaoIncident", "incident": MESSAGE.incident,
        "brand": "云朵咖啡", "cause": "negative_volume",
    }  # fmt: skip
    assert alert["annotations"]["summary"] == MESSAGE.title
    assert alert["annotations"]["level"] == "warning"
    assert alert["status"]["state"] == "active"
    send(sink, closing(MESSAGE))
    assert active(alertmanager, MESSAGE.incident) == []


def test_alertmanager_a_level_change_leaves_one_alert_for_the_incident(alertmanager: str) -> None:
    sink = am_sink(alertmanager)
    warning = incident_message(201)
    send(sink, warning)
    crisis = replace(warning, level="crisis", title="【危机】云朵咖啡 · 级别变化",
                     key=f"{warning.incident}|level:crisis")  # fmt: skip
    send(sink, crisis)
    (alert,) = active(alertmanager, warning.incident)
    assert alert["annotations"]["level"] == "crisis"
    assert alert["annotations"]["summary"] == crisis.title
    assert alert["annotations"]["link"] == warning.link
    assert datetime.fromisoformat(alert["startsAt"]) == warning.started
    send(sink, closing(crisis))
    assert active(alertmanager, warning.incident) == []


def test_alertmanager_a_repost_extends_the_open_alert(alertmanager: str) -> None:
    sink = am_sink(alertmanager)
    message = incident_message(202)
    send(sink, message, NOW - timedelta(minutes=5))  # posted 5 minutes ago: lasts 15 more
    (first,) = active(alertmanager, message.incident)
    assert ends(first) == NOW + timedelta(minutes=15)
    refreshed = replace(message, key=f"{message.incident}|refresh:{NOW.isoformat()}")
    send(sink, refreshed)  # the worker's refresh, 5 minutes later: 20 more from now
    (second,) = active(alertmanager, message.incident)
    assert ends(second) == NOW + timedelta(minutes=20)
    assert second["status"]["state"] == "active"
    send(sink, closing(message))
    assert active(alertmanager, message.incident) == []


def test_alertmanager_gets_a_digest_of_two_incidents_as_two_alerts(alertmanager: str) -> None:
    sink = am_sink(alertmanager)
    first, second = incident_message(203), incident_message(204, level="crisis")
    send(sink, digest([first, second], "zh"))
    shown = {alert["labels"]["incident"]: alert for alert in alerts_in(alertmanager)}
    assert not any("," in incident for incident in shown)
    assert shown[first.incident]["annotations"]["level"] == "warning"
    assert shown[second.incident]["annotations"]["level"] == "crisis"
    send(sink, digest([closing(first), closing(second)], "zh"))
    assert active(alertmanager, first.incident) == active(alertmanager, second.incident) == []
