"""Finding any of many phrases in a text in one pass: brand aliases, crisis keywords."""

from __future__ import annotations

from collections.abc import Iterable, Mapping

import ahocorasick

from monitor.text.normalise import compact, normalize


class PhraseMatcher:
    """Maps each phrase to a label; `labels(text)` says which labels occur in the text.

    Matching is on compact normalised text, so 雲朵 咖啡 finds 云朵咖啡.
    """

    def __init__(self, phrases: Mapping[str, str]) -> None:
        self._automaton = ahocorasick.Automaton()
        for phrase, label in phrases.items():
            key = _key(phrase)
            if key:
                self._automaton.add_word(key, label)
        self._empty = not phrases
        if not self._empty:
            self._automaton.make_automaton()

    @classmethod
    def of_words(cls, words: Iterable[str]) -> PhraseMatcher:
        return cls({word: word for word in words})

    def labels(self, text: str) -> list[str]:
        """Labels in order of first appearance, each once."""
        if self._empty:
            return []
        found = dict.fromkeys(label for _, label in self._automaton.iter(_key(text)))
        return list(found)


def _key(text: str) -> str:
    return compact(normalize(text)).text
