"""The plan's 「黑色2小时」 exercise: a labelled synthetic complaint burst sent through the real
pipeline, so that detection, paging, reminders and acknowledgement are all exercised.

Drill comments carry `"drill": true`; the enricher counts them under `演练·<brand>`, apart
from the brand's real numbers, and every message about the incident says DRILL.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

COMPLAINTS = (
    "{brand}这次真的太让人失望了，喝完肚子疼，要求退款[怒]",
    "{brand}门店态度极差，投诉无门，避雷！",
    "曝光{brand}：外卖送来是冷的，客服踢皮球[抓狂]",
    "{brand}新品难喝到想哭，智商税实锤了",
    "再也不买{brand}了，排队一小时还做错单，退钱！",
)
PLATFORMS = ("weibo", "douyin", "xiaohongshu")


def burst(brand: str, count: int, run: str, now: datetime) -> list[dict[str, Any]]:
    """`count` negative comments about `brand`, dated `now`, marked as a drill."""
    return [
        {
            "id": f"drill-{run}-{n}",
            "platform": PLATFORMS[n % len(PLATFORMS)],
            "brand": brand,
            "text": COMPLAINTS[n % len(COMPLAINTS)].format(brand=brand),
            "created_at": now.isoformat(),
            "likes": 10 * n,
            "drill": True,
        }
        for n in range(count)
    ]


def drill_timings(incidents: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per drill incident (as `GET /incidents/{id}` shows it): seconds from detection to the
    first page delivered, and to the acknowledgement."""
    rows = []
    for case in incidents:
        detected = datetime.fromisoformat(case["detected_at"])
        paged = [
            datetime.fromisoformat(d["done_at"])
            for d in case["deliveries"]
            if d["kind"] == "opened" and d["state"] == "sent" and d["done_at"]
        ]
        acked = [
            datetime.fromisoformat(entry["at"])
            for entry in case["timeline"]
            if entry["kind"] in ("acknowledged", "statement")
        ]
        rows.append(
            {
                "id": case["id"],
                "detected_at": case["detected_at"],
                "to_page": (min(paged) - detected).total_seconds() if paged else None,
                "to_ack": (min(acked) - detected).total_seconds() if acked else None,
                "state": case["state"],
            }
        )
    return rows
