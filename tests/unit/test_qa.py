"""Customer-service chat QA: the record contract, sampling, every deduction on a realistic
conversation and on its polite look-alike, masking, and the weekly report."""

from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from monitor.detect.records import RecordError
from monitor.qa import masking
from monitor.qa.conversations import (
    MAX_TURNS,
    Conversation,
    group_turn_rows,
    parse_conversation,
    parse_conversation_json,
)
from monitor.qa.lexicon import WordFinder, load_lexicon
from monitor.qa.report import parse_week, render_html, render_markdown, weekly_report
from monitor.qa.sampling import is_sampled, sample_fraction
from monitor.qa.scoring import QAResult, QualityChecker
from monitor.settings import ConfigError, LimitSettings, QASettings, Settings, load_settings
from monitor.text.sentiment import Scorer

ZONE = ZoneInfo("Asia/Shanghai")
NOW = datetime(2026, 12, 1, tzinfo=UTC)
START = datetime(2026, 11, 24, 10, 0, tzinfo=ZONE)  # a Tuesday of 2026-W48
LIMITS = LimitSettings()
QUESTION = "你好，请问我买的咖啡机什么时候发货？"


def record(*turns: tuple[str, str, float], **fields: Any) -> dict[str, Any]:
    """A conversation record: turns as (role, text, seconds after START)."""
    return {
        "id": "c-1",
        "channel": "taobao",
        "shop": "云朵咖啡旗舰店",
        "agent_id": "agent-7",
        "turns": [
            {"role": role, "text": text, "time": (START + timedelta(seconds=at)).isoformat()}
            for role, text, at in turns
        ],
        **fields,
    }


def conversation(*turns: tuple[str, str, float], **fields: Any) -> Conversation:
    return parse_conversation(record(*turns, **fields), LIMITS, ZONE, NOW)


@pytest.fixture(scope="module")
def checker(scorer: Scorer) -> QualityChecker:
    return QualityChecker(QASettings(), scorer)


def kinds(result: QAResult) -> set[str]:
    return {deduction.kind for deduction in result.deductions}


def agent_says(text: str) -> Conversation:
    """A polite, quick, resolved exchange around one agent turn."""
    return conversation(
        ("customer", QUESTION, 0),
        ("agent", "您好，这边帮您看一下订单", 15),
        ("agent", text, 40),
        ("customer", "好的，谢谢", 70),
    )


# --- the record contract ---------------------------------------------------------------


def test_a_valid_record_keeps_unknown_fields_and_orders_turns_by_time() -> None:
    fields = record(("agent", "您好", 20), ("customer", QUESTION, 0), source="export-7")
    fields["turns"][0]["msg_id"] = "m2"
    parsed = parse_conversation(fields, LIMITS, ZONE, NOW)
    assert [turn.role for turn in parsed.turns] == ["customer", "agent"]
    assert parsed.turns[1].extra == {"msg_id": "m2"}
    assert parsed.extra == {"source": "export-7"}
    assert parsed.key == "taobao:c-1" and parsed.started_at == START


def test_role_names_of_exports_and_epoch_times_are_understood() -> None:
    fields = record(("买家", QUESTION, 0), ("客服", "您好", 5), channel="JD")
    fields["turns"][0]["time"] = START.timestamp()
    parsed = parse_conversation(fields, LIMITS, ZONE, NOW)
    assert [turn.role for turn in parsed.turns] == ["customer", "agent"]
    assert parsed.channel == "jd" and parsed.turns[0].time == START


def _nested(depth: int) -> bytes:
    good = json.dumps(record(("customer", QUESTION, 0)), ensure_ascii=False)
    return (good[:-1] + ', "x": ' + "[" * depth + "]" * depth + "}").encode()


GOOD_JSON = json.dumps(record(("customer", QUESTION, 0)), ensure_ascii=False).encode()


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"{not json", "not_json"),
        (b"\xff\xfe\x00binary", "not_json"),
        (b"[1, 2]", "not_object"),
        (_nested(10_000), "too_deep"),
        (_nested(40), "too_deep"),
        (GOOD_JSON.replace("咖啡机".encode(), b"\\ud800"), "bad_text"),
        (GOOD_JSON[:-1] + b', "\\udfff": 1}', "bad_text"),
        (GOOD_JSON[:-1] + b', "likes": Infinity}', "bad_number"),
        (GOOD_JSON[:-1] + b', "n": 1e400}', "bad_number"),
        (GOOD_JSON.replace(b'"c-1"', b"9" * 5000), "bad_number"),
        (json.dumps(record(("customer", "长" * 300_000, 0))).encode(), "too_large"),
    ],
)
def test_hostile_bytes_are_refused_with_a_reason(raw: bytes, reason: str) -> None:
    with pytest.raises(RecordError) as caught:
        parse_conversation_json(raw, LIMITS, ZONE, NOW)
    assert caught.value.reason == reason


