"""``qa-scorer audit`` as a library call: ingest -> metrics -> tags -> scores -> outputs.

    from qa_scorer.pipeline import AuditOptions, audit
    result = audit(["sample_transcripts/"], AuditOptions(out_dir="qa-report"))

Every stage is a function from tables to tables (see docs/architecture.md); this module only
chains them, records what was used in ``run.json`` and writes the output folder.
"""

from __future__ import annotations

import json
import os
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from qa_scorer import __version__
from qa_scorer.ingest import FileReport, IngestOptions, read_paths
from qa_scorer.schema import TAGS
from qa_scorer.settings import MetricSettings


@dataclass
class AuditOptions:
    out_dir: str | Path = "qa-report"
    ingest: IngestOptions = field(default_factory=IngestOptions)
    settings: MetricSettings = field(default_factory=MetricSettings)
    rubric_path: str | Path | None = None
    model_path: str | Path | None = None
    tags: bool = True                 # run the reply classifier
    workers: int | None = None        # classifier processes (None: number of cores)
    html: bool = True
    xlsx: bool = True
    xlsx_max_rows: int = 100_000      # rows per sheet in audit.xlsx (the CSVs always hold everything)
    engine: str = "local"             # "local" or "dask"
    scheduler: str | None = None      # dask.distributed scheduler address (None: local cluster)


@dataclass
class AuditResult:
    out_dir: Path
    messages: pd.DataFrame
    rejected: pd.DataFrame
    replies: pd.DataFrame
    rounds: pd.DataFrame
    conversations: pd.DataFrame
    agents: pd.DataFrame
    files: list[FileReport]
    notes: list[str]
    timings: dict[str, float]
    written: list[Path]

    @property
    def failed_files(self) -> list[FileReport]:
        return [f for f in self.files if f.error]


