"""What the stream does with one conversation record (`monitor.qa.intake.review`), and the
QA metrics it feeds: refused, unsampled, passed, or a masked QA case."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from monitor.detect.counting import Counts
from monitor.metrics.collector import Metrics, StreamStats
from monitor.qa.conversations import Conversation
from monitor.qa.intake import CASE_EVENT, MAX_CASE_DEDUCTIONS, Reviewed, review
from monitor.qa.sampling import sample_fraction
from monitor.qa.scoring import QAResult, QualityChecker
from monitor.settings import QASettings, Settings
from monitor.text.sentiment import Scorer

NOW = datetime(2026, 12, 1, tzinfo=UTC)
START = NOW - timedelta(hours=2)
SHOP = "云朵咖啡旗舰店"
PHONE, ID_CARD = "13812345678", "110101199003071234"
ADDRESS = "浙江省杭州市西湖区文三路138号3单元502室"
RUDE = [
    ("customer", f"我的手机号{PHONE}，地址{ADDRESS}，快递员联系不上我", 0),
    ("agent", "等着吧，你自己的问题，加我微信私下说", 400),
    ("customer", "再不处理我就去12315投诉", 500),
]
POLITE = [
    ("customer", "你好，请问我买的咖啡机什么时候发货？", 0),
    ("agent", "您好，您稍等，我帮您查一下，今天下午就发出", 20),
    ("customer", "好的，谢谢", 40),
]


def raw(turns: list[tuple[str, str, float]], **fields: Any) -> bytes:
    """A conversation record's bytes: turns as (role, text, seconds after START)."""
    document = {
        "id": "conv-1",
        "channel": "taobao",
        "shop": SHOP,
        "agent_id": "agent-7",
        "turns": [
            {"role": role, "text": text, "time": (START + timedelta(seconds=at)).isoformat()}
            for role, text, at in turns
        ],
        **fields,
    }
    return json.dumps(document, ensure_ascii=False).encode()


def settings_with(**qa: Any) -> Settings:
    return Settings(qa=QASettings(**qa))


EVERY = settings_with(sample_rate=1.0)


@pytest.fixture(scope="module")
def checker(scorer: Scorer) -> QualityChecker:
    return QualityChecker(EVERY.qa, scorer)


def test_a_rude_conversation_becomes_a_masked_case_keyed_by_shop(checker: QualityChecker) -> None:
    reviewed = review(raw(RUDE, buyer_phone=PHONE), checker, EVERY, NOW)
    assert reviewed.sampled and reviewed.result is not None and reviewed.dead is None
    assert reviewed.case is not None and reviewed.case.key == SHOP
    written = reviewed.case.value.decode()
    assert PHONE not in written and "文三路" not in written
    case = json.loads(reviewed.case.value)
    assert case["event"] == CASE_EVENT and not case["passed"]
    assert (case["agent_id"], case["shop"], case["channel"]) == ("agent-7", SHOP, "taobao")
    assert case["score"] == reviewed.result.score < case["pass_mark"] == 85
    kinds = {d["kind"]: d for d in case["deductions"]}
    expected = {"dismissive", "blame", "off_platform", "escalation", "slow_first_response"}
    assert expected <= set(kinds)
    assert kinds["off_platform"]["turn"] == 1 and "加我微信" in kinds["off_platform"]["evidence"]
    assert [turn["role"] for turn in case["turns"]] == ["customer", "agent", "customer"]
    assert "[电话]" in case["turns"][0]["text"] and "[地址]" in case["turns"][0]["text"]
    assert "buyer_phone" not in case  # unknown fields may hold anything: left out
    assert case["deductions_left_out"] == 0


def test_a_polite_conversation_is_scored_and_passes_without_a_case(
    checker: QualityChecker,
) -> None:
    reviewed = review(raw(POLITE), checker, EVERY, NOW)
    assert reviewed.result is not None and reviewed.result.passed
    assert reviewed.case is None and reviewed.dead is None and reviewed.shop == SHOP


def test_a_conversation_without_a_shop_is_keyed_by_its_agent(checker: QualityChecker) -> None:
    reviewed = review(raw(RUDE, shop=None), checker, EVERY, NOW)
    assert reviewed.case is not None and reviewed.case.key == "agent:agent-7"


