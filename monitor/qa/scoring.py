"""One sampled conversation in, a score out: 100 less a deduction for each problem found,
each with its reason kind, the turn it came from and the evidence, masked.

What costs points (weights in the config's `qa.weights`):

- the agent's words (`lexicons/service_qa.yaml`): rude, dismissive, blaming the customer,
  promises policy forbids, moving the customer off the platform; each kind once per turn;
- the agent writing personal data (a phone, ID-card number or address) into the chat;
- the customer ending worse than they began: their last turn negative and lower than
  their first by `qa.emotion_drop` in log-odds of P(positive), by the project's scorer;
- the customer escalating (投诉, 12315, 曝光, 黑猫, …) after the agent's first reply: a
  complaint that opens the chat is why they came, not the agent's doing;
- the first reply later than `qa.first_response_seconds`, a later wait longer than
  `qa.longest_wait_seconds` (a wait runs from a customer turn the agent has not answered
  to the agent's next turn);
- an unresolved ending: the platform says so (`resolved: false`), the customer's last turn
  says so (还是没解决, 算了, 在吗), or the customer wrote last and it was not a short
  thanks or okay.

Pure: the scorer and the word list are handed in, the conversation's own times are the
only clock.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from functools import cache
from typing import Any

from monitor.detect.enrich import build_scorer
from monitor.qa import masking
from monitor.qa.conversations import Conversation, Turn
from monitor.qa.lexicon import ServiceLexicon, WordFinder, WordHit, load_lexicon
from monitor.qa.sampling import is_sampled
from monitor.settings import QASettings, Settings
from monitor.text.normalise import compact, normalize
from monitor.text.sentiment import Label, Scorer

# Deductions that are not words of the lexicon: their names, for people.
KIND_NAMES = {
    "personal_data": "泄露个人信息",
    "emotion_worse": "顾客情绪变差",
    "escalation": "顾客升级投诉",
    "slow_first_response": "首次响应超时",
    "long_wait": "等待回复过久",
    "unresolved": "问题未解决",
}
EVIDENCE_CHARS = 80
_PERSONAL_NAMES = {"phone": "电话", "id_card": "身份证号", "address": "地址"}


@dataclass(frozen=True, slots=True)
class Deduction:
    """`points` off for `kind`, found at `turn` (an index into the conversation's turns).

    `words` are what was found (lexicon words as written, or the kinds of personal data);
    `evidence` is the turn's text, masked and cut to about EVIDENCE_CHARS around it."""

    kind: str
    points: int
    turn: int
    why: str
    words: tuple[str, ...] = ()
    evidence: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "name": kind_name(self.kind),
            "points": self.points,
            "turn": self.turn,
            "why": self.why,
            "words": list(self.words),
            "evidence": self.evidence,
        }


@dataclass(frozen=True, slots=True)
class MaskedTurn:
    role: str
    text: str
    time: datetime


@dataclass(frozen=True, slots=True)
class QAResult:
    """A scored conversation, with nothing unmasked in it: safe to store and show."""

    conversation_id: str
    channel: str
    shop: str
    agent_id: str
    started_at: datetime
    score: int
    pass_mark: int
    deductions: tuple[Deduction, ...]
    turns: tuple[MaskedTurn, ...]
    first_response_seconds: float | None
    longest_wait_seconds: float | None
    customer_sentiment: tuple[float, ...]  # P(positive) of each customer turn, in order
    sampled: bool

    @property
    def passed(self) -> bool:
        return self.score >= self.pass_mark

    def as_dict(self, turns: bool = True) -> dict[str, Any]:
        document: dict[str, Any] = {
            "conversation_id": self.conversation_id,
            "channel": self.channel,
            "shop": self.shop,
            "agent_id": self.agent_id,
            "started_at": self.started_at.isoformat(),
            "score": self.score,
            "passed": self.passed,
            "pass_mark": self.pass_mark,
            "sampled": self.sampled,
            "deductions": [deduction.as_dict() for deduction in self.deductions],
            "first_response_seconds": self.first_response_seconds,
            "longest_wait_seconds": self.longest_wait_seconds,
            "customer_sentiment": list(self.customer_sentiment),
        }
        if turns:
            document["turns"] = [
                {"role": turn.role, "text": turn.text, "time": turn.time.isoformat()}
                for turn in self.turns
            ]
        return document


def kind_name(kind: str, lexicon: ServiceLexicon | None = None) -> str:
    if kind in KIND_NAMES:
        return KIND_NAMES[kind]
    found = (lexicon or _default_lexicon()).kind(kind)
    return found.name if found else kind


@cache
def _default_lexicon() -> ServiceLexicon:
    """The shipped word list, read once (names of kinds for reports, the default checker)."""
    return load_lexicon()


