"""Training a sentiment model on labelled comments, and measuring it honestly.

A three-class logistic regression (negative, neutral, positive; two classes when the data
has no neutral items) over the features of `sentiment.Featurizer` is still "weights per
feature plus a bias", so the model drops into the scorer's one-lookup-per-feature path.
The rules are features, so training sees exactly what scoring computes. The model is
fitted on part of the data, calibrated (one temperature) on another part, and measured on
a third that neither step saw; the negative threshold is picked on `dev` when given.
"""

from __future__ import annotations

import importlib
import math
import random
import re
from collections import Counter
from collections.abc import Callable, Hashable, Iterable, Sequence
from dataclasses import dataclass, replace
from typing import Any, TypeVar

from monitor.text.normalise import MENTION_TOKEN, URL_TOKEN
from monitor.text.sentiment import (
    DEFAULT_FEATURES,
    LEXICON_NEGATIVE,
    LEXICON_POSITIVE,
    FeatureSpec,
    Featurizer,
    Label,
    LinearModel,
    Scorer,
)

T = TypeVar("T")

CALIBRATION_BINS = 10
CHAR_NGRAM = "c:"
CLASSES = (Label.NEGATIVE, Label.NEUTRAL, Label.POSITIVE)
PRUNE_BELOW = 0.01  # weights this small change no label; leaving them out keeps files small
LEXICON_BOOST = 3.0  # see fit_linear
TEMPERATURES = tuple(0.5 * 1.08**step for step in range(40))
_MARKUP_RE = re.compile(r"\{%.*?%\}")
_CODE_RE = re.compile(r"\[[^\[\]\s]{1,10}\]")


class TrainingError(ValueError):
    """Training data that cannot produce a model; the message says what is missing."""


@dataclass(frozen=True, slots=True)
class Example:
    tokens: tuple[str, ...]
    label: Label
    source: str


@dataclass(frozen=True)
class Metrics:
    """Accuracy and macro-F1 on positive/negative items (positive when the score is at
    least 0.5); the negative label's precision and recall over all items, where calling a
    neutral comment negative is a false alarm like any other; the share of neutral items
    labelled negative; calibration error of P(negative) over all items."""

    items: int
    accuracy: float
    macro_f1: float
    negative_precision: float
    negative_recall: float
    calibration_error: float
    neutral_as_negative: float = math.nan


def clean_text(text: str) -> str:
    """Training text without Weibo's `{%…%}` topic, place and video-card markup: it marks
    how a post was made, not what it says, and one source's labels lean with it."""
    return _MARKUP_RE.sub("", text) if "{%" in text else text


def without_codes(tokens: Iterable[str]) -> tuple[str, ...]:
    """Tokens without Weibo emoji codes such as [泪]: for sources whose labels were made
    from those codes, where a model would learn the codes instead of the words."""
    return tuple(
        token
        for token in tokens
        if token in (URL_TOKEN, MENTION_TOKEN) or _CODE_RE.fullmatch(token) is None
    )


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


def fit_linear(
    examples: Sequence[Example],
    featurizer: Featurizer,
    regularisation: float,
    min_count: int,
    source: str,
    balance_sources: bool = False,
    lexicon_boost: float = LEXICON_BOOST,
) -> LinearModel:
    """Logistic regression on the featurizer's features (values, not just presence).

    Three classes when there are neutral examples, else positive vs negative. With
    `balance_sources`, every source weighs the same in the fit however many examples it
    has (sample weights averaging one, so the regularisation keeps its strength).

    The weights of the lexicon features (`LEX+`, `LEX-`) are then multiplied by
    `lexicon_boost`. The fit splits the credit for a sentiment word between the lexicon
    and the word and character n-grams that spell it, and on its own sources the n-grams
    explain more; on a source it never saw, the hand-written lexicon holds up better than
    n-grams learned from other sources. Measured leave-one-source-out
    (`bench/sentiment.py --loso`), 3 transfers best: 2, 3 and 4 all beat 1 on every
    left-out set, and picking the factor by leaving out each training source in turn
    picks 2 to 6. Temperature, neutral prior and threshold are fitted afterwards, on the
    boosted model, so its probabilities stay calibrated.
    """
    from sklearn.linear_model import LogisticRegression

    labels = {example.label for example in examples}
    if not {Label.POSITIVE, Label.NEGATIVE} <= labels:
        raise TrainingError("training needs both positive and negative examples")
    rows = [featurizer.all(example.tokens) for example in examples]
    vocabulary = _vocabulary(rows, min_count)
    matrix = _matrix(rows, vocabulary)
    target = [example.label.value for example in examples]
    classifier = LogisticRegression(C=regularisation, max_iter=1000, tol=1e-3)
    classifier.fit(matrix, target, sample_weight=_sample_weights(examples, balance_sources))
    names = list(vocabulary)
    neutral = Label.NEUTRAL in labels
    for name in (LEXICON_POSITIVE, LEXICON_NEGATIVE):
        if name in vocabulary:
            classifier.coef_[:, vocabulary[name]] *= lexicon_boost
    if neutral:  # classes_ sorted: negative, neutral, positive; heads against neutral
        coef, intercept = classifier.coef_, classifier.intercept_
        heads = (coef[0] - coef[1], coef[2] - coef[1])
        bias = (float(intercept[0] - intercept[1]), float(intercept[2] - intercept[1]))
    else:  # one row: log-odds of positive against negative
        heads = (0.0 * classifier.coef_[0], classifier.coef_[0])
        bias = (0.0, float(classifier.intercept_[0]))
    weights = {
        name: (round(float(negative), 3), round(float(positive), 3))
        for name, negative, positive in zip(names, heads[0], heads[1], strict=True)
        if abs(negative) >= PRUNE_BELOW or abs(positive) >= PRUNE_BELOW
    }
    return LinearModel.from_named(bias, weights, neutral, featurizer.spec, source)