def _without(name: str) -> dict[str, Any]:
    fields = record(("customer", QUESTION, 0))
    del fields[name]
    return fields


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (_without("agent_id"), "missing_field"),
        (_without("channel"), "missing_field"),
        (record(), "missing_field"),
        (record(("customer", QUESTION, 0), turns="hello"), "bad_field"),
        (record(("customer", QUESTION, 0), turns=["hello"]), "bad_field"),
        (record(("bot", QUESTION, 0)), "bad_field"),
        (record(("customer", QUESTION, 0), id={"a": 1}), "bad_field"),
        (record(("customer", QUESTION, 0), agent_id=True), "bad_field"),
        (record(("customer", QUESTION, 0), agent_id="  "), "missing_field"),
        (record(("customer", QUESTION, 0), resolved="maybe"), "bad_field"),
        (record(("customer", QUESTION, 0), id="x" * 201), "bad_field"),
        (record(("customer", "长" * 20_001, 0)), "text_too_long"),
        (record(*[("customer", "在吗", n) for n in range(MAX_TURNS + 1)]), "too_large"),
        (record(("customer", QUESTION, 0), notes="\ud800"), "bad_text"),
        (record(("customer", QUESTION, 86400 * 400)), "absurd_time"),
    ],
)
def test_records_that_break_the_contract_are_refused_with_a_reason(
    fields: dict[str, Any], reason: str
) -> None:
    with pytest.raises(RecordError) as caught:
        parse_conversation(fields, LIMITS, ZONE, NOW)
    assert caught.value.reason == reason


ODD_VALUES: list[Any] = [None, "", 0, -1, True, 1e300, [], {}, [[]], {"a": []}, "长" * 300, "昨天"]


@pytest.mark.parametrize("where", ["id", "channel", "agent_id", "shop", "turns", "resolved"])
def test_any_odd_value_of_a_field_is_a_record_error_or_fine(where: str) -> None:
    for value in ODD_VALUES:
        with contextlib.suppress(RecordError):
            parse_conversation(
                {**record(("customer", QUESTION, 0)), where: value}, LIMITS, ZONE, NOW
            )


@pytest.mark.parametrize("where", ["role", "text", "time"])
def test_any_odd_value_of_a_turn_field_is_a_record_error_or_fine(where: str) -> None:
    for value in ODD_VALUES:
        fields = record(("customer", QUESTION, 0))
        fields["turns"][0][where] = value
        with contextlib.suppress(RecordError):
            parse_conversation(fields, LIMITS, ZONE, NOW)


def test_csv_rows_of_turns_are_grouped_by_conversation() -> None:
    rows = [
        {
            "id": "a",
            "channel": "jd",
            "agent_id": "x",
            "role": "customer",
            "text": "在吗",
            "time": "1",
        },
        {
            "id": "b",
            "channel": "jd",
            "agent_id": "y",
            "role": "customer",
            "text": "你好",
            "time": "2",
        },
        {"id": "a", "channel": "jd", "agent_id": "x", "role": "agent", "text": "在的", "time": "3"},
        {"id": "", "channel": "jd", "agent_id": "x", "role": "agent", "text": "?", "time": "4"},
    ]
    grouped = group_turn_rows(rows)
    assert [(r["id"], len(r["turns"])) for r in grouped] == [("a", 2), ("b", 1), ("", 1)]
    assert grouped[0]["turns"][1] == {"role": "agent", "text": "在的", "time": "3"}


# --- sampling --------------------------------------------------------------------------


