"""Hostile requests to the worker's web server (issue #10, item 4): bodies too deep, too
large or not valid Unicode are a 4xx with a JSON message, never a 500; copy full of terms
is checked in linear time, off the event loop, with a bounded answer; and /health keeps
answering while the checks run."""

from __future__ import annotations

import asyncio
import http.client
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from typing import Any

import faust
import pytest
from aiohttp.test_utils import TestClient, TestServer
from faust.web import Request, Response, View

from monitor.text.compliance import ComplianceChecker, Verdict, load_terms
from monitor.web.api import MAX_BODY_BYTES, MAX_CHECKS_WAITING, MAX_HITS, register_compliance

from .conftest import MakePipeline, Worker
from .test_playbook import ENV, TOKEN

# The request that froze a worker for 41 s and came back as 30 MB: 700 KB of JSON.
FROZE = json.dumps({"text": "国 家 级 " * 33333}).encode()
DEEP = b"[" * 100_000 + b"]" * 100_000
DEEP_TEXT = b'{"text": ' + DEEP + b"}"
SURROGATE = b'{"text": "\\ud800"}'


def post(worker: Worker, path: str, body: bytes, token: str | None = None) -> tuple[int, Any]:
    """Status and JSON answer; an answer that is not JSON fails the test where it is."""
    request = urllib.request.Request(
        f"http://127.0.0.1:{worker.web_port}{path}", method="POST", data=body,
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )  # fmt: skip
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def post_chunked(worker: Worker, path: str, chunks: Iterator[bytes]) -> tuple[int, Any]:
    """POST without a Content-Length: the server only learns the size by reading."""
    connection = http.client.HTTPConnection("127.0.0.1", worker.web_port, timeout=30)
    try:
        connection.request("POST", path, body=chunks, encode_chunked=True)
        response = connection.getresponse()
        return response.status, json.loads(response.read())
    finally:
        connection.close()


@pytest.fixture
def worker(make_pipeline: MakePipeline) -> Worker:
    return make_pipeline(1, env=ENV).start_worker()


def test_deep_bodies_and_lone_surrogates_are_400s_with_a_message(worker: Worker) -> None:
    hostile = [
        ("/compliance", DEEP, "too_deep"),
        ("/compliance", DEEP_TEXT, "too_deep"),
        ("/compliance", SURROGATE, "bad_text"),
        ("/incidents/nope/ack", DEEP, "too_deep"),
        ("/incidents/nope/false-alarm", b'{"who": ' + DEEP + b"}", "too_deep"),
        ("/incidents/nope/ack", b'{"who": "\\ud800"}', "bad_text"),
        ("/silences", DEEP, "too_deep"),
        ("/silences", b'{"who": "\\udfff", "minutes": 5}', "bad_text"),
        ("/silences", b'{"who": "me", "minutes": 1e400}', "bad_number"),
    ]
    for path, body, reason in hostile:
        status, answer = post(worker, path, body, TOKEN)
        assert status == 400, (path, body[:30], status, answer)
        assert reason in answer["error"], (path, answer)
    assert "Traceback" not in worker.log.read_text()


def test_a_body_over_the_limit_is_a_413_with_a_message(worker: Worker) -> None:
    too_big = b'{"text": "' + b"a" * MAX_BODY_BYTES + b'"}'
    for path, token in (("/compliance", None), ("/silences", TOKEN), ("/incidents/x/ack", TOKEN)):
        status, answer = post(worker, path, too_big, token)
        assert status == 413 and "limit" in answer["error"], (path, status, answer)
    megabyte = (b"a" * 65536 for _ in range(MAX_BODY_BYTES // 65536 + 1))
    status, answer = post_chunked(worker, "/compliance", megabyte)
    assert status == 413 and "limit" in answer["error"], answer
    assert post(worker, "/compliance", json.dumps({"text": "全网第一"}).encode())[0] == 200
    assert worker.get("/health")["status"] == "ok"


def test_copy_full_of_terms_gets_a_bounded_answer_and_health_answers_meanwhile(
    worker: Worker,
) -> None:
    answers: list[tuple[int, Any]] = []

    def send_several() -> None:
        for _ in range(4):
            answers.append(post(worker, "/compliance", FROZE))

    senders = [threading.Thread(target=send_several) for _ in range(2)]
    for sender in senders:
        sender.start()
    waits: list[float] = []
    while any(sender.is_alive() for sender in senders):
        asked = time.monotonic()
        health = worker.get("/health")  # {} on a timeout (2 s) or a refused connection
        waits.append(time.monotonic() - asked)
        assert health.get("status") == "ok", f"/health did not answer after {waits[-1]:.1f}s"
        time.sleep(0.05)
    assert len(waits) >= 3 and max(waits) < 1.0, waits

    assert len(answers) == 8
    for status, answer in answers:
        assert status == 200, answer
        assert answer["blocked"] and answer["result"] == "block"
        assert (answer["hits_total"], len(answer["hits"]), answer["truncated"]) == (
            33333, MAX_HITS, True,
        )  # fmt: skip
        assert answer["hits"][1]["text"] == "国 家 级" and answer["hits"][1]["start"] == 6
    assert worker.get("/health")["compliance"]["block"] == 8


class HeldChecker(ComplianceChecker):
    """A checker that holds each check until released, and notes the thread it ran on."""

    def __init__(self) -> None:
        super().__init__(*load_terms())
        self.release = threading.Event()
        self.threads: list[str] = []

    def check(self, text: str, limit: int | None = None) -> Verdict:
        self.threads.append(threading.current_thread().name)
        self.release.wait(20)
        return super().check(text, limit)


def test_the_check_runs_off_the_event_loop_and_the_queue_is_bounded() -> None:
    """In process, with the check held: the loop still serves another page meanwhile, and
    the check past MAX_CHECKS_WAITING is refused with a 503 rather than queued."""
    checker = HeldChecker()
    counted: list[str] = []
    app = faust.App("web-hostile", broker="memory://", web_port=6066)
    register_compliance(app, checker, counted.append)

    @app.page("/ping")
    class Ping(View):
        async def get(self, request: Request) -> Response:
            return self.json({"pong": threading.current_thread().name})

    async def exercise() -> None:
        app.web.init_server()
        async with TestClient(TestServer(app.web.web_app)) as client:
            held = [
                asyncio.ensure_future(client.post("/compliance", json={"text": "国家级"}))
                for _ in range(MAX_CHECKS_WAITING)
            ]
            for _ in range(500):
                if checker.threads:
                    break
                await asyncio.sleep(0.01)
            assert checker.threads, "the first check never started"
            await asyncio.sleep(0.5)  # the other held requests reach the queue meanwhile
            ping = await asyncio.wait_for(client.get("/ping"), 5)
            loop_thread = (await ping.json())["pong"]
            refused = await asyncio.wait_for(client.post("/compliance", json={"text": "x"}), 5)
            assert refused.status == 503 and "try again" in (await refused.json())["error"]
            checker.release.set()
            for response in await asyncio.gather(*held):
                assert response.status == 200 and (await response.json())["result"] == "block"
            assert loop_thread not in checker.threads
            assert counted == ["block"] * MAX_CHECKS_WAITING

    asyncio.run(exercise())
