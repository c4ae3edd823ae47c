"""Features of a reply (and the buyer message before it) for the reply classifier.

Speed is the point of this module.  Real shop replies are mostly repeated quick phrases, so
``ReplyFeaturizer.transform`` tokenises every *distinct* reply string and every *distinct*
context string once (``pd.factorize``), builds one sparse row per distinct string, and then
assembles the row-level matrix by indexing those rows with the factorize codes.

Blocks of the feature matrix (names are prefixed so explanations can tell them apart):

* ``w:``   jieba word unigrams+bigrams of the reply, TF-IDF
* ``c:``   character 1-3 grams of the reply, TF-IDF
* ``ctx:`` jieba words of the buyer's preceding message, TF-IDF
* ``x:``   a few structural features and reply x context crosses, e.g. "the buyer asked a
  question and the reply is an acknowledgement only" - the bare "嗯" to a real question
  can only be learnt from such a cross, never from the reply words alone.
"""

from __future__ import annotations

import importlib.resources
import logging
import re

import jieba
import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

from qa_scorer.classifier.vectorizers import CharNgramTfidf, TokenTfidf
from qa_scorer.textstats import EMOTICON_PATTERN

# Emoticon codes as exported ("[微笑]", "/:^_^", "/:068") and media placeholders ("[图片]"):
# the project's single definition (the metrics' 4/15-character rules use the same one).
# What does not count as content for the length features: emoticons, whitespace, punctuation, "~".
_NON_CONTENT = f"(?:{EMOTICON_PATTERN})" + r"|[\s\W_~～]+"

# A buyer message that asks something: a question mark, a question particle at the end, or a
# question word.  Used only for cross features, so a rough rule is enough.
_QUESTION = re.compile(
    r"[?？]|[吗嘛么呢]\s*[~～。.!！]*\s*$|什么|怎么|怎样|多少|哪|几|有没有|能不能|可不可以|可以吗|是不是|会不会|"
    r"要不要|多久|多长|多大|为什么|为啥|咋|啥|行不行|对不对|有货|还有"
)
# A reply that is only an acknowledgement, whatever the emoticons/punctuation around it.
# "可以/是的/对" are left out on purpose: to a yes/no question ("能用红包吗") they are answers.
_ACK_ONLY = re.compile(
    r"^(?:嗯+|恩+|哦+|噢+|喔+|额+|呃+|啊+|好+|好的|收到|知道了|en+|ok|okay|o|k|1)"
    r"(?:[呢啊哈呀嘛哦亲的吧]|嗯)*$",
    re.IGNORECASE,
)

