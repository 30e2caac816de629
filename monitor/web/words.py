"""The console's words (`words.yaml`), Chinese first and English: one language a page;
and how its pages write a time."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Any, cast
from zoneinfo import ZoneInfo

import yaml
from aiohttp import web

LANGUAGES = ("zh", "en")
WORDS: dict[str, dict[str, Any]] = yaml.safe_load(
    Path(__file__).with_name("words.yaml").read_text(encoding="utf-8")
)


def language_of(request: object) -> str:
    """`?lang=en` switches; Chinese otherwise."""
    wanted = cast(web.Request, request).query.get("lang", "")
    return wanted if wanted in LANGUAGES else "zh"


def clock_time(iso: str, zone: ZoneInfo, seconds: bool = False) -> str:
    """In the console's zone: a wait of 40 seconds is read from the turns' seconds."""
    shown = "%m-%d %H:%M:%S" if seconds else "%m-%d %H:%M"
    return datetime.fromisoformat(iso).astimezone(zone).strftime(shown)
