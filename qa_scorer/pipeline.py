"""``qa-scorer audit`` as a library call: ingest -> metrics -> tags -> scores -> outputs.

    from qa_scorer.pipeline import AuditOptions, audit
    result = audit(["sample_transcripts/"], AuditOptions(out_dir="qa-report"))

Every stage is a function from tables to tables (see docs/architecture.md); this module only
chains them, records what was used in ``run.json`` and writes the output folder.
"""

from __future__ import annotations

import dataclasses
import json
import os
import time
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
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
    xlsx_max_rows: int = 5_000        # rows per sheet in audit.xlsx (the CSVs always hold everything)
    worst_n: int = 20                 # conversations rendered as chats in report.html
    chunk_rows: int | None = None     # chunks of this many messages (whole conversations); None: auto, 0: never
    tag_pool_above_bytes: int = 16 << 20  # inputs this big get model-holding worker processes ...
    pipeline_chunk_rows: int = 250_000    # ... and are audited in chunks of this many messages, pipelined
    read_whole_files: bool | None = None  # chunked audits: read files whole (row-level rejects); None = auto
    stream_above_bytes: int = 1 << 30 # above this input size CSVs are read chunk by chunk (also without tags)
    engine: str = "local"             # "local" or "dask"
    scheduler: str | None = None      # dask.distributed scheduler address (None: local cluster)


@dataclass
class AuditResult:
    out_dir: Path
    messages: pd.DataFrame | None     # None after a streamed audit (see messages.csv)
    rejected: pd.DataFrame
    replies: pd.DataFrame
    rounds: pd.DataFrame
    conversations: pd.DataFrame
    agents: pd.DataFrame
    files: list[FileReport]
    notes: list[str]
    timings: dict[str, float]
    written: list[Path]
    summary: dict = field(default_factory=dict)   # messages, roles {role: count}, conversations

    @property
    def failed_files(self) -> list[FileReport]:
        return [f for f in self.files if f.error]


def _csv_safe(table):
    """Timestamps to the second; text cells a spreadsheet would run as a formula (= + - @, tab,
    CR first) get an apostrophe in front, as in audit.xlsx: these CSVs are made to open in Excel."""
    import pyarrow as pa
    import pyarrow.compute as pc

    for i, fld in enumerate(table.schema):
        col = table.column(i)
        if pa.types.is_timestamp(fld.type):
            table = table.set_column(i, fld.name, col.cast(pa.timestamp("s"), safe=False))
        elif pa.types.is_string(fld.type) or pa.types.is_large_string(fld.type):
            risky = pc.match_substring_regex(col, r"^[=+\-@\t\r]")
            if pc.any(risky).as_py():
                quote = pa.scalar("'", type=fld.type)
                empty = pa.scalar("", type=fld.type)
                guarded = pc.binary_join_element_wise(quote, col, empty)
                table = table.set_column(i, fld.name, pc.if_else(risky, guarded, col))
    return table


