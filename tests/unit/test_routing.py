"""Which sinks get a notice: levels, silences, inhibition by a crisis, grouping of keyword
surges into the storm already paged."""

from dataclasses import replace
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qs, urlsplit

from alerts.messages import render
from alerts.routing import Silence, route
from monitor.casework.cases import Case, Notice, act, open_case
from monitor.settings import SinkSettings
from monitor.signing import Links, Signer, incident_scope
from tests.unit.test_response import DETECTED, PLAYBOOK, event, minutes

SINKS = (
    SinkSettings(name="group", kind="console", levels=("warning", "crisis")),
    SinkSettings(name="log", kind="console"),
)


def opened(cause: str = "negative_volume", level: str = "watch", at: float = 0) -> Case:
    return opening(cause, level, at)[0]


def notice(cause: str = "negative_volume", level: str = "watch", at: float = 0) -> Notice:
    return opening(cause, level, at)[1]


def opening(cause: str, level: str, at: float) -> tuple[Case, Notice]:
    document: dict[str, Any] = event(level=level)
    document["incident"] |= {"id": f"云朵咖啡:{cause}:{at}", "cause": cause}
    document["at"] = minutes(at).isoformat()
    return open_case(document, PLAYBOOK, minutes(at))


def silence(brand: str = "*", level: str = "*", until: float = 60) -> Silence:
    return Silence("s1", brand, level, DETECTED, minutes(until), "王敏", "known issue")


def test_sinks_get_the_levels_they_asked_for() -> None:
    assert route(notice(level="watch"), SINKS, [], [], DETECTED).sinks == ("log",)
    assert route(notice(level="crisis"), SINKS, [], [], DETECTED).sinks == ("group", "log")


def test_a_silence_mutes_its_brand_and_level_until_it_ends() -> None:
    watch = notice()
    assert route(watch, SINKS, [], [silence()], minutes(1)).muted_by == "silence s1"
    assert route(watch, SINKS, [], [silence(level="crisis")], minutes(1)).sinks == ("log",)
    assert route(watch, SINKS, [], [silence(brand="山海茶饮")], minutes(1)).sinks == ("log",)
    assert route(watch, SINKS, [], [silence(until=10)], minutes(10)).sinks == ("log",)


def test_an_open_crisis_inhibits_the_brands_watch_notices_until_it_closes() -> None:
    crisis = opened("keyword:曝光", "crisis")
    watch = notice()
    assert route(watch, SINKS, [crisis], [], DETECTED).muted_by.startswith("inhibited by crisis")
    closed = replace(crisis, state="resolved")
    assert route(watch, SINKS, [closed], [], DETECTED).sinks == ("log",)


def test_a_keyword_surge_inside_a_storm_already_paged_is_grouped_into_it() -> None:
    storm = opened("negative_volume", at=0)
    surge = notice("keyword:物流慢", at=5)
    assert route(surge, SINKS, [storm], [], minutes(5)).muted_by == f"grouped into {storm.id}"
    first, first_notice = opening("keyword:物流慢", "watch", 0)
    later_storm, storm_notice = opening("negative_volume", "watch", 5)
    assert route(first_notice, SINKS, [later_storm], [], minutes(5)).sinks == ("log",)
    assert route(storm_notice, SINKS, [first], [], minutes(5)).sinks == ("log",)


def test_messages_say_drill_and_speak_english_when_asked() -> None:
    drill = open_case(
        {**event(), "incident": {**event()["incident"], "brand": "演练·云朵咖啡"}},
        PLAYBOOK, DETECTED,
    )[1]  # fmt: skip
    zh = render(drill, "zh", Links("http://w:6066", None), DETECTED + timedelta(minutes=3))
    assert zh.title.startswith("【演练 DRILL】【关注】演练·云朵咖啡")
    assert "剩余 27 分钟" in zh.markdown and "http://w:6066/console/incidents/" in zh.markdown
    en = render(drill, "en", Links("http://w:6066", None), DETECTED + timedelta(minutes=31))
    assert en.title.startswith("[DRILL] [WATCH]") and "missed by 1 min" in en.markdown


def test_every_alert_carries_buttons_to_its_signed_page_for_the_person_paged() -> None:
    signer = Signer(b"k" * 32)
    case, page = opening("negative_volume", "warning", 0)
    message = render(page, "zh", Links("https://pr.example.com", signer), minutes(1))
    (ack_label, ack_url), (details_label, details_url) = message.buttons
    assert (ack_label, details_label) == ("确认", "查看详情")
    assert ack_url == f"{details_url}#act" and details_url == message.link
    token = parse_qs(urlsplit(details_url).query)["token"][0]
    assert signer.verify(incident_scope(case.id), token, minutes(1)) == page.people[0]["name"]
    assert "首次回应" in message.summary and "截止" in message.summary

    _, resolved = act(act(case, "ack", "张伟", "", minutes(2))[0], "resolve", "张伟", "",
                      minutes(3))  # fmt: skip
    closing = render(resolved, "en", Links("https://pr.example.com", signer), minutes(3))
    assert [label for label, _ in closing.buttons] == ["Details"]
