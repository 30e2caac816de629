"""Scoring many texts at once: a linear model's sums as array operations.

`Scorer.score_tokens` looks each feature of a text up in Python dictionaries of hundreds
of thousands of entries: ~170 character n-grams, ~30 word bigrams and ~30 words for a
comment. Those lookups wait on memory (0.1–0.4 µs each here), not on arithmetic. For a
batch of texts (`guanchao score` reads files) every n-gram, token and bigram becomes a
64-bit integer code, and the whole batch is looked up at once in open-addressing tables
held in numpy arrays, where the processor overlaps the waits. What is sequential in the
rules (negation windows, degree adverbs) stays a Python loop, but only over the tokens the
rules act on. Features, weights and the evidence chosen are the same as `score_tokens`
gives; sums agree to rounding (the tests compare the two).

Codes: a character is its code point + 1 (0: none), 21 bits. A string of one to three
characters packs its characters, first one highest, 21 bits apart, so strings of different
lengths never share a code. Any other token is `LONG` + its number in the model's
vocabulary (or a number past it, for a token the model does not know). A word bigram is
the pair of its tokens' codes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from itertools import chain, compress
from typing import TYPE_CHECKING, NamedTuple

import numpy as np
import numpy.typing as npt

if TYPE_CHECKING:
    from monitor.text.sentiment import Featurizer, LinearModel

Codes = npt.NDArray[np.uint64]
Weights = npt.NDArray[np.complex128]
Floats = npt.NDArray[np.float64]
Indices = npt.NDArray[np.intp]

_BITS = np.uint64(21)  # code points end at 0x10FFFF; + 1 still fits
LONG = np.uint64(1 << 63)  # above any packed code (at most 63 bits)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)  # Fibonacci hashing: multiply, keep the top bits
_MIX = np.uint64(0xC2B2AE3D27D4EB4F)
_EMPTY = np.uint64(0)


class CodeTable:
    """Code (or pair of codes) → complex weight: an open-addressing table with linear
    probing, at most a third full, and empty rows after the last so that no probe wraps.
    Codes are never 0 (an empty row). A row is [code, second code, real, imaginary]: a
    probe reads one cache line.

    A `screened` table also keeps a bit per 32 bits of hash space set where a key hashes
    (a megabyte or two, mostly in cache): a code whose bit is clear is not in the table,
    without a probe. For tables most lookups miss (trigrams, word bigrams), that halves
    the time."""

    def __init__(
        self,
        keys: Codes,
        weights: Weights,
        seconds: Codes | None = None,
        meta: Codes | None = None,
        screened: bool = False,
    ) -> None:
        bits = max(int(len(keys) * 3).bit_length(), 4)
        self._shift = np.uint64(64 - bits)
        homes = self._slots(keys, seconds).astype(np.intp)
        order = np.argsort(homes, kind="stable")
        steps = np.arange(len(order))
        # linear probing, keys taken by home row: each goes to its home or the row after
        # the previous key's, whichever is later
        rows = np.maximum.accumulate(homes[order] - steps) + steps
        table = np.zeros((max(1 << bits, int(rows.max(initial=0)) + 1) + 1, 4), np.uint64)
        table[rows, 0] = keys[order]
        if seconds is not None:
            table[rows, 1] = seconds[order]
        elif meta is not None:  # what a one-code table holds besides the weight
            table[rows, 1] = meta[order]
        values = np.ascontiguousarray(weights, dtype=np.complex128).view(np.uint64)
        table[rows, 2:] = values.reshape(len(keys), 2)[order]
        self._rows = table
        self._screen: npt.NDArray[np.uint8] | None = None
        if screened:
            bits = min(max(int(len(keys) * 32).bit_length(), 16), 27)
            self._screen_shift = np.uint64(64 - bits)
            marked = np.zeros(1 << bits, dtype=bool)
            marked[self._marks(keys, seconds)] = True
            self._screen = np.packbits(marked, bitorder="little")

    def _slots(self, keys: Codes, seconds: Codes | None) -> Codes:
        mixed = keys * _GOLDEN
        if seconds is not None:
            mixed = (mixed ^ seconds) * _MIX
        return mixed >> self._shift

    def _marks(self, keys: Codes, seconds: Codes | None) -> Indices:
        """Each key's bit in the screen: another hash than its row's."""
        mixed = keys * _MIX
        if seconds is not None:
            mixed = (mixed ^ seconds) * _GOLDEN
        return (mixed >> self._screen_shift).astype(np.intp)

    def lookup(self, keys: Codes, seconds: Codes | None = None) -> Found:
        """The weight of each key (0j where the table has none), and what else it has."""
        if self._screen is None:
            return self._lookup(keys, seconds)
        marks = self._marks(keys, seconds)
        maybe = np.flatnonzero((self._screen[marks >> 3] >> (marks & 7).astype(np.uint8)) & 1)
        found = self._lookup(keys[maybe], None if seconds is None else seconds[maybe])
        weights = np.zeros(len(keys), dtype=np.complex128)
        held = np.zeros(len(keys), dtype=bool)
        meta = np.zeros(len(keys), dtype=np.uint64)
        weights[maybe], held[maybe], meta[maybe] = found
        return Found(weights, held, meta)

    def _lookup(self, keys: Codes, seconds: Codes | None) -> Found:
        slots = self._slots(keys, seconds)
        rows = self._rows[slots]
        hit = rows[:, 0] == keys
        if seconds is not None:
            hit &= rows[:, 1] == seconds
        rows[~hit, 1:] = 0
        going = np.flatnonzero(~hit & (rows[:, 0] != _EMPTY))  # probe on
        if going.size:
            rows[going], hit[going] = self._probe(
                keys[going], None if seconds is None else seconds[going], slots[going]
            )
        weights = rows[:, 2:].copy().view(np.complex128).reshape(len(keys))
        return Found(weights, hit, rows[:, 1])

    def _probe(
        self, keys: Codes, seconds: Codes | None, slots: Codes
    ) -> tuple[npt.NDArray[np.uint64], npt.NDArray[np.bool_]]:
        """Rows and hits of keys not in the row they were first looked for in (`slots`):
        the next row, and so on, up to the key or an empty row."""
        found = np.zeros((len(keys), 4), dtype=np.uint64)
        held_here = np.zeros(len(keys), dtype=bool)
        index = np.arange(len(keys))
        while index.size:
            slots = slots + np.uint64(1)
            rows = self._rows[slots]
            hit = rows[:, 0] == keys
            if seconds is not None:
                hit &= rows[:, 1] == seconds
            found[index[hit]] = rows[hit]
            held_here[index[hit]] = True
            going = ~hit & (rows[:, 0] != _EMPTY)
            index, keys, slots = index[going], keys[going], slots[going]
            if seconds is not None:
                seconds = seconds[going]
        return found, held_here


class Found(NamedTuple):
    """What a `CodeTable` has for each of some keys."""

    weights: Weights
    held: npt.NDArray[np.bool_]
    meta: Codes  # (0 where not held)


def char_codes(text: str) -> Codes:
    """Each character's code point + 1."""
    raw = text.encode("utf-32-le", "surrogatepass")
    return np.frombuffer(raw, dtype="<u4").astype(np.uint64) + np.uint64(1)


