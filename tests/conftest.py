from __future__ import annotations

from pathlib import Path

import pytest

from monitor.detect.enrich import build_scorer
from monitor.settings import Settings, load_settings
from monitor.text.compliance import ComplianceChecker, default_checker
from monitor.text.sentiment import Scorer


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


@pytest.fixture(scope="session")
def rules() -> ComplianceChecker:
    """The rules alone, without the model's second opinion: what the tests of a rule and
    its look-alike mean (the model's own tests are in test_copymodel)."""
    return default_checker(exempt_names=["第一坊"], model=False)


TIERS = {"unit": "unit", "cli": "unit", "functional": "functional", "integration": "integration"}


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Each test is marked with its tier, from the folder it is in: `pytest -m unit` runs
    the pure core and the CLI runner's tests, with no broker, server or browser;
    `functional` the stream's agents in memory (Faust's `test_context`); those that open a
    page in Chromium are `browser` as well (`-m "not browser"` leaves them)."""
    root = Path(__file__).parent
    for item in items:
        folder = Path(item.path).relative_to(root).parts[0]
        item.add_marker(TIERS.get(folder, "integration"))
        if "browser" in getattr(item, "fixturenames", ()):
            item.add_marker("browser")
