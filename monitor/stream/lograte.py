"""A worker whose broker is gone must not write thousands of log lines a minute.

aiokafka logs every failed connection, metadata refresh and fetch at ERROR, about 75
lines a second while the broker is down: the one line that says what happened
("the broker at … does not answer") drowns, and the disk fills. `RepeatLimit` lets
the first record of each kind through, drops the repeats for `window` seconds, and then
says how many it dropped. A kind is the logger, the level and the message with its
numbers blanked (ports, node ids and offsets differ between repeats).
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

NOISY_LOGGERS = ("aiokafka", "kafka", "faust.transport", "monitor.stream.tables")  # retries
WINDOW_SECONDS = 30.0
_NUMBERS = re.compile(r"\d+")


@dataclass
class _Seen:
    since: float
    dropped: int = 0


class RepeatLimit(logging.Filter):
    def __init__(self, window: float = WINDOW_SECONDS,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        super().__init__()
        self.window = window
        self.clock = clock
        self.seen: dict[tuple[str, int, str], _Seen] = {}

    def filter(self, record: logging.LogRecord) -> bool:
        kind = (record.name, record.levelno, _NUMBERS.sub("#", str(record.msg))[:200])
        now = self.clock()
        seen = self.seen.get(kind)
        if seen is not None and now - seen.since < self.window:
            seen.dropped += 1
            return False
        if seen is not None and seen.dropped:
            record.msg = f"{record.msg} ({seen.dropped} more like this in {now - seen.since:.0f}s)"
        self.seen[kind] = _Seen(now)
        return True


def limit_repeats(prefixes: Iterable[str] = NOISY_LOGGERS, window: float = WINDOW_SECONDS) -> None:
    """Put one `RepeatLimit` on every logger under `prefixes` that exists now (the
    libraries create theirs when imported: import them first)."""
    limit = RepeatLimit(window)
    prefixes = tuple(prefixes)
    names = [name for name in logging.root.manager.loggerDict if name.startswith(prefixes)]
    for name in {*prefixes, *names}:
        logging.getLogger(name).addFilter(limit)