def packed(strings: Sequence[str]) -> Codes:
    """The codes of strings of one to three characters."""
    lengths = np.fromiter(map(len, strings), np.intp, len(strings))
    ends = np.cumsum(lengths) - 1
    return _packed(char_codes("".join(strings)), ends, lengths)


def _packed(chars: Codes, ends: Indices, lengths: Indices) -> Codes:
    """Codes of the strings of 1–3 characters ending at `ends` in `chars`."""
    codes = chars[ends] if len(chars) else np.zeros(len(ends), np.uint64)
    for back in (1, 2):
        longer = np.flatnonzero(lengths > back)
        codes[longer] |= chars[ends[longer] - back] << (_BITS * np.uint64(back))
    return codes


def _short(string: str) -> bool:
    return 0 < len(string) <= 3


def _suffix(codes: Codes, length: int) -> Codes:
    """The codes of the last `length` characters of strings of more."""
    return codes & np.uint64((1 << (int(_BITS) * length)) - 1)


class ModelTables:
    """A linear model's weights keyed by code: character n-grams (`ending`: for n, the
    model's n-grams, each with the weights of all the n-grams of the spec's lengths that end
    where it ends), words and every other named feature (¬word, LEX±, Q?), and word
    bigrams. Built once per model."""

    def __init__(self, model: LinearModel) -> None:
        low, high = model.spec.char_ngrams
        if high > 3:
            raise ValueError("character n-grams longer than 3 do not fit a 64-bit code")
        self.lengths = tuple(range(max(low, 1), high + 1))
        self.ending = self._ending(model.chars)
        names: list[str] = []
        name_weights: list[complex] = []
        pairs: list[tuple[str, str]] = []
        pair_weights: list[complex] = []
        for key, weight in model.words.items():
            if isinstance(key, str):
                names.append(key)
                name_weights.append(weight)
            elif model.spec.word_ngrams >= 2:
                pairs.append(key)
                pair_weights.append(weight)
        long_words = (word for word in chain(names, *pairs) if not 0 < len(word) <= 3)
        self.long_ids = {word: index + 1 for index, word in enumerate(dict.fromkeys(long_words))}
        self.word_codes = self.codes(names)
        self.word_weights = np.asarray(name_weights, np.complex128)
        self.pairs = CodeTable(
            self.codes([first for first, _ in pairs]),
            np.asarray(pair_weights, np.complex128),
            self.codes([second for _, second in pairs]),
            screened=True,
        )
        self.has_pairs = bool(pairs)

    def _ending(self, chars: Mapping[str, complex]) -> list[tuple[int, CodeTable]]:
        grams = list(chars)
        lengths = np.fromiter(map(len, grams), np.intp, len(grams))
        kept = np.isin(lengths, self.lengths)
        weights = np.fromiter(chars.values(), np.complex128, len(grams))
        if not kept.all():  # not from training with this spec: leave the others out
            grams = list(compress(grams, kept.tolist()))
            lengths, weights = lengths[kept], weights[kept]
        codes = packed(grams)
        ranked = np.argsort(codes)
        known, known_weights = codes[ranked], weights[ranked]
        found = []
        for n in self.lengths:
            own = np.flatnonzero(lengths == n)
            total = weights[own]
            for k in self.lengths:
                if k < n:
                    suffixes = _suffix(codes[own], k)
                    at = np.minimum(np.searchsorted(known, suffixes), max(len(known) - 1, 0))
                    held = known[at] == suffixes
                    total[held] += known_weights[at[held]]
            found.append((n, CodeTable(codes[own], total, screened=n == max(self.lengths))))
        return found

    def codes(self, words: Sequence[str]) -> Codes:
        """Codes of words the model knows (an unknown long word gets LONG + 0)."""
        lengths = np.fromiter(map(len, words), np.intp, len(words))
        short = (lengths > 0) & (lengths <= 3)
        if short.all():
            return packed(words)
        codes = np.zeros(len(words), dtype=np.uint64)
        codes[short] = packed(list(compress(words, short.tolist())))
        get = self.long_ids.get
        longs = [get(word, 0) for word in compress(words, (~short).tolist())]
        codes[~short] = LONG | np.asarray(longs, dtype=np.uint64)
        return codes


