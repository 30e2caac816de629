"""Standard output."""

from __future__ import annotations

from datetime import datetime

import httpx

from alerts.messages import Message
from alerts.sinks.base import Sink


class ConsoleSink(Sink):
    """Standard output: the demo's pager, and a witness in the logs."""

    kind = "console"

    async def send(self, message: Message, now: datetime, client: httpx.AsyncClient) -> None:
        print(f"\n{message.markdown}\n", flush=True)
