"""The crisis playbook driven by an injected clock: nothing here sleeps."""

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.outbox import parse_detection
from monitor.casework.cases import (
    ActionError,
    Case,
    act,
    next_step_at,
    on_detection,
    open_case,
    tick,
)
from monitor.casework.playbook import load_playbook
from monitor.detect.records import RecordError

# A Thursday, 10:00 in Shanghai: 张伟 is on the weekday day shift.
DETECTED = datetime(2026, 11, 26, 2, 0, tzinfo=UTC)
PLAYBOOK = load_playbook()


def event(kind: str = "opened", level: str = "watch", negatives: int = 11) -> dict[str, Any]:
    return {
        "event": kind,
        "at": DETECTED.isoformat(),
        "incident": {
            "id": "云朵咖啡:negative_volume:100",
            "brand": "云朵咖啡",
            "cause": "negative_volume",
            "level_name": level,
            "reasons": [f"{negatives} negative mentions in the last hour (threshold 10)"],
            "facts": {"negatives": negatives, "threshold": 10},
        },
    }


def minutes(n: float) -> datetime:
    return DETECTED + timedelta(minutes=n)


def opened() -> Case:
    case, _ = open_case(event(), PLAYBOOK, DETECTED)
    return case


def run_until(case: Case, end: float, step: float = 1.0) -> tuple[Case, list[tuple[float, str]]]:
    """Tick every `step` minutes up to `end`, as the worker's timer does."""
    taken = []
    at = 0.0
    while at <= end:
        case, notices = tick(case, minutes(at))
        taken += [(at, notice.key.split("|", 1)[1]) for notice in notices]
        at += step
    return case, taken


def test_opening_pages_the_person_on_duty_with_the_deadlines() -> None:
    case, notice = open_case(event(), PLAYBOOK, DETECTED)
    assert notice.kind == "opened"
    assert [person["name"] for person in notice.people] == ["张伟"]
    due = {d["deadline"]: d["due"] for d in notice.case["deadlines"]}
    assert due == {
        "response": minutes(30).isoformat(),
        "statement": minutes(120).isoformat(),
        "solution": minutes(1440).isoformat(),
    }
    assert case.state == "open" and case.timeline[0]["kind"] == "opened"


def test_nobody_answering_pages_up_the_chain_and_misses_the_response() -> None:
    _, taken = run_until(opened(), 40)
    assert taken == [
        (15, "page:1"),
        (15, "remind:response:2026-11-26T02:30:00+00:00:0.5"),
        (25, "remind:response:2026-11-26T02:30:00+00:00:-5m"),
        (30, "page:2"),
        (30, "missed:response:2026-11-26T02:30:00+00:00"),
    ]


def test_a_missed_deadline_escalates_to_the_next_tier() -> None:
    case, notices = tick(opened(), minutes(30))
    missed = next(n for n in notices if n.kind == "deadline_missed")
    assert missed.deadline == "response" and missed.tier == 1
    assert [person["name"] for person in missed.people] == ["王敏"]
    case = act(case, "ack", "张伟", "", minutes(31))[0]
    _, notices = tick(case, minutes(120))
    assert [n.people[0]["name"] for n in notices if n.kind == "deadline_missed"] == ["陈静"]


def test_acknowledging_stops_the_pages_and_meets_the_response_deadline() -> None:
    case, notice = act(opened(), "ack", "张伟", "看到了，正在核实", minutes(10))
    assert notice.kind == "acknowledged" and case.state == "acknowledged"
    assert case.met == {"response": minutes(10).isoformat()}
    _, taken = run_until(case, 130)
    assert [key.split(":")[0] for _, key in taken] == ["remind", "remind", "missed"]
    assert all(":statement:" in key for _, key in taken)


def test_the_whole_playbook_met_in_time_leaves_nothing_due() -> None:
    case = opened()
    for action, at in (("ack", 5), ("statement", 60), ("resolve", 600)):
        case = act(case, action, "张伟", action, minutes(at))[0]
    assert case.state == "resolved" and set(case.met) == {"response", "statement", "solution"}
    assert next_step_at(case) is None
    assert tick(case, minutes(5000)) == (case, [])


def test_a_step_is_taken_once_however_often_the_timer_fires() -> None:
    case, first = tick(opened(), minutes(16))
    again, second = tick(case, minutes(16))
    assert len(first) == 2 and second == [] and again == case


def test_steps_due_while_the_worker_was_down_are_taken_once_after_restart() -> None:
    case, _ = tick(opened(), minutes(1))
    restored = Case.from_dict(case.as_dict())
    after, notices = tick(restored, minutes(27))
    assert [n.key.split("|")[1].split(":")[0] for n in notices] == ["page", "remind", "remind"]
    assert tick(Case.from_dict(after.as_dict()), minutes(27))[1] == []


