import csv
import json
import logging
import socket
from collections.abc import Callable, Iterator
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from monitor import strictjson
from monitor.cli.main import app
from monitor.redaction import uninstall_redaction
from monitor.stream.broker import free_port
from monitor.stream.lograte import RepeatLimit
from monitor.text.sentiment import Scorer
from tests.hostile import hostile

runner = CliRunner()
SAMPLE = Path(__file__).parents[2] / "monitor" / "samples" / "comments.jsonl"
CORPUS = Path(__file__).parents[1] / "data" / "corpus.txt"


def run(*args: str, stdin: str | bytes | None = None) -> tuple[int, str, str]:
    result = runner.invoke(app, list(args), input=stdin)
    return result.exit_code, result.stdout, result.stderr


def scored_rows(stdout: str) -> list[dict[str, object]]:
    return [json.loads(line) for line in stdout.splitlines()]


def verbs(command: Any, path: tuple[str, ...] = ()) -> list[list[str]]:
    """Every command of the CLI, subcommands included, read from the app itself."""
    found = [list(path)]
    for name, sub in getattr(command, "commands", {}).items():
        found += verbs(sub, (*path, name))
    return found


ALL_VERBS = verbs(typer.main.get_command(app))


def test_the_verbs_are_all_found() -> None:
    assert {" ".join(v) for v in ALL_VERBS} >= {"score", "worker", "incidents ack", "drill report"}


@pytest.mark.parametrize("verb", ALL_VERBS, ids=lambda verb: " ".join(verb) or "guanchao")
def test_every_verb_has_help(verb: list[str]) -> None:
    code, stdout, _ = run(*verb, "--help")
    assert code == 0
    assert "Usage" in stdout and len(stdout.splitlines()) > 3


def test_score_plain_lines_from_stdin() -> None:
    code, stdout, _ = run("score", "-", stdin="物流太慢了，避雷\n虽然贵但是好吃\n")
    assert code == 0
    rows = scored_rows(stdout)
    assert [row["label"] for row in rows] == ["negative", "positive"]
    assert rows[0]["text"] == "物流太慢了，避雷"
    assert 0 <= rows[0]["sentiment"] < 0.28  # type: ignore[operator]
    assert rows[0]["evidence"]
    assert rows[0]["confidence"] == pytest.approx(rows[0]["probabilities"]["negative"], abs=1e-3)  # type: ignore[index]


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


