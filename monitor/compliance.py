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
from pathlib import Path
from typing import Any

import ahocorasick
import yaml

from lexicons import DIRECTORY as LEXICONS
from monitor.textnorm import Normalized, compact, normalize

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
    hits: tuple[Hit, ...]

    @property
    def blocked(self) -> bool:
        return any(hit.entry.severity is Severity.BLOCK for hit in self.hits)

    @property
    def result(self) -> str:
        """block, warn or pass: the label of the compliance metric."""
        return "block" if self.blocked else "warn" if self.hits else "pass"

    def as_dict(self) -> dict[str, Any]:
        return {"blocked": self.blocked, "result": self.result,
                "hits": [hit.as_dict() for hit in self.hits]}  # fmt: skip


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

    def check(self, text: str) -> Verdict:
        normalized = normalize(text)
        matchable = compact(normalized)
        found: list[tuple[int, int, Term]] = []
        exempt: list[tuple[int, int]] = []
        for last, (length, entry) in self._automaton.iter(matchable.text):
            span = (last + 1 - length, last + 1)
            if isinstance(entry, _Exemption):
                exempt.append(span)
            else:
                found.append((*span, entry))
        kept = _longest_unexempted(found, exempt)
        return Verdict(tuple(_hit(text, matchable, start, end, term) for start, end, term in kept))


def default_checker(exempt_names: Sequence[str] = ()) -> ComplianceChecker:
    terms, exemptions = load_terms()
    return ComplianceChecker(terms, [*exemptions, *exempt_names])


def _match_keys(phrase: str) -> set[str]:
    """The phrase as it appears in compacted text, plus its 1-for-一 digit spelling."""
    key = compact(normalize(phrase)).text
    return {key, key.replace("一", "1")} if key else set()


def _longest_unexempted(
    found: list[tuple[int, int, Term]], exempt: list[tuple[int, int]]
) -> list[tuple[int, int, Term]]:
    """Drop hits that start inside an exemption (第一 in 第一次, 最 in 本店最) and hits
    contained in a longer hit (第一 inside 全国第一)."""
    candidates = [hit for hit in found if not any(start <= hit[0] < end for start, end in exempt)]
    candidates.sort(key=lambda hit: (hit[0], hit[0] - hit[1]))
    kept: list[tuple[int, int, Term]] = []
    for hit in candidates:
        if not any(k[0] <= hit[0] and hit[1] <= k[1] for k in kept):
            kept.append(hit)
    return kept


def _hit(source: str, matchable: Normalized, start: int, end: int, term: Term) -> Hit:
    first, last = matchable.source_span(start, end)
    context = source[max(0, first - CONTEXT_CHARS) : last + CONTEXT_CHARS]
    return Hit(text=source[first:last], start=first, end=last, context=context, entry=term)
