"""A real Prometheus, started here with the project's scrape config and rules, scrapes a
worker fed through the real broker; then every PromQL expression of the dashboards and
the rules runs against it."""

from __future__ import annotations

import json
import math
import re
import shutil
import subprocess
import time
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
import yaml

from monitor.metrics.dashboards import OUT as DASHBOARDS
from monitor.metrics.dashboards import queries
from monitor.stream.broker import free_port

from .conftest import MakePipeline, Worker, wait_for
from .test_playbook import ENV, call, volume_case
from .test_stream import comment

DEPLOY = Path(__file__).resolve().parents[2] / "deploy"
RULES = DEPLOY / "prometheus" / "rules" / "guanchao.yml"
SET = "云朵咖啡"  # the set of 云朵咖啡 and its competitors 山海茶饮, 极光咖啡
MENTIONS = {"云朵咖啡": 14, "山海茶饮": 7, "极光咖啡": 4}
PLATFORMS = ("weibo", "douyin", "xiaohongshu")


class Prometheus:
    def __init__(self, url: str) -> None:
        self.url = url

    def query(self, expr: str) -> list[dict[str, Any]]:
        address = f"{self.url}/api/v1/query?query={urllib.parse.quote(expr)}"
        with urllib.request.urlopen(address, timeout=10) as response:
            answer = json.load(response)
        assert answer["status"] == "success", f"{expr}: {answer}"
        return answer["data"]["result"]  # type: ignore[no-any-return]


@contextmanager
def running_prometheus(workdir: Path, worker: Worker) -> Iterator[Prometheus]:
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("prometheus is not installed: scripts/test installs it")
    config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
    # a scrape slower than its timeout (the default: the interval) marks every series stale
    # and sets `up` to 0, and a loaded machine can take more than 1 s to answer
    config["global"] = {
        "scrape_interval": "2s",
        "scrape_timeout": "2s",
        "evaluation_interval": "1s",
    }
    config["rule_files"] = [str(RULES)]
    config.pop("alerting")
    config["scrape_configs"][0]["static_configs"] = [{"targets": [f"127.0.0.1:{worker.web_port}"]}]
    (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
    port = free_port()
    log = (workdir / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [binary, f"--config.file={workdir / 'prometheus.yml'}",
         f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{port}"],
        stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    try:
        wait_for(lambda: _ready(url), "Prometheus to start", 60)
        yield Prometheus(url)
    finally:
        process.terminate()
        process.wait(20)
        log.close()


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url + "/-/ready", timeout=1):
            return True
    except OSError:
        return False


@pytest.fixture
def monitored(
    make_pipeline: MakePipeline, tmp_path: Path, refused: Callable[[], int]
) -> Iterator[tuple[Worker, Prometheus]]:
    closed = f"http://127.0.0.1:{refused()}"  # a sink that fails: alerts_total{failed}
    alerts = {"tick_seconds": 0.5, "attempts": 2, "backoff_seconds": 0.2,
              "sinks": [{"name": "hook", "kind": "webhook", "url": closed}]}  # fmt: skip
    pipeline = make_pipeline(1, alerts, ENV)
    worker = pipeline.start_worker()
    with running_prometheus(tmp_path, worker) as prometheus:
        wait_for(lambda: prometheus.query(f'guanchao_set_mentions_total{{set="{SET}"}}'),
                 "the first scrape (every series at zero)", 60)  # fmt: skip
        produced = [
            comment(n, f"{brand}太难喝了，退款[怒]" if brand == "云朵咖啡" else f"{brand}还行",
                    minutes=n / 10, brand=brand, platform=PLATFORMS[n % 3])
            for n, brand in enumerate(b for b, count in MENTIONS.items() for _ in range(count))
        ]  # fmt: skip
        pipeline.produce([*produced, *(b"{broken" for _ in range(5))])
        wait_for(lambda: worker.get("/health").get("counted") == len(produced), "counting")
        case = wait_for(lambda: volume_case(worker), "the negative-volume case")
        path = f"/incidents/{urllib.parse.quote(case['id'], safe='')}/ack"
        assert call(worker, "POST", path, {"who": "张伟"})[0] == 200
        assert call(worker, "POST", "/compliance", {"text": "全网第一的咖啡"}, token=None)[0] == 200
        wait_for(lambda: worker.get("/health")["alerts"].get("hook/failed"), "a failed alert")
        time.sleep(5)  # two scrapes and a few rule evaluations after the last change
        yield worker, prometheus


def substituted(expr: str) -> str:
    for every in ("$brand", "$platform", "$shop"):
        expr = expr.replace(every, ".*")
    return expr.replace("$set", SET)


def test_every_dashboard_query_returns_series(monitored: tuple[Worker, Prometheus]) -> None:
    _, prometheus = monitored
    for board in sorted(DASHBOARDS.glob("*.json")):
        for expr in queries(json.loads(board.read_text(encoding="utf-8"))):
            variable = re.fullmatch(r"label_values\((.*), (\w+)\)", expr)
            if variable:  # a template variable: its selector must have the label
                series = prometheus.query(substituted(variable.group(1)))
                assert any(variable.group(2) in s["metric"] for s in series), (board.name, expr)
            else:
                assert prometheus.query(substituted(expr)), f"{board.name}: no series for {expr}"


def test_every_rule_evaluates_and_the_alerts_fire_when_they_should(
    monitored: tuple[Worker, Prometheus],
) -> None:
    _, prometheus = monitored
    firing = {"GuanchaoDeadLettersSurging", "GuanchaoAlertSinkFailing"}  # this test's doing
    groups = yaml.safe_load(RULES.read_text(encoding="utf-8"))["groups"]
    for rule in (rule for group in groups for rule in group["rules"]):
        result = prometheus.query(rule["expr"])
        if "record" in rule:
            assert result, f"recording rule {rule['record']} has no series"
            assert prometheus.query(rule["record"]), f"{rule['record']} was not recorded"
        else:
            assert bool(result) == (rule["alert"] in firing), rule["alert"]


def test_share_of_voice_sums_to_one_and_matches_the_comments(
    monitored: tuple[Worker, Prometheus],
) -> None:
    _, prometheus = monitored
    shares = {s["metric"]["brand"]: float(s["value"][1])
              for s in prometheus.query(f'guanchao:share_of_voice:1h{{set="{SET}"}}')}  # fmt: skip
    total = sum(MENTIONS.values())
    assert shares == pytest.approx({b: n / total for b, n in MENTIONS.items()}, abs=1e-9)
    assert sum(shares.values()) == pytest.approx(1, abs=1e-9)

    by_platform: Counter[str] = Counter()
    for series in prometheus.query(f'guanchao:share_of_voice_by_platform:1h{{set="{SET}"}}'):
        by_platform[series["metric"]["platform"]] += float(series["value"][1])
    assert set(PLATFORMS) <= set(by_platform), by_platform  # no series would pass the loop
    for platform, total_share in by_platform.items():  # a platform with no mentions: 0/0
        assert (
            total_share == pytest.approx(1, abs=1e-9)
            if platform in PLATFORMS
            else (math.isnan(total_share))
        ), platform

    negative = prometheus.query(
        f'guanchao:share_of_voice_by_label:1h{{set="{SET}", label="negative"}}'
    )
    assert {s["metric"]["brand"]: float(s["value"][1]) for s in negative} == pytest.approx(
        {"云朵咖啡": 1.0, "山海茶饮": 0.0, "极光咖啡": 0.0}, abs=1e-9
    )  # only 云朵咖啡's comments were complaints
