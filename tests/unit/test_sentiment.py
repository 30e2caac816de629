import gzip
import math
from pathlib import Path

import pytest

from monitor.text.sentiment import (
    Label,
    LinearModel,
    ModelError,
    Scorer,
    Sentiment,
    Thresholds,
    as_dicts,
    bayes_from_counts,
    load_model,
    save_model,
)


def test_bayes_log_odds_equal_snownlp_classifier_on_the_same_tokens(
    snownlp_scorer: Scorer,
) -> None:
    scorer = snownlp_scorer
    from snownlp.sentiment import classifier

    for text in ("物流太慢了，客服也不理人", "包装精美，味道很好，下次还买", "一般般吧"):
        tokens = [t for t in scorer.tokens(text) if t not in scorer.model.stopwords]
        label, probability = classifier.classifier.classify(tokens)
        expected = probability if label == "pos" else 1 - probability
        ours = 1 / (1 + math.exp(-scorer.model.log_odds(tokens)))
        assert ours == pytest.approx(expected, abs=1e-9)


@pytest.mark.parametrize(
    ("text", "label"),
    [
        ("好", Label.POSITIVE),
        ("不好", Label.NEGATIVE),
        ("不是不好", Label.POSITIVE),
        ("好是好，但是太贵了", Label.NEGATIVE),
        ("笑死", Label.POSITIVE),
        ("绝绝子", Label.POSITIVE),
        ("避雷", Label.NEGATIVE),
        ("踩雷", Label.NEGATIVE),
        ("[怒]", Label.NEGATIVE),
        ("气死了［怒］", Label.NEGATIVE),
        ("我不喜欢", Label.NEGATIVE),
        ("虽然贵但是好吃", Label.POSITIVE),
    ],
)
def test_rules_on_everyday_social_media_text(
    snownlp_scorer: Scorer, text: str, label: Label
) -> None:
    assert snownlp_scorer.score(text).label is label


def test_negation_flips_what_the_word_alone_says(snownlp_scorer: Scorer) -> None:
    assert snownlp_scorer.score("好").positive > 0.6 > 0.4 > snownlp_scorer.score("不好").positive


@pytest.mark.parametrize(
    "text",
    [
        "不好",
        "好是好，但是太贵了",
        "避雷这家店",
        "又踩雷了",
        "气死了[怒]",
        "物流太慢了，客服也不理人",
        "我不喜欢",
    ],
)
def test_the_packaged_model_calls_complaints_negative(scorer: Scorer, text: str) -> None:
    assert scorer.score(text).label is Label.NEGATIVE


def test_the_packaged_model_reads_negation_and_contrast(scorer: Scorer) -> None:
    assert scorer.score("不好").positive < scorer.score("好").positive
    assert scorer.score("不是不好").positive > scorer.score("不好").positive
    assert scorer.score("好是好，但是太贵了").positive < scorer.score("好是好，太贵了").positive
    assert scorer.score("虽然贵但是好吃").label is Label.POSITIVE


@pytest.mark.parametrize(
    "text",
    ["好是好，但是太贵了", "虽然贵但是好吃", "不是不好，不过物流太慢", "咖啡好喝", "有人喝过吗？"],
)
def test_the_scorer_sums_exactly_the_features_training_sees(scorer: Scorer, text: str) -> None:
    """The scorer's shortcuts (sums memoised per token and pair, contrast weights applied
    per token) add up to the features `guanchao train` fits, each times its weight."""
    model = scorer.model
    assert isinstance(model, LinearModel)
    weights = model.named_weights()
    tokens = scorer.tokens(text)
    negative = positive = 0.0
    for name, value in scorer.featurizer.all(tokens):
        pair = weights.get(name, (0.0, 0.0))
        negative, positive = negative + value * pair[0], positive + value * pair[1]
    heads = scorer.heads(tokens)
    assert heads[0] == pytest.approx(model.bias.real + negative, abs=1e-9)
    assert heads[1] == pytest.approx(model.bias.imag + positive, abs=1e-9)


@pytest.mark.parametrize("text", ["这杯咖啡很好喝", "笑死", "绝绝子"])
def test_the_packaged_model_hears_short_praise(scorer: Scorer, text: str) -> None:
    assert scorer.score(text).label is Label.POSITIVE


