"""The service-QA word list (`lexicons/service_qa.yaml`) and finding its words in a turn.

Words are matched like the compliance checker matches terms: on compact normalised text
(simplified, half-width, lower case, no spaces, symbols or emoji), so 加 微 信, 加*微*信 and
加微信 are one word; one pass of an Aho-Corasick automaton finds words and exemptions
together. Three checks keep the look-alikes out:

- an exemption (不是您的问题, 不能加微信) swallows every word that starts inside it;
- a word whose characters stand in two clauses does not count (「您稍等。着急……」), unless
  every one of its characters is set apart, which is an evasion (加，微，信);
- a word that starts or ends with a Latin letter or a digit must not continue a longer
  run of them in the text as written (vx in vxlan, 315 in an order number).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import ahocorasick
import yaml

from lexicons import DIRECTORY as LEXICONS
from monitor.settings import ConfigError
from monitor.text.normalise import Normalized, compact, normalize

Side = Literal["agent", "customer"]
CUSTOMER_KINDS = ("escalation", "unresolved", "closing")
CLAUSE_BREAK = re.compile(r"[，。！？；,!?;\n…、]")
_ALNUM = re.compile(r"[0-9A-Za-z]")


@dataclass(frozen=True, slots=True)
class WordKind:
    kind: str
    name: str
    why: str
    side: Side
    terms: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class ServiceLexicon:
    kinds: tuple[WordKind, ...]
    exemptions: tuple[str, ...] = ()
    closing_max_chars: int = 20

    def kind(self, name: str) -> WordKind | None:
        return next((kind for kind in self.kinds if kind.kind == name), None)

    @property
    def agent_kinds(self) -> tuple[str, ...]:
        return tuple(kind.kind for kind in self.kinds if kind.side == "agent")


@dataclass(frozen=True, slots=True)
class WordHit:
    """A listed word found in a turn: `text` as written, at [start, end) of the turn."""

    kind: str
    term: str
    text: str
    start: int
    end: int


def load_lexicon(path: Path = LEXICONS / "service_qa.yaml") -> ServiceLexicon:
    """The word kinds and exemptions, from the YAML file described in its header."""
    try:
        table = yaml.safe_load(path.read_text(encoding="utf-8"))
        kinds = [
            _kind(name, spec, "agent") for name, spec in (table.get("agent") or {}).items()
        ] + [_kind(name, spec, "customer") for name, spec in (table.get("customer") or {}).items()]
        closing = (table.get("customer") or {}).get("closing") or {}
        exemptions = tuple(str(phrase) for phrase in table["exemptions"]["phrases"] or ())
        return ServiceLexicon(tuple(kinds), exemptions, int(closing.get("max_chars", 20)))
    except (OSError, yaml.YAMLError, KeyError, TypeError, AttributeError, ValueError) as error:
        raise ConfigError(f"cannot use the service-QA lexicon {path}: {error}") from None


def _kind(name: str, spec: Mapping[str, Any], side: Side) -> WordKind:
    terms = tuple(str(term) for term in spec["terms"])
    return WordKind(name, str(spec["name"]), str(spec.get("why", spec["name"])), side, terms)


@dataclass(slots=True)
class _Key:
    length: int
    words: list[tuple[str, str]] = field(default_factory=list)  # (kind, term)
    exemption: bool = False


class WordFinder:
    """Built once from the lexicon; `find` is linear in the turn's length."""

    def __init__(self, lexicon: ServiceLexicon) -> None:
        keys: dict[str, _Key] = {}
        for kind in lexicon.kinds:
            for term in kind.terms:
                key = _key(term)
                if key:
                    keys.setdefault(key, _Key(len(key))).words.append((kind.kind, term))
        for phrase in lexicon.exemptions:
            key = _key(phrase)
            if key:
                keys.setdefault(key, _Key(len(key))).exemption = True
        self._automaton = ahocorasick.Automaton()
        for key, meaning in keys.items():
            self._automaton.add_word(key, meaning)
        self._automaton.make_automaton()

    def find(self, text: str, kinds: Iterable[str] | None = None) -> list[WordHit]:
        """The words of `kinds` (all kinds by default) in `text`, in the order of the text;
        a word inside a longer word found is not reported again."""
        return self.find_normalized(text, compact(normalize(text)), kinds)

    def find_normalized(
        self, text: str, matchable: Normalized, kinds: Iterable[str] | None = None
    ) -> list[WordHit]:
        """`find` with the compacted text already made (the scorer makes it once per turn)."""
        wanted = None if kinds is None else frozenset(kinds)
        found: list[tuple[int, int, str, str]] = []
        exempt: list[tuple[int, int]] = []
        for last, key in self._automaton.iter(matchable.text):
            start = last + 1 - key.length
            if key.exemption:
                exempt.append((start, last + 1))
            for kind, term in key.words:
                if wanted is None or kind in wanted:
                    found.append((start, last + 1, kind, term))
        hits: list[WordHit] = []
        found.sort(key=lambda item: (item[0], -item[1]))
        reach = -1
        for start, end, kind, term in found:
            if end <= reach and hits and hits[-1].kind == kind:
                continue  # inside a longer word of the same kind already kept
            if any(s <= start < e for s, e in exempt):
                continue
            if not self._whole(text, matchable, start, end):
                continue
            first, stop = matchable.source_span(start, end)
            hits.append(WordHit(kind, term, text[first:stop], first, stop))
            reach = max(reach, end)
        return hits

    @staticmethod
    def _whole(text: str, matchable: Normalized, start: int, end: int) -> bool:
        origin = matchable.origin
        gaps = [text[origin[i - 1] + 1 : origin[i]] for i in range(start + 1, end)]
        if any(CLAUSE_BREAK.search(gap) for gap in gaps) and not all(gaps):
            return False
        first, stop = origin[start], origin[end - 1] + 1
        if _ALNUM.match(text[first]) and first and _ALNUM.match(text[first - 1]):
            return False
        return not (_ALNUM.match(text[stop - 1]) and stop < len(text) and _ALNUM.match(text[stop]))


def _key(phrase: str) -> str:
    return compact(normalize(phrase)).text
