"""Copy-paste waves (水军): forty paid copies page like one voice, forty customers like forty."""

import random
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alerts.messages import render
from monitor.casework.cases import open_case
from monitor.detect.counting import Counts, Mention
from monitor.detect.reasons import joined
from monitor.detect.stages import Replay
from monitor.settings import Settings, WaveSettings
from monitor.signing import Links
from tests.unit.test_response import PLAYBOOK

NOW = datetime(2026, 11, 20, 8, 0, tzinfo=UTC)
BRAND = "云朵咖啡"
COMPLAINT = "云朵咖啡的新品喝完就拉肚子，大家千万别买"

# Forty customers with forty different complaints about the same brand on the same day.
DISTINCT = [
    "云朵咖啡的外卖等了一个半小时才到，咖啡都凉了",
    "今天在云朵咖啡买的拿铁一股酸味，店员还说正常",
    "云朵咖啡小程序一直闪退，优惠券也用不了",
    "云朵咖啡的杯盖没盖紧，洒了我一身，气死",
    "云朵咖啡新品太甜了，齁得我喝了两口就扔了",
    "排队二十分钟，云朵咖啡店员做错了三次单",
    "云朵咖啡会员积分莫名其妙清零了，客服踢皮球",
    "云朵咖啡涨价涨得太狠了，一杯要三十八",
    "在云朵咖啡喝出一根头发，店长只说给我换一杯",
    "云朵咖啡的燕麦拿铁根本喝不出燕麦味",
    "云朵咖啡门店的桌子脏兮兮的，也没人擦",
    "点的冰美式送来全是冰块，云朵咖啡太抠了",
    "云朵咖啡的自动续费关不掉，每个月被扣钱",
    "云朵咖啡退款申请提交三天了还在审核中",
    "云朵咖啡店里空调坏了一个夏天都没修",
    "云朵咖啡的吸管一泡就软，喝到一半没法用",
    "云朵咖啡把我的订单送到隔壁楼了，骑手电话打不通",
    "云朵咖啡的可颂又干又硬，像放了好几天",
    "云朵咖啡客服机器人答非所问，转人工要等半小时",
    "云朵咖啡季节限定卖完了也不下架，付完款才说没货",
    "云朵咖啡拿铁的奶泡少得可怜，以前不是这样",
    "上班路上的那家云朵咖啡八点还没开门，迟到了",
    "云朵咖啡的发票开不出来，说系统维护一周了",
    "云朵咖啡送的杯套一股塑料味，直接扔了",
    "云朵咖啡店员态度冷淡，问两句就不耐烦",
    "云朵咖啡的外卖包装漏了，袋子里全是咖啡",
    "云朵咖啡App改版以后找不到历史订单",
    "云朵咖啡的低因咖啡喝完还是睡不着，怀疑不是低因",
    "云朵咖啡生椰拿铁今天喝着特别淡，像兑了水",
    "买一送一活动规则写得不清不楚，云朵咖啡就是套路",
    "云朵咖啡的店换址了也不通知，白跑一趟",
    "云朵咖啡的热饮温度太低，拿到手就是温的",
    "云朵咖啡的储值卡余额不能退，后悔充了五百",
    "云朵咖啡卫生间一直锁着，说只给员工用",
    "给孩子点的云朵咖啡热可可里有咖啡，太不负责",
    "云朵咖啡的Wi-Fi密码问了三个店员都不知道",
    "云朵咖啡这周第二次漏送我的贝果了",
    "云朵咖啡杯子上的名字写错了无所谓，饮品也做错了",
    "云朵咖啡的限定周边一开售就没了，黄牛倒是很多",
    "云朵咖啡的焦糖玛奇朵苦得发涩，焦糖味全无",
]


def scored(n: int, text: str, author: str, minute: float, negative: bool = True) -> dict[str, Any]:
    return {
        "id": str(n), "platform": "weibo", "brand": BRAND, "text": text, "author": author,
        "created_at": (NOW + timedelta(minutes=minute)).isoformat(),
        "label": "negative" if negative else "positive",
        "author_followers": 20 + n, "likes": 0, "shares": 0,
        "crisis_keywords": ["拉肚子"] if "拉肚子" in text else [], "keywords": ["新品"],
    }  # fmt: skip


