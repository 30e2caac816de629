"""Records on the incidents topic that the playbook's agent cannot use (not JSON, not an
object, fields missing or of the wrong type, nested too deep, or failing later on) are
dead-lettered with their reason, and the agent goes on: a real incident behind them pages."""

from __future__ import annotations

import json

from kafka import KafkaProducer

from monitor.stream.ingest import bootstrap_servers
from tests.receivers import Receiver

from .conftest import MakePipeline, wait_for
from .test_playbook import ENV, alerts_config, eleven_negatives, titles


def detector_event(at: str = "2026-11-26T02:00:00+00:00", **incident: object) -> bytes:
    document = {
        "event": "opened",
        "at": at,
        "incident": {
            "id": "云朵咖啡:negative_volume:1",
            "brand": "云朵咖啡",
            "cause": "negative_volume",
            "level_name": "watch",
            "reasons": ["11 negative mentions"],
            "facts": {"negatives": 11, "threshold": 10},
            **incident,
        },
    }
    return json.dumps(document, ensure_ascii=False).encode()


BAD = {
    b"not json at all": "not_json",
    b"[1, 2, 3]": "not_object",
    b'{"event": "opened"}': "missing_field",
    detector_event(level_name=5): "bad_field",
    detector_event(facts={"negatives": "eleven"}): "bad_field",
    b"[" * 200 + b"]" * 200: "too_deep",
    detector_event(at="9999-12-31T23:59:59+00:00"): "unprocessable",  # its deadlines overflow
}


def test_bad_incident_records_are_dead_lettered_and_the_playbook_goes_on(
    make_pipeline: MakePipeline, hook: Receiver
) -> None:
    pipeline = make_pipeline(1, alerts_config(hook), ENV)
    worker = pipeline.start_worker()
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers(pipeline.broker))
    for raw in BAD:
        producer.send(pipeline.topics["incidents"], value=raw)
    producer.flush()
    producer.close()
    pipeline.produce(eleven_negatives())  # its incident comes after the bad records

    wait_for(lambda: any("新事件" in t for t in titles(hook)), "the page after the bad records",
             60, lambda: titles(hook))  # fmt: skip
    dead = pipeline.read_messages("dead_letter", lambda ms: len(ms) >= len(BAD), "dead letters")
    headers = {message.value: dict(message.headers) for message in dead}
    assert {raw: found["reason"].decode() for raw, found in headers.items()} == BAD
    assert all(found["error"] for found in headers.values())
    assert b"OverflowError" in headers[detector_event(at="9999-12-31T23:59:59+00:00")]["error"]
    assert worker.process.poll() is None
