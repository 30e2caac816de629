"""Pre-publication check of marketing copy against the Advertising Law and platform rules.

A word list alone either fines the copywriter for 第一章 and 最佳拍摄时间 or lets 行业领跑
through, so every term found is *decided* by its context: the rules of `adlaw.yaml` look
at the words right before and after it (第一 + a measure word is an ordinal, 最好 + 冷藏 an
instruction, 全网/行业/销量 + 第一 a ranking) and at cue words nearby (an aim such as
致力于, a named data source). The first rule that matches decides — pass, warn or block —
and says why; a term no rule speaks for keeps the severity the list gives it. An absolute
word inside a title in 《》 names a book or a show (rule `title`). Claims that
no single word makes (没有比…更好, 承诺年化…回报, 微❤信：abc123) are found by the pattern
rules of the same file, bounded regular expressions read one clause at a time; what one
finds is named `pattern:<name>`, says its own why, and is decided by the same rules.

The copy is normalised and compacted first (simplified, half-width, lower case, no spaces,
symbols or emoji), so 第 一, 第*一, 最.佳, 國家級, ＮＯ．１ and 加 V are caught; one pass of
an Aho-Corasick automaton finds terms, exemptions and cue words together; every rule
reads a bounded window, so the check stays linear in the length of the copy. Hits and
the terms a rule passed are reported at their positions in the text the copywriter wrote.
"""

from __future__ import annotations

import bisect
import dataclasses
import functools
import heapq
import os
import re
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any

import ahocorasick
import yaml

# Pinyin is read one character at a time here: pypinyin's table of phrases would only add
# a quarter of a million objects for the garbage collector to walk during every large
# check (100,000 characters of 最: the automaton's walk alone took 52 ms with it, 10 without).
os.environ.setdefault("PYPINYIN_NO_PHRASES", "true")
from pypinyin import Style, pinyin

from lexicons import DIRECTORY as LEXICONS
from monitor.settings import ConfigError
from monitor.text.copymodel import CopyModel, Judgement
from monitor.text.normalise import Normalized, compact, has_ideograph, normalize

CONTEXT_CHARS = 12
AFTER_WINDOW = 16  # characters of compacted text an `after` pattern may read
LISTED = "listed"  # the rule name of a decision the term list made on its own
PATTERN_PREFIX = "pattern:"  # the `term` of a hit a pattern rule found (no listed word)
UNBOUNDED = re.compile(r"(?<!\\)[*+]|\{\d*,\}")  # a repetition without an upper bound
CHARACTER_CLASS = re.compile(r"(?<!\\)\[\^?\]?(?:\\.|[^\]\\])*\]")  # [+➕] repeats nothing
# The sentences the model reads, each alone (it learned from one line of copy at a time).
SENTENCE = re.compile(r"[^。\n]+")
MODEL = "model"  # the rule name, and the term, of a hit the model made
MODEL_MIN_LETTERS = 4  # a shorter sentence (好吃, 包邮) is too little for the model to read
# A longer sentence is not read to overrule a listed word: clean text padded around a claim
# would dilute the model's reading of it, and the rules' word stands.
OVERRULE_MAX_LETTERS = 120
LATIN = re.compile("[a-z]")  # compacted text is lower case
SOFTENED = "；法律禁止的用语不自动放行，降为提示，请人工确认"
OVERRULE_MIN_CONTEXT = 6  # letters besides the word: a line of little more says nothing
JUDGED_TOGETHER = 2048  # sentences scored in one numpy pass: bounds its memory on huge copy
MODEL_SUGGESTION = "人工核对这一句：确有此类宣称的，改为可证实的具体描述或删除；如实描述的可忽略"
# A name in 《》 (《最好的我们》, 《第一炉香》) names a book, show or document; an absolute
# word in it describes nothing on sale. The title must say more than the word: 《最好》
# alone is the word dressed up.
TITLE = re.compile(r"《([^《》\n]{2,40})》")
TITLE_RULE = "title"
TITLE_WHY = "书名号《》内是书、影视作品或文件的名称，其中的绝对化用语不是对商品的宣称"
TITLE_CATEGORIES = frozenset({"absolute"})
TITLE_MIN_EXTRA = 2  # characters of the title besides the word
# Compaction joins clauses; words next to a term across one of these are not its context.
CLAUSE_BREAK = re.compile(r"[，。！？；：,.!?;:\n、…|/（）()【】\[\]「」『』《》<>\"“”]")


class Severity(StrEnum):
    BLOCK = "block"  # the law forbids it outright: must not be published
    WARN = "warn"  # may be true: needs a fact check or a human look
    PASS = "pass"  # a neutral word, or a description: flagged only when a rule says so


class Place(StrEnum):
    """Where a rule looks, relative to the term it decides."""

    AFTER = "after"  # the words that follow the term directly (or `pattern`)
    BEFORE = "before"  # the words that end right where the term starts
    NEAR = "near"  # a cue word within `window` characters before/after the term


@dataclass(frozen=True, slots=True)
class Term:
    term: str
    category: str
    category_name: str
    basis: str
    severity: Severity
    suggestion: str


