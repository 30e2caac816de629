"""Training a sentiment model on labelled comments, and measuring it honestly.

A logistic regression over token presence is still "one weight per token plus a prior",
so the trained model drops into the scorer's one-lookup-per-token path unchanged. It is
fitted on part of the data, calibrated (Platt scaling, rules included) on another part,
and measured on a third that neither step saw.
"""

from __future__ import annotations

import math
import random
from collections import Counter
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, replace
from typing import TypeVar

from monitor.text.sentiment import BayesModel, Label, Scorer

T = TypeVar("T")

CALIBRATION_BINS = 10
CHAR_NGRAM = "c:"


class TrainingError(ValueError):
    """Training data that cannot produce a model; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class Example:
    tokens: tuple[str, ...]
    label: Label
    source: str


@dataclass(frozen=True)
class Metrics:
    """Binary metrics on positive/negative items; neutral items only in `negative_precision`,
    where calling a neutral comment negative is a false alarm like any other."""

    items: int
    accuracy: float
    macro_f1: float
    negative_precision: float
    negative_recall: float
    calibration_error: float


def split_examples(
    items: Sequence[T], key: Callable[[T], Hashable], held_out: float, seed: int
) -> tuple[list[T], list[T], list[T]]:
    """(train, calibration, held out): within each `key` group (source and label), the same
    fractions. Generic so that the benchmark can rebuild exactly the held-out part."""
    rng = random.Random(seed)
    groups: dict[Hashable, list[T]] = {}
    for item in items:
        groups.setdefault(key(item), []).append(item)
    train: list[T] = []
    calibration: list[T] = []
    test: list[T] = []
    for group in groups.values():
        rng.shuffle(group)
        cut = round(len(group) * held_out)
        test += group[:cut]
        calibration += group[cut : 2 * cut]
        train += group[2 * cut :]
    return train, calibration, test


def example_group(example: Example) -> tuple[str, Label]:
    return example.source, example.label


def ngram_features(
    tokens: Sequence[str], word_ngrams: int = 2, char_ngrams: tuple[int, int] = (1, 3)
) -> tuple[str, ...]:
    """The tokens, then word n-grams (2..`word_ngrams`) and character n-grams of the text the
    tokens spell, each a string of its own: still one weight per feature, one lookup each.

    The extra features carry prefixes (`w2:`, `c:`) that no lexicon rule matches, and come
    after the words so that negation windows count words only. A model trained on these
    features must be scored on `ngram_features(scorer.tokens(text))`.
    """
    features = list(tokens)
    for n in range(2, word_ngrams + 1):
        features += (f"w{n}:" + " ".join(tokens[i : i + n]) for i in range(len(tokens) - n + 1))
    text = "".join(tokens)
    low, high = char_ngrams
    for n in range(low, high + 1):
        features += (CHAR_NGRAM + text[i : i + n] for i in range(len(text) - n + 1))
    return tuple(features)


def fit_weights(
    examples: Sequence[Example],
    regularisation: float,
    min_count: int,
    source: str,
    balance_sources: bool = False,
) -> BayesModel:
    """Logistic regression on which tokens a text contains (positive vs negative).

    With `balance_sources`, every source weighs the same in the fit however many examples
    it has (sample weights averaging one, so the regularisation keeps its strength).
    """
    from sklearn.feature_extraction.text import CountVectorizer
    from sklearn.linear_model import LogisticRegression

    polar = [example for example in examples if example.label is not Label.NEUTRAL]
    if len({example.label for example in polar}) < 2:
        raise TrainingError("training needs both positive and negative examples")
    vectorizer = CountVectorizer(analyzer=_identity, binary=True, min_df=min_count, lowercase=False)
    features = vectorizer.fit_transform([example.tokens for example in polar])
    target = [example.label is Label.POSITIVE for example in polar]
    classifier = LogisticRegression(C=regularisation, max_iter=2000, solver="liblinear")
    weights_by_example = None
    if balance_sources:
        sizes = Counter(example.source for example in polar)
        weights_by_example = [
            len(polar) / (len(sizes) * sizes[example.source]) for example in polar
        ]
    classifier.fit(features, target, sample_weight=weights_by_example)
    vocabulary = vectorizer.get_feature_names_out()
    weights = {
        str(token): round(float(weight), 4)
        for token, weight in zip(vocabulary, classifier.coef_[0], strict=True)
        if abs(weight) >= 0.005
    }
    return BayesModel(
        prior=float(classifier.intercept_[0]),
        unseen=0.0,
        weights=weights,
        stopwords=frozenset(),
        source=source,
    )


def _identity(tokens: tuple[str, ...]) -> tuple[str, ...]:
    return tokens


def fit_calibration(scorer: Scorer, examples: Sequence[Example]) -> tuple[float, float]:
    """Platt scaling: P(positive) = sigmoid(scale * log_odds + offset)."""
    from sklearn.linear_model import LogisticRegression

    polar = [example for example in examples if example.label is not Label.NEUTRAL]
    if len({example.label for example in polar}) < 2:
        raise TrainingError("calibration needs both positive and negative examples")
    log_odds = [[scorer.uncalibrated_log_odds(example.tokens)] for example in polar]
    target = [example.label is Label.POSITIVE for example in polar]
    platt = LogisticRegression(C=1e6, max_iter=1000).fit(log_odds, target)
    return float(platt.coef_[0][0]), float(platt.intercept_[0])


def evaluate(scorer: Scorer, examples: Sequence[Example]) -> Metrics:
    """Positive/negative decided at 0.5; negative precision uses the scorer's own label."""
    scored = [(example.label, scorer.score_tokens(example.tokens)) for example in examples]
    polar = [(label, result.positive) for label, result in scored if label is not Label.NEUTRAL]
    if not polar:
        raise TrainingError("no positive or negative examples to evaluate on")
    truth = [label is Label.POSITIVE for label, _ in polar]
    guess = [positive >= 0.5 for _, positive in polar]
    called_negative = [label for label, result in scored if result.label is Label.NEGATIVE]
    negatives = sum(label is Label.NEGATIVE for label, _ in scored)
    hits = sum(label is Label.NEGATIVE for label in called_negative)
    return Metrics(
        items=len(scored),
        accuracy=sum(t == g for t, g in zip(truth, guess, strict=True)) / len(polar),
        macro_f1=_macro_f1(truth, guess),
        negative_precision=hits / len(called_negative) if called_negative else math.nan,
        negative_recall=hits / negatives if negatives else math.nan,
        calibration_error=expected_calibration_error([positive for _, positive in polar], truth),
    )


