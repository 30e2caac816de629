"""Customer-service QA: conversations parsed and scored per second, on generated chats.

    .venv/bin/python bench/qa.py [--conversations 2000] [--turns 10] [--seed 7]

Each generated conversation alternates customer and agent turns drawn from realistic
phrases (about one agent turn in ten holds a listed word or a phone number; customers
write phone numbers and addresses; waits vary from seconds to minutes), so every part of
the scorer runs: the word automaton, personal-data masking, the sentiment of each
customer turn, waits and the ending. Timed on one core, the scorer and word list loaded
beforehand; the sampling decision (a SHA-256 per conversation) is timed apart. The stream's
step (`monitor.qa.intake.review`: a record's bytes to a QA case) is timed at the configured
sample rate and with every conversation sampled.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.qa.conversations import parse_conversation
from monitor.qa.intake import review
from monitor.qa.sampling import is_sampled
from monitor.qa.scoring import QualityChecker, build_checker
from monitor.settings import Settings, load_settings
from monitor.text.sentiment import Scorer

CUSTOMER = [
    "你好，请问我买的咖啡机什么时候发货？",
    "都三天了，到底什么时候发？",
    "好的，麻烦快一点",
    "收到的杯子碎了一个，怎么处理",
    "我的手机号13812345678，快递员联系不上我",
    "地址是浙江省杭州市西湖区文三路138号3单元502室",
    "再不处理我就去12315投诉",
    "能不能先退一部分钱",
    "好的，谢谢",
    "还是没解决，算了",
    "在吗？",
]
AGENT = [
    "您好，您稍等，我帮您查一下",
    "已经帮您催促仓库，预计明天发出",
    "非常抱歉给您带来不便",
    "麻烦您提供一下订单号和照片",
    "已为您登记补发，请留意物流",
    "请问还有其他可以帮您的吗？",
    "这边为您申请了优惠券，下次可以使用",
    "您的订单号3456789012345678901已经发出",
]
AGENT_BAD = [
    "等着吧",
    "这是你自己的问题",
    "加 微 信 我私下给你退",
    "好评返现5元哦",
    "你的电话是13912345678吗",
    "我也没办法，你自己查",
]


def generate(count: int, turns: int, seed: int) -> list[dict[str, Any]]:
    draw = random.Random(seed)
    start = datetime(2026, 11, 24, 2, 0, tzinfo=UTC)
    records = []
    for n in range(count):
        at = start + timedelta(minutes=n)
        rows = []
        for number in range(turns):
            role = "customer" if number % 2 == 0 else "agent"
            if role == "customer":
                text = draw.choice(CUSTOMER)
            else:
                text = draw.choice(AGENT_BAD if draw.random() < 0.1 else AGENT)
            at += timedelta(seconds=draw.choice([5, 10, 15, 20, 30, 45, 90, 240]))
            rows.append({"role": role, "text": text, "time": at.isoformat()})
        records.append(
            {
                "id": f"TB{n:08d}",
                "channel": "taobao",
                "shop": "云朵咖啡旗舰店",
                "agent_id": f"agent-{n % 25}",
                "turns": rows,
            }
        )
    return records


def time_stream(
    records: list[dict[str, Any]], settings: Settings, scorer: Scorer, now: datetime
) -> None:
    """Records per second through the stream's review, and the QA cases it made, at the
    configured rate and with every conversation sampled (the worst case for the agent)."""
    raws = [json.dumps(record, ensure_ascii=False).encode() for record in records]
    every = settings.model_copy(update={"qa": settings.qa.model_copy(update={"sample_rate": 1})})
    for label, chosen in (("configured rate", settings), ("every one sampled", every)):
        checker = QualityChecker(chosen.qa, scorer)
        began = time.perf_counter()
        cases = sum(review(raw, checker, chosen, now).case is not None for raw in raws)
        took = time.perf_counter() - began
        print(f"  stream review, {label}: {len(raws) / took:,.0f} records/s ({cases} QA cases)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--conversations", type=int, default=2000)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument("--seed", type=int, default=7)
    options = parser.parse_args()
    settings = load_settings()
    checker = build_checker(settings)
    records = generate(options.conversations, options.turns, options.seed)
    now = datetime(2026, 12, 1, tzinfo=UTC)
    checker.score(parse_conversation(records[0], settings.limits, settings.zone, now))  # warm up

    began = time.perf_counter()
    parsed = [parse_conversation(r, settings.limits, settings.zone, now) for r in records]
    parsing = time.perf_counter() - began
    began = time.perf_counter()
    results = [checker.score(conversation) for conversation in parsed]
    scoring = time.perf_counter() - began
    began = time.perf_counter()
    sampled = sum(is_sampled(c.id, c.shop, settings.qa) for c in parsed)
    sampling = time.perf_counter() - began

    count = len(records)
    failed = sum(not result.passed for result in results)
    deductions = sum(len(result.deductions) for result in results)
    print(f"{count} conversations × {options.turns} turns (seed {options.seed})")
    print(f"  parsed:  {count / parsing:10,.0f} conversations/s")
    print(
        f"  scored:  {count / scoring:10,.0f} conversations/s "
        f"({count * options.turns / scoring:,.0f} turns/s; {failed} below "
        f"{settings.qa.pass_mark}, {deductions / count:.1f} deductions each)"
    )
    print(f"  end to end (parse + score): {count / (parsing + scoring):,.0f} conversations/s")
    print(f"  sampling: {count / sampling:,.0f} decisions/s ({sampled} of {count} sampled)")
    time_stream(records, settings, checker.scorer, now)


if __name__ == "__main__":
    main()
