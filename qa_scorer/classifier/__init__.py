"""Reply classifier: tags agent replies as pushy / unhelpful / rude / overclaim.

Public API (used by ``qa_scorer.pipeline`` and the CLI)::

    model = load_model(path=None)                     # the shipped models/reply_tagger.skops
    tagged = tag_replies(replies, model, workers=1)   # + tag, p_<tag> and tag_words columns
    model = train_model(corpus_df, seed=0)            # thresholds chosen on the validation split
    report = evaluate_model(model, df)                # per-tag P/R/F1/support + fine_flag_rate
    explain(model, "最后一件了", context="")            # words behind each tag of one reply
"""

from qa_scorer.classifier.model import (
    CORPUS_COLUMNS,
    SPLITS,
    TRUSTED_TYPES,
    CorpusError,
    EvaluationReport,
    ModelError,
    ReplyClassifier,
    choose_thresholds,
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
    "CORPUS_COLUMNS", "SPLITS", "TRUSTED_TYPES", "CorpusError", "EvaluationReport", "ModelError",
    "ReplyClassifier", "choose_thresholds", "cross_validate", "default_model_path", "evaluate_model",
    "explain", "load_model", "output_columns", "save_model", "split_by_group", "tag_replies", "train_model",
    "validate_corpus",
]
