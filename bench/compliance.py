"""Advertising-law checker: precision, recall and false alarms on labelled copy, and its speed.

    .venv/bin/python bench/compliance.py                  # the held-back set (heldout10)
    .venv/bin/python bench/compliance.py --part all --errors

Labelled sets of real-looking copy lines, each labelled with its category (the kind of
violation, or `clean`) and the verdict the Advertising Law and the 2023 SAMR guide on
absolute terms call for (block, warn, pass):

- `bench/data/adcopy.tsv` (tune), `bench/data/adcopy_fresh.tsv` (fresh) and
  `bench/data/adcopy_heldout2.tsv` to `adcopy_heldout6.tsv`, `adcopy_heldout8.tsv` and
  `adcopy_heldout9.tsv` (heldout2-6, heldout8-9): the rules are tuned on them, with
  `--errors`. Each held-back set was written by another hand, which read neither the rules
  nor the other sets, measured once, then its errors read and tuned on: heldout3 at recall
  0.825, false alarms 0.073; heldout4 0.860, 0.057; heldout5 0.895, 0.042 (rules and
  model); heldout6 0.926, 0.096; heldout8 0.953, 0.061; heldout9 0.975, 0.015;
- `bench/data/adcopy_train_a.tsv`, `_b` and `_c` (train_a-c): some 900 lines each, written
  the same way, for the model (`monitor/text/copymodel.py`), which trains on every part
  above (`scripts/train_copy_model.sh`); its thresholds were chosen leaving each of these
  three out in turn;
- held back, never tuned on by the rules or the model, their errors never read:
  `bench/data/adcopy_heldout10.tsv` (heldout10, the default part while the file exists),
  written as posts are published (notes, live-stream scripts, the claim mid-sentence):
  0.971, 0.027 measured once, 0.982, 0.027 after tuning on heldout9;
  `bench/data/adcopy_heldout11.tsv` (heldout11), from the trades regulators fine most
  (property, training, finance, health food, beauty): 0.971, 0.031 measured once, after
  tuning on heldout9; and
  `bench/data/adcopy_heldout7.tsv` (heldout7): 0.975, 0.038 once, 0.986, 0.042 after
  tuning on heldout8 and heldout9.

Only the files of the part measured are read; `all` is the parts tuned on, and the speed is
measured on them too, so tuning never reads the held-back file.

A violating line is caught when the checker does not pass it (a warning counts: a person
looks); a clean line raised a false alarm when the checker does not pass it."""

from __future__ import annotations

import argparse
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from monitor.text.compliance import ComplianceChecker, Verdict, default_checker
from monitor.text.copymodel import CLEAN, read_labelled
from monitor.web.api import MAX_HITS

DATA = Path(__file__).with_name("data")
PARTS = {
    "tune": DATA / "adcopy.tsv",
    "fresh": DATA / "adcopy_fresh.tsv",
    "heldout2": DATA / "adcopy_heldout2.tsv",
    "heldout3": DATA / "adcopy_heldout3.tsv",
    "heldout4": DATA / "adcopy_heldout4.tsv",
    "heldout5": DATA / "adcopy_heldout5.tsv",
    "heldout6": DATA / "adcopy_heldout6.tsv",
    "heldout7": DATA / "adcopy_heldout7.tsv",
    "heldout8": DATA / "adcopy_heldout8.tsv",
    "heldout9": DATA / "adcopy_heldout9.tsv",
    "heldout10": DATA / "adcopy_heldout10.tsv",
    "heldout11": DATA / "adcopy_heldout11.tsv",
    "train_a": DATA / "adcopy_train_a.tsv",
    "train_b": DATA / "adcopy_train_b.tsv",
    "train_c": DATA / "adcopy_train_c.tsv",
}
TUNING = ("tune", "fresh", "heldout2", "heldout3", "heldout4", "heldout5", "heldout6",
          "heldout8", "heldout9", "train_a", "train_b", "train_c")  # fmt: skip
HELD_BACK = "heldout10"


@dataclass(frozen=True, slots=True)
class Line:
    category: str
    expected: str  # block, warn or pass
    text: str
    part: str  # tune, fresh, heldout2 or heldout3: the file it comes from


def default_part() -> str:
    """The held-back part when its file exists, else the last part tuned on."""
    return HELD_BACK if PARTS[HELD_BACK].exists() else TUNING[-1]


def labelled_lines(parts: tuple[str, ...]) -> list[Line]:
    """The labelled lines of `parts` only; `\\uXXXX` in a text stands for that character."""
    return [Line(*row, part) for part in parts for row in read_labelled(PARTS[part])]


def _timed(work: Callable[[], object]) -> float:
    started = time.perf_counter()
    work()
    return time.perf_counter() - started


def _ratio(part: int, whole: int) -> str:
    return f"{part / whole:.3f}" if whole else "  -  "


