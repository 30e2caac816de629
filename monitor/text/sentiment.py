"""Sentiment: a Naive Bayes model read as per-token log-odds, with lexicon rules on top.

`SnowNLP(text).sentiments` re-segments every text with its own slow model. The same Bayes
answer is a sum of per-token log-likelihood ratios, so we precompute those once and score
jieba tokens with one dictionary lookup each. Rules from `lexicons/sentiment_rules.yaml`
then handle what a bag of words cannot: negation, degree, contrast, slang and emoji codes.
"""

from __future__ import annotations

import gzip
import heapq
import importlib.util
import json
import marshal
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from pathlib import Path
from typing import Any

import yaml

from lexicons import DIRECTORY as LEXICONS
from monitor.text.normalise import normalize
from monitor.text.segment import Segmenter

MODEL_FORMAT = "guanchao-sentiment"
MODEL_VERSION = 1
PACKAGED_MODELS = {"social": Path(__file__).parents[1] / "models" / "social.json.gz"}
SNOWNLP_MODEL = "snownlp"


class ModelError(ValueError):
    """A model file that cannot be used; the message names the file."""


class Label(StrEnum):
    NEGATIVE = "negative"
    NEUTRAL = "neutral"
    POSITIVE = "positive"


@dataclass(frozen=True)
class BayesModel:
    """Log-odds of positive vs negative: `prior` plus one weight per token.

    Tokens the model never saw still move the score by `unseen` (add-one smoothing over
    classes of different sizes); stop words are skipped entirely, as snownlp does.
    `scale` and `offset` calibrate the final log-odds (rules included), so that a
    probability of 0.9 is right about nine times in ten on held-out data.
    """

    prior: float
    unseen: float
    weights: Mapping[str, float]
    stopwords: frozenset[str]
    source: str
    scale: float = 1.0
    offset: float = 0.0

    def __post_init__(self) -> None:
        lookup = {**self.weights, **dict.fromkeys(self.stopwords, 0.0)}
        object.__setattr__(self, "_lookup", lookup)

    def weight(self, token: str) -> float:
        return self._lookup.get(token, self.unseen)  # type: ignore[attr-defined,no-any-return]

    def log_odds(self, tokens: Iterable[str]) -> float:
        return self.prior + sum(self.weight(token) for token in tokens)


def bayes_from_counts(
    negative: Mapping[str, int], positive: Mapping[str, int], stopwords: Iterable[str], source: str
) -> BayesModel:
    """Weights equal to snownlp's add-one-smoothed Bayes over the same counts.

    snownlp stores each count plus one and adds one to the class total per distinct word;
    an unseen word counts as 1. `negative` and `positive` are those stored counts.
    """
    neg_total = float(sum(negative.values()))
    pos_total = float(sum(positive.values()))
    base = math.log(neg_total) - math.log(pos_total)
    weights = {
        word: math.log(positive.get(word, 1)) - math.log(negative.get(word, 1)) + base
        for word in negative.keys() | positive.keys()
    }
    return BayesModel(
        prior=-base, unseen=base, weights=weights, stopwords=frozenset(stopwords), source=source
    )


def load_model(spec: str) -> BayesModel:
    """`snownlp` for snownlp's shipped model, `social` for the one packaged with Guanchao,
    or the path of a model file we wrote."""
    if spec == SNOWNLP_MODEL:
        return _load_snownlp()
    path = PACKAGED_MODELS.get(spec, Path(spec))
    try:
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            document = json.load(stream)
    except FileNotFoundError:
        raise ModelError(f"model file {path} does not exist") from None
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"model file {path} is not a gzipped JSON model: {error}") from None
    return _model_from_document(document, path)


def save_model(model: BayesModel, path: Path, metadata: Mapping[str, Any] | None = None) -> None:
    document = {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "metadata": dict(metadata or {}),
        "prior": model.prior,
        "unseen": model.unseen,
        "scale": model.scale,
        "offset": model.offset,
        "stopwords": sorted(model.stopwords),
        "weights": dict(sorted(model.weights.items())),
    }
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as stream:
        json.dump(document, stream, ensure_ascii=False, separators=(",", ":"))


