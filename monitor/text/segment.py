"""Word segmentation behind one small interface, so the fast backend can be swapped for jieba.

jieba is the reference algorithm and dictionary; `rjieba` (jieba-rs) implements the same
algorithm over the same dictionary several times faster. Both are driven through their own
instances with our user dictionary; the jieba module singleton is never touched.
"""

from __future__ import annotations

import importlib.util
import logging
import re
from abc import ABC, abstractmethod
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path

from lexicons import DIRECTORY as LEXICONS
from monitor.settings import Backend

# Weibo codes and our placeholders ([怒], [url], [@]) stay whole; jieba would split them.
_PROTECTED_RE = re.compile(r"(\[[^\[\]\s]{1,10}\])")
USER_DICTIONARY = LEXICONS / "userdict.txt"
_SPACE_RE = re.compile(r"\s")  # what str.isspace calls a space


class Segmenter(ABC):
    """Cuts normalised text into tokens; whitespace is dropped, punctuation kept."""

    name: str

    def cut(self, text: str) -> list[str]:
        if "[" not in text:
            return self._words(text)
        tokens: list[str] = []
        for index, piece in enumerate(_PROTECTED_RE.split(text)):
            if index % 2:
                tokens.append(piece)
            elif piece:
                tokens.extend(self._words(piece))
        return tokens

    def _words(self, text: str) -> list[str]:
        if not _SPACE_RE.search(text):  # most posts: no token to drop
            return self._cut(text)
        return [token for token in self._cut(text) if not token.isspace()]

    @abstractmethod
    def _cut(self, text: str) -> list[str]: ...


class JiebaSegmenter(Segmenter):
    name = "jieba"

    def __init__(self, user_words: Iterable[tuple[str, int | None, str | None]]) -> None:
        import jieba

        jieba.setLogLevel(logging.WARNING)
        self._tokenizer = jieba.Tokenizer()
        for word, freq, tag in user_words:
            self._tokenizer.add_word(word, freq, tag)

    def _cut(self, text: str) -> list[str]:
        tokens: list[str] = self._tokenizer.lcut(text, HMM=True)
        return tokens


class RJiebaSegmenter(Segmenter):
    name = "rjieba"

    def __init__(self, user_words: Iterable[tuple[str, int | None, str | None]]) -> None:
        import rjieba

        self._jieba = rjieba.Jieba()
        for word, freq, tag in user_words:
            self._jieba.add_word(word, freq, tag)

    def _cut(self, text: str) -> list[str]:
        tokens: list[str] = self._jieba.cut(text, True)
        return tokens


def read_user_dictionary(path: Path = USER_DICTIONARY) -> list[tuple[str, int | None, str | None]]:
    """jieba's user-dictionary format: `word [freq] [tag]` per line, `#` starts a comment."""
    entries: list[tuple[str, int | None, str | None]] = []
    for line in path.read_text(encoding="utf-8").splitlines():
        fields = line.split("#", 1)[0].split()
        if not fields:
            continue
        freq = int(fields[1]) if len(fields) > 1 and fields[1].isdigit() else None
        tag = fields[-1] if len(fields) > 1 and not fields[-1].isdigit() else None
        entries.append((fields[0], freq, tag))
    return entries


@lru_cache(maxsize=8)
def make_segmenter(backend: Backend = "auto", extra_words: tuple[str, ...] = ()) -> Segmenter:
    """One segmenter per backend and word set, built once (loading a dictionary takes ~1 s).

    `auto` picks rjieba when it is installed and falls back to jieba. `extra_words` are
    brand names and aliases from the config, so that 云朵咖啡 is one token.
    """
    words = read_user_dictionary() + [(word, None, "nz") for word in extra_words]
    if backend == "rjieba" or (backend == "auto" and importlib.util.find_spec("rjieba")):
        return RJiebaSegmenter(words)
    return JiebaSegmenter(words)