def test_sampling_is_deterministic_and_near_five_percent() -> None:
    settings = QASettings()
    ids = [f"TB{2026_0000_0000 + n * 7919}" for n in range(10_000)]
    chosen = [i for i in ids if is_sampled(i, "云朵咖啡旗舰店", settings)]
    assert chosen == [i for i in ids if is_sampled(i, "云朵咖啡旗舰店", settings)]
    assert 0.043 <= len(chosen) / len(ids) <= 0.057  # 5 % ± 3 standard deviations
    assert all(0 <= sample_fraction(i) < 1 for i in ids[:100])


def test_a_shop_rate_overrides_the_default_and_a_higher_rate_keeps_the_sample() -> None:
    settings = QASettings(shop_rates={"旗舰店": 0.2, "关店": 0.0})
    ids = [f"conv-{n}" for n in range(2_000)]
    default = {i for i in ids if is_sampled(i, "其他店", settings)}
    flagship = {i for i in ids if is_sampled(i, "旗舰店", settings)}
    assert default < flagship and 0.17 <= len(flagship) / len(ids) <= 0.23
    assert not any(is_sampled(i, "关店", settings) for i in ids)


def test_qa_settings_are_in_the_packaged_config_and_checked(tmp_path: Any) -> None:
    settings = load_settings()
    assert settings.qa.sample_rate == 0.05 and settings.qa.pass_mark == 85
    assert settings.qa == QASettings()  # the file says what the code defaults to
    path = tmp_path / "guanchao.yaml"
    for text in ("qa:\n  sample_rate: 2\n", "qa:\n  shop_rates: {店: 1.5}\n",
                 "qa:\n  weights: {rude: -1}\n", "qa:\n  weights: {rudeness: 5}\n"):  # fmt: skip
        path.write_text(text, encoding="utf-8")
        with pytest.raises(ConfigError, match=r"guanchao.yaml:\d+: qa\."):
            load_settings(path)


# --- deductions: each on a realistic conversation, and not on its polite look-alike ----


@pytest.mark.parametrize(
    ("kind", "realistic", "look_alike"),
    [
        ("rude", "你有病吧，退什么退", "请问宝宝之前有病史或者过敏史吗？"),
        ("rude", "买不起就别买，穷鬼", "这款买一送一，很划算哦"),
        ("dismissive", "等着吧", "您稍等，我马上帮您查询"),
        ("dismissive", "等 着 吧", "先别着急，什么时候发货我马上帮您查"),
        ("dismissive", "说了多少遍了，你自己看", "您可以在订单详情页查看物流信息"),
        ("blame", "这是你自己的问题，谁让你不看说明", "这不是您的问题，是我们发错货了，非常抱歉"),
        ("forbidden_promise", "给个五星好评返现10元哦", "如果满意的话，欢迎给我们一个评价"),
        ("forbidden_promise", "放心，保证明天到", "我们会尽快为您安排发货"),
        ("off_platform", "加 微 信 我发你链接", "我们不能加微信哦，请在平台内沟通"),
        ("off_platform", "你加我vx，私下交易便宜", "已经为您加vip会员价了"),
        ("personal_data", "您的手机号是13812345678对吧", "请您提供订单号"),
        (
            "personal_data",
            "寄到浙江省杭州市西湖区文三路138号3单元502室",
            "您的包裹已到达杭州转运中心",
        ),
    ],
)
def test_agent_words_cost_points_and_their_look_alikes_do_not(
    checker: QualityChecker, kind: str, realistic: str, look_alike: str
) -> None:
    found = checker.score(agent_says(realistic))
    assert kind in kinds(found)
    (deduction,) = [d for d in found.deductions if d.kind == kind]
    assert deduction.turn == 2 and deduction.points == getattr(QASettings().weights, kind)
    assert kinds(checker.score(agent_says(look_alike))) == set()


def test_words_in_traditional_or_full_width_script_are_found(checker: QualityChecker) -> None:
    assert "off_platform" in kinds(checker.score(agent_says("加我微信吧，ＶＸ號發你")))
    assert "dismissive" in kinds(checker.score(agent_says("愛買不買")))


def test_customer_ending_worse_than_they_began(checker: QualityChecker) -> None:
    worse = conversation(
        ("customer", QUESTION, 0),
        ("agent", "您好，已经帮您催促仓库了", 20),
        ("customer", "太失望了，再也不买了", 60),
    )
    better = conversation(
        ("customer", QUESTION, 0),
        ("agent", "您好，已经帮您催促仓库了，预计明天发出", 20),
        ("customer", "好的，谢谢", 60),
    )
    (found,) = [d for d in checker.score(worse).deductions if d.kind == "emotion_worse"]
    assert found.turn == 2
    assert "emotion_worse" not in kinds(checker.score(better))
    assert checker.score(better).customer_sentiment[-1] > 0.5


