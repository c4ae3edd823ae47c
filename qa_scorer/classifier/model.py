"""The reply classifier: corpus checks, training, thresholds, evaluation and safe persistence.

The model is an ordinary scikit-learn ``Pipeline``::

    ReplyFeaturizer  ->  MultiOutputClassifier(CalibratedClassifierCV(LogisticRegression))

one calibrated linear classifier per tag, in ``qa_scorer.schema.TAGS`` order.  It is wrapped in
``ReplyClassifier``, which adds the per-tag decision thresholds (chosen on the validation
split), the tag names, the version and training metadata, and is saved with skops (never
pickle/joblib): loading checks every type in the file against an explicit trusted list.
"""

from __future__ import annotations

import hashlib
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import skops.io
from sklearn.calibration import CalibratedClassifierCV
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.multioutput import MultiOutputClassifier
from sklearn.pipeline import Pipeline

import qa_scorer
from qa_scorer.classifier.features import ReplyFeaturizer
from qa_scorer.model_files import ModelError, default_model_path  # noqa: F401  (re-exported)
from qa_scorer.schema import TAGS

#: Bump when the saved layout of ``ReplyClassifier`` changes.
MODEL_FORMAT = 1
CORPUS_COLUMNS = ("text", "context", *TAGS, "source")
SPLITS = ("train", "validation", "test")

#: Every non-default type a saved model may contain.  skops refuses anything else, so a
#: model file cannot smuggle in code: only scikit-learn / numpy / scipy types and our own
#: classes are listed here (no builtins like ``eval``, no third-party modules).
TRUSTED_TYPES = (
    "numpy.dtype",
    "numpy.float32",
    "numpy.float64",
    "numpy.int64",
    "qa_scorer.classifier.features.ReplyFeaturizer",
    "qa_scorer.classifier.model.ReplyClassifier",
    "qa_scorer.classifier.vectorizers.CharNgramTfidf",
    "qa_scorer.classifier.vectorizers.TokenTfidf",
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.linear_model._logistic.LogisticRegression",
    "sklearn.model_selection._split.StratifiedGroupKFold",
    "sklearn.multioutput.MultiOutputClassifier",
    "sklearn.pipeline.Pipeline",
)


class CorpusError(ValueError):
    """The labelled corpus has wrong columns or labels; the message names file, line and fix."""


# --------------------------------------------------------------------------------------
# The wrapper that is saved
# --------------------------------------------------------------------------------------
class ReplyClassifier:
    """A fitted reply-tagging pipeline plus what is needed to use and trace it.

    Attributes
    ----------
    pipeline:   fitted sklearn ``Pipeline`` (``features`` -> ``classify``).
    tags:       tag names, in the order of the pipeline's outputs (``TAGS``).
    thresholds: ``{tag: probability}``; a reply gets the tag when ``p_tag >= threshold``.
    version:    qa-scorer version that trained the model.
    metadata:   training facts (corpus hash and counts, seed, validation figures, ...).
    """

    def __init__(self, pipeline: Pipeline, tags, thresholds: dict[str, float], version: str,
                 metadata: dict[str, Any] | None = None):
        self.pipeline = pipeline
        self.tags = list(tags)
        self.thresholds = {t: float(thresholds[t]) for t in self.tags}
        self.version = str(version)
        self.format = MODEL_FORMAT
        self.metadata = dict(metadata or {})

    def __repr__(self) -> str:
        th = ", ".join(f"{t}>={v:.2f}" for t, v in self.thresholds.items())
        return f"ReplyClassifier(version={self.version!r}, thresholds: {th})"

    def predict_proba(self, df: pd.DataFrame) -> pd.DataFrame:
        """``p_<tag>`` columns (float) for the rows of ``df`` (``text`` + optional ``context``)."""
        if len(df) == 0:
            return pd.DataFrame({f"p_{t}": pd.Series([], dtype=float) for t in self.tags}, index=df.index)
        probas = self.pipeline.predict_proba(df)
        return pd.DataFrame({f"p_{t}": p[:, 1].astype(float) for t, p in zip(self.tags, probas)},
                            index=df.index)

    def decide(self, proba: pd.DataFrame) -> pd.DataFrame:
        """0/1 tag columns from ``p_<tag>`` columns at the model's thresholds."""
        return pd.DataFrame({t: (proba[f"p_{t}"] >= self.thresholds[t]).astype("int64") for t in self.tags},
                            index=proba.index)

    # The fitted pieces explanations need -------------------------------------------------
    @property
    def featurizer(self) -> ReplyFeaturizer:
        return self.pipeline.named_steps["features"]

    def coefficients(self) -> np.ndarray:
        """(n_tags, n_features) linear weights: the mean over each tag's calibration folds.

        The probability is a monotone (sigmoid) function of each fold model's score, so these
        weights say which features pushed a reply towards a tag.
        """
        rows = []
        for calibrated in self.pipeline.named_steps["classify"].estimators_:
            coefs = [cc.estimator.coef_.ravel() for cc in calibrated.calibrated_classifiers_]
            rows.append(np.mean(coefs, axis=0))
        return np.vstack(rows)


