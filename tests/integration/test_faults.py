"""The broker goes away, workers are killed in quick succession: the worker says so,
stays quiet in its log, comes back, and still counts exactly (issue #10, item 6)."""

from __future__ import annotations

import json
import signal
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from kafka.admin import KafkaAdminClient

from monitor.stream.broker import embedded_broker, free_port
from monitor.stream.ingest import bootstrap_servers

from .conftest import MakePipeline, Pipeline, Worker, wait_for
from .test_stream import comment, opened


def health(worker: Worker) -> tuple[int, dict[str, Any]]:
    url = f"http://127.0.0.1:{worker.web_port}/health"
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status, json.load(response)
    except urllib.error.HTTPError as error:
        return error.code, json.load(error)
    except OSError:
        return 0, {}


class Outage:
    """A broker of the test's own, on a fixed port, that can be stopped and started."""

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.url = f"kafka://127.0.0.1:{self.port}"
        self.workdir = workdir
        self.running: Any = None

    def start(self) -> None:
        self.running = embedded_broker(self.port, log=self.workdir / "tansu.log")
        self.running.__enter__()

    def stop(self) -> None:
        if self.running is not None:
            running, self.running = self.running, None
            running.__exit__(None, None, None)


@pytest.fixture
def outage(tmp_path: Path) -> Iterator[Outage]:
    broker = Outage(tmp_path)
    broker.start()
    yield broker
    broker.stop()


def test_the_broker_goes_away_and_comes_back_empty(
    make_pipeline: MakePipeline, outage: Outage
) -> None:
    pipeline = make_pipeline(1)
    pipeline.broker = outage.url
    config = yaml.safe_load(pipeline.config.read_text(encoding="utf-8"))
    config["stream"]["shutdown_timeout_seconds"] = 5
    pipeline.config.write_text(yaml.safe_dump(config, allow_unicode=True), encoding="utf-8")
    worker = pipeline.start_worker()
    assert health(worker)[0] == 200

    outage.stop()
    before = worker.log.read_text().count("\n")
    _, shown = wait_for(
        lambda: (h := health(worker))[0] == 503 and h, "/health to say the broker is gone", 30
    )
    assert shown["status"] == "broker unreachable" and shown["error"]
    time.sleep(10)
    logged = worker.log.read_text().count("\n") - before
    assert logged < 60, f"{logged} log lines in about 10 s of outage"

    outage.start()  # empty: Tansu keeps its data in memory
    wait_for(lambda: health(worker)[0] == 200, "/health to recover", 60)
    admin = KafkaAdminClient(bootstrap_servers=bootstrap_servers(outage.url))
    try:  # /health answers once the broker does, a moment before the topics are back
        wait_for(lambda: set(pipeline.topics.values()) <= set(admin.list_topics()),
                 "the worker to create its topics again", 30, admin.list_topics)  # fmt: skip
    finally:
        admin.close()
    pipeline.produce([comment(n, minutes=n) for n in range(11)])
    events = pipeline.events(lambda es: opened(es), "an incident after the broker came back")
    assert opened(events)[0]["incident"]["facts"]["negatives"] == 11

    outage.stop()
    wait_for(lambda: health(worker)[0] == 503, "/health to say the broker is gone again", 30)
    worker.process.send_signal(signal.SIGTERM)
    worker.process.wait(timeout=20)  # stops within its shutdown timeout, broker or not
    assert "Traceback" not in worker.log.read_text()


def test_kill_restart_kill_restart_recovers_exactly(make_pipeline: MakePipeline) -> None:
    pipeline: Pipeline = make_pipeline(4)
    brands = ["云朵咖啡", "山海茶饮", "极光咖啡"]
    comments: list[dict[str, Any] | bytes] = [
        comment(n, text=f"{brands[n % 3]}物流太慢了，避雷[怒]", minutes=(n % 3000) / 100)
        for n in range(6_000)
    ]
    first = pipeline.start_worker()
    pipeline.produce(comments[:3_000])
    wait_for(lambda: first.get("/health").get("counted", 0) > 500, "the first worker busy")
    first.kill()
    time.sleep(0.5)
    second = pipeline.start_worker()
    time.sleep(9)
    second.kill()
    third = pipeline.start_worker()
    pipeline.produce(comments[3_000:])
    expected = {brand: 2_000 for brand in brands}
    wait_for(lambda: pipeline.counts() == expected, f"counts {expected}", 180,
             lambda: (pipeline.counts(), third.get("/health")))  # fmt: skip
    time.sleep(15)  # past the killed workers' session timeout: the next rebalance
    assert third.process.poll() is None, third.log.read_text()[-2000:]
    # a rebalance empties the counts until they are rebuilt from the changelog: what
    # matters is that they come back exactly, not a count twice
    wait_for(lambda: pipeline.counts() == expected, f"counts {expected} after the rebalance",
             60, lambda: (pipeline.counts(), third.get("/health")))  # fmt: skip
