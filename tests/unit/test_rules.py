from collections import Counter

import pytest

from monitor.detect.counting import WindowTotals
from monitor.detect.reasons import cause_worded, joined, worded
from monitor.detect.rules import Baseline, Level, evaluate
from monitor.settings import RuleSettings

RULES = RuleSettings()


def totals(negatives: int, **changes: object) -> WindowTotals:
    fields: dict[str, object] = {
        "brand": "云朵咖啡", "end_minute": 1000, "mentions": negatives * 2,
        "negatives": negatives, "crisis": Counter(), "keywords": Counter(),
        "negative_platforms": frozenset({"weibo"}), "top_negative_followers": 100,
        **changes,
    }  # fmt: skip
    return WindowTotals(**fields)  # type: ignore[arg-type]


def volume_level(window: WindowTotals, baseline: Baseline | None = None) -> Level | None:
    found = [d for d in evaluate(window, 10, baseline, RULES) if d.cause == "negative_volume"]
    return found[0].level if found else None


def test_the_threshold_is_strictly_more_than() -> None:
    assert volume_level(totals(10)) is None
    assert volume_level(totals(11)) is Level.WATCH


def test_volume_alone_raises_the_level() -> None:
    assert volume_level(totals(21)) is Level.WARNING
    assert volume_level(totals(51)) is Level.CRISIS


def test_growth_against_the_brands_own_baseline_raises_one_level() -> None:
    assert volume_level(totals(12), Baseline(negatives=4.0, days=7)) is Level.WARNING
    assert volume_level(totals(12), Baseline(negatives=6.0, days=7)) is Level.WATCH


def test_crisis_keywords_a_big_author_and_spread_each_raise_one_level() -> None:
    keywords = totals(12, crisis=Counter({"投诉": 2, "曝光": 1}))
    assert volume_level(keywords) is Level.WARNING
    assert volume_level(totals(12, top_negative_followers=250_000)) is Level.WARNING
    spread = totals(12, negative_platforms=frozenset({"weibo", "douyin", "xiaohongshu"}))
    assert volume_level(spread) is Level.WARNING
    everything = totals(
        12, top_negative_followers=250_000, negative_platforms=frozenset({"a", "b", "c"})
    )
    assert volume_level(everything) is Level.CRISIS


def test_a_keyword_surge_needs_volume_and_forty_percent_over_its_baseline() -> None:
    window = totals(5, keywords=Counter({"物流慢": 14, "客服": 9}))
    quiet = Baseline(negatives=5.0, keywords={"物流慢": 10.5}, days=7)  # 14 < 10.5 × 1.4
    busy = Baseline(negatives=5.0, keywords={"物流慢": 9.0}, days=7)
    assert [d.cause for d in evaluate(window, 10, quiet, RULES)] == []
    assert [d.cause for d in evaluate(window, 10, busy, RULES)] == ["keyword:物流慢"]


def test_reasons_are_data_worded_in_the_readers_language() -> None:
    (detection,) = evaluate(totals(12, top_negative_followers=250_000), 10, None, RULES)
    assert detection.reasons[0] == {"kind": "volume", "negatives": 12, "threshold": 10}
    assert worded(detection.reasons[0], "zh") == "近一小时负面 12 条（阈值 10）"
    assert worded(detection.reasons[0], "en") == (
        "12 negative mentions in the last hour (threshold 10)"
    )
    assert "粉丝 250,000" in worded(detection.reasons[1], "zh")
    assert "250,000 followers" in worded(detection.reasons[1], "en")
    assert joined(detection.reasons, "zh").count("；") == 1


def test_every_kind_the_rules_write_has_words_in_both_languages() -> None:
    window = totals(60, top_negative_followers=250_000)
    busy = Baseline(negatives=2.0, keywords={}, days=7)
    reasons = [r for d in evaluate(window, 10, busy, RULES) for r in d.reasons]
    assert {r["kind"] for r in reasons} >= {"volume", "over_threshold", "growth", "high_reach"}
    for reason in reasons:
        for language in ("zh", "en"):
            assert worded(reason, language) != reason["kind"], (reason, language)


@pytest.mark.parametrize(
    "reason",
    [{"kind": "volume"}, {"kind": "volume", "negatives": "x", "threshold": []},
     {"kind": "no such kind"}, {"kind": "growth", "growth": None, "baseline": 1}, {}],
)  # fmt: skip
def test_a_reason_that_cannot_be_worded_is_shown_by_its_kind(reason: dict[str, object]) -> None:
    assert worded(reason, "zh") == str(reason.get("kind", "?"))


def test_a_reason_stored_as_text_before_is_shown_as_it_is() -> None:
    assert worded("11 negative mentions", "zh") == "11 negative mentions"


def test_causes_are_worded_too() -> None:
    assert cause_worded("negative_volume", "zh") == "负面声量"
    assert cause_worded("keyword:物流慢", "zh") == "关键词「物流慢」"
    assert cause_worded("keyword:物流慢", "en") == "keyword 「物流慢」"
    assert cause_worded("something_new", "zh") == "something_new"
