"""Write monitor/samples/comments.jsonl: the bundled sample stream (deterministic).

An ordinary afternoon for three coffee and tea brands on several platforms; at 14:20 a paid
wave against 山海茶饮 (40 paraphrased copies of one complaint from 38 accounts in 6 minutes,
which counts once); from 16:00 a burst of real logistics complaints against 云朵咖啡.
Run: python scripts/make_sample.py
"""

from __future__ import annotations

import json
import random
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

OUTPUT = Path(__file__).resolve().parent.parent / "monitor" / "samples" / "comments.jsonl"
START = datetime(2026, 11, 20, 13, 0, tzinfo=ZoneInfo("Asia/Shanghai"))
PLATFORMS = ["weibo", "douyin", "xiaohongshu", "bilibili", "channels", "wecom"]
BRANDS = ["云朵咖啡", "山海茶饮", "极光咖啡"]

ORDINARY = [
    "今天下午喝了{b}的拿铁，味道很不错，推荐！",
    "{b}新出的季节限定好好喝[哈哈]",
    "和朋友在{b}坐了一下午，环境很舒服",
    "{b}的店员小姐姐好耐心，点赞[赞]",
    "{b}yyds，每天一杯续命",
    "有人喝过{b}的新品吗？",
    "路过{b}，排队的人好多",
    "{b}今天有买一送一活动",
    "{b}的杯子设计挺好看的",
    "第一次喝{b}，感觉还行",
    "{b}的外卖包装很用心，绝绝子",
    "周末去{b}打卡了[耶]",
    "{b}这个价格有点贵了",
    "{b}的甜度可以再低一点",
    "{b}今天的咖啡有点苦，不太喜欢",
]
BURST = [
    "{b}的物流太慢了，等了三天还没发货[怒]",
    "在{b}小程序下的单，物流慢得离谱，客服也不回",
    "{b}发货慢，催了好几次都没用，要投诉了",
    "避雷{b}！订单一周都没发货，退钱！",
    "{b}物流慢成这样，真的拉胯，申请退款也不处理",
    "{b}的快递到现在还没动，太失望了[泪]",
    "我也是！{b}物流信息三天没更新，客服敷衍",
    "{b}这次太让人生气了，物流慢还不给退款，去黑猫投诉了",
    "{b}的咖啡豆等了五天还没到，再也不买了",
    "{b}物流真的差，客服态度也差[怒]",
]
WAVE = "{b}的新品喝完就拉肚子，大家千万别买"
OPENERS = ["", "姐妹们，", "真的，", "无语，", "避雷！"]
ENDINGS = ["！", "！！", "😡", "[怒]", "。。", "，太坑了"]


def paraphrase(rng: random.Random) -> str:
    """A copy as paid accounts post them: the same complaint, dressed a little differently."""
    text = WAVE.replace("千万", rng.choice(["千万", "一定", ""]))
    text = text.replace("喝完就", rng.choice(["喝完就", "喝了", "喝完"]))
    return rng.choice(OPENERS) + text + rng.choice(ENDINGS)


def paid_wave() -> list[dict[str, object]]:
    rng = random.Random(1420)
    copies = []
    for copy in range(40):
        moment = START + timedelta(hours=1, minutes=20, seconds=copy * 9 + rng.randint(0, 8))
        record = comment(900 + copy, moment, paraphrase(rng), "山海茶饮", rng)
        copies.append({**record, "author": f"shuijun{copy % 38}", "author_followers": 3})
    return copies


def comment(
    index: int, moment: datetime, template: str, brand: str, rng: random.Random
) -> dict[str, object]:
    platform = rng.choice(PLATFORMS)
    return {
        "id": f"{platform[:2]}{100000 + index}",
        "platform": platform,
        "text": template.format(b=brand),
        "created_at": moment.isoformat(timespec="seconds"),
        "author": f"user{rng.randint(1, 5000)}",
        "author_followers": rng.choice([12, 85, 340, 1200, 5600, 23000, 180000]),
        "likes": rng.randint(0, 300),
        "shares": rng.randint(0, 40),
        "url": f"https://example.com/{platform}/{100000 + index}",
    }


def main() -> None:
    rng = random.Random(20261120)
    records = []
    for minute in range(0, 240, 1):  # 13:00-17:00, about one ordinary comment a minute
        for _ in range(rng.choice([0, 1, 1, 2])):
            moment = START + timedelta(minutes=minute, seconds=rng.randint(0, 59))
            records.append((moment, rng.choice(ORDINARY), rng.choice(BRANDS)))
    for second in range(0, 3600, 60):  # 16:00-17:00, a complaint a minute against one brand
        moment = START + timedelta(hours=3, seconds=second + rng.randint(0, 59))
        records.append((moment, rng.choice(BURST), "云朵咖啡"))
    records.sort(key=lambda record: record[0])
    written = [
        comment(index, moment, template, brand, rng)
        for index, (moment, template, brand) in enumerate(records)
    ]
    written = sorted(written + paid_wave(), key=lambda record: str(record["created_at"]))
    OUTPUT.parent.mkdir(parents=True, exist_ok=True)
    with OUTPUT.open("w", encoding="utf-8") as stream:
        for record in written:
            stream.write(json.dumps(record, ensure_ascii=False) + "\n")
    print(f"wrote {len(written)} comments to {OUTPUT}")


if __name__ == "__main__":
    main()