# Question words of an open (wh-) question: a bare "嗯/好的/有的" cannot answer these at all.
# "A还是B" (a choice) is counted here too: "是的/可以" does not pick one of the two.
_WH_QUESTION = re.compile(r"什么|怎么|怎样|多少|哪|几|多久|多长|多大|多重|多高|多宽|多厚|多深|为什么|为啥|咋|啥|如何|还是")
# A yes/no question: a particle 吗/嘛 closing a clause, an A-not-A form (会不会, 有没有, 能不能,
# 是不是, 可不可以, 大不大 ...), or an elliptical "X呢" at the end ("薄荷绿呢" after "有粉色吗").
# Only counted when there is no wh-word (``_WH_QUESTION``), see ``_context_flags``.
_CLAUSE_END = r"(?=[\s?？~～。.!！,，|、]|$)"
_YESNO_QUESTION = re.compile(
    r"[吗嘛]" + _CLAUSE_END + r"|(?<![什怎这那多])么" + _CLAUSE_END
    + r"|有没有|有木有|可不可以|([\u4e00-\u9fff])不\1|对吧|是吧|好吧|行吧|呢[\s?？~～。.!！]*$"
)
# A buyer *request* (ship today, mix colours, cheaper, change the address ...) as opposed to a
# question about the product: a bare "不行/不能" refuses a request without reason (unhelpful),
# while "不能" to "这个能机洗吗" is a complete answer.
_REQUEST = re.compile(
    r"(?:能|可以|可不可以|能不能|行不行|帮我|帮忙|给我|麻烦|可否).{0,8}?"
    r"(?:发|送|寄|便宜|少点|少一点|优惠|打折|抹零|降价|改|换|退|包邮|赠|混|备注|加急|开票|发票|补|返|保价|"
    r"延|推迟|约|上门|定制|指定|合并|拆|留|预留|分开|先用|试用|试穿)"
)
# A reply that is only a yes/no word (with an optional address before and particles after):
# 有/有的/没有/是的/不是/会/不会/可以/能/不能/行/对 ... + 亲/哦/呢/的.  Group 1 is the verb the
# answer is about; it is checked against the question (``_YESNO_KEYS``).
_YESNO_REPLY = re.compile(
    r"^(?:亲亲|亲爱的|亲|宝宝|宝子|您好|你好)?(?:嗯+|恩+|对+)?"
    r"(?:不|没)?(有|是|对|会|可以|阔以|能|行|要|用|需要|适合|支持|包|送|带|一样|合适|够)"
    r"(?:[亲哦呢的呀哈噢滴啦嗯喔呐哒捏]|亲亲|宝宝|宝子|有的|哈哈)*$"
)
# Refusal words (a subset of the yes/no replies plus the plain "no way" forms).
_REFUSAL_REPLY = re.compile(
    r"^(?:亲亲|亲|宝宝|宝子)?(?:不行|不能|不可以|不可|没办法|没法|不支持|做不到|办不到|不退|不换|不改|改不了|"
    r"发不了|不送|不包|不可能)(?:[亲哦呢的呀哈噢滴啦喔]|亲亲)*$"
)
# Which words in a question a yes/no answer verb answers ("有的" answers "有...吗"; "可以" answers
# "能...吗"; "是的/对" answer any yes/no question).
_YESNO_KEYS = {
    "有": "有|还有|没货|现货",
    "能": "能|可以|可不可以|阔以|行",
    "会": "会",
    "要": "要|用|需",
    "合": "适合|合适|合身|能穿|穿得|够",
    "包": "包|送|带|赠|附",
    "一": "一样|同款|区别|差别",
}
_YESNO_GROUP_OF_VERB = {"有": "有", "可以": "能", "阔以": "能", "能": "能", "行": "能", "会": "会",
                        "要": "要", "用": "要", "需要": "要", "适合": "合", "合适": "合", "够": "合",
                        "支持": "能", "包": "包", "送": "包", "带": "包", "一样": "一",
                        "是": "*", "对": "*"}
_YESNO_GROUPS = tuple(_YESNO_KEYS)
# Size advice: the reply names a size/variant to order ("拍43", "建议M码", "拍大一码") -- after a
# size question this is an answer, not a push.
_SIZE_ADVICE = re.compile(
    r"(?:拍|选|买|建议|推荐|穿|要|拿|下单)\s*(?:\d{2,3}(?:码|号|cm|的)?|[smlx]{1,3}l?(?:码|号)?(?![a-z])|"
    r"[大小]一[码号]|[大小]半[码号]|均码|正常码|平时的码|偏大的|偏小的)"
)
# "在吗 / 在不在 / 有人吗" are greetings, not yes/no questions about anything.
_GREETING_QUESTION = re.compile(r"(?:亲|你好|您好|客服)?(?:在吗|在嘛|在么|在不在[啊呀]?|有人吗|有人在吗)")
_SIZE_CONTEXT = re.compile(r"码|穿|身高|体重|斤|公斤|kg|cm|厘米|尺寸|偏大|偏小|脚|腰围|胸围|肩宽|号|\d{2,3}")
# Something specific in a short reply: a number, a size/model code, a counted unit ("一年", "两天").
_SPECIFIC = re.compile(r"[0-9a-z]|[一二两三四五六七八九十百千万半][个件天年月周斤码号元块次克斤升米寸]")
# Characters that do not count when checking whether a reply picks up a word of the question.
_OVERLAP_IGNORED = set("亲的了吗呢啊哦吧噢呀嘛哈么你我您是不在这那个就也都还和要会能可以吧嗯哒滴")