# --------------------------------------------------------------------------------------
# Corpus
# --------------------------------------------------------------------------------------
def validate_corpus(df: pd.DataFrame, name: str = "corpus") -> pd.DataFrame:
    """Check columns and labels; return a clean copy (labels int64, text/context str, source str).

    ``context`` and ``source`` are optional (missing context = "", missing source = one group
    per row).  Line numbers in errors are CSV lines (header = line 1).
    """
    missing = [c for c in ("text", *TAGS) if c not in df.columns]
    if missing:
        raise CorpusError(
            f"{name}: missing column(s) {', '.join(missing)}; it has {', '.join(map(str, df.columns))}. "
            f"A corpus needs text,context,{','.join(TAGS)},source (context and source may be empty)."
        )
    out = df.copy()
    out["text"] = out["text"].astype(object).where(out["text"].notna(), "").astype(str)
    if "context" not in out.columns:
        out["context"] = ""
    out["context"] = out["context"].astype(object).where(out["context"].notna(), "").astype(str)
    empty = out["text"].str.strip() == ""
    if empty.any():
        line = int(np.flatnonzero(empty.to_numpy())[0]) + 2
        raise CorpusError(f"{name} line {line}: empty text; every row needs the reply text.")
    for tag in TAGS:
        raw = out[tag]
        as_text = raw.astype(object).where(raw.notna(), "").astype(str).str.strip()
        ok = as_text.isin(["0", "1", "0.0", "1.0", "True", "False", "true", "false"])
        if not ok.all():
            line = int(np.flatnonzero(~ok.to_numpy())[0]) + 2
            raise CorpusError(
                f"{name} line {line}: {tag} must be 0 or 1, got {as_text.iloc[line - 2]!r}."
            )
        out[tag] = as_text.isin(["1", "1.0", "True", "true"]).astype("int64")
    if "source" not in out.columns:
        out["source"] = [f"row{i}" for i in range(len(out))]
    src = out["source"].astype(object)
    no_source = src.isna() | (src.astype(str).str.strip() == "")
    out["source"] = src.astype(str).where(~no_source, pd.Series([f"row{i}" for i in range(len(out))],
                                                                index=out.index))
    return out


