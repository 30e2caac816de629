"""Personal data in chat text, found and masked: phone numbers, ID-card numbers, street
addresses and order numbers.

Everything QA keeps or shows (results, evidence, reports, CLI output) goes through
`mask`; the unmasked text lives only in memory while a conversation is scored. Patterns
are matched on normalised text (full-width １３８ and invisible characters between digits
do not hide a number) and the spans mapped back to the text as written, so the masked
text is the original with each finding replaced by a placeholder that says what it was.

An address keeps its province, city and district (浙江省杭州市西湖区[地址]): enough for a
lead to see where a parcel went, not enough to find a door.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from monitor.text.normalise import normalize

Kind = Literal["order_number", "id_card", "phone", "address"]
PLACEHOLDERS: dict[Kind, str] = {
    "phone": "[电话]",
    "id_card": "[身份证号]",
    "address": "[地址]",
    "order_number": "[订单号]",
}
# What an agent must not write into a chat (an order number is the shop's, not the person's).
PERSONAL: frozenset[Kind] = frozenset({"phone", "id_card", "address"})

_ORDER_CUE = r"(?:订单编号|订单号|订单|单号|运单号|快递单号|物流单号|order(?:\s*(?:no|id|number))?)"
_NUMBER_UNIT = r"(?:号楼|号院|号|弄|栋|幢|座|楼|单元|室|层|户)"
_STREET = r"(?:大道|大街|路|街|巷|弄|胡同|里|村|小区|花园|公寓|大厦|广场|苑|园|社区)"
# A street's name stops at words an address is introduced with and at the district before it.
_NAME = r"[^\W\d_是在的为到寄收址省市区县镇乡旗州]"
# Tried in this order; a later pattern never takes characters an earlier one found.
_PATTERNS: tuple[tuple[Kind, re.Pattern[str]], ...] = (
    ("order_number", re.compile(_ORDER_CUE + r"\s*[:：#]?\s*([A-Za-z]{0,4}\d[\dA-Za-z-]{5,40})",
                                re.IGNORECASE)),
    ("id_card", re.compile(r"(?<![\dA-Za-z])([1-9]\d{5}\s?(?:18|19|20)\d{2}(?:0[1-9]|1[0-2])"
                           r"(?:0[1-9]|[12]\d|3[01])\s?\d{3}[\dXx]|[1-9]\d{7}(?:0[1-9]|1[0-2])"
                           r"(?:0[1-9]|[12]\d|3[01])\d{3})(?![\dA-Za-z])")),
    ("phone", re.compile(r"(?<![\dA-Za-z])((?:\+?86[\s-]?)?1[3-9]\d(?:[\s.-]?\d){8}"
                         r"|0\d{2,3}[\s-]?\d{7,8})(?![\dA-Za-z])")),
    ("address", re.compile(r"(" + _NAME + r"{1,10}" + _STREET + r"[\s-]?(?:[\dA-Za-z-]+\s?"
                           + _NUMBER_UNIT + r")+[\dA-Za-z]*|(?<![\dA-Za-z])(?:\d+" + _NUMBER_UNIT
                           + r"){2,}[\dA-Za-z]*)")),
    ("order_number", re.compile(r"(?<![\dA-Za-z])([A-Za-z]{0,4}\d{10,40})(?![\dA-Za-z])")),
)  # fmt: skip
_DIGIT = re.compile(r"\d")


@dataclass(frozen=True, slots=True)
class Finding:
    """Personal data at [start, end) of the text as written."""

    kind: Kind
    start: int
    end: int


def find(text: str) -> list[Finding]:
    """Every finding, in the order of the text. Each pattern needs a digit: text without
    one (most chat turns) costs one search."""
    normalized = normalize(text)
    if not _DIGIT.search(normalized.text):
        return []
    taken: list[tuple[int, int]] = []
    found: list[Finding] = []
    for kind, pattern in _PATTERNS:
        for match in pattern.finditer(normalized.text):
            start, end = match.span(1)
            if any(start < other_end and other_start < end for other_start, other_end in taken):
                continue
            taken.append((start, end))
            first, last = normalized.source_span(start, end)
            found.append(Finding(kind, first, last))
    return sorted(found, key=lambda finding: finding.start)


def mask(text: str, findings: list[Finding] | None = None) -> str:
    """`text` with each finding replaced by its placeholder (`findings`: from `find`)."""
    pieces: list[str] = []
    last = 0
    for finding in find(text) if findings is None else findings:
        pieces.append(text[last : finding.start])
        pieces.append(PLACEHOLDERS[finding.kind])
        last = finding.end
    pieces.append(text[last:])
    return "".join(pieces)
