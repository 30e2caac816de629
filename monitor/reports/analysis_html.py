"""The HTML report of `guanchao analyze`: one self-contained file, charts as inline SVG."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from jinja2 import Environment, PackageLoader, select_autoescape

from monitor.reports.analysis import HOUR, Analysis, BrandReport

CHART_WIDTH = 720
CHART_HEIGHT = 160


@dataclass(frozen=True)
class Bar:
    x: float
    width: float
    mentions_height: float
    negatives_height: float
    label: str
    mentions: int
    negatives: int


def hourly_bars(report: BrandReport) -> list[Bar]:
    """Bars for every hour from the first to the last, empty hours included."""
    if not report.hours:
        return []
    hours = sorted(report.hours)
    span = [hours[0]]
    while span[-1] < hours[-1]:
        span.append(_next_hour(span[-1]))
    tallest = max(counts.mentions for counts in report.hours.values()) or 1
    width = CHART_WIDTH / len(span)
    bars = []
    for index, hour in enumerate(span):
        counts = report.hours.get(hour)
        mentions, negatives = (counts.mentions, counts.negatives) if counts else (0, 0)
        bars.append(
            Bar(
                x=index * width,
                width=max(width - 1, 1),
                mentions_height=CHART_HEIGHT * mentions / tallest,
                negatives_height=CHART_HEIGHT * negatives / tallest,
                label=hour.strftime("%m-%d %H:00"),
                mentions=mentions,
                negatives=negatives,
            )
        )
    return bars


def _next_hour(hour: datetime) -> datetime:
    return (hour + HOUR).astimezone(hour.tzinfo)


def render_report(analysis: Analysis, source: str, generated: datetime) -> str:
    environment = Environment(
        loader=PackageLoader("monitor", "templates"), autoescape=select_autoescape()
    )
    template = environment.get_template("analysis.html")
    return template.render(
        analysis=analysis,
        source=source,
        generated=generated,
        charts={brand: hourly_bars(report) for brand, report in analysis.brands.items()},
        chart_width=CHART_WIDTH,
        chart_height=CHART_HEIGHT,
    )