def split_by_group(groups: pd.Series, seed: int = 0, fractions=(0.70, 0.15, 0.15)) -> pd.Series:
    """Assign whole groups (rows sharing ``source``) to train/validation/test.

    Variants of one base sentence must never straddle splits, or the test figures would
    measure memory instead of generalisation.  Groups are shuffled with ``seed`` and cut so
    that the *row* counts come close to ``fractions``.
    """
    if abs(sum(fractions) - 1.0) > 1e-9:
        raise ValueError(f"split fractions must add up to 1, got {fractions}")
    sizes = groups.astype(str).value_counts(sort=False).sort_index()
    order = np.random.default_rng(seed).permutation(len(sizes))
    shuffled = sizes.iloc[order]
    cum = shuffled.cumsum().to_numpy() / len(groups)
    # The group whose cumulative share first passes a cut point belongs to the earlier split.
    cut1, cut2 = fractions[0], fractions[0] + fractions[1]
    labels = np.where(cum - shuffled.to_numpy() / len(groups) < cut1, "train",
                      np.where(cum - shuffled.to_numpy() / len(groups) < cut2, "validation", "test"))
    mapping = pd.Series(labels, index=shuffled.index)
    return groups.astype(str).map(mapping).rename("split")


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------
def build_pipeline(seed: int = 0, calibration_folds: int = 3, C: float = 32.0) -> Pipeline:
    """The untrained pipeline (features + one calibrated logistic regression per tag)."""
    linear = LogisticRegression(C=C, solver="liblinear", class_weight="balanced", max_iter=2000,
                                random_state=seed)
    # Sigmoid calibration on group-aware folds: variants of one sentence stay in one fold, so
    # the calibrator sees honest out-of-fold scores.
    calibrated = CalibratedClassifierCV(
        linear, method="sigmoid", ensemble=True,
        cv=StratifiedGroupKFold(n_splits=calibration_folds, shuffle=True, random_state=seed),
    )
    return Pipeline([("features", ReplyFeaturizer()), ("classify", MultiOutputClassifier(calibrated))])


def fit_pipeline(pipeline: Pipeline, df: pd.DataFrame) -> Pipeline:
    """Fit on ``df`` (clean corpus rows), routing the ``source`` groups to the calibration folds."""
    y = df[list(TAGS)].to_numpy()
    for i, tag in enumerate(TAGS):
        counts = np.bincount(y[:, i], minlength=2)
        if counts.min() < 3:
            raise CorpusError(f"cannot train: tag {tag!r} has {counts[1]} positive and {counts[0]} negative "
                              "training rows; each tag needs at least 3 of both.")
    with sklearn.config_context(enable_metadata_routing=True):
        pipeline.fit(df[["text", "context"]], y, groups=df["source"].to_numpy())
    return pipeline


def _precision_at(y: np.ndarray, p: np.ndarray, t: float) -> tuple[float, int]:
    flagged = p >= t
    n = int(flagged.sum())
    return (float(y[flagged].mean()) if n else 1.0), n


def choose_thresholds(y_true: pd.DataFrame, proba: pd.DataFrame, *, target_precision: float = 0.9,
                      margin: float = 0.04, min_threshold: float = 0.3,
                      max_fine_flag_rate: float = 0.01) -> tuple[dict[str, float], dict[str, Any]]:
    """Per-tag thresholds from validation labels and probabilities.

    1. Per tag: the lowest threshold (>= ``min_threshold``) whose validation precision is at
       least ``target_precision + margin``.  If none reaches it, the threshold that gives the
       best precision (ties: the lower one).
    2. Then, while the share of *fine* validation replies (no tag at all) flagged by any tag
       exceeds ``max_fine_flag_rate``, raise one tag's threshold just above a flagged fine
       reply, choosing the tag that loses the fewest validation true positives per fine reply
       cleared.  This guards the product rule "fewer than 2 % of fine replies flagged" with a
       margin.
    Returns ``(thresholds, notes)``.
    """
    goal = target_precision + margin
    thresholds: dict[str, float] = {}
    candidates: dict[str, np.ndarray] = {}
    notes: dict[str, Any] = {"target_precision": target_precision, "margin": margin,
                             "min_threshold": min_threshold, "max_fine_flag_rate": max_fine_flag_rate,
                             "per_tag": {}}
    for tag in y_true.columns:
        y = y_true[tag].to_numpy()
        p = proba[f"p_{tag}"].to_numpy()
        # Candidates are the validation scores themselves: any threshold between two scores
        # flags the same validation rows, and the score itself is the most cautious of them.
        cand = np.unique(np.concatenate([p[p >= min_threshold], [1.0]]))
        candidates[tag] = cand
        chosen = None
        best_t, best_prec = cand[-1], -1.0
        for t in cand:
            prec, n = _precision_at(y, p, t)
            if n and prec >= goal and chosen is None:
                chosen = float(t)
            if n and prec > best_prec + 1e-12:
                best_t, best_prec = float(t), prec
        thresholds[tag] = chosen if chosen is not None else best_t
        notes["per_tag"][tag] = {"reached_goal": chosen is not None}

    fine = (y_true.sum(axis=1) == 0).to_numpy()
    raised: list[str] = []
    if fine.any():
        fine_p = {t: proba[f"p_{t}"].to_numpy()[fine] for t in y_true.columns}
        pos_p = {t: proba[f"p_{t}"].to_numpy()[y_true[t].to_numpy() == 1] for t in y_true.columns}
        while True:
            flags = {t: fine_p[t] >= thresholds[t] for t in y_true.columns}
            union = np.logical_or.reduce(list(flags.values()))
            if union.mean() <= max_fine_flag_rate:
                break
            # Cheapest raise first: for each tag, the smallest step that un-flags at least one fine
            # reply; pick the tag losing the fewest true positives per fine reply cleared.
            best = None
            for t in y_true.columns:
                others = np.logical_or.reduce([flags[o] for o in y_true.columns if o != t] or [np.zeros_like(union)])
                above = np.sort(fine_p[t][flags[t]])
                for step in above:
                    new_t = np.nextafter(step, 2.0)
                    cleared = int(union.sum() - (others | (fine_p[t] >= new_t)).sum())
                    if cleared:
                        lost = int(((pos_p[t] >= thresholds[t]) & (pos_p[t] < new_t)).sum())
                        cost = lost / cleared
                        if best is None or cost < best[0]:
                            best = (cost, t, new_t)
                        break
            if best is None:
                break
            _, worst, new_t = best
            higher = candidates[worst][candidates[worst] >= new_t]
            thresholds[worst] = float(higher[0]) if len(higher) else 1.0
            raised.append(worst)
    notes["raised_for_fine_rate"] = {t: raised.count(t) for t in set(raised)}
    return {t: float(v) for t, v in thresholds.items()}, notes


