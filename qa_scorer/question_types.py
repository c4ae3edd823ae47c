"""Buyer question types: what a buyer (customer) message asks about.

A learned classifier that puts each buyer message in one of ``QUESTION_TYPES``:

==============  ===========================================================================
``product``     spec / material / function / usage / compatibility / quality / authenticity /
                comparison: 能机洗吗, 防水吗, 是纯棉的吗, 宝宝1岁能用吗, 有什么区别, 哪个好
``size``        尺码 and fit of wearables: 165穿什么码, 有没有M码, 我120斤穿多大, 偏大还是偏小
``stock``       availability of the item or a variant: 有货吗, 有黑色吗, 还有吗, 什么时候补货
``price``       price, discounts, coupons, promotions, gifts, price protection: 能便宜点吗,
                可以使用优惠券吗, 有活动吗, 满减怎么算
``logistics``   shipping: courier, dispatch and delivery time, tracking, shipping fee (包邮),
                delivery address / recipient changes: 发什么快递, 几天到, 到哪了, 地址改一下
``aftersales``  returns, exchanges, refunds, problems with a received item, complaints,
                warranty / repair / installation: 怎么退货, 收到的破了, 退款什么时候到
``chitchat``    greetings, acknowledgements, thanks, 在吗, statements without a question
                (我拍了, 我再看看), emoticons, images, 我发的图片你看到了吗
``other``       everything else: invoices, payment methods, account/points, order edits that are
                not address changes, shop questions (有实体店吗), contact requests
==============  ===========================================================================

A message with several questions gets the most demanding one, in this order:
product > size > aftersales > price > stock > logistics > other > chitchat
(so a greeting plus a question is the question, and any product/size question makes the
message a product question for the 15-character rule).  See ``models/QUESTION_TYPES_CARD.md``.

API::

    types = classify_questions(buyer_messages)     # Series of QUESTION_TYPES values
    is_product_question(types)                     # product | size  (the 15-character rule)
    model = load_question_model()                  # the shipped models/question_types.skops
    model = train_question_model(corpus_df, seed=0)

Command line (the lead may wire these into ``qa-scorer`` later)::

    python -m qa_scorer.question_types train models/training/questions/corpus.csv --out models/question_types.skops
    python -m qa_scorer.question_types evaluate models/training/questions/heldout.csv
    python -m qa_scorer.question_types classify "165穿什么码" "在吗"
"""

from __future__ import annotations

import argparse
import functools
import json
import re
import sys
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import scipy.sparse as sp
from sklearn.base import BaseEstimator, TransformerMixin

import qa_scorer
from qa_scorer.classifier.features import get_tokenizer
from qa_scorer.classifier.vectorizers import CharNgramTfidf, TokenTfidf
from qa_scorer.model_files import ModelError
from qa_scorer.textstats import COUNTED_PATTERN, MEDIA_PATTERN

QUESTION_TYPES = ("product", "size", "stock", "price", "logistics", "aftersales", "chitchat", "other")
#: Types whose answer falls under "关于咨询产品介绍，最好回复15个字以上".
PRODUCT_TYPES = ("product", "size")
#: When one message asks several things, the first type of this list that applies wins
#: (the corpus is labelled this way).
PRIORITY = ("product", "size", "aftersales", "price", "stock", "logistics", "other", "chitchat")

DEFAULT_MODEL_NAME = "question_types.skops"
MODEL_FORMAT = 1
CORPUS_COLUMNS = ("text", "label", "origin", "group")

#: Every non-default type a saved question model may contain (skops refuses anything else).
TRUSTED_TYPES = (
    "numpy.dtype",
    "numpy.float32",
    "numpy.float64",
    "numpy.int64",
    "qa_scorer.classifier.vectorizers.CharNgramTfidf",
    "qa_scorer.classifier.vectorizers.TokenTfidf",
    "qa_scorer.question_types.QuestionFeaturizer",
    "qa_scorer.question_types.QuestionTypeModel",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.pipeline.Pipeline",
)

