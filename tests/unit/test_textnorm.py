from monitor.text.normalise import compact, normalize


def test_traditional_becomes_simplified() -> None:
    assert normalize("國家級的產品").text == "国家级的产品"


def test_full_width_becomes_half_width_and_circled_digits_become_digits() -> None:
    assert normalize("ＮＯ．１，第①").text == "NO.1,第1"


def test_invisible_characters_are_dropped_and_offsets_still_point_at_the_source() -> None:
    source = "最\u200b佳"
    normalized = normalize(source)
    assert normalized.text == "最佳"
    assert normalized.source_span(0, 2) == (0, 3)


def test_urls_and_mentions_become_placeholders_spanning_the_original() -> None:
    source = "@小明 看这个 https://t.cn/abc 太差了"
    normalized = normalize(source)
    assert normalized.text == "[@] 看这个 [url] 太差了"
    start = normalized.text.index("[url]")
    first, last = normalized.source_span(start, start + len("[url]"))
    assert source[first:last] == "https://t.cn/abc"


def test_weibo_codes_are_kept_in_one_canonical_form() -> None:
    assert normalize("气死了［怒］[Doge]").text == "气死了[怒][doge]"


def test_emoji_are_kept() -> None:
    assert normalize("好喝😍").text == "好喝😍"


def test_compact_removes_filler_between_characters_and_lowers_case() -> None:
    for dodge in ("第 一", "第*一", "第\u200b一", "第🔥一", "第．一"):
        assert compact(normalize(dodge)).text == "第一"
    assert compact(normalize("No 1")).text == "no1"


def test_compact_offsets_map_back_through_every_step() -> None:
    source = "全网第　一的品質"
    matchable = compact(normalize(source))
    start = matchable.text.index("全网第一")
    first, last = matchable.source_span(start, start + 4)
    assert source[first:last] == "全网第　一"