def _model_from_document(document: Any, path: Path) -> BayesModel:
    if not isinstance(document, dict) or document.get("format") != MODEL_FORMAT:
        raise ModelError(f"model file {path} is not a {MODEL_FORMAT} model")
    if document.get("version") != MODEL_VERSION:
        raise ModelError(
            f"model file {path} has version {document.get('version')!r}; "
            f"this Guanchao reads version {MODEL_VERSION}"
        )
    try:
        weights = {str(k): float(v) for k, v in document["weights"].items()}
        return BayesModel(
            prior=float(document["prior"]),
            unseen=float(document["unseen"]),
            scale=float(document.get("scale", 1.0)),
            offset=float(document.get("offset", 0.0)),
            weights=weights,
            stopwords=frozenset(str(word) for word in document["stopwords"]),
            source=str(path),
        )
    except (KeyError, TypeError, ValueError, AttributeError) as error:
        raise ModelError(f"model file {path} is damaged: {error!r}") from None


def _load_snownlp() -> BayesModel:
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the snownlp package is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    with gzip.open(root / "sentiment" / "sentiment.marshal.3", "rb") as stream:
        stored = marshal.loads(stream.read())
    classes = stored["d"]
    return bayes_from_counts(
        classes["neg"]["d"], classes["pos"]["d"], load_stopwords(), source=SNOWNLP_MODEL
    )


def load_stopwords() -> frozenset[str]:
    """snownlp's Chinese stop-word list: words that say nothing about a topic."""
    spec = importlib.util.find_spec("snownlp")
    if spec is None or not spec.submodule_search_locations:
        raise ModelError("the snownlp package is not installed")
    root = Path(next(iter(spec.submodule_search_locations)))
    return frozenset((root / "normal" / "stopwords.txt").read_text(encoding="utf-8").split())


@dataclass(frozen=True)
class Rules:
    """The lexicon rules; see `lexicons/sentiment_rules.yaml` for what each one means."""

    polarity: Mapping[str, float]
    lexicon_weight: float = 1.0
    negators: frozenset[str] = frozenset()
    negating_prefixes: frozenset[str] = frozenset()
    negation_window: int = 3
    degree: Mapping[str, float] = field(default_factory=dict)
    contrast_words: frozenset[str] = frozenset()
    contrast_before: float = 1.0
    contrast_after: float = 1.0
    clause_breaks: frozenset[str] = frozenset()

    def polarity_of(self, token: str) -> float | None:
        """Lexicon polarity, including negated compounds such as 不好 and 没用."""
        if token in self.polarity:
            return self.polarity[token]
        if len(token) < 2:
            return None
        if token[0] in self.negating_prefixes and token[1:] in self.polarity:
            return -self.polarity[token[1:]]
        for cut in (1, 2):  # 太贵, 很差, 非常好: jieba keeps some degree compounds whole
            if token[:cut] in self.degree and token[cut:] in self.polarity:
                return self.polarity[token[cut:]] * self.degree[token[:cut]]
        return None


def load_rules(path: Path = LEXICONS / "sentiment_rules.yaml") -> Rules:
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    contrast = table.get("contrast", {})
    return Rules(
        polarity={str(k): float(v) for k, v in table["polarity"].items()},
        lexicon_weight=float(table.get("lexicon_weight", 1.0)),
        negators=frozenset(table.get("negators", [])),
        negating_prefixes=frozenset(table.get("negating_prefixes", [])),
        negation_window=int(table.get("negation_window", 3)),
        degree={str(k): float(v) for k, v in table.get("degree", {}).items()},
        contrast_words=frozenset(contrast.get("words", [])),
        contrast_before=float(contrast.get("before", 1.0)),
        contrast_after=float(contrast.get("after", 1.0)),
        clause_breaks=frozenset(table.get("clause_breaks", [])),
    )


@dataclass(frozen=True)
class Thresholds:
    """Probability of positive below `negative_below` is negative, above `positive_above`
    positive, and neutral between."""

    negative_below: float = 0.4
    positive_above: float = 0.6

    def label(self, positive: float) -> Label:
        if positive < self.negative_below:
            return Label.NEGATIVE
        if positive > self.positive_above:
            return Label.POSITIVE
        return Label.NEUTRAL


@dataclass(frozen=True, slots=True)
class Sentiment:
    positive: float
    label: Label
    evidence: tuple[tuple[str, float], ...]

    @property
    def confidence(self) -> float:
        """How sure the calibrated model is of the polarity it leans to: 0.9 means it is
        right about nine times in ten at this score on held-out data."""
        return max(self.positive, 1.0 - self.positive)

    def as_dict(self) -> dict[str, Any]:
        return {
            "sentiment": round(self.positive, 4),
            "label": self.label.value,
            "confidence": round(self.confidence, 4),
            "evidence": [[token, round(weight, 3)] for token, weight in self.evidence],
        }


class _Role(Enum):
    WORD = 0
    SENTIMENT = 1
    BREAK = 2
    CONTRAST = 3
    NEGATOR = 4
    DEGREE = 5