# --------------------------------------------------------------------------------------
# Text normalisation
# --------------------------------------------------------------------------------------
# Traditional -> simplified for the characters buyers' messages actually use (no external
# converter is shipped).  Applied before tokenising, so 有貨嗎 and 有货吗 are the same message.
_TRAD = (
    "們们嗎吗麼么貨货碼码發发運运這这個个價价錢钱優优還还會会說说謝谢對对買买賣卖號号長长寬宽質质覺觉點点"
    "時时間间幾几沒没東东車车給给換换顏颜動动從从後后來来為为麗丽種种樣样與与寶宝嬰婴兒儿歲岁們们滿满減减"
    "紅红綠绿藍蓝黃黄顯显適适膚肤護护乾干濕湿潔洁純纯棉棉絨绒褲裤襪袜裙裙鞋鞋頭头髮发臉脸膠胶電电腦脑機机"
    "線线單单雙双盤盘鍋锅壺壶燈灯鐘钟錶表鏡镜瓶瓶蓋盖廠厂產产實实體体質质問问題题處处理理請请聯联繫系"
    "快快遞递郵邮寄寄達达區区縣县鄉乡鎮镇裡里邊边幫帮應应該该願愿嗎吗呢呢嗎吗啊啊喔喔謝谢親亲愛爱歡欢"
    "壞坏破破爛烂錯错漏漏退退貨货款款訂订單单撤撤銷销消消費费補补償偿險险賠赔維维修修裝装門门戶户"
    "啟启開开關关燒烧熱热冷冷暖暖氣气風风聲声響响靜静專专業业顧顾客客戶户帳账號号碼码碼码積积分分員员級级"
    "優优惠惠券券劵券紅红包包滿满減减贈赠送送禮礼折折扣扣價价錢钱貴贵宜宜便便劃划算算活活動动"
    "尺尺寸寸偏偏大大小小穿穿斤斤腳脚碼码號号鬆松緊紧腰腰圍围寬宽窄窄瘦瘦胖胖鬆松"
    "現现庫库存存缺缺補补齊齐預预訂订顏颜色色黑黑白白灰灰粉粉紫紫咖咖啡啡"
    "圖图片片視视頻频見见聽听讀读寫写記记認认識识變变舊旧嗎吗麼么呢呢"
)
_TRAD_TABLE = str.maketrans({_TRAD[i]: _TRAD[i + 1] for i in range(0, len(_TRAD) - 1, 2)
                             if _TRAD[i] != _TRAD[i + 1]})


_TRAD_CHARS = re.compile("[" + "".join(sorted({c for c in _TRAD[::2]} - set(_TRAD[1::2]))) + "]")
_NEEDS_SUB = re.compile(r"\s|\d{5}")
_WHITESPACE = re.compile(r"\s+")
_LONG_NUMBER = re.compile(r"\d{5,}")


def _normalize_one(s: str) -> str:
    """Same as ``qa_scorer.classifier.features.normalize_texts`` for one string (strip, lower,
    whitespace runs -> " ", 5+ digit runs -> "#"), then traditional -> simplified."""
    s = s.strip().lower()
    if _NEEDS_SUB.search(s):
        s = _LONG_NUMBER.sub("#", _WHITESPACE.sub(" ", s))
    if _TRAD_CHARS.search(s):
        s = s.translate(_TRAD_TABLE)
    return s


def normalize_questions(values) -> tuple[np.ndarray, np.ndarray]:
    """``(codes, uniques)``: distinct normalised messages (lower case, whitespace collapsed,
    long numbers -> "#", common traditional characters -> simplified); missing -> "".

    Each distinct raw value is normalised once.
    """
    series = values if isinstance(values, pd.Series) else pd.Series(values, dtype=object)
    raw_codes, raw_uniques = pd.factorize(series, use_na_sentinel=True)
    normalized = [_normalize_one(v) if isinstance(v, str) else _normalize_one(str(v)) for v in raw_uniques]
    normalized.append("")  # the slot of missing values (code -1)
    norm_codes, norm_uniques = pd.factorize(np.asarray(normalized, dtype=object))
    return norm_codes[raw_codes], np.asarray(norm_uniques, dtype=object)


