"""Run the per-conversation stages on Dask (a LocalCluster by default, or a dask.distributed scheduler).

The messages table is turned into a Dask DataFrame partitioned by conversation (the index is
the conversation's ordinal, so Dask's divisions never split a conversation), and every
partition goes through exactly the same function as the in-process engine,
``qa_scorer.pipeline.score_tables``.  Agent aggregation then runs on the client from the
per-conversation tables, so both engines give identical results.

Workers load the classifier once per process (cached), from the path given - on a real
cluster that path must be readable by every worker (shared storage) or be the shipped model
installed with the package.
"""

from __future__ import annotations

import os
import time
from functools import lru_cache

import numpy as np
import pandas as pd


@lru_cache(maxsize=4)
def _worker_model(model_path: str | None, use_model: bool):
    if not use_model:
        return None
    from qa_scorer.classifier import load_model
    return load_model(model_path)


def _score_partition(part: pd.DataFrame, settings, rubric, model_path, use_model, data_end):
    from qa_scorer.pipeline import score_tables
    # index = row position in the whole messages table, so replies.message_index stays global
    part = part.set_index("_row").drop(columns="_conv_ord")
    part.index.name = None
    model = _worker_model(model_path, use_model)
    return score_tables(part, settings, rubric, model, workers=1, data_end=data_end)


def score_tables_dask(messages: pd.DataFrame, settings, rubric, model_path, *, use_model: bool = True,
                      scheduler: str | None = None, data_end=None, npartitions: int | None = None,
                      timings: dict | None = None):
    """Same result as ``score_tables`` on the whole table, computed partition by partition on Dask."""
    import dask
    import dask.dataframe as dd
    from dask.distributed import Client, LocalCluster

    timings = timings if timings is not None else {}
    t = time.perf_counter()
    if scheduler:
        client = Client(scheduler)
        cluster = None
    else:
        cluster = LocalCluster(n_workers=min(os.cpu_count() or 1, 4), threads_per_worker=1,
                               host="127.0.0.1", dashboard_address=None, processes=True)
        client = Client(cluster)
    try:
        conv_ord = pd.factorize(messages["conversation_id"])[0]
        indexed = messages.assign(_conv_ord=conv_ord, _row=np.arange(len(messages))).set_index("_conv_ord", drop=False)
        n_workers = max(len(client.scheduler_info().get("workers", {})), 1)
        nparts = npartitions or max(1, min(n_workers * 4, int(np.ceil(len(messages) / 50_000)) or 1))
        ddf = dd.from_pandas(indexed, npartitions=nparts, sort=True)
        parts = ddf.to_delayed()
        tasks = [dask.delayed(_score_partition)(p, settings, rubric, str(model_path) if model_path else None,
                                                use_model, data_end) for p in parts]
        results = dask.compute(*tasks)
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    replies = pd.concat([r[0] for r in results], ignore_index=True)
    rounds = pd.concat([r[1] for r in results], ignore_index=True)
    conversations = pd.concat([r[2] for r in results], ignore_index=True)
    timings["dask"] = time.perf_counter() - t
    return replies, rounds, conversations
