"""Who is looking at the console, and how a sign-in is bounded."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

SESSION_COOKIE = "guanchao_session"
SESSION_HOURS = 12
SIGN_IN_TRIES_PER_MINUTE = 5


@dataclass(frozen=True)
class Visitor:
    """Who is looking: through a signed link (one incident) or signed in (everything)."""

    credential: str  # the link token or the session token: the CSRF token is tied to it
    name: str
    signed_in: bool


class SignInTries:
    """Wrong tokens per client, over a sliding minute: guessing is slow, and the memory
    it takes is bounded (the oldest clients are forgotten first)."""

    MAX_CLIENTS = 10_000

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self.clock = clock
        self.failures: dict[str, deque[float]] = {}

    def allowed(self, client: str) -> bool:
        recent = self.failures.get(client)
        now = self.clock()
        while recent and now - recent[0] > 60:
            recent.popleft()
        return not recent or len(recent) < SIGN_IN_TRIES_PER_MINUTE

    def failed(self, client: str) -> None:
        if client not in self.failures and len(self.failures) >= self.MAX_CLIENTS:
            del self.failures[next(iter(self.failures))]
        self.failures.setdefault(client, deque()).append(self.clock())