# --------------------------------------------------------------------------------------
# jieba words, faster
# --------------------------------------------------------------------------------------
# jieba's own block pattern (re_han_default) and its English/digit pattern (re_eng).
_HAN_BLOCK = re.compile(r"([\u4E00-\u9FD5a-zA-Z0-9+#&\._%\-]+)")
_ENG_CHAR = re.compile(r"[a-zA-Z0-9]")
_WORD_LOGP: dict[str, float | None] | None = None
_CUT_CACHE: dict[str, str] = {}
_NOT_A_PREFIX = object()
_CUT_CACHE_MAX = 500_000


def _word_logp() -> dict[str, float | None]:
    """jieba's prefix dictionary (with the shop user dictionary) as word -> log P(word), None for
    prefixes that are not words; built once per process from the project's jieba tokenizer."""
    global _WORD_LOGP
    if _WORD_LOGP is None:
        from math import log

        tokenizer = get_tokenizer()
        logtotal = log(tokenizer.total)
        _WORD_LOGP = {w: (log(f) - logtotal if f else None) for w, f in tokenizer.FREQ.items()}
        _WORD_LOGP[""] = -logtotal  # log(1) - logtotal: the value of a character that is not a word
    return _WORD_LOGP


def _cut_block(block: str, logp: dict[str, float | None]) -> list[str]:
    """``jieba.Tokenizer.lcut(block, HMM=False)`` for one Han/alphanumeric block, exactly.

    Same dictionary, same maximum-probability route (ties -> the longer word, as jieba's
    ``max`` over ``(prob, end)`` tuples), same buffering of single ASCII letters/digits; the DAG
    and the route are computed in one right-to-left pass without jieba's per-call overhead,
    about 2-3x faster.
    """
    n = len(block)
    score = [0.0] * (n + 1)
    end = [0] * n
    missing = logp[""]
    get = logp.get
    for idx in range(n - 1, -1, -1):
        best_v = None
        best_x = idx
        i = idx
        frag = block[idx]
        while True:
            lp = get(frag, _NOT_A_PREFIX)
            if lp is _NOT_A_PREFIX:
                break
            if lp is not None:
                v = lp + score[i + 1]
                if best_v is None or v >= best_v:
                    best_v, best_x = v, i
            i += 1
            if i >= n:
                break
            frag = block[idx:i + 1]
        if best_v is None:
            best_v, best_x = missing + score[idx + 1], idx
        score[idx] = best_v
        end[idx] = best_x
    out = []
    buf = ""
    x = 0
    while x < n:
        y = end[x] + 1
        word = block[x:y]
        if y - x == 1 and _ENG_CHAR.match(word):
            buf += word
        else:
            if buf:
                out.append(buf)
                buf = ""
            out.append(word)
        x = y
    if buf:
        out.append(buf)
    return out


def tokenize_questions(strings) -> list[str]:
    """Space-joined jieba tokens of each string: the same tokens as
    ``qa_scorer.classifier.features.tokenize`` (jieba, shop user dictionary, HMM off), with
    each distinct block cut once per process by ``_cut_block``."""
    logp = _word_logp()
    cache = _CUT_CACHE
    if len(cache) > _CUT_CACHE_MAX:
        cache.clear()
    out = []
    for s in strings:
        parts = []
        for i, blk in enumerate(_HAN_BLOCK.split(s)):
            if not blk:
                continue
            if i % 2:
                tokens = cache.get(blk)
                if tokens is None:
                    tokens = cache[blk] = " ".join(_cut_block(blk, logp))
                parts.append(tokens)
            else:  # punctuation and symbols: one token per character, whitespace dropped
                parts.extend(ch for ch in blk if not ch.isspace())
        out.append(" ".join(parts))
    return out