class Scored(NamedTuple):
    """What the scorer needs to label the texts of a batch, per text."""

    heads: Weights  # (negative, positive) against neutral, bias included
    evidence: list[tuple[tuple[str, float], ...]]
    negative_lexicon: npt.NDArray[np.bool_]  # a LEX- feature
    flipped: npt.NDArray[np.bool_]  # a negated negative word (LEX+ of negative polarity)
    question: npt.NDArray[np.bool_]


class TokenTable:
    """What each token is to a scorer, keyed by code: the weight of the model's feature of
    its name, whether the model has one, and its role under the rules (`Featurizer.role`;
    every string of one to three characters whose role is not a plain word is here).
    Longer tokens' roles are asked of the featurizer itself. One lookup gives all."""

    HELD = np.uint64(8)  # meta: role in bits 0–2, HELD, the amount's index from bit 8

    def __init__(self, tables: ModelTables, featurizer: Featurizer) -> None:
        from monitor.text.sentiment import QUESTION_ENDINGS, QUESTION_MARKS, Role

        rules = featurizer.rules
        # every token that is not a plain word: a rule word, a lexicon word, or a lexicon
        # word after a negating prefix or a degree adverb of one or two characters
        heads = [*rules.negating_prefixes, *(word for word in rules.degree if len(word) <= 2)]
        named = (rules.contrast_words, rules.negators, rules.degree, rules.clause_breaks)
        compounds = (head + word for head in heads for word in rules.polarity)
        candidates = dict.fromkeys(chain(*named, rules.polarity, compounds))
        acting = [
            (token, role)
            for token in candidates
            if _short(token) and (role := featurizer.role(token))[0] is not Role.WORD
        ]
        self.amounts = np.asarray(sorted({0.0, *(amount for _, (_, amount) in acting)}))
        index = {amount: position for position, amount in enumerate(self.amounts.tolist())}
        words = len(tables.word_codes)
        codes = np.concatenate((tables.word_codes, packed([token for token, _ in acting])))
        unique, where = np.unique(codes, return_inverse=True)
        weights = np.zeros(len(unique), dtype=np.complex128)
        weights[where[:words]] = tables.word_weights
        meta = np.zeros(len(unique), dtype=np.uint64)
        meta[where[:words]] = self.HELD
        meta[where[words:]] |= np.asarray(
            [role.value | index[amount] << 8 for _, (role, amount) in acting], np.uint64
        )
        self.table = CodeTable(unique, weights, meta=meta)
        self.featurizer = featurizer
        self.question_endings = packed([word for word in QUESTION_ENDINGS if _short(word)])
        self.question_marks = packed([word for word in QUESTION_MARKS if _short(word)])