@pytest.mark.parametrize(
    "text",
    ["有人喝过吗？", "明天几点开门", "门店营业时间调整为早上八点"],
)
def test_questions_and_announcements_are_not_negative(scorer: Scorer, text: str) -> None:
    """The demo showed a question as a top negative comment: questions and plain
    statements are neutral, and never counted toward a negative threshold."""
    assert scorer.score(text).label is Label.NEUTRAL


def test_the_demo_question_is_not_shown_as_a_negative(scorer: Scorer) -> None:
    assert scorer.score("有人喝过云朵咖啡的新品吗？").label is not Label.NEGATIVE


def test_double_negation_is_not_a_complaint(scorer: Scorer) -> None:
    assert scorer.score("不是不好").label is Label.NEUTRAL


def test_the_packaged_model_has_three_classes_and_honest_confidence(scorer: Scorer) -> None:
    result = scorer.score("物流太慢了，客服也不理人")
    negative, neutral, positive = result.probabilities
    assert negative + neutral + positive == pytest.approx(1.0)
    assert result.label is Label.NEGATIVE and result.confidence == pytest.approx(negative)
    assert negative >= scorer.thresholds.negative_confidence
    assert result.as_dict()["probabilities"]["negative"] == pytest.approx(negative, abs=1e-4)


def test_contrast_lets_the_later_clause_decide(snownlp_scorer: Scorer) -> None:
    scorer = snownlp_scorer
    assert scorer.score("好是好，但是太贵了").positive < scorer.score("好是好，太贵了").positive


def test_evidence_names_the_words_that_moved_the_score(scorer: Scorer) -> None:
    evidence = dict(scorer.score("这家店避雷，太坑了").evidence)
    assert evidence["避雷"] < 0


def test_thresholds_make_a_neutral_band() -> None:
    thresholds = Thresholds(negative_below=0.3, positive_above=0.7)
    assert [thresholds.label(p) for p in (0.2, 0.5, 0.8)] == [
        Label.NEGATIVE,
        Label.NEUTRAL,
        Label.POSITIVE,
    ]


def test_a_saved_model_loads_and_scores_the_same(scorer: Scorer, tmp_path: Path) -> None:
    model = bayes_from_counts({"差": 9, "好": 2}, {"差": 1, "好": 8}, ["的"], source="test")
    path = tmp_path / "model.json.gz"
    save_model(model, path, {"trained_on": "unit test"})
    loaded = load_model(str(path))
    tokens = ["好", "的", "差", "没见过"]
    assert loaded.log_odds(tokens) == pytest.approx(model.log_odds(tokens))
    assert loaded.source == str(path)


def test_a_corrupt_model_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "broken.json.gz"
    path.write_bytes(b"not gzip at all")
    with pytest.raises(ModelError, match=r"broken\.json\.gz"):
        load_model(str(path))


def test_a_model_of_another_format_version_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        stream.write('{"format": "guanchao-sentiment", "version": 99}')
    with pytest.raises(ModelError, match=r"future\.json\.gz.*version 99"):
        load_model(str(path))


def test_a_version_2_file_without_its_three_class_shape_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "half.json.gz"
    with gzip.open(path, "wt", encoding="utf-8") as stream:
        stream.write('{"format": "guanchao-sentiment", "version": 2, "prior": 0}')
    with pytest.raises(ModelError, match=r"half\.json\.gz.*retrain"):
        load_model(str(path))


def test_a_missing_model_file_is_an_error_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ModelError, match=r"nowhere\.json\.gz"):
        load_model(str(tmp_path / "nowhere.json.gz"))


def test_as_dicts_gives_each_as_dict(scorer: Scorer, snownlp_scorer: Scorer) -> None:
    """The numbers rounded all at once, ties and values near them included."""
    texts = ["物流太慢了，客服也不理人", "这杯咖啡很好喝", "有人喝过吗？", "不是不好", ""]
    sentiments = scorer.score_many(texts) + snownlp_scorer.score_many(texts)
    ties = [k / 1e4 + 5e-5 for k in range(0, 10_000, 7)] + [2.675, 0.00015, 1e-7, -0.0]
    sentiments += [
        Sentiment(tie, Label.NEUTRAL, (("好", tie), ("差", -tie)), (tie, 1 - tie, tie / 2))
        for tie in ties
    ]
    assert as_dicts(sentiments) == [sentiment.as_dict() for sentiment in sentiments]
    for found, sentiment in zip(as_dicts(sentiments), sentiments, strict=True):
        assert repr(found) == repr(sentiment.as_dict())  # -0.0 too
