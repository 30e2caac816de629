"""The on-call person's side, on a real broker with real worker processes: the page at a
real webhook receiver, acknowledging through the API, and a reminder that fell due while
the worker was down."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yaml
from typer.testing import CliRunner

from monitor.casework.playbook import DEFAULT_PLAYBOOK, load_playbook
from monitor.cli.main import app
from tests.receivers import Receiver

from .conftest import MakePipeline, Worker, wait_for
from .test_stream import comment

TOKEN = "test-token-4f1c"
SECRET = "webhook-secret"
ENV = {"GUANCHAO_API_TOKEN": TOKEN, "HOOK_SECRET": SECRET}


def alerts_config(hook: Receiver, playbook: Path | None = None) -> dict[str, Any]:
    return {
        "playbook": str(playbook or DEFAULT_PLAYBOOK),
        "tick_seconds": 0.5,
        "sinks": [
            {"name": "hook", "kind": "webhook", "url": hook.url, "secret_env": "HOOK_SECRET"}
        ],
    }


def titles(hook: Receiver) -> list[str]:
    return [request.json()["title"] for request in list(hook.requests)]


def call(
    worker: Worker, method: str, path: str, body: Any = None, token: str | None = TOKEN
) -> tuple[int, Any]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.web_port}{path}",
        method=method,
        data=None
        if body is None
        else (body if isinstance(body, bytes) else json.dumps(body).encode()),
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    try:
        with urllib.request.urlopen(request, timeout=5) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)


def volume_case(worker: Worker, token: str = TOKEN) -> dict[str, Any] | None:
    listed = call(worker, "GET", "/incidents", token=token)[1]["incidents"]
    return next((i for i in listed if i["cause"] == "negative_volume"), None)


def all_sent(worker: Worker) -> bool:
    """Every delivery of every case on the worker is marked sent (nothing in flight)."""
    cases = call(worker, "GET", "/incidents")[1]["incidents"]
    shown = [call(worker, "GET", f"/incidents/{quote(c['id'], safe='')}")[1] for c in cases]
    deliveries = [d for case in shown for d in case["deliveries"] if d["sink"] != "-"]
    return bool(deliveries) and all(d["state"] == "sent" for d in deliveries)


def eleven_negatives() -> list[dict[str, Any] | bytes]:
    return [comment(n, minutes=n) for n in range(11)]


def test_an_incident_pages_the_webhook_and_is_acknowledged_through_the_api(
    make_pipeline: MakePipeline, hook: Receiver, tmp_path: Path
) -> None:
    pipeline = make_pipeline(1, alerts_config(hook), ENV)
    worker = pipeline.start_worker()
    before = datetime.now(UTC)
    pipeline.produce(eleven_negatives())

    wait_for(lambda: any("新事件" in t for t in titles(hook)), "the page", 60, lambda: titles(hook))
    page = hook.requests[0]
    signature = hmac.new(SECRET.encode(), page.body, hashlib.sha256).hexdigest()
    assert page.headers["X-Guanchao-Signature"] == f"sha256={signature}"
    assert "【关注】云朵咖啡" in page.json()["title"]
    body = page.json()["markdown"]
    # whoever was on duty when the page went out: a shift may have changed since
    rotation = load_playbook().rotation
    on_duty = {p.name for t in (before, datetime.now(UTC)) if (p := rotation.on_duty(t))}
    assert "首次回应" in body and any(name in body for name in on_duty)
    assert "guanchao incidents ack" in body

    assert call(worker, "GET", "/incidents?state=open")[0] == 200
    incident = wait_for(lambda: volume_case(worker), "the negative-volume incident", 30)
    path = f"/incidents/{quote(incident['id'], safe='')}"

    assert call(worker, "POST", path + "/ack", {"who": "张伟"}, token=None)[0] == 401
    assert call(worker, "POST", path + "/ack", {"who": "张伟"}, token="wrong")[0] == 401
    assert call(worker, "POST", path + "/ack", b"{not json")[0] == 400
    assert call(worker, "POST", path + "/ack", {"who": ""})[0] == 400
    assert call(worker, "POST", path + "/dance", {"who": "张伟"})[0] == 400
    assert call(worker, "POST", path + "/resolve", {"who": "张伟"})[0] == 409
    assert call(worker, "POST", "/incidents/nope/ack", {"who": "张伟"})[0] == 404
    assert call(worker, "POST", path + "/ack", {"who": "张伟", "note": "x" * 5000})[0] == 400

    status, acked = call(worker, "POST", path + "/ack", {"who": "张伟", "note": "正在核实"})
    assert status == 200 and acked["state"] == "acknowledged"
    assert next(d for d in acked["deadlines"] if d["deadline"] == "response")["met"]
    wait_for(lambda: any("已确认" in t for t in titles(hook)), "the acknowledgement", 30)

    status, shown = call(worker, "GET", path)
    assert [entry["kind"] for entry in shown["timeline"]] == ["opened", "acknowledged"]
    assert shown["timeline"][1]["who"] == "张伟" and shown["timeline"][1]["note"] == "正在核实"
    # marked sent once the worker has read the receiver's answer, a moment after it arrived
    wait_for(lambda: {d["state"] for d in call(worker, "GET", path)[1]["deliveries"]} == {"sent"},
             "every delivery of the case marked sent", 10)  # fmt: skip

    events = pipeline.events(
        lambda es: any(e["step"] == "acknowledged" for e in es), "the case event", playbook=True
    )
    steps = [e["step"] for e in events if e["case"]["id"] == incident["id"]]
    assert steps == ["opened", "acknowledged"]

    cli = CliRunner()
    env = {"GUANCHAO_API": f"http://127.0.0.1:{worker.web_port}", "GUANCHAO_API_TOKEN": TOKEN}
    listed_cli = cli.invoke(app, ["incidents", "list", "--state", "acknowledged"], env=env)
    assert listed_cli.exit_code == 0 and "acknowledged" in listed_cli.output
    resolved = cli.invoke(app, ["incidents", "resolve", incident["id"], "--who", "王敏"], env=env)
    assert resolved.exit_code == 0 and "resolved" in resolved.output
    again = cli.invoke(app, ["incidents", "resolve", incident["id"], "--who", "王敏"], env=env)
    assert again.exit_code == 2 and "409" in again.output
    html = tmp_path / "review.html"
    review = cli.invoke(app, ["incidents", "report", incident["id"], "--html", str(html)], env=env)
    assert review.exit_code == 0
    assert "| response |" in review.output and "met," in review.output
    assert "改进清单" in review.output and "resolved" in review.output
    assert "<polyline" in html.read_text(encoding="utf-8")
    no_token = cli.invoke(app, ["incidents", "list"], env={**env, "GUANCHAO_API_TOKEN": ""})
    assert no_token.exit_code == 2 and "GUANCHAO_API_TOKEN" in no_token.output


def test_a_drill_is_detected_paged_and_marked_but_not_counted_as_the_brand(
    make_pipeline: MakePipeline, hook: Receiver
) -> None:
    pipeline = make_pipeline(1, alerts_config(hook), ENV)
    worker = pipeline.start_worker()
    env = {"GUANCHAO_API": f"http://127.0.0.1:{worker.web_port}", "GUANCHAO_API_TOKEN": TOKEN,
           "GUANCHAO_BROKER": pipeline.broker, "GUANCHAO_CONFIG": str(pipeline.config)}  # fmt: skip
    cli = CliRunner()
    run = cli.invoke(app, ["drill", "--brand", "云朵咖啡", "--wait", "60"], env=env)
    assert run.exit_code == 0, run.output
    assert "detected 演练·云朵咖啡:" in run.output and "paged" in run.output
    assert all("【演练 DRILL】" in title for title in titles(hook))
    assert "云朵咖啡" not in worker.get("/counts")  # the brand's own numbers are untouched
    report = cli.invoke(app, ["drill", "report"], env=env)
    assert report.exit_code == 0 and "演练·云朵咖啡" in report.output


def test_a_silence_mutes_a_brand_until_it_is_expired(
    make_pipeline: MakePipeline, hook: Receiver
) -> None:
    pipeline = make_pipeline(1, alerts_config(hook), ENV)
    worker = pipeline.start_worker()
    bad = {"brand": "云朵咖啡", "minutes": "soon", "who": "王敏"}
    assert call(worker, "POST", "/silences", bad)[0] == 400
    status, silence = call(worker, "POST", "/silences", {**bad, "minutes": 60})
    assert status == 201
    pipeline.produce(eleven_negatives())
    # The volume case, not a keyword case that opened beside it: those are grouped into
    # the brand's earliest case, so their own notices stay unposted with or without a silence.
    incident = wait_for(lambda: volume_case(worker), "the incident", 60)
    path = f"/incidents/{quote(incident['id'], safe='')}"
    _, shown = call(worker, "GET", path)
    assert [d["muted_by"] for d in shown["deliveries"]] == [f"silence {silence['id']}"]
    time.sleep(2)
    assert hook.requests == []

    status, ended = call(worker, "DELETE", f"/silences/{silence['id']}")
    assert status == 200 and ended["ends_at"] < silence["ends_at"]
    status, _ = call(worker, "POST", path + "/false-alarm", {"who": "王敏", "note": "演示数据"})
    assert status == 200
    wait_for(lambda: any("误报" in t for t in titles(hook)), "the notice after the silence", 30,
             lambda: call(worker, "GET", path)[1]["deliveries"])  # fmt: skip


def test_a_reminder_due_while_the_worker_was_down_is_sent_once_after_restart(
    make_pipeline: MakePipeline, hook: Receiver, tmp_path: Path
) -> None:
    playbook = yaml.safe_load(DEFAULT_PLAYBOOK.read_text(encoding="utf-8"))
    short = {"response_minutes": 1, "statement_minutes": 2, "solution_minutes": 3}
    playbook["levels"] = {level: short for level in ("watch", "warning", "crisis")}
    playbook["reminders"] = {"at_fraction": [0.5], "minutes_before": []}
    playbook["ack_minutes"] = 30  # no pages in this test's few minutes
    path = tmp_path / "playbook.yaml"
    path.write_text(yaml.safe_dump(playbook, allow_unicode=True), encoding="utf-8")
    pipeline = make_pipeline(1, alerts_config(hook, path), ENV)
    first = pipeline.start_worker()
    pipeline.produce(eleven_negatives())

    wait_for(lambda: titles(hook), "the page", 60)
    wait_for(lambda: all_sent(first), "every page marked sent", 30)
    time.sleep(1)  # and that mark on the broker: nothing in flight when the worker dies
    first.kill()
    # the reminder falls due at 30 s, while no worker runs: the next one, its clock 35 s
    # on (rather than this test waiting for them), must send it once
    pipeline.start_worker(clock_ahead=35)

    def sent() -> dict[str, list[str]]:
        """Per incident, the steps that reached the receiver."""
        steps: dict[str, list[str]] = {}
        for request in list(hook.requests):
            case_id, step = request.json()["key"].split("|")
            steps.setdefault(case_id, []).append(":".join(step.split(":")[:2]))
        return steps

    wait_for(lambda: (s := sent()) and all("missed:response" in steps for steps in s.values()),
             "the missed response of every case paged", 90, sent)  # fmt: skip
    time.sleep(2)  # for a second copy of any step, were one to come
    for steps in sent().values():
        assert {"opened", "remind:response", "missed:response"} <= set(steps)
        assert len(steps) == len(set(steps)), f"a step was sent twice: {steps}"


def test_a_silence_added_on_one_worker_mutes_the_brand_on_the_other(
    make_pipeline: MakePipeline, hook: Receiver
) -> None:
    """Silences are in a global table: whichever worker a person adds one on, the worker
    that owns the brand's cases mutes them (it once learned of it only at restart)."""
    pipeline = make_pipeline(4, alerts_config(hook), ENV)
    workers = [pipeline.start_worker(), pipeline.start_worker()]
    pipeline.produce([comment(99, "云朵咖啡的拿铁很好喝")])
    owner = wait_for(lambda: next((w for w in workers if "云朵咖啡" in w.get("/counts")), None),
                     "the worker that counts 云朵咖啡", 90)  # fmt: skip
    other = workers[1 - workers.index(owner)]
    status, silence = call(other, "POST", "/silences",
                           {"brand": "云朵咖啡", "minutes": 60, "who": "王敏"})  # fmt: skip
    assert status == 201

    def listed() -> bool:
        return silence["id"] in {s["id"] for s in call(owner, "GET", "/silences")[1]["silences"]}

    wait_for(listed, "the silence on the worker that owns the brand", 30)
    pipeline.produce(eleven_negatives())
    incidents = wait_for(lambda: call(owner, "GET", "/incidents")[1]["incidents"],
                         "the incident on its owner", 60)  # fmt: skip
    _, shown = call(owner, "GET", f"/incidents/{quote(incidents[0]['id'], safe='')}")
    assert [d["muted_by"] for d in shown["deliveries"]] == [f"silence {silence['id']}"]
    assert hook.requests == []
