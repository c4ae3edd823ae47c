"""Tag a replies table: dedupe, featurise distinct strings once, predict, explain flagged rows.

``tag_replies`` is what the audit pipeline calls on ~500,000 replies per million messages, so
it tokenises and scores each distinct reply and each distinct context once (the linear
model's score splits into a reply part, a context part and a small cross part), combines
them per distinct (text, context) pair and broadcasts the answers back to the rows with the
factorize codes.

The fast path and why it is safe: ``ReplyClassifier.predict_proba`` is, per tag, the mean
over its calibration folds of ``expit(slope * (x @ w + b) + offset)`` - a
``LogisticRegression`` (``w = coef_``, ``b = intercept_``) followed by its Platt calibrator,
itself a one-feature ``LogisticRegression`` (``slope = coef_``, ``offset = intercept_``).  ``_LinearParts`` reads
only those *public* fitted attributes (``ReplyClassifier.linear_parts``); no private
scikit-learn attribute is used, and the model is calibrated by our own code, so a
scikit-learn upgrade cannot change what the fast path computes without also changing the
public ``coef_`` / ``intercept_`` contract.  ``tests/test_shipped_model.py`` checks that the
fast path equals ``model.predict_proba`` to 1e-9 on real corpus rows (and
``tests/test_classifier.py`` on a small model).

With ``workers > 1`` the distinct strings are cut into chunks that worker processes score,
through the project's one multiprocessing mechanism, ``qa_scorer.executors``
(``make_executor("pool", ...)``): the model reaches each worker as skops bytes through the
warm-up callable ``functools.partial(_load_worker_model, model_bytes)``, which also
initialises jieba once per worker.
"""

from __future__ import annotations

import functools
import re
import weakref

import numpy as np
import pandas as pd
import scipy.sparse as sp
from scipy.special import expit

from qa_scorer.classifier.features import display_name, factorize_normalized, get_tokenizer
from qa_scorer.classifier.model import ReplyClassifier, model_from_bytes, model_to_bytes
from qa_scorer.schema import TAGS


def output_columns(tags=TAGS) -> list[str]:
    """The columns ``tag_replies`` appends after the input columns, in order."""
    return [*tags, *(f"p_{t}" for t in tags), "tag_words"]


_WORDLESS = re.compile(r"[\W_]+")
# Cross features worth showing as a reason (the rest are plain length/presence buckets).
_SHOWN_CROSSES = frozenset({"x:reply_empty", "x:reply_ack_only", "x:question_ack_only", "x:wh_question_ack_only",
                            "x:question_empty", "x:question_short_unrelated", "x:no_context_ack_only",
                            "x:wh_yesno_word", "x:wh_short_vague", "x:request_bare_refusal",
                            "x:yesno_short_other", "x:size_advice_unasked"})


def _shown_label(name: str) -> str:
    """What a person sees for a feature; "" for features never shown as a reason.

    Context words are left out (the tag is about the reply), as are plain length buckets and
    punctuation-only n-grams, which carry weight but mean nothing to a reader.
    """
    if name.startswith("ctx:"):
        return ""
    if name.startswith("x:"):
        return display_name(name) if name in _SHOWN_CROSSES else ""
    return _WORDLESS.sub("", display_name(name))


class _Explainer:
    """Per-model arrays for explanations: linear weights and the label of every feature."""

    def __init__(self, model: ReplyClassifier):
        self.coef = model.coefficients()
        names = model.featurizer.get_feature_names_out()
        self.labels = np.array([_shown_label(n) for n in names], dtype=object)


# Built once per process per model (feature labels for ~100k features take a moment).
_EXPLAINERS: "weakref.WeakKeyDictionary[ReplyClassifier, _Explainer]" = weakref.WeakKeyDictionary()


def _per_model(cache: weakref.WeakKeyDictionary, model: ReplyClassifier, build):
    """``build(model)`` once per process and model, kept while the model lives."""
    value = cache.get(model)
    if value is None:
        value = cache[model] = build(model)
    return value


def _explainer(model: ReplyClassifier) -> _Explainer:
    return _per_model(_EXPLAINERS, model, _Explainer)