def corpus_fingerprint(df: pd.DataFrame) -> str:
    payload = df[["text", "context", *TAGS, "source"]].to_csv(index=False).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


def out_of_fold_proba(df: pd.DataFrame, seed: int = 0, folds: int = 5, calibration_folds: int = 3) -> pd.DataFrame:
    """``p_<tag>`` for every row of ``df`` from models that did not see its ``source`` group."""
    y = df[list(TAGS)].to_numpy()
    # Stratify on "has any tag" so every fold has fine and tagged rows.
    strata = y.any(axis=1).astype(int)
    splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=seed)
    proba = np.zeros((len(df), len(TAGS)))
    for train_idx, test_idx in splitter.split(df, strata, df["source"]):
        pipe = fit_pipeline(build_pipeline(seed, calibration_folds=calibration_folds), df.iloc[train_idx])
        fold_model = ReplyClassifier(pipe, TAGS, {t: 0.5 for t in TAGS}, qa_scorer.__version__)
        proba[test_idx] = fold_model.predict_proba(df.iloc[test_idx][["text", "context"]]).to_numpy()
    return pd.DataFrame(proba, columns=[f"p_{t}" for t in TAGS], index=df.index)


def train_model(corpus_df: pd.DataFrame, seed: int = 0, *, name: str = "corpus",
                target_precision: float = 0.9, margin: float = 0.04, min_threshold: float = 0.3,
                max_fine_flag_rate: float = 0.01, calibration_folds: int = 3,
                threshold_folds: int = 5) -> ReplyClassifier:
    """Fit on the ``train`` split, choose thresholds on held-out predictions; never look at ``test``.

    Thresholds (``choose_thresholds``) are chosen on the ``validation`` split's predictions
    by the fitted model, pooled with ``threshold_folds``-fold out-of-fold predictions on the
    train split (group folds by ``source``; 0 = validation only).  Why pooled: a validation
    split of a few hundred fine replies is too small to place a threshold that must keep the
    fine-reply flag rate under 2 %; one lucky split let a threshold sit far too low.

    If ``corpus_df`` has no ``split`` column, whole ``source`` groups are split 70/15/15 with
    ``seed`` (``split_by_group``).  Same corpus + seed -> same model, thresholds and figures.
    """
    df = validate_corpus(corpus_df, name)
    if "split" in df.columns:
        bad = ~df["split"].isin(SPLITS)
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise CorpusError(f"{name} line {line}: split must be one of {', '.join(SPLITS)}, "
                              f"got {df['split'].iloc[line - 2]!r}.")
    else:
        df["split"] = split_by_group(df["source"], seed)
    train = df[df["split"] == "train"]
    valid = df[df["split"] == "validation"]
    if len(valid) == 0:
        raise CorpusError(f"{name}: no validation rows; thresholds are chosen on the validation split.")

    pipeline = fit_pipeline(build_pipeline(seed, calibration_folds=calibration_folds), train)
    model = ReplyClassifier(pipeline, TAGS, {t: 0.5 for t in TAGS}, qa_scorer.__version__)
    held_labels, held_proba = [valid[list(TAGS)]], [model.predict_proba(valid[["text", "context"]])]
    if threshold_folds:
        held_labels.append(train[list(TAGS)])
        held_proba.append(out_of_fold_proba(train, seed, threshold_folds, calibration_folds))
    labels = pd.concat(held_labels, ignore_index=True)
    proba = pd.concat(held_proba, ignore_index=True)
    thresholds, notes = choose_thresholds(labels, proba, target_precision=target_precision, margin=margin,
                                          min_threshold=min_threshold, max_fine_flag_rate=max_fine_flag_rate)
    notes["chosen_on"] = (f"validation split ({len(valid)} rows)"
                          + (f" + {threshold_folds}-fold out-of-fold predictions on the train split "
                             f"({len(train)} rows)" if threshold_folds else ""))
    model.thresholds = thresholds
    held_out = metrics_from_predictions(labels, model.decide(proba), thresholds)
    validation = evaluate_model(model, valid)
    model.metadata = {
        "trained_with": {"qa_scorer": qa_scorer.__version__, "scikit-learn": sklearn.__version__,
                         "skops": skops.__version__},
        "seed": int(seed),
        "corpus_sha256": corpus_fingerprint(df),
        "rows": {s: int((df["split"] == s).sum()) for s in SPLITS},
        "groups": {s: int(df.loc[df["split"] == s, "source"].nunique()) for s in SPLITS},
        "positives_train": {t: int(train[t].sum()) for t in TAGS},
        "threshold_rule": notes,
        "threshold_rows": held_out.to_dict(),
        "validation": validation.to_dict(),
        "features": "jieba word 1-2gram TF-IDF + char 1-3gram TF-IDF (reply), jieba word TF-IDF (context), "
                    "length/acknowledgement/question cross features",
        "classifier": f"LogisticRegression(liblinear, C=32, balanced) in CalibratedClassifierCV(sigmoid, "
                      f"{calibration_folds} StratifiedGroupKFold folds), one per tag",
    }
    return model


