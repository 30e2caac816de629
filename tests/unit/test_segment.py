import json
from pathlib import Path

import pytest

from monitor.text.segment import make_segmenter

CORPUS = Path(__file__).parents[1] / "data" / "corpus.txt"
SAMPLE = Path(__file__).parents[2] / "monitor" / "samples" / "comments.jsonl"


@pytest.mark.parametrize("backend", ["jieba", "rjieba"])
def test_slang_from_the_user_dictionary_stays_whole(backend: str) -> None:
    tokens = make_segmenter(backend).cut("这家店绝绝子，那家避雷，真的拉胯，蚌埠住了，退钱！")
    for word in ("绝绝子", "避雷", "拉胯", "蚌埠住了", "退钱"):
        assert word in tokens


@pytest.mark.parametrize("backend", ["jieba", "rjieba"])
def test_weibo_codes_and_placeholders_are_single_tokens(backend: str) -> None:
    assert make_segmenter(backend).cut("气死了[怒][url]") == ["气死", "了", "[怒]", "[url]"]


def test_brand_names_from_config_are_single_tokens() -> None:
    assert "云朵咖啡" in make_segmenter("rjieba", ("云朵咖啡",)).cut("云朵咖啡的物流太慢")


def test_rjieba_agrees_with_jieba_on_a_real_corpus() -> None:
    jieba, rjieba = make_segmenter("jieba"), make_segmenter("rjieba")
    same = total = 0
    lines = CORPUS.read_text(encoding="utf-8").splitlines()
    lines += [json.loads(row)["text"] for row in SAMPLE.read_text(encoding="utf-8").splitlines()]
    for line in lines:
        reference = jieba.cut(line)
        fast = set(_spans(rjieba.cut(line)))
        same += sum(span in fast for span in _spans(reference))
        total += len(reference)
    assert total > 1000
    assert same / total >= 0.98


def _spans(tokens: list[str]) -> list[tuple[int, str]]:
    spans, position = [], 0
    for token in tokens:
        spans.append((position, token))
        position += len(token)
    return spans


@pytest.mark.parametrize("backend", ["jieba", "rjieba"])
def test_spaces_of_every_kind_are_dropped(backend: str) -> None:
    tokens = make_segmenter(backend).cut("物流\t太慢了\u3000客服 不理人\n")
    assert tokens and not any(token.isspace() for token in tokens)
    assert "".join(tokens) == "物流太慢了客服不理人"
