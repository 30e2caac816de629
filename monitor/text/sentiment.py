"""Sentiment: a sum of per-feature weights, one dictionary lookup per feature.

Two kinds of model share that shape. `BayesModel` reads snownlp's Naive Bayes as per-token
log-odds (positive vs negative), with the rules of `lexicons/sentiment_rules.yaml` on top.
`LinearModel`, what `guanchao train` writes, is a three-class logistic regression
(negative, neutral, positive) whose features already contain the rules: a negated word is
its own feature (`¬好`), lexicon words add to `LEX+`/`LEX-`, a contrast word scales the
clauses around it, and questions are marked. Training and scoring go through the same
`Featurizer`, so the rules cannot disagree with the weights they were trained with.
"""

from __future__ import annotations

import gzip
import heapq
import importlib.util
import json
import marshal
import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum, StrEnum
from functools import cached_property, lru_cache
from itertools import pairwise, repeat
from operator import mul
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from lexicons import DIRECTORY as LEXICONS
from monitor.text.normalise import normalized_text, normalized_texts
from monitor.text.segment import Segmenter

if TYPE_CHECKING:
    from monitor.text.batch import ModelTables, Scored, TokenTable

MODEL_FORMAT = "guanchao-sentiment"
MODEL_VERSION = 2
BAYES_MODEL_VERSION = 1
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


def load_model(spec: str) -> BayesModel | LinearModel:
    """`snownlp` for snownlp's shipped model, `social` for the one packaged with Guanchao,
    or the path of a model file we wrote."""
    if spec == SNOWNLP_MODEL:
        return _load_snownlp()
    path = PACKAGED_MODELS.get(spec, Path(spec))
    try:
        stat = path.stat()
    except FileNotFoundError:
        raise ModelError(f"model file {path} does not exist") from None
    except OSError as error:
        raise ModelError(f"model file {path} cannot be read: {error}") from None
    return _load_file(path, stat.st_mtime_ns, stat.st_size)