@dataclass(frozen=True, slots=True)
class Rule:
    """One context decision: when `words` stand at `place` of one of `terms`, `then`.

    `terms` may name a category as `@category`. Rules are tried in the order of the
    file; the first that matches decides.
    """

    name: str
    why: str
    terms: tuple[str, ...]
    place: Place
    words: tuple[str, ...]
    then: Severity
    pattern: str = ""  # AFTER only: a regular expression on the compacted text
    window: tuple[int, int] = (12, 12)  # NEAR only: characters before, after the term
    suggestion: str = ""


@dataclass(frozen=True, slots=True)
class Exemption:
    """A phrase in which no term counts (a trademark, 一级能效): `group` says why."""

    phrase: str
    group: str = "exempt_names"
    why: str = "商标、店名等经配置豁免的名称"


@dataclass(frozen=True, slots=True)
class Pattern:
    """A claim no single word makes (没有比…更, 承诺年化…回报, 微❤信：abc123): a regex.

    `compact` patterns read the compacted text (no spaces or symbols, so evasions do not
    break them) and must match inside one clause; the others read the normalised text,
    symbols kept (a handle after 微信：). What one finds is `entry`, a term named
    `pattern:<name>` of its category: the context rules for that category decide it too
    (不承诺…, 谨防…), and its hit says the pattern's `why`. Quantifiers are bounded, so a
    pattern reads a bounded window and the check stays linear.
    """

    name: str
    why: str
    pattern: str
    entry: Term
    compact: bool = True


@dataclass(frozen=True, slots=True)
class Hit:
    """One flagged term: `text` as written, at `start`/`end` in the original text.

    `entry` is the term as decided (a rule may have raised or lowered its severity);
    `rule` and `why` say what decided it.
    """

    text: str
    start: int
    end: int
    context: str
    entry: Term
    rule: str = LISTED
    why: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {**asdict(self.entry), "text": self.text, "start": self.start, "end": self.end,
                "context": self.context, "rule": self.rule, "why": self.why}  # fmt: skip


@dataclass(frozen=True, slots=True)
class Passed:
    """A listed term that an exemption or a context rule found to be a description."""

    text: str
    start: int
    end: int
    term: str
    category: str
    rule: str
    why: str

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True, slots=True)
class Verdict:
    """The hits in the order of the text: all of them, or with a limit the first ones.

    `hits_total` counts every hit, and `blocked` looks at every hit, listed or not;
    `passed` are the terms found and let through, with the rule that let them.
    """

    hits: tuple[Hit, ...]
    hits_total: int
    blocked: bool
    passed: tuple[Passed, ...] = ()
    passed_total: int = 0

    @property
    def truncated(self) -> bool:
        return len(self.hits) < self.hits_total or len(self.passed) < self.passed_total

    @property
    def result(self) -> str:
        """block, warn or pass: the label of the compliance metric."""
        return "block" if self.blocked else "warn" if self.hits_total else "pass"

    def as_dict(self) -> dict[str, Any]:
        return {"blocked": self.blocked, "result": self.result,
                "hits": [hit.as_dict() for hit in self.hits],
                "hits_total": self.hits_total, "truncated": self.truncated,
                "passed": [item.as_dict() for item in self.passed],
                "passed_total": self.passed_total}  # fmt: skip


@dataclass(slots=True)
class _Key:
    """What one automaton key stands for: a term, an exemption, cue words of rules."""

    length: int
    term: Term | None = None
    exemption: Exemption | None = None
    cues: list[int] = field(default_factory=list)  # indices of NEAR rules

    def packed(self) -> _Packed:
        """What the automaton stores: a plain tuple, unpacked fast for every match."""
        return self.length, self.term, self.exemption, tuple(self.cues)


