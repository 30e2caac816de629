"""Prometheus metrics of a worker, built at scrape time from its own state.

Labels are bounded: brand, sentiment-free reason classes, event kinds — never a comment,
author or incident id. Counters are this worker's; sum them across workers in PromQL.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.counting import Counts


class StreamCollector(Collector):
    def __init__(self, stats: Any, counts: Counts, threshold_for: Callable[[str], int]) -> None:
        self.stats = stats
        self.counts = counts
        self.threshold_for = threshold_for

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.stats
        for name, value, help_text in (
            ("records_received", stats.received, "Comment records read from the comments topic."),
            ("records_scored", stats.scored, "Scored records sent (one per comment and brand)."),
            ("records_unattributed", stats.unattributed, "Comments that named no brand."),
            ("mentions_counted", stats.counted, "Mentions counted (after dedup and lateness)."),
            ("records_late", stats.late, "Mentions older than the allowed lateness."),
            ("records_duplicate", stats.duplicates, "Mentions already counted (replays)."),
        ):
            yield CounterMetricFamily(f"guanchao_{name}", help_text, value=value)
        dead = CounterMetricFamily(
            "guanchao_records_dead_lettered",
            "Records sent to the dead-letter topic.",
            labels=["reason"],
        )
        for reason, value in stats.dead_lettered.items():
            dead.add_metric([reason], value)
        yield dead
        events = CounterMetricFamily(
            "guanchao_incident_events", "Incident events published.", labels=["event"]
        )
        for kind, value in stats.incident_events.items():
            events.add_metric([kind], value)
        yield events
        negatives = GaugeMetricFamily(
            "guanchao_rolling_negatives", "Negative mentions in the brand's rolling hour.",
            labels=["brand"],
        )  # fmt: skip
        threshold = GaugeMetricFamily(
            "guanchao_negative_threshold", "More negatives than this in an hour opens an incident.",
            labels=["brand"],
        )  # fmt: skip
        for brand, window in self.counts.windows.items():
            negatives.add_metric([brand], window.totals().negatives)
            threshold.add_metric([brand], self.threshold_for(brand))
        yield negatives
        yield threshold


def exposition(collector: Collector) -> bytes:
    """The Prometheus text format for one collector, on a registry of its own."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(collector)
    return generate_latest(registry)