@lru_cache(maxsize=4)
def _load_file(path: Path, mtime_ns: int, size: int) -> BayesModel | LinearModel:
    """Read once per file version: the packaged model takes seconds to parse, and a worker
    (comments, chat QA) and the tests build several scorers from it. Models are never
    changed after loading."""
    try:
        with gzip.open(path, "rt", encoding="utf-8") as stream:
            document = json.load(stream)
    except FileNotFoundError:
        raise ModelError(f"model file {path} does not exist") from None
    except (OSError, EOFError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise ModelError(f"model file {path} is not a gzipped JSON model: {error}") from None
    return _model_from_document(document, path)


def save_model(
    model: BayesModel | LinearModel, path: Path, metadata: Mapping[str, Any] | None = None
) -> None:
    if isinstance(model, LinearModel):
        document = _linear_document(model, metadata)
    else:
        document = _bayes_document(model, metadata)
    with gzip.open(path, "wt", encoding="utf-8", compresslevel=9) as stream:
        json.dump(document, stream, ensure_ascii=False, separators=(",", ":"))


def _bayes_document(model: BayesModel, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    return {
        "format": MODEL_FORMAT,
        "version": BAYES_MODEL_VERSION,
        "kind": "bayes",
        "metadata": dict(metadata or {}),
        "prior": model.prior,
        "unseen": model.unseen,
        "scale": model.scale,
        "offset": model.offset,
        "stopwords": sorted(model.stopwords),
        "weights": dict(sorted(model.weights.items())),
    }


def _linear_document(model: LinearModel, metadata: Mapping[str, Any] | None) -> dict[str, Any]:
    spec = model.spec
    return {
        "format": MODEL_FORMAT,
        "version": MODEL_VERSION,
        "kind": "linear",
        "metadata": dict(metadata or {}),
        "classes": 3 if model.neutral else 2,
        "bias": [model.bias.real, model.bias.imag],
        "temperature": model.temperature,
        "features": {"word_ngrams": spec.word_ngrams, "char_ngrams": list(spec.char_ngrams)},
        "weights": {name: list(pair) for name, pair in sorted(model.named_weights().items())},
    }


def _model_from_document(document: Any, path: Path) -> BayesModel | LinearModel:
    if not isinstance(document, dict) or document.get("format") != MODEL_FORMAT:
        raise ModelError(f"model file {path} is not a {MODEL_FORMAT} model")
    version = document.get("version")
    if version == MODEL_VERSION and document.get("kind") == "linear":
        return _linear_from_document(document, path)
    if version == BAYES_MODEL_VERSION and "prior" in document:
        return _bayes_from_document(document, path)
    raise ModelError(
        f"model file {path} has version {version!r}; this Guanchao reads version "
        f"{MODEL_VERSION} (three-class models from `guanchao train`) and version "
        f"{BAYES_MODEL_VERSION} Bayes models; retrain it with `guanchao train`"
    )


def _linear_from_document(document: dict[str, Any], path: Path) -> LinearModel:
    try:
        features = document["features"]
        low, high = (int(n) for n in features["char_ngrams"])
        weights = {str(k): (float(v[0]), float(v[1])) for k, v in document["weights"].items()}
        return LinearModel.from_named(
            bias=(float(document["bias"][0]), float(document["bias"][1])),
            weights=weights,
            neutral=int(document["classes"]) == 3,
            spec=FeatureSpec(int(features["word_ngrams"]), (low, high)),
            temperature=float(document.get("temperature", 1.0)),
            source=str(path),
        )
    except (KeyError, TypeError, ValueError, AttributeError, IndexError) as error:
        raise ModelError(f"model file {path} is damaged: {error!r}") from None


def _bayes_from_document(document: dict[str, Any], path: Path) -> BayesModel:
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
class FeatureSpec:
    """Which n-grams a linear model reads besides its rule-aware words."""

    word_ngrams: int = 2
    char_ngrams: tuple[int, int] = (1, 3)


WORD_BIGRAM = "w2:"
CHAR_NGRAM = "c:"
NEGATED = "¬"
LEXICON_POSITIVE = "LEX+"
LEXICON_NEGATIVE = "LEX-"
QUESTION = "Q?"
QUESTION_SHOWN = "？"  # the token the evidence shows for Q?
QUESTION_ENDINGS = frozenset({"吗", "呢", "么", "嘛", "吗？", "？", "?"})
QUESTION_MARKS = frozenset({"？", "?"})


@dataclass(frozen=True)
class LinearModel:
    """Three-class logistic regression, read as two heads against neutral.

    Each feature has (negative, positive) log-odds against neutral, held as one complex
    number (real: negative, imaginary: positive) so that a text costs one lookup per
    feature and one C-level sum. Neutral is the zero reference. `neutral` is False for a
    model trained on positive and negative only: then P(positive) is the sigmoid of the
    positive head minus the negative one. `temperature` divides the heads (calibration).
    `words` holds words and rule features (str keys) and word bigrams (tuple keys),
    `chars` character n-grams; the file stores one table with prefixed names (`w2:`, `c:`).
    """

    bias: complex
    words: Mapping[str | tuple[str, str], complex]
    chars: Mapping[str, complex]
    neutral: bool
    spec: FeatureSpec
    source: str
    temperature: float = 1.0

    @classmethod
    def from_named(
        cls,
        bias: tuple[float, float],
        weights: Mapping[str, tuple[float, float]],
        neutral: bool,
        spec: FeatureSpec,
        source: str,
        temperature: float = 1.0,
    ) -> LinearModel:
        """From one table of prefixed feature names, as training and the file have them."""
        words: dict[str | tuple[str, str], complex] = {}
        chars: dict[str, complex] = {}
        for name, (negative, positive) in weights.items():
            pair = complex(negative, positive)
            if name.startswith(WORD_BIGRAM):
                first, _, second = name[len(WORD_BIGRAM) :].partition(" ")
                words[(first, second)] = pair
            elif name.startswith(CHAR_NGRAM):
                chars[name[len(CHAR_NGRAM) :]] = pair
            else:
                words[name] = pair
        return cls(complex(*bias), words, chars, neutral, spec, source, temperature)

    @property
    def weights(self) -> dict[str, float]:
        """Positive-vs-negative log-odds per feature name: what a person reads."""
        return {name: pos - neg for name, (neg, pos) in self.named_weights().items()}

    def named_weights(self) -> dict[str, tuple[float, float]]:
        named = {
            (key if isinstance(key, str) else f"{WORD_BIGRAM}{key[0]} {key[1]}"): pair
            for key, pair in self.words.items()
        }
        named |= {CHAR_NGRAM + key: pair for key, pair in self.chars.items()}
        return {name: (pair.real, pair.imag) for name, pair in named.items()}

    @cached_property
    def tables(self) -> ModelTables:
        """Its weights keyed by integer codes, for scoring many texts at once
        (`monitor.text.batch`); built on first use (about a second) and kept."""
        from monitor.text.batch import ModelTables  # numpy: only where batches are scored

        return ModelTables(self)

    def probabilities_of(self, heads: Any) -> Any:
        """`probabilities` of an array of heads (negative + positive·j), as rows; the same
        numbers to within rounding in the last digit."""
        import numpy as np

        scale = 1.0 / self.temperature
        negative, positive = heads.real * scale, heads.imag * scale
        if not self.neutral:
            odds = positive - negative
            low = np.exp(np.minimum(odds, 0.0))  # as _sigmoid: exp of what is not positive
            p = np.where(odds >= 0, 1.0 / (1.0 + np.exp(-np.maximum(odds, 0.0))), low / (1.0 + low))
            return np.stack((1.0 - p, np.zeros_like(p), p), axis=1)
        top = np.maximum(np.maximum(negative, positive), 0.0)
        e_neg, e_neu, e_pos = np.exp(negative - top), np.exp(-top), np.exp(positive - top)
        total = e_neg + e_neu + e_pos
        return np.stack((e_neg / total, e_neu / total, e_pos / total), axis=1)

    def probabilities(self, negative: float, positive: float) -> tuple[float, float, float]:
        """(P(negative), P(neutral), P(positive)) from the summed heads."""
        scale = 1.0 / self.temperature
        negative, positive = negative * scale, positive * scale
        if not self.neutral:
            p = _sigmoid(positive - negative)
            return 1.0 - p, 0.0, p
        top = max(negative, positive, 0.0)
        e_neg, e_neu, e_pos = (
            math.exp(negative - top), math.exp(-top), math.exp(positive - top)
        )  # fmt: skip
        total = e_neg + e_neu + e_pos
        return e_neg / total, e_neu / total, e_pos / total


WordFeature = tuple[str, float, str]  # (feature, value, the token it shows as evidence)
Ranges = list[tuple[int, int, float]] | None  # [start, end) positions with one value


@dataclass(frozen=True, slots=True)
class Features:
    """A text's features. `words`: rule-aware word features with their values. `bigrams`:
    one per token after the first; `grams[k]`: character n-grams of length low + k, in
    order. Values come from `token_ranges` (bigrams, by the token they end in) and
    `char_ranges` (n-grams, by the character they end in); None means all 1."""

    words: list[WordFeature]
    bigrams: list[tuple[str, str]]
    grams: list[list[str]]
    low: int
    token_ranges: Ranges
    char_ranges: Ranges

    def named(self) -> list[tuple[str, float]]:
        """Every feature with its value, named as the model file names them (training)."""
        found = [(name, value) for name, value, _ in self.words]
        bigram_values = _expand(len(self.bigrams), self.token_ranges, 1)
        found += (
            (f"{WORD_BIGRAM}{a} {b}", value)
            for (a, b), value in zip(self.bigrams, bigram_values, strict=True)
        )
        for k, grams in enumerate(self.grams):
            values = _expand(len(grams), self.char_ranges, self.low + k - 1)
            found += ((CHAR_NGRAM + gram, value) for gram, value in zip(grams, values, strict=True))
        return found


def _expand(count: int, ranges: Ranges, shift: int) -> list[float]:
    """Per key, the value of the position it ends at (key index + shift)."""
    values = [1.0] * count
    for start, end, value in ranges or ():
        for index in range(max(start - shift, 0), min(end - shift, count)):
            values[index] = value
    return values


def _weighted_sum(
    get: Callable[[Any, complex], complex], keys: Sequence[Any], ranges: Ranges, shift: int
) -> complex:
    """Sum of the keys' weights, each times the value of the position it ends at."""
    if ranges is None:
        return sum(map(get, keys, repeat(0j)), 0j)
    total = 0j
    for start, end, value in ranges:
        piece = keys[max(start - shift, 0) : max(end - shift, 0)]
        total += value * sum(map(get, piece, repeat(0j)), 0j)
    return total


def triples(tokens: Sequence[str]) -> Iterable[tuple[str, str, str]]:
    return zip(tokens, tokens[1:], tokens[2:], strict=False)


@lru_cache(maxsize=8192)
def _slices(length: int, n: int) -> tuple[slice, ...]:
    return tuple(slice(i, i + n) for i in range(length - n + 1))


def _char_grams(text: str, n: int) -> list[str]:
    if n == 1:
        return list(text)
    return list(map(text.__getitem__, _slices(len(text), n)))


class _Memo(dict[Any, Any]):
    """Weights summed per token, token pair or triple, computed on first use: most of a
    stream is the same few thousand words, so most texts cost one lookup per token."""

    def __init__(self, compute: Callable[[Any], Any]) -> None:
        super().__init__()
        self._compute = compute

    def __missing__(self, key: Any) -> Any:
        value = self._compute(key)
        if len(self) < _ROLE_CACHE_SIZE:
            self[key] = value
        return value


class Featurizer:
    """Tokens to the features of a `LinearModel`, with the rules built in.

    - a word within `negation_window` words after a negator (same clause, up to the next
      lexicon word) becomes `¬word`; the negator stays a feature of its own;
    - a lexicon word adds its polarity (flipped when negated, scaled by a degree adverb
      before it) to `LEX+` or `LEX-`, so the lexicon is one learned feature and is never
      counted on top of the word's own weight;
    - a contrast word (但是) scales every feature before it by `contrast.before` and after
      it by `contrast.after`: feature values, not presence, so training sees the same;
    - `Q?` marks a question (？, or a clause ending in 吗/呢).
    Word bigrams and character n-grams take the value of the token they end in.
    """

    def __init__(self, rules: Rules, spec: FeatureSpec) -> None:
        self.rules, self.spec = rules, spec
        self._roles = _Memo(self._role)

    def role(self, token: str) -> tuple[Role, float]:
        return self._roles[token]  # type: ignore[no-any-return]

    def roles(self, tokens: Sequence[str]) -> list[tuple[Role, float]]:
        return list(map(self._roles.__getitem__, tokens))

    def _role(self, token: str) -> tuple[Role, float]:
        rules = self.rules
        if token in rules.contrast_words and token not in rules.clause_breaks:
            role = (Role.CONTRAST, 0.0)
        elif token in rules.negators:
            role = (Role.NEGATOR, 0.0)
        elif token in rules.degree:
            role = (Role.DEGREE, rules.degree[token])
        elif token in rules.clause_breaks:
            role = (Role.BREAK, 0.0)
        else:
            polarity = rules.polarity_of(token)
            role = (Role.WORD, 0.0) if polarity is None else (Role.SENTIMENT, polarity)
        return role

    def featurise(self, tokens: Sequence[str]) -> Features:
        roles = self.roles(tokens)
        values = self.contrast_values(roles)
        text = "".join(tokens)
        low, high = self.spec.char_ngrams
        low = max(low, 1)
        token_ranges = char_ranges = None
        if values is not None:
            token_ranges = _ranges(values, [1] * len(tokens))
            char_ranges = _ranges(values, [len(token) for token in tokens])
        return Features(
            words=self.word_features(tokens, roles, values),
            bigrams=list(pairwise(tokens)) if self.spec.word_ngrams >= 2 else [],
            grams=[_char_grams(text, n) for n in range(low, high + 1)] if high else [],
            low=low,
            token_ranges=token_ranges,
            char_ranges=char_ranges,
        )

    def all(self, tokens: Sequence[str]) -> list[tuple[str, float]]:
        """Every feature with its value, names prefixed as the model file has them."""
        return self.featurise(tokens).named()

    def has_contrast(self, roles: Sequence[tuple[Role, float]]) -> bool:
        contrast = Role.CONTRAST
        return any(role is contrast for role, _ in roles)

    def contrast_values(self, roles: Sequence[tuple[Role, float]]) -> list[float] | None:
        """Per-token contrast weight, or None when the text has no contrast word."""
        contrast = Role.CONTRAST
        if not self.has_contrast(roles):
            return None
        before, after = self.rules.contrast_before, self.rules.contrast_after
        values: list[float] = []
        current = 1.0
        for role, _ in roles:
            if role is contrast:
                values = [value * before for value in values]
                current = after
            values.append(current)
        return values

    def word_features(
        self,
        tokens: Sequence[str],
        roles: Sequence[tuple[Role, float]],
        values: list[float] | None,
    ) -> list[WordFeature]:
        """The rule-aware word features; see the class docstring."""
        word, sentiment, negator = Role.WORD, Role.SENTIMENT, Role.NEGATOR
        window = self.rules.negation_window
        found: list[WordFeature] = []
        negated, left, degree, question = False, 0, 1.0, False
        last = len(tokens) - 1
        for index, token in enumerate(tokens):
            role, amount = roles[index]
            value = values[index] if values else 1.0
            if role is word or role is sentiment:
                found.append((NEGATED + token if negated else token, value, token))
                if role is sentiment:
                    polarity = (-amount if negated else amount) * degree
                    lexicon = LEXICON_POSITIVE if polarity > 0 else LEXICON_NEGATIVE
                    found.append((lexicon, abs(polarity) * value, token))
                    negated, left, degree = False, 0, 1.0
                elif left:
                    left -= 1
                    negated = negated and left > 0
                if token in QUESTION_ENDINGS and (
                    index == last or roles[index + 1][0] is Role.BREAK
                ):
                    question = True
                continue
            found.append((token, value, token))
            if role is negator:
                negated, left = not negated, window
            elif role is Role.DEGREE:
                degree = amount
            elif role is Role.BREAK:
                negated, left, degree = False, 0, 1.0
                question = question or token in QUESTION_MARKS
        if question:
            found.append((QUESTION, 1.0, QUESTION_SHOWN))
        return found


def _ranges(values: Sequence[float], widths: Sequence[int]) -> list[tuple[int, int, float]]:
    """Runs of equal value as [start, end) positions, each token `width` positions wide."""
    ranges: list[tuple[int, int, float]] = []
    position = 0
    for value, width in zip(values, widths, strict=True):
        if ranges and ranges[-1][2] == value:
            ranges[-1] = (ranges[-1][0], position + width, value)
        else:
            ranges.append((position, position + width, value))
        position += width
    return ranges


class _PiecewiseSums:
    """A linear model's character n-grams and bigrams, summed by where they fall.

    Every character n-gram (n <= 3) lies inside one token, across two neighbours, or (a
    3-gram around a one-character token) across three; with the bigram of each pair, those
    sums depend on the tokens alone, so they are memoised. Same total as summing feature
    by feature, for texts without a contrast word (whose values vary within the text).
    """

    def __init__(self, model: LinearModel) -> None:
        self.model = model
        low, high = model.spec.char_ngrams
        self.lengths = range(max(low, 1), high + 1)
        self.inner = _Memo(self._inner)
        self.pairs = _Memo(self._pair)
        self.triples = _Memo(self._triple)

    def total(self, tokens: Sequence[str], values: Sequence[float] | None = None) -> complex:
        """The sum; with a contrast word, each piece weighted by the value of the token it
        ends in, as every bigram and n-gram is (see `Featurizer`)."""
        pieces = [map(self.inner.__getitem__, tokens)]
        if len(tokens) > 1:
            pieces.append(map(self.pairs.__getitem__, pairwise(tokens)))
        if len(tokens) > 2 and 3 in self.lengths:
            triples = zip(tokens, tokens[1:], tokens[2:], strict=False)
            pieces.append(map(self.triples.__getitem__, triples))
        if values is None:
            return sum((sum(piece, 0j) for piece in pieces), 0j)
        return sum(
            (sum(map(mul, values[skip:], piece), 0j) for skip, piece in enumerate(pieces)), 0j
        )

    def _grams(self, grams: Iterable[str]) -> complex:
        get = self.model.chars.get
        return sum((get(gram, 0j) for gram in grams), 0j)

    def _inner(self, token: str) -> complex:
        return self._grams(
            token[i : i + n] for n in self.lengths for i in range(len(token) - n + 1)
        )

    def _pair(self, pair: tuple[str, str]) -> complex:
        first, second = pair
        text, cut = first + second, len(first)
        crossing = (
            text[start : start + n]
            for n in self.lengths
            for start in range(max(cut - n + 1, 0), cut)
            if start + n <= len(text) and start + n > cut
        )
        total = self._grams(crossing)
        if self.model.spec.word_ngrams >= 2:
            total += self.model.words.get(pair, 0j)
        return total

    def _triple(self, triple: tuple[str, str, str]) -> complex:
        first, middle, last = triple
        if len(middle) != 1:
            return 0j
        return self.model.chars.get(first[-1] + middle + last[0], 0j)


DEFAULT_FEATURES = FeatureSpec()


@dataclass(frozen=True)
class Thresholds:
    """Probability of positive below `negative_below` is negative, above `positive_above`
    positive, and neutral between (two-class models). A three-class model calls a text
    negative only when P(negative) reaches `negative_confidence`: the stream counts those."""

    negative_below: float = 0.4
    positive_above: float = 0.6
    negative_confidence: float = 0.5

    def label(self, positive: float) -> Label:
        if positive < self.negative_below:
            return Label.NEGATIVE
        if positive > self.positive_above:
            return Label.POSITIVE
        return Label.NEUTRAL

    def label_of(self, negative: float, neutral: float, positive: float) -> Label:
        """Three classes: negative only when confident, else the likelier of the others."""
        if negative >= self.negative_confidence:
            return Label.NEGATIVE
        return Label.POSITIVE if positive > neutral and positive > negative else Label.NEUTRAL


@dataclass(frozen=True, slots=True)
class Sentiment:
    """`positive` is the sentiment score from 0 (negative) to 1 (positive): P(positive) for
    a two-class model, P(positive) + P(neutral) / 2 for a three-class one, so 0.5 is
    "balanced" either way. `probabilities` are (negative, neutral, positive)."""

    positive: float
    label: Label
    evidence: tuple[tuple[str, float], ...]
    probabilities: tuple[float, float, float] = (math.nan, math.nan, math.nan)

    @property
    def confidence(self) -> float:
        """How sure the calibrated model is of its label: 0.9 means right about nine times
        in ten at this score on held-out data."""
        negative, neutral, positive = self.probabilities
        if math.isnan(negative):
            return max(self.positive, 1.0 - self.positive)
        if self.label is Label.NEGATIVE:
            return negative
        return positive if self.label is Label.POSITIVE else neutral

    @property
    def negative(self) -> float:
        """P(negative)."""
        negative = self.probabilities[0]
        return 1.0 - self.positive if math.isnan(negative) else negative

    def as_dict(self) -> dict[str, Any]:
        negative, neutral, positive = self.probabilities
        found: dict[str, Any] = {
            "sentiment": round(self.positive, 4),
            "label": self.label.value,
            "confidence": round(self.confidence, 4),
            "evidence": [[token, round(weight, 3)] for token, weight in self.evidence],
        }
        if not math.isnan(negative):
            found["probabilities"] = {
                "negative": round(negative, 4),
                "neutral": round(neutral, 4),
                "positive": round(positive, 4),
            }
        return found


_LABEL_VALUES = {label: label.value for label in Label}
_LABELS_IN_ORDER = (Label.NEGATIVE, Label.NEUTRAL, Label.POSITIVE)  # as probabilities are


def as_dicts(sentiments: Sequence[Sentiment]) -> list[dict[str, Any]]:
    """`[sentiment.as_dict() for sentiment in sentiments]`, the same dictionaries, with the
    numbers worked out and rounded all at once (`round` is most of what `as_dict` costs)."""
    import numpy as np

    count = len(sentiments)
    chances = np.array([s.probabilities for s in sentiments], dtype=float).reshape(count, 3)
    scores = np.fromiter((s.positive for s in sentiments), float, count)
    kinds = np.fromiter((_LABELS_IN_ORDER.index(s.label) for s in sentiments), np.intp, count)
    sure = np.where(  # `confidence`: its label's probability, or (none) the likelier side's
        np.isnan(chances[:, 0]), np.maximum(scores, 1.0 - scores), chances[np.arange(count), kinds]
    )
    weights = iter(_rounded(np.fromiter(
        (weight for s in sentiments for _, weight in s.evidence), float,
        sum(len(s.evidence) for s in sentiments),
    ), 3).tolist())  # fmt: skip
    found = []
    for sentiment, score, confidence, (negative, neutral, positive) in zip(
        sentiments, _rounded(scores, 4).tolist(), _rounded(sure, 4).tolist(),
        _rounded(chances, 4).tolist(), strict=True,
    ):  # fmt: skip
        item: dict[str, Any] = {
            "sentiment": score,
            "label": _LABEL_VALUES[sentiment.label],
            "confidence": confidence,
            "evidence": [[token, next(weights)] for token, _ in sentiment.evidence],
        }
        if not math.isnan(negative):  # as in as_dict
            item["probabilities"] = {"negative": negative, "neutral": neutral, "positive": positive}
        found.append(item)
    return found


def _rounded(values: Any, digits: int) -> Any:
    """`round(value, digits)` of each value of an array, the same floats. `round` rounds the
    exact value at the digit; scaling it by 10**digits, rounding to the nearest integer and
    scaling back gives the same float unless the scaled value is within its rounding error
    of a tie (or too large for that error to be small): those, about one in a million
    scores, take `round` itself."""
    import numpy as np

    scale = 10.0**digits
    scaled = values * scale
    found = np.rint(scaled) / scale
    with np.errstate(invalid="ignore"):  # infinities: they are ≥ 1e9
        close = (np.abs(scaled - np.floor(scaled) - 0.5) < 1e-6) | (np.abs(scaled) >= 1e9)
    if close.any():
        found[close] = [round(value, digits) for value in values[close].tolist()]
    return found


class Role(Enum):
    WORD = 0
    SENTIMENT = 1
    BREAK = 2
    CONTRAST = 3
    NEGATOR = 4
    DEGREE = 5


_ROLE_CACHE_SIZE = 500_000
EVIDENCE_FLOOR = 0.5
LINEAR_EVIDENCE_FLOOR = 0.2
DOUBT = 0.5  # see Scorer._rules_say_not_negative


class Scorer:
    """Text in, `Sentiment` out. Pure: the model, rules and segmenter are handed in."""

    def __init__(
        self,
        segmenter: Segmenter,
        model: BayesModel | LinearModel,
        rules: Rules,
        thresholds: Thresholds = Thresholds(),
        evidence_size: int = 3,
    ) -> None:
        self.segmenter = segmenter
        self.model = model
        self.rules = rules
        self.thresholds = thresholds
        self.evidence_size = evidence_size
        self._roles: dict[str, tuple[Role, float]] = {}
        spec = model.spec if isinstance(model, LinearModel) else DEFAULT_FEATURES
        self.featurizer = Featurizer(rules, spec)
        self._sums = (
            _PiecewiseSums(model)
            if isinstance(model, LinearModel) and model.spec.char_ngrams[1] <= 3
            else None
        )

    def tokens(self, text: str) -> list[str]:
        return self.segmenter.cut(normalized_text(text))

    def score(self, text: str) -> Sentiment:
        return self.score_tokens(self.tokens(text))

    def uncalibrated_log_odds(self, tokens: Sequence[str]) -> float:
        """Model and rules together, before calibration: what calibration is fitted on."""
        model = self.model
        if isinstance(model, LinearModel):
            negative, positive = self.heads(tokens)
            return positive - negative
        return model.prior + sum(weight for _, weight in self._contributions(tokens))

    def score_tokens(self, tokens: Sequence[str]) -> Sentiment:
        model = self.model
        if isinstance(model, LinearModel):
            return self._score_linear(model, tokens)
        contributions = self._contributions(tokens)
        log_odds = model.prior + sum(weight for _, weight in contributions)
        positive = _sigmoid(model.scale * log_odds + model.offset)
        return Sentiment(positive, self.thresholds.label(positive), self._evidence(contributions))

    def heads(self, tokens: Sequence[str]) -> tuple[float, float]:
        """Summed (negative, positive) heads of a linear model, before temperature."""
        model = self.model
        assert isinstance(model, LinearModel)
        negative, positive, _ = self._heads(model, tokens, None)
        return negative, positive

    def _heads(
        self, model: LinearModel, tokens: Sequence[str], evidence: dict[str, float] | None
    ) -> tuple[float, float, list[WordFeature]]:
        featurizer = self.featurizer
        roles = featurizer.roles(tokens)
        if self._sums is None:
            return self._heads_by_feature(model, tokens, evidence)
        values = featurizer.contrast_values(roles)
        total = model.bias + self._sums.total(tokens, values)
        lookup = model.words.get
        words = featurizer.word_features(tokens, roles, values)
        for name, value, token in words:
            pair = lookup(name)
            if pair is not None:
                total += value * pair  # 1 but for lexicon polarities
                if evidence is not None:
                    evidence[token] = evidence.get(token, 0.0) + value * (pair.imag - pair.real)
        return total.real, total.imag, words

    def _heads_by_feature(
        self, model: LinearModel, tokens: Sequence[str], evidence: dict[str, float] | None
    ) -> tuple[float, float, list[WordFeature]]:
        """Feature by feature, as `Featurizer.all` lists them for training."""
        features = self.featurizer.featurise(tokens)
        total = model.bias
        lookup = model.words.get
        for name, value, token in features.words:
            pair = lookup(name)
            if pair is not None:
                total += value * pair
                if evidence is not None:
                    evidence[token] = evidence.get(token, 0.0) + value * (pair.imag - pair.real)
        get: Any = lookup
        total += _weighted_sum(get, features.bigrams, features.token_ranges, 1)
        get = model.chars.get
        for k, grams in enumerate(features.grams):
            total += _weighted_sum(get, grams, features.char_ranges, features.low + k - 1)
        return total.real, total.imag, features.words

    def _score_linear(self, model: LinearModel, tokens: Sequence[str]) -> Sentiment:
        evidence: dict[str, float] = {}
        negative, positive, words = self._heads(model, tokens, evidence)
        probabilities = model.probabilities(negative, positive)
        p_neg, p_neu, p_pos = probabilities
        label = self.thresholds.label_of(p_neg, p_neu, p_pos)
        if label is Label.NEGATIVE and self._rules_say_not_negative(words, p_neg):
            label = Label.NEUTRAL
        return Sentiment(p_pos + p_neu / 2, label, self._linear_evidence(evidence), probabilities)

    def score_many(self, texts: Sequence[str]) -> list[Sentiment]:
        """`score` of each text, the same numbers; faster per text for hundreds at once
        (a file being scored): see `monitor.text.batch`."""
        return self.score_tokens_many(list(map(self.segmenter.cut, normalized_texts(texts))))

    def score_tokens_many(self, texts: Sequence[Sequence[str]]) -> list[Sentiment]:
        """`score_tokens` of each token list, the same numbers."""
        model = self.model
        if not isinstance(model, LinearModel) or self._sums is None:
            return [self.score_tokens(tokens) for tokens in texts]
        from monitor.text.batch import score_batch

        return self._labelled(model, score_batch(texts, model, self._known, self.evidence_size))

    @cached_property
    def _known(self) -> TokenTable:
        """What each token is to this scorer, for scoring batches (built on first use)."""
        from monitor.text.batch import TokenTable

        assert isinstance(self.model, LinearModel)
        return TokenTable(self.model.tables, self.featurizer)

    def _labelled(self, model: LinearModel, scored: Scored) -> list[Sentiment]:
        """`_score_linear`'s labels and numbers for a batch, all at once."""
        import numpy as np

        chances = model.probabilities_of(scored.heads)
        negative, neutral, positive = chances.T
        confident = negative >= self.thresholds.negative_confidence
        likelier = (positive > neutral) & (positive > negative)
        unsure = scored.question & (negative < DOUBT)
        doubted = ~scored.negative_lexicon & (scored.flipped | unsure)  # _rules_say_not_negative
        kinds = np.where(confident, np.where(doubted, 1, 0), np.where(likelier, 2, 1))
        return [
            Sentiment(score, _LABELS_IN_ORDER[kind], evidence, (p_neg, p_neu, p_pos))
            for score, kind, evidence, (p_neg, p_neu, p_pos) in zip(
                (positive + neutral / 2).tolist(), kinds.tolist(), scored.evidence,
                chances.tolist(), strict=True,
            )
        ]  # fmt: skip

    def _rules_say_not_negative(self, words: Sequence[WordFeature], negative: float) -> bool:
        """No negative lexicon word left after negation, and either a negated complaint
        word (不是不好) or a question the weights are unsure of (P(negative) below
        `DOUBT`): the rules and the weights disagree, so the comment is neutral rather
        than a negative anyone is paged for. Rhetorical complaints keep their negative
        words (凭什么不退款？) and stay negative."""
        question = flipped = False
        polarity_of = self.rules.polarity_of
        for name, _, token in words:
            if name == LEXICON_NEGATIVE:
                return False
            if name == QUESTION:
                question = True
            elif name == LEXICON_POSITIVE and (polarity_of(token) or 0.0) < 0:
                flipped = True
        return flipped or (question and negative < DOUBT)

    def _linear_evidence(self, totals: dict[str, float]) -> tuple[tuple[str, float], ...]:
        """The words (their own weight, negation and lexicon included) that moved the
        positive-vs-negative log-odds most."""
        floor = LINEAR_EVIDENCE_FLOOR
        found = [(token, w) for token, w in totals.items() if w >= floor or w <= -floor]
        if len(found) > 1:
            found.sort(key=_strength, reverse=True)
        return tuple(found[: self.evidence_size])

    def _contributions(self, tokens: Sequence[str]) -> list[tuple[str, float]]:
        """Each token's share of the log-odds after negation, degree and contrast."""
        rules, known = self.rules, self._roles
        word, sentiment, clause_break, contrast = (
            Role.WORD, Role.SENTIMENT, Role.BREAK, Role.CONTRAST
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
            elif role is Role.NEGATOR:
                negated, negation_left = not negated, rules.negation_window
                continue
            else:
                degree = value
                continue
            contributions.append((token, value * clause_weight))
        return contributions

    def _role(self, token: str) -> tuple[Role, float]:
        """What a token does under the rules over a Bayes model, with its log-odds (or
        degree factor). Memoised: the same few thousand tokens make up most of any stream.
        """
        rules = self.rules
        model = self.model
        assert isinstance(model, BayesModel)
        role, amount = self.featurizer.role(token)
        role_value: tuple[Role, float]
        if role is Role.BREAK or role is Role.WORD:
            role_value = (role, model.weight(token))
        elif role is Role.SENTIMENT:
            role_value = (role, model.weight(token) + rules.lexicon_weight * amount)
        else:
            role_value = (role, amount)
        if len(self._roles) < _ROLE_CACHE_SIZE:
            self._roles[token] = role_value
        return role_value

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


def _strength(item: tuple[str, float]) -> float:
    return abs(item[1])


def _sigmoid(log_odds: float) -> float:
    if log_odds >= 0:
        return 1.0 / (1.0 + math.exp(-log_odds))
    exp = math.exp(log_odds)
    return exp / (1.0 + exp)