def _vocabulary(rows: Sequence[Sequence[tuple[str, float]]], min_count: int) -> dict[str, int]:
    counts: Counter[str] = Counter()
    for row in rows:
        counts.update({name for name, _ in row})
    kept = sorted(name for name, count in counts.items() if count >= min_count)
    return {name: index for index, name in enumerate(kept)}


def _matrix(rows: Sequence[Sequence[tuple[str, float]]], vocabulary: dict[str, int]) -> Any:
    """Sparse rows of summed feature values (a repeated feature counts each time, as the
    scorer's sum does)."""
    sparse: Any = importlib.import_module("scipy.sparse")  # untyped, like sklearn

    indptr, indices, data = [0], [], []
    for row in rows:
        for name, value in row:
            column = vocabulary.get(name)
            if column is not None:
                indices.append(column)
                data.append(value)
        indptr.append(len(indices))
    matrix = sparse.csr_matrix((data, indices, indptr), shape=(len(rows), len(vocabulary)))
    matrix.sum_duplicates()
    return matrix


def _sample_weights(examples: Sequence[Example], balance_sources: bool) -> list[float] | None:
    if not balance_sources:
        return None
    sizes = Counter(example.source for example in examples)
    return [len(examples) / (len(sizes) * sizes[example.source]) for example in examples]


def fit_temperature(scorer: Scorer, examples: Sequence[Example]) -> float:
    """The temperature that makes the probabilities honest on `examples` (least log-loss
    over a grid): one number, so it cannot change which class is likeliest."""
    model = scorer.model
    assert isinstance(model, LinearModel)
    heads = [scorer.heads(example.tokens) for example in examples]
    wanted = [CLASSES.index(example.label) for example in examples]
    if not model.neutral:
        keep = [i for i, label in enumerate(wanted) if label != 1]
        heads, wanted = [heads[i] for i in keep], [wanted[i] for i in keep]
    if not heads:
        raise TrainingError("calibration needs positive and negative examples")

    def loss(temperature: float) -> float:
        tempered = replace(model, temperature=temperature)
        total = 0.0
        for (negative, positive), label in zip(heads, wanted, strict=True):
            total -= math.log(max(tempered.probabilities(negative, positive)[label], 1e-12))
        return total

    return min(TEMPERATURES, key=loss)


NEUTRAL_SHIFTS = tuple(step / 10 for step in range(31))


def fit_neutral_prior(scorer: Scorer, examples: Sequence[Example]) -> complex:
    """How much to lower both heads (i.e. raise neutral's prior) so that the probabilities
    fit `examples` best (least log-loss over a grid), as a complex shift of the bias.

    Only SMP2020 has neutral posts, so in the training mix neutral is rarer than in the
    comments we score; this is the prior correction for that, fitted on the tuning set.
    Zero for a two-class model or when `examples` has no neutral item.
    """
    model = scorer.model
    assert isinstance(model, LinearModel)
    if not model.neutral or not any(e.label is Label.NEUTRAL for e in examples):
        return 0j
    heads = [scorer.heads(example.tokens) for example in examples]
    wanted = [CLASSES.index(example.label) for example in examples]

    def loss(shift: float) -> float:
        total = 0.0
        for (negative, positive), label in zip(heads, wanted, strict=True):
            found = model.probabilities(negative - shift, positive - shift)[label]
            total -= math.log(max(found, 1e-12))
        return total

    best = min(NEUTRAL_SHIFTS, key=loss)
    return complex(best, best)