def write_table(df: pd.DataFrame, path: Path) -> Path:
    """CSV, UTF-8 with BOM: Excel on Windows then shows Chinese instead of mojibake.

    Written with Arrow's CSV writer (about 10x faster than ``DataFrame.to_csv`` on a million
    rows); timestamps to the second, booleans as true/false, missing values empty."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # mixed-type object column: slow but safe
        df.to_csv(path, index=False, encoding="utf-8-sig", date_format="%Y-%m-%d %H:%M:%S")
        return path
    for i, fld in enumerate(table.schema):
        if pa.types.is_timestamp(fld.type):
            table = table.set_column(i, fld.name, table.column(i).cast(pa.timestamp("s"), safe=False))
    with open(path, "wb") as fh:
        fh.write(b"\xef\xbb\xbf")
        pacsv.write_csv(table, fh)
    return path


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


def score_tables(messages: pd.DataFrame, settings: MetricSettings, rubric, model, *, workers: int | None,
                 data_end: pd.Timestamp | None = None, timings: dict[str, float] | None = None):
    """The per-conversation part of the audit: metrics, tags, forbidden words, conversation scores.

    Looks only inside conversations, so it can run on a chunk or a Dask partition."""
    from qa_scorer import metrics, rubric as rubric_mod

    timings = timings if timings is not None else {}
    t = time.perf_counter()
    tables = metrics.conversation_metrics(messages, settings, data_end=data_end)
    replies, rounds, conversations = tables.replies, tables.rounds, tables.conversations
    timings["metrics"] = timings.get("metrics", 0) + time.perf_counter() - t

    t = time.perf_counter()
    if model is not None:
        from qa_scorer.classifier import tag_replies
        human = ~replies["is_auto"].astype(bool)
        tagged = tag_replies(replies.loc[human], model, workers=workers or os.cpu_count() or 1)
        replies = replies.copy()
        new_cols = [c for c in tagged.columns if c not in replies.columns]
        for c in new_cols:
            replies[c] = tagged[c]
        for tag in TAGS:
            if tag in replies.columns:
                replies[tag] = replies[tag].fillna(0).astype("int64")
        if "tag_words" in replies.columns:
            replies["tag_words"] = replies["tag_words"].fillna("")
    timings["tags"] = timings.get("tags", 0) + time.perf_counter() - t

    t = time.perf_counter()
    replies = rubric_mod.flag_forbidden(replies, rubric)
    conversations = add_tag_counts(conversations, replies)
    conversations = rubric_mod.score_conversations(conversations, replies, rubric)
    timings["scores"] = timings.get("scores", 0) + time.perf_counter() - t
    return replies, rounds, conversations


def audit(paths: Iterable[str | Path], options: AuditOptions | None = None,
          progress: Callable[[str, float], None] | None = None) -> AuditResult:
    """Run the whole audit and write the output folder.  ``progress(stage, fraction)`` is optional."""
    from qa_scorer import metrics, rubric as rubric_mod

    options = options or AuditOptions()
    paths = [str(p) for p in paths]
    out_dir = Path(options.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    notes: list[str] = []
    say = progress or (lambda stage, frac: None)

    rubric = rubric_mod.load_rubric(options.rubric_path)
    settings = options.settings
    options.ingest.session_gap_s = settings.session_gap_s

    t = time.perf_counter()
    files_seen = {"n": 0}

    def on_file(path):
        files_seen["n"] += 1
        say(f"reading {Path(path).name}", files_seen["n"])

    ingest = read_paths(paths, options.ingest, progress=on_file)
    timings["read"] = time.perf_counter() - t
    messages = ingest.messages

    model = None
    if options.tags:
        from qa_scorer.classifier import load_model
        model = load_model(options.model_path)

    say("metrics, tags, scores", 0)
    data_end = messages["sent_at"].max() if len(messages) else None
    if options.engine == "dask":
        from qa_scorer.engines.dask_engine import score_tables_dask
        replies, rounds, conversations = score_tables_dask(
            messages, settings, rubric, options.model_path, use_model=options.tags,
            scheduler=options.scheduler, data_end=data_end, timings=timings)
    else:
        replies, rounds, conversations = score_tables(messages, settings, rubric, model,
                                                      workers=options.workers, data_end=data_end,
                                                      timings=timings)
    t = time.perf_counter()
    agents = metrics.agent_metrics(replies, rounds, conversations, settings)
    agents = rubric_mod.score_agents(agents, conversations, rubric)
    timings["agents"] = time.perf_counter() - t

    say("writing outputs", 0)
    run_info = {
        "qa_scorer_version": __version__,
        "run_at": datetime.now().isoformat(timespec="seconds"),
        "inputs": paths,
        "files": [vars(f) for f in ingest.files],
        "messages": int(len(messages)),
        "rejected_rows": int(len(ingest.rejected)),
        "period": [str(messages["sent_at"].min()), str(messages["sent_at"].max())] if len(messages) else None,
        "settings": settings.to_dict(),
        "rubric_file": str(options.rubric_path) if options.rubric_path else "default (packaged)",
        "rubric": rubric.to_dict(),
        "model": (getattr(model, "describe", lambda: {})() if model is not None else None),
        "engine": options.engine,
    }
    written: list[Path] = []
    # The workbook is written by pure-Python xlsxwriter; run it in a thread while Arrow writes the
    # CSVs (Arrow releases the GIL), so the two overlap.
    with ThreadPoolExecutor(max_workers=1) as pool:
        xlsx_job = None
        if options.xlsx:
            from qa_scorer.report import write_workbook

            def _xlsx():
                t0 = time.perf_counter()
                result = write_workbook(out_dir / "audit.xlsx", agents=agents, conversations=conversations,
                                        replies=replies, rejected=ingest.rejected,
                                        max_rows=options.xlsx_max_rows)
                return result, time.perf_counter() - t0

            xlsx_job = pool.submit(_xlsx)
        t = time.perf_counter()
        for name, table in (("messages", messages), ("rejected", ingest.rejected), ("replies", replies),
                            ("rounds", rounds), ("conversations", conversations), ("agents", agents)):
            written.append(write_table(table, out_dir / f"{name}.csv"))
        timings["write_csv"] = time.perf_counter() - t
        if options.html:
            t = time.perf_counter()
            from qa_scorer.report import write_html_report
            write_html_report(out_dir / "report.html", agents=agents, conversations=conversations,
                              replies=replies, messages=messages, rounds=rounds, run_info=run_info)
            written.append(out_dir / "report.html")
            timings["write_html"] = time.perf_counter() - t
        if xlsx_job is not None:
            xlsx_notes, timings["write_xlsx"] = xlsx_job.result()
            notes.extend(xlsx_notes or [])
            written.append(out_dir / "audit.xlsx")
    run_info["timings_s"] = {k: round(v, 3) for k, v in timings.items()}
    run_info["notes"] = notes
    (out_dir / "run.json").write_text(json.dumps(run_info, ensure_ascii=False, indent=2, default=str),
                                      encoding="utf-8")
    written.append(out_dir / "run.json")
    return AuditResult(out_dir, messages, ingest.rejected, replies, rounds, conversations, agents,
                       ingest.files, notes, timings, written)
