"""`Scorer.score_many` (monitor/text/batch.py) gives what scoring each text alone gives."""

import json
import random
from pathlib import Path

import numpy as np
import pytest

from monitor.text.batch import CodeTable
from monitor.text.sentiment import (
    BayesModel,
    FeatureSpec,
    LinearModel,
    Scorer,
    Sentiment,
    Thresholds,
)
from monitor.text.training import train
from tests.unit.test_training import synthetic, with_neutral

CORPUS = Path(__file__).parents[1] / "data" / "corpus.txt"
SAMPLE = Path(__file__).parents[2] / "monitor" / "samples" / "comments.jsonl"

# negation windows, double negation, degree adverbs, contrast (several), questions,
# Weibo codes, mentions, links, invisible and full-width characters, traditional
# characters, long tokens, repeats, rule words alone, nothing at all
TRICKY = [
    "物流太慢了，客服也不理人", "不是不好", "好是好，但是太贵了", "有人喝过吗？",
    "明天几点开门", "这杯咖啡很好喝", "笑死", "绝绝子", "", " ", "？", "?", "吗", "不",
    "不不不好", "不 好 吃 的", "但是但是但是", "却", "可是不过然而但是却只是",
    "[怒][怒]好气", "@张三 真的很差 http://x.cn/a", "非常满意非常满意", "太太太好了",
    "很不满意吗", "\u200b好\u200b", "ＡＢＣ很棒！！", "一点也不好吃呢", "不太好，但是还可以吧?",
    "没有不喜欢", "凭什么不退款？", "哈哈哈哈哈哈哈哈", "差差差差差", "🙂🙂",
    "國家級的產品真的不錯", "［Doge］太差了", "LEX- LEX+ Q? ¬好", "a" * 300, "不" * 50,
    "，。！？" * 10,
]  # fmt: skip


def texts() -> list[str]:
    rng = random.Random(3)
    found = TRICKY + CORPUS.read_text(encoding="utf-8").splitlines()
    found += [json.loads(line)["text"] for line in SAMPLE.read_text(encoding="utf-8").splitlines()]
    return found + ["".join(rng.sample(TRICKY, 3)) for _ in range(200)]


def assert_same(alone: list[Sentiment], together: list[Sentiment]) -> None:
    assert len(alone) == len(together)
    for one, other in zip(alone, together, strict=True):
        assert other.label is one.label
        assert other.positive == pytest.approx(one.positive, abs=1e-9)
        assert other.probabilities == pytest.approx(one.probabilities, abs=1e-9, nan_ok=True)
        assert [token for token, _ in other.evidence] == [token for token, _ in one.evidence]
        assert other.as_dict() == one.as_dict()


@pytest.mark.parametrize("size", [1, 7, 10_000])
def test_a_batch_scores_as_each_text_alone(scorer: Scorer, size: int) -> None:
    found = texts()
    alone = [scorer.score(text) for text in found]
    fresh = Scorer(scorer.segmenter, scorer.model, scorer.rules, scorer.thresholds)
    together = [
        s for i in range(0, len(found), size) for s in fresh.score_many(found[i : i + size])
    ]
    assert_same(alone, together)


def test_token_lists_spelled_like_rule_features_score_as_alone(scorer: Scorer) -> None:
    token_lists = [
        ["LEX-"], ["Q?"], ["好", "LEX+"], ["不", "LEX-", "吗"], ["¬好"], ["？"], ["吗？"],
        ["吗", "？", "吗"], [], ["非常满意"], ["不", "非常满意"], ["不", "好", "，", "好"],
        # negation windows: cut by a break, a lexicon word, a second negator, a text's end
        ["不", "推荐", "这家", "外卖", "味道", "喜欢"], ["不", "推荐", "，", "外卖", "难吃"],
        ["不", "很", "太", "推荐", "外卖"], ["不", "但是", "推荐", "外卖"],
        ["没", "不", "推荐", "外卖"], ["不", "推荐"], ["外卖", "味道"],
        ["很", "太", "好吃", "难吃"], ["不"], ["推荐", "外卖"],
    ]  # fmt: skip
    alone = [scorer.score_tokens(tokens) for tokens in token_lists]
    assert_same(alone, scorer.score_tokens_many(token_lists))


