"""Why an incident opened, as data: a kind and its numbers (the rules write them), worded
here in the reader's language by the alerts, the console, the review and the CLI.

The words never fail: a reason of an unknown kind, or with a number missing, is shown by
its kind; a plain string (what incidents stored before reasons were data) as it is.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

Reason = Mapping[str, Any]

WORDS: dict[str, dict[str, str]] = {
    "zh": {
        "volume": "近一小时负面 {negatives} 条（阈值 {threshold}）",
        "over_threshold": "超过阈值的 {factor:g} 倍",
        "growth": "为同时段 7 日均值（{baseline:.1f}）的 {growth:.1f} 倍",
        "crisis_keywords": "危机关键词 {hits} 次（{words}）",
        "high_reach": "粉丝 {followers:,} 的作者发布了负面内容",
        "platforms": "{count} 个平台出现负面",
        "keyword_surge": "「{keyword}」出现在本小时 {count} 条负面中（{usual}）",
        "wave": "疑似水军：{accounts} 个账号在 {minutes} 分钟内发布 {copies} 条相似内容，计为 1 条",
        "wave_flagged": "疑似水军：{accounts} 个账号在 {minutes} 分钟内发布 {copies} 条相似内容"
        "（均已计入）",
        "usual": "该时段通常 {usual:.1f} 条",
        "no_history": "该时段没有历史数据",
        "separator": "；",
        "negative_volume": "负面声量",
        "keyword": "关键词「{keyword}」",
    },
    "en": {
        "volume": "{negatives} negative mentions in the last hour (threshold {threshold})",
        "over_threshold": "more than {factor:g}× the threshold",
        "growth": "{growth:.1f}× this hour's 7-day mean ({baseline:.1f})",
        "crisis_keywords": "{hits} crisis-keyword hits ({words})",
        "high_reach": "a negative post by an author with {followers:,} followers",
        "platforms": "negatives on {count} platforms",
        "keyword_surge": "「{keyword}」 in {count} negative mentions this hour ({usual})",
        "wave": "suspected paid posting: {copies} near-identical posts from {accounts} accounts "
        "in {minutes} minutes, counted as one",
        "wave_flagged": "suspected paid posting: {copies} near-identical posts from {accounts} "
        "accounts in {minutes} minutes (all counted)",
        "usual": "usually {usual:.1f} in this hour",
        "no_history": "no history for this hour",
        "separator": "; ",
        "negative_volume": "negative volume",
        "keyword": "keyword 「{keyword}」",
    },
}


def worded(reason: Reason | str, language: str = "zh") -> str:
    if isinstance(reason, str):
        return reason
    words = WORDS.get(language, WORDS["zh"])
    kind = str(reason.get("kind", "?"))
    if not _well_formed(reason):
        return kind
    try:
        fields = dict(reason)
        if kind == "keyword_surge":
            usual = fields.get("usual") or 0
            fields["usual"] = words["usual"].format(usual=usual) if usual else words["no_history"]
        if kind == "crisis_keywords":
            fields["words"] = "、".join(str(word) for word in fields.get("words") or ())
        return words[kind].format(**fields)
    except (KeyError, ValueError, TypeError, IndexError):
        return kind


TEXTS = {"kind": 40, "keyword": 40}  # the only texts in a reason, with their longest
MAX_WORDS = 5


def _well_formed(reason: Reason) -> bool:
    """Numbers are numbers and texts short: a reason from the topic is not trusted text."""
    for name, value in reason.items():
        if name in TEXTS:
            good = isinstance(value, str) and len(value) <= TEXTS[name]
        elif name == "words":
            good = isinstance(value, list) and len(value) <= MAX_WORDS
            good = good and all(isinstance(word, str) and len(word) <= 40 for word in value)
        else:
            good = isinstance(value, int | float) and not isinstance(value, bool)
        if not good:
            return False
    return True


def cause_worded(cause: str, language: str = "zh") -> str:
    """An incident's cause (`negative_volume`, `keyword:物流慢`) for a reader."""
    words = WORDS.get(language, WORDS["zh"])
    kind, _, keyword = cause.partition(":")
    if kind == "keyword" and keyword:
        return words["keyword"].format(keyword=keyword)
    return words.get(cause, cause)


def joined(reasons: Iterable[Reason | str], language: str = "zh") -> str:
    words = WORDS.get(language, WORDS["zh"])
    return words["separator"].join(worded(reason, language) for reason in reasons)