class Batch:
    """One batch of token lists, laid out for array work: tokens in one flat list, their
    codes, the texts' extents, what each token is (`TokenTable`)."""

    def __init__(
        self, texts: Sequence[Sequence[str]], tables: ModelTables, known: TokenTable
    ) -> None:
        self.count = len(texts)
        self.tokens = list(chain.from_iterable(texts))
        sizes = np.fromiter(map(len, texts), np.intp, self.count)
        self.starts = np.cumsum(sizes) - sizes
        self.ends = self.starts + sizes
        self.owner = np.repeat(np.arange(self.count), sizes)
        self.lengths = np.fromiter(map(len, self.tokens), np.intp, len(self.tokens))
        self.chars = char_codes("".join(self.tokens))
        self.char_owner = np.repeat(self.owner, self.lengths)
        self.codes, self.long = self._codes(tables)
        found = known.table.lookup(self.codes)
        self.weights, self.held = found.weights, (found.meta & known.HELD) != 0
        self.roles = (found.meta & np.uint64(7)).astype(np.int8)
        self.amounts = known.amounts[(found.meta >> np.uint64(8)).astype(np.intp)]
        if self.long.size:  # their roles are not in the table: ask the featurizer
            role, tokens = known.featurizer.role, self.tokens
            kinds = [role(tokens[position]) for position in self.long.tolist()]
            self.roles[self.long] = [kind.value for kind, _ in kinds]
            self.amounts[self.long] = [amount for _, amount in kinds]

    def _codes(self, tables: ModelTables) -> tuple[Codes, Indices]:
        lengths = self.lengths
        short = (lengths > 0) & (lengths <= 3)
        codes = _packed(self.chars, np.cumsum(lengths) - 1, lengths)
        long = np.flatnonzero(~short)
        if long.size:
            ids = tables.long_ids
            fresh: dict[str, int] = {}
            numbers = []
            for position in long.tolist():
                token = self.tokens[position]
                number = ids.get(token) or fresh.setdefault(token, len(ids) + len(fresh) + 1)
                numbers.append(number)
            codes[long] = LONG | np.asarray(numbers, dtype=np.uint64)
        return codes, long


