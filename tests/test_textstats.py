"""Counted characters and media-only detection (qa_scorer.textstats).

Every expected count is the number of CJK characters + letters + digits, written out in the
comment next to it; punctuation, whitespace, emoticon codes, emoji and placeholders do not count.
"""

import pandas as pd
import pytest

from qa_scorer.textstats import contains_any, counted_chars, is_media_only, text_stats


@pytest.mark.parametrize(
    "text, expected",
    [
        ("嗯嗯好的", 4),                 # 嗯 嗯 好 的
        ("好的呢亲", 4),                 # 好 的 呢 亲
        ("在的呢亲~[微笑]", 4),          # 在 的 呢 亲; "~" and [微笑] do not count
        ("好的呢", 3),                   # 好 的 呢
        ("好的呢~[微笑][玫瑰]", 3),       # emoticons after a 3-character reply do not rescue it
        ("好的/:^_^", 2),                # 好 的; /:^_^ is an emoticon code
        ("/:068好", 1),                  # /:068 is a code, 好 counts
        ("好的/:rose", 2),               # 好 的; /:rose is a word code (the classifier reads it the same way)
        ("/:^_^[玫瑰]", 0),              # two codes back to back, nothing else
        ("[图片]", 0),                   # placeholder
        ("[商品卡片]", 0),               # placeholder of 4 characters
        ("亲，在的！！！", 3),            # 亲 在 的; full-width punctuation does not count
        ("  好 的  ", 2),                # whitespace does not count
        ("size M 有吗?", 7),             # s i z e M 有 吗
        ("M码165可以", 7),               # M 码 1 6 5 可 以
        ("👍👍好", 1),                   # emoji do not count, 好 does
        ("【温馨提示】亲", 5),            # 温 馨 提 示 亲: 【】 text is content, only [] codes are removed
        ("[限时优惠活动进行中]", 9),       # bracketed text longer than 6 characters is content, not a code
        ("[新品七折优惠中]", 7),          # 新 品 七 折 优 惠 中: 7 characters is a phrase, not an emoticon
        ("[微笑]", 0),                   # an emoticon code
        ("[一二三四五六]", 0),            # 6 characters: the longest bracketed code
        ("", 0),
        ("。。。", 0),
    ],
)
def test_counted_chars(text, expected):
    assert counted_chars(pd.Series([text])).tolist() == [expected]


@pytest.mark.parametrize(
    "text, expected",
    [
        ("[图片]", True),
        ("[微笑]", True),
        ("/:^_^", True),
        ("/:^_^[玫瑰]", True),
        ("👍", True),
        ("[视频] ", True),          # trailing whitespace does not make it text
        ("好的[微笑]", False),      # has a counted character
        ("", False),                # empty is not media, it is simply empty
        ("。。。", False),          # punctuation only is not media
        ("好", False),
    ],
)
def test_is_media_only(text, expected):
    assert is_media_only(pd.Series([text])).tolist() == [expected]


def test_vectorised_keeps_index_and_handles_missing_values():
    s = pd.Series(["好的呢亲", None, "好的呢亲", "[图片]"], index=[10, 11, 12, 13])
    stats = text_stats(s)
    assert stats.index.tolist() == [10, 11, 12, 13]
    # None is treated as "": 0 characters, not media; duplicates get the same value.
    assert stats["counted_chars"].tolist() == [4, 0, 4, 0]
    assert stats["media_only"].tolist() == [False, False, False, True]
    assert str(stats["counted_chars"].dtype) == "int64"


def test_empty_series():
    assert counted_chars(pd.Series([], dtype="str")).tolist() == []
    assert is_media_only(pd.Series([], dtype="str")).tolist() == []


def test_contains_any_substring_case_and_codes():
    texts = pd.Series(["感谢您的支持，祝您购物愉快", "Hello 亲", "this is it", "[图片]", "图片和实物一样吗"])
    # substring match, case-insensitive for Latin letters
    assert contains_any(texts, ["购物愉快", "hello"]).tolist() == [True, True, False, False, False]
    # a Latin phrase must stand alone: "this" does not contain the greeting "hi"
    assert contains_any(texts, ["hi"]).tolist() == [False, False, False, False, False]
    # the product keyword 图片 is found in real text but not in the image placeholder [图片]
    assert contains_any(texts, ["图片"], ignore_codes=True).tolist() == [False, False, False, False, True]
    assert contains_any(texts, []).tolist() == [False] * 5
