"""A real broker (the embedded Tansu) and real worker processes, on free loopback ports."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import pytest
import yaml
from kafka import KafkaProducer

from monitor.settings import DEFAULT_CONFIG, TopicNames
from monitor.stream.broker import embedded_broker, free_port
from monitor.stream.ingest import bootstrap_servers, follow_topic
from tests.receivers import Receiver, receiver, refused_port

WAIT_SECONDS = 90.0


@pytest.fixture(scope="session")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with embedded_broker(log=tmp_path_factory.mktemp("broker") / "tansu.log") as url:
        yield url


def wait_for(
    condition: Callable[[], Any],
    what: str,
    timeout: float = WAIT_SECONDS,
    state: Callable[[], Any] = lambda: None,
) -> Any:
    """Poll until `condition()` is truthy; on timeout, say what `state()` was instead."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = condition()
        if result:
            return result
        time.sleep(0.25)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}; got {state()}")


@dataclass
class Worker:
    process: subprocess.Popen[bytes]
    web_port: int
    log: Path

    def get(self, path: str) -> dict[str, Any]:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.web_port}{path}", timeout=2) as r:
                return json.load(r)  # type: ignore[no-any-return]
        except OSError:
            return {}

    def text(self, path: str) -> str:
        url = f"http://127.0.0.1:{self.web_port}{path}"
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.read().decode()  # type: ignore[no-any-return]

    def kill(self) -> None:
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


@dataclass
class Pipeline:
    """One isolated Guanchao deployment on the shared broker: its own topics and group."""

    broker: str
    config: Path
    topics: dict[str, str]
    workdir: Path
    env: dict[str, str] = field(default_factory=dict)
    workers: list[Worker] = field(default_factory=list)

    def start_worker(self, loglevel: str = "info", clock_ahead: float = 0.0) -> Worker:
        port = free_port()
        log = self.workdir / f"worker-{len(self.workers)}.log"
        with log.open("wb") as output:  # the worker keeps its own descriptor
            process = subprocess.Popen(
                [sys.executable, "-m", "monitor", "worker", "--broker", self.broker,
                 "--web-port", str(port), "--config", str(self.config), "--loglevel", loglevel,
                 "--clock-ahead", str(clock_ahead)],
                stdout=output, stderr=subprocess.STDOUT, env={**os.environ, **self.env},
            )  # fmt: skip
        worker = Worker(process, port, log)
        self.workers.append(worker)
        wait_for(lambda: worker.get("/health").get("ready"), "the worker to be ready")
        return worker

    def produce(self, records: list[dict[str, Any] | bytes]) -> None:
        producer = KafkaProducer(bootstrap_servers=bootstrap_servers(self.broker), linger_ms=5,
                                 max_request_size=8_000_000)  # fmt: skip  # hostile records
        for item in records:
            raw = item if isinstance(item, bytes) else json.dumps(item, ensure_ascii=False).encode()
            producer.send(self.topics["comments"], value=raw)
        producer.flush()
        producer.close()

    def read_messages(
        self, topic: str, enough: Callable[[list[Any]], bool], what: str
    ) -> list[Any]:
        """Messages of a topic (with headers), read until `enough` holds for them."""
        seen: list[Any] = []
        deadline = time.monotonic() + WAIT_SECONDS
        done = lambda: enough(seen) or time.monotonic() > deadline  # noqa: E731
        seen.extend(follow_topic(self.broker, self.topics[topic], done))
        assert enough(seen), f"timed out waiting for {what}; got {len(seen)} messages"
        return seen

    def read(self, topic: str, enough: Callable[[list[bytes]], bool], what: str) -> list[bytes]:
        """Message values of a topic, read until `enough` holds for them."""
        messages = self.read_messages(topic, lambda ms: enough([m.value for m in ms]), what)
        return [message.value for message in messages]

    def events(
        self, enough: Callable[[list[dict[str, Any]]], bool], what: str, playbook: bool = False
    ) -> list[dict[str, Any]]:
        """The detector's events on the incidents topic, or with `playbook` the cases'."""

        def wanted(raws: list[bytes]) -> list[dict[str, Any]]:
            documents = [json.loads(raw) for raw in raws]
            return [d for d in documents if (d["event"] == "case") == playbook]

        return wanted(self.read("incidents", lambda raws: enough(wanted(raws)), what))

    def counts(self) -> dict[str, int]:
        """Mentions kept per brand, summed over every live worker."""
        total: dict[str, int] = {}
        for worker in self.workers:
            if worker.process.poll() is None:
                for brand, numbers in worker.get("/counts").items():
                    total[brand] = total.get(brand, 0) + numbers["mentions_kept"]
        return total


class MakePipeline(Protocol):
    def __call__(
        self,
        partitions: int,
        alerts: dict[str, Any] | None = None,
        env: dict[str, str] | None = None,
    ) -> Pipeline: ...


@pytest.fixture
def hook() -> Iterator[Receiver]:
    """A webhook receiver that alerts can be sent to."""
    with receiver() as running:
        yield running


@pytest.fixture
def refused() -> Iterator[Callable[[], int]]:
    """Ports where nothing listens, refusing every connection until the test ends, as
    many as the test asks for (`refused()` where it would have said `free_port()`)."""
    with ExitStack() as held:
        yield lambda: held.enter_context(refused_port())


@pytest.fixture(params=[1, 4], ids=["1-partition", "4-partitions"])
def partitions(request: pytest.FixtureRequest) -> int:
    return int(request.param)


@pytest.fixture
def make_pipeline(broker: str, tmp_path: Path) -> Iterator[MakePipeline]:
    made: list[Pipeline] = []

    def make(
        partitions: int, alerts: dict[str, Any] | None = None, env: dict[str, str] | None = None
    ) -> Pipeline:
        """`alerts` replaces the config's alerts section; `env` is added to the workers'."""
        name = f"t{uuid.uuid4().hex[:10]}"
        topics = {kind: f"{name}-{kind}" for kind in TopicNames.model_fields}
        document = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
        document["sentiment"]["model"] = str(DEFAULT_CONFIG.parent / document["sentiment"]["model"])
        document["stream"] = {"app_id": name, "partitions": partitions, "topics": topics,
                              "rebalance_timeout_seconds": 3}  # fmt: skip
        if alerts is not None:
            document["alerts"] = alerts
        config = tmp_path / f"{name}.yaml"
        config.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        pipeline = Pipeline(broker, config, topics, tmp_path, env or {})
        made.append(pipeline)
        return pipeline

    yield make
    for pipeline in made:
        for worker in pipeline.workers:
            worker.stop()
