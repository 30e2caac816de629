import pytest

from monitor.compliance import ComplianceChecker, Severity


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
