import csv
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from monitor.cli.main import app

runner = CliRunner()


def run(*args: str, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def scored_rows(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


@pytest.mark.parametrize("verb", [[], ["score"], ["check"], ["analyze"]])
def test_every_verb_has_help(verb: list[str]) -> None:
    code, stdout, _ = run(*verb, "--help")
    assert code == 0
    assert "Usage" in stdout


def test_score_plain_lines_from_stdin() -> None:
    code, stdout, _ = run("score", "-", stdin="物流太慢了，避雷\n虽然贵但是好吃\n")
    assert code == 0
    rows = scored_rows(stdout)
    assert [row["label"] for row in rows] == ["negative", "positive"]
    assert rows[0]["text"] == "物流太慢了，避雷"
    assert 0 <= rows[0]["sentiment"] < 0.28  # type: ignore[operator]
    assert rows[0]["evidence"]
    assert rows[0]["confidence"] == pytest.approx(1 - rows[0]["sentiment"], abs=1e-3)  # type: ignore[operator]


def test_score_csv_keeps_the_other_columns(tmp_path: Path) -> None:
    path = tmp_path / "comments.csv"
    with path.open("w", encoding="utf-8", newline="") as stream:
        writer = csv.writer(stream)
        writer.writerow(["id", "text"])
        writer.writerow(["a1", "客服态度太差了"])
        writer.writerow(["a2", "包装很用心，点赞"])
    code, stdout, _ = run("score", str(path))
    assert code == 0
    assert [(row["id"], row["label"]) for row in scored_rows(stdout)] == [
        ("a1", "negative"),
        ("a2", "positive"),
    ]


def test_score_skips_bad_jsonl_rows_with_a_count(tmp_path: Path) -> None:
    path = tmp_path / "comments.jsonl"
    lines = ['{"text": "好评"}', "{broken", '{"title": "no text"}', '{"text": "差评"}']
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, stdout, stderr = run("score", str(path))
    assert code == 0
    assert len(scored_rows(stdout)) == 2
    assert "skipped 2" in stderr
    assert "not valid JSON: 1" in stderr


def test_score_skips_a_ten_megabyte_line(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_text("物流太慢了\n" + "长" * 10_000_000 + "\n好喝\n", encoding="utf-8")
    code, stdout, stderr = run("score", str(path))
    assert code == 0
    assert len(scored_rows(stdout)) == 2
    assert "text too long: 1" in stderr


@pytest.mark.parametrize("verb", ["score", "check", "analyze"])
@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "is empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00", "binary"),
        ("差评，物流太慢了".encode("gbk"), "not utf-8"),
    ],
)
def test_unreadable_files_are_one_line_and_exit_2(
    tmp_path: Path, verb: str, content: bytes, message: str
) -> None:
    path = tmp_path / "input.txt"
    path.write_bytes(content)
    code, stdout, stderr = run(verb, str(path))
    assert code == 2
    assert message in stderr.lower()
    assert "Traceback" not in stderr + stdout
    assert len(stderr.strip().splitlines()) == 1


def test_gbk_files_are_read_when_the_encoding_is_given(tmp_path: Path) -> None:
    path = tmp_path / "excel.txt"
    path.write_bytes("差评，物流太慢了\n".encode("gbk"))
    code, stdout, _ = run("score", str(path), "--encoding", "gbk")
    assert code == 0
    assert scored_rows(stdout)[0]["text"] == "差评，物流太慢了"


@pytest.mark.parametrize("verb", ["score", "analyze"])
def test_a_csv_without_the_needed_column_is_exit_2(tmp_path: Path, verb: str) -> None:
    path = tmp_path / "comments.csv"
    path.write_text("id,content\n1,物流太慢\n", encoding="utf-8")
    code, _, stderr = run(verb, str(path))
    assert code == 2
    assert "no " in stderr and "column" in stderr


def test_a_missing_file_is_exit_2() -> None:
    code, _, stderr = run("check", "/nonexistent/copy.txt")
    assert code == 2
    assert "does not exist" in stderr


def test_check_exit_codes_gate_a_publishing_pipeline() -> None:
    assert run("check", "-", stdin="精选咖啡豆，第一次购买立减10元")[0] == 0
    assert run("check", "-", stdin="全网销量第一的咖啡")[0] == 1
    assert run("check", "-", stdin="想要优惠加V信")[0] == 0  # a warning, not a block


def test_check_text_output_shows_context_basis_and_suggestion() -> None:
    code, stdout, _ = run("check", "-", stdin="第一行没问题\n这是國家級工艺")
    assert code == 1
    assert "BLOCK 2:3" in stdout
    assert "國家級" in stdout
    assert "第九条" in stdout
    assert "建议" in stdout