def test_escalation_after_the_agent_answered_and_not_the_complaint_that_opened(
    checker: QualityChecker,
) -> None:
    escalated = conversation(
        ("customer", "咖啡机坏了，怎么处理？", 0),
        ("agent", "您好，麻烦提供一下照片", 20),
        ("customer", "再不处理我就打12315投诉你们", 60),
        ("agent", "非常抱歉，马上为您登记换新", 80),
        ("customer", "好的", 100),
    )
    opened_with_it = conversation(
        ("customer", "我要投诉，咖啡里有异物", 0),
        ("agent", "非常抱歉，马上为您登记退款", 20),
        ("customer", "好的，不投诉了，谢谢", 60),
    )
    (found,) = [d for d in checker.score(escalated).deductions if d.kind == "escalation"]
    assert found.turn == 2 and set(found.words) == {"12315", "投诉"}
    assert "escalation" not in kinds(checker.score(opened_with_it))


def test_slow_first_response_and_a_long_later_wait(checker: QualityChecker) -> None:
    slow = conversation(
        ("customer", QUESTION, 0),
        ("agent", "您好，帮您查一下", 300),
        ("customer", "好的，麻烦快一点", 320),
        ("agent", "已经查到了，明天发出", 320 + 900),
        ("customer", "好的，谢谢", 1300),
    )
    quick = conversation(
        ("customer", QUESTION, 0),
        ("agent", "您好，帮您查一下", 20),
        ("customer", "好的，麻烦快一点", 40),
        ("agent", "已经查到了，明天发出", 100),
        ("customer", "好的，谢谢", 130),
    )
    result = checker.score(slow)
    assert {"slow_first_response", "long_wait"} <= kinds(result)
    assert result.first_response_seconds == 300 and result.longest_wait_seconds == 900
    assert [
        d.turn for d in result.deductions if d.kind in ("slow_first_response", "long_wait")
    ] == [
        1,
        3,
    ]
    assert kinds(checker.score(quick)) == set()


def test_an_unresolved_ending(checker: QualityChecker) -> None:
    open_end = conversation(
        ("customer", QUESTION, 0),
        ("agent", "您好，预计三天内发货", 20),
        ("customer", "还是没解决，算了", 60),
    )
    unanswered = conversation(
        ("customer", QUESTION, 0),
        ("agent", "您好，预计三天内发货", 20),
        ("customer", "那能不能先发一部分？我急用", 60),
    )
    closed = conversation(
        ("customer", QUESTION, 0),
        ("agent", "您好，预计三天内发货", 20),
        ("customer", "好的，谢谢，明白了", 60),
    )
    assert "unresolved" in kinds(checker.score(open_end))
    assert "unresolved" in kinds(checker.score(unanswered))
    assert "unresolved" not in kinds(checker.score(closed))
    marked = conversation(("customer", QUESTION, 0), ("agent", "您好", 20), resolved=False)
    assert "unresolved" in kinds(checker.score(marked))


def test_the_score_and_the_pass_mark(checker: QualityChecker) -> None:
    bad = conversation(
        ("customer", QUESTION, 0),
        ("agent", "等着吧", 200),
        ("customer", "都三天了，到底什么时候发？", 260),
        ("agent", "我也没办法，你自己查物流。加我微信 13812345678 私下给你退", 900),
        ("customer", "什么破服务，我要去12315投诉你们，太失望了", 960),
    )
    result = checker.score(bad)
    assert result.score == 0 and not result.passed
    assert [d.turn for d in result.deductions] == sorted(d.turn for d in result.deductions)
    good = checker.score(agent_says("已经帮您催促仓库，预计明天发出"))
    assert good.score == 100 and good.passed