def _overlaps(a: str, b: str) -> bool:
    """True when one contains the other or they share an edge ("不拍" / "拍就")."""
    if a in b or b in a:
        return True
    return any(a[-k:] == b[:k] or b[-k:] == a[:k] for k in range(1, min(len(a), len(b))))


def _top_words(indices: np.ndarray, values: np.ndarray, coef: np.ndarray, labels: np.ndarray,
               top: int) -> list[tuple[str, float]]:
    """The reply words/n-grams (and 〔cross features〕) that pushed one row towards one tag.

    Contribution = feature value x linear weight.  A word, the character n-grams inside it and
    the bigram around it are merged by surface form and overlapping terms are skipped, so
    "百分百" is not followed by "百分".  Single characters ("了") only when nothing longer helps.
    """
    contrib = values * coef[indices]
    keep = contrib > 0
    indices, contrib = indices[keep], contrib[keep]
    row_labels = labels[indices]
    shown = row_labels != ""
    row_labels, contrib = row_labels[shown], contrib[shown]
    totals: dict[str, float] = {}
    for j in np.argsort(-contrib, kind="stable")[: top * 8]:
        totals[row_labels[j]] = totals.get(row_labels[j], 0.0) + float(contrib[j])
    ranked = sorted(totals.items(), key=lambda kv: (len(kv[0]) == 1, -kv[1], kv[0]))
    chosen: list[tuple[str, float]] = []
    for label, weight in ranked:
        if len(label) == 1 and chosen:
            break
        if any(_overlaps(label, other) for other, _ in chosen):
            continue
        chosen.append((label, weight))
        if len(chosen) == top:
            break
    return chosen


def _tag_words(model: ReplyClassifier, X: sp.csr_matrix, flags: np.ndarray, top: int = 3) -> list[str]:
    """'pushy: 最后一件, 没了; overclaim: 百分百' for each row ("" when nothing is flagged)."""
    ex = _explainer(model)
    out = [""] * X.shape[0]
    rows = np.flatnonzero(flags.any(axis=1))
    if len(rows) == 0:
        return out
    sub = X[rows].tocsr()
    for pos, r in enumerate(rows):
        lo, hi = sub.indptr[pos], sub.indptr[pos + 1]
        indices, values = sub.indices[lo:hi], sub.data[lo:hi].astype(np.float64)
        parts = []
        for k, tag in enumerate(model.tags):
            if flags[r, k]:
                words = _top_words(indices, values, ex.coef[k], ex.labels, top)
                parts.append(f"{tag}: {', '.join(w for w, _ in words)}")
        out[r] = "; ".join(parts)
    return out


class _LinearParts:
    """``predict_proba``'s arithmetic, split by feature block (see the module docstring).

    A linear score is a sum over feature blocks, so the reply part of every score is
    computed once per distinct reply, the context part once per distinct context, and the
    (cheap) cross part per pair; the sum then goes through each tag's Platt calibrator.
    """

    def __init__(self, model: ReplyClassifier):
        # (n_features, n_models) and (n_models,) x 4: one column per (tag, calibration fold) model
        weights, self.intercept, self.slope, self.offset, self.tag_of = model.linear_parts()
        n_reply, n_context, _ = model.featurizer.block_sizes()
        self.reply = weights[:n_reply]
        self.context = weights[n_reply:n_reply + n_context]
        self.cross = weights[n_reply + n_context:]
        self.n_tags = len(model.tags_)

    def probabilities(self, scores: np.ndarray) -> np.ndarray:
        """(n, n_models) summed block scores -> (n, n_tags) mean calibrated probabilities."""
        p = expit(self.slope * (scores + self.intercept) + self.offset)
        out = np.zeros((len(scores), self.n_tags))
        for k in range(self.n_tags):
            members = self.tag_of == k
            out[:, k] = p[:, members].sum(axis=1) / members.sum()
        return out


_PARTS: "weakref.WeakKeyDictionary[ReplyClassifier, _LinearParts]" = weakref.WeakKeyDictionary()


def _parts(model: ReplyClassifier) -> _LinearParts:
    return _per_model(_PARTS, model, _LinearParts)


def _score_strings(model: ReplyClassifier, kind: str, strings: np.ndarray) -> np.ndarray:
    """Reply or context part of every linear score, for distinct normalised strings."""
    fz, parts = model.featurizer, _parts(model)
    if kind == "text":
        return np.asarray(fz.reply_matrix(strings) @ parts.reply)
    return np.asarray(fz.context_matrix(strings) @ parts.context)


