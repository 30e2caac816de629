"""Every Prometheus metric of a worker, defined once, here.

Labels are bounded: a brand from the config (anything else is `other`), a platform from
the known list (else `other`), a sentiment label, a level, a sink, a result, a reason
class — never a comment, author or incident id. Counters are this worker's own; sum them
across workers in PromQL (the recording rules in deploy/prometheus/ do). The gauges are
about the brands and cases this worker owns, so summing them across workers is right too.
Drill mentions (`演练·…`) are kept out of the brand metrics.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from itertools import product
from typing import Any

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

from monitor.casework.playbook import DEADLINES
from monitor.detect.counting import Counts
from monitor.detect.records import REASONS
from monitor.qa.intake import Reviewed
from monitor.settings import LEVELS, OTHER, QAWeights, Settings, is_drill

PLATFORMS = ("weibo", "douyin", "xiaohongshu", "channels", "wechat", "wecom", "bilibili",
             "zhihu", "other")  # fmt: skip
LABELS = ("negative", "neutral", "positive")
INCIDENT_EVENTS = ("opened", "updated", "level_changed", "cleared")
STEPS = ("opened", "level_changed", "reminder", "page", "deadline_missed", "acknowledged",
         "statement", "resolved", "false_alarm")  # fmt: skip
DELIVERY_RESULTS = ("sent", "digest", "failed", "dead_lettered")
LATENCY_BUCKETS = (0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 300.0, 900.0, 3600.0)
QA_STEPS = ("received", "sampled", "scored", "failed")
QA_KINDS = tuple(QAWeights.model_fields)  # every deduction kind has a weight
QA_SCORE_BUCKETS = (40.0, 50.0, 60.0, 70.0, 80.0, 85.0, 90.0, 95.0, 100.0)


@dataclass
class StreamStats:
    """What the agents count; /health shows it, the collector exports it."""

    received: int = 0
    scored: int = 0
    unsent: int = 0  # scored records the broker refused after the producer's own retries
    unattributed: int = 0
    counted: int = 0
    late: int = 0
    duplicates: int = 0
    dead_lettered: Counter[str] = field(default_factory=Counter)
    incident_events: Counter[str] = field(default_factory=Counter)
    case_events: Counter[str] = field(default_factory=Counter)
    alerts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (sink, result)
    deadlines: Counter[tuple[str, str]] = field(default_factory=Counter)  # (deadline, result)
    compliance: Counter[str] = field(default_factory=Counter)  # pass, warn, block
    mentions: Counter[tuple[str, str, str]] = field(default_factory=Counter)
    crisis_hits: Counter[str] = field(default_factory=Counter)
    qa_conversations: Counter[tuple[str, str]] = field(default_factory=Counter)  # (shop, step)
    qa_deductions: Counter[tuple[str, str]] = field(default_factory=Counter)  # (shop, kind)
    qa_refused: Counter[str] = field(default_factory=Counter)  # reason class
    ready: bool = False  # the tables recovered and counted again: serving what it owns
    broker_down_since: datetime | None = None
    broker_error: str = ""

    def health(self) -> dict[str, Any]:
        """For /health: every counter, tuple keys joined with "/"; and whether the broker
        answers, because a worker that cannot reach it counts nothing while it looks up."""
        counters = {
            name: {"/".join(k) if isinstance(k, tuple) else k: v for k, v in value.items()}
            for name, value in vars(self).items()
            if isinstance(value, Counter)
        }
        numbers = {name: value for name, value in vars(self).items() if isinstance(value, int)}
        if self.broker_down_since is None:
            return {"status": "ok", **numbers, **counters}
        return {"status": "broker unreachable", "since": self.broker_down_since.isoformat(),
                "error": self.broker_error, **numbers, **counters}  # fmt: skip

    def broker_answered(self) -> bool:
        """Record that the broker answered; True when it had been unreachable."""
        was_down = self.broker_down_since is not None
        self.broker_down_since, self.broker_error = None, ""
        return was_down

    def broker_failed(self, now: datetime, error: str) -> bool:
        """Record that the broker did not answer; True when it had been reachable."""
        was_up = self.broker_down_since is None
        self.broker_down_since = self.broker_down_since or now
        self.broker_error = error
        return was_up


def bounded(value: str, known: Iterable[str]) -> str:
    return value if value in known else OTHER


class Metrics:
    """A worker's registry: the latency histogram, and everything else read at scrape."""

    def __init__(
        self,
        settings: Settings,
        stats: StreamStats,
        counts: Counts,
        open_cases: Callable[[], Iterable[Mapping[str, Any]]],
        lag: Callable[[], Mapping[str, int]],
    ) -> None:
        self.settings = settings
        self.stats = stats
        self.counts = counts
        self.open_cases = open_cases
        self.lag = lag
        self.brands = tuple(brand.name for brand in settings.brands)
        self.set_members = [
            (brand.name, member)
            for brand in settings.brands
            for member in dict.fromkeys((brand.name, *brand.competitors))
        ]
        self.registry = CollectorRegistry(auto_describe=False)
        self.latency = Histogram(
            "guanchao_processing_latency_seconds",
            "From a comment's created_at (event time) to its scored record being sent.",
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        self.shops = (*settings.qa.metric_shops, OTHER)
        self.qa_score = Histogram(
            "guanchao_qa_score",
            "Scores (0-100) of the sampled conversations, by shop.",
            ["shop"],
            buckets=QA_SCORE_BUCKETS,
            registry=self.registry,
        )
        for shop in self.shops:  # from zero, like the counters
            self.qa_score.labels(shop)
        self.registry.register(_StateCollector(self))

    def mention(self, brand: str, platform: str, label: str, crisis_hits: int) -> None:
        """A counted mention; drills are not the brand's numbers."""
        if is_drill(brand):
            return
        brand = bounded(brand, self.brands)
        self.stats.mentions[(brand, bounded(platform, PLATFORMS), label)] += 1
        self.stats.crisis_hits[brand] += crisis_hits

    def conversation(self, reviewed: Reviewed) -> None:
        """One record of the conversations topic: refused (by reason class), or counted by
        shop through the steps it reached, with its deductions by kind."""
        if reviewed.dead is not None and not reviewed.sampled:
            self.stats.qa_refused[reviewed.dead.reason] += 1
            return
        shop = bounded(reviewed.shop, self.shops)
        result = reviewed.result
        steps = ("received", "sampled" if reviewed.sampled else "", "scored" if result else "",
                 "failed" if result and not result.passed else "")  # fmt: skip
        self.stats.qa_conversations.update((shop, step) for step in steps if step)
        if reviewed.dead is not None:  # sampled, and the scorer failed on it: our bug
            self.stats.qa_refused[reviewed.dead.reason] += 1
        if result is not None:
            self.stats.qa_deductions.update((shop, d.kind) for d in result.deductions)
            self.qa_score.labels(shop).observe(result.score)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


class _StateCollector(Collector):
    def __init__(self, metrics: Metrics) -> None:
        self.metrics = metrics

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        stats = self.metrics.stats
        for name, value, help_text in (
            ("records_received", stats.received, "Comment records read from the comments topic."),
            ("records_scored", stats.scored, "Scored records stored (one per comment and brand)."),
            ("records_unsent", stats.unsent, "Scored records the broker refused (logged)."),
            ("records_unattributed", stats.unattributed, "Comments that named no brand."),
            ("mentions_counted", stats.counted, "Mentions counted (after dedup and lateness)."),
            ("records_late", stats.late, "Mentions older than the allowed lateness."),
            ("records_duplicate", stats.duplicates, "Mentions already counted (replays)."),
        ):
            yield CounterMetricFamily(f"guanchao_{name}", help_text, value=value)
        sinks = [sink.name for sink in self.metrics.settings.alerts.sinks]
        yield _counter("records_dead_lettered", "Records sent to the dead-letter topic.",
                       ["reason"], stats.dead_lettered, REASONS)  # fmt: skip
        yield _counter("incident_events", "Detector events published.", ["event"],
                       stats.incident_events, INCIDENT_EVENTS)  # fmt: skip
        yield _counter("case_transitions", "Playbook steps and actions on cases.", ["step"],
                       stats.case_events, STEPS)  # fmt: skip
        yield _counter("deadlines", "Playbook deadlines met, met late, or missed.",
                       ["deadline", "result"], stats.deadlines,
                       list(product(DEADLINES, ("met", "late", "missed"))))  # fmt: skip
        yield _counter("alerts", "Alert deliveries by sink and result.", ["sink", "result"],
                       stats.alerts, list(product(sinks, DELIVERY_RESULTS)))  # fmt: skip
        yield _counter("compliance_checks", "Copy checked for advertising-law terms.",
                       ["result"], stats.compliance, ("pass", "warn", "block"))  # fmt: skip
        yield GaugeMetricFamily("guanchao_broker_reachable",
                                "1 while the broker answers this worker, 0 while it does not.",
                                value=int(stats.broker_down_since is None))  # fmt: skip
        yield from self._brands()
        yield from self._qa()
        yield from self._cases()
        lag = GaugeMetricFamily("guanchao_consumer_lag", "Records not yet read, per topic.",
                                labels=["topic"])  # fmt: skip
        for topic, behind in sorted(self.metrics.lag().items()):
            lag.add_metric([topic], behind)
        yield lag

    def _brands(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        brands = (*self.metrics.brands, OTHER)
        stats = self.metrics.stats
        mentions = CounterMetricFamily(
            "guanchao_mentions", "Mentions counted, by brand, platform and sentiment label.",
            labels=["brand", "platform", "label"],
        )  # fmt: skip
        for brand in brands:  # every series from zero, so that increase() sees the first
            for platform in PLATFORMS:
                for label in LABELS:
                    value = stats.mentions[(brand, platform, label)]
                    mentions.add_metric([brand, platform, label], value)
        yield mentions
        hits = CounterMetricFamily(
            "guanchao_crisis_keyword_hits", "Crisis keywords in counted mentions.", labels=["brand"]
        )
        for brand in brands:
            hits.add_metric([brand], stats.crisis_hits[brand])
        yield hits
        shares = CounterMetricFamily(
            "guanchao_set_mentions",
            "Mentions counted once for each competitor set (a brand and its competitors) the "
            "brand belongs to: what the share-of-voice recording rules divide.",
            labels=["set", "brand", "platform", "label"],
        )  # fmt: skip
        for focal, member in self.metrics.set_members:
            for platform in PLATFORMS:
                for label in LABELS:
                    value = stats.mentions[(member, platform, label)]
                    shares.add_metric([focal, member, platform, label], value)
        yield shares
        negatives, threshold, waves, copies = (
            GaugeMetricFamily(f"guanchao_{name}", about, labels=["brand"])
            for name, about in (
                ("rolling_negatives", "Negative mentions in the brand's rolling hour."),
                ("negative_threshold", "More negatives than this in an hour opens an incident."),
                ("waves", "Copy-paste waves (suspected paid posting) in the rolling hour."),
                ("wave_copies", "Mentions in those waves (each wave counts once)."),
            )
        )
        for brand, window in self.metrics.counts.windows.items():
            if not is_drill(brand):
                totals = window.totals()
                negatives.add_metric([brand], totals.negatives)
                threshold.add_metric([brand], self.metrics.settings.threshold_for(brand))
                waves.add_metric([brand], len(totals.waves))
                copies.add_metric([brand], sum(wave.copies for wave in totals.waves))
        yield from (negatives, threshold, waves, copies)

    def _qa(self) -> Iterator[CounterMetricFamily]:
        stats, shops = self.metrics.stats, self.metrics.shops
        yield _counter(
            "qa_conversations",
            "Conversations read, sampled, scored and failed (below the pass mark).",
            ["shop", "step"],
            stats.qa_conversations,
            product(shops, QA_STEPS),
        )
        yield _counter(
            "qa_deductions",
            "Deductions in scored conversations, by kind.",
            ["shop", "kind"],
            stats.qa_deductions,
            product(shops, QA_KINDS),
        )
        yield _counter("qa_refused", "Conversation records refused (dead-lettered) by reason.",
                       ["reason"], stats.qa_refused, REASONS)  # fmt: skip

    def _cases(self) -> Iterator[GaugeMetricFamily]:
        open_by_level = Counter(
            case["level"] for case in self.metrics.open_cases() if not is_drill(case["brand"])
        )
        gauge = GaugeMetricFamily("guanchao_incidents_open", "Open incidents by level.",
                                  labels=["level"])  # fmt: skip
        for level in LEVELS:
            gauge.add_metric([level], open_by_level[level])
        yield gauge


def _counter(
    name: str,
    help_text: str,
    labels: list[str],
    values: Mapping[Any, int],
    expected: Iterable[Any],
) -> CounterMetricFamily:
    """A labelled counter from a Counter keyed by one label value or a tuple of them. The
    `expected` keys are exported from zero, so that increase() and rate() see their first
    events (a series that appears with its first value already counted hides it)."""
    family = CounterMetricFamily(f"guanchao_{name}", help_text, labels=labels)
    for key in sorted({*expected, *values}):
        family.add_metric(list(key) if isinstance(key, tuple) else [key], values.get(key, 0))
    return family