def negative_operating_point(
    scorer: Scorer, examples: Sequence[Example], target_precision: float
) -> tuple[float, float, float]:
    """The highest `negative_below` whose negative precision reaches the target, with the
    precision and recall there. Neutral items count as not negative."""
    scored = sorted(
        (scorer.score_tokens(example.tokens).positive, example.label is Label.NEGATIVE)
        for example in examples
    )
    negatives = sum(is_negative for _, is_negative in scored)
    if not negatives:
        raise TrainingError("no negative examples to choose a threshold on")
    best = (0.0, math.nan, 0.0)
    hits = 0
    for count, (positive, is_negative) in enumerate(scored, start=1):
        hits += is_negative
        if hits / count >= target_precision:
            best = (positive, hits / count, hits / negatives)
    return best


def expected_calibration_error(probabilities: Sequence[float], truth: Sequence[bool]) -> float:
    """Mean gap between predicted and observed frequency over equal-width bins."""
    bins: list[list[tuple[float, bool]]] = [[] for _ in range(CALIBRATION_BINS)]
    for probability, outcome in zip(probabilities, truth, strict=True):
        bins[min(int(probability * CALIBRATION_BINS), CALIBRATION_BINS - 1)].append(
            (probability, outcome)
        )
    total = len(probabilities)
    gaps = 0.0
    for items in (items for items in bins if items):
        predicted = sum(probability for probability, _ in items) / len(items)
        observed = sum(outcome for _, outcome in items) / len(items)
        gaps += len(items) / total * abs(predicted - observed)
    return gaps


def _macro_f1(truth: Sequence[bool], guess: Sequence[bool]) -> float:
    scores = []
    for cls in (True, False):
        tp = sum(t == cls and g == cls for t, g in zip(truth, guess, strict=True))
        fp = sum(t != cls and g == cls for t, g in zip(truth, guess, strict=True))
        fn = sum(t == cls and g != cls for t, g in zip(truth, guess, strict=True))
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / 2


@dataclass(frozen=True)
class TrainingResult:
    model: BayesModel
    negative_below: float
    held_out: dict[str, Metrics]
    dev: dict[str, Metrics]


def check_options(regularisation: float, min_count: int, target_precision: float) -> None:
    """Options scikit-learn would refuse deep inside a fit (or accept and mean nothing)."""
    if not 0 < regularisation < math.inf:
        raise TrainingError(f"--regularisation must be a positive number, not {regularisation}")
    if min_count < 1:
        raise TrainingError(f"--min-count must be at least 1, not {min_count}")
    if not 0 < target_precision <= 1:
        raise TrainingError(
            f"--target-precision must be above 0 and at most 1, not {target_precision}"
        )


def train(
    examples: Sequence[Example],
    dev: Sequence[Example],
    scorer: Scorer,
    *,
    held_out: float = 0.1,
    seed: int = 7,
    regularisation: float = 1.0,
    min_count: int = 2,
    target_precision: float = 0.85,
    source: str = "guanchao train",
    balance_sources: bool = False,
) -> TrainingResult:
    """Fit, calibrate, pick the negative threshold (on `dev` when given), and measure.

    `scorer` supplies the rules and the label band that the trained model will run under.
    `balance_sources` weighs every source equally in the fit instead of by its size.
    """
    check_options(regularisation, min_count, target_precision)
    training, calibration, test = split_examples(examples, example_group, held_out, seed)
    fitted = fit_weights(training, regularisation, min_count, source, balance_sources)
    scale, offset = fit_calibration(_with(scorer, fitted), calibration)
    model = replace(fitted, scale=scale, offset=offset)
    tuning = list(dev) or calibration
    threshold, _, _ = negative_operating_point(_with(scorer, model), tuning, target_precision)
    negative_below = min(math.ceil(threshold * 1000) / 1000, scorer.thresholds.positive_above)
    final = _with(scorer, model, negative_below)
    return TrainingResult(
        model=model,
        negative_below=negative_below,
        held_out=_by_source(final, test),
        dev=_by_source(final, dev),
    )


def _with(scorer: Scorer, model: BayesModel, negative_below: float | None = None) -> Scorer:
    thresholds = scorer.thresholds
    if negative_below is not None:
        thresholds = replace(thresholds, negative_below=negative_below)
    return Scorer(scorer.segmenter, model, scorer.rules, thresholds)


def _by_source(scorer: Scorer, examples: Sequence[Example]) -> dict[str, Metrics]:
    groups: dict[str, list[Example]] = {}
    for example in examples:
        groups.setdefault(example.source, []).append(example)
    return {source: evaluate(scorer, group) for source, group in sorted(groups.items())}