def evaluate(scorer: Scorer, examples: Sequence[Example]) -> Metrics:
    """See `Metrics`; the negative label is the scorer's own."""
    scored = [(example.label, scorer.score_tokens(example.tokens)) for example in examples]
    polar = [(label, result.positive) for label, result in scored if label is not Label.NEUTRAL]
    if not polar:
        raise TrainingError("no positive or negative examples to evaluate on")
    truth = [label is Label.POSITIVE for label, _ in polar]
    guess = [positive >= 0.5 for _, positive in polar]
    called_negative = [label for label, result in scored if result.label is Label.NEGATIVE]
    negatives = sum(label is Label.NEGATIVE for label, _ in scored)
    neutrals = [result for label, result in scored if label is Label.NEUTRAL]
    hits = sum(label is Label.NEGATIVE for label in called_negative)
    return Metrics(
        items=len(scored),
        accuracy=sum(t == g for t, g in zip(truth, guess, strict=True)) / len(polar),
        macro_f1=_macro_f1(truth, guess),
        negative_precision=hits / len(called_negative) if called_negative else math.nan,
        negative_recall=hits / negatives if negatives else math.nan,
        calibration_error=expected_calibration_error(
            [result.negative for _, result in scored],
            [label is Label.NEGATIVE for label, _ in scored],
        ),
        neutral_as_negative=(
            sum(result.label is Label.NEGATIVE for result in neutrals) / len(neutrals)
            if neutrals
            else math.nan
        ),
    )


def negative_operating_point(
    scorer: Scorer, examples: Sequence[Example], target_precision: float
) -> tuple[float, float, float]:
    """The lowest P(negative) threshold whose negative precision reaches the target, with
    the precision and recall there. Neutral items count as not negative. The threshold is
    written with as few decimals (three at least) as keep the next lower score below it,
    so that the config's number calls negative exactly the items counted here."""
    scored = sorted(
        ((scorer.score_tokens(example.tokens).negative, example.label is Label.NEGATIVE)
         for example in examples),
        reverse=True,
    )  # fmt: skip
    negatives = sum(is_negative for _, is_negative in scored)
    if not negatives:
        raise TrainingError("no negative examples to choose a threshold on")
    best = (1.0, math.nan, 0.0)
    below = -math.inf  # the highest score under the threshold
    hits = 0
    for count, (negative, is_negative) in enumerate(scored, start=1):
        hits += is_negative
        following = scored[count][0] if count < len(scored) else -math.inf
        if following < negative and hits / count >= target_precision:  # ties: all or none
            best, below = (negative, hits / count, hits / negatives), following
    return _short(best[0], below), best[1], best[2]


def _short(threshold: float, below: float) -> float:
    """`threshold` rounded down to the fewest decimals (from three) that stay above `below`."""
    for digits in range(3, 10):
        scale = 10.0**digits
        shortened = math.floor(threshold * scale) / scale
        if shortened > below:
            return shortened
    return threshold


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
    model: LinearModel
    negative_confidence: float
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
    spec: FeatureSpec = DEFAULT_FEATURES,
    lexicon_boost: float = LEXICON_BOOST,
) -> TrainingResult:
    """Fit, calibrate, pick the negative threshold (on `dev` when given), and measure.

    `scorer` supplies the segmenter, the rules and the thresholds the model will run under.
    `balance_sources` weighs every source equally in the fit instead of by its size;
    `lexicon_boost` scales the lexicon features' weights (see `fit_linear`).
    """
    check_options(regularisation, min_count, target_precision)
    training, calibration, test = split_examples(examples, example_group, held_out, seed)
    featurizer = Featurizer(scorer.rules, spec)
    fitted = fit_linear(
        training, featurizer, regularisation, min_count, source, balance_sources, lexicon_boost
    )
    temperature = fit_temperature(_with(scorer, fitted), calibration or training)
    model = replace(fitted, temperature=temperature)
    tuning = list(dev) or calibration or training
    model = replace(model, bias=model.bias - fit_neutral_prior(_with(scorer, model), tuning))
    negative_confidence, _, _ = negative_operating_point(
        _with(scorer, model), tuning, target_precision
    )
    final = _with(scorer, model, negative_confidence)
    return TrainingResult(
        model=model,
        negative_confidence=negative_confidence,
        held_out=_by_source(final, test),
        dev=_by_source(final, dev),
    )


def _with(scorer: Scorer, model: LinearModel, negative_confidence: float | None = None) -> Scorer:
    thresholds = scorer.thresholds
    if negative_confidence is not None:
        thresholds = replace(thresholds, negative_confidence=negative_confidence)
    return Scorer(scorer.segmenter, model, scorer.rules, thresholds)


def _by_source(scorer: Scorer, examples: Sequence[Example]) -> dict[str, Metrics]:
    groups: dict[str, list[Example]] = {}
    for example in examples:
        groups.setdefault(example.source, []).append(example)
    return {source: evaluate(scorer, group) for source, group in sorted(groups.items())}
