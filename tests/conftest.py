from __future__ import annotations

import pytest

from monitor.compliance import ComplianceChecker, default_checker
from monitor.enrich import build_scorer
from monitor.sentiment import Scorer
from monitor.settings import Settings, load_settings


@pytest.fixture(scope="session")
def settings() -> Settings:
    return load_settings()


@pytest.fixture(scope="session")
def scorer(settings: Settings) -> Scorer:
    return build_scorer(settings)


@pytest.fixture(scope="session")
def snownlp_scorer(settings: Settings) -> Scorer:
    """The rules over snownlp's shipped model: `model: snownlp` in the config."""
    sentiment = settings.sentiment.model_copy(update={"model": "snownlp", "negative_below": 0.4})
    return build_scorer(settings.model_copy(update={"sentiment": sentiment}))


@pytest.fixture(scope="session")
def checker() -> ComplianceChecker:
    return default_checker(exempt_names=["第一坊"])
