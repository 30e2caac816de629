"""`guanchao qa score` and `guanchao qa report` through typer's runner, on small exports
generated here."""

from __future__ import annotations

import csv
import json
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from typer.testing import CliRunner

from monitor.cli.main import app
from monitor.qa.sampling import is_sampled
from monitor.settings import QASettings

runner = CliRunner()
START = datetime(2026, 11, 24, 10, 0, tzinfo=ZoneInfo("Asia/Shanghai"))  # 2026-W48
PHONE = "13812345678"


def run(*args: str, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def conversation(n: int) -> dict[str, Any]:
    """Every third conversation goes badly (dismissive, off-platform, a phone number)."""
    bad = n % 3 == 0
    at = START + timedelta(hours=n)
    reply = f"等着吧，加我微信 {PHONE}" if bad else "您好，已经帮您催促仓库，预计明天发出"
    ending = "还是没解决，算了" if bad else "好的，谢谢"
    turns = [("customer", "你好，请问什么时候发货？", 0), ("agent", reply, 30),
             ("customer", ending, 90)]  # fmt: skip
    return {
        "id": f"TB{n:06d}",
        "channel": "taobao",
        "shop": "云朵咖啡旗舰店",
        "agent_id": f"agent-{n % 4}",
        "turns": [
            {"role": role, "text": text, "time": (at + timedelta(seconds=s)).isoformat()}
            for role, text, s in turns
        ],
    }


def export(tmp_path: Path, count: int = 24, extra: str = "") -> Path:
    path = tmp_path / "conversations.jsonl"
    lines = [json.dumps(conversation(n), ensure_ascii=False) for n in range(count)]
    path.write_text("\n".join(lines) + "\n" + extra, encoding="utf-8")
    return path


def test_score_all_prints_each_conversation_with_its_deductions(tmp_path: Path) -> None:
    code, stdout, stderr = run("qa", "score", str(export(tmp_path)), "--all")
    assert code == 0
    lines = stdout.splitlines()
    assert sum(line.startswith(("PASS", "FAIL")) for line in lines) == 24
    assert any(line.startswith("FAIL") and "TB000000" in line for line in lines)
    assert "off_platform" in stdout and "[电话]" in stdout and PHONE not in stdout
    assert "24 conversation(s), 24 scored, 8 below the pass mark" in stderr


def test_score_json_lines_without_all_are_the_sample(tmp_path: Path) -> None:
    ids = [f"TB{n:06d}" for n in range(200)]
    expected = [i for i in ids if is_sampled(i, "云朵咖啡旗舰店", QASettings())]
    code, stdout, _ = run("qa", "score", str(export(tmp_path, 200)), "--format", "json")
    assert code == 0
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert [row["conversation_id"] for row in rows] == expected and expected
    assert PHONE not in stdout
    for row in rows:
        assert row["sampled"] and {"score", "passed", "deductions", "turns"} <= row.keys()


def test_score_csv_with_one_turn_per_row(tmp_path: Path) -> None:
    path = tmp_path / "turns.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "channel", "shop", "agent_id", "role", "text", "time"])
        for n in range(3):
            record = conversation(n)
            for turn in record["turns"]:
                writer.writerow([record["id"], "jd", record["shop"], record["agent_id"],
                                 turn["role"], turn["text"], turn["time"]])  # fmt: skip
        writer.writerow(["TB000009", "jd", "店", "a", "robot", "?", START.isoformat()])
    code, stdout, stderr = run("qa", "score", str(path), "--all", "--format", "json")
    assert code == 0
    rows = [json.loads(line) for line in stdout.splitlines()]
    assert [(row["conversation_id"], len(row["turns"])) for row in rows] == [
        ("TB000000", 3),
        ("TB000001", 3),
        ("TB000002", 3),
    ]
    assert "skipped 1 (bad_field: 1)" in stderr


def test_bad_rows_are_skipped_and_counted(tmp_path: Path) -> None:
    extra = '{"id": "x", "turns": []}\nnot json\n{"id": "\\ud800"}\n[1]\n'
    code, _, stderr = run("qa", "score", str(export(tmp_path, 3, extra)), "--all")
    assert code == 0
    assert "3 conversation(s), 3 scored" in stderr and "skipped 4" in stderr
    assert "missing_field: 1" in stderr and "not valid JSON: 1" in stderr


def test_hostile_files_end_with_one_line_and_exit_2(tmp_path: Path) -> None:
    binary = tmp_path / "x.jsonl"
    binary.write_bytes(b"\x00\xff" * 100)
    nothing_usable = tmp_path / "bad.jsonl"
    nothing_usable.write_text('{"id": 1}\n' + "[" * 10_000 + "\n", encoding="utf-8")
    for args in (
        ("qa", "score", str(binary)),
        ("qa", "score", str(nothing_usable)),
        ("qa", "score", str(tmp_path / "missing.jsonl")),
        ("qa", "score", str(tmp_path)),
        ("qa", "score", str(binary), "--format", "yaml"),
        ("qa", "report", str(binary), "--week", "2026-W48"),
        ("qa", "report", str(export(tmp_path)), "--week", "next week"),
    ):
        code, stdout, stderr = run(*args)
        assert code == 2, args
        assert stdout == "" and stderr.count("\n") <= 2 and "error:" in stderr, (args, stderr)
        assert "Traceback" not in stderr


def test_report_markdown_and_self_contained_html(tmp_path: Path) -> None:
    page = tmp_path / "week.html"
    code, stdout, stderr = run(
        "qa", "report", str(export(tmp_path)), "--week", "2026-W48", "--all", "--html", str(page)
    )
    assert code == 0, stderr
    assert stdout.startswith("# 客服质检周报 2026-W48")
    assert "| agent-0 |" in stdout and "回炉培训" in stdout and "TB000000" in stdout
    html = page.read_text(encoding="utf-8")
    assert (
        "<svg" in html
        and "<script" not in html
        and "http" not in html.replace("http://www.w3.org/2000/svg", "")
    )
    assert PHONE not in stdout + html
    assert "report written to" in stderr


def test_a_week_without_conversations_is_an_empty_report(tmp_path: Path) -> None:
    code, stdout, _ = run("qa", "report", str(export(tmp_path)), "--week", "2025-W01", "--all")
    assert code == 0 and "0 个抽检会话" in stdout