# -- worker processes (qa_scorer.executors) -------------------------------------------------
_WORKER_MODEL: ReplyClassifier | None = None
_WORKER_ERROR: Exception | None = None
# skops bytes of each model handed to workers, made once per model and process.
_MODEL_BYTES: "weakref.WeakKeyDictionary[ReplyClassifier, bytes]" = weakref.WeakKeyDictionary()


def _load_worker_model(model_bytes: bytes) -> None:
    """Warm-up of a worker process: load the model from skops bytes and initialise jieba."""
    global _WORKER_MODEL, _WORKER_ERROR
    try:
        _WORKER_MODEL = model_from_bytes(model_bytes)
        get_tokenizer()
        _WORKER_ERROR = None
    except Exception as exc:  # noqa: BLE001 - raised again by the first task, with its message
        _WORKER_MODEL, _WORKER_ERROR = None, exc
        raise


def _worker_model() -> ReplyClassifier:
    if _WORKER_MODEL is None:
        raise RuntimeError(f"the tagging worker has no model: {_WORKER_ERROR!r}" if _WORKER_ERROR is not None
                           else "the tagging worker has no model (it was not started by tag_replies)")
    return _WORKER_MODEL


def _worker_score(task: tuple[str, np.ndarray]) -> np.ndarray:
    kind, strings = task
    return _score_strings(_worker_model(), kind, strings)


def _explain_pairs(model: ReplyClassifier, texts: np.ndarray, cross_rows: sp.csr_matrix,
                   flags: np.ndarray) -> list[str]:
    """tag_words for flagged pairs, from their reply features and cross features.

    Context words are never shown as reasons, so the context block is left empty here and
    no context is tokenised again.
    """
    codes, uniques = pd.factorize(texts)
    reply = model.featurizer.reply_matrix(np.asarray(uniques, dtype=object))[codes]
    n_context = model.featurizer.block_sizes()[1]
    X = sp.hstack([reply, sp.csr_matrix((len(texts), n_context), dtype=np.float32), cross_rows],
                  format="csr", dtype=np.float32)
    return _tag_words(model, X, flags)


def _worker_explain(task: tuple[np.ndarray, sp.csr_matrix, np.ndarray]) -> list[str]:
    return _explain_pairs(_worker_model(), *task)


def _start_pool(model: ReplyClassifier, workers: int):
    """A ``qa_scorer.executors`` process pool whose workers hold ``model``."""
    from qa_scorer.executors import make_executor

    model_bytes = _per_model(_MODEL_BYTES, model, model_to_bytes)
    return make_executor("pool", workers=workers, warm=functools.partial(_load_worker_model, model_bytes))


def _chunks(n: int, parts: int) -> list[np.ndarray]:
    return [c for c in np.array_split(np.arange(n), parts) if len(c)]


def _score_all(model: ReplyClassifier, text_uniques: np.ndarray, context_uniques: np.ndarray,
               pool, workers: int) -> tuple[np.ndarray, np.ndarray]:
    """Reply parts for all distinct replies and context parts for all distinct contexts."""
    if pool is None:
        return (_score_strings(model, "text", text_uniques), _score_strings(model, "context", context_uniques))
    # A few chunks per worker of each kind; every distinct string is scored exactly once.
    tasks, owners = [], []
    for kind, strings in (("text", text_uniques), ("context", context_uniques)):
        for chunk in _chunks(len(strings), workers * 2):
            tasks.append((kind, strings[chunk]))
            owners.append(kind)
    results = list(pool.map(_worker_score, tasks))  # in task order
    width = _parts(model).reply.shape[1]
    text_scores = [r for r, o in zip(results, owners) if o == "text"] or [np.zeros((0, width))]
    context_scores = [r for r, o in zip(results, owners) if o == "context"] or [np.zeros((0, width))]
    return np.vstack(text_scores), np.vstack(context_scores)


