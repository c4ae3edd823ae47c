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
#: Why 6: the emoticon names of Wangwang/Qianniu are 1-4 characters ([微笑], [爱心], [不好意思]),
#: a few 5-6, and the placeholders at most 4; a bracketed run of 7 or more is a phrase the buyer
#: reads ([新品七折优惠中], [限时优惠活动进行中]), so it is text and its characters COUNT.  This
#: is the one rule for the 4/15-character rules here and the classifier's length features.
EMOTICON_MAX_CHARS = 6
_BRACKET_CODE = r"\[[^\[\]\s]{1,%d}\]" % EMOTICON_MAX_CHARS

#: Old Wangwang emoticon codes: "/:" + three digits (/:068), a word (/:girl, /:rose), or a short
#: run of symbols with at most one letter at each end (/:^_^, /:^O^, /:-F, /:Q, /:U*U, /:>M<).
#: The run stops at "[" and "/" so back-to-back codes (/:^_^[玫瑰], /:^_^/:^_^) are each recognised.
_SLASH_CODE = (
    r"/:(?:\d{3}|girl|man|lip|clock|plane|qp|rose|heart|love|kiss|gift|cake|sun|moon|hug|strong|weak"
    r"|coffee|beer|\(OK\)|\(Zz\.\.\.\)"
    r"|[A-Za-z]?[^\s\[/A-Za-z0-9\u4e00-\u9fff]{0,4}[A-Za-z]?)"
)

#: Emoji and pictographs (they are not letters, so they never count; listed only to
#: recognise an emoji-only message as media).
_EMOJI = r"[\U0001F000-\U0001FAFF\u2600-\u27BF\u2B00-\u2BFF\u2190-\u21FF\u3030\u303D\u3297\u3299\uFE0F\u200D]"

#: An emoticon code or media placeholder ([微笑], [图片], /:068, /:^_^): the single definition,
#: imported by ``qa_scorer.classifier.features`` (``EMOTICON_PATTERN`` to build bigger regexes).
EMOTICON_PATTERN = f"{_BRACKET_CODE}|{_SLASH_CODE}"
EMOTICON_RE = re.compile(EMOTICON_PATTERN)
CODE_PATTERN = EMOTICON_RE  # the name used in this module
MEDIA_PATTERN = re.compile(f"{_BRACKET_CODE}|{_SLASH_CODE}|{_EMOJI}")
#: A counted character: a Unicode letter or digit (CJK ideographs are letters), not "_".
COUNTED_PATTERN = re.compile(r"[^\W_]")


def distinct_texts(texts: pd.Series) -> tuple[np.ndarray, pd.Series]:
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
    codes, uniq = distinct_texts(texts)
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
    codes, uniq = distinct_texts(texts)
    if ignore_codes:
        uniq = uniq.str.replace(CODE_PATTERN, "", regex=True)
    found = uniq.str.contains(pattern, regex=True).to_numpy(dtype=bool)
    return _broadcast(found, codes, texts, "bool")


# --------------------------------------------------------------------------- message kinds
# (acknowledgements, rich media, phrase/pattern matching on normalised text)

#: Non-text messages that carry content of their own: an image, a video, a voice message, a
#: file, a product card or link, an order card, a location, or a URL.  An agent turn with one
#: of these is never a "short reply" (the picture *is* the answer); a buyer message with one is
#: never an acknowledgement (an image at the end of a chat is a question).
RICH_MEDIA_PATTERN = re.compile(
    r"\[(?:图片|照片|视频|语音|文件|链接|位置|卡片|商品[^\[\]\s]{0,4}|宝贝[^\[\]\s]{0,4}|订单[^\[\]\s]{0,4})\]"
    r"|https?://|www\.|\.(?:com|cn)/",
    re.IGNORECASE,
)

#: Tokens a buyer's pure acknowledgement / thanks is made of (after removing emoticons,
#: punctuation and spaces).  A text consisting only of these (or only of emoticons) is an
#: acknowledgement; "?"/"？" anywhere, or any other word, makes it something to answer.
ACK_TOKENS = (
    "好的", "好滴", "好嘞", "好哒", "好勒", "好吧", "好啊", "好呀", "好", "嗯", "恩", "哦", "噢", "喔", "奥",
    "ok", "okay", "k", "收到", "谢谢", "多谢", "感谢", "谢了", "谢啦", "谢", "thx", "thanks", "thankyou", "3q",
    "知道", "明白", "了解", "晓得", "懂", "行", "可以", "没问题", "没事", "不用", "那", "辛苦", "麻烦", "拜拜",
    "再见", "88", "谢谢亲", "谢谢你", "谢谢您", "好的亲", "好滴亲", "好嘞亲", "好哒亲", "嗯嗯亲", "ok亲", "啦", "了", "哈", "呀", "啊", "呢", "哟", "嘻", "嘿", "哒", "滴", "喽", "咯",
    "哈", "的", "么么哒", "笔芯", "比心", "非常", "太", "很", "十分", "满意", "棒", "赞",
)
#: One or more tokens, optionally ending in 亲 ("好的呢亲"); or nothing (a bare emoticon).
#: 亲 / 你好 / 在吗 alone are not acknowledgements: they call for an answer.
_ACK_RE = re.compile(
    "(?:(?:" + "|".join(sorted({re.escape(t) for t in ACK_TOKENS}, key=len, reverse=True)) + ")+亲*)?"
)
#: Punctuation, symbols and spaces removed before matching phrases / acknowledgements.
_NON_CONTENT = re.compile(r"[^\w]|_")
#: One pass: emoticon codes / placeholders / emoji first (they contain brackets), then the rest.
_MEDIA_OR_NON_CONTENT = re.compile(f"{_BRACKET_CODE}|{_SLASH_CODE}|{_EMOJI}|[^\\w]|_")