_ROLE_CACHE_SIZE = 500_000
EVIDENCE_FLOOR = 0.5


class Scorer:
    """Text in, `Sentiment` out. Pure: the model, rules and segmenter are handed in."""

    def __init__(
        self,
        segmenter: Segmenter,
        model: BayesModel,
        rules: Rules,
        thresholds: Thresholds = Thresholds(),
        evidence_size: int = 3,
    ) -> None:
        self.segmenter = segmenter
        self.model = model
        self.rules = rules
        self.thresholds = thresholds
        self.evidence_size = evidence_size
        self._roles: dict[str, tuple[_Role, float]] = {}

    def tokens(self, text: str) -> list[str]:
        return self.segmenter.cut(normalize(text).text)

    def score(self, text: str) -> Sentiment:
        return self.score_tokens(self.tokens(text))

    def uncalibrated_log_odds(self, tokens: Sequence[str]) -> float:
        """Model and rules together, before calibration: what calibration is fitted on."""
        return self.model.prior + sum(weight for _, weight in self._contributions(tokens))

    def score_tokens(self, tokens: Sequence[str]) -> Sentiment:
        contributions = self._contributions(tokens)
        log_odds = self.model.prior + sum(weight for _, weight in contributions)
        positive = _sigmoid(self.model.scale * log_odds + self.model.offset)
        return Sentiment(positive, self.thresholds.label(positive), self._evidence(contributions))

    def _contributions(self, tokens: Sequence[str]) -> list[tuple[str, float]]:
        """Each token's share of the log-odds after negation, degree and contrast."""
        rules, known = self.rules, self._roles
        word, sentiment, clause_break, contrast = (
            _Role.WORD, _Role.SENTIMENT, _Role.BREAK, _Role.CONTRAST
        )  # fmt: skip
        contributions: list[tuple[str, float]] = []
        negated, negation_left, degree = False, 0, 1.0
        clause_weight = 1.0
        for token in tokens:
            role, value = known.get(token) or self._role(token)
            if role is word:
                if negation_left:
                    negation_left -= 1
                    negated = negated and negation_left > 0
            elif role is sentiment:
                value = -value * degree if negated else value * degree
                negated, negation_left, degree = False, 0, 1.0
            elif role is clause_break:
                negated, negation_left, degree = False, 0, 1.0
            elif role is contrast:
                contributions = [(t, w * rules.contrast_before) for t, w in contributions]
                clause_weight = rules.contrast_after
                continue
            elif role is _Role.NEGATOR:
                negated, negation_left = not negated, rules.negation_window
                continue
            else:
                degree = value
                continue
            contributions.append((token, value * clause_weight))
        return contributions

    def _role(self, token: str) -> tuple[_Role, float]:
        """What a token does under the rules, with its log-odds (or degree factor).

        Memoised: the same few thousand tokens make up most of any stream.
        """
        rules = self.rules
        if token in rules.contrast_words and token not in rules.clause_breaks:
            role = (_Role.CONTRAST, 0.0)
        elif token in rules.negators:
            role = (_Role.NEGATOR, 0.0)
        elif token in rules.degree:
            role = (_Role.DEGREE, rules.degree[token])
        elif token in rules.clause_breaks:
            role = (_Role.BREAK, self.model.weight(token))
        else:
            polarity = rules.polarity_of(token)
            weight = self.model.weight(token)
            role = (
                (_Role.WORD, weight)
                if polarity is None
                else (_Role.SENTIMENT, weight + rules.lexicon_weight * polarity)
            )
        if len(self._roles) < _ROLE_CACHE_SIZE:
            self._roles[token] = role
        return role

    def _evidence(
        self, contributions: Sequence[tuple[str, float]]
    ) -> tuple[tuple[str, float], ...]:
        """The tokens that moved the score most.

        Only tokens worth at least `EVIDENCE_FLOOR` log-odds are considered: most tokens
        barely move the score, and leaving them out halves the cost of scoring.
        """
        totals: dict[str, float] = {}
        for token, weight in contributions:
            if weight > EVIDENCE_FLOOR or weight < -EVIDENCE_FLOOR:
                totals[token] = totals.get(token, 0.0) + weight
        ranked = heapq.nlargest(self.evidence_size, totals.items(), key=lambda item: abs(item[1]))
        return tuple((token, weight) for token, weight in ranked if weight)


def _sigmoid(log_odds: float) -> float:
    if log_odds >= 0:
        return 1.0 / (1.0 + math.exp(-log_odds))
    exp = math.exp(log_odds)
    return exp / (1.0 + exp)
