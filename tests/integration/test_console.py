"""The console in a real headless Chromium (Debian's, driven by Playwright): the on-call
person opens the link from the alert with no token, acknowledges with one tap and a
confirm; tampered and expired links, a GET on an action, sign-in and sign-out; the
copywriter's compliance page. Screenshots at 375 and 1280 px, checked for overflow, go to
$GUANCHAO_SCREENSHOTS (or the test's folder)."""

from __future__ import annotations

import io
import os
import re
import shutil
import signal
import urllib.error
import urllib.request
import zipfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlsplit

import docx
import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from monitor.casework.playbook import DEFAULT_PLAYBOOK
from monitor.signing import Signer, incident_scope

from .conftest import MakePipeline, Pipeline, Worker, wait_for
from .test_playbook import ENV, TOKEN, call, eleven_negatives, volume_case

LINK = re.compile(r"https?://\S+/console/incidents/\S+")
WIDTHS = {"phone": 375, "desktop": 1280}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    chromium = shutil.which("chromium")
    assert chromium, "Chromium is installed by scripts/system_packages.sh"
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(executable_path=chromium, args=["--no-sandbox"])
        yield launched
        launched.close()


@pytest.fixture
def shots(tmp_path: Path) -> Path:
    folder = Path(os.environ.get("GUANCHAO_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def look(page: Page, shots: Path, name: str) -> None:
    """A screenshot at each width, and no horizontal scrolling at either."""
    for device, width in WIDTHS.items():
        page.set_viewport_size({"width": width, "height": 900})
        page.screenshot(path=shots / f"{name}-{device}.png", full_page=True)
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"{name} scrolls sideways by {overflow}px at {width}px"


PERSONAL_TOKEN = "chen-jing-token-77a1"


def console_pipeline(
    make_pipeline: MakePipeline, playbook: Path = DEFAULT_PLAYBOOK
) -> tuple[Pipeline, Worker]:
    alerts = {"playbook": str(playbook), "tick_seconds": 0.5,
              "sinks": [{"name": "console", "kind": "console"}],
              "console_people": [{"name": "陈静", "token_env": "CHEN_TOKEN"}]}  # fmt: skip
    pipeline = make_pipeline(1, alerts=alerts, env={**ENV, "CHEN_TOKEN": PERSONAL_TOKEN})
    worker = pipeline.start_worker()
    pipeline.produce(eleven_negatives())
    wait_for(lambda: volume_case(worker), "the incident to open")
    return pipeline, worker


def paged_link(worker: Worker) -> str:
    """The link in the console sink's page of the volume incident, on this worker's port
    (the config's public_url is another port: the path and the signed token count)."""

    def volume_links() -> list[str]:
        return [url for url in LINK.findall(worker.log.read_text()) if "negative_volume" in url]

    parts = urlsplit(wait_for(volume_links, "the console alert")[0])
    return f"http://127.0.0.1:{worker.web_port}{parts.path}?{parts.query}"


def test_the_link_in_the_alert_opens_the_incident_and_one_tap_acknowledges_it(
    make_pipeline: MakePipeline, browser: Browser, shots: Path, tmp_path: Path
) -> None:
    quick = tmp_path / "playbook.yaml"  # the next tier is paged after 1 minute, not 15
    quick.write_text(DEFAULT_PLAYBOOK.read_text(encoding="utf-8")
                     .replace("ack_minutes: 15", "ack_minutes: 1"), encoding="utf-8")  # fmt: skip
    _, worker = console_pipeline(make_pipeline, quick)
    link = paged_link(worker)
    page = browser.new_page()
    page.goto(link)
    assert "云朵咖啡" in page.locator("h1").inner_text()
    assert page.get_by_text("待确认").count() == 1
    look(page, shots, "incident")
    case = volume_case(worker)
    assert case is not None and case["state"] == "open"  # opening the page changed nothing

    page.get_by_role("textbox", name="你的名字").fill("张伟")
    page.fill("textarea[name=note]", "正在联系物流")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="确认，我来处理").click()
    page.wait_for_url(re.compile(r"done=ack"))
    assert "已记录：已确认" in page.inner_text("main")
    assert "张伟 — 正在联系物流" in page.locator(".timeline").inner_text()
    look(page, shots, "incident-acknowledged")
    acknowledged = volume_case(worker)
    assert acknowledged is not None and acknowledged["state"] == "acknowledged"
    response = next(d for d in acknowledged["deadlines"] if d["deadline"] == "response")
    assert response["met"] is not None
    assert datetime.fromisoformat(response["met"]) <= datetime.fromisoformat(response["due"])

    page.get_by_role("link", name="复盘报告（可打印）").click()
    assert "事件复盘" in page.inner_text("h1") and "张伟" in page.inner_text("body")
    page.go_back()

    page.get_by_role("link", name="English").click()
    assert "Acknowledged" in page.inner_text("main") or "acknowledged" in page.inner_text("main")
    look(page, shots, "incident-en")

    def paged(case: dict[str, Any]) -> bool:
        shown = call(worker, "GET", f"/incidents/{quote(case['id'], safe='')}")[1]
        return any(d["kind"] == "page" for d in shown["deliveries"])

    others = [c for c in call(worker, "GET", "/incidents")[1]["incidents"] if c["state"] == "open"]
    assert others, "the keyword incidents, left open, are the control"
    wait_for(lambda: paged(others[0]), "the next tier to be paged for an open incident", 150)
    assert not paged(acknowledged)  # the acknowledged one escalates no further


def test_a_dismissed_confirm_changes_nothing(make_pipeline: MakePipeline, browser: Browser) -> None:
    _, worker = console_pipeline(make_pipeline)
    page = browser.new_page()
    page.goto(paged_link(worker))
    page.get_by_role("textbox", name="你的名字").fill("张伟")
    page.once("dialog", lambda dialog: dialog.dismiss())
    page.get_by_role("button", name="确认，我来处理").click()
    page.wait_for_timeout(500)
    case = volume_case(worker)
    assert case is not None and case["state"] == "open"


def test_tampered_expired_and_foreign_links_are_refused_and_a_get_changes_nothing(
    make_pipeline: MakePipeline, browser: Browser, shots: Path
) -> None:
    _, worker = console_pipeline(make_pipeline)
    link = paged_link(worker)
    case = volume_case(worker)
    assert case is not None
    page = browser.new_page()
    tampered = link[:-3] + ("AAA" if not link.endswith("AAA") else "BBB")
    signer = Signer.from_env(ENV, "GUANCHAO_LINK_SECRET", "GUANCHAO_API_TOKEN")
    assert signer is not None
    expired = signer.sign(incident_scope(case["id"]), "张伟", datetime.now(UTC) - timedelta(1))
    other = signer.sign(incident_scope("山海茶饮:negative_volume:1"), "张伟",
                        datetime.now(UTC) + timedelta(hours=1))  # fmt: skip
    base = link.split("?")[0]
    for url in (tampered, f"{base}?token={expired}", f"{base}?token={other}", base):
        answer = page.goto(url)
        assert answer is not None and answer.status == 403, url
        assert "链接无效或已过期" in page.inner_text("main")
        assert "云朵咖啡" not in page.content()
    look(page, shots, "link-refused")

    for odd in ("1.a.%C3%A9", "%F0%9F%98%80", "x" * 5000):  # not ASCII, an emoji, huge
        answer = page.goto(f"{base}?token={odd}")
        assert answer is not None and answer.status == 403, odd

    token = urlsplit(link).query.removeprefix("token=")
    answer = page.goto(f"{base}/ack?token={token}")  # what a link scanner would do
    assert answer is not None and answer.status == 405
    assert volume_case(worker)["state"] == "open"  # type: ignore[index]

    forged = urllib.request.Request(f"{base}/ack", method="POST",
                                    data=f"token={token}&who=x&csrf=guess".encode())  # fmt: skip
    try:
        urllib.request.urlopen(forged, timeout=5)
        raise AssertionError("a POST without the page's CSRF token was accepted")
    except urllib.error.HTTPError as error:
        assert error.code == 403
    assert volume_case(worker)["state"] == "open"  # type: ignore[index]


def test_sign_in_shows_the_board_and_sign_out_ends_it(
    make_pipeline: MakePipeline, browser: Browser, shots: Path
) -> None:
    _, worker = console_pipeline(make_pipeline)
    root = f"http://127.0.0.1:{worker.web_port}/console"
    page = browser.new_context().new_page()
    page.goto(f"{root}/")
    assert "/console/sign-in" in page.url  # the board needs a sign-in
    page.fill("input[name=token]", "wrong")
    page.get_by_role("button", name="登录").click()
    assert "令牌不对" in page.inner_text("main")
    page.fill("input[name=name]", "王芳")
    page.fill("input[name=token]", TOKEN)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{root}/")
    assert "云朵咖啡" in page.locator("#board").inner_text()
    look(page, shots, "board")
    cookie = next(c for c in page.context.cookies() if c["name"] == "guanchao_session")
    assert cookie["httpOnly"] and cookie["sameSite"] == "Strict"

    page.get_by_role("link", name=re.compile("云朵咖啡")).first.click()
    assert page.get_by_role("textbox", name="你的名字").input_value() == "王芳"
    page.get_by_role("button", name="退出").click()
    page.goto(f"{root}/")
    assert "/console/sign-in" in page.url
    page.context.add_cookies([cookie])  # a copy of the cookie kept: refused all the same
    page.goto(f"{root}/")
    assert "/console/sign-in" in page.url

    for evil in ("/\\evil.example", "//evil.example", "/%09/evil.example", "https://evil.example"):
        page.goto(f"{root}/sign-in?next={quote(evil, safe='')}")
        page.fill("input[name=token]", TOKEN)
        page.get_by_role("button", name="登录").click()
        assert page.url == f"{root}/", evil  # the board, never another site
        page.get_by_role("button", name="退出").click()
    page.fill("input[name=name]", "冒充者")  # a personal token says who signs in
    page.fill("input[name=token]", PERSONAL_TOKEN)
    page.get_by_role("button", name="登录").click()
    page.get_by_role("link", name=re.compile("云朵咖啡")).first.click()
    assert page.get_by_role("textbox", name="你的名字").input_value() == "陈静"


def signed_in(browser: Browser, worker: Worker, then: str) -> Page:
    root = f"http://127.0.0.1:{worker.web_port}/console"
    page = browser.new_context().new_page()
    page.goto(f"{root}/sign-in?next=/console/{then}")
    page.fill("input[name=name]", "王敏")
    page.fill("input[name=token]", TOKEN)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{root}/{then}")
    return page


def test_a_silence_is_added_and_ended_from_the_console(
    make_pipeline: MakePipeline, browser: Browser, shots: Path
) -> None:
    _, worker = console_pipeline(make_pipeline)
    page = signed_in(browser, worker, "silences")
    page.get_by_label("品牌").select_option("云朵咖啡")
    page.get_by_label("级别").select_option("watch")
    page.get_by_label("时长（分钟）").fill("90")
    page.get_by_label("说明").fill("已知物流问题")
    page.get_by_role("button", name="添加静默").click()
    listed = call(worker, "GET", "/silences")[1]["silences"]
    assert [(s["brand"], s["level"], s["created_by"], s["active"]) for s in listed] == [
        ("云朵咖啡", "watch", "王敏", True)
    ]
    assert "已知物流问题" in page.inner_text("main")
    look(page, shots, "silences")
    page.get_by_role("button", name="立即结束").click()
    assert not any(s["active"] for s in call(worker, "GET", "/silences")[1]["silences"])
    assert "已结束的静默" in page.inner_text("main")


def test_a_drill_started_from_the_console_is_detected_and_timed(
    make_pipeline: MakePipeline, browser: Browser, shots: Path
) -> None:
    _, worker = console_pipeline(make_pipeline)
    page = signed_in(browser, worker, "drills")
    page.get_by_label("品牌").select_option("山海茶饮")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="开始演练").click()
    assert "已为 山海茶饮 发送 15 条" in page.inner_text("main")
    assert "/console/drills?" in page.url  # a reload asks again, it does not post again

    def timed() -> bool:
        page.reload()
        shown = page.inner_text("main")
        return "演练·山海茶饮" in shown and "发现到呼叫: —" not in shown

    wait_for(timed, "the drill to be detected and paged")
    look(page, shots, "drills")