_Packed = tuple[int, Term | None, Exemption | None, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class _Compiled:
    """A rule ready to test: its words by length, its pattern compiled."""

    rule: Rule
    index: int
    place: Place
    by_length: tuple[tuple[int, frozenset[str]], ...]
    pattern: re.Pattern[str] | None
    edge: frozenset[str] | None  # the characters next to the term a match needs, if known


Lexicon = tuple[list[Term], list[Exemption], list[Rule]]


def load_patterns(path: Path = LEXICONS / "adlaw.yaml") -> list[Pattern]:
    """The pattern rules of the YAML file: claims that no listed word makes."""
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    patterns = []
    for name, spec in (table.get("patterns") or {}).items():
        category = table["categories"][spec["category"]]
        if UNBOUNDED.search(CHARACTER_CLASS.sub("", spec["pattern"])):
            raise ConfigError(f"adlaw.yaml pattern {name}: bound every repetition ({{0,8}})")
        entry = Term(
            term=PATTERN_PREFIX + str(name),
            category=spec["category"],
            category_name=category["name"],
            basis=category["basis"],
            severity=Severity(spec["then"]),
            suggestion=spec.get("suggestion") or category["suggestion"],
        )
        compact_text = spec.get("text", "compact") == "compact"
        patterns.append(Pattern(str(name), spec["why"], spec["pattern"], entry, compact_text))
    return patterns


def load_terms(path: Path = LEXICONS / "adlaw.yaml") -> Lexicon:
    """Terms, exemptions and context rules, from the YAML file described in its header."""
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    terms = [
        _term(str(term), category, spec, override)
        for category, spec in table["categories"].items()
        for term, override in spec["terms"].items()
    ]
    exemptions = [
        Exemption(str(phrase), group, spec["why"])
        for group, spec in table["exemptions"].items()
        for phrase in spec["phrases"]
    ]
    rules = [_rule(name, spec) for name, spec in table["rules"].items()]
    return terms, exemptions, rules


def optional_categories(path: Path = LEXICONS / "adlaw.yaml") -> frozenset[str]:
    """Categories a channel may switch off (platform rules rather than the law)."""
    table = yaml.safe_load(path.read_text(encoding="utf-8"))
    return frozenset(name for name, spec in table["categories"].items() if spec.get("optional"))


def _term(term: str, category: str, spec: Mapping[str, Any], override: Any) -> Term:
    detail = override if isinstance(override, dict) else {"suggestion": override}
    return Term(
        term=term,
        category=category,
        category_name=spec["name"],
        basis=spec["basis"],
        severity=Severity(detail.get("severity", spec["severity"])),
        suggestion=detail.get("suggestion") or spec["suggestion"],
    )


def _rule(name: str, spec: Mapping[str, Any]) -> Rule:
    (place,) = [place for place in Place if place.value in spec]
    window = spec.get("window", (12, 12))
    return Rule(
        name=name,
        why=spec["why"],
        terms=tuple(str(term) for term in spec["terms"]),
        place=place,
        words=tuple(str(word) for word in spec[place.value] or ()),
        then=Severity(spec["then"]),
        pattern=spec.get("pattern", ""),
        window=(int(window[0]), int(window[1])),
        suggestion=spec.get("suggestion", ""),
    )


class ComplianceChecker:
    """Built once from the term list, its exemptions and its context rules.

    `off` names categories a channel has switched off (e.g. offplatform): their terms
    are neither reported nor passed. `model` flags sentences no rule flagged that read
    like violating copy (`monitor.text.copymodel`).
    """

    def __init__(
        self,
        terms: Iterable[Term],
        exemptions: Iterable[str | Exemption] = (),
        rules: Iterable[Rule] = (),
        off: Iterable[str] = (),
        patterns: Iterable[Pattern] = (),
        model: CopyModel | None = None,
    ) -> None:
        switched_off = set(off)
        terms = list(terms)
        self._model = model
        self._model_terms = {  # a warning of each category, for a person to read the sentence
            term.category: dataclasses.replace(term, term=MODEL, severity=Severity.WARN,
                                               category_name=term.category_name + "（疑似）",
                                               suggestion=MODEL_SUGGESTION)
            for term in terms if term.category not in switched_off
        }  # fmt: skip
        kept_patterns = [p for p in patterns if p.entry.category not in switched_off]
        self._patterns = [(re.compile(part), p.entry, p.compact)
                          for p in kept_patterns for part in _alternatives(p.pattern)]  # fmt: skip
        self._pattern_why = {p.entry.term: (p.entry.term, p.why) for p in kept_patterns}
        kept_terms = [term for term in terms if term.category not in switched_off]
        kept_terms += [p.entry for p in kept_patterns]
        self._rules = [_compile(rule, n) for n, rule in enumerate(rules)]
        self._rules_of = _rules_by_term(kept_terms, self._rules)
        self._decided = {(term.term, ruled.index): _decided(term, ruled.rule)
                         for term in kept_terms for ruled in self._rules_of[term.term]}  # fmt: skip
        keys: dict[str, _Key] = {}
        for term in kept_terms:
            for key in _match_keys(term.term):
                keys.setdefault(key, _Key(len(key))).term = term
        for item in exemptions:
            exemption = item if isinstance(item, Exemption) else Exemption(item)
            for key in _match_keys(exemption.phrase):
                keys.setdefault(key, _Key(len(key))).exemption = exemption
        for ruled in self._rules:
            if ruled.rule.place is Place.NEAR:
                for word in ruled.rule.words:
                    for key in _match_keys(word):
                        keys.setdefault(key, _Key(len(key))).cues.append(ruled.index)
        self._longest_cue = max((m.length for m in keys.values() if m.cues), default=0)
        self._automaton = _automaton(keys)
        # Pinyin spellings (bao本) have their own automaton, run only on copy with letters:
        # their 5,000 keys slow the walk through Chinese-only copy (最 × 100,000: 19 -> 38 ms).
        spellings = {key: _Key(len(key), term=term) for term in kept_terms
                     for key in _pinyin_keys(term.term) if key not in keys}  # fmt: skip
        self._spellings = _automaton(spellings) if spellings else None

    def check(self, text: str, limit: int | None = None) -> Verdict:
        """Every hit in `text`, or with `limit` the first `limit` of them (and the count).

        Linear in the length of the text: each character and each match costs a bounded
        amount of work, so the caller bounds the time by bounding the input.
        """
        normal = normalize(text)
        matchable = compact(normal)
        matches: Iterable[tuple[int, _Packed]] = self._automaton.iter(matchable.text)
        if self._spellings is not None and LATIN.search(matchable.text):
            spelled = _whole_words(self._spellings.iter(matchable.text), text, matchable)
            matches = heapq.merge(matches, spelled, key=lambda match: match[0])
        found = _scan(matches, len(matchable.text), len(self._rules),
                      self._pattern_hits(text, normal, matchable))  # fmt: skip
        first_rule = _Decider(text, matchable, self._rules_of, found.cues, self._longest_cue).first
        decisions = [
            (start, end, term, first_rule(start, end, term)) for start, end, term in found.kept
        ]
        reader = self._reader(text, matchable, decisions, found.exempted)
        room = _room(limit)
        hits: list[Hit] = []
        let_through: list[tuple[Span, Term, str, str]] = [
            (span, term, "exemption:" + ex.group, f"{ex.why}（{ex.phrase}）")
            for span, term, ex in found.exempted
        ]
        flagged: list[int] = []  # where each hit starts, in the compacted text
        blocked = False
        titles = _Titles(text) if "《" in text else None
        for start, end, term, ruled in decisions:
            then = term.severity if ruled is None else ruled.rule.then
            if (
                titles is not None
                and then is not Severity.PASS
                and term.category in TITLE_CATEGORIES
                and titles.hold(*matchable.source_span(start, end))
            ):
                let_through.append(((start, end), term, TITLE_RULE, TITLE_WHY))
                continue
            overruled = ""
            if reader is not None and start in reader.listed:
                overruled = reader.overrules(start, end, term)
                if overruled and term.severity is Severity.WARN:
                    let_through.append(((start, end), term, MODEL, overruled))
                    continue
            if then is Severity.PASS:
                if ruled is not None:
                    let_through.append(((start, end), term, ruled.rule.name, ruled.rule.why))
                continue
            flagged.append(start)
            if overruled:  # a word the law forbids is never let through: softened to a look
                then = Severity.WARN
            if then is Severity.BLOCK:
                blocked = True
            if len(hits) < room:
                entry = term if ruled is None else self._decided[(term.term, ruled.index)]
                listed = self._pattern_why.get(term.term, _LISTED_WHY)
                if overruled:
                    entry = dataclasses.replace(term, severity=Severity.WARN)
                    listed = (MODEL, overruled + SOFTENED)
                hits.append(_hit(text, matchable, (start, end), entry, ruled, listed))
        modelled = [] if reader is None else self._model_hits(reader)
        if modelled:
            hits = list(heapq.merge(hits, modelled, key=lambda hit: hit.start))[:room]
        let_through.sort(key=lambda item: item[0][0])  # two sorted runs: a linear merge
        passed = tuple(_passed(text, matchable, *item) for item in let_through[:room])
        hits_total = len(flagged) + len(modelled)
        return Verdict(tuple(hits), hits_total, blocked, passed, len(let_through))

    def _listed_only(self, term: Term, ruled: _Compiled | None) -> bool:
        """Whether the term list alone flags `term` here: no rule decided it, and it is a
        listed word, not a pattern's find."""
        return (
            ruled is None
            and term.severity is not Severity.PASS
            and term.term not in self._pattern_why
        )

    def _reader(
        self,
        source: str,
        matchable: Normalized,
        decisions: list[tuple[int, int, Term, _Compiled | None]],
        exempted: list[tuple[Span, Term, Exemption]],
    ) -> _Reader | None:
        """The model's reading of the sentences it will be asked about: those with a word
        the list alone flagged, and those nothing was decided in (a term a rule let
        through, or an exemption, is a decision)."""
        if self._model is None:
            return None
        listed = [start for start, _, term, ruled in decisions if self._listed_only(term, ruled)]
        decided = [start for start, _, term, ruled in decisions
                   if ruled is not None or term.severity is not Severity.PASS]  # fmt: skip
        decided = sorted(decided + [span[0] for span, *_ in exempted])
        return _Reader(source, matchable, self._model, self._model_terms, listed, decided)

    def _model_hits(self, reader: _Reader) -> list[Hit]:
        """The sentences the rules said nothing of, neither a hit nor a pass, that the
        model finds like violating copy: one warning each, with the n-grams that weighed
        most. Where a rule passed a term as a description, that decision stands."""
        hits = []
        for start, end in reader.undecided:
            judged = reader.judged(start, end)
            entry = self._model_terms.get(judged.category)
            if judged.probability >= reader.model.threshold and entry is not None:
                first, last = reader.matchable.source_span(start, end)
                why = (f"未命中词表与规则，但读来像违规文案（模型概率 {judged.probability:.2f}），"
                       f"依据：{'、'.join(judged.evidence)}；请人工核对")  # fmt: skip
                said = reader.source[first:last]
                hits.append(Hit(said, first, last, said, entry, MODEL, why))
        return hits

    def _pattern_hits(
        self, source: str, normal: Normalized, matchable: Normalized
    ) -> list[_TermAt]:
        """What the pattern rules find, as spans of the compacted text, by end."""
        found: list[_TermAt] = []
        origin = matchable.origin
        clauses: tuple[str, list[int]] | None = None
        for pattern, entry, on_compact in self._patterns:
            if on_compact:
                clauses = clauses or _clause_lines(source, matchable)
                lines, breaks = clauses
                for match in pattern.finditer(lines):
                    start, end = match.span()
                    if end > start:  # back from the clause lines to the compacted text
                        first = start - bisect.bisect_left(breaks, start)
                        found.append((first, end - bisect.bisect_left(breaks, end), entry))
                continue
            for match in pattern.finditer(normal.text):
                if match.end() == match.start():
                    continue
                first, last = normal.source_span(*match.span())  # in the source text
                start, end = bisect.bisect_left(origin, first), bisect.bisect_left(origin, last)
                if end > start:  # the compacted characters it covers
                    found.append((start, end, entry))
        found.sort(key=lambda item: item[1])
        return found


class _Reader:
    """The model's reading of one copy, as spans of its compacted text: the sentences
    with a word the list alone flagged, which it may overrule, and those nothing was
    decided in, which it may flag. Each distinct one is judged once (copy repeats itself,
    and so can an attack), all of them in a few numpy passes."""

    def __init__(
        self,
        source: str,
        matchable: Normalized,
        model: CopyModel,
        among: Collection[str],
        listed: list[int],  # where a word the list alone flagged starts (in order)
        decided: list[int],  # where anything was decided, sorted
    ) -> None:
        self.source, self.matchable, self.model = source, matchable, model
        origin = matchable.origin
        sentences = [
            (bisect.bisect_left(origin, found.start()), bisect.bisect_left(origin, found.end()))
            for found in SENTENCE.finditer(source)
        ]
        self._starts = [start for start, _ in sentences]
        self._sentences = sentences
        self.undecided = [(start, end) for start, end in sentences
                          if end - start >= MODEL_MIN_LETTERS
                          and not _any_within(decided, start, end)]  # fmt: skip
        self.listed = set(listed)
        self._readable = [(start, end) for start, end in sentences
                          if end - start <= OVERRULE_MAX_LETTERS
                          and _any_within(listed, start, end)]  # fmt: skip
        wanted = [*self.undecided, *self._readable]
        text = matchable.text
        distinct = list(dict.fromkeys(text[start:end] for start, end in wanted))
        self._judged: dict[str, Judgement] = {}
        for first in range(0, len(distinct), JUDGED_TOGETHER):
            batch = distinct[first : first + JUDGED_TOGETHER]
            self._judged.update(zip(batch, model.judge_all(batch, among), strict=True))

    def judged(self, start: int, end: int) -> Judgement:
        return self._judged[self.matchable.text[start:end]]

    def overrules(self, start: int, end: int, term: Term) -> str:
        """Why the listed word at [start, end) reads as a description here, or "" where
        the model does not find its whole sentence clean enough to say so: a sentence too
        long to read (clean padding), too short to tell, or that the word runs out of."""
        around = self._around(start) if self._readable else None
        if around is None or end > around[1]:
            return ""
        letters = self.matchable.text[around[0] : around[1]]
        judged = self._judged.get(letters)
        if judged is None or len(letters) - (end - start) < OVERRULE_MIN_CONTEXT:
            return ""
        if judged.clean < 1 - self.model.overrule:
            return ""
        reasons = judged.against(leaving_out=self.matchable.text[start:end])
        if not reasons:
            return ""
        return (f"词表中的“{term.term}”在这句里读来是如实描述（模型判断是正常文案的概率 "
                f"{judged.clean:.2f}，依据：{'、'.join(reasons)}）")  # fmt: skip

    def _around(self, at: int) -> Span | None:
        """The sentence holding the letter at `at`."""
        return _holding(self._sentences, self._starts, at)


class _Titles:
    """The titles in 《》 of a text."""

    def __init__(self, source: str) -> None:
        self._spans = [m.span(1) for m in TITLE.finditer(source)]
        self._starts = [start for start, _ in self._spans]

    def hold(self, first: int, last: int) -> bool:
        """Whether source characters `first` to `last` stand inside one title, with more."""
        title = _holding(self._spans, self._starts, first)
        if title is None or last > title[1]:
            return False
        return (title[1] - title[0]) - (last - first) >= TITLE_MIN_EXTRA


def _holding(spans: Sequence[Span], starts: Sequence[int], at: int) -> Span | None:
    """The one of `spans` (sorted, apart; `starts` theirs) that holds `at`, if any."""
    index = bisect.bisect_right(starts, at) - 1
    if index < 0 or not spans[index][0] <= at < spans[index][1]:
        return None
    return spans[index]


def _any_within(places: list[int], start: int, end: int) -> bool:
    """Whether a place of the sorted `places` lies in [start, end)."""
    index = bisect.bisect_left(places, start)
    return index < len(places) and places[index] < end


def _clause_lines(source: str, matchable: Normalized) -> tuple[str, list[int]]:
    """The compacted text with a line break where a clause ends, and where those stand.

    A pattern's `.` does not match a line break, so 没有比.{0,8}更 cannot join two
    clauses that compaction ran together (a mark between digits, 9.9 or 1,000, ends none);
    a pattern that means to read on into the next clause says so with `\n` (不过，学费全退).
    `breaks` are the break positions in the lines.
    """
    text, origin = matchable.text, matchable.origin
    cuts: list[int] = []
    for found in CLAUSE_BREAK.finditer(source):
        if _in_number(source, found.start()):
            continue
        cut = bisect.bisect_left(origin, found.start())  # the first character after it
        if 0 < cut < len(text) and (not cuts or cuts[-1] != cut):
            cuts.append(cut)
    pieces: list[str] = []
    breaks: list[int] = []
    last = 0
    for cut in cuts:
        pieces.append(text[last:cut])
        breaks.append(cut + len(breaks))
        last = cut
    pieces.append(text[last:])
    return "\n".join(pieces), breaks


def default_checker(
    exempt_names: Sequence[str] = (), off_categories: Sequence[str] = (), model: bool = True
) -> ComplianceChecker:
    """The shipped lexicon, with a channel's own exempt names and switched-off categories,
    and the shipped model beside it (without `model`, the rules alone).

    Only categories marked optional (platform rules, not the law) may be switched off.
    A checker is built once for each such choice (half a second) and shared: checking
    changes nothing in it.
    """
    refused = set(off_categories) - optional_categories()
    if refused:
        raise ConfigError(
            f"compliance.off_categories: only platform-rule categories can be switched off "
            f"({', '.join(sorted(optional_categories()))}), not {', '.join(sorted(refused))}"
        )
    return _built(tuple(exempt_names), tuple(sorted(set(off_categories))), model)


@functools.lru_cache(maxsize=8)
def _built(exempt_names: tuple[str, ...], off: tuple[str, ...], model: bool) -> ComplianceChecker:
    terms, exemptions, rules = load_terms()
    names = [Exemption(name) for name in exempt_names]
    return ComplianceChecker(terms, [*exemptions, *names], rules, off, patterns=load_patterns(),
                             model=CopyModel.load() if model else None)  # fmt: skip


def _automaton(keys: Mapping[str, _Key]) -> ahocorasick.Automaton:
    automaton = ahocorasick.Automaton()
    for key, meaning in keys.items():
        automaton.add_word(key, meaning.packed())
    automaton.make_automaton()
    return automaton


def _room(limit: int | None) -> int:
    return 1 << 62 if limit is None else max(limit, 0)


def _match_keys(phrase: str) -> set[str]:
    """The phrase as it appears in compacted text, plus its 1-for-一 digit spelling."""
    key = compact(normalize(phrase)).text
    return {key, key.replace("一", "1")} if key else set()


def _pinyin_keys(term: str) -> set[str]:
    """The term with one of its ideographs written in pinyin (退shao, bao本, 辟xie): the
    evasion that keeps a word readable to people and out of a plain word list. Syllables
    of one letter (a, e) would match inside too much ordinary text to be worth it."""
    key = compact(normalize(term)).text
    if len(key) < 2 or not key.isalpha():
        return set()
    keys = set()
    for place, char in enumerate(key):
        if not has_ideograph(char):
            continue
        for reading in pinyin(char, style=Style.NORMAL, heteronym=True)[0]:
            spelled = key[:place] + reading + key[place + 1 :]
            if len(reading) > 1 and has_ideograph(spelled):
                keys.add(spelled)
    return keys


def _compile(rule: Rule, index: int) -> _Compiled:
    keys = [key for key in (compact(normalize(word)).text for word in rule.words) if key]
    lengths = sorted({len(key) for key in keys}, reverse=True)
    by_length = tuple((n, frozenset(key for key in keys if len(key) == n)) for n in lengths)
    pattern = re.compile(rule.pattern) if rule.pattern else None
    edge = None
    if rule.place is Place.AFTER:
        leading = _leading_chars(rule.pattern) if rule.pattern else frozenset()
        if leading is not None:
            edge = frozenset(key[0] for key in keys) | leading
    elif rule.place is Place.BEFORE:
        edge = frozenset(key[-1] for key in keys)
    return _Compiled(rule, index, rule.place, by_length, pattern, edge)


_SPECIAL = frozenset("\\[](){}.^$?*+|")
_OPTIONAL = ("?", "*", "{0", "{,")


def _leading_chars(pattern: str) -> frozenset[str] | None:
    """The characters any match of `pattern` begins with, when its start says so plainly.

    A literal character, `\\d`, or alternatives (a|b, (?:远|宽)) that each start so;
    anything else (a class, an optional start) is None, and the rule is tried everywhere.
    """
    parts = _top_level_alternatives(pattern)
    if len(parts) > 1:
        leading: set[str] = set()
        for part in parts:
            found = _leading_chars(part)
            if found is None:
                return None
            leading |= found
        return frozenset(leading)
    if pattern.startswith("(?:"):
        close = _group_end(pattern)
        if close is None or pattern[close + 1 :].startswith(_OPTIONAL):
            return None
        return _leading_chars(pattern[3:close])
    if pattern.startswith("\\d") and not pattern[2:].startswith(_OPTIONAL):
        return frozenset("0123456789")
    if pattern and pattern[0] not in _SPECIAL and not pattern[1:].startswith(_OPTIONAL):
        return frozenset(pattern[0])
    return None


def _alternatives(pattern: str) -> list[str]:
    """A pattern's alternatives (A|B, or (?:A|B) as a whole), each to be run alone.

    Python's regex engine skips ahead to where a match can begin only when the pattern
    starts with a literal or a class, or alternatives that each start with a literal: one
    that starts with (?:(?:考不过|…)…|(?:达不到|…)…) is tried at every character. Run
    apart, each alternative can skip (the checker's slowest patterns took 2-4 times less).
    A pattern with inline flags, (?i), is left whole: they would not reach the others.
    """
    close = _group_end(pattern) if pattern.startswith("(?:") else None
    inner = pattern[3:-1] if close == len(pattern) - 1 else pattern
    parts = _top_level_alternatives(inner)
    return parts if len(parts) > 1 and not re.match(r"\(\?[a-zA-Z]", pattern) else [pattern]


def _top_level_alternatives(pattern: str) -> list[str]:
    """`pattern` split at the `|` that stand outside groups and classes."""
    parts, start = [], 0
    for index, char, depth in _outside_classes(pattern):
        if char == "|" and not depth:
            parts.append(pattern[start:index])
            start = index + 1
    return [*parts, pattern[start:]]


def _group_end(pattern: str) -> int | None:
    """The index of the `)` that closes the group `pattern` starts with."""
    for index, char, depth in _outside_classes(pattern):
        if char == ")" and not depth:
            return index
    return None


def _outside_classes(pattern: str) -> Iterator[tuple[int, str, int]]:
    """Each character of `pattern` that is neither escaped nor in a character class, with
    the depth of groups once it is read."""
    depth, index, in_class = 0, 0, False
    while index < len(pattern):
        char = pattern[index]
        if char == "\\":
            index += 2
            continue
        if in_class:
            in_class = char != "]"
        elif char == "[":
            in_class = True
        else:
            depth += (char == "(") - (char == ")")
            yield index, char, depth
        index += 1


def _rules_by_term(
    terms: Sequence[Term], rules: Sequence[_Compiled]
) -> dict[str, tuple[_Compiled, ...]]:
    """For each term, the rules that speak for it, in the order of the file."""
    of: dict[str, list[_Compiled]] = {term.term: [] for term in terms}
    for ruled in rules:
        for name in ruled.rule.terms:
            named = [t.term for t in terms if "@" + t.category == name] or [name]
            for term in named:
                if term in of:
                    of[term].append(ruled)
    return {term: tuple(rules) for term, rules in of.items()}


def _decided(term: Term, rule: Rule) -> Term:
    """The term as a rule that matched makes it: its severity, maybe its suggestion."""
    if rule.then is Severity.PASS:
        return term
    return dataclasses.replace(
        term, severity=rule.then, suggestion=rule.suggestion or term.suggestion
    )


Span = tuple[int, int]
_TermAt = tuple[int, int, Term]  # start, end, term


@dataclass(slots=True)
class _Found:
    kept: list[_TermAt]
    exempted: list[tuple[Span, Term, Exemption]]
    cues: list[list[Span]]  # per rule index: the cue words of a NEAR rule, by end


def _scan(
    matches: Iterable[tuple[int, _Packed]], size: int, rule_count: int, found: list[_TermAt]
) -> _Found:
    """Terms kept, terms exempted, and cue words, from one pass of the automaton.

    Drops hits that start inside an exemption (第一 in 第一坊, 最 in 本店最) and hits
    contained in a longer hit (第一 inside 全国第一). `matches` are the automaton's
    (last index, key), which come in the order of their ends; `found` are the pattern
    rules' hits, by end too, merged in.

    Copy made of nothing but terms (最最最…) has a match at every character, so this is
    linear: no hit is compared with every other.
    """
    terms: list[_TermAt] = []
    cues: list[list[Span]] = [[] for _ in range(rule_count)]
    owner: list[Exemption | None] | None = None  # the exemption covering each place
    for last, (length, term, exemption, cue_rules) in matches:
        end = last + 1
        start = end - length
        if exemption is not None:
            owner = owner or [None] * (size + 1)
            for place in range(start, end):
                owner[place] = owner[place] or exemption
        if term is not None:
            terms.append((start, end, term))
        if cue_rules:
            for index in cue_rules:
                cues[index].append((start, end))
    if found:
        terms = list(heapq.merge(terms, found, key=_end))
    if owner is None:
        return _Found(_outermost(terms), [], cues)
    free: list[_TermAt] = []
    exempted: list[_TermAt] = []
    for item in terms:
        (free if owner[item[0]] is None else exempted).append(item)
    reported = [((start, end), term, owner[start]) for start, end, term in _outermost(exempted)]
    return _Found(_outermost(free), [(s, t, e) for s, t, e in reported if e is not None], cues)


def _whole_words(
    matches: Iterable[tuple[int, _Packed]], source: str, matchable: Normalized
) -> Iterator[tuple[int, _Packed]]:
    """The pinyin spellings found that are not part of a longer run of letters (te效 in
    Kate效果 is no spelling of 特效)."""
    for last, packed in matches:
        span = matchable.source_span(last + 1 - packed[0], last + 1)
        if not _inside_letters(source, *span):
            yield last, packed


def _inside_letters(source: str, start: int, end: int) -> bool:
    """Whether source[start:end] begins or ends with a letter that runs on past it, in
    the text as written (Kate效果; a space between, so bao本 stands alone: OK bao本)."""

    def letter(char: str) -> bool:
        return char.isascii() and char.isalpha()

    before = start > 0 and letter(source[start]) and letter(source[start - 1])
    return before or (end < len(source) and letter(source[end - 1]) and letter(source[end]))


def _end(item: _TermAt) -> int:
    return item[1]


def _outermost(found: list[_TermAt]) -> list[_TermAt]:
    """The hits no other hit contains, in the order of the text; `found` is by end.

    A stack of the hits kept so far: starts and ends both strictly increasing, so none
    contains another. Each hit ends no earlier than those before it, so it contains
    every kept hit that starts where it does or later, and only the top one (which may
    end where it ends) can contain it.
    """
    kept: list[_TermAt] = []
    for item in found:
        start, end, _ = item
        while kept and kept[-1][0] >= start:
            kept.pop()
        if kept and kept[-1][1] >= end:
            continue
        kept.append(item)
    return kept


class _Decider:
    """Decides each kept term by the first of its rules that matches its context.

    Kept terms come with starts and ends strictly increasing, so a pointer per NEAR rule
    walks its cue words once: the whole decision is linear in the text.
    """

    def __init__(
        self,
        source: str,
        matchable: Normalized,
        rules_of: Mapping[str, tuple[_Compiled, ...]],
        cues: list[list[Span]],
        longest_cue: int,
    ) -> None:
        self._source = source
        self._origin = matchable.origin
        self._text = matchable.text
        self._rules_of = rules_of
        self._cues = cues
        self._next_cue = [0] * len(cues)
        self._longest_cue = longest_cue
        self._candidates: dict[tuple[str, str, str], tuple[_Compiled, ...]] = {}

    def first(self, start: int, end: int, term: Term) -> _Compiled | None:
        """The first rule that matches; the characters next to the term rule most out.

        Copy made of nothing but terms decides one per character, so the cheap tests are
        made once per term and pair of neighbouring characters: a NEAR rule without a cue
        word in the whole text never runs, and an AFTER or BEFORE rule runs only when the
        character next to the term can begin or end one of its words.
        """
        text = self._text
        neighbours = (term.term, text[start - 1] if start else "", text[end : end + 1])
        rules = self._candidates.get(neighbours)
        if rules is None:
            rules = self._candidates[neighbours] = self._candidates_for(*neighbours)
        for ruled in rules:
            if self._matches(ruled, start, end):
                return ruled
        return None

    def _candidates_for(self, term: str, before: str, after: str) -> tuple[_Compiled, ...]:
        """The rules of `term` that may match between `before` and `after`."""
        candidates = []
        for ruled in self._rules_of.get(term, ()):
            if ruled.place is Place.NEAR:
                possible = bool(self._cues[ruled.index])
            else:
                neighbour = after if ruled.place is Place.AFTER else before
                possible = ruled.edge is None or neighbour in ruled.edge
            if possible:
                candidates.append(ruled)
        return tuple(candidates)

    def _matches(self, ruled: _Compiled, start: int, end: int) -> bool:
        """Whether `ruled` decides the term at `start`-`end` (its edge, if any, matched)."""
        text = self._text
        if ruled.place is Place.AFTER:
            if end >= len(text):
                return False
            if not self._joined(end):
                return False
            for n, words in ruled.by_length:
                if text[end : end + n] in words:
                    return True
            found = ruled.pattern.match(text, end, end + AFTER_WINDOW) if ruled.pattern else None
            return found is not None and self._one_clause(end, found.end())
        if ruled.place is Place.BEFORE:
            if not start or not self._joined(start):
                return False
            return any(start >= n and text[start - n : start] in words
                       for n, words in ruled.by_length)  # fmt: skip
        return self._near(ruled, start, end)

    def _joined(self, index: int) -> bool:
        """Whether compacted characters `index - 1` and `index` stand in one clause."""
        after_previous, this = self._origin[index - 1] + 1, self._origin[index]
        return after_previous == this or not CLAUSE_BREAK.search(self._source, after_previous, this)

    def _one_clause(self, first: int, last: int) -> bool:
        return _one_clause(self._source, self._origin, first, last)

    def _near(self, ruled: _Compiled, start: int, end: int) -> bool:
        """A cue word that ends after `start - back` and starts before `end + ahead`.

        A cue inside the term is part of it, not its context (没有任何 in 没有任何风险).
        """
        back, ahead = ruled.rule.window
        cues = self._cues[ruled.index]
        first = self._next_cue[ruled.index]
        while first < len(cues) and cues[first][1] <= start - back:
            first += 1
        self._next_cue[ruled.index] = first
        for index in range(
            first, len(cues)
        ):  # by end: once the ends pass the reach, all start late
            cue_start, cue_end = cues[index]
            if start <= cue_start and cue_end <= end:
                continue
            if cue_start < end + ahead:
                return True
            if cue_end - self._longest_cue >= end + ahead:
                return False
        return False


def _in_number(source: str, index: int) -> bool:
    """Whether the mark at `index` stands between two digits (9.9元, 1,000, 10:30)."""
    return (
        0 < index < len(source) - 1 and source[index - 1].isdigit() and source[index + 1].isdigit()
    )


def _one_clause(source: str, origin: Sequence[int], first: int, last: int) -> bool:
    """Whether compacted characters `first` to `last - 1` stand in one clause."""
    if last - first < 2:
        return True
    return not CLAUSE_BREAK.search(source, origin[first], origin[last - 1])


def _passed(
    source: str, matchable: Normalized, span: Span, term: Term, rule: str, why: str
) -> Passed:
    first, last = matchable.source_span(*span)
    return Passed(source[first:last], first, last, term.term, term.category, rule, why)


_LISTED_WHY = (LISTED, "列入词表的用语")


def _hit(
    source: str,
    matchable: Normalized,
    span: Span,
    term: Term,
    ruled: _Compiled | None,
    listed: tuple[str, str] = _LISTED_WHY,
) -> Hit:
    """`listed`: the rule and why of a term no context rule decided (a pattern's own)."""
    first, last = matchable.source_span(*span)
    context = source[max(0, first - CONTEXT_CHARS) : last + CONTEXT_CHARS]
    rule, why = listed if ruled is None else (ruled.rule.name, ruled.rule.why)
    return Hit(source[first:last], first, last, context, term, rule, why)