def report(checker: ComplianceChecker, lines: list[Line], errors: bool) -> None:
    """Per category and overall: precision, recall on violations, false alarms on clean."""
    verdicts = [(line, checker.check(line.text)) for line in lines]
    clean = [(line, v) for line, v in verdicts if line.category == CLEAN]
    violating = [(line, v) for line, v in verdicts if line.category != CLEAN]
    flagged_by: Counter[str] = Counter()
    right_by: Counter[str] = Counter()
    alarms_by: Counter[str] = Counter()
    for line, verdict in verdicts:
        for category in {hit.entry.category for hit in verdict.hits}:
            flagged_by[category] += 1
            right_by[category] += line.category != CLEAN
            alarms_by[category] += line.category == CLEAN
    categories = sorted({line.category for line, _ in violating} | set(flagged_by))
    print(f"{'category':<14}{'lines':>6}{'caught':>8}{'recall':>8}{'flagged':>9}"
          f"{'precision':>10}{'false alarms':>14}")  # fmt: skip
    for category in categories:
        own = [v for line, v in violating if line.category == category]
        caught = sum(v.result != "pass" for v in own)
        print(f"{category:<14}{len(own):>6}{caught:>8}{_ratio(caught, len(own)):>8}"
              f"{flagged_by[category]:>9}{_ratio(right_by[category], flagged_by[category]):>10}"
              f"{_ratio(alarms_by[category], len(clean)):>14}")  # fmt: skip
    caught = sum(v.result != "pass" for _, v in violating)
    alarms = sum(v.result != "pass" for _, v in clean)
    print(f"{'overall':<14}{len(violating):>6}{caught:>8}{_ratio(caught, len(violating)):>8}"
          f"{caught + alarms:>9}{_ratio(caught, caught + alarms):>10}"
          f"{_ratio(alarms, len(clean)):>14}   ({alarms} of {len(clean)} clean lines)")  # fmt: skip
    blocks = [v for line, v in violating if line.expected == "block"]
    print(
        f"severity: {sum(v.blocked for v in blocks)} of {len(blocks)} lines the law forbids "
        f"are blocked; {sum(v.blocked for line, v in violating if line.expected == 'warn')} of "
        f"{sum(line.expected == 'warn' for line, _ in violating)} that need only a fact check "
        "are blocked (they should warn)"
    )
    hard = sum(v.blocked for _, v in clean)
    print(f"clean lines blocked: {hard} of {len(clean)} ({_ratio(hard, len(clean))}); "
          "the other false alarms are warnings, which ask for a look")  # fmt: skip
    if errors:
        for line, verdict in verdicts:
            if (verdict.result != "pass") != (line.category != CLEAN):
                print(f"  {line.category}/{line.expected} got {verdict.result}: {line.text}"
                      f"  {_explain(verdict)}")  # fmt: skip


def _explain(verdict: Verdict) -> str:
    hits = [f"{hit.text}[{hit.rule}]" for hit in verdict.hits]
    passed = [f"{item.text}<{item.rule}>" for item in verdict.passed]
    return " ".join(hits + passed)


def speed(checker: ComplianceChecker, lines: list[Line]) -> None:
    """ms per 2,000 and 20,000 characters of mixed copy, and the dense worst cases."""
    mixed = "".join(line.text for line in lines)
    for size in (2_000, 20_000):
        copy = (mixed * (size // len(mixed) + 1))[:size]
        rounds = 2_000_000 // size
        best = min(_timed(partial(_repeat, checker, copy, rounds)) for _ in range(3)) / rounds
        print(f"{size:,}-character copy: {best * 1000:.2f} ms per check")
    # Copy that is nothing but terms, the shape of issue 10's request: the check is linear,
    # so 100,000 characters of it take about 50 times what 2,000 do (target: ≤ 200 ms).
    for piece in ("国 家 级 ", "最", "第 一 "):  # a hit every 6, every 1 and every 4 characters
        dense = (piece * (100_000 // len(piece) + 1))[:100_000]
        total = checker.check(dense, limit=0).hits_total
        for limit, label in ((MAX_HITS, f"first {MAX_HITS} hits, as /compliance"), (None, "all")):
            best = min(_timed(partial(checker.check, dense, limit=limit)) for _ in range(3))
            print(f"100,000 characters of {piece.strip()!r} ({total:,} hits), {label}: "
                  f"{best * 1000:.1f} ms per check")  # fmt: skip


def _repeat(checker: ComplianceChecker, copy: str, rounds: int) -> None:
    for _ in range(rounds):
        checker.check(copy)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    held_back = default_part()
    files = "; ".join(f"{part}: {path.name}" for part, path in PARTS.items())
    parser.add_argument("--part", choices=(*PARTS, "all"), default=held_back,
                        help=f"{HELD_BACK} is held back (the default while its file exists); "
                        f"all: {', '.join(TUNING)}, the parts tuned on. {files}")  # fmt: skip
    parser.add_argument("--errors", action="store_true", help="list the lines judged wrongly")
    args = parser.parse_args()
    parts = TUNING if args.part == "all" else (args.part,)
    missing = [PARTS[part].name for part in parts if not PARTS[part].exists()]
    if missing:
        parser.error(f"no labelled file for --part {args.part}: {', '.join(missing)}")
    checker = default_checker(exempt_names=["第一坊"])
    chosen = labelled_lines(parts)
    held = ", held back" if args.part not in (*TUNING, "all") else ", tuned on"
    print(f"measured on: {args.part} ({len(chosen)} lines{held})")
    if args.errors and held == ", held back":
        print("note: the errors of the held-back set are listed; tuning on them spends it")
    report(checker, chosen, args.errors)
    speed(checker, labelled_lines(TUNING))


if __name__ == "__main__":
    main()
