"""Pre-publication check of marketing copy against the Advertising Law term list.

The copy is normalised and compacted first (simplified, half-width, lower case, no spaces,
symbols or emoji), so 第 一, 第*一, 最.佳, 國家級 and ＮＯ．１ are caught; one pass of an
Aho-Corasick automaton finds terms and exemptions together; hits are reported at their
positions in the text the copywriter wrote.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from enum import StrEnum
from itertools import accumulate
from pathlib import Path
from typing import Any

import ahocorasick
import yaml

from lexicons import DIRECTORY as LEXICONS
from monitor.text.normalise import Normalized, compact, normalize

CONTEXT_CHARS = 12


class Severity(StrEnum):
    BLOCK = "block"
    WARN = "warn"


@dataclass(frozen=True, slots=True)
class Term:
    term: str
    category: str
    category_name: str
    basis: str
    severity: Severity
    suggestion: str


@dataclass(frozen=True, slots=True)
class Hit:
    """One flagged term: `text` as written, at `start`/`end` in the original text."""

    text: str
    start: int
    end: int
    context: str
    entry: Term

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self.entry), "text": self.text, "start": self.start, "end": self.end,
                "context": self.context}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Verdict:
    """The hits in the order of the text: all of them, or with a limit the first ones.

    `hits_total` counts every hit, and `blocked` looks at every hit, listed or not.
    """

    hits: tuple[Hit, ...]
    hits_total: int
    blocked: bool

    @property
    def truncated(self) -> bool:
        return len(self.hits) < self.hits_total

    @property
    def result(self) -> str:
        """block, warn or pass: the label of the compliance metric."""
        return "block" if self.blocked else "warn" if self.hits_total else "pass"

    def as_dict(self) -> dict[str, Any]:
        return {"blocked": self.blocked, "result": self.result,
                "hits": [hit.as_dict() for hit in self.hits],
                "hits_total": self.hits_total, "truncated": self.truncated}  # fmt: skip


@dataclass(frozen=True, slots=True)
class _Exemption:
    phrase: str


def load_terms(path: Path = LEXICONS / "adlaw.yaml") -> tuple[list[Term], list[str]]:
    """The term list and the exemption phrases, from the YAML file described in its header."""
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    terms: list[Term] = []
    for category, spec in table["categories"].items():
        for term, override in spec["terms"].items():
            detail = override if isinstance(override, dict) else {"suggestion": override}
            terms.append(
                Term(
                    term=str(term),
                    category=category,
                    category_name=spec["name"],
                    basis=spec["basis"],
                    severity=Severity(detail.get("severity", spec["severity"])),
                    suggestion=detail.get("suggestion") or spec["suggestion"],
                )
            )
    exemptions = [str(phrase) for group in table["exemptions"].values() for phrase in group]
    return terms, exemptions


class ComplianceChecker:
    """Built once from the term list (and trademarks/shop names that are exempt)."""

    def __init__(self, terms: Iterable[Term], exemptions: Iterable[str]) -> None:
        self._automaton = ahocorasick.Automaton()
        for term in terms:
            for key in _match_keys(term.term):
                self._automaton.add_word(key, (len(key), term))
        for phrase in exemptions:
            for key in _match_keys(phrase):
                self._automaton.add_word(key, (len(key), _Exemption(phrase)))
        self._automaton.make_automaton()

    def check(self, text: str, limit: int | None = None) -> Verdict:
        """Every hit in `text`, or with `limit` the first `limit` of them (and the count).

        Linear in the length of the text: each character and each match costs a bounded
        amount of work, so the caller bounds the time by bounding the input.
        """
        matchable = compact(normalize(text))
        starts, ends, terms = _longest_unexempted(
            self._automaton.iter(matchable.text), len(matchable.text)
        )
        shown = len(terms) if limit is None else min(max(limit, 0), len(terms))
        return Verdict(
            hits=tuple(_hit(text, matchable, starts[n], ends[n], terms[n]) for n in range(shown)),
            hits_total=len(terms),
            blocked=any(term.severity is Severity.BLOCK for term in terms),
        )


def default_checker(exempt_names: Sequence[str] = ()) -> ComplianceChecker:
    terms, exemptions = load_terms()
    return ComplianceChecker(terms, [*exemptions, *exempt_names])


def _match_keys(phrase: str) -> set[str]:
    """The phrase as it appears in compacted text, plus its 1-for-一 digit spelling."""
    key = compact(normalize(phrase)).text
    return {key, key.replace("一", "1")} if key else set()


def _longest_unexempted(
    matches: Iterable[tuple[int, tuple[int, Term | _Exemption]]], size: int
) -> tuple[list[int], list[int], list[Term]]:
    """Starts, ends and terms of the hits to report, in the order of the text.

    Drops hits that start inside an exemption (第一 in 第一次, 最 in 本店最) and hits
    contained in a longer hit (第一 inside 全国第一). `matches` are the automaton's
    (last index, (length, entry)), which come in the order of their ends.

    Copy made of nothing but terms (最最最…) has a match at every character, so this is
    linear: no hit is compared with every other, and the spans are kept as plain ints
    in three lists rather than a tuple each, which the garbage collector would walk.
    """
    starts: list[int] = []
    ends: list[int] = []
    terms: list[Term] = []
    steps: list[int] = []  # +1 where an exemption starts, -1 where it ends
    for last, (length, entry) in matches:
        if isinstance(entry, _Exemption):
            steps = steps or [0] * (size + 1)
            steps[last + 1 - length] += 1
            steps[last + 1] -= 1
        else:
            starts.append(last + 1 - length)
            ends.append(last + 1)
            terms.append(entry)
    exempt = list(accumulate(steps)) if steps else None  # exemptions covering each place
    # A stack of the hits kept so far: starts and ends both strictly increasing, so none
    # contains another. Each hit ends no earlier than those before it, so it contains
    # every kept hit that starts where it does or later, and only the top one (which
    # may end where it ends) can contain it.
    kept_starts: list[int] = []
    kept_ends: list[int] = []
    kept_terms: list[Term] = []
    for start, end, term in zip(starts, ends, terms, strict=True):
        if exempt is not None and exempt[start]:
            continue
        while kept_starts and kept_starts[-1] >= start:
            kept_starts.pop()
            kept_ends.pop()
            kept_terms.pop()
        if kept_ends and kept_ends[-1] >= end:
            continue
        kept_starts.append(start)
        kept_ends.append(end)
        kept_terms.append(term)
    return kept_starts, kept_ends, kept_terms


def _hit(source: str, matchable: Normalized, start: int, end: int, term: Term) -> Hit:
    first, last = matchable.source_span(start, end)
    context = source[max(0, first - CONTEXT_CHARS) : last + CONTEXT_CHARS]
    return Hit(text=source[first:last], start=first, end=last, context=context, entry=term)
