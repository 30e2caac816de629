"""No secret leaves the worker: a real worker at debug level pages a WeCom robot whose URL
carries its key, fails on three sinks (unreachable, a service answering with the URL in
its error, an SMTP server that is not there) until they are dead-lettered; then its whole
log, /metrics, /health, the API's case and the topics are searched for every secret."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote

import pytest

from monitor.casework.playbook import DEFAULT_PLAYBOOK
from tests.receivers import Receiver, receiver

from .conftest import MakePipeline, wait_for
from .test_playbook import call, eleven_negatives, volume_case


def _secret(kind: str) -> str:
    return f"{kind}-{uuid.uuid4().hex}"


ROBOT_KEY = _secret("SECRET-KEY")
DOWN_KEY = _secret("DOWN-KEY")
ECHO_TOKEN = _secret("ECHO-TOKEN")
DING_SECRET = _secret("SEC-ding")
HOOK_SECRET = _secret("hook-secret")
SMTP_USER = _secret("mailer")
SMTP_PASSWORD = _secret("smtp-password")
TOKEN = _secret("api-token")
FAILING = {"down", "echo", "mail"}


@pytest.fixture
def robot() -> Iterator[Receiver]:
    with receiver() as running:
        yield running


@pytest.fixture
def echo() -> Iterator[Receiver]:
    """A robot that refuses every message and quotes its URL, key included, in the error."""
    with receiver() as running:
        reply = {"errcode": 310000, "errmsg": f"sign not match for /robot/send?access_token="
                 f"{ECHO_TOKEN}; secret {DING_SECRET} rejected"}  # fmt: skip
        running.answer(500, json.dumps(reply).encode())
        yield running


def test_no_secret_reaches_the_log_metrics_api_or_dead_letters(
    make_pipeline: MakePipeline, robot: Receiver, echo: Receiver, refused: Callable[[], int]
) -> None:
    env = {
        "WECOM_URL": f"{robot.url}/cgi-bin/webhook/send?key={ROBOT_KEY}",
        "DOWN_URL": f"http://127.0.0.1:{refused()}/cgi-bin/webhook/send?key={DOWN_KEY}",
        "ECHO_URL": f"{echo.url}/robot/send?access_token={ECHO_TOKEN}",
        "DING_SECRET": DING_SECRET,
        "HOOK_SECRET": HOOK_SECRET,
        "SMTP_USER": SMTP_USER,
        "SMTP_PASSWORD": SMTP_PASSWORD,
        "GUANCHAO_API_TOKEN": TOKEN,
    }
    secrets = [ROBOT_KEY, DOWN_KEY, ECHO_TOKEN, DING_SECRET, HOOK_SECRET, SMTP_USER,
               SMTP_PASSWORD, TOKEN, *(env[name] for name in ("WECOM_URL", "DOWN_URL",
                                                              "ECHO_URL"))]  # fmt: skip
    hook = {"name": "hook", "kind": "webhook", "url": robot.url + "/hook",
            "secret_env": "HOOK_SECRET"}  # fmt: skip
    alerts: dict[str, Any] = {
        "playbook": str(DEFAULT_PLAYBOOK),
        "tick_seconds": 0.5,
        "attempts": 2,
        "backoff_seconds": 0.2,
        "max_backoff_seconds": 1,
        "sinks": [
            {"name": "robot", "kind": "wecom", "url_env": "WECOM_URL"},
            hook,
            {"name": "down", "kind": "wecom", "url_env": "DOWN_URL"},
            {"name": "echo", "kind": "dingtalk", "url_env": "ECHO_URL",
             "secret_env": "DING_SECRET"},
            {"name": "mail", "kind": "email", "smtp_port": refused(), "to": ["pr@example.com"],
             "smtp_user_env": "SMTP_USER", "smtp_password_env": "SMTP_PASSWORD"},
        ],
    }  # fmt: skip
    pipeline = make_pipeline(1, alerts, env)
    worker = pipeline.start_worker(loglevel="debug")
    pipeline.produce(eleven_negatives())

    # the page went out, the key in its URL, and the failing sinks were tried until
    # their deliveries were dead-lettered
    wait_for(lambda: any(ROBOT_KEY in r.path for r in list(robot.requests)), "the page", 60)
    dead = pipeline.read_messages(
        "alert_dead_letter",
        lambda ms: {json.loads(m.value)["sink"] for m in ms} >= FAILING,
        "a dead letter from every failing sink",
    )
    incident = wait_for(lambda: volume_case(worker, TOKEN), "the negative-volume incident", 30)
    path = f"/incidents/{quote(incident['id'], safe='')}"

    def failed_everywhere() -> dict[str, Any] | None:
        """The dead letters above may be another incident's (the keyword ones open first)."""
        status, case = call(worker, "GET", path, token=TOKEN)
        assert status == 200
        failed = {d["sink"] for d in case["deliveries"] if d["error"]}
        return case if failed >= FAILING else None

    case = wait_for(failed_everywhere, "an error from every failing sink on the incident", 30)
    errors = {d["sink"]: d["error"] for d in case["deliveries"] if d["error"]}
    assert "***" in errors["echo"] and "sign not match" in errors["echo"]  # redacted, not gone
    listed = call(worker, "GET", "/incidents", token=TOKEN)[1]
    metrics = worker.text("/metrics")
    assert 'sink="echo"' in metrics
    health = json.dumps(worker.get("/health"))
    events = pipeline.read("incidents", lambda raws: len(raws) > 0, "the incident events")
    worker.stop()
    log = worker.log.read_text(encoding="utf-8", errors="replace")
    assert "[DEBUG]" in log  # it really ran at debug level
    assert "alert not delivered" in log

    places = {
        "the worker's log": log,
        "/metrics": metrics,
        "/health": health,
        "GET /incidents": json.dumps(listed, ensure_ascii=False),
        "GET /incidents/{id}": json.dumps(case, ensure_ascii=False),
        "the alert dead letters": "\n".join(m.value.decode() + repr(m.headers) for m in dead),
        "the incidents topic": "\n".join(raw.decode() for raw in events),
    }
    found = {
        place: [secret for secret in secrets if secret in text] for place, text in places.items()
    }
    assert not any(found.values()), {place: leaked for place, leaked in found.items() if leaked}
