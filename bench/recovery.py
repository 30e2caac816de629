"""How long a restarted worker takes to serve again with N comments in its state.

    .venv/bin/python -m bench.recovery [--comments 100000 1000000] [--brands 50]

For each N: the mentions table's changelog is filled with N counted mentions of the last
hour (what a worker leaves behind after counting N comments; 1 in 5 negative, with a
text long enough for copy-paste waves), written straight to the changelog topic on the
embedded broker. Then a worker starts on it, and we time, from the process start:
`/health` answering, `/health` saying ready (tables recovered, counts rebuilt), and
`/counts` showing all N mentions — serving again. Its resident memory
is read then. An empty state is timed the same way first, as the floor.
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import yaml
from kafka import KafkaProducer
from kafka.admin import KafkaAdminClient, NewTopic

from monitor.detect.counting import Mention, minute_of
from monitor.detect.stages import brand_partition
from monitor.settings import DEFAULT_CONFIG, TopicNames
from monitor.stream.broker import embedded_broker, free_port
from monitor.stream.ingest import bootstrap_servers

PARTITIONS = 4
COMPLAINTS = ["物流太慢了等了{n}天", "客服{n}次都不回消息", "第{n}次喝到变质的了", "退款拖了{n}周"]
READY_SECONDS = 600
RECOVERY_COMMENTS = [100_000, 1_000_000]


def mentions(count: int, brands: list[str], now_minute: int) -> list[Mention]:
    rng = random.Random(count)
    made = []
    for number in range(count):
        negative = number % 5 == 0
        text = rng.choice(COMPLAINTS).format(n=number % 97) + "，再也不买了" if negative else ""
        made.append(
            Mention(
                key=f"{brands[number % len(brands)]}|weibo:r{number}",
                brand=brands[number % len(brands)],
                minute=now_minute - rng.randrange(55),
                negative=negative,
                platform="weibo",
                followers=rng.randrange(1000),
                engagement=rng.randrange(50),
                keywords=("物流",) if negative else (),
                excerpt=text[:80],
                author=f"user{number}",
                sketch=text.replace("，", ""),
            )
        )
    return made


def fill_changelog(broker: str, topic: str, state: list[Mention]) -> float:
    """Seconds taken to write the mentions as Faust's changelog records (JSON key and
    value, in the brand's partition)."""
    servers = bootstrap_servers(broker)
    admin = KafkaAdminClient(bootstrap_servers=servers)
    admin.create_topics(
        [NewTopic(topic, PARTITIONS, 1, topic_configs={"cleanup.policy": "compact"})]
    )
    admin.close()
    producer = KafkaProducer(bootstrap_servers=servers, linger_ms=20, batch_size=256 * 1024)
    started = time.perf_counter()
    for mention in state:
        producer.send(
            topic,
            key=json.dumps(mention.key, ensure_ascii=False).encode(),
            value=json.dumps(mention.to_json(), ensure_ascii=False).encode(),
            partition=brand_partition(mention.brand, PARTITIONS),
        )
    producer.flush()
    producer.close()
    return time.perf_counter() - started


def get(port: int, path: str) -> Any:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as response:
            return json.load(response)
    except (OSError, ValueError):
        return None


def rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def restart(broker: str, workdir: Path, app_id: str, brands: list[str], expected: int) -> None:
    """Start a worker on the app's state and print when it serves again."""
    document = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    document["sentiment"]["model"] = str(DEFAULT_CONFIG.parent / document["sentiment"]["model"])
    document["brands"] = [{"name": brand} for brand in brands]
    topics = {kind: f"{app_id}-{kind}" for kind in TopicNames.model_fields}
    document["stream"] = {"app_id": app_id, "partitions": PARTITIONS, "topics": topics}
    config = workdir / f"{app_id}.yaml"
    config.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    port = free_port()
    started = time.perf_counter()
    with (workdir / f"{app_id}.log").open("wb") as log:
        worker = subprocess.Popen(
            [sys.executable, "-m", "monitor", "worker", "--broker", broker,
             "--web-port", str(port), "--config", str(config)],
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
    marks: dict[str, float] = {}
    try:
        while time.perf_counter() - started < READY_SECONDS and "serving" not in marks:
            health = get(port, "/health")
            if health is not None:
                marks.setdefault("web", time.perf_counter() - started)
                if health.get("ready"):
                    marks.setdefault("ready", time.perf_counter() - started)
                    counts = get(port, "/counts") or {}
                    kept = sum(brand["mentions_kept"] for brand in counts.values())
                    if kept >= expected:
                        marks["serving"] = time.perf_counter() - started
            time.sleep(0.2)
        memory = rss_mib(worker.pid) if worker.poll() is None else float("nan")
        if "serving" not in marks:
            tail = (workdir / f"{app_id}.log").read_text(errors="replace").splitlines()[-5:]
            print("    the worker's last log lines:", *tail, sep="\n      ")
    finally:
        worker.terminate()
        worker.wait(timeout=60)
    shown = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in marks.items())
    print(
        f"    {expected:>9,} mentions: {shown or 'never served'}; resident memory {memory:,.0f} MiB"
    )


def recovery(counts: list[int], brand_count: int = 50) -> None:
    """Print the restart of a worker on an empty state and on each of `counts` mentions."""
    brands = [f"品牌{n}" for n in range(brand_count)]
    now_minute = minute_of(datetime.now(UTC))
    print(f"a worker restarted on its state ({PARTITIONS} partitions, {len(brands)} brands), "
          "seconds from process start:")  # fmt: skip
    with tempfile.TemporaryDirectory() as workdir, embedded_broker() as broker:
        restart(broker, Path(workdir), f"recovery0x{int(time.time())}", brands, 0)
        for count in counts:
            app_id = f"recovery{count}x{int(time.time())}"
            state = mentions(count, brands, now_minute)
            written = fill_changelog(broker, f"{app_id}-mentions-changelog", state)
            print(f"    ({count:,} changelog records written in {written:.1f}s)")
            del state
            restart(broker, Path(workdir), app_id, brands, count)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--comments", type=int, nargs="+", default=RECOVERY_COMMENTS)
    parser.add_argument("--brands", type=int, default=50)
    args = parser.parse_args()
    recovery(args.comments, args.brands)


if __name__ == "__main__":
    main()
