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
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from datasketch import MinHash, MinHashLSH

from monitor.settings import WaveSettings
from monitor.text.normalise import compact, normalize

if TYPE_CHECKING:
    from monitor.detect.counting import Mention

NUM_PERM = 64
SKETCH_CHARS = 120
# Near texts compared per lookup at most: a flood of distinct paraphrases stays linear.
MAX_CANDIDATES = 64
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
    """One brand's recent texts, indexed for near-duplicate lookup: one entry per distinct
    sketch, so five thousand identical copies cost a lookup what one does (an entry per
    copy made each lookup compare with all of them). An entry is forgotten once nothing
    new could join it."""

    def __init__(self, rule: WaveSettings) -> None:
        self.rule = rule
        self.index = MinHashLSH(threshold=rule.similarity, num_perm=NUM_PERM)
        self.entries: dict[str, tuple[int, str, MinHash]] = {}  # sketch → minute, group, …
        self.by_minute: dict[int, set[str]] = {}  # minute → sketches last seen then

    def join(self, mention: Mention) -> str:
        """The mention's group: the one it was stored with, else that of the most recent
        near-identical text within `rule.minutes`, else "" (it starts its own)."""
        known = self.entries.get(mention.sketch)
        if known and abs(mention.minute - known[0]) <= self.rule.minutes:
            group, minhash = mention.group or known[1], known[2]
        else:
            minhash = _minhash(mention.sketch)
            group = mention.group or self._nearest(mention.minute, minhash)
        self._remember(mention.sketch, mention.minute, group or mention.key, minhash)
        return group

    def _nearest(self, minute: int, minhash: MinHash) -> str:
        best: tuple[int, str] | None = None
        for sketch in islice(self.index.query(minhash), MAX_CANDIDATES):
            newest, group, other = self.entries[sketch]
            if abs(minute - newest) > self.rule.minutes:
                continue
            if other.jaccard(minhash) < self.rule.similarity:
                continue
            if best is None or newest > best[0]:
                best = (newest, group)
        return "" if best is None else best[1]

    def _remember(self, sketch: str, minute: int, group: str, minhash: MinHash) -> None:
        known = self.entries.get(sketch)
        if known is None:
            self.index.insert(sketch, minhash)
        elif known[0] > minute:
            return  # a late copy: the newer one stays
        else:
            self.by_minute[known[0]].discard(sketch)
        self.entries[sketch] = (minute, group, minhash)
        self.by_minute.setdefault(minute, set()).add(sketch)

    def forget_before(self, minute: int) -> None:
        for old in [m for m in self.by_minute if m < minute]:
            for sketch in self.by_minute.pop(old):
                del self.entries[sketch]
                self.index.remove(sketch)


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
