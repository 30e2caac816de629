"""What the stream does with one conversation record: refuse it, leave it unsampled, pass
it, or write a QA case for the agent's lead. The agent in `monitor.stream.app` only moves
bytes; everything decided is decided here, without a broker, so it is tested as a function.

The QA case is the scored result as `QAResult.as_dict` writes it: already masked (every
turn and every deduction's evidence went through `masking`), and without the record's
unknown fields, which may hold anything (a customer's phone in a `buyer_nick` column).
It is keyed by the shop, so one shop's cases stay in order on one partition, and a lead
reads their shop's; a conversation without a shop is keyed by its agent.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any

from monitor.detect.records import DeadLetter, dead_letter
from monitor.qa.conversations import parse_conversation_json
from monitor.qa.scoring import QAResult, QualityChecker
from monitor.settings import Settings

CASE_EVENT = "qa_case"
# A record of 1,000 turns, each with several deductions, would make a case of megabytes that
# the broker refuses; a lead reads the first hundred, and the count of the rest.
MAX_CASE_DEDUCTIONS = 100


@dataclass(frozen=True, slots=True)
class QACase:
    """A QA case as the topic takes it."""

    key: str
    value: bytes


@dataclass(frozen=True, slots=True)
class Reviewed:
    """One record's outcome. `shop` is as the record wrote it (metrics bound it);
    `result` is set once scored, `case` when it failed, `dead` when refused."""

    shop: str = ""
    sampled: bool = False
    result: QAResult | None = None
    case: QACase | None = None
    dead: DeadLetter | None = None

    def with_dead(self, dead: DeadLetter | None) -> Reviewed:
        """This outcome, and the dead letter of a case the broker refused (if any)."""
        return self if dead is None else replace(self, dead=dead)


def review(
    raw: bytes | None, checker: QualityChecker, settings: Settings, now: datetime
) -> Reviewed:
    """Validate through the same contract as `guanchao qa`, sample, score, and make the
    case of a failed conversation. Never raises: a record that breaks the contract, or one
    the scorer cannot handle (a bug of ours), comes back as a dead letter with its reason
    class, and the stream goes on."""
    try:
        conversation = parse_conversation_json(raw, settings.limits, settings.zone, now)
    except Exception as error:
        return Reviewed(dead=dead_letter(raw, error))
    if not checker.sampled(conversation):
        return Reviewed(shop=conversation.shop)
    try:
        result = checker.score(conversation)
    except Exception as error:
        return Reviewed(shop=conversation.shop, sampled=True, dead=dead_letter(raw, error))
    case = None if result.passed else make_case(result)
    return Reviewed(shop=conversation.shop, sampled=True, result=result, case=case)


def make_case(result: QAResult) -> QACase:
    """The case of a failed conversation: masked, keyed by shop (else agent)."""
    return QACase(
        key=route_key(result.shop, result.agent_id),
        value=json.dumps(case_document(result), ensure_ascii=False).encode(),
    )


def route_key(shop: str, agent_id: str) -> str:
    """The shop, so that a shop's cases stay in order on one partition; a conversation
    without a shop goes by its agent."""
    return shop or f"agent:{agent_id}"


def case_document(result: QAResult) -> dict[str, Any]:
    """What the lead reads: who, where, the score and the mark, each deduction (kind,
    points, turn, why, masked evidence; the first MAX_CASE_DEDUCTIONS) and the masked
    conversation."""
    document = result.as_dict(turns=True)
    deductions = document["deductions"]
    document["deductions"] = deductions[:MAX_CASE_DEDUCTIONS]
    document["deductions_left_out"] = max(0, len(deductions) - MAX_CASE_DEDUCTIONS)
    return {"event": CASE_EVENT, **document}