def paraphrases(count: int, seed: int = 7) -> list[str]:
    """Copies as paid accounts post them: one complaint, dressed a little differently."""
    rng = random.Random(seed)
    copies = []
    for _ in range(count):
        text = COMPLAINT.replace("千万", rng.choice(["千万", "一定", ""]))
        text = text.replace("喝完就", rng.choice(["喝完就", "喝了", "喝完"]))
        opener = rng.choice(["", "姐妹们，", "真的，", "无语，", "避雷！", "救命 "])
        copies.append(opener + text + rng.choice(["！", "！！", "😡", "[怒]", "。。", "，太坑了"]))
    return copies


def wave_of_forty(counting: str = "once") -> tuple[Replay, list[dict[str, Any]]]:
    settings = Settings(waves=WaveSettings(counting=counting))  # type: ignore[arg-type]
    replay = Replay(settings, lambda: NOW)
    copies = [scored(n, text, f"shuijun{n % 38}", n * 0.15) for n, text in
              enumerate(paraphrases(40))]  # fmt: skip
    replay.feed(copies)
    return replay, copies


def rolling_negatives(replay: Replay) -> int:
    return replay.rolling[BRAND][-1][1]


def test_a_wave_of_forty_paraphrased_copies_from_38_accounts_counts_once() -> None:
    replay, _ = wave_of_forty()
    assert rolling_negatives(replay) == 1
    assert replay.opened() == []
    (wave,) = replay.waves.values()
    assert (wave.copies, wave.accounts, wave.minutes) == (40, 38, 6)
    assert joined([wave.reason()]) == "疑似水军：38 个账号在 6 分钟内发布 40 条相似内容，计为 1 条"


def test_forty_distinct_complaints_count_forty_and_open_an_incident() -> None:
    replay = Replay(Settings(), lambda: NOW)
    replay.feed([scored(n, text, f"user{n}", n * 0.15) for n, text in enumerate(DISTINCT)])
    assert rolling_negatives(replay) == 40
    assert replay.waves == {}
    (incident,) = [i for i in replay.opened() if i["cause"] == "negative_volume"]
    assert not [r for r in incident["reasons"] if r["kind"].startswith("wave")]


def test_a_real_storm_with_a_wave_in_it_counts_the_customers_and_the_wave_once() -> None:
    replay = Replay(Settings(), lambda: NOW)
    customers = [scored(n, text, f"user{n}", n * 0.3) for n, text in enumerate(DISTINCT[:20])]
    copies = [scored(100 + n, text, f"shuijun{n}", n * 0.1) for n, text in
              enumerate(paraphrases(30))]  # fmt: skip
    replay.feed(sorted(customers + copies, key=lambda record: record["created_at"]))
    assert rolling_negatives(replay) == 21
    (incident,) = [i for i in replay.opened() if i["cause"] == "negative_volume"]
    assert "疑似水军：30 个账号在 3 分钟内发布 30 条相似内容，计为 1 条" in joined(
        incident["reasons"]
    )
    (fact,) = incident["facts"]["waves"]
    assert fact["text"] in paraphrases(30)
    assert fact["followers"] == {"least": 120, "median": 134, "most": 149}
    facts = incident["facts"]
    assert facts["posted_negatives"] - facts["negatives"] == 29  # 30 copies counted as one


def test_counting_all_keeps_every_copy_and_says_a_wave_is_among_them() -> None:
    replay, _ = wave_of_forty(counting="all")
    assert rolling_negatives(replay) == 40
    (incident,) = [i for i in replay.opened() if i["cause"] == "negative_volume"]
    assert "相似内容（均已计入）" in joined(incident["reasons"])


def test_a_wave_counted_once_does_not_page_as_a_keyword_surge_either() -> None:
    replay, _ = wave_of_forty()
    assert [i["cause"] for i in replay.opened()] == []


def test_short_common_comments_are_never_a_wave() -> None:
    replay = Replay(Settings(), lambda: NOW)
    short = ["好喝", "支持", "好喝！", "支持支持", "冲冲冲", "太难喝了", "好喝😋", "支持[赞]"]
    replay.feed([scored(n, short[n % len(short)], f"user{n}", n * 0.1, negative=n % 2 == 0)
                 for n in range(60)])  # fmt: skip
    assert replay.waves == {}
    assert rolling_negatives(replay) == 30


def test_copies_dressed_with_spaces_emoji_full_width_and_traditional_still_meet() -> None:
    dressed = [
        "云朵咖啡的新品喝完就拉肚子，大家千万别买", "云 朵 咖 啡 的新品喝完就拉肚子 大家千万别买",
        "云朵咖啡的新品喝完就拉肚子😡😡大家千万别买！", "雲朵咖啡的新品喝完就拉肚子，大家千萬別買",
        "云朵咖啡的新品喝完就拉肚子，大家千万别买\u200b！！",
        "云朵咖啡的新品喝完就拉肚子、大家千万别买。",
    ]  # fmt: skip
    replay = Replay(Settings(), lambda: NOW)
    replay.feed([scored(n, text, f"user{n}", n) for n, text in enumerate(dressed)])
    (wave,) = replay.waves.values()
    assert wave.copies == 6