def score_batch(
    texts: Sequence[Sequence[str]], model: LinearModel, known: TokenTable, evidence_size: int
) -> Scored:
    """What the scorer needs to label each token list; see the module docstring."""
    tables, featurizer = model.tables, known.featurizer
    batch = Batch(texts, tables, known)
    values = _contrast_values(batch, featurizer)
    heads = np.full(batch.count, model.bias, dtype=np.complex128)
    heads += _char_sums(batch, tables, values)
    if tables.has_pairs:
        heads += _pair_sums(batch, tables, values)
    asked = _questions(batch, known)
    rules = _rules_pass(batch, featurizer)
    words = _word_features(batch, model, values, rules, asked)
    heads += _per_text(words.owner, words.weights, batch.count)
    evidence = _evidence(batch, words, evidence_size)
    return Scored(
        heads,
        evidence,
        np.asarray(rules.negative_lexicon, dtype=bool),
        np.asarray(rules.flipped, dtype=bool),
        asked | rules.named_question,
    )


def _per_text(owner: Indices, weights: Weights, count: int) -> Weights:
    """Sum of `weights` per text (`owner`: the text of each), in order."""
    total = np.empty(count, dtype=np.complex128)
    total.real = np.bincount(owner, weights=weights.real, minlength=count)
    total.imag = np.bincount(owner, weights=weights.imag, minlength=count)
    return total


def _contrast_values(batch: Batch, featurizer: Featurizer) -> Floats | None:
    """`Featurizer.contrast_values` of every token (None: no text has a contrast word).
    Each earlier token is multiplied by `before` once per contrast word after it, one
    multiplication at a time, as there."""
    from monitor.text.sentiment import Role

    contrast = batch.roles == Role.CONTRAST.value
    if not contrast.any():
        return None
    seen = np.cumsum(contrast)
    before_text = np.concatenate(([0], seen))[batch.starts]
    so_far = seen - before_text[batch.owner]  # contrast words up to here, in this text
    after = (seen[np.maximum(batch.ends - 1, 0)] - before_text)[batch.owner] - so_far
    rules = featurizer.rules
    values = np.where(so_far > 0, rules.contrast_after, 1.0)
    for time in range(int(after.max())):
        values[after > time] *= rules.contrast_before
    return values


def _char_sums(batch: Batch, tables: ModelTables, values: Floats | None) -> Weights:
    """Every character n-gram, times the value of the token it ends in. At each character,
    the longest n-gram ending there that the model has (`ModelTables.ending`) carries the
    weights of all those ending there."""
    chars = batch.chars
    count = len(chars)
    per_char = np.zeros(count, dtype=np.complex128)
    text_start = np.concatenate(([0], np.cumsum(batch.lengths)))[batch.starts]
    offset = np.arange(count) - text_start[batch.char_owner]  # characters before, in its text
    todo = np.arange(count)
    for n, table in reversed(tables.ending):
        fits = offset[todo] >= n - 1  # the n-gram ending here fits in its text
        at = todo[fits]
        code = chars[at]
        for back in range(1, n):
            code = code | (chars[at - back] << (_BITS * np.uint64(back)))
        weights, held, _ = table.lookup(code)
        per_char[at] = weights
        todo = np.concatenate((todo[~fits], at[~held]))
    if values is not None:
        per_char *= np.repeat(values, batch.lengths)
    return _per_text(batch.char_owner, per_char, batch.count)


