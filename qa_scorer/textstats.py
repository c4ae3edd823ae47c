"""Text statistics of chat messages: counted characters, media-only messages, phrase matching.

The service rules count *characters of content*: "切记最少要回复4个字" (at least 4 characters) and
"关于咨询产品介绍，最好回复15个字以上" (15+ for product questions).  A character of content is a
CJK character, a letter or a digit.  Punctuation, whitespace, emoticon codes (``[微笑]``,
``[玫瑰]``, ``/:^_^``, ``/:068``, emoji) and placeholders for non-text messages (``[图片]``,
``[视频]``, ``[商品卡片]``, the ``[自动回复]`` prefix ...) do not count.

Every function takes a pandas Series of text and returns a Series with the same index.  The
work is done once per *distinct* text (chat exports repeat quick phrases a lot) with regular
expressions applied through ``Series.str``; the results are broadcast back with the
factorize codes, so there is no per-message Python loop.

The regexes deliberately run on Python ``re`` (object dtype) and not on pyarrow's RE2 (the
pandas 3 default string backend): ``\\w`` and friends are Unicode-aware in ``re`` but
ASCII-only in RE2, and one engine means one meaning whatever backend pandas picks.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

import numpy as np
import pandas as pd

#: A bracketed code of at most 6 non-space characters: Wangwang/Qianniu emoticons ([微笑],
#: [玫瑰], [OK]) and placeholders for non-text messages ([图片], [视频], [商品卡片], [自动回复]).
#: Longer bracketed runs are kept as text on purpose: shops write things like [限时优惠活动进行中].
_BRACKET_CODE = r"\[[^\[\]\s]{1,6}\]"

#: Old Wangwang emoticon codes: "/:" + three digits (/:068), a word (/:girl), or a short
#: run of symbols with at most one letter at each end (/:^_^, /:^O^, /:-F, /:Q, /:U*U, /:>M<).
#: The run stops at "[" and "/" so back-to-back codes (/:^_^[玫瑰], /:^_^/:^_^) are each recognised.
_SLASH_CODE = (
    r"/:(?:\d{3}|girl|man|lip|clock|plane|qp|\(OK\)|\(Zz\.\.\.\)"
    r"|[A-Za-z]?[^\s\[/A-Za-z0-9\u4e00-\u9fff]{0,4}[A-Za-z]?)"
)

#: Emoji and pictographs (they are not letters, so they never count; listed only to
#: recognise an emoji-only message as media).
_EMOJI = r"[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2190-\u21FF\u3030\u303D\u3297\u3299\uFE0F\u200D]"

CODE_PATTERN = re.compile(f"{_BRACKET_CODE}|{_SLASH_CODE}")
MEDIA_PATTERN = re.compile(f"{_BRACKET_CODE}|{_SLASH_CODE}|{_EMOJI}")
#: A counted character: a Unicode letter or digit (CJK ideographs are letters), not "_".
COUNTED_PATTERN = re.compile(r"[^\W_]")


def _distinct(texts: pd.Series) -> tuple[np.ndarray, pd.Series]:
    """(codes, distinct texts as an object Series): work on distinct values, broadcast back."""
    clean = texts.fillna("")
    if not isinstance(clean.dtype, pd.StringDtype):  # object column (maybe non-str values)
        clean = clean.astype(str)
    # Factorize the column itself (arrow strings hash fast); only distinct values become objects.
    codes, uniques = pd.factorize(clean)
    return codes, pd.Series(np.asarray(uniques, dtype=object), dtype=object)


def _broadcast(values: np.ndarray, codes: np.ndarray, like: pd.Series, dtype) -> pd.Series:
    if len(like) == 0:
        return pd.Series([], index=like.index, dtype=dtype)
    return pd.Series(np.asarray(values)[codes], index=like.index, dtype=dtype)


def text_stats(texts: pd.Series) -> pd.DataFrame:
    """``counted_chars`` (int64) and ``media_only`` (bool) for each text, in one pass.

    media_only = the message has no counted character but at least one emoticon, emoji or
    placeholder (a pure image/sticker message).  An empty or punctuation-only message is not
    media-only (it is simply a message with 0 counted characters).
    """
    codes, uniq = _distinct(texts)
    if len(uniq):
        stripped = uniq.str.replace(CODE_PATTERN, "", regex=True)
        counted = stripped.str.count(COUNTED_PATTERN).to_numpy(dtype=np.int64)
        has_media = uniq.str.contains(MEDIA_PATTERN, regex=True).to_numpy(dtype=bool)
        media_only = has_media & (counted == 0)
    else:
        counted = np.zeros(0, dtype=np.int64)
        media_only = np.zeros(0, dtype=bool)
    return pd.DataFrame(
        {
            "counted_chars": _broadcast(counted, codes, texts, "int64"),
            "media_only": _broadcast(media_only, codes, texts, "bool"),
        },
        index=texts.index,
    )


def counted_chars(texts: pd.Series) -> pd.Series:
    """Number of counted characters (CJK characters, letters, digits) of each text.

    >>> counted_chars(pd.Series(["在的呢亲~[微笑]", "好的", "[图片]", "size M 有吗?"])).tolist()
    [4, 2, 0, 7]
    """
    return text_stats(texts)["counted_chars"].rename(texts.name)


def is_media_only(texts: pd.Series) -> pd.Series:
    """True where a text is only emoticons / emoji / placeholders such as ``[图片]``.

    >>> is_media_only(pd.Series(["[图片]", "/:^_^[玫瑰]", "好的[微笑]", "", "。。。"])).tolist()
    [True, True, False, False, False]
    """
    return text_stats(texts)["media_only"].rename(texts.name)


def phrase_pattern(phrases: Iterable[str]) -> re.Pattern | None:
    """One case-insensitive regex matching any of ``phrases`` as a plain substring (None if empty).

    Longest phrases first so the alternation prefers the most specific one (only matters for
    finding, not for the yes/no answer used here).
    """
    cleaned = sorted({p for p in phrases if p}, key=len, reverse=True)
    if not cleaned:
        return None
    parts = []
    for phrase in cleaned:
        part = re.escape(phrase)
        # A Latin word ("hi", "ok") must stand alone: "this" does not contain the greeting "hi".
        if phrase.isascii() and phrase[0].isalnum():
            part = rf"(?<![A-Za-z0-9]){part}"
        if phrase.isascii() and phrase[-1].isalnum():
            part = rf"{part}(?![A-Za-z0-9])"
        parts.append(part)
    return re.compile("|".join(parts), re.IGNORECASE)


def contains_any(texts: pd.Series, phrases: Iterable[str], *, ignore_codes: bool = False) -> pd.Series:
    """True where a text contains at least one of ``phrases`` (substring, case-insensitive).

    ``ignore_codes=True`` removes emoticon codes and placeholders first, so the product keyword
    "图片" is not found in the image placeholder "[图片]".
    """
    pattern = phrase_pattern(phrases)
    if pattern is None or len(texts) == 0:
        return pd.Series(False, index=texts.index, dtype=bool)
    codes, uniq = _distinct(texts)
    if ignore_codes:
        uniq = uniq.str.replace(CODE_PATTERN, "", regex=True)
    found = uniq.str.contains(pattern, regex=True).to_numpy(dtype=bool)
    return _broadcast(found, codes, texts, "bool")
