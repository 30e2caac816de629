"""Prometheus Alertmanager (API v2)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any

import httpx

from alerts.messages import Message
from alerts.sinks.base import JsonSink, as_json
from monitor.settings import SinkSettings

# Open incidents are re-posted to Alertmanager this often (`AlertSettings`), and each post
# lasts RESENDS times that: as Prometheus does, an alert nobody re-sends resolves itself.
ALERTMANAGER_REFRESH = timedelta(minutes=5)
RESENDS = 4


class AlertmanagerSink(JsonSink):
    """Prometheus Alertmanager, API v2: its routing, silences and paging keep working.

    One alert per incident: the labels identify it (alertname, incident, brand, cause), the
    annotations describe it (summary, level, description, link), so a level change updates
    the alert instead of starting a second one. Each post lasts `RESENDS` refresh intervals
    and the worker re-posts open incidents every interval; a closed incident is sent with
    `endsAt` now, which resolves it. A digest is posted as one alert per message in it.
    """

    kind = "alertmanager"

    def __init__(
        self,
        settings: SinkSettings,
        env: Mapping[str, str],
        refresh: timedelta = ALERTMANAGER_REFRESH,
    ) -> None:
        super().__init__(settings, env)
        self.lifetime = refresh * RESENDS

    def request(self, message: Message, now: datetime) -> tuple[str, bytes, dict[str, str]]:
        alerts = [self.alert(part, now) for part in incidents(message)]
        return self.url.rstrip("/") + "/api/v2/alerts", as_json(alerts), {}

    def accepted(self, response: httpx.Response) -> bool:
        return True

    def alert(self, message: Message, now: datetime) -> dict[str, Any]:
        annotations = {
            "summary": message.title,
            "level": message.level,
            "description": message.markdown,
        }
        document: dict[str, Any] = {
            "labels": {
                "alertname": "GuanchaoIncident",
                "incident": message.incident,
                "brand": message.brand,
                "cause": message.cause,
            },
            "annotations": annotations,
            "startsAt": (message.started or now).isoformat(),
            "endsAt": (now if message.closes else now + self.lifetime).isoformat(),
        }
        if message.link:
            annotations["link"] = message.link
            document["generatorURL"] = message.link
        return document


def incidents(message: Message) -> list[Message]:
    """A message, or a digest's, one per incident: the last of each, unless one closes it
    (a retried reminder must not reopen what a resolution in the same batch closed)."""
    latest: dict[str, Message] = {}
    for part in message.parts or (message,):
        kept = latest.get(part.incident)
        if kept is None or not kept.closes:
            latest[part.incident] = part
    return list(latest.values())
