"""Getting every alert to every sink it is routed to: never lost, never a flood.

Each (notice, sink) pair is a *delivery*, stored (by the stream, in a table with a
changelog) until the sink took it. A dispatcher per sink sends what is due within the
sink's rate limit; when more is waiting than the limit leaves room for, the rest goes
out as one digest instead of being dropped or delayed for minutes (a digest keeps its
messages: Alertmanager still gets one alert per incident). A failed send is
retried with doubling backoff; after `attempts` tries the delivery is also written to the
alert dead-letter topic (once) and counted, and it keeps being retried until the sink
recovers.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import deque
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta

import httpx

from alerts.messages import Message, digest, render
from alerts.sinks import DeliveryError, Limits, Sink
from monitor.casework.cases import Notice
from monitor.documents import Document
from monitor.settings import AlertSettings
from monitor.signing import Links

log = logging.getLogger(__name__)

PENDING = "pending"
SENT = "sent"
MUTED = "muted"


@dataclass(frozen=True)
class Delivery(Document):
    notice: Notice
    sink: str
    created: datetime
    state: str = PENDING
    attempts: int = 0
    next_at: datetime | None = None
    error: str = ""
    dead_lettered: bool = False
    done_at: datetime | None = None
    muted_by: str = ""

    @property
    def key(self) -> str:
        return f"{self.notice.key}|{self.sink}"

    def due(self, now: datetime) -> bool:
        return self.state == PENDING and (self.next_at is None or self.next_at <= now)


class RateLimit:
    """Sliding windows of one second and one minute over the sends of one sink."""

    def __init__(self, limits: Limits) -> None:
        self.limits = limits
        self.sent: deque[float] = deque()

    def room(self, now: float) -> int:
        while self.sent and self.sent[0] <= now - 60:
            self.sent.popleft()
        rooms = []
        if self.limits.per_minute:
            rooms.append(self.limits.per_minute - len(self.sent))
        if self.limits.per_second:
            last_second = sum(1 for moment in self.sent if moment > now - 1)
            rooms.append(self.limits.per_second - last_second)
        return max(0, min(rooms)) if rooms else 1_000_000

    def wait(self, now: float) -> float:
        """Seconds until there is room for one more."""
        if self.room(now) > 0:
            return 0.0
        if self.limits.per_second and sum(1 for m in self.sent if m > now - 1) >= (
            self.limits.per_second
        ):
            return max(0.0, self.sent[-self.limits.per_second] + 1 - now)
        return max(0.0, self.sent[0] + 60 - now)

    def record(self, now: float) -> None:
        self.sent.append(now)


def plan(due: list[Delivery], room: int) -> list[list[Delivery]]:
    """Sends for this turn: one each while there is room, the rest in the last as a digest."""
    if room <= 0 or not due:
        return []
    if len(due) <= room:
        return [[delivery] for delivery in due]
    return [*([delivery] for delivery in due[: room - 1]), due[room - 1 :]]


def retry_after(attempts: int, settings: AlertSettings) -> timedelta:
    seconds = settings.backoff_seconds * 2 ** (attempts - 1)
    return timedelta(seconds=min(seconds, settings.max_backoff_seconds))


def failed(delivery: Delivery, error: str, now: datetime, settings: AlertSettings) -> Delivery:
    attempts = delivery.attempts + 1
    return replace(
        delivery, attempts=attempts, error=error, next_at=now + retry_after(attempts, settings)
    )


Store = Callable[[Delivery], Awaitable[None]]


class Dispatcher:
    """Sends one sink's due deliveries, woken when new ones arrive or a retry falls due.

    `pending(sink)` reads the stored deliveries still pending for this sink, of the brands
    this worker owns; `store` writes one back
    (sent, or failed with its next attempt); `dead_letter` publishes a delivery that
    exhausted its attempts. The clock is passed in.
    """

    def __init__(
        self,
        sink: Sink,
        settings: AlertSettings,
        pending: Callable[[str], Iterable[Delivery]],
        store: Store,
        dead_letter: Store,
        client: httpx.AsyncClient,
        clock: Callable[[], datetime],
        on_result: Callable[[str, str], None] = lambda sink, result: None,
        links: Links | None = None,  # None: unsigned links to `settings.public_url`
    ) -> None:
        self.sink = sink
        self.links = links or Links(settings.public_url, None)
        self.settings = settings
        self.pending = pending
        self.store = store
        self.dead_letter = dead_letter
        self.client = client
        self.clock = clock
        self.on_result = on_result
        self.limit = RateLimit(sink.rate)
        self.wake = asyncio.Event()

    async def run(self) -> None:
        while True:
            try:
                pause = await self.turn()
            except Exception:  # a bug must not silence every later alert of this sink
                log.exception("dispatcher for %s failed; trying again", self.sink.name)
                pause = self.settings.max_backoff_seconds
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.wake.wait(), timeout=pause)
            self.wake.clear()

    async def turn(self) -> float:
        """Send what is due now; return how long to sleep before the next turn."""
        now = self.clock()
        waiting = self.pending(self.sink.name)
        due = sorted((d for d in waiting if d.due(now)), key=lambda d: (d.created, d.notice.key))
        moment = now.timestamp()
        for batch in plan(due, self.limit.room(moment)):
            self.limit.record(moment)
            await self._send(batch, now)
        return self._pause(now)

    def _pause(self, now: datetime) -> float:
        waiting = list(self.pending(self.sink.name))  # after this turn's sends
        if not waiting:
            return self.settings.max_backoff_seconds
        if any(d.due(now) for d in waiting):
            return max(0.05, self.limit.wait(now.timestamp()))
        retry_at = min(d.next_at for d in waiting if d.next_at)
        return max(0.05, (retry_at - now).total_seconds())

    async def _send(self, batch: list[Delivery], now: datetime) -> None:
        rendered = []
        for delivery in batch:  # one that cannot be written fails alone, not its batch
            try:
                rendered.append((delivery, self._render(delivery, now)))
            except Exception as error:
                log.exception("alert %s cannot be rendered", delivery.key)
                self.on_result(self.sink.name, "failed")
                await self._failed(delivery, f"{type(error).__name__}: {error}", now)
        if not rendered:
            return
        batch = [delivery for delivery, _ in rendered]
        messages = [message for _, message in rendered]
        message = messages[0] if len(messages) == 1 else digest(messages, self._language())
        try:
            await self.sink.send(message, now, self.client)
        except Exception as error:  # DeliveryError, or a sink's bug: either way, retry
            if not isinstance(error, DeliveryError):
                log.exception("sink %s failed unexpectedly", self.sink.name)
                error = self.sink.failure(f"{type(error).__name__}: {error}")
            log.warning("alert not delivered: %s", error)
            self.on_result(self.sink.name, "failed")
            for delivery in batch:
                await self._failed(delivery, str(error), now)
            return
        self.on_result(self.sink.name, "sent" if len(batch) == 1 else "digest")
        for delivery in batch:
            await self.store(replace(delivery, state=SENT, done_at=now, error=""))

    async def _failed(self, delivery: Delivery, error: str, now: datetime) -> None:
        again = failed(delivery, error, now, self.settings)
        if again.attempts >= self.settings.attempts and not again.dead_lettered:
            again = replace(again, dead_lettered=True)
            await self.dead_letter(again)
            self.on_result(self.sink.name, "dead_lettered")
        await self.store(again)

    def _render(self, delivery: Delivery, now: datetime) -> Message:
        return render(delivery.notice, self._language(), self.links, now)

    def _language(self) -> str:
        return self.sink.settings.language or self.settings.language
