import random
from pathlib import Path

import pytest

from monitor.text.sentiment import Label, Scorer, load_model, save_model
from monitor.text.training import (
    Example,
    TrainingError,
    expected_calibration_error,
    ngram_features,
    train,
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


def test_train_save_load_gives_the_same_predictions(scorer: Scorer, tmp_path: Path) -> None:
    result = train(synthetic(800, 1, "a"), synthetic(200, 2, "dev"), scorer, seed=3)
    path = tmp_path / "brand.json.gz"
    save_model(result.model, path)
    loaded = Scorer(scorer.segmenter, load_model(str(path)), scorer.rules, scorer.thresholds)
    trained = Scorer(scorer.segmenter, result.model, scorer.rules, scorer.thresholds)
    for example in synthetic(50, 4, "check"):
        assert loaded.score_tokens(example.tokens).positive == pytest.approx(
            trained.score_tokens(example.tokens).positive, abs=1e-3
        )


def test_training_learns_and_reports_held_out_metrics(scorer: Scorer) -> None:
    result = train(synthetic(800, 1, "a"), synthetic(400, 2, "dev"), scorer, seed=3)
    assert result.held_out["a"].accuracy > 0.8
    assert result.dev["dev"].accuracy > 0.8
    assert result.dev["dev"].negative_precision >= 0.85
    assert result.model.weights["失望"] < 0 < result.model.weights["满意"]


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


def test_training_on_ngram_features_scores_through_the_same_scorer(scorer: Scorer) -> None:
    def featurised(examples: list[Example]) -> list[Example]:
        return [Example(ngram_features(e.tokens), e.label, e.source) for e in examples]

    result = train(featurised(synthetic(800, 1, "a")), featurised(synthetic(400, 2, "dev")), scorer)
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