def _pair_sums(batch: Batch, tables: ModelTables, values: Floats | None) -> Weights:
    """Every word bigram, times the value of its second token."""
    owner = batch.owner
    at = np.flatnonzero(np.arange(len(owner)) > batch.starts[owner])
    weights = tables.pairs.lookup(batch.codes[at - 1], batch.codes[at]).weights
    if values is not None:
        weights *= values[at]
    return _per_text(owner[at], weights, batch.count)


def _questions(batch: Batch, known: TokenTable) -> npt.NDArray[np.bool_]:
    """Per text, whether `Featurizer.word_features` marks it a question (`Q?`)."""
    from monitor.text.sentiment import Role

    kinds = batch.roles
    ending = np.isin(batch.codes, known.question_endings)
    ending &= (kinds == Role.WORD.value) | (kinds == Role.SENTIMENT.value)
    last = np.zeros(len(kinds), dtype=bool)
    last[batch.ends[batch.ends > batch.starts] - 1] = True
    before_break = np.zeros(len(kinds), dtype=bool)
    before_break[:-1] = kinds[1:] == Role.BREAK.value
    ending &= last | before_break
    mark = (kinds == Role.BREAK.value) & np.isin(batch.codes, known.question_marks)
    return np.bincount(batch.owner[ending | mark], minlength=batch.count) > 0


@dataclass
class RulesPass:
    """What negation and degree adverbs do in a batch (see `Featurizer.word_features`)."""

    negated: list[int]  # positions whose word feature is ¬token
    lexicon: list[int]  # positions of lexicon words
    polarity: list[float]  # ... and the polarity each adds to LEX+ or LEX-
    negative_lexicon: list[bool]  # per text: a LEX- feature, or a token named LEX-
    flipped: list[bool]  # per text: a negated negative word (its LEX+)
    named_question: npt.NDArray[np.bool_]  # per text: a token named Q? (not negated)


def _rules_pass(batch: Batch, featurizer: Featurizer) -> RulesPass:
    """The word features' state machine, over the negators, degree adverbs, lexicon and
    contrast words of the texts with a lexicon word or a negator. The plain words between
    them count down a negation window; a clause break between them (the first after the
    one before) ends it and resets the state."""
    from monitor.text.sentiment import Role

    kinds, count = batch.roles, batch.count
    sentiment, negator, degree_role = Role.SENTIMENT.value, Role.NEGATOR.value, Role.DEGREE.value
    acting = np.bincount(batch.owner[(kinds == sentiment) | (kinds == negator)], minlength=count)
    rule = (kinds != Role.WORD.value) & (kinds != Role.BREAK.value)
    items = np.flatnonzero(rule & (acting[batch.owner] > 0))
    owners = batch.owner[items]
    first = np.ones(len(items), dtype=bool)
    first[1:] = owners[1:] != owners[:-1]
    before = np.roll(items, 1)  # the token before it that the loop saw
    before[first] = batch.starts[owners[first]] - 1
    breaks = _next_breaks(kinds == Role.BREAK.value)
    found = RulesPass([], [], [], [False] * count, [False] * count, np.zeros(count, bool))
    negated_at, lexicon, polarities = found.negated, found.lexicon, found.polarity
    window = featurizer.rules.negation_window
    ends = batch.ends.tolist()
    text, negated, left, degree, last, last_stop = -1, False, 0, 1.0, 0, 0
    for position, kind, amount, owner, previous, stop, after in zip(
        items.tolist(), kinds[items].tolist(), batch.amounts[items].tolist(), owners.tolist(),
        before.tolist(), breaks[before + 1].tolist(), breaks[items + 1].tolist(), strict=True,
    ):  # fmt: skip
        if owner != text:
            if negated:  # plain words after the previous text's last rule token
                negated_at.extend(range(last + 1, min(last + 1 + left, last_stop, ends[text])))
            text, negated, left, degree = owner, False, 0, 1.0
        if left:  # plain words since the token before, up to a clause break
            run = (stop if stop < position else position) - previous - 1
            if run:
                if negated:
                    negated_at.extend(range(previous + 1, previous + 1 + min(left, run)))
                left = max(left - run, 0)
                negated = negated and left > 0
        if stop < position:  # a clause break
            negated, left, degree = False, 0, 1.0
        if kind == sentiment:
            if negated:
                negated_at.append(position)
            polarity = (-amount if negated else amount) * degree
            lexicon.append(position)
            polarities.append(polarity)
            if polarity > 0:
                found.flipped[owner] = found.flipped[owner] or amount < 0
            else:
                found.negative_lexicon[owner] = True
            negated, left, degree = False, 0, 1.0
        elif kind == negator:
            negated, left = not negated, window
        elif kind == degree_role:
            degree = amount
        last, last_stop = position, after
    if negated:
        negated_at.extend(range(last + 1, min(last + 1 + left, last_stop, ends[text])))
    _named_rules(batch, found)
    return found