# --------------------------------------------------------------------------------------
# Features and the saved wrapper
# --------------------------------------------------------------------------------------
class QuestionFeaturizer(TransformerMixin, BaseEstimator):
    """Normalised buyer messages -> [jieba word 1-2gram TF-IDF | character 1-3gram TF-IDF].

    Input: a sequence of *already normalised* strings (``normalize_questions``); the word
    block uses the project's jieba tokenizer (shop user dictionary, memoised blocks) and both
    blocks use the vectorised TF-IDF of ``qa_scorer.classifier.vectorizers``.
    """

    def __init__(self, word_ngram_max=2, char_ngram_range=(1, 3), word_min_df=2, char_min_df=2,
                 word_weight=0.6, char_weight=1.0):
        self.word_ngram_max = word_ngram_max
        self.char_ngram_range = char_ngram_range
        self.word_min_df = word_min_df
        self.char_min_df = char_min_df
        self.word_weight = word_weight
        self.char_weight = char_weight

    def fit(self, strings, y=None):
        strings = [str(s) for s in strings]
        self.word_vectorizer_ = TokenTfidf(ngram_max=self.word_ngram_max, min_df=self.word_min_df).fit(
            tokenize_questions(strings))
        self.char_vectorizer_ = CharNgramTfidf(ngram_range=tuple(self.char_ngram_range),
                                               min_df=self.char_min_df).fit(strings)
        return self

    def transform(self, strings) -> sp.csr_matrix:
        strings = [str(s) for s in strings]
        word = self.word_vectorizer_.transform(tokenize_questions(strings)) * self.word_weight
        char = self.char_vectorizer_.transform(strings) * self.char_weight
        return sp.hstack([word, char], format="csr", dtype=np.float32)

    def get_feature_names_out(self, input_features=None) -> np.ndarray:
        return np.concatenate([
            "w:" + self.word_vectorizer_.get_feature_names_out().astype(object),
            "c:" + self.char_vectorizer_.get_feature_names_out().astype(object),
        ]).astype(object)


class QuestionTypeModel:
    """A fitted ``Pipeline(QuestionFeaturizer, LogisticRegression)`` plus its provenance.

    ``pipeline`` takes normalised strings; use ``classify_questions`` for raw messages.
    """

    def __init__(self, pipeline, classes, version: str, metadata: dict[str, Any] | None = None):
        self.pipeline = pipeline
        self.classes = list(classes)
        self.version = str(version)
        self.format = MODEL_FORMAT
        self.metadata = dict(metadata or {})

    def __repr__(self) -> str:
        return f"QuestionTypeModel(version={self.version!r}, classes={self.classes})"

    def predict_normalized(self, strings) -> np.ndarray:
        if len(strings) == 0:
            return np.zeros(0, dtype=object)
        return np.asarray(self.pipeline.predict(list(strings)), dtype=object)

    def proba_normalized(self, strings) -> pd.DataFrame:
        p = self.pipeline.predict_proba(list(strings))
        return pd.DataFrame(p, columns=[f"p_{c}" for c in self.pipeline.classes_])


# --------------------------------------------------------------------------------------
# Model files (skops only; same lookup as qa_scorer.model_files for the reply model)
# --------------------------------------------------------------------------------------
def default_question_model_path() -> Path:
    """The shipped model (``qa_scorer.model_files.shipped_model_path``: checkout, then wheel)."""
    from qa_scorer.model_files import checkout_model_path, shipped_model_path

    path = shipped_model_path(DEFAULT_MODEL_NAME)
    if path is None:
        raise ModelError(
            f"no question-type model found: looked for {checkout_model_path(DEFAULT_MODEL_NAME)} and the "
            f"installed package data qa_scorer/_models/{DEFAULT_MODEL_NAME}. Train one with "
            "`python -m qa_scorer.question_types train models/training/questions/corpus.csv`."
        )
    return path


