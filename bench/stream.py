"""Stream throughput, alert latency and restart time of one worker on the embedded broker.

    .venv/bin/python -m bench.stream [--comments 20000] [--latency-seconds 40] [--rate 1000]
        [--recovery-comments 100000 1000000]

1. Sustained comments/s, end to end: N comments produced as fast as kafka-python can,
   timed from the first send until the worker has counted all of them; with 1 and with 4
   partitions, and with 4 partitions again with copy-paste wave detection off (`waves:
   enabled: false`). The comments are two texts repeated from 500 accounts: for wave
   detection the worst case, every negative joins one group per brand. Beside it, what
   `guanchao score` does on the same comments (JSONL in and out, start-up excluded).
2. Alert latency at a steady 1,000 comments/s: every second one more brand gets ten
   negative comments, then (half a second later) the eleventh that crosses its threshold;
   latency is from sending that eleventh comment to its `opened` event on the incidents
   topic (detection), and to the alert arriving at a local webhook receiver (the page).
   p50 and p99 over the brands.
3. Restart: seconds until a worker serves again with an empty state and with 100,000 and
   1,000,000 mentions in it, and its memory then (`bench.recovery`, which says how).
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from kafka import KafkaProducer

from bench.recovery import RECOVERY_COMMENTS, recovery
from bench.sentiment import score_command_seconds
from monitor.settings import DEFAULT_CONFIG, TopicNames
from monitor.stream.broker import embedded_broker, free_port
from monitor.stream.ingest import bootstrap_servers, follow_topic
from tests.receivers import Receiver, receiver

NEGATIVE = "物流太慢了，客服也不理人，避雷[怒]"
POSITIVE = "拿铁很好喝，推荐[赞]"
THROUGHPUT_BRANDS = [f"品牌{n}" for n in range(20)]
BACKGROUND_BRANDS = [f"背景{n}" for n in range(10)]


def alarm_brand(second: int) -> str:
    return f"告警{second}"


class Deployment:
    """A worker process with its own topics on the shared broker."""

    def __init__(
        self,
        broker: str,
        partitions: int,
        workdir: Path,
        brands: list[str],
        webhook: str | None = None,
        waves: bool = True,
    ) -> None:
        self.broker = broker
        name = f"bench{partitions}x{'w' if waves else 'n'}{int(time.time())}"
        self.topics = {kind: f"{name}-{kind}" for kind in TopicNames.model_fields}
        document = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
        document["sentiment"]["model"] = str(DEFAULT_CONFIG.parent / document["sentiment"]["model"])
        document["brands"] = [{"name": brand} for brand in brands]  # only listed brands page
        document["waves"] = {"enabled": waves}
        document["stream"] = {"app_id": name, "partitions": partitions, "topics": self.topics}
        sinks = [{"name": "hook", "kind": "webhook", "url": webhook}] if webhook else []
        document["alerts"] = {"sinks": sinks}
        config = workdir / f"{name}.yaml"
        config.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
        self.port = free_port()
        with (workdir / f"{name}.log").open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "monitor", "worker", "--broker", broker,
                 "--web-port", str(self.port), "--config", str(config)],
                stdout=log, stderr=subprocess.STDOUT,
            )  # fmt: skip
        while not self.health().get("ready"):
            time.sleep(0.2)
        self.producer = KafkaProducer(bootstrap_servers=bootstrap_servers(broker), linger_ms=2)

    def health(self) -> dict[str, Any]:
        try:
            url = f"http://127.0.0.1:{self.port}/health"
            with urllib.request.urlopen(url, timeout=2) as response:
                return json.load(response)  # type: ignore[no-any-return]
        except OSError:
            return {}

    def send(self, number: int, brand: str, text: str, author: str = "") -> None:
        record = comment(number, brand, text, author)
        self.producer.send(self.topics["comments"], json.dumps(record).encode())

    def stop(self) -> None:
        self.producer.close()
        self.process.terminate()
        self.process.wait(timeout=30)


def comment(number: int, brand: str, text: str, author: str = "") -> dict[str, str]:
    return {"id": f"n{number}", "platform": "weibo", "brand": brand, "text": text,
            "created_at": datetime.now(UTC).isoformat(), "author": author}  # fmt: skip


def throughput_comment(number: int) -> tuple[str, str, str]:
    """(brand, text, author) of the throughput run's comment `number`."""
    brand = THROUGHPUT_BRANDS[number % len(THROUGHPUT_BRANDS)]
    return brand, NEGATIVE if number % 5 == 0 else POSITIVE, f"user{number % 500}"


def throughput(deployment: Deployment, comments: int) -> float:
    started = time.perf_counter()
    for number in range(comments):
        deployment.send(number, *throughput_comment(number))
    deployment.producer.flush()
    sent = time.perf_counter() - started
    while deployment.health().get("counted", 0) < comments:
        time.sleep(0.05)
    elapsed = time.perf_counter() - started
    print(f"    produced in {sent:.1f}s, counted all after {elapsed:.1f}s")
    return comments / elapsed


