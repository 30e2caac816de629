"""The console's words (`words.yaml`), Chinese first and English: one language a page."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast

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
