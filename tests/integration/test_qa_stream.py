"""Customer-service QA in the stream, on a real broker and a real worker: conversations in,
masked QA cases out for those below the pass mark, bad records in the dead letters."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import yaml
from kafka import KafkaProducer

from monitor.stream.ingest import bootstrap_servers
from tests.unit.test_qa_intake import PHONE, POLITE, RUDE, SHOP

from .conftest import MakePipeline, Pipeline, wait_for

UNSAMPLED_SHOP = "不抽查的店"
START = datetime.now(UTC) - timedelta(hours=1)


def conversation(n: int, turns: list[tuple[str, str, float]], **fields: Any) -> dict[str, Any]:
    return {"id": f"conv-{n}", "channel": "taobao", "shop": SHOP, "agent_id": f"agent-{n % 2}",
            "turns": [{"role": role, "text": text,
                       "time": (START + timedelta(seconds=at)).isoformat()}
                      for role, text, at in turns], **fields}  # fmt: skip


def qa_config(pipeline: Pipeline) -> None:
    """Every conversation sampled but one shop's: the test knows which must fail."""
    document = yaml.safe_load(pipeline.config.read_text(encoding="utf-8"))
    document["qa"] = {"sample_rate": 1.0, "shop_rates": {UNSAMPLED_SHOP: 0.0}, "shops": [SHOP]}
    pipeline.config.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")


def produce(pipeline: Pipeline, records: list[dict[str, Any] | bytes]) -> None:
    producer = KafkaProducer(bootstrap_servers=bootstrap_servers(pipeline.broker), linger_ms=5)
    for item in records:
        raw = item if isinstance(item, bytes) else json.dumps(item, ensure_ascii=False).encode()
        producer.send(pipeline.topics["conversations"], value=raw)
    producer.flush()
    producer.close()


def sample(name: str, value: float, **labels: str) -> str:
    """A counter's line as the exposition writes it (labels sorted)."""
    written = ",".join(f'{label}="{labels[label]}"' for label in sorted(labels))
    return f"guanchao_{name}_total{{{written}}} {float(value)}"


def test_conversations_become_masked_qa_cases_and_bad_ones_dead_letters(
    make_pipeline: MakePipeline, partitions: int
) -> None:
    pipeline = make_pipeline(partitions)
    qa_config(pipeline)
    worker = pipeline.start_worker()
    failing = [conversation(0, RUDE), conversation(1, RUDE), conversation(2, RUDE, shop=None)]
    passing = [conversation(n, POLITE) for n in (3, 4, 5)]
    unsampled = conversation(6, RUDE, shop=UNSAMPLED_SHOP)
    missing_agent = conversation(7, POLITE, agent_id=None)
    produce(pipeline, [*failing, *passing, b"{broken", unsampled, missing_agent])

    def received() -> int:
        health = worker.get("/health")
        return sum(v for k, v in health.get("qa_conversations", {}).items() if "received" in k)

    wait_for(lambda: received() == 7, "seven conversations read", state=received)
    messages = pipeline.read_messages("qa_cases", lambda ms: len(ms) >= 3, "three QA cases")
    assert len(messages) == 3  # the polite and the unsampled made none
    cases = {json.loads(m.value)["conversation_id"]: (m.key, json.loads(m.value)) for m in messages}
    assert set(cases) == {"conv-0", "conv-1", "conv-2"}
    assert cases["conv-0"][0] == SHOP.encode() and cases["conv-2"][0] == b"agent:agent-0"
    case = cases["conv-1"][1]
    assert (case["agent_id"], case["shop"], case["channel"]) == ("agent-1", SHOP, "taobao")
    assert case["score"] < 85
    assert {"off_platform", "blame"} <= {deduction["kind"] for deduction in case["deductions"]}
    assert "[电话]" in case["turns"][0]["text"]
    assert not any(PHONE in m.value.decode() for m in messages)

    dead = pipeline.read_messages("dead_letter", lambda ms: len(ms) >= 2, "two dead letters")
    assert sorted(dict(m.headers)["reason"].decode() for m in dead) == ["missing_field", "not_json"]

    metrics = worker.text("/metrics")
    for line in (
        sample("qa_conversations", 2, shop=SHOP, step="failed"),
        sample("qa_conversations", 5, shop=SHOP, step="scored"),
        sample("qa_conversations", 1, shop="other", step="received"),
        sample("qa_conversations", 0, shop=UNSAMPLED_SHOP, step="sampled"),
        sample("qa_refused", 1, reason="not_json"),
        sample("qa_deductions", 2, shop=SHOP, kind="off_platform"),
    ):
        assert line in metrics, line
    assert PHONE not in metrics and PHONE not in worker.log.read_text(encoding="utf-8")
