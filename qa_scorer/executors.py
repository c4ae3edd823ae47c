"""Where work runs: in this process, in a pool of local worker processes, or on a Dask cluster.

One interface, three implementations, so the audit driver never asks what it was given::

    with make_executor("pool", workers=2, warm=scorer.warm_up) as ex:
        for result in ex.map(scorer, chunks):   # in order, at most ``ex.max_in_flight`` pending
            ...

``map`` is lazy on its input: the next item is drawn only when there is room for it, so a reader
behind ``chunks`` runs while the workers score the chunks already handed out, and memory holds
at most ``max_in_flight`` chunks (plus the one being read).  Results come back in input order.

``warm`` is a picklable callable run once in every worker process as it starts (it loads the
model, so the workers load it on their own cores while the main process reads the exports).
Functions given to ``map``/``submit`` must be picklable for the pool and Dask: module-level
functions or instances of module-level classes.

The process pool is the project's one multiprocessing mechanism (``concurrent.futures`` with the
``forkserver`` start method, ``spawn`` where that is missing): workers start from a clean,
single-threaded server, which is safe beside Arrow's and rich's threads in the main process.
"""

from __future__ import annotations

import multiprocessing
import os
from collections import deque
from concurrent.futures import Future, ProcessPoolExecutor
from typing import Any, Callable, Iterable, Iterator

__all__ = ["Executor", "InProcessExecutor", "ProcessPoolExecutorAdapter", "DaskExecutor", "make_executor",
           "ExecutorError", "EXECUTORS", "process_context"]

#: ``executor=`` values a user can ask for ("auto" is resolved by the audit driver).
EXECUTORS = ("in-process", "pool", "dask")


class ExecutorError(RuntimeError):
    """The executor could not start (e.g. a Dask scheduler that does not answer)."""


def process_context():
    methods = multiprocessing.get_all_start_methods()
    return multiprocessing.get_context("forkserver" if "forkserver" in methods else "spawn")


class Executor:
    """Base class: ``map`` (ordered, bounded), ``submit`` (one job), ``close``; a context manager."""

    name = "executor"
    workers = 1
    max_in_flight = 1

    def submit(self, fn: Callable, *args) -> Future:
        raise NotImplementedError

    def map(self, fn: Callable, items: Iterable) -> Iterator[Any]:
        """``fn(item)`` for every item, in order, with at most ``max_in_flight`` items pending."""
        pending: deque = deque()
        for item in items:
            pending.append(self.submit(fn, item))
            while len(pending) >= self.max_in_flight:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()

    def describe(self) -> dict:
        return {"executor": self.name, "workers": self.workers}

    def close(self) -> None:
        pass

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()


class InProcessExecutor(Executor):
    """Runs everything in the calling process, one item at a time (small inputs, debugging)."""

    name = "in-process"

    def __init__(self, warm: Callable[[], Any] | None = None):
        self._warm = warm
        self._warmed = False

    def submit(self, fn: Callable, *args) -> Future:
        if self._warm is not None and not self._warmed:
            self._warmed = True
            self._warm()
        future: Future = Future()
        try:
            future.set_result(fn(*args))
        except BaseException as exc:  # noqa: BLE001 - handed to the caller by .result()
            future.set_exception(exc)
        return future

    def map(self, fn: Callable, items: Iterable) -> Iterator[Any]:
        for item in items:  # no futures needed: nothing runs beside the caller
            yield self.submit(fn, item).result()


class ProcessPoolExecutorAdapter(Executor):
    """A pool of ``workers`` local processes; ``warm`` runs once in each as it starts."""

    name = "pool"

    def __init__(self, workers: int, warm: Callable[[], Any] | None = None, max_in_flight: int | None = None):
        self.workers = max(1, int(workers))
        # one item per worker at work plus one queued, so no worker waits for the reader while at
        # most workers + 1 chunks (and their results) are held: memory stays near the in-process audit
        self.max_in_flight = max_in_flight or self.workers + 1
        self._pool = ProcessPoolExecutor(max_workers=self.workers, mp_context=process_context(),
                                         initializer=_run_warm if warm else None,
                                         initargs=(warm,) if warm else ())
        if warm is not None:  # start the workers (and their warm-up) now, not at the first item
            for _ in range(self.workers):
                self._pool.submit(_noop)

    def submit(self, fn: Callable, *args) -> Future:
        return self._pool.submit(fn, *args)

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


def _run_warm(warm: Callable[[], Any]) -> None:
    try:
        warm()
    except Exception:  # noqa: BLE001 - the first real task reports the same error with its traceback
        pass


def _noop() -> None:
    return None


class DaskExecutor(Executor):
    """Items go to a dask.distributed cluster: the one at ``scheduler`` (``tcp://host:8786``) or a
    LocalCluster of ``workers`` processes on 127.0.0.1.  ``warm`` runs on every worker first."""

    name = "dask"

    def __init__(self, scheduler: str | None = None, workers: int | None = None,
                 warm: Callable[[], Any] | None = None, connect_timeout_s: float = 10):
        try:
            from dask.distributed import Client, LocalCluster
        except ImportError:
            raise ExecutorError("the Dask engine needs dask.distributed: pip install 'qa-scorer[dask]'") from None
        self.scheduler = scheduler
        self._cluster = None
        try:
            if scheduler:
                self._client = Client(scheduler, timeout=connect_timeout_s)
            else:
                self._cluster = LocalCluster(n_workers=max(1, workers or os.cpu_count() or 1), threads_per_worker=1,
                                             host="127.0.0.1", dashboard_address=None, processes=True)
                self._client = Client(self._cluster)
        except (OSError, TimeoutError) as exc:
            if self._cluster is not None:
                self._cluster.close()
            raise ExecutorError(f"无法连接 Dask 调度器 {scheduler}: {exc.__class__.__name__}: "
                                f"{str(exc).splitlines()[0] if str(exc) else ''} "
                                "(check the address, e.g. tcp://10.0.0.5:8786, and that the scheduler runs)") from None
        self.workers = max(len(self._client.scheduler_info().get("workers", {})), 1)
        self.max_in_flight = self.workers * 2
        if warm is not None:
            self._client.run(warm)

    def submit(self, fn: Callable, *args) -> Future:
        return self._client.submit(fn, *args, pure=False)

    def describe(self) -> dict:
        return {"executor": self.name, "workers": self.workers, "scheduler": self.scheduler or "local cluster"}

    def close(self) -> None:
        self._client.close()
        if self._cluster is not None:
            self._cluster.close()


def make_executor(kind: str, *, workers: int = 1, warm: Callable[[], Any] | None = None,
                  scheduler: str | None = None) -> Executor:
    """``kind``: "in-process", "pool" or "dask" (see ``EXECUTORS``)."""
    if kind == "in-process":
        return InProcessExecutor(warm=warm)
    if kind == "pool":
        return ProcessPoolExecutorAdapter(workers, warm=warm)
    if kind == "dask":
        return DaskExecutor(scheduler, workers=workers, warm=warm)
    raise ValueError(f"unknown executor {kind!r}; allowed: {', '.join(EXECUTORS)}")
