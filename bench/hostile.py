"""Hostile input against one worker on the embedded broker: is anything lost, and how
long does the stream stall?

    .venv/bin/python -m bench.hostile [--per-kind 20] [--good 2000]

Every kind of poison record in `tests/hostile.py` (`--per-kind` of each) is mixed with
`--good` ordinary comments and produced in one shuffled stream. Printed: records sent,
dead-lettered (read back from the dead-letter topic), counted (scored for a brand, or
named no brand), and lost (sent − dead-lettered − counted): lost must be 0. The longest
stall is the longest time the worker received nothing while records were still waiting,
polled every 20 ms from /health.
"""

from __future__ import annotations

import argparse
import random
import tempfile
import threading
import time
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from kafka import KafkaProducer

from bench.stream import Deployment
from monitor.stream.broker import embedded_broker
from monitor.stream.ingest import bootstrap_servers, follow_topic
from tests.hostile import comment, hostile

BRANDS = ["云朵咖啡", "山海茶饮"]


def records(per_kind: int, good: int) -> tuple[list[bytes], Counter[str]]:
    now = datetime.now(UTC)
    made: list[bytes] = []
    expected: Counter[str] = Counter()
    for n in range(per_kind):
        for record, reason in hostile(now, n).values():
            made.append(record)
            expected[reason or "fine"] += 1
    for n in range(good):
        made.append(comment(now, id=f"good{n}", text=f"{BRANDS[n % 2]}的新品还不错"))
        expected["fine"] += 1
    random.Random(7).shuffle(made)
    return made, expected


def watch_stalls(deployment: Deployment, sent: int, done: threading.Event) -> float:
    """The longest time `received` stood still while records were still to come."""
    longest, last_change, last = 0.0, time.perf_counter(), -1
    while not done.is_set():
        received = deployment.health().get("received", last)
        now = time.perf_counter()
        if received != last:
            last, last_change = received, now
        elif received < sent:
            longest = max(longest, now - last_change)
        if received >= sent:
            break
        time.sleep(0.02)
    return longest


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--per-kind", type=int, default=20)
    parser.add_argument("--good", type=int, default=2000)
    args = parser.parse_args()
    made, expected = records(args.per_kind, args.good)
    poison = sum(count for reason, count in expected.items() if reason != "fine")
    with tempfile.TemporaryDirectory() as workdir, embedded_broker() as broker:
        deployment = Deployment(broker, 4, Path(workdir), BRANDS)
        try:
            producer = KafkaProducer(bootstrap_servers=bootstrap_servers(broker), linger_ms=5,
                                     max_request_size=8_000_000)  # fmt: skip
            done = threading.Event()
            stall: list[float] = []
            watcher = threading.Thread(
                target=lambda: stall.append(watch_stalls(deployment, len(made), done))
            )
            watcher.start()
            for record in made:
                producer.send(deployment.topics["comments"], record)
            producer.flush()
            producer.close()
            deadline = time.monotonic() + 120
            while deployment.health().get("received", 0) < len(made):
                if time.monotonic() > deadline:
                    break
                time.sleep(0.1)
            done.set()
            watcher.join()
            enough = lambda: len(dead) >= poison or time.monotonic() > deadline  # noqa: E731
            dead = []
            for message in follow_topic(broker, deployment.topics["dead_letter"], enough):
                dead.append(dict(message.headers)["reason"].decode())
            health = deployment.health()
        finally:
            deployment.stop()
    counted = health.get("scored", 0) + health.get("unattributed", 0)
    lost = len(made) - len(dead) - counted
    kinds = hostile(datetime.now(UTC)).values()
    poison_kinds = sum(1 for _, reason in kinds if reason)
    print(f"sent {len(made)} records: {poison} poison of {poison_kinds} kinds "
          f"({args.per_kind} each; {len(expected) - 1} reasons), "
          f"{expected['fine']} fine")  # fmt: skip
    print(f"dead-lettered {len(dead)} (on the topic; /health says "
          f"{sum(health.get('dead_lettered', {}).values())})")  # fmt: skip
    print(f"counted {counted} (scored {health.get('scored', 0)}, "
          f"no brand {health.get('unattributed', 0)})")  # fmt: skip
    print(f"lost {lost}")
    wrong = Counter(dead) - Counter({k: v for k, v in expected.items() if k != "fine"})
    if wrong:
        print(f"dead-lettered for an unexpected reason: {dict(wrong)}")
    print(f"longest stall: {max(stall, default=0.0):.2f}s")


if __name__ == "__main__":
    main()
