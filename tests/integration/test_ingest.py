"""`guanchao ingest` against a real broker (issue #10, item 7): what it says it sent is
what the broker acknowledged, and a comment that never arrived makes it fail."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path

import yaml

from monitor.settings import DEFAULT_CONFIG, TopicNames, load_settings
from monitor.stream.broker import embedded_broker, free_port
from monitor.stream.ingest import ensure_topics, follow_topic
from tests.hostile import hostile

from .conftest import wait_for

SENT = re.compile(r"sent (\d+) comments to (\S+?)(?:, (\d+) failed \((.*)\))?$")


def config_file(tmp_path: Path) -> tuple[Path, str]:
    """A config of its own topics (one partition); the config and the comments topic."""
    name = f"t{uuid.uuid4().hex[:10]}"
    topics = {kind: f"{name}-{kind}" for kind in TopicNames.model_fields}
    document = yaml.safe_load(DEFAULT_CONFIG.read_text(encoding="utf-8"))
    document["sentiment"]["model"] = str(DEFAULT_CONFIG.parent / document["sentiment"]["model"])
    document["stream"] = {"app_id": name, "partitions": 1, "topics": topics}
    config = tmp_path / f"{name}.yaml"
    config.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return config, topics["comments"]


def export(path: Path, count: int) -> Path:
    now = datetime.now(UTC).isoformat()
    with path.open("w", encoding="utf-8") as stream:
        for n in range(count):
            row = {
                "id": f"c{n}",
                "platform": "weibo",
                "text": f"云朵咖啡第{n}杯",
                "created_at": now,
            }
            stream.write(json.dumps(row, ensure_ascii=False) + "\n")
    return path


def ingest(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "monitor", "ingest", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def values_on(
    broker: str, topic: str, enough: Callable[[int], bool] = lambda _: False, quiet: float = 5.0
) -> list[bytes]:
    """Message values on the topic, read until `enough(count)` or nothing new for `quiet`
    seconds (Tansu's end offsets count batches, not records: no use for knowing the end)."""
    seen: list[bytes] = []
    last = [time.monotonic()]
    deadline = time.monotonic() + 90

    def stop() -> bool:
        now = time.monotonic()
        return enough(len(seen)) or now - last[0] > quiet or now > deadline

    for message in follow_topic(broker, topic, stop):
        seen.append(message.value)
        last[0] = time.monotonic()
    return seen


def ids(values: list[bytes]) -> set[str]:
    return {json.loads(value)["id"] for value in values}


def report(stderr: str) -> tuple[int, int, str]:
    """(delivered, failed, reasons) from ingest's one line on stderr."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    found = SENT.search(lines[0])
    assert found, stderr
    return int(found[1]), int(found[3] or 0), found[4] or ""


def test_ingest_counts_what_the_broker_acknowledged_when_it_restarts_mid_way(
    tmp_path: Path,
) -> None:
    """The broker (not the shared one: this one is killed) goes away after some hundred
    comments and comes back empty (memory storage). Ingest is held while it goes, so that
    what the first broker had can be read in full before it is lost."""
    config, topic = config_file(tmp_path)
    source = export(tmp_path / "export.jsonl", 600)
    port = free_port()
    with ExitStack() as first:
        url = first.enter_context(embedded_broker(port, log=tmp_path / "tansu-1.log"))
        process = ingest(str(source), "--broker", url, "--rate", "100", "--timeout", "30",
                         "--config", str(config))  # fmt: skip
        try:
            wait_for(
                lambda: len(values_on(url, topic, lambda n: n >= 100, quiet=1)) >= 100,
                "100 comments on the first broker",
                state=lambda: process.poll(),
            )
            os.kill(process.pid, signal.SIGSTOP)
            time.sleep(1.0)  # requests already sent are answered
            before = ids(values_on(url, topic))
        except BaseException:
            process.kill()
            raise
    assert 100 <= len(before) < 600
    with embedded_broker(port, log=tmp_path / "tansu-2.log") as url:
        # as a worker does when the broker is back: Tansu loses records it acknowledged
        # while it creates a topic on first use, and that is no test of ingest
        ensure_topics(url, load_settings(config))
        os.kill(process.pid, signal.SIGCONT)
        _, stderr = process.communicate(timeout=120)
        after = ids(values_on(url, topic))
    delivered, failed, reasons = report(stderr)
    assert "Traceback" not in stderr
    arrived = before | after
    assert delivered == len(arrived), (delivered, len(before), len(after), stderr)
    assert delivered + failed == 600, stderr
    assert (process.returncode != 0) == (failed > 0), (process.returncode, stderr)
    assert failed > 0 or len(arrived) == 600
    if failed:
        assert process.returncode == 2
        assert reasons


def test_comments_the_broker_never_answered_for_are_failed_and_exit_2(tmp_path: Path) -> None:
    """The broker goes and stays gone: what it acknowledged is sent, the rest failed."""
    config, topic = config_file(tmp_path)
    source = export(tmp_path / "export.jsonl", 300)
    with ExitStack() as running:
        url = running.enter_context(embedded_broker(free_port(), log=tmp_path / "tansu.log"))
        process = ingest(str(source), "--broker", url, "--rate", "100", "--timeout", "15",
                         "--config", str(config))  # fmt: skip
        try:
            wait_for(
                lambda: len(values_on(url, topic, lambda n: n >= 50, quiet=1)) >= 50,
                "50 comments on the broker",
                state=lambda: process.poll(),
            )
            os.kill(process.pid, signal.SIGSTOP)  # held for less than its --timeout
            time.sleep(1.0)
            arrived = ids(values_on(url, topic))
        except BaseException:
            process.kill()
            raise
    os.kill(process.pid, signal.SIGCONT)
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    assert "Traceback" not in stderr
    delivered, failed, reasons = report(stderr)
    # Every comment reported sent is on the broker. One the broker wrote as it went, whose
    # acknowledgement went with it, is reported failed: sent again, counting drops it.
    assert delivered <= len(arrived) <= delivered + failed
    assert delivered + failed == 300
    assert reasons


def test_a_ten_megabyte_comment_is_reported_failed_not_a_traceback(
    broker: str, tmp_path: Path
) -> None:
    config, topic = config_file(tmp_path)
    source = export(tmp_path / "export.jsonl", 3)
    huge = {"id": "huge", "platform": "weibo", "text": "长" * 3_500_000, "created_at": 1763600000}
    with source.open("a", encoding="utf-8") as stream:
        stream.write(json.dumps(huge, ensure_ascii=False) + "\n")
        stream.write(
            '{"id": "c9", "platform": "weibo", "text": "好喝", "created_at": 1763600000}\n'
        )
    assert source.stat().st_size > 10_000_000
    process = ingest(str(source), "--broker", broker, "--config", str(config))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 2, stderr
    assert "Traceback" not in stderr
    delivered, failed, reasons = report(stderr)
    assert (delivered, failed) == (4, 1)
    assert "TooLarge" in reasons
    assert ids(values_on(broker, topic, lambda n: n >= 4)) == {"c0", "c1", "c2", "c9"}


def test_hostile_lines_reach_the_topic_as_they_are(broker: str, tmp_path: Path) -> None:
    """Judging records is the stream's job: ingest passes bad JSON lines on untouched."""
    config, topic = config_file(tmp_path)
    kinds = hostile(datetime.now(UTC))
    lines = [kinds[kind][0] for kind in (
        "nested 10,000 deep", "an integer of 5,000 digits", "Infinity in a count",
        "1e400 in a count", "a lone surrogate in the text", "a lone surrogate in the id",
        "a lone surrogate in a key", "not JSON",
    )]  # fmt: skip
    source = tmp_path / "hostile.jsonl"
    source.write_bytes(b"\n".join(lines) + b"\n")
    process = ingest(str(source), "--broker", broker, "--config", str(config))
    _, stderr = process.communicate(timeout=120)
    assert process.returncode == 0, stderr
    assert report(stderr) == (len(lines), 0, "")
    assert sorted(values_on(broker, topic, lambda n: n >= len(lines))) == sorted(lines)


def test_lines_that_are_not_json_or_not_utf8_reach_the_topic_as_they_are(
    broker: str, tmp_path: Path
) -> None:
    """Not empty messages: the dead letter must show the line the export really had."""
    config, topic = config_file(tmp_path)
    now = datetime.now(UTC).isoformat()
    good = json.dumps({"id": "1", "platform": "weibo", "text": "云朵咖啡不错", "created_at": now},
                      ensure_ascii=False)  # fmt: skip
    csv_lines = [b"id,platform,text,created_at", b"2,weibo,\xe4\xba\x91,2026,extra",
                 "3,weibo,难喝,".encode("gbk")]  # fmt: skip
    sources = {"export.jsonl": [good.encode(), "云朵咖啡太难喝".encode("gbk")],
               "export.csv": csv_lines}  # fmt: skip
    expected = [good.encode(), *sources["export.csv"][1:], sources["export.jsonl"][1]]
    for name, lines in sources.items():
        source = tmp_path / name
        source.write_bytes(b"\n".join(lines) + b"\n")
        process = ingest(str(source), "--broker", broker, "--config", str(config))
        _, stderr = process.communicate(timeout=120)
        assert process.returncode == 0, stderr
    on_topic = values_on(broker, topic, lambda n: n >= len(expected))
    assert sorted(on_topic) == sorted(expected)