def test_the_compliance_page_marks_the_terms_in_place(
    make_pipeline: MakePipeline, browser: Browser, shots: Path
) -> None:
    _, worker = console_pipeline(make_pipeline)
    page = signed_in(browser, worker, "compliance")
    page.fill("textarea[name=text]", "全网销量第 一的國家級好茶，第一次来就爱上")
    page.get_by_role("button", name="检查", exact=True).click()
    marks = page.locator(".copy mark").all_inner_texts()
    assert any("第 一" in mark for mark in marks) and "國家級" in marks, marks
    assert "第一次来" in page.locator(".copy").inner_text()
    assert "禁止发布" in page.inner_text("#result")
    look(page, shots, "compliance")

    page.fill("textarea[name=text]", "新品到货。想要同款的宝子戳我头像进小窝")
    page.get_by_role("button", name="检查", exact=True).click()
    result = page.inner_text("#result")  # no rule speaks of it: the model's warning, and why
    assert "站外引流（疑似）" in result and "理由" in result and "头像" in result, result
    look(page, shots, "compliance-model")

    page.fill("textarea[name=text]", "这套卡牌规则很简单，先集齐五张的就是冠军")
    page.get_by_role("button", name="检查", exact=True).click()
    result = page.inner_text("#result")  # a listed word the model read as a game's rule
    assert "可以发布" in result and "如实描述" in result and "冠军" in result, result
    look(page, shots, "compliance-overruled")

    page.fill("textarea[name=text]", "第一次来这家店，环境很好")
    page.get_by_role("button", name="检查", exact=True).click()
    assert page.locator(".copy mark").count() == 0
    assert "可以发布" in page.inner_text("#result")


