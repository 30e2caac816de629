"""Hostile input against a real worker (issue #10): every poison record reaches the
dead-letter topic with its reason and where it came from, the good ones around it are
counted, no agent crashes, no name the config does not list pages anyone, and no route
serves case data without the token."""

from __future__ import annotations

import json
import re
import tempfile
import urllib.error
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import quote

from kafka import KafkaProducer

from monitor.casework.playbook import DEFAULT_PLAYBOOK
from monitor.settings import load_settings
from monitor.stream.app import build_app
from monitor.stream.ingest import bootstrap_servers
from tests.hostile import hostile
from tests.receivers import Receiver

from .conftest import MakePipeline, Pipeline, Worker, wait_for
from .test_playbook import ENV, TOKEN, alerts_config, call, volume_case
from .test_stream import comment, opened


def dead_letters(pipeline: Pipeline, count: int) -> list[Any]:
    return pipeline.read_messages("dead_letter", lambda ms: len(ms) >= count, f"{count} dead")


def test_every_poison_record_is_dead_lettered_with_its_reason_and_the_stream_goes_on(
    make_pipeline: MakePipeline,
) -> None:
    pipeline = make_pipeline(4)
    worker = pipeline.start_worker()
    kinds = hostile(datetime.now(UTC))
    poison = [record for record, reason in kinds.values() if reason]
    odd_but_fine = [record for record, reason in kinds.values() if reason is None]
    good = [comment(n, minutes=n % 20) for n in range(20)]
    mixed: list[dict[str, Any] | bytes] = []
    for n, record in enumerate(poison):
        mixed += [record, good[n]]
    pipeline.produce([*mixed, *good[len(poison) :], *odd_but_fine])

    dead = dead_letters(pipeline, len(poison))
    reasons = sorted(dict(message.headers)["reason"].decode() for message in dead)
    assert reasons == sorted(reason for _, reason in kinds.values() if reason)
    for message in dead:
        headers = dict(message.headers)
        assert {"partition", "offset", "original_size", "error"} <= set(headers)
    largest = max(dead, key=lambda message: int(dict(message.headers)["original_size"]))
    assert int(dict(largest.headers)["original_size"]) > 1_000_000
    assert dict(largest.headers)["truncated"] == b"true"
    assert largest.value and len(largest.value) < 100_000

    def tallied() -> bool:  # the dead letters are counted once sent, not before
        health = worker.get("/health")
        dead = sum(health.get("dead_lettered", {}).values())
        return health.get("counted", 0) >= 22 and dead == len(poison)

    wait_for(tallied, "the good ones and the dead letters counted",
             state=lambda: worker.get("/health"))  # fmt: skip
    # 20 good, the one of 10^300 likes, and the one whose `brand` had a pipe (its text
    # names 云朵咖啡; the given brand is not in the config, so it adds nothing)
    assert pipeline.counts() == {"云朵咖啡": 22}
    assert "crashed" not in worker.log.read_text() and "Traceback" not in worker.log.read_text()


def test_records_on_the_scored_topic_that_we_did_not_write_are_dead_lettered(
    make_pipeline: MakePipeline,
) -> None:
    pipeline = make_pipeline(1)
    worker = pipeline.start_worker()
    scored = {"id": "s", "platform": "weibo", "brand": "云朵咖啡", "label": "negative",
              "created_at": datetime.now(UTC).isoformat()}  # fmt: skip
    poison = [b"{not json", b"[]", json.dumps(scored).encode(), b"[1]",
              json.dumps([{**scored, "brand": "冒牌"}, {**scored, "label": None}]).encode(),
              json.dumps([{**scored, "keywords": [{"a": 1}]}]).encode(),
              json.dumps([{**scored, "created_at": "soon"}]).encode()]  # fmt: skip
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers(pipeline.broker))
    for raw in poison:
        producer.send(pipeline.topics["scored"], key="云朵咖啡".encode(), value=raw)
    producer.flush()
    producer.close()
    pipeline.produce([comment(n) for n in range(3)])
    reasons = ["not_json", "not_scored", "not_scored", "not_object", "unknown_brand",
               "not_scored", "not_scored", "not_scored"]  # fmt: skip
    dead = dead_letters(pipeline, len(reasons))
    assert sorted(dict(m.headers)["reason"].decode() for m in dead) == sorted(reasons)
    wait_for(lambda: worker.get("/health").get("counted") == 3, "the good ones counted")
    assert "Traceback" not in worker.log.read_text()


