"""The learned second opinion on ad copy: what it flags, what it leaves to the rules, and
that the shipped scorer computes what scikit-learn trained."""

import re
from pathlib import Path

import numpy as np
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression

from bench.compliance import HELD_BACK, PARTS, TUNING
from monitor.text.compliance import (
    MODEL,
    ComplianceChecker,
    default_checker,
    load_patterns,
    load_terms,
)
from monitor.text.copymodel import CopyModel, grams, letters, read_labelled, train

LINES = [
    ("全网最低价，错过再等一年", "absolute"), ("行业第一的净水器", "absolute"),
    ("喝了能降血压的茶", "medical"), ("三天祛斑，效果看得见", "medical"),
    ("加我微信领优惠券", "offplatform"), ("私信我拿内部价", "offplatform"),
    ("第一次来这家店", "clean"), ("开封后最好冷藏", "clean"),
    ("微信支付满50减5", "clean"), ("本店营业到晚上十点", "clean"),
]  # fmt: skip


def test_the_scorer_computes_what_scikit_learn_trained(tmp_path: Path) -> None:
    model = train(LINES, min_lines=1, regularisation=10.0)
    model.save(tmp_path / "model.json.gz")
    loaded = CopyModel.load(tmp_path / "model.json.gz")
    vectorizer = TfidfVectorizer(analyzer=lambda t: sorted(grams(letters(t))), binary=True)
    matrix = vectorizer.fit_transform([text for text, _ in LINES])
    fitted = LogisticRegression(C=10.0, max_iter=3000, class_weight="balanced")
    fitted.fit(matrix, [category for _, category in LINES])
    texts = ["最低价的茶", "加微信", "今天营业", "降血压", "最最最低价低价", "", "😀"]
    clean = list(fitted.classes_).index("clean")
    expected = 1 - fitted.predict_proba(vectorizer.transform(texts))[:, clean]
    got = [loaded.judge(letters(text)).probability for text in texts]
    assert np.allclose(got, expected, atol=1e-4)


@pytest.fixture(scope="module")
def full() -> ComplianceChecker:
    return default_checker()


def test_the_model_flags_a_claim_no_rule_knows_and_says_why(full: ComplianceChecker) -> None:
    copy = "新品到货。想要同款的宝子戳我头像进小窝"
    assert default_checker(model=False).check(copy).result == "pass"
    verdict = full.check(copy)
    (hit,) = verdict.hits
    assert (verdict.result, hit.rule, hit.entry.category) == ("warn", MODEL, "offplatform")
    assert hit.text == "想要同款的宝子戳我头像进小窝" and hit.start == copy.index("想要")
    assert "头像" in hit.why and "人工核对" in hit.why


def test_where_a_rule_passed_a_term_the_model_does_not_overrule_it(
    full: ComplianceChecker,
) -> None:
    verdict = full.check("我们不承诺年化收益，投资有风险")
    assert verdict.result == "pass" and verdict.passed


def test_a_category_a_channel_switched_off_is_not_flagged_by_the_model_either() -> None:
    copy = "想要同款的宝子戳我头像进小窝"
    assert default_checker(off_categories=["offplatform"]).check(copy).result == "pass"


def test_the_chance_of_a_switched_off_category_does_not_count() -> None:
    model = CopyModel.load()
    sentence = letters("想要同款的宝子戳我头像进小窝")
    everything, without = model.judge(sentence), model.judge(sentence, ["absolute", "medical"])
    assert everything.category == "offplatform" and without.category in ("absolute", "medical")
    assert without.probability < everything.probability
    assert model.judge(sentence, []).probability == 0.0


def test_training_needs_two_categories_besides_clean() -> None:
    with pytest.raises(ValueError, match="two categories"):
        train([("全网最低价", "absolute"), ("第一次来", "clean")], min_lines=1)


def test_the_packaged_model_is_trained_on_the_tuning_parts_only() -> None:
    script = Path("scripts/train_copy_model.sh").read_text(encoding="utf-8")
    named = set(re.findall(r"bench/data/(\S+\.tsv)", script))
    assert named == {PARTS[part].name for part in TUNING}
    held_back = set(PARTS) - set(TUNING)  # each held-back set stays a measure
    assert HELD_BACK in held_back and not any(PARTS[part].name in script for part in held_back)
    assert all(read_labelled(PARTS[part]) for part in TUNING)


def test_the_model_lets_a_listed_word_read_as_description_through_and_says_why(
    full: ComplianceChecker,
) -> None:
    copy = "这套卡牌规则很简单，先集齐五张的就是冠军"
    assert default_checker(model=False).check(copy).result == "warn"  # the list alone: 冠军
    verdict = full.check(copy)
    assert verdict.result == "pass", verdict.as_dict()
    (passed,) = verdict.passed
    assert (passed.text, passed.rule) == ("冠军", MODEL)
    assert "如实描述" in passed.why and "冠军" not in passed.why.split("依据")[1]


def test_a_word_the_law_forbids_is_softened_to_a_look_never_let_through(
    full: ComplianceChecker,
) -> None:
    """中国第一 reads as history here, but clean text written around a forbidden word must
    not open the gate: the block becomes a warning, with the model's reading as its why."""
    copy = "中国第一颗人造卫星东方红一号发射于1970年，科技馆五楼有模型展"
    assert default_checker(model=False).check(copy).blocked
    verdict = full.check(copy)
    (hit,) = verdict.hits
    assert (verdict.result, hit.text, hit.rule, hit.entry.severity) == (
        "warn",
        "中国第一",
        MODEL,
        "warn",
    )
    assert "如实描述" in hit.why and "人工确认" in hit.why
    padded = full.check("周末带孩子去公园散步看到最好")
    assert padded.result == "warn" and not padded.passed


@pytest.mark.parametrize(
    "copy",
    [
        "这套卡牌规则很简单，先集齐五张的就是冠军" + "，馆内还有展品" * 20,  # too long to read
        "就是冠军",  # too short to tell
        "这套卡牌规则很简单，先集齐五张的就是冠。军",  # the word runs out of the sentence
    ],
)
def test_where_the_model_cannot_read_the_word_the_list_decides(
    full: ComplianceChecker, copy: str
) -> None:
    assert full.check(copy).result == "warn" and not full.check(copy).passed


def test_a_switched_off_category_does_not_make_a_sentence_read_clean() -> None:
    """Off-platform traffic switched off, 扫码加微信 is no hit, but the sentence is no
    plainer for it: 国家级 beside it still blocks."""
    verdict = default_checker(off_categories=["offplatform"]).check("扫码加微信，国家级老师带你学")
    assert verdict.blocked and [hit.rule for hit in verdict.hits] == ["listed"]


def test_only_the_word_list_s_own_decisions_are_overruled() -> None:
    """A model that finds every sentence clean (overrule above any probability) passes
    the listed words of warn level and softens those of block level, but not a pattern's
    find nor a context rule's decision."""
    lenient = train(LINES, min_lines=1, overrule=1.01)
    terms, exemptions, rules = load_terms()
    checker = ComplianceChecker(terms, exemptions, rules, patterns=load_patterns(), model=lenient)
    warned = checker.check("本店营业到晚上十点，冠军")
    assert warned.result == "pass" and [item.rule for item in warned.passed] == [MODEL]
    softened = checker.check("本店营业到晚上十点，最佳")
    assert softened.result == "warn" and [hit.rule for hit in softened.hits] == [MODEL]
    assert checker.check("没有比这更舒服的乳胶床垫了").blocked  # pattern:no_better
    assert checker.check("本店营业到晚上十点，销量最多的一款").blocked  # ranking_scope raised 最多