def save_question_model(model: QuestionTypeModel, path: str | Path) -> Path:
    import skops.io

    if not isinstance(model, QuestionTypeModel):
        raise TypeError(f"save_question_model expects a QuestionTypeModel, got {type(model).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    skops.io.dump(model, path, compression=zipfile.ZIP_DEFLATED, compresslevel=9)
    return path


def _load_checked(path: Path) -> QuestionTypeModel:
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(file=path)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelError(f"{path}: not a skops model file ({exc}).") from None
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise ModelError(f"{path}: refusing to load: types outside the trusted list: {', '.join(unknown)}. "
                         "Re-train with `python -m qa_scorer.question_types train`.")
    obj = skops.io.load(path, trusted=list(untrusted))
    if not isinstance(obj, QuestionTypeModel):
        raise ModelError(f"{path}: holds a {type(obj).__name__}, not a QuestionTypeModel.")
    if getattr(obj, "format", None) != MODEL_FORMAT or sorted(obj.classes) != sorted(QUESTION_TYPES):
        raise ModelError(f"{path}: model format {getattr(obj, 'format', None)} with classes {obj.classes}; "
                         f"need format {MODEL_FORMAT} with {list(QUESTION_TYPES)}. Re-train it.")
    return obj


@functools.lru_cache(maxsize=8)
def _load_cached(resolved: str, mtime_ns: int) -> QuestionTypeModel:
    return _load_checked(Path(resolved))


def load_question_model(path: str | Path | None = None) -> QuestionTypeModel:
    """Load (once per path and file version) a question-type model; default: the shipped one."""
    path = Path(path) if path is not None else default_question_model_path()
    if not path.is_file():
        raise ModelError(f"question-type model file not found: {path}")
    resolved = path.resolve()
    return _load_cached(str(resolved), resolved.stat().st_mtime_ns)


# --------------------------------------------------------------------------------------
# Classification
# --------------------------------------------------------------------------------------
def _has_content(strings) -> np.ndarray:
    """True where a message has a letter/digit after emoticon codes and [图片]-style placeholders go."""
    search, strip = COUNTED_PATTERN.search, MEDIA_PATTERN.sub

    def one(s: str) -> bool:
        if "[" in s or "/:" in s:
            s = strip("", s)
        return search(s) is not None

    return np.fromiter((one(s) for s in strings), dtype=bool, count=len(strings))


def classify_questions(texts, model: QuestionTypeModel | None = None) -> pd.Series:
    """The question type of each buyer message (a value of ``QUESTION_TYPES``), same index.

    Vectorised: messages are normalised and deduplicated first, each distinct message is
    classified once and the result mapped back.  Empty / NaN / emoticon- or image-only
    messages are ``"chitchat"`` without asking the model.
    """
    if not isinstance(texts, pd.Series):
        texts = pd.Series(texts, dtype=object)
    if len(texts) == 0:
        return pd.Series([], index=texts.index, dtype=object, name="question_type")
    codes, uniques = normalize_questions(texts)
    labels = np.full(len(uniques), "chitchat", dtype=object)
    content = _has_content(uniques)
    if content.any():
        model = model if model is not None else load_question_model()
        labels[content] = model.predict_normalized(uniques[content])
    return pd.Series(labels[codes], index=texts.index, dtype=object, name="question_type")


def is_product_question(types: pd.Series) -> pd.Series:
    """True for ``product`` and ``size`` questions: the rounds the 15-character rule applies to.

    Why only these two: "关于咨询产品介绍，最好回复15个字以上" asks for a real explanation of the
    product, and a fit question needs one too (measurements, advice).  A complete answer to
    a stock or price question is short by nature - 有的亲，现货 / 满199减20哦 / 中通，今天发 - so
    holding those to 15 characters would penalise correct, efficient answers.
    """
    return types.isin(PRODUCT_TYPES).rename("product_question")


# --------------------------------------------------------------------------------------
# Training and evaluation
# --------------------------------------------------------------------------------------
class CorpusError(ValueError):
    """The labelled question corpus has wrong columns or labels."""


def validate_question_corpus(df: pd.DataFrame, name: str = "corpus") -> pd.DataFrame:
    """Check ``text`` and ``label`` (``origin``/``group`` optional); return a clean copy."""
    missing = [c for c in ("text", "label") if c not in df.columns]
    if missing:
        raise CorpusError(f"{name}: missing column(s) {', '.join(missing)}; need {', '.join(CORPUS_COLUMNS)}.")
    out = df.copy()
    out["text"] = out["text"].fillna("").astype(str)
    out["label"] = out["label"].fillna("").astype(str).str.strip()
    bad = ~out["label"].isin(QUESTION_TYPES)
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        raise CorpusError(f"{name} line {i + 2}: label {out['label'].iloc[i]!r} is not one of "
                          f"{', '.join(QUESTION_TYPES)}.")
    if "group" not in out.columns:
        out["group"] = [f"row{i}" for i in range(len(out))]
    out["group"] = out["group"].fillna("").astype(str)
    return out


def build_question_pipeline(seed: int = 0, C: float = 10.0):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline

    return Pipeline([
        ("features", QuestionFeaturizer()),
        # lbfgs on a multi-class target = multinomial (softmax) logistic regression.
        ("classify", LogisticRegression(C=C, max_iter=3000, class_weight="balanced", random_state=seed)),
    ])


def _fit(df: pd.DataFrame, seed: int, C: float):
    codes, uniques = normalize_questions(df["text"])
    x = uniques[codes]
    return build_question_pipeline(seed, C).fit(list(x), df["label"].to_numpy())


def grouped_cv_predictions(df: pd.DataFrame, seed: int = 0, folds: int = 5, C: float = 10.0) -> np.ndarray:
    """Out-of-fold predicted labels; folds are whole ``group``s (no base sentence on both sides)."""
    from sklearn.model_selection import StratifiedGroupKFold

    df = validate_question_corpus(df)
    pred = np.empty(len(df), dtype=object)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    for train_idx, test_idx in splitter.split(df, df["label"], df["group"]):
        pipe = _fit(df.iloc[train_idx], seed, C)
        model = QuestionTypeModel(pipe, QUESTION_TYPES, qa_scorer.__version__)
        pred[test_idx] = classify_questions(df["text"].iloc[test_idx], model).to_numpy()
    return pred


def metrics_table(y_true, y_pred) -> dict[str, Any]:
    """Accuracy, macro F1 and per-class precision/recall/F1/support, plus the confusion matrix."""
    from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support

    y_true = np.asarray(y_true, dtype=object)
    y_pred = np.asarray(y_pred, dtype=object)
    labels = list(QUESTION_TYPES)
    p, r, f, s = precision_recall_fscore_support(y_true, y_pred, labels=labels, zero_division=0)
    cm = confusion_matrix(y_true, y_pred, labels=labels)
    prod_true = np.isin(y_true, PRODUCT_TYPES)
    prod_pred = np.isin(y_pred, PRODUCT_TYPES)
    tp = int((prod_true & prod_pred).sum())
    return {
        "rows": int(len(y_true)),
        "accuracy": float(accuracy_score(y_true, y_pred)),
        "macro_f1": float(f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)),
        "per_class": {c: {"precision": float(p[i]), "recall": float(r[i]), "f1": float(f[i]), "support": int(s[i])}
                      for i, c in enumerate(labels)},
        "product_question": {  # the decision that matters downstream: product|size or not
            "precision": tp / max(int(prod_pred.sum()), 1),
            "recall": tp / max(int(prod_true.sum()), 1),
            "accuracy": float((prod_true == prod_pred).mean()),
        },
        "confusion": {"labels": labels, "matrix": cm.tolist()},
    }


