import random
from pathlib import Path

import pytest

from monitor.text.sentiment import (
    Label,
    LinearModel,
    Scorer,
    Sentiment,
    Thresholds,
    load_model,
    save_model,
)
from monitor.text.training import (
    Example,
    TrainingError,
    clean_text,
    expected_calibration_error,
    negative_operating_point,
    ngram_features,
    train,
    without_codes,
)

POSITIVE = ["好喝", "推荐", "满意", "喜欢", "超值", "惊喜", "贴心", "回购"]
NEGATIVE = ["难喝", "失望", "退款", "投诉", "太慢", "敷衍", "后悔", "差评"]
FILLER = ["今天", "咖啡", "店里", "外卖", "朋友", "下午", "杯子", "味道"]


def synthetic(count: int, seed: int, source: str) -> list[Example]:
    """Comments whose label follows their words, with one in ten labelled against them."""
    rng = random.Random(seed)
    examples = []
    for index in range(count):
        positive = index % 2 == 0
        words = rng.sample(POSITIVE if positive else NEGATIVE, 2) + rng.sample(FILLER, 3)
        flipped = rng.random() < 0.1
        label = Label.POSITIVE if positive != flipped else Label.NEGATIVE
        examples.append(Example(tuple(words), label, source))
    return examples


NEUTRAL = ["请问", "几点", "开门", "地址", "通知", "明天", "有人", "知道"]