def test_a_batch_sums_exactly_the_features_training_sees(scorer: Scorer) -> None:
    """Empty tokens too, which the segmenter never makes (the one-at-a-time scorer's
    shortcuts assume none)."""
    model = scorer.model
    assert isinstance(model, LinearModel)
    weights = model.named_weights()
    token_lists = [["很", "", "好"], ["但是", "", "不"], ["", ""], *map(scorer.tokens, TRICKY)]
    for tokens, sentiment in zip(token_lists, scorer.score_tokens_many(token_lists), strict=True):
        negative = positive = 0.0
        for name, value in scorer.featurizer.all(tokens):
            pair = weights.get(name, (0.0, 0.0))
            negative, positive = negative + value * pair[0], positive + value * pair[1]
        wanted = model.probabilities(model.bias.real + negative, model.bias.imag + positive)
        assert sentiment.probabilities == pytest.approx(wanted, abs=1e-9)


@pytest.mark.parametrize(
    ("spec", "neutral"),
    [
        (FeatureSpec(), False),
        (FeatureSpec(char_ngrams=(0, 0)), True),
        (FeatureSpec(word_ngrams=1), True),
        (FeatureSpec(char_ngrams=(2, 3)), True),
        (FeatureSpec(char_ngrams=(1, 2)), True),
    ],
    ids=["two classes", "no characters", "no bigrams", "characters 2-3", "characters 1-2"],
)
def test_models_of_every_shape_score_a_batch_as_alone(
    scorer: Scorer, spec: FeatureSpec, neutral: bool
) -> None:
    examples = with_neutral(600, 1, "a") if neutral else synthetic(600, 1, "a")
    result = train(examples, [], scorer, seed=3, spec=spec)
    trained = Scorer(
        scorer.segmenter,
        result.model,
        scorer.rules,
        Thresholds(negative_confidence=result.negative_confidence),
    )
    found = ["今天的咖啡很好喝，推荐", "不推荐，太失望了", "请问明天几点开门？", *TRICKY]
    found += ["".join(random.Random(5).sample(found, 3)) for _ in range(50)]
    assert_same([trained.score(text) for text in found], trained.score_many(found))


def test_a_bayes_model_scores_a_batch_one_text_at_a_time(snownlp_scorer: Scorer) -> None:
    assert isinstance(snownlp_scorer.model, BayesModel)
    assert_same([snownlp_scorer.score(text) for text in TRICKY], snownlp_scorer.score_many(TRICKY))


@pytest.mark.parametrize("screened", [False, True])
@pytest.mark.parametrize("pairs", [False, True])
def test_a_code_table_finds_what_it_holds_and_nothing_else(screened: bool, pairs: bool) -> None:
    rng = np.random.default_rng(1)
    keys = np.unique(rng.integers(1, 2**63, 5000, dtype=np.uint64))
    seconds = rng.integers(1, 2**63, len(keys), dtype=np.uint64) if pairs else None
    weights = rng.normal(size=len(keys)) + 1j * rng.normal(size=len(keys))
    table = CodeTable(keys, weights, seconds, screened=screened)
    absent = np.setdiff1d(rng.integers(1, 2**63, 5000, dtype=np.uint64), keys)
    asked = np.concatenate((keys, absent))
    if seconds is None:
        found = table.lookup(asked)
    else:  # known first codes with other second codes are absent too
        found = table.lookup(
            np.concatenate((asked, keys)), np.concatenate((seconds, absent, seconds + 1))
        )
        absent = np.concatenate((absent, keys))
    assert found.held.tolist() == [True] * len(keys) + [False] * len(absent)
    assert found.weights.tolist() == [*weights.tolist(), *[0j] * len(absent)]