def train_question_model(corpus_df: pd.DataFrame, seed: int = 0, *, C: float = 10.0, cv_folds: int = 5,
                         name: str = "corpus") -> QuestionTypeModel:
    """Fit on every row of the corpus; record ``cv_folds``-fold grouped cross-validation figures.

    The held-out file (``models/training/questions/heldout.csv``) is never passed here.
    Same corpus + seed -> same model.
    """
    import hashlib

    import sklearn
    import skops

    df = validate_question_corpus(corpus_df, name)
    cv = None
    if cv_folds and cv_folds > 1:
        cv = metrics_table(df["label"], grouped_cv_predictions(df, seed, cv_folds, C))
        cv.pop("confusion")
    pipe = _fit(df, seed, C)
    payload = df[["text", "label", "group"]].to_csv(index=False).encode("utf-8")
    meta = {
        "trained_with": {"qa_scorer": qa_scorer.__version__, "scikit-learn": sklearn.__version__,
                         "skops": skops.__version__},
        "seed": int(seed),
        "C": float(C),
        "corpus_sha256": hashlib.sha256(payload).hexdigest(),
        "rows": int(len(df)),
        "groups": int(df["group"].nunique()),
        "label_counts": {c: int((df["label"] == c).sum()) for c in QUESTION_TYPES},
        "grouped_cv": cv,
        "features": "jieba word 1-2gram TF-IDF (weight 0.6) + char 1-3gram TF-IDF (min_df 2, sublinear tf)",
        "classifier": f"LogisticRegression(lbfgs multinomial, C={C}, balanced)",
    }
    return QuestionTypeModel(pipe, QUESTION_TYPES, qa_scorer.__version__, meta)


