"""The reply classifier: an ordinary scikit-learn estimator, plus corpus checks, training,
thresholds, evaluation and safe persistence.

``ReplyClassifier`` is a multi-label classifier (``MultiOutputMixin, ClassifierMixin,
BaseEstimator``)::

    clf = ReplyClassifier(C=32.0, calibration_folds=3, threshold_folds=5, random_state=0)
    clf.fit(X, Y, groups=None, X_val=None, Y_val=None)
    clf.predict_proba(X)   # (n_samples, n_tags) float: P(tag) per reply, columns in ``clf.tags_``
    clf.predict(X)         # (n_samples, n_tags) int 0/1: P(tag) >= clf.thresholds_[tag]

``X`` is a DataFrame with a ``text`` column and an optional ``context`` column (the buyer's
message before the reply); ``Y`` the 0/1 label matrix of the tags ``pushy, unhelpful, rude,
overclaim`` (a DataFrame with those columns, or an ``(n_samples, 4)`` array in that order).
The shapes follow scikit-learn's multi-label convention (like ``OneVsRestClassifier`` on a
label-indicator matrix): one column per tag, ``predict_proba`` the positive-class
probability of each tag.

Fitted, it holds:

* ``featurizer_``: the fitted ``ReplyFeaturizer`` (sparse TF-IDF + cross features).
* ``estimators_[k][f]``: for tag k and calibration fold f, a ``LogisticRegression``
  (liblinear, ``class_weight="balanced"``) fitted on the other ``calibration_folds - 1``
  group folds (variants of one sentence stay in one fold);
* ``calibrators_[k][f]``: its Platt scaling - a ``LogisticRegression`` on one feature, the
  linear model's decision score - fitted on fold f's held-out scores with Platt's
  prior-corrected targets.  ``P(tag k)`` is the mean over f of
  ``calibrators_[k][f].predict_proba(estimators_[k][f].decision_function(x))``: the scheme
  of ``CalibratedClassifierCV(method="sigmoid", ensemble=True)``, done with public pieces.
* ``thresholds_`` (``{tag: p}``), ``tags_``, ``classes_``, ``version_``, ``format_``,
  ``metadata_`` (training facts: versions, ``trained_at``, corpus hash and rows, figures).

Both stages expose only public attributes (``coef_`` / ``intercept_``), which is what the
fast tagging path in ``tagging.py`` reads; no private scikit-learn class is stored, so the
saved file (skops, never pickle) contains only the types in ``TRUSTED_TYPES``.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import os
import zipfile
from dataclasses import dataclass, field
from numbers import Real
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import sklearn
import skops.io
from sklearn.base import BaseEstimator, ClassifierMixin, MultiOutputMixin, clone
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.utils.validation import check_is_fitted

import qa_scorer
from qa_scorer.classifier.features import ReplyFeaturizer
from qa_scorer.model_files import ModelError, default_model_path  # noqa: F401  (re-exported)
from qa_scorer.schema import TAGS

#: Bump when the saved layout of ``ReplyClassifier`` changes.
#: 1: CalibratedClassifierCV wrapper (qa-scorer 0.1.0); 2: scikit-learn estimator with own Platt scaling.
MODEL_FORMAT = 2
CORPUS_COLUMNS = ("text", "context", *TAGS, "source")
SPLITS = ("train", "validation", "test")

#: Every non-default type a saved model may contain.  skops refuses anything else, so a
#: model file cannot smuggle in code: only scikit-learn / numpy / scipy types and our own
#: classes are listed here (no builtins like ``eval``, no third-party modules), and no
#: private scikit-learn class.
TRUSTED_TYPES = (
    "numpy.dtype",
    "numpy.float32",
    "numpy.float64",
    "numpy.int64",
    "qa_scorer.classifier.features.ReplyFeaturizer",
    "qa_scorer.classifier.model.ReplyClassifier",
    "qa_scorer.classifier.vectorizers.CharNgramTfidf",
    "qa_scorer.classifier.vectorizers.TokenTfidf",
    "sklearn.linear_model._logistic.LogisticRegression",
)
#: Types of a format-1 model file (qa-scorer 0.1.0): recognised to say "re-train" instead of "untrusted".
_FORMAT_1_TYPES = frozenset({
    "sklearn.calibration.CalibratedClassifierCV",
    "sklearn.calibration._CalibratedClassifier",
    "sklearn.calibration._SigmoidCalibration",
    "sklearn.model_selection._split.StratifiedGroupKFold",
})


class CorpusError(ValueError):
    """The labelled corpus has wrong columns or labels; the message names file, line and fix."""


# --------------------------------------------------------------------------------------
# The estimator
# --------------------------------------------------------------------------------------
def _check_X(X, what: str = "X") -> pd.DataFrame:
    if not isinstance(X, pd.DataFrame) or "text" not in X.columns:
        got = ", ".join(map(str, X.columns)) if isinstance(X, pd.DataFrame) else type(X).__name__
        raise ValueError(f"ReplyClassifier: {what} must be a DataFrame with a 'text' column (and optional "
                         f"'context'); got {got}")
    return X


def _label_matrix(Y, n_rows: int, what: str = "Y") -> np.ndarray:
    """``Y`` as an (n_rows, n_tags) int64 0/1 matrix in ``TAGS`` order."""
    if isinstance(Y, pd.DataFrame):
        missing = [t for t in TAGS if t not in Y.columns]
        if missing:
            raise ValueError(f"ReplyClassifier: {what} lacks tag column(s) {', '.join(missing)}; "
                             f"it has {', '.join(map(str, Y.columns))}")
        Y = Y[list(TAGS)].to_numpy()
    Y = np.asarray(Y)
    if Y.shape != (n_rows, len(TAGS)):
        raise ValueError(f"ReplyClassifier: {what} must have shape ({n_rows}, {len(TAGS)}) - one 0/1 column per "
                         f"tag {', '.join(TAGS)} - got {Y.shape}")
    if not np.isin(Y, (0, 1)).all():
        raise ValueError(f"ReplyClassifier: {what} must hold only 0 and 1")
    return Y.astype(np.int64)


def _platt(scores: np.ndarray, y: np.ndarray) -> LogisticRegression:
    """Platt scaling: a one-feature logistic regression of ``y`` on ``scores``.

    Platt's prior-corrected targets ((N+ + 1)/(N+ + 2) for positives, 1/(N- + 2) for
    negatives) keep the fit finite when the scores separate the classes; a soft target t
    is the row twice, as a positive with weight t and as a negative with weight 1 - t.
    No penalty (``C=inf``): the targets are the regularisation.
    """
    n_pos = int(y.sum())
    n_neg = len(y) - n_pos
    target = np.where(y == 1, (n_pos + 1.0) / (n_pos + 2.0), 1.0 / (n_neg + 2.0))
    s = scores.reshape(-1, 1)
    calibrator = LogisticRegression(C=np.inf, solver="lbfgs", max_iter=1000, tol=1e-10)
    calibrator.fit(np.vstack([s, s]), np.r_[np.ones(len(s)), np.zeros(len(s))],
                   sample_weight=np.r_[target, 1.0 - target])
    return calibrator


def _utc_now() -> str:
    """ISO time of training (``SOURCE_DATE_EPOCH``, when set, makes it reproducible)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    now = (_dt.datetime.fromtimestamp(int(epoch), _dt.timezone.utc) if epoch
           else _dt.datetime.now(_dt.timezone.utc))
    return now.replace(microsecond=0).isoformat().replace("+00:00", "Z")