def test_check_json_output_is_for_machines() -> None:
    code, stdout, _ = run("check", "-", "--format", "json", stdin="最.佳口感")
    assert code == 1
    document = json.loads(stdout)
    assert document["blocked"] is True
    assert document["hits"][0]["text"] == "最.佳"
    assert (document["hits"][0]["start"], document["hits"][0]["end"]) == (0, 3)


def test_check_refuses_huge_copy(tmp_path: Path) -> None:
    path = tmp_path / "huge.txt"
    path.write_text("好" * 2_000_000, encoding="utf-8")
    code, _, stderr = run("check", str(path))
    assert code == 2
    assert "over 1 MB" in stderr


def test_bad_usage_is_exit_2() -> None:
    assert run("check", "-", "--format", "yaml", stdin="x")[0] == 2
    assert run("score", "--no-such-flag")[0] == 2


def test_a_broken_config_is_exit_2_naming_the_line(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("brands:\n  - aliases: [x]\n", encoding="utf-8")
    code, _, stderr = run("score", "-", "--config", str(config), stdin="好")
    assert code == 2
    assert "bad.yaml:2" in stderr


def test_analyze_the_bundled_sample_finds_the_logistics_burst(tmp_path: Path) -> None:
    report = tmp_path / "report.html"
    code, stdout, _ = run("analyze", "--report", str(report))
    assert code == 0
    lines = {line.split("│")[1].strip(): line for line in stdout.splitlines() if "│" in line}
    assert "11-20 16:" in lines["云朵咖啡"]
    assert "never" in lines["极光咖啡"]
    html = report.read_text(encoding="utf-8")
    assert "<svg" in html and "云朵咖啡" in html and "物流" in html


def test_analyze_counts_bad_records_and_goes_on(tmp_path: Path) -> None:
    path = tmp_path / "export.jsonl"
    good = {"id": "1", "platform": "weibo", "text": "云朵咖啡太差了", "created_at": 1763600000}
    rows = [json.dumps(good, ensure_ascii=False), "{broken", json.dumps({**good, "text": ""})]
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    code, stdout, stderr = run("analyze", str(path))
    assert code == 0
    assert "云朵咖啡" in stdout
    assert "skipped 2" in stderr


def test_train_writes_a_model_the_config_can_use(tmp_path: Path) -> None:
    data = tmp_path / "labelled.csv"
    rows = ["text,label"]
    for index in range(200):
        rows.append(
            f"第{index}杯咖啡很好喝，推荐,positive"
            if index % 2
            else f"第{index}单物流太慢，退款,negative"
        )
    rows.append("没有标签的行,maybe")
    data.write_text("\n".join(rows) + "\n", encoding="utf-8")
    model = tmp_path / "brand.json.gz"
    code, stdout, stderr = run("train", str(data), "--out", str(model))
    assert code == 0, stderr
    assert "unknown label: 1" in stderr
    assert "negative_below" in stdout
    config = tmp_path / "brand.yaml"
    config.write_text(f"sentiment:\n  model: {model.name}\n", encoding="utf-8")
    code, stdout, _ = run("score", "-", "--config", str(config), stdin="物流太慢，要退款\n")
    assert code == 0
    assert scored_rows(stdout)[0]["label"] == "negative"


def test_score_with_a_corrupt_model_is_exit_2_naming_the_file(tmp_path: Path) -> None:
    (tmp_path / "broken.json.gz").write_bytes(b"\x1f\x8b garbage")
    config = tmp_path / "c.yaml"
    config.write_text("sentiment:\n  model: broken.json.gz\n", encoding="utf-8")
    code, _, stderr = run("score", "-", "--config", str(config), stdin="好\n")
    assert code == 2
    assert "broken.json.gz" in stderr


def test_ingest_without_a_broker_is_exit_2(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("GUANCHAO_BROKER", raising=False)
    code, _, stderr = run("ingest", "-", stdin="{}\n")
    assert code == 2
    assert "--broker" in stderr


def test_ingest_to_an_unreachable_broker_is_exit_2() -> None:
    code, _, stderr = run("ingest", "-", "--broker", "kafka://127.0.0.1:1", stdin="{}\n")
    assert code == 2
    assert "cannot reach the broker" in stderr


def test_worker_with_a_broken_config_is_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("stream:\n  partitions: 0\n", encoding="utf-8")
    code, _, stderr = run("worker", "--config", str(config), "--broker", "kafka://127.0.0.1:1")
    assert code == 2
    assert "bad.yaml:2: stream.partitions" in stderr
