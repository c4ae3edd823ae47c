"""Score one chunk of whole conversations: metrics -> tags -> forbidden words -> conversation scores.

This is the per-conversation half of the audit, in one function, so every executor (in this
process, a local worker pool, Dask) runs exactly the same code::

    scored = score_chunk(messages, settings, rubric, model, data_end=...)
    scored.replies, scored.rounds, scored.conversations

``ChunkScorer`` packs the inputs that are the same for every chunk (settings, rubric, which
model) into one picklable callable for the executors; it loads the model once per process.

It looks only inside conversations, so any subset of the messages table that holds *whole*
conversations can be scored and the results concatenated.  The cross-conversation half (the
agent table) is computed by the driver from the concatenated per-conversation tables.

Stage order: this module imports the stages below it (metrics, classifier, rubric) and
nothing above it (no pipeline, sinks or reports).
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from functools import lru_cache

import pandas as pd

from qa_scorer import metrics
from qa_scorer import rubric as rubric_mod
from qa_scorer.schema import TAGS
from qa_scorer.settings import MetricSettings

__all__ = ["ScoredChunk", "ChunkScorer", "score_chunk", "add_tag_counts", "cached_model"]


@dataclass
class ScoredChunk:
    """What one chunk gives: the per-conversation tables plus the time each stage took."""

    replies: pd.DataFrame
    rounds: pd.DataFrame
    conversations: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)


def add_tag_counts(conversations: pd.DataFrame, replies: pd.DataFrame) -> pd.DataFrame:
    """Per-conversation count of flagged replies for each tag (and forbidden words)."""
    cols = [c for c in (*TAGS, "forbidden") if c in replies.columns]
    if not cols:
        return conversations
    counts = replies.groupby("conversation_id", sort=False)[cols].sum()
    out = conversations.drop(columns=[c for c in cols if c in conversations.columns])
    out = out.merge(counts, how="left", left_on="conversation_id", right_index=True)
    out[cols] = out[cols].fillna(0).astype("int64")
    return out


def _tag(replies: pd.DataFrame, model) -> pd.DataFrame:
    """Tag columns on the human replies (auto-replies are the system's words, not the agent's)."""
    from qa_scorer.classifier import tag_replies

    human = replies.loc[~replies["is_auto"].astype(bool)]
    tagged = tag_replies(human, model, workers=1)
    out = replies.copy()
    for c in [c for c in tagged.columns if c not in replies.columns]:
        out[c] = tagged[c]
    for tag in TAGS:
        if tag in out.columns:
            out[tag] = out[tag].fillna(0).astype("int64")
    if "tag_words" in out.columns:
        out["tag_words"] = out["tag_words"].fillna("").astype("str")
    return out


def score_chunk(messages: pd.DataFrame, settings: MetricSettings, rubric, model=None, *,
                data_end: pd.Timestamp | None = None) -> ScoredChunk:
    """Metrics, tags (when ``model`` is given), forbidden words and scores for whole conversations.

    ``data_end`` is the latest message time of the *whole* input: a closing message is only due
    when enough data follows the last reply, which one chunk alone cannot tell."""
    timings: dict[str, float] = {}
    t = time.perf_counter()
    tables = metrics.conversation_metrics(messages, settings, data_end=data_end)
    timings["metrics"] = time.perf_counter() - t
    replies = tables.replies
    if model is not None:
        t = time.perf_counter()
        replies = _tag(replies, model)
        timings["tags"] = time.perf_counter() - t
    t = time.perf_counter()
    replies = rubric_mod.flag_forbidden(replies, rubric)
    conversations = add_tag_counts(tables.conversations, replies)
    conversations = rubric_mod.score_conversations(conversations, replies, rubric)
    timings["scores"] = time.perf_counter() - t
    return ScoredChunk(replies, tables.rounds, conversations, timings)


@lru_cache(maxsize=4)
def cached_model(model_path: str | None):
    """The classifier, loaded once per process and path (None: the shipped model)."""
    from qa_scorer.classifier import load_model

    return load_model(model_path)


@dataclass(frozen=True)
class ChunkScorer:
    """``score_chunk`` with everything but the chunk fixed: what executors send to workers.

    Holds the model's *path*, not the model, so it pickles small; each process loads the model
    once (``cached_model``).  ``warm_up`` loads it ahead of the first chunk."""

    settings: MetricSettings
    rubric: object
    model_path: str | None = None
    tags: bool = True
    data_end: pd.Timestamp | None = None

    def model(self):
        return cached_model(self.model_path) if self.tags else None

    def warm_up(self) -> None:
        model = self.model()
        if model is not None:  # the first jieba cut loads its dictionary: do it now, not in chunk 1
            from qa_scorer.classifier import tag_replies
            tag_replies(pd.DataFrame({"text": ["在的亲"], "context": ["在吗"]}), model, workers=1)

    def __call__(self, messages: pd.DataFrame) -> ScoredChunk:
        return score_chunk(messages, self.settings, self.rubric, self.model(), data_end=self.data_end)
