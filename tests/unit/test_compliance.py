import random

import pytest

from monitor.text.compliance import ComplianceChecker, Severity, _Exemption
from monitor.text.normalise import compact, normalize


@pytest.mark.parametrize(
    "copy",
    [
        "第一次来这家店",
        "一级能效，更省电",
        "第一时间发货",
        "本店最畅销的一款",
        "每人最多限购2件",
        "第一坊老字号",
        "唯一的缺点是有点贵",
        "首次购买立减10元",
    ],
)
def test_exempt_uses_are_clean(checker: ComplianceChecker, copy: str) -> None:
    assert checker.check(copy).hits == ()


@pytest.mark.parametrize(
    ("copy", "flagged"),
    [
        ("全网第 一的品质", "全网第 一"),
        ("國家級工艺", "國家級"),
        ("本品最.佳选择", "最.佳选择"),
        ("销量第一", "销量第一"),
        ("全国第一", "全国第一"),
        ("行业第一", "行业第一"),
        ("排名第一", "排名第一"),
        ("最有效的配方", "最有效"),
        ("最安全的配方", "最安全"),
        ("ＮＯ．１的选择", "ＮＯ．１"),
        ("No 1 brand", "No 1"),
        ("最\u200b佳口感", "最\u200b佳"),
        ("最🔥佳口感", "最🔥佳"),
        ("第*一品牌", "第*一品牌"),
        ("保本保息，稳赚不赔", "保本保息"),
    ],
)
def test_violations_are_found_at_their_place_in_the_original(
    checker: ComplianceChecker, copy: str, flagged: str
) -> None:
    verdict = checker.check(copy)
    assert verdict.blocked
    first = verdict.hits[0]
    assert copy[first.start : first.end] == flagged == first.text


def test_a_longer_term_wins_over_the_term_inside_it(checker: ComplianceChecker) -> None:
    hits = checker.check("我们是行业第一").hits
    assert [hit.entry.term for hit in hits] == ["行业第一"]


def test_each_hit_carries_category_basis_and_suggestion(checker: ComplianceChecker) -> None:
    (hit,) = checker.check("国家级品质").hits
    assert hit.entry.category == "authority"
    assert "第九条" in hit.entry.basis
    assert hit.entry.suggestion
    assert hit.entry.severity is Severity.BLOCK


def test_medical_claims_for_ordinary_goods_are_blocked(checker: ComplianceChecker) -> None:
    hits = checker.check("这款茶能降血压，还能抗癌").hits
    assert {hit.entry.category for hit in hits} == {"medical"}
    assert len(hits) == 2


def test_warnings_do_not_block(checker: ComplianceChecker) -> None:
    verdict = checker.check("想要优惠的加V信")
    assert verdict.hits and not verdict.blocked
    assert {hit.entry.category for hit in verdict.hits} == {"offplatform"}


def test_clean_copy_has_no_hits(checker: ComplianceChecker) -> None:
    assert checker.check("精选阿拉比卡咖啡豆，中度烘焙，带有坚果和焦糖风味。").hits == ()


def test_a_limit_keeps_the_first_hits_and_counts_and_judges_them_all(
    checker: ComplianceChecker,
) -> None:
    copy = "想要优惠的加V信，" * 3 + "国家级品质"  # six warnings (加V, V信), then a block
    verdict = checker.check(copy, limit=2)
    assert [hit.entry.category for hit in verdict.hits] == ["offplatform"] * 2
    assert (verdict.hits_total, verdict.truncated, verdict.blocked) == (7, True, True)
    assert verdict.result == "block"
    document = verdict.as_dict()
    assert (len(document["hits"]), document["hits_total"], document["truncated"]) == (2, 7, True)
    whole = checker.check(copy)
    assert whole.hits[:2] == verdict.hits and len(whole.hits) == 7 and not whole.truncated


def test_copy_made_only_of_terms_is_all_found_at_the_right_places(
    checker: ComplianceChecker,
) -> None:
    copy = "国 家 级 " * 5000  # the shape of the request that froze the worker (issue 10)
    verdict = checker.check(copy, limit=200)
    assert (verdict.hits_total, len(verdict.hits), verdict.blocked) == (5000, 200, True)
    assert [(hit.start, hit.text) for hit in verdict.hits[:2]] == [(0, "国 家 级"), (6, "国 家 级")]
    assert verdict.hits[-1].start == 199 * 6


def _reference(checker: ComplianceChecker, text: str) -> list[tuple[int, int, str]]:
    """The checker's first, quadratic rule, written out: drop hits that start inside an
    exemption, then hits contained in a kept one, in order of start, longest first."""
    matchable = compact(normalize(text))
    found: list[tuple[int, int, str]] = []
    exempt: list[tuple[int, int]] = []
    for last, (length, entry) in checker._automaton.iter(matchable.text):
        span = (last + 1 - length, last + 1)
        if isinstance(entry, _Exemption):
            exempt.append(span)
        else:
            found.append((*span, entry.term))
    candidates = [hit for hit in found if not any(s <= hit[0] < e for s, e in exempt)]
    candidates.sort(key=lambda hit: (hit[0], hit[0] - hit[1]))
    kept: list[tuple[int, int, str]] = []
    for hit in candidates:
        if not any(k[0] <= hit[0] and hit[1] <= k[1] for k in kept):
            kept.append(hit)
    return [(*matchable.source_span(start, end), term) for start, end, term in kept]


def test_the_linear_rule_keeps_exactly_the_hits_of_the_pairwise_one(
    checker: ComplianceChecker,
) -> None:
    """Random copy from pieces of terms and exemptions that overlap, nest and touch."""
    pieces = ["第", "一", "次", "时间", "全国", "国家", "级", "最", "佳", "高", "本店", "店内",
              "行业", "销量", "唯", "首", "次", "能效", "No", "1", "坊", "的", " ", "*", "，",
              "稳赚", "不赔", "保本", "保息", "最高人民法院", "冠军同款", "独家"]  # fmt: skip
    rng = random.Random(10)
    for _ in range(1500):
        copy = "".join(rng.choice(pieces) for _ in range(rng.randint(1, 40)))
        got = [(hit.start, hit.end, hit.entry.term) for hit in checker.check(copy).hits]
        assert got == _reference(checker, copy), copy