def _next_breaks(breaks: npt.NDArray[np.bool_]) -> Indices:
    """For each position (and one past the last), the first clause break at or after it;
    past the last token where there is none."""
    count = len(breaks)
    where = np.where(breaks, np.arange(count), count)
    return np.minimum.accumulate(np.append(where, count)[::-1])[::-1]


def _named_rules(batch: Batch, found: RulesPass) -> None:
    """Tokens spelled like the rule features (LEX-, Q?) count as them where they are not
    negated, as `Scorer._rules_say_not_negative` reads feature names."""
    from monitor.text.sentiment import LEXICON_NEGATIVE, QUESTION

    negated = set(found.negated)
    for position in batch.long.tolist():
        if batch.tokens[position] == LEXICON_NEGATIVE and position not in negated:
            found.negative_lexicon[int(batch.owner[position])] = True
    named = np.flatnonzero(batch.codes == packed([QUESTION])[0])
    for position in named.tolist():
        if position not in negated:
            found.named_question[batch.owner[position]] = True


@dataclass
class WordFeatures:
    """The batch's rule-aware word features that the model has, each with its text, its
    token (position; negative for `Q?`, shown as ？), its weight times its value, its
    evidence (value times positive-minus-negative weight) and its order in its text."""

    owner: Indices
    position: Indices
    code: Codes
    weights: Weights
    evidence: Floats
    order: Indices


def _word_features(
    batch: Batch,
    model: LinearModel,
    values: Floats | None,
    rules: RulesPass,
    asked: npt.NDArray[np.bool_],
) -> WordFeatures:
    from monitor.text.sentiment import (
        LEXICON_NEGATIVE,
        LEXICON_POSITIVE,
        NEGATED,
        QUESTION,
        QUESTION_SHOWN,
    )

    own, held = batch.weights.copy(), batch.held.copy()
    get = model.words.get
    for negated in rules.negated:
        pair = get(NEGATED + batch.tokens[negated])
        own[negated] = 0j if pair is None else pair
        held[negated] = pair is not None
    count = len(batch.tokens)
    scale = np.ones(count) if values is None else values
    everywhere = np.arange(count)
    parts = [_Part(everywhere, own, scale, 2 * everywhere, held)]
    if rules.lexicon:
        at = np.asarray(rules.lexicon, dtype=np.intp)
        polarity = np.asarray(rules.polarity)
        names = np.where(polarity > 0, LEXICON_POSITIVE, LEXICON_NEGATIVE).tolist()
        pairs = [get(name) for name in names]
        lexicon = np.asarray([0j if pair is None else pair for pair in pairs], np.complex128)
        has = np.asarray([pair is not None for pair in pairs], dtype=bool)
        parts.append(_Part(at, lexicon, np.abs(polarity) * scale[at], 2 * at + 1, has))
    question = get(QUESTION)
    if question is not None and asked.any():
        texts = np.flatnonzero(asked)
        ones = np.ones(len(texts))
        # after every token of its text; its token is shown as ？
        parts.append(_Part(-1 - texts, np.full(len(texts), question), ones, 2 * count + texts,
                           ones > 0))  # fmt: skip
    position = np.concatenate([part.position for part in parts])
    weight = np.concatenate([part.weight for part in parts])
    value = np.concatenate([part.value for part in parts])
    order = np.concatenate([part.order for part in parts])
    present = np.concatenate([part.held for part in parts])
    token = position >= 0
    owner = np.where(token, batch.owner[position * token], -1 - position)
    code = np.where(token, batch.codes[position * token], packed([QUESTION_SHOWN])[0])
    evidence = value * (weight.imag - weight.real)
    return WordFeatures(
        owner[present], position[present], code[present], (value * weight)[present],
        evidence[present], order[present],
    )  # fmt: skip