def test_score_writes_each_row_as_scoring_it_alone_would(tmp_path: Path, scorer: Scorer) -> None:
    """More rows than one batch: every output line is the row's own fields and its own
    score, byte for byte what encoding them one at a time gives."""
    texts = [json.loads(line)["text"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    texts += CORPUS.read_text(encoding="utf-8").splitlines()
    rows = [{"n": n, "text": text} for n, text in enumerate((texts * 4)[:1200])]
    path = tmp_path / "comments.jsonl"
    path.write_text("".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows), "utf-8")
    code, stdout, _ = run("score", str(path))
    assert code == 0
    encode = json.JSONEncoder(ensure_ascii=False, allow_nan=False).encode
    wanted = [encode({**row, **scorer.score(str(row["text"])).as_dict()}) for row in rows]
    assert stdout.splitlines() == wanted


def test_score_reads_every_field_of_a_jsonl_row_as_json_does(tmp_path: Path) -> None:
    """Integers past 64 bits stay exact integers, floats and nesting as written."""
    lines = [
        '{"text": "好评", "id": 1234567890123456789012345, "low": -9223372036854775809}',
        '{"text": "差评", "x": 1e-7, "y": -0.0, "z": 1.5e300, "n": [[{"a": [1, {}]}]]}',
        '{"text": "中评", "s": "\\"\\u4e2d\\ud83d\\ude00"}',
        '\ufeff{"text": "一般", "bom": true}',
        '{"text": "还行", "id": 18446744073709551615, "id2": -9223372036854775808}',
    ]
    path = tmp_path / "comments.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    code, stdout, stderr = run("score", str(path))
    assert code == 0, stderr
    for line, row in zip(lines, scored_rows(stdout), strict=True):
        wanted = json.loads(line.lstrip("\ufeff"))
        assert {key: row[key] for key in wanted} == wanted
        assert all(type(row[key]) is type(value) for key, value in wanted.items())


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


def test_check_says_which_listed_words_it_read_as_description() -> None:
    """冠军 is on the list; in this sentence it is a game's rule, and the copywriter sees
    that it was let through and why, not only "clean"."""
    copy = "第一行没问题\n这套卡牌规则很简单，先集齐五张的就是冠军"
    code, stdout, _ = run("check", "-", stdin=copy)
    assert code == 0
    assert "PASS 2:19 冠军" in stdout and "如实描述" in stdout, stdout


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
    assert "would open CRISIS  云朵咖啡 · negative_volume at 11-20 16:08" in stdout
    assert not [line for line in stdout.splitlines() if "would open" in line and "云朵" not in line]
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
    assert "negative_confidence" in stdout
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
    code, _, stderr = run("ingest", "-", "--broker", "kafka://127.0.0.1:1", "--timeout", "2",
                          stdin="{}\n")  # fmt: skip
    assert code == 2
    assert "cannot reach the broker" in stderr


def test_worker_with_a_broken_config_is_exit_2(tmp_path: Path) -> None:
    config = tmp_path / "bad.yaml"
    config.write_text("stream:\n  partitions: 0\n", encoding="utf-8")
    code, _, stderr = run("worker", "--config", str(config), "--broker", "kafka://127.0.0.1:1")
    assert code == 2
    assert "bad.yaml:2: stream.partitions" in stderr


# Issue #10, item 5: hostile input through every verb. A bad row is skipped and counted
# (exit 0); a bad file or option is exit 2 with one line on stderr; never a traceback.

HOSTILE_ROWS = {
    "nested 10,000 deep": "nested too deep",
    "an integer of 5,000 digits": "not a usable number",
    "Infinity in a count": "not a usable number",
    "1e400 in a count": "not a usable number",
    "a lone surrogate in the text": "lone surrogate in a string",
    "a lone surrogate in the id": "lone surrogate in a string",
    "a lone surrogate in a key": "lone surrogate in a string",
}
Setup = Callable[[Path, ExitStack], list[str]]


def export_with(tmp_path: Path, kind: str, labelled: bool = False) -> str:
    """An export of good comments (200 labelled ones for `train`) with one hostile row."""
    now = datetime.now(UTC)
    good = []
    for n in range(200 if labelled else 2):
        text = f"第{n}杯云朵咖啡很好喝，推荐" if n % 2 else f"云朵咖啡第{n}单物流太慢，退款"
        row = {"id": f"g{n}", "platform": "weibo", "text": text, "created_at": now.isoformat()}
        if labelled:
            row["label"] = "positive" if n % 2 else "negative"
        good.append(json.dumps(row, ensure_ascii=False).encode())
    path = tmp_path / "export.jsonl"
    path.write_bytes(b"\n".join([good[0], hostile(now)[kind][0], *good[1:]]) + b"\n")
    return str(path)


def labelled_csv(tmp_path: Path) -> str:
    path = tmp_path / "labelled.csv"
    rows = ["text,label"] + [f"第{n}杯好喝,positive" if n % 2 else f"第{n}单太慢,negative"
                             for n in range(40)]  # fmt: skip
    path.write_text("\n".join(rows) + "\n", encoding="utf-8")
    return str(path)


def config_with(tmp_path: Path, text: str) -> str:
    path = tmp_path / "config.yaml"
    path.write_text(text, encoding="utf-8")
    return str(path)


def deep_yaml(tmp_path: Path) -> str:
    return config_with(tmp_path, "brands: " + "[" * 5000 + "]" * 5000 + "\n")


def port_in_use(stack: ExitStack) -> str:
    listener = stack.enter_context(socket.socket())
    listener.bind(("127.0.0.1", 0))
    listener.listen()
    return str(listener.getsockname()[1])


def worker_args(tmp_path: Path, stack: ExitStack, config: str) -> list[str]:
    return ["worker", "--broker", "kafka://127.0.0.1:1", "--config", config_with(tmp_path, config),
            "--web-port", str(free_port())]  # fmt: skip


def with_playbook(content: bytes | None) -> Setup:
    """`worker` with a playbook file of this content (None: no such file)."""

    def setup(tmp_path: Path, stack: ExitStack) -> list[str]:
        if content is not None:
            (tmp_path / "playbook.yaml").write_bytes(content)
        return worker_args(tmp_path, stack, "alerts:\n  playbook: playbook.yaml\n")

    return setup


def bad_encoding(verb: str, *extra: str) -> Setup:
    def setup(tmp_path: Path, stack: ExitStack) -> list[str]:
        return [verb, labelled_csv(tmp_path), "--encoding", "bogus", *extra]

    return setup


ROW_CASES = [
    pytest.param(verb, kind, reason, id=f"{verb}: {kind}")
    for verb in ("score", "analyze", "train")
    for kind, reason in HOSTILE_ROWS.items()
]

BAD_FILE_CASES: list[Any] = [
    *(
        pytest.param(
            bad_encoding(verb, *extra), "not a text encoding", id=f"{verb} --encoding bogus"
        )
        for verb, extra in [
            ("score", []),
            ("analyze", []),
            ("check", []),
            ("train", ["--out", "model.json.gz"]),
            ("ingest", ["--broker", "kafka://127.0.0.1:1"]),
        ]
    ),
    pytest.param(
        lambda t, s: ["train", labelled_csv(t), "--out", str(t / "m"), "--min-count", "0"],
        "--min-count must be at least 1",
        id="train --min-count 0",
    ),
    pytest.param(
        lambda t, s: ["train", labelled_csv(t), "--out", str(t / "m"), "--regularisation", "-1"],
        "--regularisation must be a positive number",
        id="train --regularisation -1",
    ),
    pytest.param(
        lambda t, s: ["train", labelled_csv(t), "--out", str(t / "m"), "--target-precision", "2"],
        "--target-precision must be above 0 and at most 1",
        id="train --target-precision 2",
    ),
    pytest.param(
        lambda t, s: ["score", labelled_csv(t), "--config", deep_yaml(t)],
        "nested too deeply",
        id="score with a config nested 5,000 deep",
    ),
    pytest.param(
        lambda t, s: ["worker", "--broker", "kafka://127.0.0.1:1", "--config", deep_yaml(t)],
        "nested too deeply",
        id="worker with a config nested 5,000 deep",
    ),
    pytest.param(with_playbook(None), "cannot read playbook", id="worker with a missing playbook"),
    pytest.param(
        with_playbook(b"\x89PNG\r\n\x1a\n\x00\xff"),
        "not UTF-8 text",
        id="worker with a binary playbook",
    ),
    pytest.param(
        with_playbook(b"\x00\x01binary"),
        "not valid YAML",
        id="worker with a binary playbook that is UTF-8",
    ),
    pytest.param(with_playbook(b""), "the playbook is empty", id="worker with an empty playbook"),
    pytest.param(
        lambda t, s: worker_args(
            t,
            s,
            "alerts:\n  sinks:\n    - {name: robot, kind: wecom, url_env: GUANCHAO_NO_SUCH_VAR}\n",
        ),
        "GUANCHAO_NO_SUCH_VAR is not set",
        id="worker with a sink whose url_env is unset",
    ),
    pytest.param(
        lambda t, s: worker_args(t, s, "compliance:\n  off_categories: [medical]\n"),
        "only platform-rule categories can be switched off",
        id="worker with a law category switched off",
    ),
    pytest.param(
        lambda t, s: worker_args(t, s, "sentiment:\n  model: no-such-model.json.gz\n"),
        "no-such-model.json.gz does not exist",
        id="worker with a missing model file",
    ),
    pytest.param(
        lambda t, s: ["worker", "--broker", "kafka://127.0.0.1:1", "--web-port", port_in_use(s)],
        "already in use",
        id="worker --web-port in use",
    ),
    pytest.param(
        lambda t, s: ["worker", "--broker", "kafka://127.0.0.1:1", "--web-port", "70000"],
        "--web-port must be between 1 and 65535",
        id="worker --web-port 70000",
    ),
    pytest.param(
        lambda t, s: ["worker", "--broker", "kafka://127.0.0.1:1", "--loglevel", "bogus"],
        "--loglevel must be",
        id="worker --loglevel bogus",
    ),
    pytest.param(
        lambda t, s: ["worker", "--broker", "kafka://127.0.0.1:1", "--public-url", "javascript:x"],
        "is not an http:// or https:// address",
        id="worker --public-url javascript:x",
    ),
    pytest.param(
        lambda t, s: ["ingest", labelled_csv(t), "--broker", "kafka://no such host:x"],
        "'kafka://no such host:x' is not a broker URL",
        id="ingest --broker 'kafka://no such host:x'",
    ),
    pytest.param(
        lambda t, s: [
            "ingest",
            labelled_csv(t),
            "--broker",
            "kafka://127.0.0.1:1",
            "--rate",
            "nan",
        ],
        "--rate must be a positive number",
        id="ingest --rate nan",
    ),
]


@pytest.fixture
def no_worker(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """`worker` as far as building the app: no broker is asked, no worker started."""
    import monitor.cli.main
    import monitor.stream.app

    class NoWorker:
        def __init__(self, *args: object, **options: object) -> None:
            raise AssertionError("the worker was started: the input was not refused")

    monkeypatch.setattr(monitor.cli.main, "ensure_topics", lambda *args: None)
    monkeypatch.setattr(monitor.stream.app, "Worker", NoWorker)
    monkeypatch.delenv("GUANCHAO_NO_SUCH_VAR", raising=False)
    yield
    uninstall_redaction()
    for logger in [logging.root, *logging.root.manager.loggerDict.values()]:
        if isinstance(logger, logging.Logger):
            for limit in [f for f in logger.filters if isinstance(f, RepeatLimit)]:
                logger.removeFilter(limit)


def assert_one_line(stdout: str, stderr: str) -> None:
    assert "Traceback" not in stdout + stderr
    assert len(stderr.strip().splitlines()) == 1, stderr


@pytest.mark.parametrize(("verb", "kind", "reason"), ROW_CASES)
def test_a_hostile_row_is_skipped_and_counted(
    tmp_path: Path, verb: str, kind: str, reason: str
) -> None:
    source = export_with(tmp_path, kind, labelled=verb == "train")
    extra = ["--out", str(tmp_path / "model.json.gz")] if verb == "train" else []
    code, stdout, stderr = run(verb, source, *extra)
    assert code == 0, stderr
    assert_one_line(stdout, stderr)
    assert f"skipped 1 ({reason}: 1)" in stderr
    if verb == "score":
        rows = [strictjson.loads(line) for line in stdout.splitlines()]  # no Infinity, no NaN
        assert len(rows) == 2
        assert "Infinity" not in stdout and "NaN" not in stdout


@pytest.mark.parametrize(("setup", "message"), BAD_FILE_CASES)
@pytest.mark.usefixtures("no_worker")
def test_a_hostile_file_or_option_is_exit_2_and_one_line(
    tmp_path: Path, setup: Setup, message: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    with ExitStack() as stack:
        code, stdout, stderr = run(*setup(tmp_path, stack))
    assert code == 2, stderr
    assert_one_line(stdout, stderr)
    assert message in stderr


def test_a_drill_of_a_brand_the_config_does_not_list_is_refused() -> None:
    result = runner.invoke(
        app, ["drill", "--brand", "随便一个牌子", "--broker", "kafka://127.0.0.1:1"]
    )
    assert result.exit_code == 2
    assert "--brand must be a brand of the config" in result.stderr