def with_neutral(count: int, seed: int, source: str) -> list[Example]:
    """The synthetic comments plus as many questions and announcements, labelled neutral."""
    rng = random.Random(seed)
    neutral = [
        Example((*rng.sample(NEUTRAL, 3), *rng.sample(FILLER, 2), "？"), Label.NEUTRAL, source)
        for _ in range(count // 2)
    ]
    return synthetic(count, seed, source) + neutral


def test_train_save_load_gives_the_same_predictions(scorer: Scorer, tmp_path: Path) -> None:
    result = train(with_neutral(800, 1, "a"), with_neutral(200, 2, "dev"), scorer, seed=3)
    path = tmp_path / "brand.json.gz"
    save_model(result.model, path, {"trained_on": "unit test"})
    loaded_model = load_model(str(path))
    assert isinstance(loaded_model, LinearModel) and loaded_model.neutral
    thresholds = Thresholds(negative_confidence=result.negative_confidence)
    loaded = Scorer(scorer.segmenter, loaded_model, scorer.rules, thresholds)
    trained = Scorer(scorer.segmenter, result.model, scorer.rules, thresholds)
    texts = ["今天的咖啡很好喝，推荐", "不推荐，太失望了", "请问明天几点开门？", "好是好，但是太慢"]
    for example in with_neutral(60, 4, "check"):
        assert loaded.score_tokens(example.tokens) == trained.score_tokens(example.tokens)
    for text in texts:
        assert loaded.score(text).probabilities == pytest.approx(
            trained.score(text).probabilities, abs=1e-9
        )


def test_a_three_class_model_learns_neutral_from_data(scorer: Scorer) -> None:
    result = train(with_neutral(800, 1, "a"), with_neutral(400, 2, "dev"), scorer, seed=3)
    assert result.model.neutral
    dev = result.dev["dev"]
    assert dev.neutral_as_negative < 0.1 and dev.negative_precision >= 0.85
    trained = Scorer(
        scorer.segmenter,
        result.model,
        scorer.rules,
        Thresholds(negative_confidence=result.negative_confidence),
    )
    assert trained.score("请问明天几点开门？").label is Label.NEUTRAL
    assert trained.score("太失望了，要退款").label is Label.NEGATIVE


def test_the_fast_path_adds_up_to_the_features_training_sees(scorer: Scorer) -> None:
    """Scoring sums memoised per-token and per-pair weights; training lists every feature.
    Both must give the same heads, or the model would be scored on other features."""
    result = train(with_neutral(400, 1, "a"), [], scorer, seed=3)
    trained = Scorer(scorer.segmenter, result.model, scorer.rules, scorer.thresholds)
    for text in ["今天的咖啡很好喝，推荐", "不是不推荐", "有人知道几点开门吗", "好喝但是太慢了"]:
        tokens = trained.tokens(text)
        named = dict(result.model.named_weights())
        negative, positive = result.model.bias.real, result.model.bias.imag
        for name, value in trained.featurizer.all(tokens):
            pair = named.get(name, (0.0, 0.0))
            negative, positive = negative + value * pair[0], positive + value * pair[1]
        assert trained.heads(tokens) == pytest.approx((negative, positive), abs=1e-6)


def test_rules_are_features_the_model_learns(scorer: Scorer) -> None:
    features = dict(scorer.featurizer.all(scorer.tokens("我不喜欢")))
    assert "¬喜欢" in features and "喜欢" not in features
    assert features["LEX-"] > 0 and "LEX+" not in features
    assert "Q?" in dict(scorer.featurizer.all(scorer.tokens("有人喝过吗")))


def test_training_text_loses_markup_and_codes() -> None:
    assert clean_text("{%#话题#%}今天真开心") == "今天真开心"
    assert without_codes(["好", "[泪]", "[url]"]) == ("好", "[url]")


def test_training_learns_and_reports_held_out_metrics(scorer: Scorer) -> None:
    result = train(synthetic(800, 1, "a"), synthetic(400, 2, "dev"), scorer, seed=3)
    assert result.held_out["a"].accuracy > 0.8
    assert result.dev["dev"].accuracy > 0.8
    assert result.dev["dev"].negative_precision >= 0.85
    trained = Scorer(scorer.segmenter, result.model, scorer.rules, scorer.thresholds)
    assert trained.score("失望").positive < 0.5 < trained.score("满意").positive


def test_training_needs_both_classes(scorer: Scorer) -> None:
    only_positive = [e for e in synthetic(200, 1, "a") if e.label is Label.POSITIVE]
    with pytest.raises(TrainingError, match="both positive and negative"):
        train(only_positive, [], scorer)


def test_calibration_error_is_zero_when_frequencies_match() -> None:
    assert expected_calibration_error([0.75] * 4, [True, True, True, False]) == 0
    assert expected_calibration_error([0.95] * 2, [False, False]) == pytest.approx(0.95)


def test_ngram_features_are_words_then_prefixed_bigrams_and_characters() -> None:
    assert ngram_features(("不", "好吃")) == (
        "不", "好吃", "w2:不 好吃", "c:不", "c:好", "c:吃", "c:不好", "c:好吃", "c:不好吃",
    )  # fmt: skip
    assert ngram_features(()) == ()


def test_trained_models_read_word_bigrams_and_characters(scorer: Scorer) -> None:
    result = train(synthetic(800, 1, "a"), synthetic(400, 2, "dev"), scorer)
    assert result.dev["dev"].accuracy > 0.8
    assert "w2:" in "".join(result.model.weights) and "c:" in "".join(result.model.weights)


def test_equal_source_weights_stop_a_large_source_from_outvoting_a_small_one(
    scorer: Scorer,
) -> None:
    # 难说 comes with negative comments in the large source, positive ones in the small one.
    def marked(examples: list[Example], label: Label) -> list[Example]:
        return [
            Example((*e.tokens, "难说") if e.label is label else e.tokens, e.label, e.source)
            for e in examples
        ]

    examples = marked(synthetic(900, 1, "big"), Label.NEGATIVE)
    examples += marked(synthetic(300, 2, "small"), Label.POSITIVE)
    by_size = train(examples, [], scorer, seed=3).model.weights["难说"]
    equal = train(examples, [], scorer, seed=3, balance_sources=True).model.weights.get("难说", 0.0)
    assert by_size < -0.5
    assert abs(equal) < abs(by_size) / 2


def test_the_lexicon_features_weigh_the_boost_times_what_the_fit_gave_them(
    scorer: Scorer,
) -> None:
    """Lexicon words transfer to unseen sources better than the n-grams that spell them
    (bench/sentiment.py --loso), so their features keep `lexicon_boost` times the fitted
    weight; every other weight is the fit's own."""
    examples = with_neutral(800, 1, "a")
    fitted = train(examples, [], scorer, seed=3, lexicon_boost=1.0).model.named_weights()
    boosted = train(examples, [], scorer, seed=3, lexicon_boost=3.0).model.named_weights()
    for name in ("LEX+", "LEX-"):
        assert boosted[name] == pytest.approx((3 * fitted[name][0], 3 * fitted[name][1]), abs=2e-3)
    assert boosted["c:咖"] == fitted["c:咖"]


class _Spelled:
    """A scorer whose P(negative) is written in the text's first token."""

    def score_tokens(self, tokens: tuple[str, ...]) -> Sentiment:
        return Sentiment(0.5, Label.NEUTRAL, (), (float(tokens[0]), 0.0, 0.0))


@pytest.mark.parametrize(
    ("scores", "threshold"),
    [
        # 0.8 twice: a negative and a neutral comment score alike; counting the first
        # alone would claim precision 1.0 at 0.8, where the config calls both negative
        ([("0.9", Label.NEGATIVE), ("0.8", Label.NEGATIVE), ("0.8", Label.NEUTRAL)], 0.9),
        # 0.373 or 0.3735 would let the neutral comment at 0.37350 in
        ([("0.37351", Label.NEGATIVE), ("0.37350", Label.NEUTRAL)], 0.37351),
    ],
)
def test_the_negative_threshold_calls_negative_exactly_the_items_it_was_chosen_on(
    scores: list[tuple[str, Label]], threshold: float
) -> None:
    examples = [Example((score,), label, "dev") for score, label in scores]
    found, precision, _ = negative_operating_point(_Spelled(), examples, 0.8)  # type: ignore[arg-type]
    assert found == threshold and precision == 1.0