class _Part(NamedTuple):
    position: Indices
    weight: Weights
    value: Floats
    order: Indices
    held: npt.NDArray[np.bool_]


def _evidence(batch: Batch, words: WordFeatures, size: int) -> list[tuple[tuple[str, float], ...]]:
    """Per text, `Scorer._linear_evidence`: evidence summed per token, the tokens worth at
    least `LINEAR_EVIDENCE_FLOOR`, strongest first, ties in the order the tokens first
    had a feature."""
    from monitor.text.sentiment import LINEAR_EVIDENCE_FLOOR, QUESTION_SHOWN

    found: list[list[tuple[str, float]]] = [[] for _ in range(batch.count)]
    ranked = _by_token(words)
    owner, code = words.owner[ranked], words.code[ranked]
    new = np.ones(len(ranked), dtype=bool)
    new[1:] = (owner[1:] != owner[:-1]) | (code[1:] != code[:-1])
    starts = np.flatnonzero(new)
    totals = np.bincount(np.cumsum(new) - 1, weights=words.evidence[ranked])
    keep = np.flatnonzero(np.abs(totals) >= LINEAR_EVIDENCE_FLOOR)
    first = ranked[starts[keep]]  # each kept token's first feature
    in_order = np.argsort(words.order[first])
    first, totals = first[in_order], totals[keep][in_order]
    chosen = np.lexsort((-np.abs(totals), words.owner[first]))  # stable: ties keep order
    first, totals = first[chosen], totals[chosen]
    owner = words.owner[first]
    text_starts = np.flatnonzero(np.concatenate(([True], owner[1:] != owner[:-1])))
    rank = np.arange(len(owner)) - np.repeat(text_starts, np.diff(text_starts, append=len(owner)))
    taken = rank < size
    tokens = batch.tokens
    for text, position, total in zip(
        owner[taken].tolist(), words.position[first[taken]].tolist(), totals[taken].tolist(),
        strict=True,
    ):  # fmt: skip
        found[text].append((tokens[position] if position >= 0 else QUESTION_SHOWN, total))
    return [tuple(items) for items in found]


_ORDER_BITS = np.uint64(20)


def _by_token(words: WordFeatures) -> Indices:
    """The features' indices by text, then token, then order: one sort of 64-bit keys
    (a hash of text and token above, the order below), or, if two tokens' hashes met,
    a sort on all three."""
    order = words.order.astype(np.uint64)
    if len(order) and int(order.max()) >= 1 << int(_ORDER_BITS):
        return np.lexsort((words.order, words.code, words.owner))
    mixed = (words.code * _GOLDEN) ^ (words.owner.astype(np.uint64) * _MIX)
    hashed = mixed >> _ORDER_BITS
    ranked = np.argsort((hashed << _ORDER_BITS) | order)
    hashed, owner, code = hashed[ranked], words.owner[ranked], words.code[ranked]
    same = (owner[1:] == owner[:-1]) & (code[1:] == code[:-1])
    if np.array_equal(same, hashed[1:] == hashed[:-1]):
        return ranked
    return np.lexsort((words.order, words.code, words.owner))
