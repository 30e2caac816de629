"""Sentiment accuracy and speed, every method side by side in one run.

    .venv/bin/python bench/sentiment.py [--sample 2000] [--data ../shared/data]
    .venv/bin/python bench/sentiment.py --loso [--sample 4000] [--variant ngrams ...]
    .venv/bin/python bench/sentiment.py --cli [--cli-texts 20000] [--repeat 3]

For each CSV in the data folder (text,label[,emotion]), a balanced sample of positive and
negative items from the part the packaged model never saw (the held-out split that
`guanchao train` made of train/ files, with the same seed; all of dev/) is scored by each
method; a text counts as positive at P(positive) >= 0.5. ECE is the calibration error.
Speed is texts per second on one core, model loading excluded.

`--loso` measures instead how the project's own training transfers: see `loso` below.
`--cli` measures instead the speed of `guanchao score` end to end: see `cli_speed` below.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import random
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path

from monitor.detect.enrich import build_scorer
from monitor.settings import load_settings
from monitor.text.segment import make_segmenter
from monitor.text.sentiment import (
    BayesModel,
    FeatureSpec,
    Label,
    Rules,
    Scorer,
    Sentiment,
    Thresholds,
    load_model,
    load_rules,
)
from monitor.text.training import (
    LEXICON_BOOST,
    Example,
    clean_text,
    expected_calibration_error,
    split_examples,
    train,
    without_codes,
)

Method = Callable[[str], float]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def read_rows(path: Path) -> list[tuple[str, str, str]]:
    with path.open(encoding="utf-8") as stream:
        return [
            (row["text"], row["label"], path.stem)
            for row in csv.DictReader(stream)
            if row["label"] in ("positive", "negative", "neutral") and row["text"].strip()
        ]


def held_out_rows(
    files: list[Path], held_out: float, seed: int
) -> dict[str, list[tuple[str, str]]]:
    """Per file, the (text, label) rows the packaged model was neither trained nor
    calibrated on: the split `guanchao train` made of all train/ files together (same order,
    same seed), and the whole of every other file."""
    training = [row for path in files if path.parent.name == "train" for row in read_rows(path)]
    test = split_examples(training, lambda row: (row[2], row[1]), held_out, seed)[2]
    parts: dict[str, list[tuple[str, str]]] = {}
    for text, label, source in test:
        parts.setdefault(source, []).append((text, label))
    for path in files:
        if path.parent.name != "train":
            parts[path.stem] = [(text, label) for text, label, _ in read_rows(path)]
    return parts


def balanced_sample(rows: list[tuple[str, str]], size: int, seed: int) -> list[tuple[str, bool]]:
    rng = random.Random(seed)
    half = size // 2
    positive = [text for text, label in rows if label == "positive"]
    negative = [text for text, label in rows if label == "negative"]
    picked = [(text, True) for text in rng.sample(positive, min(half, len(positive)))]
    picked += [(text, False) for text in rng.sample(negative, min(half, len(negative)))]
    rng.shuffle(picked)
    return picked


def methods(packaged: str) -> dict[str, Method]:
    from snownlp import SnowNLP

    snownlp_model, trained = load_model("snownlp"), load_model(packaged)
    rules = load_rules()
    found: dict[str, Method] = {"snownlp naive": lambda text: float(SnowNLP(text).sentiments)}
    for backend in ("jieba", "rjieba"):
        segmenter = make_segmenter(backend)
        segmenter.cut("预热")
        scorers = {
            f"bayes on {backend}": Scorer(segmenter, snownlp_model, Rules(polarity={})),
            f"snownlp+rules {backend}": Scorer(segmenter, snownlp_model, rules),
            f"guanchao ({backend})": Scorer(segmenter, trained, rules),
        }
        for name, scorer in scorers.items():
            found[name] = lambda text, s=scorer: s.score(text).positive
    return found


def evaluate(method: Method, sample: list[tuple[str, bool]]) -> dict[str, float]:
    started = time.perf_counter()
    probabilities = [method(text) for text, _ in sample]
    elapsed = time.perf_counter() - started
    predictions = [probability >= 0.5 for probability in probabilities]
    truth = [label for _, label in sample]
    pairs = list(zip(predictions, truth, strict=True))
    tp = sum(p and t for p, t in pairs)
    tn = sum(not p and not t for p, t in pairs)
    fp = sum(p and not t for p, t in pairs)
    fn = sum(not p and t for p, t in pairs)
    f1_pos = 2 * tp / max(2 * tp + fp + fn, 1)
    f1_neg = 2 * tn / max(2 * tn + fn + fp, 1)
    return {
        "accuracy": (tp + tn) / len(pairs),
        "macro_f1": (f1_pos + f1_neg) / 2,
        "neg_precision": tn / max(tn + fn, 1),
        "neg_recall": tn / max(tn + fp, 1),
        "ece": expected_calibration_error(probabilities, truth),
        "texts_per_s": len(sample) / elapsed,
    }


# Leave one source out -------------------------------------------------------------------
#
# For every CSV (train/ and dev/), a model is trained with `monitor.text.training.train` on
# the train/ sources of other families and measured on the left-out one; "in-domain" is one
# model trained on every train/ source and measured on the same items. A family is a file
# name without `_train`/`_dev`/`_test`: smp2020_usual_train and smp2020_usual_dev are one
# task, so neither is trained on when the other is left out, and dev/ is never trained on.
#
# Rows: each train/ file gives the same fraction of its rows for training, so sources keep
# their natural sizes (the largest gives `--sample`); measured are up to `--sample` other
# rows of every file at its natural label mix, and a balanced sub-sample of those (as many
# of each label as the rarest has). The negative threshold is what `train` picks on its
# calibration split of the training sources (dev=[]), never on the left-out set.

UNTRAINED = BayesModel(prior=0.0, unseen=0.0, weights={}, stopwords=frozenset(), source="none")
LABELS = {"positive": Label.POSITIVE, "negative": Label.NEGATIVE, "neutral": Label.NEUTRAL}
VARIANTS = ("keep-codes", "equal-sources", "no-chars", "no-lexicon-boost")
CODE_SOURCES = ("weibo_senti_100k_partial",)  # labels follow the codes
_SPLIT_RE = re.compile(r"_(train|dev|test)$")
NAIVE = "snownlp naive"


def family(source: str) -> str:
    return _SPLIT_RE.sub("", source)


def loso_pools(
    files: list[Path], sample: int, seed: int
) -> tuple[dict[str, list[tuple[str, str]]], dict[str, list[tuple[str, str]]]]:
    """(training rows, measured rows) per source; see the comment above."""
    rows = {path: read_rows(path) for path in files}
    largest = max(len(found) for path, found in rows.items() if path.parent.name == "train")
    fraction = min(1.0, sample / largest)
    training: dict[str, list[tuple[str, str]]] = {}
    measured: dict[str, list[tuple[str, str]]] = {}
    for path, found in rows.items():
        shuffled = [(clean_text(text), label) for text, label, _ in found]
        random.Random(f"{seed}:{path.stem}").shuffle(shuffled)
        cut = round(len(shuffled) * fraction) if path.parent.name == "train" else 0
        if cut:
            training[path.stem] = shuffled[:cut]
        measured[path.stem] = shuffled[cut : cut + sample]
    return training, measured


def loso_examples(
    rows: dict[str, list[tuple[str, str]]],
    tokens: dict[str, list[str]],
    strip: bool,
) -> dict[str, list[Example]]:
    """Examples per source; with `strip`, the code-labelled sources lose their codes (as
    scripts/train_default_model.sh trains)."""
    found: dict[str, list[Example]] = {}
    for source, items in rows.items():
        examples = found.setdefault(source, [])
        for text, label in items:
            words = tokens[text]
            kept = without_codes(words) if strip and source in CODE_SOURCES else tuple(words)
            if kept:
                examples.append(Example(kept, LABELS[label], source))
    return found


def loso_measure(
    score: Callable[[Sequence[str]], Sentiment],
    examples: list[Example],
    seed: int,
    speed: float,
) -> dict[str, float]:
    """Natural mix and balanced: see the comment above."""
    scored = [(example.label, score(example.tokens)) for example in examples]
    by_label: dict[Label, list[int]] = {}
    for index, (label, _) in enumerate(scored):
        by_label.setdefault(label, []).append(index)
    rng = random.Random(seed)
    least = min(len(indices) for indices in by_label.values())
    balanced = [i for indices in by_label.values() for i in rng.sample(indices, least)]
    result = {"texts_per_s": speed}
    for prefix, picked in (("", range(len(scored))), ("bal_", balanced)):
        items = [scored[i] for i in picked]
        result |= {f"{prefix}{name}": value for name, value in _loso_metrics(items).items()}
    return result


def _loso_metrics(items: list[tuple[Label, Sentiment]]) -> dict[str, float]:
    counts = dict.fromkeys(Label, 0)
    called_negative = dict.fromkeys(Label, 0)
    right = dict.fromkeys(Label, 0)
    for label, sentiment in items:
        counts[label] += 1
        called_negative[label] += sentiment.label is Label.NEGATIVE
        right[label] += (sentiment.positive >= 0.5) == (label is Label.POSITIVE)
    calls = sum(called_negative.values())
    polar = (Label.POSITIVE, Label.NEGATIVE)
    neg_p = _share(called_negative[Label.NEGATIVE], calls)
    neg_r = _share(called_negative[Label.NEGATIVE], counts[Label.NEGATIVE])
    truth = [label is Label.NEGATIVE for label, _ in items]
    return {
        "n": len(items),
        "balanced_accuracy": sum(_share(right[lb], counts[lb]) for lb in polar) / 2,
        "macro_f1": _macro_f1(items),
        "neg_precision": neg_p,
        "neg_recall": neg_r,
        "neutral_as_negative": _share(called_negative[Label.NEUTRAL], counts[Label.NEUTRAL]),
        "ece": expected_calibration_error([s.negative for _, s in items], truth),
    }


def _macro_f1(items: list[tuple[Label, Sentiment]]) -> float:
    """Macro-F1 over the labels the set has (neutral too, where it has neutral items)."""
    present = {label for label, _ in items}
    scores = []
    for cls in present:
        tp = sum(label is cls and s.label is cls for label, s in items)
        fp = sum(label is not cls and s.label is cls for label, s in items)
        fn = sum(label is cls and s.label is not cls for label, s in items)
        scores.append(2 * tp / (2 * tp + fp + fn) if tp else 0.0)
    return sum(scores) / len(scores)


def _share(part: int, whole: int) -> float:
    return part / whole if whole else math.nan


class LosoModels:
    """The models of one variant, trained on demand: one per set of left-out families."""

    def __init__(
        self, base: Scorer, training: dict[str, list[Example]], variant: set[str], seed: int
    ) -> None:
        self.base, self.training, self.variant, self.seed = base, training, variant, seed
        self._models: dict[frozenset[str], Scorer] = {}

    def without(self, left_out: frozenset[str]) -> Scorer:
        if left_out not in self._models:
            examples = [
                example
                for source, found in self.training.items()
                if family(source) not in left_out
                for example in found
            ]
            spec = FeatureSpec(char_ngrams=(0, 0)) if "no-chars" in self.variant else FeatureSpec()
            result = train(
                examples, [], self.base, seed=self.seed, spec=spec,
                balance_sources="equal-sources" in self.variant,
                lexicon_boost=1.0 if "no-lexicon-boost" in self.variant else LEXICON_BOOST,
            )  # fmt: skip
            thresholds = replace(
                self.base.thresholds, negative_confidence=result.negative_confidence
            )
            self._models[left_out] = Scorer(
                self.base.segmenter, result.model, self.base.rules, thresholds
            )
        return self._models[left_out]


LOSO_COLUMNS = ("n", "balanced_accuracy", "macro_f1", "neg_precision", "neg_recall",
                "neutral_as_negative", "ece")  # fmt: skip
LOSO_HEADS = ("n", "balAcc", "mF1", "negP", "negR", "neu→neg", "ECE")
KINDS = ("in-domain", "left-out")
SPEED_TEXTS = 300


def _speed(score_text: Callable[[str], Sentiment], texts: list[str]) -> float:
    """Texts per second from raw text (segmentation included), on a few hundred texts."""
    picked = texts[:SPEED_TEXTS]
    started = time.perf_counter()
    for text in picked:
        score_text(text)
    return len(picked) / (time.perf_counter() - started)


def _naive(text: str) -> Sentiment:
    from snownlp import SnowNLP

    positive = float(SnowNLP(text).sentiments)
    label = Label.POSITIVE if positive >= 0.5 else Label.NEGATIVE
    return Sentiment(positive, label, ())


def fixed_rows(
    args: argparse.Namespace,
    measured: dict[str, list[Example]],
    texts: dict[str, list[str]],
    base: Scorer,
) -> dict[str, dict[str, dict[str, float]]]:
    """Naive snownlp and each `--baseline` model (as configured today), on the same rows;
    naive snownlp on the first `--naive-sample` rows of each set (it is slow)."""
    rows: dict[str, dict[str, dict[str, float]]] = {}
    for source, examples in sorted(measured.items()):
        subset = examples[: args.naive_sample]
        naive = loso_measure(
            lambda tokens: _naive("".join(tokens)), subset, args.seed, _speed(_naive, texts[source])
        )
        rows.setdefault(source, {})[NAIVE] = naive | {"threshold": 0.5}
        for path in args.baseline or []:
            scorer = Scorer(base.segmenter, load_model(str(path)), base.rules, OLD_THRESHOLDS)
            speed = _speed(scorer.score, texts[source])
            measured_here = loso_measure(scorer.score_tokens, examples, args.seed, speed)
            rows[source][f"old {path.name}"[:10]] = measured_here | {
                "threshold": OLD_THRESHOLDS.negative_below
            }
    return rows


OLD_THRESHOLDS = Thresholds(negative_below=0.28, positive_above=0.6)


def loso(args: argparse.Namespace, files: list[Path]) -> None:
    started = time.perf_counter()
    base = build_scorer(load_settings(), UNTRAINED)
    training_rows, measured_rows = loso_pools(files, args.sample, args.seed)
    all_texts = {
        text for rows in (training_rows, measured_rows) for r in rows.values() for text, _ in r
    }
    tokens = {text: base.tokens(text) for text in all_texts}
    raw = {source: [text for text, _ in rows] for source, rows in measured_rows.items()}
    sizes = ", ".join(f"{source} {len(rows)}" for source, rows in sorted(training_rows.items()))
    print(f"training rows per source: {sizes}")
    print(f"measured: up to {args.sample} other rows per source ({NAIVE}: {args.naive_sample})")
    measured = loso_examples(measured_rows, tokens, strip=False)
    fixed = fixed_rows(args, measured, raw, base)
    chosen = [set(name.split("+")) for name in args.variant or []]
    summaries: dict[str, dict[str, dict[str, float]]] = {}
    for variant in [set(), *chosen]:
        name = "+".join(sorted(variant)) or "new"
        models = LosoModels(
            base,
            loso_examples(training_rows, tokens, strip="keep-codes" not in variant),
            variant,
            args.seed,
        )
        rows: dict[str, dict[str, dict[str, float]]] = {s: dict(k) for s, k in fixed.items()}
        for source, examples in sorted(measured.items()):
            for kind, left_out in zip(
                KINDS, (frozenset(), frozenset({family(source)})), strict=True
            ):
                scorer = models.without(left_out)
                speed = _speed(scorer.score, raw[source])
                rows[source][kind] = loso_measure(
                    scorer.score_tokens, examples, args.seed, speed
                ) | {"threshold": scorer.thresholds.negative_confidence}
        summaries[name] = print_loso_table(name, rows)
        print(f"  ({time.perf_counter() - started:.0f} s so far)")
    if len(summaries) > 1:
        print_loso_summary(summaries)


def _cells(values: dict[str, float], prefix: str) -> str:
    cells = []
    for column, head in zip(LOSO_COLUMNS, LOSO_HEADS, strict=True):
        value = values.get(prefix + column, math.nan)
        if head == "n":
            cells.append(f"{value:5.0f}")
        else:
            cells.append(f"{'–':>7}" if math.isnan(value) else f"{value:7.3f}")
    return " ".join(cells)


def _line(label: str, kind: str, values: dict[str, float]) -> str:
    return (
        f"{label[:26]:26} {kind:13} {values['threshold']:5.3f} "
        f"{values.get('texts_per_s', math.nan):7.0f} | "
        f"{'':13}{_cells(values, '')} | {'':10}{_cells(values, 'bal_')}"
    )


SOCIAL = ("smp2020_usual_dev", "smp2020_usual_train", "weibo2018", "weibo_senti_100k_partial")


def print_loso_table(
    name: str, rows: dict[str, dict[str, dict[str, float]]]
) -> dict[str, dict[str, float]]:
    """The table of one variant; returns the mean of each column per kind of model, over
    all sets and (`social …`) over the social-media sets."""
    heads = " ".join(f"{head:>5}" if head == "n" else f"{head:>7}" for head in LOSO_HEADS)
    print(f"\nvariant: {name}")
    print(
        f"{'measured on':26} {'model':13} {'thr':>5} {'texts/s':>7} | natural mix: {heads} "
        f"| balanced: {heads}"
    )
    columns: dict[str, dict[str, list[float]]] = {}
    for source, kinds in rows.items():
        for index, (kind, values) in enumerate(kinds.items()):
            print(_line(source if index == 0 else "", kind, values))
            groups = [kind, f"social {kind}"] if source in SOCIAL else [kind]
            for group in groups:
                for key, value in values.items():
                    if not math.isnan(value):
                        columns.setdefault(group, {}).setdefault(key, []).append(value)
    means = {
        kind: {key: sum(found) / len(found) for key, found in found_by_key.items()}
        for kind, found_by_key in columns.items()
    }
    for kind, values in sorted(means.items(), key=lambda item: item[0].startswith("social")):
        print(_line("mean", kind, values))
    social_left_out = [
        kinds[KINDS[1]]["bal_balanced_accuracy"] for s, kinds in rows.items() if s in SOCIAL
    ]
    print(f"  left-out social sets, balanced accuracy: min {min(social_left_out):.3f}")
    return means


def print_loso_summary(summaries: dict[str, dict[str, dict[str, float]]]) -> None:
    """Means over the measured sets, each variant against the default training."""
    keys = ("balanced_accuracy", "neg_precision", "neg_recall", "neutral_as_negative", "ece")
    print("\nmeans over the measured sets (Δ against new):")
    print(f"{'variant':33} {'model':20} " + " ".join(f"{key[:15]:>15}" for key in keys))
    baseline = summaries["new"]
    for name, summary in summaries.items():
        for kind in (*KINDS, *(f"social {kind}" for kind in KINDS)):
            values = summary.get(kind, {})
            cells = [
                f"{values.get(key, math.nan):.3f}"
                + ("" if name == "new" else f" ({values[key] - baseline[kind][key]:+.3f})")
                for key in keys
            ]
            print(f"{name:33} {kind:20} " + " ".join(f"{cell:>15}" for cell in cells))


# `guanchao score` end to end ----------------------------------------------------------
#
# `--cli-texts` held-out texts (the rows `held_out_rows` gives, shuffled with `--seed`) are
# written to a JSONL file, one {"id", "text"} object a line, and `python -m monitor score
# FILE` runs as a subprocess with its stdout to a file. Its start-up (interpreter, imports,
# config, model, tables) is measured by the same command on a file of the first line alone
# and subtracted. Each is run `--repeat` times and the fastest run taken: on a shared
# machine the others are slower for what else ran, and start-up (~3.5 s) varies by more
# than scoring 20,000 texts takes. In the same run: naive `SnowNLP(text).sentiments` on the
# first `--naive-sample` texts, and the scorer in this process, model loaded:
# `Scorer.score` one text at a time, as the stream scores, and `Scorer.score_many` in
# batches, as `guanchao score` does (a fresh scorer each).

CLI_BATCH = 512


def cli_speed(args: argparse.Namespace, files: list[Path]) -> None:
    from snownlp import SnowNLP

    rows = held_out_rows(files, args.held_out, args.split_seed)
    texts = sorted({text for found in rows.values() for text, _ in found})
    random.Random(args.seed).shuffle(texts)
    texts = texts[: args.cli_texts]
    naive = _rate(lambda text: SnowNLP(text).sentiments, texts[: args.naive_sample])
    scorer = build_scorer(load_settings())
    scorer.score(texts[0])
    one_by_one = _rate(scorer.score, texts)
    batched = math.nan
    fresh = build_scorer(load_settings())
    if hasattr(fresh, "score_many"):  # measuring an older checkout: it had none
        fresh.score_many(texts[:1])  # builds the batch tables: start-up, as in the command
        started = time.perf_counter()
        for start in range(0, len(texts), CLI_BATCH):
            fresh.score_many(texts[start : start + CLI_BATCH])
        batched = len(texts) / (time.perf_counter() - started)
    with tempfile.TemporaryDirectory(prefix="guanchao-bench-") as folder:
        whole, first = Path(folder) / "texts.jsonl", Path(folder) / "first.jsonl"
        lines = [json.dumps({"id": i, "text": t}, ensure_ascii=False) for i, t in enumerate(texts)]
        whole.write_text("\n".join(lines) + "\n", encoding="utf-8")
        first.write_text(lines[0] + "\n", encoding="utf-8")
        startup, full = [], []
        for _ in range(args.repeat):
            startup.append(score_command_seconds(first, Path(folder) / "out"))
            full.append(score_command_seconds(whole, Path(folder) / "out"))
    start_s, full_s = min(startup), min(full)
    end_to_end = len(texts) / (full_s - start_s)
    print(f"{len(texts)} held-out texts, {sum(map(len, texts)) / len(texts):.0f} characters "
          f"on average")  # fmt: skip
    print(f"  {NAIVE:48} {naive:9.0f} texts/s  (first {args.naive_sample} texts)")
    for name, rate in (
        ("Scorer.score, one text at a time (the stream)", one_by_one),
        (f"Scorer.score_many, {CLI_BATCH} texts at a time", batched),
        ("guanchao score FILE, JSONL in and out", end_to_end),
    ):
        print(f"  {name:48} {rate:9.0f} texts/s  {rate / naive:6.1f}x naive")
    print(f"  (guanchao score: the fastest of {args.repeat} runs, {full_s:.2f} s for all, less the "
          f"fastest of {args.repeat} on a file of its first line, {start_s:.2f} s of start-up; "
          f"runs: {_seconds(full)} and {_seconds(startup)})")  # fmt: skip


def _seconds(runs: list[float]) -> str:
    return ", ".join(f"{run:.2f}" for run in runs) + " s"


def _rate(score: Callable[[str], object], texts: list[str]) -> float:
    started = time.perf_counter()
    for text in texts:
        score(text)
    return len(texts) / (time.perf_counter() - started)


def score_command_seconds(source: Path, output: Path) -> float:
    """Seconds `python -m monitor score SOURCE > OUTPUT` takes, from the repository root."""
    root = Path(__file__).resolve().parents[1]
    started = time.perf_counter()
    with output.open("wb") as stdout:
        subprocess.run(
            [sys.executable, "-m", "monitor", "score", str(source)],
            cwd=root, stdout=stdout, stderr=subprocess.DEVNULL, check=True,
        )  # fmt: skip
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument(
        "--sample", type=int, default=2000, help="balanced sample per set; with --loso, rows"
    )
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--held-out", type=float, default=0.1, help="as given to guanchao train")
    parser.add_argument("--split-seed", type=int, default=7, help="as given to guanchao train")
    parser.add_argument(
        "--loso", action="store_true", help="leave-one-source-out training and measuring"
    )
    parser.add_argument(
        "--variant",
        action="append",
        help=f"with --loso, also train this way ({', '.join(VARIANTS)}; join with +)",
    )
    parser.add_argument(
        "--baseline",
        type=Path,
        action="append",
        help="with --loso, also measure this model file as configured before version 2 "
        "(negative below P(positive) 0.28), e.g. the previous packaged model",
    )
    parser.add_argument(
        "--naive-sample",
        type=int,
        default=400,
        help="with --loso, rows per set for snownlp; with --cli, texts",
    )
    parser.add_argument(
        "--cli", action="store_true", help="speed of `guanchao score` end to end, and in process"
    )
    parser.add_argument("--cli-texts", type=int, default=20_000, help="with --cli, texts scored")
    parser.add_argument("--repeat", type=int, default=5, help="with --cli, runs of the command")
    args = parser.parse_args()
    files = sorted(args.data.rglob("*.csv"), key=lambda path: (path.parent.name, path.name))
    if not files:
        raise SystemExit(f"no CSV files under {args.data}")
    for name in args.variant or []:
        if not set(name.split("+")) <= set(VARIANTS):
            parser.error(f"unknown variant {name!r}; known: {', '.join(VARIANTS)}")
    if args.loso:
        loso(args, files)
        return
    if args.cli:
        cli_speed(args, files)
        return
    scorers = methods(load_settings().sentiment.model)
    header = (
        f"{'dataset':32} {'method':20} {'acc':>6} {'mF1':>6} {'negP':>6} {'negR':>6} {'texts/s':>9}"
    )
    print(header)
    speeds: dict[str, list[float]] = {}
    for name, rows in sorted(held_out_rows(files, args.held_out, args.split_seed).items()):
        sample = balanced_sample(rows, args.sample, args.seed)
        for method, score in scorers.items():
            result = evaluate(score, sample)
            speeds.setdefault(method, []).append(result["texts_per_s"])
            print(
                f"{name[:26]:26} {method:24} {len(sample):5} {result['accuracy']:6.3f} "
                f"{result['macro_f1']:6.3f} {result['neg_precision']:6.3f} "
                f"{result['neg_recall']:6.3f} {result['ece']:6.3f} {result['texts_per_s']:9.0f}"
            )
    naive = sum(speeds["snownlp naive"]) / len(speeds["snownlp naive"])
    print("\nmean texts/s and speed-up over naive snownlp:")
    for name, values in speeds.items():
        mean = sum(values) / len(values)
        print(f"  {name:24} {mean:9.0f}  {mean / naive:6.1f}x")


if __name__ == "__main__":
    main()
