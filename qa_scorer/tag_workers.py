"""Reply tagging in worker processes that load the model while the exports are being read.

``qa-scorer audit`` on a large input starts ``TagWorkers`` before reading: each worker process
imports scikit-learn, loads the model and warms jieba up on its own core while the main
process parses the exports, so the model costs no wall time and the main process never
imports the classifier at all.  ``tag`` sends the *distinct* (reply, context) pairs to the
workers in chunks, each worker runs ``qa_scorer.classifier.tag_replies`` on its chunk, and
the results are put back on every reply by index.  One pool serves every chunk of a streamed
audit, so each worker loads the model once.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd

from qa_scorer.model_files import ModelError, default_model_path
from qa_scorer.schema import TAGS

_MODEL = None
_MODEL_ERROR: Exception | None = None


def _init(path: str) -> None:
    """Load the model once per worker; an error is kept and raised by the first task."""
    global _MODEL, _MODEL_ERROR
    try:
        from qa_scorer.classifier import load_model, tag_replies

        _MODEL = load_model(path)
        tag_replies(pd.DataFrame({"text": ["在的亲"], "context": ["在吗"]}), _MODEL, workers=1)  # jieba warm-up
    except Exception as exc:  # noqa: BLE001 - re-raised in the main process by the first task
        _MODEL_ERROR = exc


def _model():
    if _MODEL_ERROR is not None:
        raise _MODEL_ERROR
    return _MODEL


def _describe() -> dict:
    model = _model()
    meta = getattr(model, "metadata", {}) or {}
    info = {"version": getattr(model, "version", None), "thresholds": getattr(model, "thresholds", None)}
    info.update({k: meta[k] for k in ("trained_at", "corpus_rows", "seed") if k in meta})
    return info


def _tag_chunk(texts: np.ndarray, contexts: np.ndarray) -> dict[str, np.ndarray]:
    from qa_scorer.classifier import tag_replies

    out = tag_replies(pd.DataFrame({"text": texts, "context": contexts}, dtype=object), _model(), workers=1)
    cols = [*TAGS, *(f"p_{t}" for t in TAGS), "tag_words"]
    return {c: out[c].to_numpy() for c in cols}


def _context():
    methods = multiprocessing.get_all_start_methods()
    # forkserver: workers start from a clean single-threaded server (safe beside Arrow's and
    # rich's threads); spawn where it is missing.
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class TagWorkers:
    """A pool of ``workers`` processes holding the reply model (see module docstring)."""

    def __init__(self, model_path: str | Path | None, workers: int):
        path = Path(model_path) if model_path else default_model_path()
        if not path.is_file():
            raise ModelError(f"{path}: model file not found; pass --model PATH or train one with `qa-scorer train`")
        self.path, self.workers = str(path), max(1, int(workers))
        self.pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=_context(),
                                        initializer=_init, initargs=(self.path,))
        self._info = self.pool.submit(_describe)  # starts the workers (and their model load) now

    def describe(self) -> dict:
        return {"path": self.path, **self._info.result()}

    def tag(self, replies: pd.DataFrame) -> pd.DataFrame:
        """``replies`` (text, context) -> the same rows with tags, p_<tag> and tag_words."""
        return self.submit(replies).result()

    def submit(self, replies: pd.DataFrame) -> "PendingTags":
        """Start tagging in the workers and return at once; ``.result()`` waits and assembles."""
        text = replies["text"].astype(object).fillna("").to_numpy()
        context = (replies["context"].astype(object).fillna("").to_numpy() if "context" in replies.columns
                   else np.full(len(replies), "", dtype=object))
        t_codes, t_uniques = pd.factorize(text)
        c_codes, c_uniques = pd.factorize(context)
        width = max(len(c_uniques), 1)
        pair_codes, pair_keys = pd.factorize(t_codes.astype(np.int64) * width + c_codes)
        pair_keys = np.asarray(pair_keys, dtype=np.int64)
        # chunks of distinct pairs, sorted by reply so one reply's contexts go to one worker
        order = np.argsort(pair_keys // width, kind="stable")
        chunks = [c for c in np.array_split(order, self.workers * 2) if len(c)]
        t_uniques, c_uniques = np.asarray(t_uniques, dtype=object), np.asarray(c_uniques, dtype=object)
        jobs = [self.pool.submit(_tag_chunk, t_uniques[pair_keys[c] // width], c_uniques[pair_keys[c] % width])
                for c in chunks]
        return PendingTags(replies, pair_codes, len(pair_keys), chunks, jobs)

    def close(self) -> None:
        self.pool.shutdown(wait=True, cancel_futures=True)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class PendingTags:
    """Tagging under way in the workers; ``result()`` puts the tags back on every reply."""

    def __init__(self, replies, pair_codes, n_pairs, chunks, jobs):
        self.replies, self.pair_codes, self.n_pairs, self.chunks, self.jobs = replies, pair_codes, n_pairs, chunks, jobs

    def result(self) -> pd.DataFrame:
        names = [*TAGS, *(f"p_{t}" for t in TAGS), "tag_words"]
        columns = {n: np.zeros(self.n_pairs, dtype=np.int64 if n in TAGS else float) for n in names[:-1]}
        columns["tag_words"] = np.full(self.n_pairs, "", dtype=object)
        for chunk, job in zip(self.chunks, self.jobs):
            for name, values in job.result().items():
                columns[name][chunk] = values
        out = self.replies.copy()
        for name in names:
            out[name] = columns[name][self.pair_codes]
        out["tag_words"] = out["tag_words"].astype("str")
        return out