#: Names of the structural/cross block, in column order, with how they are shown in explanations.
CROSS_LABELS = {
    "x:reply_empty": "〔空回复〕",                        # nothing but emoticons/punctuation
    "x:reply_len_1_2": "〔回复1-2字〕",
    "x:reply_len_3_5": "〔回复3-5字〕",
    "x:reply_len_6_14": "〔回复6-14字〕",
    "x:reply_len_15_plus": "〔回复15字以上〕",
    "x:reply_ack_only": "〔只有嗯/好的〕",
    "x:reply_question": "〔反问〕",                      # the reply itself asks something back
    "x:reply_specific": "〔有具体信息〕",                 # numbers, sizes, units
    "x:reply_yesno_word": "〔只回有/是/会/可以〕",        # the reply is only a yes/no word
    "x:reply_refusal_word": "〔只回不行/不能〕",
    "x:context_present": "〔有买家消息〕",
    "x:context_question": "〔买家在提问〕",
    "x:context_wh_question": "〔买家问什么/怎么/多少〕",
    "x:context_yesno_question": "〔买家问是不是/有没有〕",  # a yes/no question without a wh-word
    "x:context_request": "〔买家提要求〕",
    "x:question_ack_only": "〔提问只回嗯/好的〕",          # buyer asked, reply is only "嗯/好的"
    "x:wh_question_ack_only": "〔问什么只回嗯/好的〕",
    "x:question_empty": "〔提问回空〕",
    # Short replies (1-5 characters) split by the kind of question, instead of "any short reply
    # to any question", which made "short" look like "unhelpful".
    "x:yesno_answered": "〔是非问只回是/否〕",            # yes/no question, yes/no word
    "x:yesno_answered_matching": "〔是非问答对了词〕",     # ... and the word fits the question (有->有吗)
    "x:yesno_short_other": "〔是非问短回复没答是否〕",     # yes/no question, short, neither yes/no nor specific
    "x:wh_yesno_word": "〔问什么只回有/是〕",              # wh-question answered by a yes/no word
    "x:wh_short_vague": "〔问什么短回复无具体信息〕",       # wh-question, short, nothing specific
    "x:request_bare_refusal": "〔要求只回不行〕",          # a request refused with a bare 不行/不能
    "x:question_short_unrelated": "〔短回复没接问题〕",    # other questions: short, no word of the question
    "x:question_short_answering": "〔短回复接住问题〕",    # short but picks up the question or is specific
    "x:size_advice_asked": "〔问尺码后建议拍哪个〕",       # "拍43" after "我平时穿42"
    "x:size_advice_unasked": "〔没问尺码就让拍〕",
    "x:no_context_ack_only": "〔只有嗯/好的〕",
}
CROSS_FEATURES = tuple(CROSS_LABELS)

_TOKENIZER: jieba.Tokenizer | None = None


def get_tokenizer() -> jieba.Tokenizer:
    """The process-wide jieba tokenizer with the shop user dictionary (built once per process).

    jieba's default dictionary ships inside the jieba package; nothing is downloaded.  Its
    prefix-dictionary cache goes to the temp dir, as jieba always does.
    """
    global _TOKENIZER
    if _TOKENIZER is None:
        jieba.setLogLevel(logging.WARNING)
        tokenizer = jieba.Tokenizer()
        tokenizer.initialize()
        userdict = importlib.resources.files("qa_scorer").joinpath("data", "userdict.txt")
        with importlib.resources.as_file(userdict) as path, open(path, "rb") as fh:
            tokenizer.load_userdict(fh)
        _TOKENIZER = tokenizer
    return _TOKENIZER