@dataclass(frozen=True, slots=True)
class _Read:
    """One turn, read once: normalised for the words, its personal data found."""

    turn: Turn
    words: list[WordHit]
    personal: list[masking.Finding]
    compact_length: int

    def masked(self) -> str:
        return masking.mask(self.turn.text, self.personal)


class QualityChecker:
    """Built once (the lexicon's automaton, the scorer); then `sampled` and `score` per
    conversation."""

    def __init__(
        self, settings: QASettings, scorer: Scorer, lexicon: ServiceLexicon | None = None
    ) -> None:
        self.settings = settings
        self.scorer = scorer
        self.lexicon = lexicon or _default_lexicon()
        self._finder = WordFinder(self.lexicon)
        self._agent_kinds = frozenset(self.lexicon.agent_kinds)

    def sampled(self, conversation: Conversation) -> bool:
        return is_sampled(conversation.id, conversation.shop, self.settings)

    def score(self, conversation: Conversation) -> QAResult:
        read = [self._read(turn) for turn in conversation.turns]
        deductions = [*self._agent_words(read), *self._personal_data(read)]
        sentiment = self._customer_sentiment(read)
        deductions += self._emotion(sentiment)
        deductions += self._escalation(read)
        first, longest, timing = self._waits(read)
        deductions += timing
        deductions += self._unresolved(conversation, read)
        deductions.sort(key=lambda deduction: deduction.turn)
        points = sum(deduction.points for deduction in deductions)
        return QAResult(
            conversation_id=conversation.id,
            channel=conversation.channel,
            shop=conversation.shop,
            agent_id=conversation.agent_id,
            started_at=conversation.started_at,
            score=max(0, 100 - points),
            pass_mark=self.settings.pass_mark,
            deductions=tuple(deductions),
            turns=tuple(MaskedTurn(r.turn.role, r.masked(), r.turn.time) for r in read),
            first_response_seconds=first,
            longest_wait_seconds=longest,
            customer_sentiment=tuple(round(value, 4) for _, value in sentiment),
            sampled=self.sampled(conversation),
        )

    def _read(self, turn: Turn) -> _Read:
        matchable = compact(normalize(turn.text))
        words = self._finder.find_normalized(turn.text, matchable)
        return _Read(turn, words, masking.find(turn.text), len(matchable.text))

    def _points(self, kind: str) -> int:
        return int(getattr(self.settings.weights, kind))

    def _agent_words(self, read: Sequence[_Read]) -> list[Deduction]:
        deductions = []
        for index, item in enumerate(read):
            if item.turn.role != "agent":
                continue
            by_kind: dict[str, list[WordHit]] = {}
            for hit in item.words:
                if hit.kind in self._agent_kinds:
                    by_kind.setdefault(hit.kind, []).append(hit)
            for kind, hits in by_kind.items():
                described = self.lexicon.kind(kind)
                words = tuple(dict.fromkeys(hit.text for hit in hits))
                why = f"{described.why if described else kind}：{'、'.join(words)}"
                evidence = _excerpt(item.masked(), hits[0].text)
                deductions.append(Deduction(kind, self._points(kind), index, why, words, evidence))
        return deductions

    def _personal_data(self, read: Sequence[_Read]) -> list[Deduction]:
        deductions = []
        for index, item in enumerate(read):
            kinds = [f.kind for f in item.personal if f.kind in masking.PERSONAL]
            if item.turn.role != "agent" or not kinds:
                continue
            names = tuple(dict.fromkeys(_PERSONAL_NAMES[kind] for kind in kinds))
            placeholder = masking.PLACEHOLDERS[kinds[0]]
            deductions.append(
                Deduction(
                    "personal_data",
                    self._points("personal_data"),
                    index,
                    f"客服在对话中写出了{'、'.join(names)}",
                    names,
                    _excerpt(item.masked(), placeholder),
                )
            )
        return deductions

    def _customer_sentiment(self, read: Sequence[_Read]) -> list[tuple[int, float]]:
        """(turn index, P(positive)) of each customer turn with words in it."""
        scored = []
        for index, item in enumerate(read):
            if item.turn.role == "customer" and item.compact_length:
                sentiment = self.scorer.score(item.turn.text)
                scored.append((index, sentiment.positive))
        return scored

    def _emotion(self, sentiment: Sequence[tuple[int, float]]) -> list[Deduction]:
        if len(sentiment) < 2:
            return []
        (_, began), (index, ended) = sentiment[0], sentiment[-1]
        label = self.scorer.thresholds.label(ended)
        drop = _log_odds(began) - _log_odds(ended)
        if label is not Label.NEGATIVE or drop < self.settings.emotion_drop:
            return []
        why = f"顾客情绪从 {began:.2f} 降到 {ended:.2f}（P(正面)），以负面结束"
        return [Deduction("emotion_worse", self._points("emotion_worse"), index, why)]

    def _escalation(self, read: Sequence[_Read]) -> list[Deduction]:
        answered = False
        for index, item in enumerate(read):
            if item.turn.role == "agent":
                answered = True
                continue
            hits = [hit for hit in item.words if hit.kind == "escalation"]
            if answered and hits:
                words = tuple(dict.fromkeys(hit.text for hit in hits))
                why = f"客服回复后，顾客提到{'、'.join(words)}"
                return [
                    Deduction(
                        "escalation",
                        self._points("escalation"),
                        index,
                        why,
                        words,
                        _excerpt(item.masked(), hits[0].text),
                    )
                ]
        return []

    def _waits(self, read: Sequence[_Read]) -> tuple[float | None, float | None, list[Deduction]]:
        """First response, longest later wait (seconds), and their deductions."""
        waits: list[tuple[float, int]] = []  # (seconds, index of the agent turn that ended it)
        waiting_since: datetime | None = None
        unanswered = None
        for index, item in enumerate(read):
            if item.turn.role == "customer":
                if waiting_since is None:
                    waiting_since, unanswered = item.turn.time, index
            elif waiting_since is not None:
                waits.append(((item.turn.time - waiting_since).total_seconds(), index))
                waiting_since = unanswered = None
        settings = self.settings
        deductions = []
        first = waits[0][0] if waits else None
        if not waits and unanswered is not None:
            deductions.append(
                Deduction(
                    "slow_first_response",
                    self._points("slow_first_response"),
                    unanswered,
                    "客服没有回复顾客",
                )
            )
        elif waits and first is not None and first > settings.first_response_seconds:
            why = (
                f"首次响应 {_duration(first)}（目标 {_duration(settings.first_response_seconds)}）"
            )
            deductions.append(
                Deduction(
                    "slow_first_response", self._points("slow_first_response"), waits[0][1], why
                )
            )
        later = max(waits[1:], default=None)
        if later is not None and later[0] > settings.longest_wait_seconds:
            why = (
                f"顾客等待 {_duration(later[0])}（目标 {_duration(settings.longest_wait_seconds)}）"
            )
            deductions.append(Deduction("long_wait", self._points("long_wait"), later[1], why))
        return first, later[0] if later else None, deductions

    def _unresolved(self, conversation: Conversation, read: Sequence[_Read]) -> list[Deduction]:
        last_index = len(read) - 1
        if conversation.resolved is not None:
            if conversation.resolved:
                return []
            return [
                Deduction("unresolved", self._points("unresolved"), last_index, "平台记录为未解决")
            ]
        customer = [index for index, item in enumerate(read) if item.turn.role == "customer"]
        if not customer:
            return []
        index = customer[-1]
        item = read[index]
        open_words = tuple(dict.fromkeys(h.text for h in item.words if h.kind == "unresolved"))
        if open_words:
            why = f"顾客最后说“{'、'.join(open_words)}”"
            return [
                Deduction(
                    "unresolved",
                    self._points("unresolved"),
                    index,
                    why,
                    open_words,
                    _excerpt(item.masked(), item.words[0].text),
                )
            ]
        if index != last_index:
            return []
        closing = any(hit.kind == "closing" for hit in item.words)
        if closing and item.compact_length <= self.lexicon.closing_max_chars:
            return []
        return [
            Deduction(
                "unresolved",
                self._points("unresolved"),
                index,
                "顾客最后的消息没有得到回复",
                (),
                _excerpt(item.masked(), ""),
            )
        ]


def _log_odds(probability: float) -> float:
    p = min(max(probability, 1e-6), 1 - 1e-6)
    return math.log(p / (1 - p))


def _duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} 秒"
    if seconds < 7200:
        return f"{seconds / 60:.0f} 分钟"
    return f"{seconds / 3600:.1f} 小时"


def _excerpt(masked: str, anchor: str) -> str:
    """About EVIDENCE_CHARS of the masked turn around `anchor` (cut after masking, so a
    number is never half shown)."""
    if len(masked) <= EVIDENCE_CHARS:
        return masked
    at = masked.find(anchor) if anchor else 0
    start = max(0, (at if at >= 0 else 0) - EVIDENCE_CHARS // 3)
    piece = masked[start : start + EVIDENCE_CHARS]
    return ("…" if start else "") + piece + ("…" if start + EVIDENCE_CHARS < len(masked) else "")


def build_checker(settings: Settings, scorer: Scorer | None = None) -> QualityChecker:
    """The configured checker: the config's `qa` section, its sentiment scorer."""
    return QualityChecker(settings.qa, scorer or build_scorer(settings))
