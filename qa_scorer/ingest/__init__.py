"""Ingestion: read chat exports (CSV/TSV/XLSX/JSON/JSONL/chat-log text, UTF-8 or GBK) into the
canonical messages table (``qa_scorer.schema.MESSAGE_COLUMNS``).

    result = read_paths(["sample_transcripts/"])
    result.messages   # canonical table
    result.rejected   # rows that could not be used: source_file, source_line, reason, raw
    result.files      # one FileReport per file: reader, rows, rejected, error
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import pandas as pd

from qa_scorer.schema import REJECTED_COLUMNS, empty_messages

from .columns import parse_column_mapping
from .normalize import finish_batch, normalize_file, parse_timestamps
from .readers import EXTENSIONS, FORMATS, FileReadError, NotAChatExport, read_file

__all__ = [
    "IngestOptions", "IngestResult", "FileReport", "read_paths", "discover_files", "read_one", "ChunkedInput",
    "READ_MODES",
    "parse_column_mapping", "parse_timestamps", "FORMATS", "FileReadError",
]


@dataclass
class IngestOptions:
    fmt: str | None = None                  # force a reader (csv|tsv|xlsx|json|jsonl|chatlog)
    encoding: str | None = None             # force an encoding (default: detect)
    columns: dict[str, str] = field(default_factory=dict)  # extra header mapping {header: canonical}
    agents: set[str] = field(default_factory=set)          # extra agent account names
    session_gap_s: int | None = None        # new conversation after this silence (no conversation id);
                                            # None: MetricSettings.session_gap_s (the one default)


@dataclass
class FileReport:
    path: str
    reader: str | None = None
    encoding: str | None = None
    rows: int = 0
    rejected: int = 0
    error: str | None = None       # the file could not be used at all
    skipped: str | None = None     # not a chat export (e.g. a sales file), left out on purpose
    notes: list[str] = field(default_factory=list)


@dataclass
class IngestResult:
    messages: pd.DataFrame
    rejected: pd.DataFrame
    files: list[FileReport]

    @property
    def failed_files(self) -> list[FileReport]:
        return [f for f in self.files if f.error]


def _session_gap(options: IngestOptions) -> int:
    if options.session_gap_s is not None:
        return options.session_gap_s
    from qa_scorer.settings import MetricSettings
    return MetricSettings().session_gap_s


def discover_files(paths: Iterable[str | Path]) -> tuple[list[Path], list[FileReport]]:
    """Expand folders recursively.  Files in folders are taken by extension; files named
    explicitly are always tried.  Missing paths are reported, not ignored."""
    found: list[Path] = []
    problems: list[FileReport] = []
    for p in map(Path, paths):
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts):
                    if f.suffix.lower() in EXTENSIONS:
                        found.append(f)
        elif p.is_file():
            found.append(p)
        else:
            problems.append(FileReport(str(p), error="no such file or folder"))
    return found, problems


def read_one(path: Path, options: IngestOptions) -> tuple[pd.DataFrame | None, pd.DataFrame, FileReport]:
    """Read and clean one file; never raises for bad input - the report carries the error."""
    report = FileReport(str(path))
    try:
        raw = read_file(path, fmt=options.fmt, encoding=options.encoding, columns=options.columns)
    except NotAChatExport as exc:
        report.skipped = str(exc)
        return None, pd.DataFrame(columns=REJECTED_COLUMNS), report
    except FileReadError as exc:
        report.error = str(exc)
        return None, pd.DataFrame(columns=REJECTED_COLUMNS), report
    report.reader, report.encoding, report.notes = raw.fmt, raw.encoding, raw.notes
    rows, rejected = normalize_file(raw.frame, str(path))
    structural = pd.DataFrame(raw.rejected, columns=["source_line", "reason", "raw"])
    structural.insert(0, "source_file", str(path))
    rejected = pd.concat([structural, rejected], ignore_index=True) if len(structural) else rejected
    report.rows, report.rejected = len(rows), len(rejected)
    return rows, rejected[REJECTED_COLUMNS], report


def read_paths(paths: Iterable[str | Path], options: IngestOptions | None = None,
               progress: Callable[[Path], None] | None = None) -> IngestResult:
    """Read every file under ``paths`` into one canonical messages table."""
    options = options or IngestOptions()
    files, reports = discover_files(paths)
    frames, rejects = [], []
    for path in files:
        rows, rejected, report = read_one(path, options)
        reports.append(report)
        if rows is not None and len(rows):
            frames.append(rows)
        if len(rejected):
            rejects.append(rejected)
        if progress:
            progress(path)
    if frames:
        messages = finish_batch(pd.concat(frames, ignore_index=True), agents=options.agents,
                                session_gap_s=_session_gap(options))
    else:
        messages = empty_messages()
    rejected = (pd.concat(rejects, ignore_index=True) if rejects
                else pd.DataFrame(columns=REJECTED_COLUMNS))
    rejected["source_line"] = rejected["source_line"].astype("int64")
    return IngestResult(messages, rejected, reports)


#: How ``ChunkedInput`` reads: "whole" reads every file at once (a malformed row is rejected on its
#: own, every conversation is complete whatever the row order), "stream" reads CSV/TSV files chunk by
#: chunk so an input larger than memory never sits in memory whole.
READ_MODES = ("whole", "stream")


class ChunkedInput:
    """The exports as chunks of whole conversations: what the audit driver consumes.

        source = ChunkedInput(paths, options, chunk_rows=250_000, read="whole")
        source.prepare()          # reads (whole) or pre-scans (stream); sets data_end, total_rows
        for chunk in source: ...  # canonical messages tables, index = row in the whole messages table
        source.files, source.rejected, source.split_conversations   # complete after the iteration

    ``chunk_rows`` None or 0: the whole input is one chunk.  In "whole" mode the chunks
    concatenated are exactly ``read_paths(...).messages``.
    """

    def __init__(self, paths: Iterable[str | Path], options: IngestOptions | None = None, *,
                 chunk_rows: int | None = None, read: str = "whole",
                 progress: Callable[[Path], None] | None = None):
        if read not in READ_MODES:
            raise ValueError(f"read must be one of {', '.join(READ_MODES)}, got {read!r}")
        self.paths = [str(p) for p in paths]
        self.options = options or IngestOptions()
        self.chunk_rows = chunk_rows or None
        self.read = read
        self.progress = progress
        self.data_end = None
        self.total_rows: int | None = None   # known up front in "whole" mode only
        self.split_conversations = 0
        self._whole: IngestResult | None = None
        self._stream: MessageStream | None = None

    def prepare(self) -> "ChunkedInput":
        if self.read == "whole":
            if self._whole is None:
                self._whole = read_paths(self.paths, self.options, progress=self.progress)
                msgs = self._whole.messages
                self.total_rows = len(msgs)
                self.data_end = msgs["sent_at"].max() if len(msgs) else None
        elif self._stream is None:
            self._stream = MessageStream(self.paths, self.options, chunk_rows=self.chunk_rows or 1_000_000,
                                         progress=self.progress)
            self.data_end = self._stream.data_end()
        return self

    def set_chunk_rows(self, chunk_rows: int | None) -> None:
        """Change the chunk size after ``prepare`` (the driver sizes chunks from ``total_rows``)."""
        self.chunk_rows = chunk_rows or None

    @property
    def files(self) -> list[FileReport]:
        return self._whole.files if self._whole is not None else (self._stream.files if self._stream else [])

    @property
    def rejected(self) -> pd.DataFrame:
        if self._whole is not None:
            return self._whole.rejected
        if self._stream is not None:
            return self._stream.rejected
        return pd.DataFrame(columns=REJECTED_COLUMNS)

    def __iter__(self):
        self.prepare()
        if self._stream is not None:
            yield from self._stream
            self.split_conversations = self._stream.split_conversations
            return
        messages = self._whole.messages
        if not self.chunk_rows or len(messages) <= self.chunk_rows:
            yield messages
            return
        start = 0
        ids = pd.factorize(messages["conversation_id"])[0]
        while start < len(messages):
            cut = _conversation_cut(ids[start:], self.chunk_rows)
            end = len(messages) if cut is None or start + self.chunk_rows >= len(messages) else start + cut
            yield messages.iloc[start:end]
            start = end


class MessageStream:
    """Read large inputs as a sequence of canonical message tables, each holding whole conversations.

    CSV/TSV files with a conversation id column are read ``chunk_rows`` rows at a time; rows of
    the conversation still open at a chunk's end wait for the next chunk.  This assumes an
    export lists each conversation's rows together (exports do); a conversation id that comes
    back after its chunk was closed is counted in ``split_conversations`` and reported.
    Everything else (other formats, files without conversation ids, which need segmentation
    over the whole input) is read whole and audited as the last chunk.

    Every chunk's index continues the previous one, so ``replies.message_index`` is the row
    number in the concatenated messages table.  ``files`` and ``rejected`` are complete once
    the iteration is over.
    """

    def __init__(self, paths: Iterable[str | Path], options: IngestOptions | None = None,
                 chunk_rows: int = 500_000, progress: Callable[[Path], None] | None = None,
                 whole_files: bool = False):
        from .readers import iter_delimited_chunks, streamable_format

        self.options = options or IngestOptions()
        self.chunk_rows = chunk_rows
        self.progress = progress
        self.files: list[FileReport] = []
        self._rejects: list[pd.DataFrame] = []
        self.split_conversations = 0
        self._iter_chunks = iter_delimited_chunks
        self._streamable = streamable_format
        self._paths = list(paths)
        # whole_files: read every file at once (full row-level rejects, for inputs that fit in
        # memory) and only audit in chunks; else CSV/TSV files are read chunk by chunk too.
        self.whole_files = whole_files

    @property
    def rejected(self) -> pd.DataFrame:
        if not self._rejects:
            return pd.DataFrame(columns=REJECTED_COLUMNS).astype({"source_line": "int64"})
        out = pd.concat(self._rejects, ignore_index=True)
        out["source_line"] = out["source_line"].astype("int64")
        return out

    def _rows_of_file(self, path: Path):
        """Yield cleaned row frames of one file (chunked when possible); records its report."""
        opts = self.options
        fmt = None if self.whole_files else self._streamable(path, opts.fmt)
        report = FileReport(str(path))
        self.files.append(report)
        if fmt is None:
            rows, rejected, rep = self._preloaded.pop(path, None) or read_one(path, opts)
            self.files[-1] = rep
            if len(rejected):
                self._rejects.append(rejected)
            if rows is not None and len(rows):
                yield rows
            return
        report.reader = fmt
        try:
            for raw, enc, structural in self._iter_chunks(path, "\t" if fmt == "tsv" else ",",
                                                          encoding=opts.encoding, columns=opts.columns,
                                                          chunk_rows=self.chunk_rows):
                report.encoding = enc
                rows, rejected = normalize_file(raw, str(path))
                if structural:
                    bad = pd.DataFrame(structural, columns=["source_line", "reason", "raw"])
                    bad.insert(0, "source_file", str(path))
                    rejected = pd.concat([bad, rejected[REJECTED_COLUMNS]], ignore_index=True)
                report.rows += len(rows)
                report.rejected += len(rejected)
                if len(rejected):
                    self._rejects.append(rejected[REJECTED_COLUMNS])
                if len(rows):
                    yield rows
        except NotAChatExport as exc:
            report.skipped = str(exc)
        except FileReadError as exc:
            report.error = str(exc) + (f" ({report.rows:,} rows before it were audited)" if report.rows else "")

    def data_end(self):
        """The latest message time of the whole input (needed before the first chunk is audited:
        a closing is only due when 5 minutes of data follow the last reply).  Streamable files
        get a first pass over their time column; the others are read whole now and kept."""
        from .readers import latest_timestamp_delimited

        files, problems = discover_files(self._paths)
        self._files, self._problems = files, problems
        self._preloaded: dict[Path, tuple] = {}
        latest = None
        for path in files:
            fmt = None if self.whole_files else self._streamable(path, self.options.fmt)
            if fmt is None:
                got = read_one(path, self.options)
                self._preloaded[path] = got
                m = got[0]["sent_at"].max() if got[0] is not None and len(got[0]) else None
            else:
                try:
                    m = latest_timestamp_delimited(path, "\t" if fmt == "tsv" else ",", encoding=self.options.encoding,
                                                   columns=self.options.columns, chunk_rows=self.chunk_rows)
                except (FileReadError, ValueError, OSError):
                    m = None  # reported by the main pass
            if m is not None and pd.notna(m) and (latest is None or m > latest):
                latest = m
        return latest

    def __iter__(self):
        if not hasattr(self, "_files"):
            self._files, self._problems = discover_files(self._paths)
            self._preloaded = {}
        files = self._files
        self.files.extend(self._problems)
        pending: pd.DataFrame | None = None   # rows with ids, waiting to complete their conversation
        unsegmented: list[pd.DataFrame] = []  # rows without ids: segmented together at the end
        closed: set[str] = set()
        offset = 0

        def emit(rows: pd.DataFrame):
            nonlocal offset
            messages = finish_batch(rows, agents=self.options.agents, session_gap_s=_session_gap(self.options))
            messages.index = pd.RangeIndex(offset, offset + len(messages))
            offset += len(messages)
            return messages

        for path in files:
            for rows in self._rows_of_file(path):
                has_id = (rows["conversation_id"] != "").to_numpy()
                if not has_id.all():
                    unsegmented.append(rows[~has_id])
                    rows = rows[has_id]
                if rows.empty:
                    continue
                pending = rows if pending is None else pd.concat([pending, rows], ignore_index=True)
                while len(pending) >= self.chunk_rows:
                    cut = _conversation_cut(pending["conversation_id"].to_numpy(), self.chunk_rows)
                    if cut is None:  # one conversation so far: wait for more rows
                        break
                    ready, pending = pending.iloc[:cut], pending.iloc[cut:].reset_index(drop=True)
                    ids = set(pd.unique(ready["conversation_id"]))
                    self.split_conversations += len(ids & closed)
                    closed |= ids
                    yield emit(ready)
            if self.progress:
                self.progress(path)
        rest = [f for f in ([pending] if pending is not None else []) + unsegmented if len(f)]
        if rest:
            last = pd.concat(rest, ignore_index=True)
            ids = set(pd.unique(last["conversation_id"])) - {""}
            self.split_conversations += len(ids & closed)
            yield emit(last)


def _conversation_cut(ids, target: int) -> int | None:
    """Where to end a chunk of about ``target`` rows without cutting a conversation: the last
    change of conversation id at or before ``target`` (else the first after it).  The rows after
    the last change may belong to a conversation that goes on in the next rows, so they never
    close a chunk: None when there is no change at all."""
    import numpy as np

    changes = np.flatnonzero(ids[1:] != ids[:-1]) + 1  # first row of each new conversation run
    if not len(changes):
        return None
    before = changes[changes <= target]
    return int(before[-1]) if len(before) else int(changes[0])
