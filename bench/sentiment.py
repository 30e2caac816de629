"""Sentiment accuracy and speed, every method side by side in one run.

    .venv/bin/python bench/sentiment.py [--sample 2000] [--data ../shared/data]

For each CSV in the data folder (text,label[,emotion]), a balanced sample of positive and
negative items from the part the packaged model never saw (the held-out split that
`guanchao train` made of train/ files, with the same seed; all of dev/) is scored by each
method; a text counts as positive at P(positive) >= 0.5. ECE is the calibration error.
Speed is texts per second on one core, model loading excluded.
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from collections.abc import Callable
from pathlib import Path

from monitor.settings import load_settings
from monitor.text.segment import make_segmenter
from monitor.text.sentiment import Rules, Scorer, load_model, load_rules
from monitor.text.training import expected_calibration_error, split_examples

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--held-out", type=float, default=0.1, help="as given to guanchao train")
    parser.add_argument("--split-seed", type=int, default=7, help="as given to guanchao train")
    args = parser.parse_args()
    files = sorted(args.data.rglob("*.csv"), key=lambda path: (path.parent.name, path.name))
    if not files:
        raise SystemExit(f"no CSV files under {args.data}")
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
