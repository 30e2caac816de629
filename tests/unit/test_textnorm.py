from monitor.text.normalise import compact, normalize, normalized_text, normalized_texts


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


def test_normalising_without_offsets_gives_the_same_text() -> None:
    """One text, or many at once, including what `normalize` does one character at a time
    (℃, a combining accent that meets its letter once an invisible character is dropped, a
    phrase that converts to another length) and texts holding the character the batch
    joins texts with."""
    texts = [
        "國家級的產品", "ＮＯ．１，第①", "最\u200b佳", "@小明 看这个 https://t.cn/abc 太差了",
        "气死了［怒］[Doge]", "好喝😋", "", " ", "今天38℃", "e\u200b\u0301", "e\u0301", "\u0301",
        "……真的吗…", "a\ue000b", "\ue000", "WWW.EXAMPLE.COM 看看", "@", "[", "[OK]了",
        "乾隆皇帝的頭髮", "\u00ad\u034f软\u180e", "Ⅱ代", "ｗｗｗ",
    ]  # fmt: skip
    assert normalized_texts(texts) == [normalize(text).text for text in texts]
    assert [normalized_text(text) for text in texts] == [normalize(text).text for text in texts]
    assert normalized_texts([]) == []