def evaluate_question_model(model: QuestionTypeModel, df: pd.DataFrame, name: str = "data") -> dict[str, Any]:
    df = validate_question_corpus(df, name)
    pred = classify_questions(df["text"], model)
    report = metrics_table(df["label"], pred)
    wrong = df.loc[pred.to_numpy() != df["label"].to_numpy(), ["text", "label"]].assign(predicted=pred)
    report["errors"] = wrong.to_dict(orient="records")
    return report


# --------------------------------------------------------------------------------------
# Command line
# --------------------------------------------------------------------------------------
def _read_csv(path: str | Path) -> pd.DataFrame:
    return pd.read_csv(path, dtype=str, keep_default_na=False, encoding="utf-8-sig")


def _print_report(report: dict[str, Any], title: str) -> None:
    print(f"{title}: {report['rows']} rows, accuracy {report['accuracy']:.3f}, macro F1 {report['macro_f1']:.3f}")
    print(f"{'class':<11}{'prec':>7}{'recall':>8}{'F1':>7}{'n':>6}")
    for c, m in report["per_class"].items():
        print(f"{c:<11}{m['precision']:>7.3f}{m['recall']:>8.3f}{m['f1']:>7.3f}{m['support']:>6}")
    pq = report["product_question"]
    print(f"product|size decision: precision {pq['precision']:.3f}, recall {pq['recall']:.3f}, "
          f"accuracy {pq['accuracy']:.3f}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m qa_scorer.question_types",
                                     description="Train / evaluate / run the buyer question-type model.")
    sub = parser.add_subparsers(dest="command", required=True)
    t = sub.add_parser("train", help="train on a labelled corpus (text,label,origin,group)")
    t.add_argument("corpus")
    t.add_argument("--out", default="models/question_types.skops")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("--C", type=float, default=10.0)
    t.add_argument("--cv-folds", type=int, default=5)
    e = sub.add_parser("evaluate", help="accuracy and per-class F1 on a labelled file")
    e.add_argument("data")
    e.add_argument("--model", default=None)
    e.add_argument("--json", action="store_true")
    e.add_argument("--errors", action="store_true", help="list misclassified messages")
    c = sub.add_parser("classify", help="classify messages given on the command line")
    c.add_argument("texts", nargs="+")
    c.add_argument("--model", default=None)
    args = parser.parse_args(argv)

    if args.command == "train":
        model = train_question_model(_read_csv(args.corpus), seed=args.seed, C=args.C, cv_folds=args.cv_folds,
                                     name=args.corpus)
        path = save_question_model(model, args.out)
        print(f"wrote {path} ({path.stat().st_size / 1e6:.2f} MB), {model.metadata['rows']} rows, "
              f"{model.metadata['groups']} groups")
        if model.metadata["grouped_cv"]:
            _print_report(model.metadata["grouped_cv"], f"{args.cv_folds}-fold grouped CV")
        return 0
    model = load_question_model(args.model)
    if args.command == "evaluate":
        report = evaluate_question_model(model, _read_csv(args.data), args.data)
        if args.json:
            print(json.dumps(report, ensure_ascii=False, indent=1))
            return 0
        _print_report(report, args.data)
        labels = report["confusion"]["labels"]
        print("confusion (rows = true, columns = predicted):")
        print(" " * 11 + "".join(f"{lab[:6]:>7}" for lab in labels))
        for lab, row in zip(labels, report["confusion"]["matrix"]):
            print(f"{lab:<11}" + "".join(f"{v:>7}" for v in row))
        if args.errors:
            for err in report["errors"]:
                print(f"  {err['label']:>10} -> {err['predicted']:<10} {err['text']}")
        return 0
    types = classify_questions(pd.Series(args.texts, dtype=object), model)
    for text, kind in zip(args.texts, types):
        print(f"{kind}\t{text}")
    return 0


if __name__ == "__main__":
    # Run the imported module's main, so saved classes are qa_scorer.question_types.* (the
    # trusted names), not __main__.*.
    from qa_scorer.question_types import main as _main

    sys.exit(_main())