@pytest.mark.parametrize(
    ("record", "reason"),
    [
        (b"{not json", "not_json"),
        (b"", "empty"),
        (raw(POLITE, agent_id=None), "missing_field"),
        (raw([("boss", "你好", 0)]), "bad_field"),
    ],
)
def test_a_bad_record_is_a_dead_letter_with_its_reason(
    checker: QualityChecker, record: bytes, reason: str
) -> None:
    reviewed = review(record, checker, EVERY, NOW)
    assert reviewed.dead is not None and reviewed.dead.reason == reason
    assert reviewed.dead.original == record and not reviewed.sampled and reviewed.case is None


def test_the_sample_is_the_same_as_the_cli_s_and_unsampled_ones_are_not_scored(
    scorer: Scorer,
) -> None:
    settings = settings_with(sample_rate=0.05)
    checker = QualityChecker(settings.qa, scorer)
    ids = [f"conv-{n}" for n in range(200)]
    inside = next(i for i in ids if sample_fraction(i) < 0.05)
    outside = next(i for i in ids if sample_fraction(i) >= 0.05)
    assert review(raw(RUDE, id=inside), checker, settings, NOW).case is not None
    skipped = review(raw(RUDE, id=outside), checker, settings, NOW)
    assert skipped == Reviewed(shop=SHOP)


def test_a_case_keeps_the_first_hundred_deductions_and_counts_the_rest(
    checker: QualityChecker,
) -> None:
    leaking = [("agent", f"您的手机号是{PHONE}对吧", n) for n in range(130)]
    reviewed = review(raw([("customer", "在吗", 0), *leaking]), checker, EVERY, NOW)
    assert reviewed.case is not None and reviewed.result is not None
    case = json.loads(reviewed.case.value)
    assert len(case["deductions"]) == MAX_CASE_DEDUCTIONS
    assert case["deductions_left_out"] == len(reviewed.result.deductions) - MAX_CASE_DEDUCTIONS > 0
    assert PHONE not in reviewed.case.value.decode()


class _Broken(QualityChecker):
    def score(self, conversation: Conversation) -> QAResult:
        raise ZeroDivisionError("a bug of ours")


def test_a_scorer_failure_is_a_dead_letter_not_a_stopped_stream(scorer: Scorer) -> None:
    reviewed = review(raw(POLITE), _Broken(EVERY.qa, scorer), EVERY, NOW)
    assert reviewed.sampled and reviewed.dead is not None
    assert reviewed.dead.reason == "unprocessable" and "ZeroDivisionError" in reviewed.dead.message


# --- metrics -----------------------------------------------------------------------------


def metrics_for(settings: Settings) -> Metrics:
    return Metrics(settings, StreamStats(), Counts(settings.waves), lambda: [], lambda: {})


def test_metrics_count_steps_by_bounded_shop_deductions_by_kind_and_refusals(
    checker: QualityChecker,
) -> None:
    settings = settings_with(sample_rate=1.0, shops=(SHOP,), shop_rates={"山海茶饮店": 1.0})
    metrics = metrics_for(settings)
    for record in (raw(RUDE), raw(POLITE, id="c2"), raw(RUDE, id="c3", shop="别人家的店")):
        metrics.conversation(review(record, checker, settings, NOW))
    metrics.conversation(review(b"{not json", checker, settings, NOW))
    text = metrics.exposition().decode()
    for line in (
        f'guanchao_qa_conversations_total{{shop="{SHOP}",step="received"}} 2.0',
        f'guanchao_qa_conversations_total{{shop="{SHOP}",step="failed"}} 1.0',
        'guanchao_qa_conversations_total{shop="other",step="scored"} 1.0',
        'guanchao_qa_conversations_total{shop="山海茶饮店",step="received"} 0.0',  # from zero
        f'guanchao_qa_deductions_total{{kind="off_platform",shop="{SHOP}"}} 1.0',
        'guanchao_qa_deductions_total{kind="rude",shop="other"} 0.0',
        'guanchao_qa_refused_total{reason="not_json"} 1.0',
        'guanchao_qa_refused_total{reason="too_large"} 0.0',
        f'guanchao_qa_score_count{{shop="{SHOP}"}} 2.0',
        'guanchao_qa_score_count{shop="山海茶饮店"} 0.0',
    ):
        assert line in text, line
    assert "别人家的店" not in text and PHONE not in text


def test_metric_shops_are_the_listed_and_those_with_their_own_rate() -> None:
    qa = QASettings(shops=("a", "b"), shop_rates={"b": 0.1, "c": 0.2})
    assert qa.metric_shops == ("a", "b", "c")