def test_a_reminder_whose_deadline_already_passed_is_not_sent() -> None:
    _, notices = tick(opened(), minutes(31))
    assert {n.kind for n in notices} == {"page", "deadline_missed"}


def test_a_level_change_renotifies_and_tightens_nothing_already_met() -> None:
    case = opened()
    same, notices = on_detection(case, event("updated", negatives=15), minutes(3))
    assert notices == [] and same.facts["negatives"] == 15 and same.level == "watch"
    raised, notices = on_detection(same, event("level_changed", "crisis", 60), minutes(4))
    assert [n.kind for n in notices] == ["level_changed"] and raised.level == "crisis"
    assert raised.timeline[-1]["note"] == "watch → crisis"


def test_a_snapshot_of_the_playbook_rides_with_the_case() -> None:
    case = opened()
    edited = PLAYBOOK.model_copy(update={"ack_minutes": 1})
    assert Case.from_dict(case.as_dict()).rules.ack_minutes == 15 != edited.ack_minutes


@pytest.mark.parametrize(
    ("state_actions", "action", "status"),
    [
        ((), "resolve", 409),
        (("ack",), "ack", 409),
        (("false_alarm",), "statement", 409),
        ((), "dance", 400),
    ],
)
def test_actions_the_state_does_not_allow_are_refused(
    state_actions: tuple[str, ...], action: str, status: int
) -> None:
    case = opened()
    for earlier in state_actions:
        case = act(case, earlier, "张伟", "", minutes(1))[0]
    with pytest.raises(ActionError) as refused:
        act(case, action, "张伟", "", minutes(2))
    assert refused.value.status == status


def test_an_action_says_who() -> None:
    with pytest.raises(ActionError, match="who"):
        act(opened(), "ack", "  ", "", minutes(1))


def test_a_false_alarm_closes_the_case_and_stops_every_step() -> None:
    case, _ = act(opened(), "false_alarm", "张伟", "测试数据", minutes(2))
    assert case.closed and next_step_at(case) is None


@pytest.mark.parametrize(
    ("moment", "who"),
    [
        ("2026-11-26T10:00+08:00", "张伟"),  # Thursday day
        ("2026-11-26T22:00+08:00", "李娜"),  # Thursday night
        ("2026-11-27T08:59+08:00", "李娜"),  # the night shift runs past midnight
        ("2026-11-28T10:00+08:00", "赵磊"),  # Saturday day
        ("2026-10-01T10:00+08:00", "赵磊"),  # National Day, a Thursday: holiday shift
        ("2026-10-01T23:00+08:00", "李娜"),  # holiday night
        ("2026-10-04T01:00+08:00", "李娜"),  # night after the last holiday
    ],
)
def test_the_rotation_knows_who_is_on_duty(moment: str, who: str) -> None:
    person = PLAYBOOK.rotation.on_duty(datetime.fromisoformat(moment))
    assert person is not None and person.name == who


def encoded(document: Any) -> bytes:
    return json.dumps(document, ensure_ascii=False).encode()


def broken(change: Callable[[dict[str, Any]], None]) -> bytes:
    document = event()
    change(document)
    return encoded(document)


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        (b"", "empty"),
        (b"{not json", "not_json"),
        (b"[" * 100 + b"]" * 100, "too_deep"),
        (b'{"event": "opened", "at": NaN}', "bad_number"),
        (b"[1, 2]", "not_object"),
        (b'{"at": "2026-11-26T02:00:00+00:00"}', "missing_field"),
        (encoded({**event(), "event": "exploded"}), "not_an_event"),
        (encoded({**event(), "event": 7}), "bad_field"),
        (encoded({**event(), "at": "yesterday"}), "bad_time"),
        (encoded({**event(), "at": "2026-11-26T02:00:00"}), "bad_time"),
        (encoded({**event(), "incident": "云朵咖啡"}), "bad_field"),
        (broken(lambda d: d["incident"].pop("brand")), "missing_field"),
        (broken(lambda d: d["incident"].update(id="")), "bad_field"),
        (broken(lambda d: d["incident"].update(level_name="apocalypse")), "bad_field"),
        (broken(lambda d: d["incident"].update(reasons=[1])), "bad_field"),
        (broken(lambda d: d["incident"]["facts"].update(negatives="many")), "bad_field"),
        (broken(lambda d: d["incident"]["facts"].update(negatives=True)), "bad_field"),
        (
            broken(lambda d: d["incident"]["facts"].update(top_negatives=[{"text": "x"}])),
            "bad_field",
        ),
    ],
)
def test_an_incidents_record_that_is_no_detector_event_is_refused_with_its_reason(
    raw: bytes, reason: str
) -> None:
    with pytest.raises(RecordError) as refused:
        parse_detection(raw)
    assert refused.value.reason == reason


def test_detector_events_pass_and_the_playbooks_own_are_skipped() -> None:
    assert parse_detection(encoded(event())) == event()
    assert parse_detection(encoded({"event": "case", "step": "opened"})) is None
