"""A learned second opinion on ad copy, both ways: a sentence that no rule flags but that
reads like the violating lines of the labelled copy in `bench/data` is flagged for a person
to look at; a word the term list flags on its own (no context rule decided it) in a
sentence that reads like the clean lines is let through if it only needed a look, and
softened from a block to a look if the law forbids it — never let through, since clean
text written around a forbidden word would otherwise open the gate.

The rules reach as far as the phrasings their author foresaw; each held-back set written by
another hand showed claims phrased another way (保证30天流利对话, 文昌塔摆书桌运势旺), and
listed words used plainly (中国第一颗人造卫星, 集齐五张的就是冠军). The character 1-3-grams
of those lines, weighted by a logistic regression, carry over better. One class per lexicon
category: a hit names the category the sentence resembles, and a channel that switched a
category off gets no hits of it from the model either (a word is read as plain only where
the sentence reads clean of every category, switched off or not).

The thresholds were chosen leaving each of the three training sets out in turn, with the
rules as they were before those sets were read (`train` trains on the rest): the rules
alone caught 0.794 of those violations at 0.111 false alarms; flagging from 0.8, and
reading a listed word as plain where the sentence is clean at 0.7 or more, 0.951 at 0.090
(0.049 if forbidden words were let through too, rather than softened). A sentence of more
than 120 letters or of fewer than 6 besides the word is not read for it.

Scoring is a sum of per-n-gram weights over the compacted text: each n-gram present counts
once, by its idf, l2-normalised (scikit-learn's TfidfVectorizer with binary tf), so it
needs no scikit-learn; training does (the `train` extra): `scripts/train_copy_model.sh`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

import ahocorasick
import numpy as np

from monitor.text.normalise import compact, has_ideograph, normalize

PACKAGED = Path(__file__).parents[1] / "models" / "adcopy.json.gz"
CLEAN = "clean"  # the category of a line that breaks no rule
# The labelled sets' categories that the lexicon (lexicons/adlaw.yaml) names otherwise.
LEXICON_CATEGORY = {"traffic": "offplatform", "false_promise": "lure", "sales_claim": "lure"}
EVIDENCE = 3  # n-grams a hit names as its reasons


def letters(text: str) -> str:
    """The text as the rules read it: simplified, half-width, lower case, no spaces,
    symbols or emoji (最 佳 and 最🔥佳 are 最佳)."""
    return compact(normalize(text)).text


def grams(compacted: str) -> set[str]:
    """The character 1-3-grams in compacted text, each once: a copy line is short, and
    how often a gram repeats in it (最最最) says little more than that it is there."""
    return {compacted[i : i + n] for n in (1, 2, 3) for i in range(len(compacted) - n + 1)}


@dataclass(frozen=True, eq=False)
class Judgement:
    probability: float  # that the sentence breaks a rule of the categories judged
    clean: float  # that it breaks none, of any category (switched off or not)
    category: str  # the lexicon category it most resembles
    pushes: np.ndarray  # how far each n-gram found pushed towards `category`, from clean
    rows: Sequence[int]  # where each of those n-grams stands in `vocabulary`
    vocabulary: Sequence[str]

    @property
    def evidence(self) -> list[str]:
        """The n-grams that pushed most towards the category: why it reads as violating."""
        return self._strongest(self.pushes)

    def against(self, leaving_out: str = "") -> list[str]:
        """The n-grams that pushed most towards clean, none of them inside `leaving_out`
        (the word being judged is no reason of its own): why it reads as a description."""
        return self._strongest(-self.pushes, leaving_out)

    def _strongest(self, pushes: np.ndarray, leaving_out: str = "") -> list[str]:
        """The n-grams with an ideograph and the largest positive pushes (a digit says
        little to a copywriter)."""
        named = ((-push, self.vocabulary[row]) for push, row in zip(pushes, self.rows, strict=True))
        ranked = sorted(item for item in named if item[0] < 0 and _worded(item[1], leaving_out))
        return [gram for _, gram in ranked[:EVIDENCE]]


def _worded(gram: str, leaving_out: str) -> bool:
    return len(gram) > 1 and gram not in leaving_out and has_ideograph(gram)


class CopyModel:
    """A logistic regression over n-grams, one class per lexicon category and `clean`.
    Scored with numpy, the sentences of one copy together: a product per n-gram found."""

    def __init__(
        self,
        classes: list[str],
        weights: dict[str, list[float]],  # n-gram: [idf, coefficient of each class]
        intercepts: list[float],
        threshold: float,  # the probability from which a sentence is flagged
        overrule: float,  # a sentence clean at 1 - overrule or more: its listed words are plain
    ) -> None:
        self.classes = classes
        self.intercepts = intercepts
        self.threshold = threshold
        self.overrule = overrule
        self._vocabulary = list(weights)  # kept as a table, not 26,000 lists for the GC to walk
        self._finder = ahocorasick.Automaton()  # finds the known n-grams of a sentence in C
        for row, gram in enumerate(self._vocabulary):
            self._finder.add_word(gram, row)
        self._finder.make_automaton()
        table = np.array(list(weights.values()), dtype=np.float64).reshape(len(weights), -1)
        self._idf, self._coefficients = table[:, 0], table[:, 1:]
        self._intercepts = np.array(intercepts, dtype=np.float64)
        self._clean = classes.index(CLEAN)

    def judge(self, compacted: str, among: Collection[str] | None = None) -> Judgement:
        """How one sentence (`letters` of it) reads: how likely it is to break a rule of
        the categories `among` (all by default: a channel may switch some off), and which
        of them it reads most like."""
        return self.judge_all([compacted], among)[0]

    def judge_all(
        self, sentences: Sequence[str], among: Collection[str] | None = None
    ) -> list[Judgement]:
        """`judge` of each sentence, in one pass of numpy over all their n-grams: copy
        has many short sentences, and numpy's cost per call outweighs a short one's."""
        kept = [c for c, name in enumerate(self.classes)
                if name != CLEAN and (among is None or name in among)]  # fmt: skip
        if not kept or not sentences:
            nothing = Judgement(0.0, 0.0, CLEAN, np.zeros(0), [], self._vocabulary)
            return [nothing for _ in sentences]  # no category judged: no reading either way
        found = [list({row for _, row in self._finder.iter(sentence)}) for sentence in sentences]
        sizes = np.array([len(each) for each in found], dtype=np.int64)
        owner = np.repeat(np.arange(len(sentences)), sizes)  # the sentence of each n-gram
        rows = np.fromiter((row for each in found for row in each), dtype=np.int64,
                           count=int(sizes.sum()))  # fmt: skip
        values = self._idf[rows]
        norms = np.sqrt(np.bincount(owner, weights=values * values, minlength=len(sentences)))
        values /= np.where(norms > 0, norms, 1.0)[owner]
        coefficients = self._coefficients[rows]
        scores = np.tile(self._intercepts, (len(sentences), 1))
        np.add.at(scores, owner, values[:, None] * coefficients)
        chances = np.exp(scores - scores.max(axis=1, keepdims=True))
        totals = chances.sum(axis=1)
        probabilities = chances[:, kept].sum(axis=1) / totals
        clean = chances[:, self._clean] / totals
        best = np.array(kept)[np.argmax(scores[:, kept], axis=1)]
        pushes = values * (coefficients[np.arange(len(rows)), best[owner]]
                           - coefficients[:, self._clean])  # fmt: skip
        ends = np.cumsum(sizes)
        return [Judgement(float(probabilities[n]), float(clean[n]), self.classes[best[n]],
                          pushes[ends[n] - sizes[n] : ends[n]], found[n], self._vocabulary)
                for n in range(len(sentences))]  # fmt: skip

    @property
    def weights(self) -> dict[str, list[float]]:
        """n-gram: [idf, coefficient of each class], as saved."""
        table = np.column_stack([self._idf, self._coefficients]).tolist()
        return dict(zip(self._vocabulary, table, strict=True))

    def save(self, path: Path) -> None:
        document = {"classes": self.classes, "intercepts": self.intercepts,
                    "threshold": self.threshold, "overrule": self.overrule,
                    "weights": self.weights}  # fmt: skip
        with gzip.open(path, "wt", encoding="utf-8") as out:
            json.dump(document, out, ensure_ascii=False, separators=(",", ":"))

    @classmethod
    def load(cls, path: Path = PACKAGED) -> CopyModel:
        with gzip.open(path, "rt", encoding="utf-8") as source:
            document = json.load(source)
        return cls(document["classes"], document["weights"], document["intercepts"],
                   float(document["threshold"]), float(document["overrule"]))  # fmt: skip


def train(
    lines: Sequence[tuple[str, str]],
    threshold: float = 0.8,
    overrule: float = 0.3,
    regularisation: float = 30.0,
    min_lines: int = 2,
) -> CopyModel:
    """A model of (text, lexicon category or `clean`) lines. The thresholds and C were
    chosen leaving each training set out in turn (the module's notes)."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    if len({category for _, category in lines} - {CLEAN}) < 2:
        raise ValueError("training needs clean lines and lines of two categories at least")
    vectorizer = TfidfVectorizer(analyzer=lambda text: sorted(grams(letters(text))),
                                 min_df=min_lines, binary=True)  # fmt: skip
    matrix = vectorizer.fit_transform([text for text, _ in lines])
    classifier = LogisticRegression(C=regularisation, max_iter=3000, class_weight="balanced")
    classifier.fit(matrix, [category for _, category in lines])
    weights = {
        gram: [round(float(vectorizer.idf_[column]), 5),
               *(round(float(row[column]), 5) for row in classifier.coef_)]
        for gram, column in vectorizer.vocabulary_.items()
    }  # fmt: skip
    intercepts = [float(value) for value in classifier.intercept_]
    classes = [str(name) for name in classifier.classes_]
    return CopyModel(classes, weights, intercepts, threshold, overrule)


def read_labelled(path: Path) -> list[tuple[str, str, str]]:
    """(category, expected verdict, text) of a labelled copy file (`bench/data/*.tsv`);
    `\\uXXXX` in a text stands for that character (zero-width evasions stay visible)."""
    rows = []
    for row in path.read_text(encoding="utf-8").splitlines():
        if row.startswith("#") or not row.strip():
            continue
        unescaped = re.sub(r"\\u([0-9a-f]{4})", lambda match: chr(int(match.group(1), 16)), row)
        category, expected, text = unescaped.split("\t")
        rows.append((category, expected, text))
    return rows


def main(argv: Iterable[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Train the ad-copy model on labelled files.")
    parser.add_argument("files", nargs="+", type=Path, help="labelled copy (bench/data/*.tsv)")
    parser.add_argument("--out", type=Path, default=PACKAGED)
    args = parser.parse_args(None if argv is None else list(argv))
    lines = [(text, LEXICON_CATEGORY.get(category, category)) for path in args.files
             for category, _, text in read_labelled(path)]  # fmt: skip
    model = train(lines)
    model.save(args.out)
    print(f"{len(lines)} lines ({sum(c != CLEAN for _, c in lines)} violating), "
          f"{len(model.classes)} classes, {len(model.weights)} n-grams: {args.out}")  # fmt: skip


if __name__ == "__main__":
    main()