def test_a_brand_the_config_does_not_list_is_counted_as_other_and_pages_nobody(
    make_pipeline: MakePipeline,
) -> None:
    pipeline = make_pipeline(4)
    worker = pipeline.start_worker()
    strangers = [comment(n, text="太差了，避雷[怒]", brand=f"牌子{n % 3}") for n in range(30)]
    piped = [comment(100 + n, text="太差了，避雷", brand="山海茶饮|x") for n in range(15)]
    pipeline.produce([*strangers, *piped, *[comment(200 + n, minutes=n) for n in range(11)]])
    events = pipeline.events(lambda es: opened(es), "the configured brand's incident")
    assert {e["incident"]["brand"] for e in events} == {"云朵咖啡"}
    wait_for(lambda: pipeline.counts() == {"other": 45, "云朵咖啡": 11}, "other counted apart")
    assert 'guanchao_mentions_total{brand="other"' in worker.text("/metrics")


PUBLIC = {"/", "/health", "/metrics", "/counts", "/compliance"}
# The console's sign-in form and its CSS and JS: served to anyone, with no case data
OPEN_PAGES = {"/console/sign-in", "/console/static/{name}"}


class _Unfollowed(urllib.request.HTTPRedirectHandler):
    """A redirect is the answer (to the sign-in page), not followed."""

    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


OPENER = urllib.request.build_opener(_Unfollowed)


def routes(pipeline: Pipeline) -> set[tuple[str, str]]:
    """(method, path) of every route the worker's web server registers."""
    app = build_app(load_settings(pipeline.config), pipeline.broker,
                    Path(tempfile.mkdtemp()), 1, env=ENV)  # fmt: skip
    app.web.init_server()
    found = set()
    for route in app.web.web_app.router.routes():
        info = route.resource.get_info() if route.resource else {}
        path = info.get("path") or info.get("formatter") or info.get("prefix", "")
        found.add((route.method, path))
    return found


def fetch(worker: Worker, method: str, path: str) -> tuple[int, str]:
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.web_port}{path}", method=method, data=b"{}"
    )
    try:
        with OPENER.open(request, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def test_no_route_serves_case_data_without_the_token(
    make_pipeline: MakePipeline, hook: Receiver
) -> None:
    pipeline = make_pipeline(1, alerts_config(hook), ENV)
    worker = pipeline.start_worker()
    pipeline.produce([comment(n, minutes=n) for n in range(11)])
    case = wait_for(lambda: volume_case(worker), "an open case", 60)
    shown = call(worker, "GET", f"/incidents/{quote(case['id'], safe='')}")[1]
    phones = re.findall(r"1380000\d{4}", DEFAULT_PLAYBOOK.read_text(encoding="utf-8"))
    secrets = {case["id"], *phones, *(d["sink"] for d in shown["deliveries"] if d["sink"] != "-")}

    registered = routes(pipeline)
    assert ("GET", "/incidents") in registered and not any(
        path.startswith(("/table", "/router", "/graph", "/stats")) for _, path in registered
    )
    for method, path in sorted(registered | {("GET", "/table/cases/"), ("GET", "/router/")}):
        concrete = (
            path.replace("{case_id}", quote(case["id"], safe=""))
            .replace("{action}", "ack")
            .replace("{silence_id}", "x")
            .replace("{name}", "console.css")
        )
        status, body = fetch(worker, method, concrete)
        if path in PUBLIC:
            continue
        refusals = (303, 401, 403, 404, 405) if path.startswith("/console") else (401, 404, 405)
        assert status in refusals or path in OPEN_PAGES, (method, path, status)
        assert not any(secret in body for secret in secrets), (method, path)
    assert call(worker, "GET", "/incidents", token=TOKEN)[0] == 200