class ReplyClassifier(MultiOutputMixin, ClassifierMixin, BaseEstimator):
    """Tags agent replies as pushy / unhelpful / rude / overclaim (multi-label).

    Parameters (hyper-parameters only; stored unchanged, so ``get_params`` / ``set_params`` /
    ``clone`` work)
    ----------
    C : float, default 32.0
        Inverse L2 strength of each tag's ``LogisticRegression`` (liblinear).
    class_weight : "balanced", dict or None, default "balanced"
        Class weights of each tag's linear model.
    calibration_folds : int, default 3
        Group folds whose out-of-fold decision scores the Platt calibrators are fitted on.
    threshold_folds : int, default 5
        ``thresholds_`` are chosen (``choose_thresholds``) on held-out predictions: those on
        ``X_val`` (when given to ``fit``) pooled with ``threshold_folds``-fold out-of-fold
        predictions on the fit rows (0 = ``X_val`` only).
    target_precision, margin, min_threshold, max_fine_flag_rate : float
        The threshold rule, see ``choose_thresholds``.
    fixed_thresholds : None, float or {tag: float}, default None
        Use these thresholds instead of choosing them (no out-of-fold fits).
    features : ReplyFeaturizer or None, default None
        Unfitted feature extractor (cloned in ``fit``); None = ``ReplyFeaturizer()``.
    random_state : int, default 0
        Seed of the folds and of liblinear.

    Shapes: ``predict_proba(X)`` and ``predict(X)`` return ``(n_samples, n_tags)`` arrays,
    columns in ``tags_`` order (``qa_scorer.schema.TAGS``); ``predict_proba_frame(X)`` the
    ``p_<tag>`` DataFrame indexed like ``X``.
    """

    def __init__(self, *, C=32.0, class_weight="balanced", calibration_folds=3, threshold_folds=5,
                 target_precision=0.9, margin=0.04, min_threshold=0.3, max_fine_flag_rate=0.01,
                 fixed_thresholds=None, features=None, random_state=0):
        self.C = C
        self.class_weight = class_weight
        self.calibration_folds = calibration_folds
        self.threshold_folds = threshold_folds
        self.target_precision = target_precision
        self.margin = margin
        self.min_threshold = min_threshold
        self.max_fine_flag_rate = max_fine_flag_rate
        self.fixed_thresholds = fixed_thresholds
        self.features = features
        self.random_state = random_state

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_label = True
        tags.target_tags.single_output = False
        tags.target_tags.two_d_labels = True
        tags.input_tags.string = True
        return tags

    def __sklearn_is_fitted__(self) -> bool:
        return hasattr(self, "featurizer_") and hasattr(self, "thresholds_")

    # -- fitting ---------------------------------------------------------------------------
    def _linear(self) -> LogisticRegression:
        return LogisticRegression(C=self.C, solver="liblinear", class_weight=self.class_weight, max_iter=2000,
                                  random_state=self.random_state)

    def _fit_scorer(self, X: pd.DataFrame, Y: np.ndarray, groups: np.ndarray) -> "ReplyClassifier":
        """``featurizer_``, ``estimators_`` and ``calibrators_`` (everything but the thresholds)."""
        for k, tag in enumerate(TAGS):
            counts = np.bincount(Y[:, k], minlength=2)
            if counts.min() < 3:
                raise CorpusError(f"cannot train: tag {tag!r} has {counts[1]} positive and {counts[0]} negative "
                                  "training rows; each tag needs at least 3 of both.")
        if int(self.calibration_folds) < 2:
            raise ValueError(f"calibration_folds must be >= 2, got {self.calibration_folds}")
        featurizer = clone(self.features) if self.features is not None else ReplyFeaturizer()
        Xf = featurizer.fit(X).transform(X)
        linear = self._linear()
        estimators, calibrators = [], []
        for k in range(len(TAGS)):
            # Group folds: variants of one sentence stay in one fold, so each calibrator sees
            # honest out-of-fold scores of its linear model.
            folds = StratifiedGroupKFold(n_splits=int(self.calibration_folds), shuffle=True,
                                         random_state=self.random_state)
            tag_estimators, tag_calibrators = [], []
            for train_idx, test_idx in folds.split(Xf, Y[:, k], groups):
                fold_model = clone(linear).fit(Xf[train_idx], Y[train_idx, k])
                tag_estimators.append(fold_model)
                tag_calibrators.append(_platt(fold_model.decision_function(Xf[test_idx]), Y[test_idx, k]))
            estimators.append(tag_estimators)
            calibrators.append(tag_calibrators)
        self.featurizer_ = featurizer
        self.estimators_ = estimators
        self.calibrators_ = calibrators
        self.tags_ = list(TAGS)
        self.classes_ = [np.array([0, 1]) for _ in TAGS]
        return self

    def _out_of_fold(self, X: pd.DataFrame, Y: np.ndarray, groups: np.ndarray, folds: int) -> np.ndarray:
        """(n, n_tags) probabilities of every row from models that did not see its group."""
        strata = Y.any(axis=1).astype(int)  # every fold gets fine and tagged rows
        splitter = StratifiedGroupKFold(n_splits=folds, shuffle=True, random_state=self.random_state)
        proba = np.zeros(Y.shape, dtype=np.float64)
        for train_idx, test_idx in splitter.split(X, strata, groups):
            fold = clone(self)._fit_scorer(X.iloc[train_idx], Y[train_idx], groups[train_idx])
            proba[test_idx] = fold._proba(X.iloc[test_idx])
        return proba

    def fit(self, X, Y, groups=None, X_val=None, Y_val=None) -> "ReplyClassifier":
        """Fit features, one linear model and one Platt calibrator per tag, then the thresholds.

        X: DataFrame (``text``, optional ``context``); Y: DataFrame with the tag columns or an
        (n_samples, n_tags) 0/1 array.  ``groups`` (e.g. the corpus ``source``): rows of one
        group never sit on both sides of a calibration or threshold fold (None: every row its
        own group).  ``X_val`` / ``Y_val``: held-out rows whose predictions join the
        out-of-fold ones for choosing ``thresholds_`` (see ``threshold_folds``).
        """
        X = _check_X(X)
        Y = _label_matrix(Y, len(X))
        groups = (np.arange(len(X)) if groups is None
                  else pd.Series(np.asarray(groups)).astype(str).to_numpy(dtype=object))
        if len(groups) != len(X):
            raise ValueError(f"groups has {len(groups)} entries for {len(X)} rows")
        self._fit_scorer(X, Y, groups)

        held_labels, held_proba, chosen_on = [], [], []
        if self.fixed_thresholds is not None:
            fixed = self.fixed_thresholds
            thresholds = ({t: float(fixed) for t in TAGS} if isinstance(fixed, Real)
                          else {t: float(fixed[t]) for t in TAGS})
            notes: dict[str, Any] = {"fixed": True}
        else:
            if X_val is not None:
                X_val = _check_X(X_val, "X_val")
                held_labels.append(_label_matrix(Y_val, len(X_val), "Y_val"))
                held_proba.append(self._proba(X_val))
                chosen_on.append(f"validation rows ({len(X_val)})")
            folds = int(self.threshold_folds or 0)
            if folds:
                if folds < 2:
                    raise ValueError(f"threshold_folds must be 0 or >= 2, got {self.threshold_folds}")
                held_labels.append(Y)
                held_proba.append(self._out_of_fold(X, Y, groups, folds))
                chosen_on.append(f"{folds}-fold out-of-fold predictions on the fit rows ({len(X)})")
            if not held_labels:
                raise ValueError("thresholds are chosen on held-out predictions: give X_val/Y_val, "
                                 "threshold_folds >= 2 or fixed_thresholds")
            labels = pd.DataFrame(np.vstack(held_labels), columns=list(TAGS))
            proba = pd.DataFrame(np.vstack(held_proba), columns=[f"p_{t}" for t in TAGS])
            thresholds, notes = choose_thresholds(
                labels, proba, target_precision=self.target_precision, margin=self.margin,
                min_threshold=self.min_threshold, max_fine_flag_rate=self.max_fine_flag_rate)
            notes["chosen_on"] = " + ".join(chosen_on)
        self.thresholds_ = {t: float(thresholds[t]) for t in TAGS}
        self.version_ = qa_scorer.__version__
        self.format_ = MODEL_FORMAT
        self.metadata_ = {
            "trained_at": _utc_now(),
            "trained_with": {"qa_scorer": qa_scorer.__version__, "scikit-learn": sklearn.__version__,
                             "skops": skops.__version__},
            "seed": (int(self.random_state) if isinstance(self.random_state, (int, np.integer))
                     else None if self.random_state is None else repr(self.random_state)),
            "fit_rows": int(len(X)),
            "positives_fit": {t: int(Y[:, k].sum()) for k, t in enumerate(TAGS)},
            "threshold_rule": notes,
            "features": "jieba word 1-2gram TF-IDF + char 1-3gram TF-IDF (reply), jieba word TF-IDF (context), "
                        "length/acknowledgement/question cross features",
            "classifier": f"per tag, {self.calibration_folds} LogisticRegression(liblinear, C={self.C:g}, "
                          f"{self.class_weight}) on StratifiedGroupKFold folds, each Platt-scaled on its held-out "
                          "fold; probabilities averaged",
        }
        if held_labels:
            labels_df = pd.DataFrame(np.vstack(held_labels), columns=list(TAGS))
            predicted = pd.DataFrame((np.vstack(held_proba) >= self._threshold_array()).astype(np.int64),
                                     columns=list(TAGS))
            self.metadata_["threshold_rows"] = metrics_from_predictions(labels_df, predicted,
                                                                        self.thresholds_).to_dict()
        return self

    # -- prediction ------------------------------------------------------------------------
    def _threshold_array(self) -> np.ndarray:
        return np.array([self.thresholds_[t] for t in self.tags_], dtype=np.float64)

    def _proba(self, X: pd.DataFrame) -> np.ndarray:
        if len(X) == 0:
            return np.zeros((0, len(self.tags_)), dtype=np.float64)
        Xf = self.featurizer_.transform(X)
        out = np.zeros((len(X), len(self.tags_)), dtype=np.float64)
        for k in range(len(self.tags_)):
            for est, cal in zip(self.estimators_[k], self.calibrators_[k]):
                out[:, k] += cal.predict_proba(est.decision_function(Xf).reshape(-1, 1))[:, 1]
            out[:, k] /= len(self.estimators_[k])
        return out

    def predict_proba(self, X) -> np.ndarray:
        """(n_samples, n_tags) calibrated P(tag), columns in ``tags_`` order."""
        check_is_fitted(self)
        return self._proba(_check_X(X))

    def predict(self, X) -> np.ndarray:
        """(n_samples, n_tags) int 0/1: the tag when ``P(tag) >= thresholds_[tag]``."""
        return self.decide(self.predict_proba(X))

    def decide(self, proba):
        """0/1 tags at the per-tag thresholds: an (n, n_tags) array from ``predict_proba``, or a
        ``p_<tag>`` DataFrame (then a DataFrame of tag columns with the same index)."""
        check_is_fitted(self)
        if isinstance(proba, pd.DataFrame):
            return pd.DataFrame({t: (proba[f"p_{t}"] >= self.thresholds_[t]).astype("int64") for t in self.tags_},
                                index=proba.index)
        return (np.asarray(proba) >= self._threshold_array()).astype(np.int64)

    def predict_proba_frame(self, X) -> pd.DataFrame:
        """``p_<tag>`` columns (float) for the rows of ``X``, indexed like ``X``."""
        proba = self.predict_proba(X)
        return pd.DataFrame({f"p_{t}": proba[:, k] for k, t in enumerate(self.tags_)}, index=X.index)

    # -- identity --------------------------------------------------------------------------
    def describe(self) -> dict[str, Any]:
        """JSON-able identity of the model, for run.json and logs.

        ``name``: file name the model was loaded from / saved to (never a path; None if it
        never was), ``file_sha256`` of that file, ``version`` (qa-scorer that trained it),
        ``trained_at`` (UTC ISO), ``corpus_sha256`` / ``corpus_rows`` (training corpus, see
        ``corpus_fingerprint``), ``seed``, ``thresholds`` ``{tag: p}``, ``format``.
        """
        check_is_fitted(self)
        meta = self.metadata_
        return {
            "name": getattr(self, "_file_name", None),
            "file_sha256": getattr(self, "_file_sha256", None),
            "version": self.version_,
            "trained_at": meta.get("trained_at"),
            "corpus_sha256": meta.get("corpus_sha256"),
            "corpus_rows": meta.get("corpus_rows"),
            "seed": meta.get("seed"),
            "thresholds": {t: float(self.thresholds_[t]) for t in self.tags_},
            "format": int(self.format_),
        }

    # -- read-only names of qa-scorer 0.1.0 (callers use them) ------------------------------
    @property
    def tags(self) -> list[str]:
        return self.tags_

    @property
    def thresholds(self) -> dict[str, float]:
        return self.thresholds_

    @property
    def version(self) -> str:
        return self.version_

    @property
    def metadata(self) -> dict[str, Any]:
        return self.metadata_

    @property
    def format(self) -> int:
        return self.format_

    @property
    def featurizer(self) -> ReplyFeaturizer:
        return self.featurizer_

    def with_thresholds(self, thresholds: dict[str, float]) -> "ReplyClassifier":
        """A copy sharing the fitted parts, deciding at other ``thresholds`` (e.g. a shop's own)."""
        check_is_fitted(self)
        other = clone(self).set_params(fixed_thresholds={t: float(thresholds[t]) for t in self.tags_})
        other.__dict__.update({k: v for k, v in self.__dict__.items() if k.endswith("_") or k.startswith("_file")})
        other.thresholds_ = {t: float(thresholds[t]) for t in self.tags_}
        other.metadata_ = {**self.metadata_, "thresholds_changed_from": dict(self.thresholds_)}
        return other

    def linear_parts(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """``(weights, intercepts, slopes, offsets, tag_of)``: the arithmetic of ``predict_proba``.

        One column per (tag, fold) linear model: weights (n_features, n_models), intercepts,
        calibrator slopes and offsets (n_models,), and the tag index of each model.
        ``P(tag k) = mean over models m of tag k of expit(slope_m * (x @ weights[:, m] + intercept_m) + offset_m)``.
        Read from public attributes only (``coef_``, ``intercept_`` of ``LogisticRegression``).
        """
        check_is_fitted(self)
        coefs, intercepts, slopes, offsets, tag_of = [], [], [], [], []
        for k in range(len(self.tags_)):
            for est, cal in zip(self.estimators_[k], self.calibrators_[k]):
                coefs.append(np.asarray(est.coef_, dtype=np.float64).ravel())
                intercepts.append(float(np.ravel(est.intercept_)[0]))
                coef = np.asarray(cal.coef_, dtype=np.float64)
                if coef.shape != (1, 1):
                    raise ModelError(f"a calibrator has coef_ of shape {coef.shape}, expected (1, 1)")
                slopes.append(float(coef[0, 0]))
                offsets.append(float(np.ravel(cal.intercept_)[0]))
                tag_of.append(k)
        return (np.column_stack(coefs), np.array(intercepts), np.array(slopes), np.array(offsets),
                np.array(tag_of))

    def coefficients(self) -> np.ndarray:
        """(n_tags, n_features) weights for explanations: per tag, the mean over its fold models
        of calibrator slope x linear weight (the weights of the calibrated log-odds).

        Each probability is an increasing sigmoid of such a weighted sum, so these say which
        features pushed a reply towards a tag.
        """
        weights, _, slopes, _, tag_of = self.linear_parts()
        scaled = weights * slopes
        return np.vstack([scaled[:, tag_of == k].mean(axis=1) for k in range(len(self.tags_))])


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
# Thresholds and training
# --------------------------------------------------------------------------------------
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
    """sha256 of the corpus content (text, context, tags, source as CSV), recorded in the model."""
    payload = df[["text", "context", *TAGS, "source"]].to_csv(index=False).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


def out_of_fold_proba(df: pd.DataFrame, seed: int = 0, folds: int = 5, calibration_folds: int = 3) -> pd.DataFrame:
    """``p_<tag>`` for every row of ``df`` from models that did not see its ``source`` group."""
    clf = ReplyClassifier(calibration_folds=calibration_folds, random_state=seed)
    Y = _label_matrix(df[list(TAGS)], len(df))
    groups = df["source"].astype(str).to_numpy(dtype=object)
    proba = clf._out_of_fold(df[["text", "context"]], Y, groups, folds)
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

    model = ReplyClassifier(calibration_folds=calibration_folds, threshold_folds=threshold_folds,
                            target_precision=target_precision, margin=margin, min_threshold=min_threshold,
                            max_fine_flag_rate=max_fine_flag_rate, random_state=seed)
    model.fit(train[["text", "context"]], train[list(TAGS)], groups=train["source"],
              X_val=valid[["text", "context"]], Y_val=valid[list(TAGS)])
    validation = evaluate_model(model, valid)
    model.metadata_.update({
        "seed": int(seed),
        "corpus_sha256": corpus_fingerprint(df),
        "corpus_rows": int(len(df)),
        "rows": {s: int((df["split"] == s).sum()) for s in SPLITS},
        "groups": {s: int(df.loc[df["split"] == s, "source"].nunique()) for s in SPLITS},
        "positives_train": {t: int(train[t].sum()) for t in TAGS},
        "validation": validation.to_dict(),
    })
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
    predicted = model.decide(model.predict_proba_frame(clean[["text", "context"]]))
    return metrics_from_predictions(clean, predicted, model.thresholds_)


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
    """Write a fitted ``model`` with skops (zip-compressed)."""
    if not isinstance(model, ReplyClassifier):
        raise TypeError(f"save_model expects a ReplyClassifier, got {type(model).__name__}")
    check_is_fitted(model)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    # Where a model was loaded from is not part of it.
    provenance = {k: model.__dict__.pop(k) for k in ("_file_name", "_file_sha256") if k in model.__dict__}
    try:
        skops.io.dump(model, path, compression=zipfile.ZIP_DEFLATED, compresslevel=6)
    finally:
        model.__dict__.update(provenance)
    model._file_name = path.name
    model._file_sha256 = hashlib.sha256(path.read_bytes()).hexdigest()
    return path


def _check_and_load(data: bytes, label: str) -> ReplyClassifier:
    """skops load of ``data``, refusing any type outside ``TRUSTED_TYPES``."""
    try:
        untrusted = skops.io.get_untrusted_types(data=data)
    except (zipfile.BadZipFile, KeyError, ValueError, OSError) as exc:
        raise ModelError(f"{label}: not a skops model file ({exc}). Models are saved by `qa-scorer train`.") from None
    unknown = sorted(set(untrusted) - set(TRUSTED_TYPES))
    if unknown and set(unknown) <= _FORMAT_1_TYPES | {"sklearn.calibration.CalibratedClassifierCV"}:
        raise ModelError(f"{label}: a model of format 1 (qa-scorer 0.1.0, CalibratedClassifierCV); this qa-scorer "
                         f"needs format {MODEL_FORMAT}. Re-train it with `qa-scorer train`.")
    if unknown:
        raise ModelError(
            f"{label}: refusing to load: the file contains types outside the trusted list: {', '.join(unknown)}. "
            "Only scikit-learn/numpy/scipy types and qa_scorer.classifier classes are allowed; "
            "re-train the model with `qa-scorer train` instead of loading an unknown file."
        )
    obj = skops.io.loads(data, trusted=list(untrusted))
    if not isinstance(obj, ReplyClassifier):
        raise ModelError(f"{label}: holds a {type(obj).__name__}, not a ReplyClassifier.")
    fmt, tags = obj.__dict__.get("format_"), obj.__dict__.get("tags_")
    if fmt != MODEL_FORMAT or list(tags or []) != list(TAGS):
        raise ModelError(f"{label}: model format {fmt} with tags {tags}; this "
                         f"qa-scorer needs format {MODEL_FORMAT} with tags {list(TAGS)}. Re-train it.")
    return obj


def load_model(path: str | Path | None = None) -> ReplyClassifier:
    """Load a saved model (default: the shipped ``reply_tagger.skops``), checking its types."""
    path = Path(path) if path is not None else default_model_path()
    if not path.is_file():
        raise ModelError(f"model file not found: {path}")
    data = path.read_bytes()
    model = _check_and_load(data, str(path))
    model._file_name = path.name
    model._file_sha256 = hashlib.sha256(data).hexdigest()
    return model


def model_from_bytes(data: bytes) -> ReplyClassifier:
    """Load a model from ``model_to_bytes`` bytes (used to hand the model to worker processes)."""
    return _check_and_load(data, "model bytes")


def model_to_bytes(model: ReplyClassifier) -> bytes:
    return skops.io.dumps(model)
