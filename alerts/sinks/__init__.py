"""Where alerts go: one registry, one contract (`alerts.sinks.base.Sink`), one module per
kind. A sink turns a `Message` into the request its service expects, signs it where the
service asks for that, and raises `DeliveryError` when the service did not take it.
Retries, rate limits and digests live in `alerts/delivery.py`, once for all sinks.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta

from alerts.sinks.alertmanager import ALERTMANAGER_REFRESH, AlertmanagerSink
from alerts.sinks.base import DeliveryError, Limits, Sink
from alerts.sinks.console import ConsoleSink
from alerts.sinks.dingtalk import DingTalkSink
from alerts.sinks.feishu import FeishuSink
from alerts.sinks.mail import EmailSink
from alerts.sinks.slack import SlackSink
from alerts.sinks.webhook import WebhookSink
from alerts.sinks.wecom import WeComSink
from monitor.settings import SinkSettings

__all__ = [
    "SINKS", "AlertmanagerSink", "ConsoleSink", "DeliveryError", "DingTalkSink", "EmailSink",
    "FeishuSink", "Limits", "Sink", "SlackSink", "WeComSink", "WebhookSink", "build_sinks",
]  # fmt: skip

SINKS: dict[str, type[Sink]] = {
    sink.kind: sink
    for sink in (
        WeComSink,
        FeishuSink,
        DingTalkSink,
        SlackSink,
        WebhookSink,
        AlertmanagerSink,
        EmailSink,
        ConsoleSink,
    )
}


def build_sinks(
    settings: tuple[SinkSettings, ...],
    env: Mapping[str, str],
    refresh: timedelta = ALERTMANAGER_REFRESH,
) -> dict[str, Sink]:
    """Every configured sink, with its secrets; a missing variable stops the start.
    `refresh`: how often the worker re-posts open incidents to Alertmanager."""
    return {
        sink.name: AlertmanagerSink(sink, env, refresh)
        if sink.kind == AlertmanagerSink.kind
        else SINKS[sink.kind](sink, env)
        for sink in settings
    }
