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
    assert PARTS[HELD_BACK].name not in script  # the held-back set stays a measure
    assert all(read_labelled(PARTS[part]) for part in TUNING)


def test_the_model_reads_a_listed_word_in_a_factual_sentence_as_description(
    full: ComplianceChecker,
) -> None:
    copy = "中国第一颗人造卫星东方红一号发射于1970年，科技馆五楼有模型展"
    assert default_checker(model=False).check(copy).blocked  # the word list alone: 中国第一
    verdict = full.check(copy)
    assert verdict.result == "pass", verdict.as_dict()
    (passed,) = verdict.passed
    assert (passed.text, passed.rule) == ("中国第一", MODEL)
    assert "如实描述" in passed.why and "概率" in passed.why


def test_a_long_sentence_keeps_the_word_list_s_decision(full: ComplianceChecker) -> None:
    """Clean text padded around a word would dilute the model's reading: past 120 letters
    in one sentence, the model does not overrule the list."""
    copy = "中国第一颗人造卫星东方红一号发射于1970年，科技馆五楼有模型展" + "，馆内还有展品" * 20
    assert full.check(copy).blocked


def test_only_the_word_list_s_own_decisions_are_overruled() -> None:
    """A model that finds every sentence clean (overrule above any probability) passes
    the listed words, but not a pattern's find nor a context rule's decision."""
    lenient = train(LINES, min_lines=1, overrule=1.01)
    terms, exemptions, rules = load_terms()
    checker = ComplianceChecker(terms, exemptions, rules, patterns=load_patterns(), model=lenient)
    listed = checker.check("最佳拍档")
    assert listed.result == "pass" and [item.rule for item in listed.passed] == [MODEL]
    assert checker.check("没有比这更舒服的乳胶床垫了").blocked  # pattern:no_better
    assert checker.check("销量最多的一款").blocked  # ranking_scope raised 最多