def write_table(df: pd.DataFrame, path: Path) -> Path:
    """CSV, UTF-8 with BOM: Excel on Windows then shows Chinese instead of mojibake.

    Written with Arrow's CSV writer (about 10x faster than ``DataFrame.to_csv`` on a million
    rows); timestamps to the second, booleans as true/false, missing values empty, formula-like
    text neutralised (see ``_csv_safe``)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv

    try:
        table = pa.Table.from_pandas(df, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError):  # mixed-type object column: slow but safe
        df.to_csv(path, index=False, encoding="utf-8-sig", date_format="%Y-%m-%d %H:%M:%S")
        return path
    table = _csv_safe(table)
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


class _Done:
    """An already computed result with the ``.result()`` of a pending one."""

    def __init__(self, value):
        self.value = value

    def result(self):
        return self.value


def start_tagging(replies: pd.DataFrame, model, *, workers: int | None):
    """Tag the human replies: returns a handle whose ``.result()`` is the tagged rows.

    With ``TagWorkers`` the work runs in the worker processes while the caller goes on (the
    streamed audit reads and measures the next chunk meanwhile)."""
    human = replies.loc[~replies["is_auto"].astype(bool)]
    if hasattr(model, "submit"):
        return model.submit(human)
    from qa_scorer.classifier import tag_replies
    return _Done(tag_replies(human, model, workers=workers or os.cpu_count() or 1))


def finish_tables(replies: pd.DataFrame, tagged: pd.DataFrame | None, conversations: pd.DataFrame, rubric):
    """Tags onto the replies, forbidden words, tag counts and conversation scores."""
    from qa_scorer import rubric as rubric_mod

    if tagged is not None:
        replies = replies.copy()
        for c in [c for c in tagged.columns if c not in replies.columns]:
            replies[c] = tagged[c]
        for tag in TAGS:
            if tag in replies.columns:
                replies[tag] = replies[tag].fillna(0).astype("int64")
        if "tag_words" in replies.columns:
            replies["tag_words"] = replies["tag_words"].fillna("")
    replies = rubric_mod.flag_forbidden(replies, rubric)
    conversations = add_tag_counts(conversations, replies)
    conversations = rubric_mod.score_conversations(conversations, replies, rubric)
    return replies, conversations


def score_tables(messages: pd.DataFrame, settings: MetricSettings, rubric, model, *, workers: int | None,
                 data_end: pd.Timestamp | None = None, timings: dict[str, float] | None = None):
    """The per-conversation part of the audit: metrics, tags, forbidden words, conversation scores.

    Looks only inside conversations, so it can run on a chunk or a Dask partition."""
    from qa_scorer import metrics

    timings = timings if timings is not None else {}
    t = time.perf_counter()
    tables = metrics.conversation_metrics(messages, settings, data_end=data_end)
    timings["metrics"] = timings.get("metrics", 0) + time.perf_counter() - t
    t = time.perf_counter()
    tagged = start_tagging(tables.replies, model, workers=workers).result() if model is not None else None
    timings["tags"] = timings.get("tags", 0) + time.perf_counter() - t
    t = time.perf_counter()
    replies, conversations = finish_tables(tables.replies, tagged, tables.conversations, rubric)
    timings["scores"] = timings.get("scores", 0) + time.perf_counter() - t
    return replies, tables.rounds, conversations


def _describe_model(model, options: AuditOptions) -> dict:
    """What run.json records about the classifier: which file, which version, which thresholds."""
    from qa_scorer.model_files import default_model_path

    if hasattr(model, "describe"):
        return model.describe()
    info = {"path": str(options.model_path) if options.model_path else f"shipped ({default_model_path()})"}
    if model is not None:
        info["version"] = getattr(model, "version", None)
        info["thresholds"] = getattr(model, "thresholds", None)
        meta = getattr(model, "metadata", {}) or {}
        info.update({k: meta[k] for k in ("trained_at", "corpus_rows", "seed") if k in meta})
    return info


def _write_workbook_job(path: Path, agents: pd.DataFrame, sheets: dict, max_rows: int, notes: list[str]):
    from qa_scorer.report import write_workbook

    t0 = time.perf_counter()
    result = write_workbook(path, agents=agents, max_rows=max_rows, **sheets)
    return [*notes, *(result or [])], time.perf_counter() - t0


def _workbook_pool(separate_process: bool):
    """A one-worker pool: a spawned process for big workbooks (xlsxwriter holds the GIL), else a thread."""
    if separate_process:
        import multiprocessing

        return ProcessPoolExecutor(max_workers=1, mp_context=multiprocessing.get_context("spawn"))
    return ThreadPoolExecutor(max_workers=1)


def _flagged(replies: pd.DataFrame) -> pd.Series:
    """Replies a QA lead wants to see first: tagged, forbidden words, short."""
    flags = pd.Series(False, index=replies.index)
    for col in (*TAGS, "forbidden", "short_reply"):
        if col in replies.columns:
            flags |= replies[col].fillna(0).astype(bool)
    return flags


def workbook_selection(conversations: pd.DataFrame, replies: pd.DataFrame, rejected: pd.DataFrame,
                       max_rows: int, *, total_replies: int | None = None) -> tuple[dict, list[str]]:
    """Rows for audit.xlsx.  Up to ``max_rows`` a sheet holds its whole table; beyond that a
    workbook nobody can scroll is slow to write, so it holds the rows worth reading first - the
    lowest-scored conversations, the flagged replies - and says so.  The CSVs hold everything."""
    notes: list[str] = []
    convs = conversations
    if len(conversations) > max_rows and "service_score" in conversations.columns:
        convs = conversations.sort_values("service_score", kind="stable").head(max_rows)
        notes.append(f"conversations sheet: the {max_rows:,} lowest-scored of {len(conversations):,} "
                     "conversations; all are in conversations.csv")
    reps = replies
    total = total_replies if total_replies is not None else len(replies)
    if total > max_rows:
        flagged = _flagged(replies)
        reps = pd.concat([replies[flagged], replies[~flagged]]).head(max_rows)
        notes.append(f"replies sheet: {len(reps):,} of {total:,} replies, flagged ones first; "
                     "all are in replies.csv")
    return {"conversations": convs, "replies": reps, "rejected": rejected}, notes


class _CsvAppender:
    """Appends chunk after chunk to one CSV (UTF-8 BOM + header once, Arrow writer)."""

    def __init__(self, path: Path):
        self.path, self.columns, self.rows = path, None, 0

    def write(self, df: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.csv as pacsv

        if self.columns is None:
            self.columns = list(df.columns)
            write_table(df, self.path)
            self.rows += len(df)
            return
        df = df.reindex(columns=self.columns)
        table = _csv_safe(pa.Table.from_pandas(df, preserve_index=False))
        with open(self.path, "ab") as fh:
            pacsv.write_csv(table, fh, pacsv.WriteOptions(include_header=False))
        self.rows += len(df)


#: What a streaming audit does not keep in memory for the replies outside the worst conversations
#: (the agent table and the charts do not need it; every column is in replies.csv).
_SLIM_DROP = ("text", "context", "tag_words", "forbidden_words", "source_file", "shop")
_SLIM_ROUND_DROP = ("customer_text",)


def _stream_tables(paths, options: AuditOptions, settings, rubric, model, say, timings, notes,
                   user_chunked: bool = False, input_bytes: int = 0):
    """The per-conversation stages chunk by chunk: memory is bounded by the chunk plus compact
    per-reply/per-round facts (no texts) and the conversations table."""
    from qa_scorer import metrics
    from qa_scorer.ingest import MessageStream
    from qa_scorer.report.html import _worst_conversations

    out_dir = Path(options.out_dir)
    done = {"n": 0}

    def on_file(path):
        done["n"] += 1
        say(f"reading {Path(path).name}", done["n"])

    whole_files = options.read_whole_files
    if whole_files is None:  # auto: read whole unless the input is huge or a chunk size was asked for
        whole_files = not user_chunked and input_bytes <= options.stream_above_bytes
    stream = MessageStream(paths, options.ingest, chunk_rows=options.chunk_rows, progress=on_file,
                           whole_files=whole_files)
    t = time.perf_counter()
    data_end = stream.data_end()
    timings["read"] = time.perf_counter() - t
    files = {name: _CsvAppender(out_dir / f"{name}.csv") for name in ("messages", "replies", "rounds")}
    convs, slim_replies, slim_rounds = [], [], []
    n_messages, roles, period = 0, {}, [None, None]
    state = {"worst": None, "xlsx": [], "msgs": [], "reps": [], "rnds": []}

    def finish(chunk, tables, pending):
        """Everything after tagging for one chunk: scores, CSV appends, what the report keeps."""
        t = time.perf_counter()
        tagged = pending.result() if pending is not None else None
        timings["tags_wait"] = timings.get("tags_wait", 0) + time.perf_counter() - t
        t = time.perf_counter()
        replies, conversations = finish_tables(tables.replies, tagged, tables.conversations, rubric)
        rounds = tables.rounds
        timings["scores"] = timings.get("scores", 0) + time.perf_counter() - t
        t = time.perf_counter()
        files["messages"].write(chunk)
        files["replies"].write(replies)
        files["rounds"].write(rounds)
        timings["write_csv"] = timings.get("write_csv", 0) + time.perf_counter() - t
        convs.append(conversations)
        slim_replies.append(replies.drop(columns=[c for c in _SLIM_DROP if c in replies.columns]))
        slim_rounds.append(rounds.drop(columns=[c for c in _SLIM_ROUND_DROP if c in rounds.columns]))
        # audit.xlsx: keep at most xlsx_max_rows replies, flagged ones first
        pool_ = pd.concat([*state["xlsx"], replies], ignore_index=True)
        flagged = _flagged(pool_)
        state["xlsx"] = [pd.concat([pool_[flagged], pool_[~flagged]]).head(options.xlsx_max_rows)]
        # keep the full rows of the conversations that are (so far) among the worst, for the report
        worst = state["worst"]
        worst = _worst_conversations(conversations if worst is None else pd.concat([worst, conversations]),
                                     options.worst_n)
        state["worst"] = worst
        ids = set(worst["conversation_id"].astype(str))
        state["msgs"] = [m[m["conversation_id"].isin(ids)] for m in [*state["msgs"], chunk]]
        state["reps"] = [r[r["conversation_id"].isin(ids)] for r in [*state["reps"], replies]]
        state["rnds"] = [r[r["conversation_id"].isin(ids)] for r in [*state["rnds"], rounds]]

    # One chunk in flight: while the tag workers tag chunk k, this process reads and measures
    # chunk k+1, then finishes chunk k.
    in_flight = None
    it = iter(stream)
    while True:
        t = time.perf_counter()
        chunk = next(it, None)
        timings["read"] += time.perf_counter() - t
        if chunk is None:
            break
        n_messages += len(chunk)
        for role, count in chunk["role"].value_counts().items():
            roles[role] = roles.get(role, 0) + int(count)
        lo, hi = chunk["sent_at"].min(), chunk["sent_at"].max()
        period = [lo if period[0] is None else min(period[0], lo), hi if period[1] is None else max(period[1], hi)]
        t = time.perf_counter()
        tables = metrics.conversation_metrics(chunk, settings, data_end=data_end)
        timings["metrics"] = timings.get("metrics", 0) + time.perf_counter() - t
        t = time.perf_counter()
        pending = start_tagging(tables.replies, model, workers=options.workers) if model is not None else None
        timings["tags"] = timings.get("tags", 0) + time.perf_counter() - t
        if in_flight is not None:
            finish(*in_flight)
        in_flight = (chunk, tables, pending)
        say(f"audited {n_messages:,} messages", done["n"])
    if in_flight is not None:
        finish(*in_flight)
    if not convs:  # nothing readable: empty tables with every column, as an in-memory audit gives
        from qa_scorer.schema import empty_messages
        empty = empty_messages()
        finish(empty, metrics.conversation_metrics(empty, settings, data_end=data_end), None)
    worst = state["worst"]
    xlsx_replies, keep_msgs, keep_reps, keep_rnds = state["xlsx"], state["msgs"], state["reps"], state["rnds"]
    if stream.split_conversations:
        notes.append(f"{stream.split_conversations:,} conversation ids came back after their chunk was closed "
                     "(the export does not list each conversation's rows together); their parts were "
                     "audited as separate conversations — audit with --chunk-size 0 to join them")
    concat = (lambda parts: pd.concat(parts, ignore_index=True) if parts else pd.DataFrame())
    replies_all = concat(slim_replies)
    report_replies = replies_all[~replies_all["conversation_id"].isin(
        set(worst["conversation_id"].astype(str)) if worst is not None else set())] if len(replies_all) else replies_all
    report_replies = pd.concat([report_replies, concat(keep_reps)], ignore_index=True) if keep_reps else report_replies
    return {
        "stream": stream, "messages_count": n_messages, "roles": roles, "period": period,
        "replies": replies_all, "rounds": concat(slim_rounds), "conversations": concat(convs),
        "report_messages": concat(keep_msgs), "report_replies": report_replies,
        "report_rounds": concat(keep_rnds), "xlsx_replies": concat(xlsx_replies), "written": files,
    }


def _auto_chunk_rows(size: int, options: AuditOptions) -> int | None:
    """Stream (chunk) when asked, or when the input is larger than ``stream_above_bytes``."""
    if options.chunk_rows is not None:  # 0: never chunk
        return options.chunk_rows or None
    if options.engine != "local":
        return None
    if size > options.stream_above_bytes:
        return 1_000_000
    if options.tags and size >= options.tag_pool_above_bytes:
        return options.pipeline_chunk_rows  # tag workers on chunk k while this process reads chunk k+1
    return None


def audit(paths: Iterable[str | Path], options: AuditOptions | None = None,
          progress: Callable[[str, float], None] | None = None) -> AuditResult:
    """Run the whole audit and write the output folder.  ``progress(stage, fraction)`` is optional."""
    from qa_scorer import rubric as rubric_mod

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
    # Large inputs: worker processes load the model (and jieba) on their own cores while this
    # process reads the exports; small ones load it here (a pool would cost more than it saves).
    input_bytes = _input_bytes(paths)
    model = None
    if options.tags and options.engine == "local":
        if input_bytes >= options.tag_pool_above_bytes:
            from qa_scorer.tag_workers import TagWorkers
            model = TagWorkers(options.model_path, options.workers or os.cpu_count() or 1)
        else:
            t = time.perf_counter()
            from qa_scorer.classifier import load_model
            model = load_model(options.model_path)
            timings["load_model"] = time.perf_counter() - t
    try:
        return _audit(paths, options, out_dir, rubric, settings, model, say, timings, notes, input_bytes)
    finally:
        if hasattr(model, "close"):
            model.close()


def _input_bytes(paths) -> int:
    from qa_scorer.ingest import discover_files
    files, _ = discover_files(paths)
    return sum(f.stat().st_size for f in files)


def _audit(paths, options, out_dir, rubric, settings, model, say, timings, notes, input_bytes) -> AuditResult:
    from qa_scorer import metrics, rubric as rubric_mod

    user_chunked = bool(options.chunk_rows)
    chunk_rows = _auto_chunk_rows(input_bytes, options)
    if chunk_rows:
        options = dataclasses.replace(options, chunk_rows=chunk_rows)  # the caller's options stay as given
        streamed = _stream_tables(paths, options, settings, rubric, model, say, timings, notes,
                                  user_chunked, input_bytes)
        stream = streamed["stream"]
        files_report, rejected = stream.files, stream.rejected
        replies, rounds, conversations = streamed["replies"], streamed["rounds"], streamed["conversations"]
        messages = None
        n_messages, period = streamed["messages_count"], streamed["period"]
        report_tables = (streamed["report_messages"], streamed["report_replies"], streamed["report_rounds"])
        xlsx_replies = streamed["xlsx_replies"]
        already_written = streamed["written"]
        notes.append(f"audited in chunks of {chunk_rows:,} messages (whole conversations); messages.csv is in "
                     "chunk order")
    else:
        t = time.perf_counter()
        files_seen = {"n": 0}

        def on_file(path):
            files_seen["n"] += 1
            say(f"reading {Path(path).name}", files_seen["n"])

        ingest = read_paths(paths, options.ingest, progress=on_file)
        timings["read"] = time.perf_counter() - t
        messages, files_report, rejected = ingest.messages, ingest.files, ingest.rejected
        n_messages = len(messages)
        period = [messages["sent_at"].min(), messages["sent_at"].max()] if n_messages else None
        say("metrics, tags, scores", 0)
        data_end = messages["sent_at"].max() if n_messages else None
        if options.engine == "dask":
            from qa_scorer.engines.dask_engine import score_tables_dask
            replies, rounds, conversations = score_tables_dask(
                messages, settings, rubric, options.model_path, use_model=options.tags,
                scheduler=options.scheduler, data_end=data_end, timings=timings)
        else:
            replies, rounds, conversations = score_tables(messages, settings, rubric, model,
                                                          workers=options.workers, data_end=data_end,
                                                          timings=timings)
        report_tables = (messages, replies, rounds)
        xlsx_replies = replies
        already_written = {}

    t = time.perf_counter()
    agents = metrics.agent_metrics(replies, rounds, conversations, settings)
    agents = rubric_mod.score_agents(agents, conversations, rubric)
    timings["agents"] = time.perf_counter() - t

    say("writing outputs", 0)
    run_info = {
        "qa_scorer_version": __version__,
        "run_at": datetime.now().isoformat(timespec="seconds"),
        "inputs": paths,
        "files": [vars(f) for f in files_report],
        "messages": int(n_messages),
        "rejected_rows": int(len(rejected)),
        "period": [str(p) for p in period] if period and period[0] is not None else None,
        "settings": settings.to_dict(),
        "rubric_file": str(options.rubric_path) if options.rubric_path else "default (packaged)",
        "rubric": rubric.to_dict(),
        "model": _describe_model(model, options) if options.tags else None,
        "engine": options.engine,
        "chunk_rows": options.chunk_rows,
    }
    written: list[Path] = [w.path for w in already_written.values()]
    # The workbook is written by pure-Python xlsxwriter (~4 us a cell): it runs in a separate
    # process on the selected rows while this one writes the CSVs and the HTML report.
    with _workbook_pool(options.xlsx and len(conversations) > 2_000) as pool:
        xlsx_job = None
        if options.xlsx:
            sheets, sheet_notes = workbook_selection(conversations, xlsx_replies, rejected,
                                                     options.xlsx_max_rows, total_replies=len(replies))
            xlsx_job = pool.submit(_write_workbook_job, out_dir / "audit.xlsx", agents, sheets,
                                   options.xlsx_max_rows, sheet_notes)
        t = time.perf_counter()
        tables = {"messages": messages, "rejected": rejected, "replies": replies, "rounds": rounds,
                  "conversations": conversations, "agents": agents}
        for name, table in tables.items():
            if name not in already_written:
                written.append(write_table(table, out_dir / f"{name}.csv"))
        timings["write_csv"] = timings.get("write_csv", 0) + time.perf_counter() - t
        if options.html:
            t = time.perf_counter()
            from qa_scorer.report import write_html_report
            r_messages, r_replies, r_rounds = report_tables
            write_html_report(out_dir / "report.html", agents=agents, conversations=conversations,
                              replies=r_replies, messages=r_messages, rounds=r_rounds, run_info=run_info,
                              worst_n=options.worst_n)
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
    if messages is not None:
        roles = {str(k): int(v) for k, v in messages["role"].value_counts().items()}
        n_conv = int(messages["conversation_id"].nunique())
    else:  # streamed: messages.csv was written chunk by chunk
        roles, n_conv = streamed["roles"], int(len(conversations))
    summary = {"messages": int(n_messages), "roles": roles, "conversations": n_conv}
    return AuditResult(out_dir, messages, rejected, replies, rounds, conversations, agents,
                       files_report, notes, timings, written, summary)
