"""The post-incident review (the plan's 「时间线、问题点、改进清单」) of one case, as Markdown
and as a self-contained HTML page. Pure: the case as the API shows it and the time in."""

from __future__ import annotations

from datetime import datetime
from functools import cache
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined, select_autoescape

from monitor.detect.reasons import joined

CHART_WIDTH = 720
CHART_HEIGHT = 160


def deadline_outcomes(case: dict[str, Any], now: datetime) -> list[dict[str, Any]]:
    """Each deadline met or missed, and by how many minutes."""
    outcomes = []
    for item in case["deadlines"]:
        due = datetime.fromisoformat(item["due"])
        done = datetime.fromisoformat(item["met"]) if item["met"] else None
        margin = round(((done or now) - due).total_seconds() / 60)
        if done is not None:
            missed = margin > 0
            outcome = f"missed by {margin} min" if missed else f"met, {-margin} min early"
        elif case["state"] in ("resolved", "false_alarm"):
            missed, outcome = False, "not needed (closed)"
        else:
            missed = margin > 0
            outcome = f"overdue by {margin} min" if missed else f"open, {-margin} min left"
        outcomes.append({**item, "outcome": outcome, "missed": missed})
    return outcomes


def review_markdown(case: dict[str, Any], now: datetime) -> str:
    return _render("review.md.j2", case, now)


def review_html(case: dict[str, Any], now: datetime) -> str:
    return _render("review.html", case, now)


@cache
def _environment() -> Environment:
    environment = Environment(
        loader=PackageLoader("monitor", "templates"),
        autoescape=select_autoescape(["html"]),
        undefined=StrictUndefined,
    )
    environment.filters["reasons"] = joined
    return environment


def _render(template: str, case: dict[str, Any], now: datetime) -> str:
    facts = case["facts"]
    return (
        _environment()
        .get_template(template)
        .render(
            case=case,
            outcomes=deadline_outcomes(case, now),
            keywords=list((facts.get("top_keywords") or {}).items()),
            top=facts.get("top_negatives") or [],
            chart=negatives_chart(case["series"], facts.get("threshold")),
        )
    )


def negatives_chart(series: list[list[Any]], threshold: int | None) -> dict[str, Any]:
    """A polyline of negatives over time, with the threshold as a dashed line."""
    if not series:
        return {"width": CHART_WIDTH, "height": CHART_HEIGHT, "points": "", "span": "no data",
                "threshold_y": None}  # fmt: skip
    times = [datetime.fromisoformat(at).timestamp() for at, _ in series]
    tallest = max([*(int(n) for _, n in series), threshold or 0, 1])
    start, width = times[0], (times[-1] - times[0]) or 1.0

    def y(value: float) -> float:
        return CHART_HEIGHT - CHART_HEIGHT * value / tallest * 0.95

    points = " ".join(
        f"{CHART_WIDTH * (moment - start) / width:.1f},{y(int(n)):.1f}"
        for moment, (_, n) in zip(times, series, strict=True)
    )
    return {
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
        "points": points,
        "span": f"{series[0][0]} – {series[-1][0]}",
        "threshold_y": y(threshold) if threshold is not None else None,
    }