# --- masking ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "masked"),
    [
        ("我的手机号是13812345678，麻烦尽快", "我的手机号是[电话]，麻烦尽快"),
        ("电话 138-1234-5678 或 +86 139 1234 5678", "电话 [电话] 或 [电话]"),
        ("１３８１２３４５６７８", "[电话]"),
        ("座机021-12345678", "座机[电话]"),
        ("身份证110101199003071234，名字张三", "身份证[身份证号]，名字张三"),
        ("身份证号 11010119900307123X", "身份证号 [身份证号]"),
        ("地址：浙江省杭州市西湖区文三路138号3单元502室", "地址：浙江省杭州市西湖区[地址]"),
        ("我住在阳光小区3栋2单元501", "我住在[地址]"),
        ("订单号：3456789012345678901 一直没发货", "订单号：[订单号] 一直没发货"),
        ("单号SF1234567890123", "单号[订单号]"),
        ("请您提供订单号", "请您提供订单号"),
        ("我们3号发货，价格是199元", "我们3号发货，价格是199元"),
        ("12315投诉", "12315投诉"),
    ],
)
def test_personal_data_is_masked(text: str, masked: str) -> None:
    assert masking.mask(text) == masked


def test_nothing_stored_or_shown_holds_the_personal_data(checker: QualityChecker) -> None:
    result = checker.score(
        conversation(
            (
                "customer",
                "我电话13812345678，地址浙江省杭州市西湖区文三路138号，订单3456789012345678",
                0,
            ),
            ("agent", "好的，13812345678是吧，身份证号110101199003071234也发我一下", 20),
            ("customer", "好的", 40),
        )
    )
    shown = json.dumps(result.as_dict(), ensure_ascii=False)
    for secret in ("13812345678", "文三路138号", "3456789012345678", "110101199003071234"):
        assert secret not in shown
    assert "[电话]" in shown and "personal_data" in kinds(result)


# --- the weekly report -----------------------------------------------------------------


def test_parse_week() -> None:
    assert parse_week("2026-W48").isoformat() == "2026-11-23"
    for bad in ("2026-48", "2026-W54", "last week", ""):
        with pytest.raises(ValueError):
            parse_week(bad)


def test_the_weekly_report_per_agent(checker: QualityChecker, settings: Settings) -> None:
    results = []
    for n in range(6):
        text = "等着吧，你自己查，加我微信13812345678" if n in (0, 2) else "已经帮您催促仓库"
        fields = record(
            ("customer", QUESTION, 0), ("agent", text, 20), ("customer", "好的", 40),
            id=f"c{n}", agent_id=f"agent-{n % 2}",
        )  # fmt: skip
        results.append(checker.score(parse_conversation(fields, LIMITS, ZONE, NOW)))
    late = record(("customer", QUESTION, 86400 * 6), id="next-week")
    results.append(checker.score(parse_conversation(late, LIMITS, ZONE, NOW)))
    report = weekly_report(results, "2026-W48", ZONE, 85)
    assert len(report.results) == 6 and sum(report.distribution) == 6
    assert [a.agent_id for a in report.agents] == ["agent-0", "agent-1"]
    assert [a.agent_id for a in report.agents_below] == ["agent-0"]
    assert report.deductions[0][1] == 2
    markdown = render_markdown(report)
    page = render_html(report)
    assert "客服质检周报 2026-W48" in markdown and "| agent-0 | 3 |" in markdown
    assert "<svg" in page and "<script" not in page and not re.search(r"(src|href)=", page)
    assert "13812345678" not in markdown + page and "[电话]" in page


def test_report_cells_cannot_break_the_table_or_the_page(checker: QualityChecker) -> None:
    fields = record(("customer", QUESTION, 0), ("agent", "等着吧", 20),
                    agent_id="<b>x</b>|y", id="c|1")  # fmt: skip
    result = checker.score(parse_conversation(fields, LIMITS, ZONE, NOW))
    report = weekly_report([result], "2026-W48", ZONE, 95)
    assert "<b>x</b>\\|y" in render_markdown(report)
    assert "&lt;b&gt;x&lt;/b&gt;|y" in render_html(report) and "<b>x" not in render_html(report)


def test_the_word_list_loads_and_every_term_can_be_found() -> None:
    lexicon = load_lexicon()
    finder = WordFinder(lexicon)
    assert set(lexicon.agent_kinds) == {"rude", "dismissive", "blame", "forbidden_promise",
                                        "off_platform"}  # fmt: skip
    for kind in lexicon.kinds:
        for term in kind.terms:
            assert kind.kind in {hit.kind for hit in finder.find(term)}, (kind.kind, term)
