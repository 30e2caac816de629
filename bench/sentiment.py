"""Sentiment accuracy and speed, every method side by side in one run.

    .venv/bin/python bench/sentiment.py [--sample 2000] [--data ../shared/data]

For each CSV in the data folder (text,label[,emotion]), a balanced sample of positive and
negative items is scored by each method; a text counts as positive at P(positive) >= 0.5.
Speed is texts per second on one core, model loading excluded.
"""

from __future__ import annotations

import argparse
import csv
import random
import time
from collections.abc import Callable
from pathlib import Path

from monitor.segment import make_segmenter
from monitor.sentiment import Rules, Scorer, load_model, load_rules

Method = Callable[[str], float]
DEFAULT_DATA = Path(__file__).resolve().parents[2] / "shared" / "data"


def balanced_sample(path: Path, size: int, seed: int) -> list[tuple[str, bool]]:
    with path.open(encoding="utf-8") as stream:
        rows = [row for row in csv.DictReader(stream) if row["label"] in ("positive", "negative")]
    rng = random.Random(seed)
    half = size // 2
    positive = [row["text"] for row in rows if row["label"] == "positive"]
    negative = [row["text"] for row in rows if row["label"] == "negative"]
    picked = [(text, True) for text in rng.sample(positive, min(half, len(positive)))]
    picked += [(text, False) for text in rng.sample(negative, min(half, len(negative)))]
    rng.shuffle(picked)
    return picked


def methods(model_spec: str) -> dict[str, Method]:
    from snownlp import SnowNLP

    model = load_model(model_spec)
    rules = load_rules()
    no_rules = Rules(polarity={})
    found: dict[str, Method] = {"snownlp naive": lambda text: float(SnowNLP(text).sentiments)}
    for backend in ("jieba", "rjieba"):
        segmenter = make_segmenter(backend)
        segmenter.cut("预热")
        bayes = Scorer(segmenter, model, no_rules)
        ours = Scorer(segmenter, model, rules)
        found[f"bayes on {backend}"] = lambda text, s=bayes: s.score(text).positive
        found[f"guanchao ({backend})"] = lambda text, s=ours: s.score(text).positive
    return found


def evaluate(method: Method, sample: list[tuple[str, bool]]) -> dict[str, float]:
    started = time.perf_counter()
    predictions = [method(text) >= 0.5 for text, _ in sample]
    elapsed = time.perf_counter() - started
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
        "texts_per_s": len(sample) / elapsed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--sample", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--model", default="snownlp", help="model spec, as in the config")
    args = parser.parse_args()
    files = sorted(args.data.rglob("*.csv"))
    if not files:
        raise SystemExit(f"no CSV files under {args.data}")
    scorers = methods(args.model)
    header = (
        f"{'dataset':32} {'method':20} {'acc':>6} {'mF1':>6} {'negP':>6} {'negR':>6} {'texts/s':>9}"
    )
    print(header)
    speeds: dict[str, list[float]] = {}
    for path in files:
        sample = balanced_sample(path, args.sample, args.seed)
        for name, method in scorers.items():
            result = evaluate(method, sample)
            speeds.setdefault(name, []).append(result["texts_per_s"])
            print(
                f"{path.stem:32} {name:20} {result['accuracy']:6.3f} {result['macro_f1']:6.3f} "
                f"{result['neg_precision']:6.3f} {result['neg_recall']:6.3f} "
                f"{result['texts_per_s']:9.0f}"
            )
    naive = sum(speeds["snownlp naive"]) / len(speeds["snownlp naive"])
    print("\nmean texts/s and speed-up over naive snownlp:")
    for name, values in speeds.items():
        mean = sum(values) / len(values)
        print(f"  {name:20} {mean:9.0f}  {mean / naive:6.1f}x")


if __name__ == "__main__":
    main()