def score_command(comments: int, workdir: Path, repeat: int = 3) -> float:
    """Comments/s of `guanchao score` on the throughput run's comments, JSONL in and out:
    the fastest of `repeat` runs, less the fastest on a file of the first comment alone
    (its start-up), as `bench/sentiment.py --cli` measures it."""
    lines = [json.dumps(comment(number, *throughput_comment(number)), ensure_ascii=False)
             for number in range(comments)]  # fmt: skip
    whole, first, out = workdir / "comments.jsonl", workdir / "first.jsonl", workdir / "out"
    whole.write_text("\n".join(lines) + "\n", encoding="utf-8")
    first.write_text(lines[0] + "\n", encoding="utf-8")
    startup = min(score_command_seconds(first, out) for _ in range(repeat))
    full = min(score_command_seconds(whole, out) for _ in range(repeat))
    if full <= startup:
        raise SystemExit(f"{comments} comments score faster than start-up varies: use more")
    return comments / (full - startup)


def latency(
    deployment: Deployment, hook: Receiver, seconds: int, rate: int = 1000
) -> tuple[list[float], list[float]]:
    """(detection latencies, page latencies) in seconds, one per brand."""
    opened_at: dict[str, float] = {}
    done = threading.Event()

    def watch() -> None:
        for message in follow_topic(deployment.broker, deployment.topics["incidents"], done.is_set):
            event = json.loads(message.value)
            if event["event"] == "opened" and event["incident"]["cause"] == "negative_volume":
                opened_at.setdefault(event["incident"]["brand"], time.perf_counter())

    watcher = threading.Thread(target=watch, daemon=True)
    watcher.start()
    crossing_sent: dict[str, float] = {}
    started = time.perf_counter()
    number = 1_000_000
    for second in range(seconds):
        brand = alarm_brand(second)
        for tick in range(rate):
            due = started + second + tick / rate
            while time.perf_counter() < due:
                time.sleep(0.0005)
            number += 1
            if tick == 0:
                for extra in range(10):
                    deployment.send(number * 100 + extra, brand, NEGATIVE)
            if tick == rate // 2:
                deployment.send(number, brand, NEGATIVE)
                deployment.producer.flush()
                crossing_sent[brand] = time.perf_counter()
            else:
                deployment.send(number, BACKGROUND_BRANDS[tick % 10], POSITIVE)
    deadline = time.perf_counter() + 20
    paged: dict[str, float] = {}
    while len(paged) < len(crossing_sent) and time.perf_counter() < deadline:
        time.sleep(0.1)
        for request in list(hook.requests):
            key = request.json()["key"]
            if ":negative_volume:" in key and key.endswith("|opened"):
                paged.setdefault(key.split(":")[0], request.at)
    done.set()
    return (
        [opened_at[b] - crossing_sent[b] for b in crossing_sent if b in opened_at],
        [paged[b] - crossing_sent[b] for b in crossing_sent if b in paged],
    )


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--comments", type=int, default=20_000)
    parser.add_argument("--latency-seconds", type=int, default=40)
    parser.add_argument("--rate", type=int, default=1000, help="comments/s in the latency run")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--recovery-comments", type=int, nargs="*", default=RECOVERY_COMMENTS,
        help="mentions in state for the restart runs (none: skip them)",
    )  # fmt: skip
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as workdir, embedded_broker() as broker:
        runs = () if args.skip_throughput else ((1, True), (4, True), (4, False))
        rates = {}
        for partitions, waves in runs:
            deployment = Deployment(broker, partitions, Path(workdir), THROUGHPUT_BRANDS,
                                    waves=waves)  # fmt: skip
            try:
                print(f"{partitions} partition(s), waves {'on' if waves else 'off'}: "
                      f"{args.comments} comments")  # fmt: skip
                rates[partitions, waves] = throughput(deployment, args.comments)
                print(f"    sustained: {rates[partitions, waves]:,.0f} comments/s end to end")
            finally:
                deployment.stop()
        if runs:
            scored = score_command(args.comments, Path(workdir))
            print(f"guanchao score on the same comments: {scored:,.0f} comments/s (the stream "
                  f"with 4 partitions did {rates[4, True] / scored:.0%} of it)")  # fmt: skip
        with receiver() as hook:
            brands = [*BACKGROUND_BRANDS, *(alarm_brand(s) for s in range(args.latency_seconds))]
            deployment = Deployment(broker, 4, Path(workdir), brands, hook.url)
            try:
                detected, paged = latency(deployment, hook, args.latency_seconds, args.rate)
            finally:
                deployment.stop()
    print(f"at {args.rate:,} comments/s, 4 partitions, {args.latency_seconds} threshold crossings:")
    for what, samples in (("detection (opened event)", detected), ("page (at the webhook)", paged)):
        print(f"    {what}: {len(samples)} samples, p50 {statistics.median(samples):.3f}s, "
              f"p99 {percentile(samples, 0.99):.3f}s, max {max(samples):.3f}s")  # fmt: skip
    if args.recovery_comments:
        recovery(args.recovery_comments)


if __name__ == "__main__":
    main()
