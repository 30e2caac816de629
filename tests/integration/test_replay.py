"""Replaying an export offline (`guanchao analyze`) opens the incidents the stream opens:
the same brands, causes, levels and opening minutes (DESIGN.md, issue #11)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from monitor.cli.main import SAMPLE_EXPORT
from monitor.detect.enrich import Enricher
from monitor.detect.stages import opened_incidents
from monitor.reports.analysis import analyze
from monitor.settings import load_settings

from .conftest import MakePipeline


def opening(incident: dict[str, Any]) -> tuple[str, str, str, str]:
    return (incident["brand"], incident["cause"], incident["level_name"], incident["opened_at"])


def openings(events: list[dict[str, Any]]) -> list[tuple[str, str, str, str]]:
    return sorted(opening(incident) for incident in opened_incidents(events))


def test_the_bundled_sample_opens_the_same_incidents_offline_and_in_the_stream(
    make_pipeline: MakePipeline,
) -> None:
    """One partition, so the stream sees the export in its order, as `analyze` does; over
    several partitions an unkeyed burst arrives shuffled by up to its whole span, and a
    surge is then seen, and opened, at a later minute."""
    lines = SAMPLE_EXPORT.read_text(encoding="utf-8").splitlines()
    rows = [json.loads(line) for line in lines if line.strip()]
    pipeline = make_pipeline(1)
    settings = load_settings(pipeline.config)
    offline = analyze(rows, Enricher(settings), settings, datetime.now(UTC))
    expected = sorted(opening(incident) for incident in offline.incidents)
    assert expected, "the sample opens incidents"

    pipeline.start_worker()
    pipeline.produce(list(rows))
    # A level reached later in the opening minute comes as its own event: wait for those too.
    events = pipeline.events(
        lambda es: openings(es) == expected, f"the {len(expected)} incidents to open as offline"
    )
    streamed = openings(events)
    assert streamed == expected
    # The sample's paid wave: 40 negative copies against 山海茶饮 would open a crisis if each
    # counted; offline and in the stream it counts once and opens nothing.
    (wave,) = offline.waves["山海茶饮"]
    assert (wave.copies, wave.accounts, wave.negatives) == (40, 38, 40)
    assert "山海茶饮" not in {brand for brand, *_ in streamed}