def test_copies_without_authors_are_counted_like_customers() -> None:
    """We cannot tell those copies from real customers, so we do not discount them."""
    replay = Replay(Settings(), lambda: NOW)
    replay.feed([scored(n, text, "", n * 0.15) for n, text in enumerate(paraphrases(40))])
    assert rolling_negatives(replay) == 40
    assert replay.waves == {}


def test_one_account_posting_forty_copies_is_not_a_wave_of_accounts() -> None:
    replay = Replay(Settings(), lambda: NOW)
    replay.feed([scored(n, text, "same", n * 0.15) for n, text in enumerate(paraphrases(40))])
    assert replay.waves == {}


def test_copies_spread_over_the_hour_are_not_a_wave() -> None:
    """Five near-identical complaints, twelve minutes apart: people who read each other."""
    replay = Replay(Settings(), lambda: NOW)
    replay.feed([scored(n, text, f"user{n}", n * 12) for n, text in enumerate(paraphrases(5))])
    assert replay.waves == {}


@pytest.mark.parametrize("enabled", [True, False])
def test_waves_switched_off_count_every_copy(enabled: bool) -> None:
    replay = Replay(Settings(waves=WaveSettings(enabled=enabled)), lambda: NOW)
    replay.feed([scored(n, text, f"a{n}", n * 0.1) for n, text in enumerate(paraphrases(12))])
    assert rolling_negatives(replay) == (1 if enabled else 12)


def test_counts_restored_from_the_stored_mentions_have_the_same_waves() -> None:
    replay, _copies = wave_of_forty()
    replay.feed([scored(50 + n, text, f"a{n}", 7 + n) for n, text in enumerate(DISTINCT[:5])])
    stored = {key: value for key, value in _stored(replay).items() if value is not None}
    rebuilt = Counts(WaveSettings())
    rebuilt.restore(Mention.from_json(key, value) for key, value in stored.items())
    assert rebuilt.window(BRAND).totals() == replay.stage.counts.window(BRAND).totals()
    assert rebuilt.window(BRAND).totals().negatives == 1 + 5
    late = scored(99, paraphrases(1, seed=99)[0], "latecomer", 6.5)
    counted = rebuilt.add(Mention.from_record(late))
    assert counted is not None and counted.group
    assert rebuilt.window(BRAND).totals().waves[0].copies == 41


def test_mentions_stored_before_waves_still_load() -> None:
    old = ["云朵咖啡", 29000000, 1, "weibo", 10, 0, [], ["物流慢"], "太慢了", ""]
    mention = Mention.from_json("云朵咖啡|weibo:1", old)
    assert (mention.author, mention.sketch, mention.group) == ("", "", "")


def _stored(replay: Replay) -> dict[str, list[object] | None]:
    """What the mentions table would hold: the writes of one more, empty batch are none, so
    the counted mentions are read back from the stage's counts as the adapter stored them."""
    return {key: mention.to_json() for key, mention in replay.stage.counts.counted.items()}


def test_the_alert_says_it_with_a_sample_and_the_accounts_followers() -> None:
    replay = Replay(Settings(), lambda: NOW)
    customers = [scored(n, text, f"user{n}", n * 0.3) for n, text in enumerate(DISTINCT[:12])]
    copies = [scored(100 + n, text, f"shuijun{n}", n * 0.1) for n, text in
              enumerate(paraphrases(30))]  # fmt: skip
    replay.feed(sorted(customers + copies, key=lambda record: record["created_at"]))
    (opening,) = [e for e in replay.events if e["event"] == "opened"
                  and e["incident"]["cause"] == "negative_volume"]  # fmt: skip
    _, notice = open_case(opening, PLAYBOOK, NOW)
    message = render(notice, "zh", Links("https://pr.example.com", None), NOW)
    assert "疑似水军：30 个账号在 3 分钟内发布 30 条相似内容，计为 1 条" in message.markdown
    assert "疑似水军样本：「" in message.markdown
    assert "发布账号粉丝 120–149（中位 134）" in message.markdown
    assert "近一小时负面 **11** 条" in message.markdown  # it opens on the eleventh
