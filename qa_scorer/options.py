"""What an audit is asked to do (``AuditOptions``) and what it will actually do (``AuditPlan``).

Options are plain values.  ``plan_audit`` resolves them once, in the library, so a Python call
and ``qa-scorer audit`` run exactly the same audit:

- metric settings, later layer wins: defaults <- the rubric's ``[metrics]`` table <- the settings
  file's ``[metrics]`` table <- the ``platform`` preset <- single options (``metric_overrides``);
- the session gap reaches ingest through a copy of ``IngestOptions`` (the caller's object is never
  changed);
- engine, executor, workers, read mode and chunk size: ``auto`` values are decided from the input
  size and the number of workers, with the thresholds below, and recorded in ``run.json``.

Nothing here reads the exports or loads the model.
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable

from qa_scorer.ingest import IngestOptions, discover_files
from qa_scorer.settings import MetricSettings, load_settings

__all__ = ["AuditOptions", "AuditPlan", "plan_audit", "ENGINES", "EXECUTOR_CHOICES", "READ_CHOICES"]

ENGINES = ("local", "dask")
EXECUTOR_CHOICES = ("auto", "in-process", "pool")
READ_CHOICES = ("auto", "whole", "stream")


@dataclass
class AuditOptions:
    """Everything ``audit()`` can be asked; every field has a sensible default."""

    out_dir: str | Path = "qa-report"
    ingest: IngestOptions = field(default_factory=IngestOptions)
    # metric settings (layered, see module docstring); ``settings`` given = used as is, no layering
    rubric_path: str | Path | None = None
    settings_path: str | Path | None = None
    platform: str | None = None
    metric_overrides: dict[str, Any] = field(default_factory=dict)
    settings: MetricSettings | None = None
    # classifier
    model_path: str | Path | None = None
    tags: bool = True
    # where the work runs
    engine: str = "local"               # "local" or "dask"
    executor: str = "auto"              # local engine: "auto", "in-process" or "pool"
    workers: int | None = None          # worker processes (None: number of cores)
    scheduler: str | None = None        # dask.distributed scheduler address (None: a local cluster)
    chunk_rows: int | None = None       # messages per chunk (whole conversations); None: auto, 0: one chunk
    read: str = "auto"                  # "whole", "stream" (CSV/TSV chunk by chunk) or "auto"
    keep_tables: bool | None = None     # full tables (with texts) in the result; None: auto (small inputs)
    # outputs
    html: bool = True
    xlsx: bool = True
    xlsx_max_rows: int = 5_000          # rows per sheet in audit.xlsx (the CSVs always hold everything)
    worst_n: int = 20                   # conversations rendered as chats in report.html
    db: str | None = None               # record the run in this workspace (path or URL; docs/workspace.md)
    db_actor: str | None = None         # who ran it, for the workspace's audit trail
    # the "auto" thresholds, visible here and in run.json
    pool_above_bytes: int = 4 << 20     # inputs this big are scored by a worker pool (when tagging)
    stream_above_bytes: int = 1 << 30   # inputs this big are read chunk by chunk
    keep_tables_below_bytes: int = 64 << 20
    max_chunk_rows: int = 60_000       # small chunks keep peak memory near an in-process audit
    min_chunk_rows: int = 20_000


@dataclass(frozen=True)
class AuditPlan:
    """The resolved audit: what ``audit()`` runs and ``run.json`` records."""

    paths: tuple[str, ...]
    out_dir: Path
    settings: MetricSettings
    ingest: IngestOptions
    rubric_path: str | None
    model_path: str | None
    tags: bool
    engine: str
    executor: str                        # "in-process", "pool" or "dask"
    workers: int
    scheduler: str | None
    read: str                            # "whole" or "stream"
    chunk_rows: int | None               # None: decided from the row count after reading (see chunk_rows_for)
    keep_tables: bool
    input_bytes: int
    options: AuditOptions

    def chunk_rows_for(self, total_rows: int | None) -> int | None:
        """Chunk size once the row count is known: one chunk in process; for several workers
        about two chunks per worker, between ``min_chunk_rows`` and ``max_chunk_rows``."""
        if self.chunk_rows is not None:
            return self.chunk_rows or None
        o = self.options
        if self.executor == "in-process":
            return None if self.read == "whole" else o.max_chunk_rows
        if total_rows is None:
            return o.max_chunk_rows
        per_worker = -(-total_rows // (2 * self.workers))
        return max(o.min_chunk_rows, min(o.max_chunk_rows, per_worker))

    def to_dict(self) -> dict[str, Any]:
        return {"engine": self.engine, "executor": self.executor, "workers": self.workers,
                "scheduler": self.scheduler, "read": self.read, "input_bytes": self.input_bytes}


def _choice(value: str, allowed: Iterable[str], what: str) -> str:
    if value not in allowed:
        raise ValueError(f"{what}: unknown value {value!r}; allowed: {', '.join(allowed)}")
    return value


def resolve_settings(options: AuditOptions, rubric) -> MetricSettings:
    """defaults <- rubric [metrics] <- settings file <- platform preset <- single options."""
    if options.settings is not None:
        return dataclasses.replace(options.settings).validate()
    return load_settings(options.settings_path, platform=options.platform,
                         overrides=dict(options.metric_overrides or {}), base=rubric.metrics)


def plan_audit(paths: Iterable[str | Path], options: AuditOptions, rubric) -> AuditPlan:
    """Resolve ``options`` for these inputs (raises ValueError/SettingsError naming the option)."""
    paths = tuple(str(p) for p in paths)
    _choice(options.engine, ENGINES, "engine")
    _choice(options.executor, EXECUTOR_CHOICES, "executor")
    _choice(options.read, READ_CHOICES, "read")
    if options.scheduler and options.engine != "dask":
        raise ValueError("a scheduler address only applies to the Dask engine: add --engine dask "
                         "(调度器地址只用于 Dask 引擎：请加 --engine dask)")
    if options.chunk_rows is not None and options.chunk_rows < 0:
        raise ValueError(f"chunk_rows must be >= 0, got {options.chunk_rows}")
    settings = resolve_settings(options, rubric)
    ingest = options.ingest
    if ingest.session_gap_s is None:  # an explicit IngestOptions(session_gap_s=...) is a single option: kept
        ingest = dataclasses.replace(ingest, session_gap_s=settings.session_gap_s)
    files, _ = discover_files(paths)
    input_bytes = sum(f.stat().st_size for f in files)
    workers = max(1, int(options.workers or os.cpu_count() or 1))
    if options.engine == "dask":
        executor = "dask"
    elif options.executor != "auto":
        executor = options.executor
    else:  # a pool costs a second or two to start: worth it only for inputs the classifier is slow on
        executor = "pool" if (workers > 1 and options.tags and input_bytes >= options.pool_above_bytes) else "in-process"
    if executor == "in-process":
        workers = 1
    read = options.read if options.read != "auto" else (
        "stream" if input_bytes > options.stream_above_bytes else "whole")
    keep = options.keep_tables if options.keep_tables is not None else input_bytes < options.keep_tables_below_bytes
    return AuditPlan(
        paths=paths, out_dir=Path(options.out_dir), settings=settings, ingest=ingest,
        rubric_path=str(options.rubric_path) if options.rubric_path else None,
        model_path=str(options.model_path) if options.model_path else None, tags=bool(options.tags),
        engine=options.engine, executor=executor, workers=workers, scheduler=options.scheduler, read=read,
        chunk_rows=options.chunk_rows, keep_tables=bool(keep), input_bytes=input_bytes, options=options,
    )
