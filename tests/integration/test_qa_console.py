"""The QA cases in the console, in a real Chromium: a rude conversation with the customer's
phone number goes through a real worker, and the lead, signed in, reads the case with its
deductions and the phone masked, then the conversation with each deduction at its turn.
Without a sign-in the pages say nothing. Screenshots at 375 and 1280 px (`look`)."""

from __future__ import annotations

import json
import re
import urllib.error
import urllib.request
from pathlib import Path
from urllib.parse import quote

from playwright.sync_api import Browser, Page

from monitor.casework.playbook import DEFAULT_PLAYBOOK
from monitor.detect.stages import brand_partition
from tests.unit.test_qa_intake import PHONE, POLITE, RUDE, SHOP

from .conftest import MakePipeline, Worker, wait_for
from .test_console import browser, look, reloaded_shows, shots, signed_in
from .test_playbook import ENV
from .test_qa_stream import conversation, produce, qa_config

__all__ = ["browser", "shots"]  # the fixtures, shared with the console's tests

CASE_ID = "taobao:conv-0"


def refused_without_sign_in(worker: Worker, browser: Browser) -> None:
    """Each QA page sends a stranger to the sign-in page, and shows nothing of a case."""
    root = f"http://127.0.0.1:{worker.web_port}/console"
    page = browser.new_context().new_page()
    for path in ("/qa", f"/qa/{quote(CASE_ID, safe='')}", "/qa?shop=" + quote(SHOP)):
        page.goto(root + path)
        assert "/console/sign-in" in page.url, path
        shown = page.content()  # the sign-in form (its `next` is the URL the stranger typed)
        assert SHOP not in page.inner_text("main"), path
        assert not any(said in shown for said in (PHONE, "[电话]", "加我微信", "agent-0")), path
    try:
        urllib.request.urlopen(f"{root}/rows/qa", timeout=5)
        raise AssertionError("the QA rows were served without a session")
    except urllib.error.HTTPError as error:
        assert error.code == 403 and SHOP not in error.read().decode()


def read_the_case(page: Page, shots: Path) -> None:
    """The list: shop, agent, score against the mark, deductions with masked evidence."""
    listed = page.locator("#qa-cases").inner_text()
    assert SHOP in listed and "agent-0" in listed and "/ 及格线 85" in listed
    assert "引导站外交易或联系" in listed and "指责顾客" in listed and "第 2 句" in listed
    assert "conv-1" not in page.content()  # the polite one passed: no case
    assert PHONE not in page.content()
    look(page, shots, "qa")
    page.get_by_label("客服").select_option("agent-0")
    page.get_by_role("button", name="筛选").click()
    assert SHOP in page.locator("#qa-cases").inner_text()

    page.get_by_role("link", name=re.compile(SHOP)).first.click()
    page.wait_for_url(re.compile(r"/console/qa/taobao%3Aconv-0|/console/qa/taobao:conv-0"))
    first, second = page.locator("#turn-1"), page.locator("#turn-2")
    assert "[电话]" in first.inner_text() and "顾客" in first.inner_text()
    assert "加我微信" in second.inner_text() and "引导站外交易或联系" in second.inner_text()
    assert "flagged" in (second.get_attribute("class") or "")
    assert PHONE not in page.content()
    look(page, shots, "qa-case")
    page.get_by_role("link", name="English").click()
    assert "moving off the platform" in page.inner_text("main")
    look(page, shots, "qa-case-en")


def test_a_failed_conversation_is_a_masked_case_in_the_console(
    make_pipeline: MakePipeline, browser: Browser, shots: Path
) -> None:
    alerts = {"playbook": str(DEFAULT_PLAYBOOK), "sinks": [{"name": "console", "kind": "console"}]}
    pipeline = make_pipeline(1, alerts=alerts, env=ENV)
    qa_config(pipeline)
    worker = pipeline.start_worker()
    produce(pipeline, [conversation(0, RUDE, customer_phone=PHONE), conversation(1, POLITE)])

    page = signed_in(browser, worker, "qa")
    assert page.get_by_role("link", name="客服质检").count() == 1  # in the navigation
    wait_for(lambda: reloaded_shows(page, SHOP), "the case on the QA page")
    read_the_case(page, shots)
    refused_without_sign_in(worker, browser)


def one_shop_a_partition(partitions: int) -> list[str]:
    """A shop name for each partition, so that every worker holds some shop's cases."""
    shops: dict[int, str] = {}
    for n in range(1000):
        shops.setdefault(brand_partition(f"店铺{n}", partitions), f"店铺{n}")
    return [shops[partition] for partition in range(partitions)]


def test_every_worker_shows_every_shop_s_cases_and_opens_the_others(
    make_pipeline: MakePipeline, browser: Browser
) -> None:
    """Two workers, each holding the shops of its partitions: either's QA page lists all,
    and a case the other holds opens through it."""
    alerts = {"playbook": str(DEFAULT_PLAYBOOK), "sinks": [{"name": "console", "kind": "console"}]}
    pipeline = make_pipeline(4, alerts=alerts, env=ENV)
    qa_config(pipeline)
    first, second = pipeline.start_worker(), pipeline.start_worker()
    wait_for(lambda: all(w.get("/health").get("ready") for w in (first, second)),
             "both workers to be ready")  # fmt: skip
    shops = one_shop_a_partition(4)
    produce(pipeline, [conversation(n, RUDE, shop=shop) for n, shop in enumerate(shops)])

    page = signed_in(browser, first, "qa")
    wait_for(lambda: reloaded_shows(page, "共 4 个未达标会话"), "every shop's case on the page")
    assert all(shop in page.locator("#qa-cases").inner_text() for shop in shops)
    session = next(c["value"] for c in page.context.cookies() if c["name"] == "guanchao_session")
    rows = f"http://127.0.0.1:{second.web_port}/console/rows/qa"
    request = urllib.request.Request(rows, headers={"Cookie": f"guanchao_session={session}"})
    with urllib.request.urlopen(request, timeout=5) as answer:
        held = [row["id"] for row in json.load(answer)["rows"]]
    assert 0 < len(held) < 4, held  # each worker holds some
    page.goto(f"http://127.0.0.1:{first.web_port}/console/qa/{quote(held[0], safe='')}")
    assert "加我微信" in page.locator("#turn-2").inner_text()
    assert PHONE not in page.content()