# Runs of 5+ digits are order/phone/tracking numbers: one placeholder, so they neither split
# the vocabulary nor defeat the dedupe of otherwise identical replies.
_LONG_NUMBER = re.compile(r"\d{5,}")
_WHITESPACE = re.compile(r"\s+")
# jieba's own block pattern (re_han_default): jieba cuts each such block independently, so a
# block's tokens do not depend on the rest of the sentence and can be memoised.
_JIEBA_BLOCK = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+)")
_BLOCK_CACHE: dict[str, str] = {}
_BLOCK_CACHE_MAX = 500_000


def normalize_texts(values) -> np.ndarray:
    """Stripped, lower-cased strings, whitespace runs -> one space, long numbers -> "#"; missing -> ""."""
    s = pd.Series(values, dtype=object).fillna("").astype(str)
    s = s.str.strip().str.lower().str.replace(_WHITESPACE, " ", regex=True)
    return s.str.replace(_LONG_NUMBER, "#", regex=True).to_numpy(dtype=object)


def factorize_normalized(values) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, uniques)`` of the normalised strings, normalising each distinct raw value once.

    ``values``: a Series or array of strings; missing values count as "".  The raw values are
    factorized as they are (fast on pandas' string dtype), so only the distinct ones are
    converted and normalised.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    raw_codes, raw_uniques = pd.factorize(series, use_na_sentinel=True)
    uniques = np.asarray(raw_uniques, dtype=object)
    missing = raw_codes < 0
    if missing.any():  # missing values share one extra slot, ""
        uniques = np.append(uniques, "")
        raw_codes = np.where(missing, len(uniques) - 1, raw_codes)
    norm_codes, norm_uniques = pd.factorize(normalize_texts(uniques))
    return norm_codes[raw_codes], np.asarray(norm_uniques, dtype=object)


def tokenize(strings) -> list[str]:
    """jieba tokens of each string, joined by single spaces (whitespace dropped).

    Same tokens as ``jieba.lcut(s, HMM=False)``, but each block of Han/alphanumeric characters
    is cut once per process and memoised: shop replies are built from a few thousand recurring
    clauses ("亲", "稍等", "好的呢"), so most blocks are cache hits.  HMM is off: it triples the
    cost, and words outside the dictionaries are still seen by the character n-gram block.
    """
    cut = get_tokenizer().lcut
    cache = _BLOCK_CACHE
    if len(cache) > _BLOCK_CACHE_MAX:
        cache.clear()
    out = []
    for s in strings:
        parts = []
        for i, blk in enumerate(_JIEBA_BLOCK.split(s)):
            if not blk:
                continue
            if i % 2:  # a captured Han/alphanumeric block
                tokens = cache.get(blk)
                if tokens is None:
                    tokens = " ".join(cut(blk, HMM=False))
                    cache[blk] = tokens
                parts.append(tokens)
            else:  # punctuation and other symbols: jieba yields them one character at a time
                parts.extend(ch for ch in blk if not ch.isspace())
        out.append(" ".join(parts))
    return out


def content_length(strings) -> np.ndarray:
    """Characters that carry content: emoticon codes, whitespace and punctuation removed."""
    s = pd.Series(strings, dtype=object).astype(str)
    return s.str.replace(_NON_CONTENT, "", regex=True).str.len().to_numpy(dtype=np.int64)


def _reply_flags(strings) -> dict[str, np.ndarray]:
    s = pd.Series(strings, dtype=object).astype(str)
    bare = s.str.replace(_NON_CONTENT, "", regex=True)
    n = bare.str.len().to_numpy(dtype=np.int64)
    short = n <= 6
    # Only short strings can be a bare acknowledgement / yes-no word; skip the regexes for the rest.
    short_bare = bare.where(short, "")
    yesno_verb = short_bare.str.extract(_YESNO_REPLY, expand=False).fillna("")
    group = yesno_verb.map(_YESNO_GROUP_OF_VERB).fillna("")
    return {
        "empty": n == 0,
        "len_1_2": (n >= 1) & (n <= 2),
        "len_3_5": (n >= 3) & (n <= 5),
        "len_6_14": (n >= 6) & (n <= 14),
        "len_15_plus": n >= 15,
        "ack_only": short & short_bare.str.fullmatch(_ACK_ONLY).fillna(False).to_numpy(dtype=bool),
        "yesno": (yesno_verb != "").to_numpy(dtype=bool),
        # index into _YESNO_GROUPS, len(_YESNO_GROUPS) for "answers any yes/no question" (是/对), -1 for none
        "yesno_group": group.map({g: i for i, g in enumerate((*_YESNO_GROUPS, "*"))}).fillna(-1)
                            .to_numpy(dtype=np.int64),
        "refusal": short & short_bare.str.fullmatch(_REFUSAL_REPLY).fillna(False).to_numpy(dtype=bool),
        "size_advice": (n <= 20) & s.str.lower().str.contains(_SIZE_ADVICE, regex=True).to_numpy(dtype=bool),
        "question": s.str.contains(r"[?？]", regex=True).to_numpy(dtype=bool),
        "specific": bare.str.contains(_SPECIFIC, regex=True).to_numpy(dtype=bool),
        "bare": bare.to_numpy(dtype=object),
    }


def _context_flags(strings) -> dict[str, np.ndarray]:
    s = pd.Series(strings, dtype=object).astype(str)
    bare = s.str.replace(_NON_CONTENT, "", regex=True)
    present = bare.str.len().to_numpy() > 0
    question = s.str.contains(_QUESTION, regex=True).to_numpy(dtype=bool) & present
    wh = s.str.contains(_WH_QUESTION, regex=True).to_numpy(dtype=bool) & present
    # str.count, not str.contains: the A-not-A backreference needs a group, which contains() warns about.
    yesno = ((s.str.replace(_GREETING_QUESTION, "", regex=True).str.count(_YESNO_QUESTION) > 0)
             .to_numpy(dtype=bool) & present & ~wh)
    # (n, groups + 1): does the question contain a word that yes/no answer group k answers?
    # The last column ("是/对") answers every yes/no question.
    keys = np.column_stack([s.str.contains(_YESNO_KEYS[g], regex=True).to_numpy(dtype=bool)
                            for g in _YESNO_GROUPS] + [np.ones(len(s), dtype=bool)])
    # An elliptical "X呢" ("薄荷绿呢") repeats the previous yes/no question about another item:
    # any yes/no word fits it.
    elliptical = s.str.contains(r"^[^|]{0,8}呢[\s?？~～。.!！]*$", regex=True).to_numpy(dtype=bool)
    keys |= elliptical[:, None]
    return {"present": present, "question": question | yesno | wh, "wh": wh, "yesno": yesno,
            "request": s.str.contains(_REQUEST, regex=True).to_numpy(dtype=bool) & present,
            "size": s.str.lower().str.contains(_SIZE_CONTEXT, regex=True).to_numpy(dtype=bool) & present,
            "yesno_keys": keys, "bare": bare.to_numpy(dtype=object)}


def _picks_up_question(replies: np.ndarray, contexts: np.ndarray) -> np.ndarray:
    """Per pair: does the reply reuse a content character of the buyer's message ("有的" / "有货吗")?"""
    return np.fromiter(((set(r) & set(c)) - _OVERLAP_IGNORED != set() for r, c in zip(replies, contexts)),
                       dtype=bool, count=len(replies))


def cross_features(reply_flags: dict[str, np.ndarray], context_flags: dict[str, np.ndarray]) -> sp.csr_matrix:
    """The ``x:`` block for rows whose reply/context flags are given (already row-aligned)."""
    q, wh, yesno = context_flags["question"], context_flags["wh"], context_flags["yesno"]
    ack, yesno_word = reply_flags["ack_only"], reply_flags["yesno"]
    short = reply_flags["len_1_2"] | reply_flags["len_3_5"]
    other_q = q & ~wh & ~yesno
    # The character-overlap test is a Python loop, so it runs only where it matters: short
    # replies to a question that is neither wh nor yes/no.
    picks_up = np.zeros(len(q), dtype=bool)
    rows = np.flatnonzero(other_q & short)
    picks_up[rows] = _picks_up_question(reply_flags["bare"][rows], context_flags["bare"][rows])
    answering = picks_up | reply_flags["specific"]
    # Does the yes/no word fit the question ("有的" to "有...吗", "不会" to "会不会小")?
    group = reply_flags["yesno_group"]
    matching = np.zeros(len(q), dtype=bool)
    has_group = group >= 0
    matching[has_group] = context_flags["yesno_keys"][np.flatnonzero(has_group), group[has_group]]
    yesno_answered = yesno & yesno_word
    refusal = reply_flags["refusal"]
    size_advice = reply_flags["size_advice"]
    columns = {
        "x:reply_empty": reply_flags["empty"],
        "x:reply_len_1_2": reply_flags["len_1_2"],
        "x:reply_len_3_5": reply_flags["len_3_5"],
        "x:reply_len_6_14": reply_flags["len_6_14"],
        "x:reply_len_15_plus": reply_flags["len_15_plus"],
        "x:reply_ack_only": ack,
        "x:reply_question": reply_flags["question"],
        "x:reply_specific": reply_flags["specific"],
        "x:reply_yesno_word": yesno_word,
        "x:reply_refusal_word": refusal,
        "x:context_present": context_flags["present"],
        "x:context_question": q,
        "x:context_wh_question": wh,
        "x:context_yesno_question": yesno,
        "x:context_request": context_flags["request"],
        "x:question_ack_only": q & ack,
        "x:wh_question_ack_only": wh & ack,
        "x:question_empty": q & reply_flags["empty"],
        "x:yesno_answered": yesno_answered,
        "x:yesno_answered_matching": yesno_answered & matching,
        "x:yesno_short_other": yesno & short & ~ack & ~yesno_word & ~refusal & ~reply_flags["specific"],
        "x:wh_yesno_word": wh & (yesno_word | refusal),
        "x:wh_short_vague": wh & short & ~ack & ~yesno_word & ~reply_flags["specific"],
        "x:request_bare_refusal": context_flags["request"] & refusal,
        "x:question_short_unrelated": other_q & short & ~ack & ~answering,
        "x:question_short_answering": other_q & short & ~ack & answering,
        "x:size_advice_asked": size_advice & context_flags["size"],
        "x:size_advice_unasked": size_advice & ~context_flags["size"],
        "x:no_context_ack_only": ~context_flags["present"] & ack,
    }
    dense = np.column_stack([columns[name] for name in CROSS_FEATURES]).astype(np.float64)
    return sp.csr_matrix(dense)


class ReplyFeaturizer(TransformerMixin, BaseEstimator):
    """DataFrame with ``text`` (and optional ``context``) -> sparse feature matrix.

    Each distinct reply and each distinct context is tokenised and vectorised once; rows are
    assembled by index, so a table that is 70 % repeated quick phrases costs little more
    than its distinct strings.
    """

    def __init__(self, word_ngram_range=(1, 2), char_ngram_range=(1, 3), word_min_df=2,
                 char_min_df=2, context_min_df=2, context_weight=0.5, cross_weight=1.0):
        self.word_ngram_range = word_ngram_range
        self.char_ngram_range = char_ngram_range
        self.word_min_df = word_min_df
        self.char_min_df = char_min_df
        self.context_min_df = context_min_df
        self.context_weight = context_weight
        self.cross_weight = cross_weight

    # -- helpers -------------------------------------------------------------------------
    @staticmethod
    def _columns(X: pd.DataFrame):
        """(text codes, distinct normalised texts, context codes, distinct normalised contexts)."""
        if not isinstance(X, pd.DataFrame) or "text" not in X.columns:
            got = list(X.columns) if isinstance(X, pd.DataFrame) else type(X).__name__
            raise ValueError(f"ReplyFeaturizer needs a DataFrame with a 'text' column; got {got}")
        text_codes, text_uniques = factorize_normalized(X["text"])
        if "context" in X.columns:
            context_codes, context_uniques = factorize_normalized(X["context"])
        else:
            context_codes, context_uniques = np.zeros(len(X), dtype=np.intp), np.array([""], dtype=object)
        return text_codes, text_uniques, context_codes, context_uniques

    # -- sklearn API ---------------------------------------------------------------------
    def fit(self, X: pd.DataFrame, y=None):
        text_codes, text_uniques, context_codes, context_uniques = self._columns(X)
        # IDF is learnt on the training rows as they are (row frequencies matter for IDF).
        text = text_uniques[text_codes]
        text_tokens = np.asarray(tokenize(text_uniques), dtype=object)[text_codes]
        context_tokens = np.asarray(tokenize(context_uniques), dtype=object)[context_codes]
        self.word_vectorizer_ = TokenTfidf(ngram_max=self.word_ngram_range[1], min_df=self.word_min_df).fit(text_tokens)
        self.char_vectorizer_ = CharNgramTfidf(ngram_range=tuple(self.char_ngram_range),
                                               min_df=self.char_min_df).fit(text)
        self.context_vectorizer_ = TokenTfidf(ngram_max=1, min_df=self.context_min_df).fit(
            context_tokens[context_tokens != ""])
        return self

    # The three blocks, usable on their own: ``tag_replies`` scores distinct replies and
    # distinct contexts separately (in worker processes) and adds the parts up.
    def reply_matrix(self, text_uniques) -> sp.csr_matrix:
        """``w:`` + ``c:`` columns for distinct *normalised* reply strings."""
        word = self.word_vectorizer_.transform(tokenize(text_uniques))
        char = self.char_vectorizer_.transform(text_uniques)
        return sp.hstack([word, char], format="csr", dtype=np.float32)

    def context_matrix(self, context_uniques) -> sp.csr_matrix:
        """``ctx:`` columns for distinct *normalised* context strings."""
        m = self.context_vectorizer_.transform(tokenize(context_uniques)) * self.context_weight
        return sp.csr_matrix(m, dtype=np.float32)

    def cross_matrix(self, text_codes, text_uniques, context_codes, context_uniques) -> sp.csr_matrix:
        """``x:`` columns for rows given by codes into the distinct replies and contexts."""
        reply_flags = {k: v[text_codes] for k, v in _reply_flags(text_uniques).items()}
        context_flags = {k: v[context_codes] for k, v in _context_flags(context_uniques).items()}
        return cross_features(reply_flags, context_flags) * self.cross_weight

    def block_sizes(self) -> tuple[int, int, int]:
        """Number of (reply, context, cross) columns."""
        n_reply = len(self.word_vectorizer_.idf_) + len(self.char_vectorizer_.idf_)
        return n_reply, len(self.context_vectorizer_.idf_), len(CROSS_FEATURES)

    def transform(self, X: pd.DataFrame) -> sp.csr_matrix:
        text_codes, text_uniques, context_codes, context_uniques = self._columns(X)
        return sp.hstack([
            self.reply_matrix(text_uniques)[text_codes],
            self.context_matrix(context_uniques)[context_codes],
            self.cross_matrix(text_codes, text_uniques, context_codes, context_uniques),
        ], format="csr", dtype=np.float32)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        """Prefixed names (``w:`` / ``c:`` / ``ctx:`` / ``x:``), in column order.

        Built on demand rather than stored, which keeps the saved model small.
        """
        return np.concatenate([
            "w:" + self.word_vectorizer_.get_feature_names_out().astype(object),
            "c:" + self.char_vectorizer_.get_feature_names_out().astype(object),
            "ctx:" + self.context_vectorizer_.get_feature_names_out().astype(object),
            np.asarray(CROSS_FEATURES, dtype=object),
        ]).astype(object)


def display_name(feature_name: str) -> str:
    """How a feature is shown to a person: the word/n-gram itself, or a 〔label〕."""
    if feature_name.startswith("x:"):
        return CROSS_LABELS.get(feature_name, feature_name)
    if feature_name.startswith("ctx:"):
        return "买家:" + feature_name[4:].replace(" ", "")
    if feature_name.startswith(("w:", "c:")):
        return feature_name[2:].replace(" ", "")
    return feature_name