# --------------------------------------------------------------------------------------
# Evaluation
# --------------------------------------------------------------------------------------
@dataclass
class EvaluationReport:
    """Per-tag precision/recall/F1/support and the share of fine replies flagged."""

    per_tag: pd.DataFrame            # index = tag; precision, recall, f1, support, flagged, threshold
    fine_rows: int                   # rows with no tag in the labels
    fine_flagged: int                # of those, rows the model flagged with any tag
    rows: int
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def fine_flag_rate(self) -> float:
        return self.fine_flagged / self.fine_rows if self.fine_rows else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": int(self.rows),
            "fine_rows": int(self.fine_rows),
            "fine_flagged": int(self.fine_flagged),
            "fine_flag_rate": round(float(self.fine_flag_rate), 6),
            "per_tag": {
                tag: {k: (round(float(v), 6) if isinstance(v, (float, np.floating)) else int(v))
                      for k, v in row.items()}
                for tag, row in self.per_tag.to_dict(orient="index").items()
            },
            **self.extra,
        }


def metrics_from_predictions(labels: pd.DataFrame, predicted: pd.DataFrame,
                             thresholds: dict[str, float] | None = None) -> EvaluationReport:
    """The report from 0/1 label columns and 0/1 predicted columns (same tags, same rows)."""
    rows = {}
    for tag in TAGS:
        y = labels[tag].to_numpy().astype(bool)
        pred = predicted[tag].to_numpy().astype(bool)
        tp = int((y & pred).sum())
        flagged = int(pred.sum())
        support = int(y.sum())
        precision = tp / flagged if flagged else 0.0
        recall = tp / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        rows[tag] = {"precision": precision, "recall": recall, "f1": f1, "support": support,
                     "flagged": flagged, "true_positives": tp}
        if thresholds is not None:
            rows[tag]["threshold"] = float(thresholds[tag])
    per_tag = pd.DataFrame.from_dict(rows, orient="index")
    fine = (labels[list(TAGS)].sum(axis=1) == 0).to_numpy()
    any_flag = (predicted[list(TAGS)].sum(axis=1) > 0).to_numpy()
    return EvaluationReport(per_tag=per_tag, fine_rows=int(fine.sum()), fine_flagged=int((fine & any_flag).sum()),
                            rows=len(labels))


