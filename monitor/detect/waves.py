"""Copy-paste waves (水军 / 控评): many accounts posting one text, or nearly, within minutes.

Forty paid copies of one complaint are one voice, not forty customers. Every mention long
enough to compare is sketched (MinHash over the character pairs of its normalised text,
with `datasketch`'s LSH index to find candidates) and joins the group of the most recent
near-identical mention of its brand at most `minutes` older; a group is a wave once some
`minutes`-long stretch holds `min_copies` of its mentions from distinct accounts. Only
mentions that name their author count as accounts: a copy we cannot tell apart from a real
customer's is counted as one, since missing a real storm costs more than paging for a fake.
"""

from __future__ import annotations

import statistics
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from datasketch import MinHash, MinHashLSH

from monitor.settings import WaveSettings
from monitor.text.normalise import compact, normalize

if TYPE_CHECKING:
    from monitor.detect.counting import Mention

NUM_PERM = 64
SKETCH_CHARS = 120
_SEED = MinHash(num_perm=NUM_PERM, seed=1)  # one set of permutations for every sketch


def sketch_text(text: str) -> str:
    """The text as compared: simplified, half-width, letters and digits only, so that
    copies dressed up with spaces, emoji or punctuation still meet."""
    return compact(normalize(text)).text[:SKETCH_CHARS]


def _minhash(sketch: str) -> MinHash:
    pairs = {sketch[i : i + 2].encode() for i in range(len(sketch) - 1)}
    minhash = MinHash(num_perm=NUM_PERM, permutations=_SEED.permutations, scheme=_SEED.scheme)
    minhash.update_batch(list(pairs))
    return minhash


class NearDuplicates:
    """One brand's recent sketches, indexed for near-duplicate lookup; forgotten once they
    are older than any mention could be compared with."""

    def __init__(self, rule: WaveSettings) -> None:
        self.rule = rule
        self.index = MinHashLSH(threshold=rule.similarity, num_perm=NUM_PERM)
        self.sketches: dict[str, tuple[int, MinHash]] = {}  # key → (minute, sketch)
        self.by_minute: dict[int, list[str]] = {}

    def comparable(self, mention: Mention) -> bool:
        return len(mention.sketch) >= self.rule.min_chars

    def group_of(self, mention: Mention, counted: Mapping[str, Mention]) -> str:
        """The group of the most recent near-identical mention, or "" for none."""
        minhash = _minhash(mention.sketch)
        best: tuple[int, str] | None = None
        for key in self.index.query(minhash):
            minute, other = self.sketches[key]
            if abs(mention.minute - minute) > self.rule.minutes:
                continue
            if other.jaccard(minhash) < self.rule.similarity:
                continue
            if best is None or minute > best[0]:
                best = (minute, key)
        if best is None:
            return ""
        match = counted[best[1]]
        return match.group or match.key

    def remember(self, mention: Mention) -> None:
        if mention.key in self.sketches:
            return
        self.sketches[mention.key] = (mention.minute, _minhash(mention.sketch))
        self.index.insert(mention.key, self.sketches[mention.key][1])
        self.by_minute.setdefault(mention.minute, []).append(mention.key)

    def forget(self, key: str) -> None:
        if key in self.sketches:
            minute, _ = self.sketches.pop(key)
            self.index.remove(key)
            self.by_minute[minute].remove(key)
            if not self.by_minute[minute]:
                del self.by_minute[minute]

    def forget_before(self, minute: int) -> None:
        for old in [m for m in self.by_minute if m < minute]:
            for key in list(self.by_minute[old]):
                self.forget(key)


@dataclass(frozen=True)
class Wave:
    """A group of near-identical mentions in a rolling hour, as a person reads it."""

    group: str  # the key of its first mention
    copies: int
    accounts: int
    minutes: int
    negatives: int
    text: str
    followers: tuple[int, int, int]  # least, median, most
    counted_once: bool
    first_minute: int
    # What the negative copies after the first add to the hour's keywords and crisis words:
    # taken off again when the wave counts once, or a wave would page as a keyword surge.
    repeated_keywords: Counter[str] = field(default_factory=Counter)
    repeated_crisis: Counter[str] = field(default_factory=Counter)

    @property
    def counted_negatives(self) -> int:
        """What its negatives add toward the threshold."""
        return min(self.negatives, 1) if self.counted_once else self.negatives

    def reason(self) -> dict[str, Any]:
        kind = "wave" if self.counted_once else "wave_flagged"
        return {"kind": kind, "accounts": self.accounts, "minutes": self.minutes,
                "copies": self.copies}  # fmt: skip

    def as_fact(self) -> dict[str, Any]:
        least, median, most = self.followers
        return {**self.reason(), "negatives": self.negatives, "text": self.text,
                "followers": {"least": least, "median": median, "most": most},
                "first_minute": self.first_minute}  # fmt: skip


def wave_of(members: Sequence[Mention], rule: WaveSettings) -> Wave | None:
    """The members (one group, in the hour) as a wave, when some `rule.minutes` stretch
    holds `rule.min_copies` of them from distinct accounts."""
    ordered = sorted(members, key=lambda mention: mention.minute)
    if not _enough_accounts(ordered, rule):
        return None
    accounts = {mention.author for mention in ordered if mention.author}
    followers = sorted(mention.followers for mention in ordered)
    shown = next((mention.excerpt for mention in ordered if mention.excerpt), ordered[0].sketch)
    once = rule.counting == "once"
    repeats = [mention for mention in ordered if mention.negative][1:] if once else []
    return Wave(
        group=ordered[0].group or ordered[0].key,
        copies=len(ordered),
        accounts=len(accounts),
        minutes=ordered[-1].minute - ordered[0].minute + 1,
        negatives=sum(mention.negative for mention in ordered),
        text=shown,
        followers=(followers[0], int(statistics.median(followers)), followers[-1]),
        counted_once=once,
        first_minute=ordered[0].minute,
        repeated_keywords=Counter(word for mention in repeats for word in mention.keywords),
        repeated_crisis=Counter(word for mention in repeats for word in mention.crisis),
    )


def _enough_accounts(ordered: Sequence[Mention], rule: WaveSettings) -> bool:
    """Two pointers over the minutes: distinct accounts inside any `minutes` stretch."""
    inside: Counter[str] = Counter()
    start = 0
    for mention in ordered:
        inside[mention.author] += 1
        while mention.minute - ordered[start].minute >= rule.minutes:
            gone = ordered[start].author
            inside[gone] -= 1
            if not inside[gone]:
                del inside[gone]
            start += 1
        if len(inside) - ("" in inside) >= rule.min_copies:
            return True
    return False