def tag_replies(replies: pd.DataFrame, model: ReplyClassifier, workers: int = 1, *,
                with_words: bool = True, parallel_min_strings: int = 20_000) -> pd.DataFrame:
    """A copy of ``replies`` with tag columns appended.

    ``replies`` needs ``text``; ``context`` (the buyer's preceding message) is optional.
    Appended: ``pushy, unhelpful, rude, overclaim`` (int 0/1 at the model's thresholds),
    ``p_pushy .. p_overclaim`` (float) and ``tag_words`` (str, e.g.
    ``"pushy: 最后一件, 没了; overclaim: 百分百"``; "" when nothing is flagged).

    Every distinct reply and every distinct context is tokenised and scored once; pairs are
    combined by index.  ``workers > 1`` spreads the distinct strings (and then the
    explanations of flagged pairs) over that many processes when there are at least
    ``parallel_min_strings`` distinct strings (below that a pool costs more than it saves);
    ``workers=1`` never starts a process.
    """
    if "text" not in replies.columns:
        raise ValueError(f"tag_replies needs a 'text' column; the table has: {', '.join(map(str, replies.columns))}")
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    fz = model.featurizer
    text_codes, text_uniques = factorize_normalized(replies["text"])
    if "context" in replies.columns:
        context_codes, context_uniques = factorize_normalized(replies["context"])
    else:
        context_codes, context_uniques = np.zeros(len(replies), dtype=np.intp), np.array([""], dtype=object)
    width = max(len(context_uniques), 1)
    pair_codes, pair_keys = pd.factorize(text_codes.astype(np.int64) * width + context_codes)
    pair_keys = np.asarray(pair_keys, dtype=np.int64)
    pair_text, pair_context = pair_keys // width, pair_keys % width

    use_pool = workers > 1 and len(text_uniques) + len(context_uniques) >= parallel_min_strings
    pool = _start_pool(model, workers) if use_pool else None
    try:
        text_scores, context_scores = _score_all(model, text_uniques, context_uniques, pool, workers)
        parts = _parts(model)
        cross = fz.cross_matrix(pair_text, text_uniques, pair_context, context_uniques)
        scores = text_scores[pair_text] + context_scores[pair_context] + np.asarray(cross @ parts.cross)
        proba = parts.probabilities(scores)
        thresholds = np.array([model.thresholds_[t] for t in model.tags_])
        flags = proba >= thresholds

        words = np.full(len(pair_keys), "", dtype=object)
        flagged = np.flatnonzero(flags.any(axis=1)) if with_words else np.zeros(0, dtype=np.intp)
        if len(flagged):
            texts, cross_rows, row_flags = text_uniques[pair_text[flagged]], cross[flagged], flags[flagged]
            if pool is None:
                words[flagged] = _explain_pairs(model, texts, cross_rows, row_flags)
            else:
                chunks = _chunks(len(flagged), workers * 2)
                results = pool.map(_worker_explain, [(texts[c], cross_rows[c], row_flags[c]) for c in chunks])
                for c, r in zip(chunks, results):
                    words[flagged[c]] = r
    finally:
        if pool is not None:
            pool.close()

    out = replies.copy()
    row_proba = proba[pair_codes]
    for k, tag in enumerate(model.tags):
        out[tag] = (row_proba[:, k] >= thresholds[k]).astype("int64")
    for k, tag in enumerate(model.tags):
        out[f"p_{tag}"] = row_proba[:, k].astype("float64")
    out["tag_words"] = pd.Series(words[pair_codes], index=out.index, dtype="str")
    return out


def explain(model: ReplyClassifier, text: str, context: str = "", top: int = 5) -> dict[str, dict]:
    """Probability, decision and the strongest words for *every* tag of one reply.

    Returns ``{tag: {"p": float, "flagged": bool, "threshold": float, "words": [(word, weight), ...]}}``;
    ``words`` are the reply words/n-grams (and 〔cross features〕) that pushed towards the tag.
    """
    pairs = pd.DataFrame({"text": [text if text is not None else ""], "context": [context or ""]})
    X = model.featurizer.transform(pairs)
    proba = model.predict_proba(pairs)[0]
    ex = _explainer(model)
    indices, values = X.indices, X.data.astype(np.float64)
    return {
        tag: {
            "p": float(proba[k]),
            "flagged": bool(proba[k] >= model.thresholds[tag]),
            "threshold": float(model.thresholds[tag]),
            "words": _top_words(indices, values, ex.coef[k], ex.labels, top),
        }
        for k, tag in enumerate(model.tags)
    }