def docx_bytes(paragraphs: list[str], cells: tuple[str, ...] = ()) -> bytes:
    """A .docx made the way Word files are, with python-docx."""
    document = docx.Document()
    for text in paragraphs:
        document.add_paragraph(text)
    if cells:
        table = document.add_table(rows=1, cols=len(cells))
        for cell, text in zip(table.rows[0].cells, cells, strict=True):
            cell.text = text
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def zip_bomb() -> bytes:
    """A .docx-looking zip whose document unpacks to 64 MB of zeros (64 KB packed)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as packed:
        packed.writestr("[Content_Types].xml", "<Types/>")
        packed.writestr("word/document.xml", b"\0" * (64 * 1024 * 1024))
    return buffer.getvalue()


def upload(page: Page, name: str, data: bytes) -> int:
    """Chooses a file on the compliance page (the page sends it at once); the status."""
    with page.expect_navigation() as answer:
        page.set_input_files(
            "#copy-file",
            files=[{"name": name, "mimeType": "application/octet-stream", "buffer": data}],
        )
    return answer.value.status if answer.value else 0


def test_an_uploaded_docx_is_marked_in_place_and_hostile_files_are_refused_on_the_page(
    make_pipeline: MakePipeline, browser: Browser, shots: Path
) -> None:
    _, worker = console_pipeline(make_pipeline)
    page = signed_in(browser, worker, "compliance")
    copy = docx_bytes(
        ["新品上市", "全网销量第 一的好茶，第一次来就爱上"], ("國家級工艺", "限时优惠")
    )
    assert upload(page, "新品文案.docx", copy) == 200
    marks = page.locator(".copy mark").all_inner_texts()
    assert any("第 一" in mark for mark in marks) and "國家級" in marks, marks
    assert "已读取「新品文案.docx」" in page.inner_text("main")
    assert "全网销量第 一的好茶" in page.locator("textarea").input_value()  # to edit and recheck
    assert "禁止发布" in page.inner_text("#result")
    look(page, shots, "compliance-docx")
    assert upload(page, "旧文案.txt", "國家級品质".encode("gbk")) == 200
    assert "國家級" in page.locator(".copy mark").all_inner_texts()

    hostile = {
        "不是zip.docx": (b"PK but not really a zip", "不是有效的 .docx"),
        "炸弹.docx": (zip_bomb(), "解压后太大"),
        "空白.docx": (docx_bytes([]), "没有文字"),
        "文案.pdf": (b"%PDF-1.7", "只能检查 .docx 或 .txt"),
        "太大.txt": (b"a" * (2 * 1024 * 1024), "文件太大"),
    }
    for name, (data, said) in hostile.items():
        status = upload(page, name, data)
        assert status in (400, 413), (name, status)
        assert said in page.locator("#file-form").inner_text(), name
    look(page, shots, "compliance-refused")


def test_no_console_page_serves_case_data_without_a_credential(
    make_pipeline: MakePipeline,
) -> None:
    _, worker = console_pipeline(make_pipeline)
    case = volume_case(worker)
    assert case is not None
    root = f"http://127.0.0.1:{worker.web_port}/console"
    for path in ("/", "/?fragment=1", f"/incidents/{quote(case['id'], safe='')}", "/compliance"):
        request = urllib.request.Request(root + path)
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                body = answer.read().decode()
        except urllib.error.HTTPError as error:
            body = error.read().decode()
        assert "云朵咖啡" not in body and case["id"] not in body, path
    assert call(worker, "GET", "/incidents", token=None)[0] == 401


def test_a_link_opened_on_the_other_worker_shows_and_acknowledges_the_case(
    make_pipeline: MakePipeline, browser: Browser
) -> None:
    """Two workers behind one address: the link reaches whichever; the case is on one."""
    alerts = {"playbook": str(DEFAULT_PLAYBOOK), "tick_seconds": 0.5,
              "sinks": [{"name": "console", "kind": "console"}]}  # fmt: skip
    pipeline = make_pipeline(4, alerts=alerts, env=ENV)
    first, second = pipeline.start_worker(), pipeline.start_worker()
    wait_for(lambda: all(w.get("/health").get("ready") for w in (first, second)),
             "both workers to be ready")  # fmt: skip
    pipeline.produce(eleven_negatives())
    owner = wait_for(lambda: next((w for w in (first, second) if volume_case(w)), None),
                     "the incident to open on one of them")  # fmt: skip
    other = second if owner is first else first
    link = urlsplit(paged_link(owner))
    page = browser.new_page()
    answer = page.goto(f"http://127.0.0.1:{other.web_port}{link.path}?{link.query}")
    assert answer is not None and answer.status == 200
    assert "云朵咖啡" in page.locator("h1").inner_text()
    page.get_by_role("textbox", name="你的名字").fill("张伟")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="确认，我来处理").click()
    page.wait_for_url(re.compile(rf"127\.0\.0\.1:{other.web_port}/.*done=ack"))
    assert "已记录：已确认" in page.inner_text("main")
    acknowledged = volume_case(owner)
    assert acknowledged is not None and acknowledged["state"] == "acknowledged"


def reloaded_shows(page: Page, text: str) -> bool:
    page.reload()
    return text in page.inner_text("main")


def test_every_worker_shows_every_case_silence_and_drill(
    make_pipeline: MakePipeline, browser: Browser, shots: Path
) -> None:
    """Two workers: the board, the silences and the drills of either show both workers'
    cases; a worker that does not answer is said on the page, and the page still works."""
    alerts = {"playbook": str(DEFAULT_PLAYBOOK), "tick_seconds": 0.5,
              "sinks": [{"name": "console", "kind": "console"}]}  # fmt: skip
    pipeline = make_pipeline(4, alerts=alerts, env=ENV)
    first, second = pipeline.start_worker(), pipeline.start_worker()
    wait_for(lambda: all(w.get("/health").get("ready") for w in (first, second)),
             "both workers to be ready")  # fmt: skip
    pipeline.produce(eleven_negatives())
    owner = wait_for(lambda: next((w for w in (first, second) if volume_case(w)), None),
                     "the incident to open on one of them")  # fmt: skip
    other = second if owner is first else first

    page = signed_in(browser, other, "")
    assert "云朵咖啡" in page.locator("#board").inner_text()
    page.get_by_role("link", name=re.compile("云朵咖啡")).first.click()
    assert "云朵咖啡" in page.locator("h1").inner_text()  # the owner's page, through this one

    page.goto(f"http://127.0.0.1:{other.web_port}/console/silences")
    page.get_by_label("品牌").select_option("云朵咖啡")
    page.get_by_label("时长（分钟）").fill("30")
    page.get_by_label("说明").fill("两台都看得到")
    page.get_by_role("button", name="添加静默").click()
    on_owner = signed_in(browser, owner, "silences")
    assert "两台都看得到" in on_owner.inner_text("main")
    on_owner.get_by_role("button", name="立即结束").click()  # ended on the worker that has it
    assert "已结束的静默" in on_owner.inner_text("main")
    wait_for(lambda: not any(s["active"] for s in call(other, "GET", "/silences")[1]["silences"]),
             "the other worker to follow the silence's end")  # fmt: skip

    page.goto(f"http://127.0.0.1:{other.web_port}/console/drills")
    page.get_by_label("品牌").select_option("山海茶饮")
    page.once("dialog", lambda dialog: dialog.accept())
    page.get_by_role("button", name="开始演练").click()
    for shown, worker in ((page, other), (on_owner, owner)):
        shown.goto(f"http://127.0.0.1:{worker.web_port}/console/drills")
        wait_for(lambda shown=shown: reloaded_shows(shown, "演练·山海茶饮"), "the drill on both")

    owner.process.send_signal(signal.SIGSTOP)  # it holds the case and answers nothing
    try:
        answer = page.goto(f"http://127.0.0.1:{other.web_port}/console/")
        assert answer is not None and answer.status == 200
        assert "另一个节点暂时无法访问" in page.inner_text("main")
        look(page, shots, "board-one-missing")
        page.goto(f"http://127.0.0.1:{other.web_port}/console/?lang=en")
        assert "1 other worker(s) did not answer" in page.inner_text("main")
    finally:
        owner.process.send_signal(signal.SIGCONT)

    cookie = next(c for c in page.context.cookies() if c["name"] == "guanchao_session")
    page.get_by_role("button", name="Sign out").click()  # on one worker: on the other too
    on_owner.context.add_cookies([cookie])
    on_owner.goto(f"http://127.0.0.1:{owner.web_port}/console/")
    assert "/console/sign-in" in on_owner.url
