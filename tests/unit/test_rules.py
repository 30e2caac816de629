from collections import Counter

from monitor.detect.counting import WindowTotals
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


def test_reasons_say_why_in_words() -> None:
    (detection,) = evaluate(totals(12, top_negative_followers=250_000), 10, None, RULES)
    assert detection.reasons[0] == "12 negative mentions in the last hour (threshold 10)"
    assert "250,000 followers" in detection.reasons[1]