def normalise_texts(uniq: pd.Series) -> pd.Series:
    """NFKC + lower case, emoticon codes/placeholders, emoji, punctuation and spaces removed."""
    out = uniq.str.normalize("NFKC").str.lower()
    return out.str.replace(_MEDIA_OR_NON_CONTENT, "", regex=True)


def normalise_phrase(text: str) -> str:
    """The normalised form of one phrase (what :func:`matches_phrases` compares)."""
    return normalise_texts(pd.Series([text], dtype=object)).iloc[0]


def is_acknowledgement(texts: pd.Series) -> pd.Series:
    """True where a buyer message needs no answer: only acknowledgements / thanks / emoticons.

    >>> is_acknowledgement(pd.Series(["好的谢谢", "好", "嗯嗯", "[微笑]", "好的，还有黑色吗", "好的?",
    ...                               "[图片]", "谢谢亲~[玫瑰]", "那我拍了"])).tolist()
    [True, True, True, True, False, False, False, True, False]
    """
    if len(texts) == 0:
        return pd.Series([], index=texts.index, dtype=bool)
    codes, uniq = distinct_texts(texts)
    question = uniq.str.contains(r"[?？]", regex=True).to_numpy(dtype=bool)
    rich = uniq.str.contains(RICH_MEDIA_PATTERN, regex=True).to_numpy(dtype=bool)
    rest = normalise_texts(uniq)
    only_acks = rest.str.fullmatch(_ACK_RE).fillna(False).to_numpy(dtype=bool)
    return _broadcast(only_acks & ~question & ~rich, codes, texts, "bool")


def has_rich_media(texts: pd.Series) -> pd.Series:
    """True where a message carries an image, video, product card/link, file or URL."""
    if len(texts) == 0:
        return pd.Series([], index=texts.index, dtype=bool)
    codes, uniq = distinct_texts(texts)
    found = uniq.str.contains(RICH_MEDIA_PATTERN, regex=True).to_numpy(dtype=bool)
    return _broadcast(found, codes, texts, "bool")


def matches_phrases(texts: pd.Series, phrases: Iterable[str] = (), patterns: Iterable[str] = ()) -> pd.Series:
    """True where a text contains one of ``phrases`` or matches one of the regex ``patterns``.

    Both sides are normalised first (NFKC, lower case, emoticons, punctuation and spaces
    removed), so a shop's quick phrase matches whatever punctuation or emoticons the agent
    sent with it: "亲爱的~您可以看下我们店铺[微笑]" contains the phrase "亲爱的您可以看下我们店铺".
    Patterns are matched against the normalised text too (write them without punctuation).
    Latin-only phrases such as "hi" must stand alone in the *original* text ("this" is not "hi").
    """
    if len(texts) == 0:
        return pd.Series([], index=texts.index, dtype=bool)
    codes, uniq = distinct_texts(texts)
    norm = normalise_texts(uniq)
    found = np.zeros(len(uniq), dtype=bool)
    latin = [p for p in phrases if p and p.isascii()]
    other = [p for p in phrases if p and not p.isascii()]
    other = [p for p in normalise_texts(pd.Series(other, dtype=object)).tolist() if p] if other else []
    pat = phrase_pattern(latin)
    if pat is not None:
        found |= uniq.str.contains(pat, regex=True).to_numpy(dtype=bool)
    # phrases and patterns in one alternation: one regex pass over the normalised texts
    alts = [re.escape(p) for p in sorted(set(other), key=len, reverse=True)]
    alts += [f"(?:{p})" for p in patterns if p]
    if alts:
        import warnings

        with warnings.catch_warnings():  # groups in user patterns are fine: only yes/no is used
            warnings.simplefilter("ignore", UserWarning)
            found |= norm.str.contains(re.compile("|".join(alts), re.IGNORECASE), regex=True).to_numpy(dtype=bool)
    return _broadcast(found, codes, texts, "bool")
