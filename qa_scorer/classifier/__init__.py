"""Reply classifier: tags agent replies as pushy / unhelpful / rude / overclaim.

Public API (used by ``qa_scorer.pipeline`` and the CLI)::

    model = load_model(path=None)                     # the shipped models/reply_tagger.skops
    model.describe()                                  # JSON-able identity: name, version, trained_at, corpus hash ...
    tagged = tag_replies(replies, model, workers=1)   # + tag, p_<tag> and tag_words columns
    model = train_model(corpus_df, seed=0)            # thresholds chosen on the validation split
    report = evaluate_model(model, df)                # per-tag P/R/F1/support + fine_flag_rate
    explain(model, "最后一件了", context="")            # words behind each tag of one reply

``ReplyClassifier`` is an ordinary scikit-learn estimator (``fit(X, Y)``, ``predict_proba(X)`` /
``predict(X)`` -> ``(n_samples, 4)`` arrays; ``predict_proba_frame(X)`` -> ``p_<tag>`` DataFrame),
usable in ``sklearn.pipeline.Pipeline`` and ``sklearn.model_selection.cross_validate``.
"""

from qa_scorer.classifier.model import (
    CORPUS_COLUMNS,
    MODEL_FORMAT,
    SPLITS,
    TRUSTED_TYPES,
    CorpusError,
    EvaluationReport,
    ModelError,
    ReplyClassifier,
    choose_thresholds,
    corpus_fingerprint,
    cross_validate,
    default_model_path,
    evaluate_model,
    load_model,
    save_model,
    split_by_group,
    train_model,
    validate_corpus,
)
from qa_scorer.classifier.tagging import explain, output_columns, tag_replies

__all__ = [
    "CORPUS_COLUMNS", "MODEL_FORMAT", "SPLITS", "TRUSTED_TYPES", "CorpusError", "EvaluationReport", "ModelError",
    "ReplyClassifier", "choose_thresholds", "corpus_fingerprint", "cross_validate", "default_model_path", "evaluate_model",
    "explain", "load_model", "output_columns", "save_model", "split_by_group", "tag_replies", "train_model",
    "validate_corpus",
]