def evaluate_model(model: ReplyClassifier, df: pd.DataFrame, *, name: str = "data") -> EvaluationReport:
    """Tag the labelled rows of ``df`` and compare with their labels."""
    clean = validate_corpus(df, name)
    predicted = model.decide(model.predict_proba(clean[["text", "context"]]))
    return metrics_from_predictions(clean, predicted, model.thresholds)


def cross_validate(df: pd.DataFrame, thresholds: dict[str, float], seed: int = 0, folds: int = 5,
                   calibration_folds: int = 3) -> EvaluationReport:
    """Out-of-fold figures on ``df`` (group folds by ``source``) at the given thresholds."""
    clean = validate_corpus(df)
    proba = out_of_fold_proba(clean, seed, folds, calibration_folds)
    predicted = pd.DataFrame({t: (proba[f"p_{t}"] >= thresholds[t]).astype(int) for t in TAGS}, index=clean.index)
    report = metrics_from_predictions(clean, predicted, thresholds)
    report.extra["folds"] = folds
    return report


# --------------------------------------------------------------------------------------
# Persistence (skops only)
# --------------------------------------------------------------------------------------
def save_model(model: ReplyClassifier, path: str | Path) -> Path:
    """Write ``model`` with skops (zip-compressed)."""
    if not isinstance(model, ReplyClassifier):
        raise TypeError(f"save_model expects a ReplyClassifier, got {type(model).__name__}")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    skops.io.dump(model, path, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    return path


def _check_and_load(source, label: str) -> ReplyClassifier:
    """skops load of bytes or a path, refusing any type outside ``TRUSTED_TYPES``."""
    kwargs = {"data": source} if isinstance(source, bytes) else {"file": source}
    try:
        untrusted = skops.io.get_untrusted_types(**kwargs)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelError(f"{label}: not a skops model file ({exc}). Models are saved by `qa-scorer train`.") from None
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown:
        raise ModelError(
            f"{label}: refusing to load: the file contains types outside the trusted list: {', '.join(unknown)}. "
            "Only scikit-learn/numpy/scipy types and qa_scorer.classifier classes are allowed; "
            "re-train the model with `qa-scorer train` instead of loading an unknown file."
        )
    loader = skops.io.loads if isinstance(source, bytes) else skops.io.load
    obj = loader(source, trusted=list(untrusted))
    if not isinstance(obj, ReplyClassifier):
        raise ModelError(f"{label}: holds a {type(obj).__name__}, not a ReplyClassifier.")
    if getattr(obj, "format", None) != MODEL_FORMAT or list(obj.tags) != list(TAGS):
        raise ModelError(f"{label}: model format {getattr(obj, 'format', None)} with tags {obj.tags}; this "
                         f"qa-scorer needs format {MODEL_FORMAT} with tags {list(TAGS)}. Re-train it.")
    return obj


def load_model(path: str | Path | None = None) -> ReplyClassifier:
    """Load a saved model (default: the shipped ``reply_tagger.skops``), checking its types."""
    path = Path(path) if path is not None else default_model_path()
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    return _check_and_load(path, str(path))


def model_from_bytes(data: bytes) -> ReplyClassifier:
    """Load a model from ``skops.io.dumps`` bytes (used to hand the model to worker processes)."""
    return _check_and_load(data, "model bytes")


def model_to_bytes(model: ReplyClassifier) -> bytes:
    return skops.io.dumps(model)
