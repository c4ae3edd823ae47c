"""Ingestion: read chat exports (CSV/TSV/XLSX/JSON/JSONL/chat-log text, UTF-8 or GBK) into the
canonical messages table (``qa_scorer.schema.MESSAGE_COLUMNS``).

    result = read_paths(["sample_transcripts/"])
    result.messages   # canonical table
    result.rejected   # rows that could not be used: source_file, source_line, reason, raw
    result.files      # one FileReport per file: reader, rows_read = rows + rejected + duplicates, error

Nothing lost, nothing counted twice: every data row a reader sees is accepted, rejected (with file,
line and reason) or an exact duplicate of a row already read (counted in ``FileReport.duplicates``);
a file named twice (or found again through a folder, or the same bytes under another name) is read
once and the repeat is reported as skipped.
"""

from __future__ import annotations

import hashlib
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Iterable

import numpy as np
import pandas as pd

from qa_scorer.i18n import _
from qa_scorer.schema import REJECTED_COLUMNS, empty_messages

from .columns import parse_column_mapping
from .encoding import ENCODING_ERRORS
from .normalize import finish_batch, normalize_file, parse_timestamps
from .readers import EXTENSIONS, FORMATS, FileReadError, NotAChatExport, read_file
from .safe_text import MESSAGE_LIMIT, RAW_LIMIT, printable

__all__ = [
    "file_sha256",
    "IngestOptions", "IngestResult", "FileReport", "read_paths", "discover_files", "read_one", "ChunkedInput",
    "READ_MODES", "ENCODING_ERRORS", "DUPLICATE_KEY",
    "parse_column_mapping", "parse_timestamps", "FORMATS", "FileReadError", "printable",
]

#: Two rows with the same values here are one message exported twice: the later one is not audited
#: (counted in ``FileReport.duplicates``, not written to rejected.csv).
DUPLICATE_KEY = ["conversation_id", "sent_at", "sender", "text"]


@dataclass
class IngestOptions:
    fmt: str | None = None                  # force a reader (csv|tsv|xlsx|json|jsonl|chatlog)
    encoding: str | None = None             # force an encoding (default: detect)
    columns: dict[str, str] = field(default_factory=dict)  # extra header mapping {header: canonical}
    agents: set[str] = field(default_factory=set)          # extra agent account names
    session_gap_s: int | None = None        # new conversation after this silence (no conversation id);
                                            # None: MetricSettings.session_gap_s (the one default)
    encoding_errors: str = "strict"         # "replace": undecodable bytes become U+FFFD (counted in
                                            # FileReport.replaced and its notes) instead of failing the file
    skip_rows: int | None = None            # xlsx: rows above the header row (None: title rows are detected)

    def __post_init__(self):
        if self.encoding_errors not in ENCODING_ERRORS:
            raise ValueError(f"encoding_errors must be one of {', '.join(ENCODING_ERRORS)}, "
                             f"got {self.encoding_errors!r}")
        if self.skip_rows is not None and (not isinstance(self.skip_rows, int) or self.skip_rows < 0):
            raise ValueError(f"skip_rows must be a whole number >= 0, got {self.skip_rows!r}")


@dataclass
class FileReport:
    """One input file.  For every file that was read, ``rows_read == rows + rejected + duplicates``."""
    path: str
    reader: str | None = None
    encoding: str | None = None
    rows: int = 0                  # accepted rows (messages)
    rejected: int = 0              # rows in rejected.csv
    error: str | None = None       # the file could not be used at all
    skipped: str | None = None     # not a chat export (e.g. a sales file, a repeat), left out on purpose
    notes: list[str] = field(default_factory=list)
    rows_read: int = 0             # data rows seen (blank lines are not rows)
    duplicates: int = 0            # rows identical (DUPLICATE_KEY) to a row read before: counted once
    out_of_order: int = 0          # rows earlier than the row before them in their conversation (file order)
    replaced: int = 0              # characters decoded as U+FFFD (IngestOptions.encoding_errors="replace")

    @property
    def accounted(self) -> bool:
        return self.rows_read == self.rows + self.rejected + self.duplicates


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
    explicitly are always tried.  Missing paths are reported, not ignored.

    Each file is read once: a path named twice, a file also found through its folder (same
    resolved path) and a file with the same bytes as another one are reported as skipped
    ("same file as X; counted once"), not read again."""
    found: list[Path] = []
    problems: list[FileReport] = []
    first_of: dict[Path, Path] = {}
    for p in map(Path, paths):
        if p.is_dir():
            candidates = [f for f in sorted(p.rglob("*"))
                          if f.is_file() and not any(part.startswith(".") for part in f.relative_to(p).parts)
                          and f.suffix.lower() in EXTENSIONS]
        elif p.is_file():
            candidates = [p]
        else:
            problems.append(FileReport(str(p), error=_("no such file or folder")))
            continue
        for f in candidates:
            try:
                key = f.resolve()
            except OSError:
                key = f.absolute()
            if key in first_of:
                problems.append(FileReport(str(f), skipped=_("same file as {other}; counted once").format(
                    other=first_of[key])))
                continue
            first_of[key] = f
            found.append(f)
    repeats = _same_content(found)
    for f, other in repeats.items():
        problems.append(FileReport(str(f), skipped=_("same content as {other}; counted once").format(other=other)))
    return [f for f in found if f not in repeats], problems


def file_sha256(path: str | Path) -> str | None:
    """SHA-256 of a file's bytes, read in 1 MB blocks (None: unreadable).  Used to count a
    repeated export once and to record a workspace run's inputs."""
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as fh:
            for block in iter(lambda: fh.read(1 << 20), b""):
                digest.update(block)
    except OSError:
        return None
    return digest.hexdigest()


def _same_content(files: list[Path]) -> dict[Path, Path]:
    """{file: earlier file with the same bytes}; only files of equal size are hashed."""
    by_size: dict[int, list[Path]] = defaultdict(list)
    for f in files:
        try:
            by_size[f.stat().st_size].append(f)
        except OSError:
            continue
    repeats: dict[Path, Path] = {}
    for size, group in by_size.items():
        if len(group) < 2 or size == 0:
            continue
        seen: dict[str, Path] = {}
        for f in group:
            key = file_sha256(f)
            if key is None:
                continue
            if key in seen:
                repeats[f] = seen[key]
            else:
                seen[key] = f
    return repeats


def _empty_rejected() -> pd.DataFrame:
    return pd.DataFrame({c: pd.Series([], dtype="int64" if c == "source_line" else object) for c in REJECTED_COLUMNS})


def _clean_rejects(structural: list[dict], rejected: pd.DataFrame, path: str) -> pd.DataFrame:
    """Structural rejects (reader) + row rejects (normalize) as one table; every reason and raw
    value printable and cut (``printable``)."""
    if structural:
        bad = pd.DataFrame(structural, columns=["source_line", "reason", "raw"])
        bad.insert(0, "source_file", path)
        rejected = pd.concat([bad, rejected[REJECTED_COLUMNS]], ignore_index=True) if len(rejected) else bad
    if not len(rejected):
        return _empty_rejected()
    rejected = rejected[REJECTED_COLUMNS].copy()
    rejected["source_line"] = rejected["source_line"].astype("int64")
    rejected["reason"] = rejected["reason"].map(lambda v: printable(v, MESSAGE_LIMIT)).astype(object)
    rejected["raw"] = rejected["raw"].map(lambda v: printable(v, RAW_LIMIT)).astype(object)
    return rejected


def _file_failed(report: FileReport, exc: Exception) -> None:
    text = printable(str(exc), MESSAGE_LIMIT)
    if isinstance(exc, NotAChatExport):
        report.skipped = text
    else:
        report.error = text


def read_one(path: Path, options: IngestOptions) -> tuple[pd.DataFrame | None, pd.DataFrame, FileReport]:
    """Read and clean one file; never raises for bad input - the report carries the error.
    (Duplicates and time order are looked at over the whole input: ``read_paths``.)"""
    report = FileReport(str(path))
    try:
        raw = read_file(path, fmt=options.fmt, encoding=options.encoding, columns=options.columns,
                        encoding_errors=options.encoding_errors, skip_rows=options.skip_rows)
        report.reader, report.encoding, report.replaced = raw.fmt, raw.encoding, raw.replaced
        report.notes = [printable(n, MESSAGE_LIMIT) for n in raw.notes]
        rows, rejected = normalize_file(raw.frame, str(path))
    except (FileReadError, NotAChatExport) as exc:
        _file_failed(report, exc)
        return None, _empty_rejected(), report
    except Exception as exc:  # a reader bug must not stop the batch: the file is reported
        report.error = printable(_("cannot read the file ({error})").format(
            error=f"{exc.__class__.__name__}: {exc}"), MESSAGE_LIMIT)
        return None, _empty_rejected(), report
    rejected = _clean_rejects(raw.rejected, rejected, str(path))
    report.rows_read = raw.rows_read
    report.rows, report.rejected = len(rows), len(rejected)
    return rows, rejected, report


class _Deduper:
    """Exact duplicate rows (``DUPLICATE_KEY``) over everything read so far; the first is kept.

    Within one table the test is exact; across tables (stream mode: ``remember=True``) by a
    64-bit hash of the key."""

    def __init__(self):
        self._seen = np.empty(0, dtype=np.uint64)

    def mask(self, rows: pd.DataFrame, candidates: np.ndarray, remember: bool = False) -> np.ndarray:
        """``candidates``: rows that may repeat an earlier row of ``rows`` (same conversation and time)."""
        dup = np.zeros(len(rows), dtype=bool)
        idx = np.flatnonzero(candidates)
        if len(idx):
            dup[idx[rows.iloc[idx][DUPLICATE_KEY].duplicated(keep="first").to_numpy()]] = True
        if remember or len(self._seen):
            h = pd.util.hash_pandas_object(rows[DUPLICATE_KEY], index=False).to_numpy()
            if len(self._seen):
                dup |= np.isin(h, self._seen)
            if remember:
                self._seen = np.union1d(self._seen, h[~dup])
        return dup


def _order_facts(rows: pd.DataFrame):
    """``(dup_candidates, out_of_order)`` boolean arrays in file order.

    Fast and usual case - each conversation's rows together and in time order: candidates are
    the rows with the same conversation and time as the row before them.  Otherwise conversations
    are coded and compared by (conversation, time); "out of order" = earlier than the row before
    it in the same conversation (rows with a conversation id only: rows without one are
    segmented by time later, their file order means nothing)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    n = len(rows)
    conv = rows["conversation_id"]
    t = rows["sent_at"].to_numpy(dtype="datetime64[ns]").view(np.int64)
    arr = pa.array(conv.to_numpy(dtype=object) if conv.dtype == object else conv, type=pa.string())
    same = pc.equal(arr[1:], arr[:-1]).to_numpy(zero_copy_only=False)
    back = np.zeros(n, dtype=bool)
    if not (same & (t[1:] < t[:-1])).any():
        starts = np.flatnonzero(np.concatenate([[True], ~same]))
        if pd.Series(arr.take(pa.array(starts)).to_numpy(zero_copy_only=False)).is_unique:
            cand = np.zeros(n, dtype=bool)
            eq = np.flatnonzero(same & (t[1:] == t[:-1]))
            cand[eq] = cand[eq + 1] = True
            return cand, back
    codes = pd.factorize(conv)[0].astype(np.int64)
    key = t ^ (codes * np.int64(-7046029254386353131))
    cand = pd.Series(key).duplicated(keep=False).to_numpy()
    order = np.argsort(codes, kind="stable")
    c, ts = codes[order], t[order]
    back[order[1:][(c[1:] == c[:-1]) & (ts[1:] < ts[:-1])]] = True
    back &= (conv != "").to_numpy(dtype=bool)
    return cand, back


def _account(rows: pd.DataFrame, reports: list[FileReport], lengths: list[int], deduper: _Deduper,
             remember: bool = False, late: dict | None = None) -> pd.DataFrame:
    """Drop exact duplicates (counted per file), count rows out of time order (per file; noted by
    ``_note_out_of_order``).  ``rows`` = the files' rows concatenated in file order, ``lengths``
    rows per report; ``late`` collects {report path: conversation ids} across calls (else the
    notes are written now)."""
    if not len(rows):
        return rows
    cand, back = _order_facts(rows)
    dup = deduper.mask(rows, cand, remember)
    bounds = np.cumsum([0, *lengths])
    if dup.any():
        for rep, a, b in zip(reports, bounds[:-1], bounds[1:]):
            n = int(dup[a:b].sum())
            rep.duplicates += n
            rep.rows -= n
        keep = ~dup
        rows = rows[keep]
        bounds = np.cumsum([0, *[int(keep[a:b].sum()) for a, b in zip(bounds[:-1], bounds[1:])]])
        if back.any():  # a repeated stretch of an export is not "out of order": look again without it
            back = _order_facts(rows)[1]
    if back.any():
        convs = rows["conversation_id"].to_numpy(dtype=object)
        collect = late if late is not None else {}
        for rep, a, b in zip(reports, bounds[:-1], bounds[1:]):
            n = int(back[a:b].sum())
            if n:
                rep.out_of_order += n
                names = collect.setdefault(rep.path, [])
                names.extend(c for c in pd.unique(convs[a:b][back[a:b]]) if c not in names)
        if late is None:
            for rep in reports:
                _note_out_of_order(rep, collect.get(rep.path))
    return rows


def _note_out_of_order(report: FileReport, names: list | None) -> None:
    if not report.out_of_order or not names:
        return
    names = [c or _("(no id)") for c in names]
    shown = ", ".join(str(c) for c in names[:3]) + (_(" and {n} more").format(n=len(names) - 3)
                                                   if len(names) > 3 else "")
    report.notes.append(printable(_("{n} rows out of time order in conversation {ids} (earlier than the row "
                                    "before them in the file); sorted by time").format(
                                        n=report.out_of_order, ids=shown), MESSAGE_LIMIT))


def _check_accounting(report: FileReport) -> None:
    if report.error is None and report.skipped is None and not report.accounted:
        report.notes.append(_("accounting mismatch: {read} rows read, {rows} accepted + {rejected} rejected + "
                              "{dups} duplicates").format(read=report.rows_read, rows=report.rows,
                                                          rejected=report.rejected, dups=report.duplicates))


def read_paths(paths: Iterable[str | Path], options: IngestOptions | None = None,
               progress: Callable[[Path], None] | None = None) -> IngestResult:
    """Read every file under ``paths`` into one canonical messages table."""
    options = options or IngestOptions()
    files, reports = discover_files(paths)
    frames, rejects, read_reports = [], [], []
    for path in files:
        rows, rejected, report = read_one(path, options)
        reports.append(report)
        if rows is not None and len(rows):
            frames.append(rows)
            read_reports.append(report)
        if len(rejected):
            rejects.append(rejected)
        if progress:
            progress(path)
    if frames:
        rows = frames[0] if len(frames) == 1 else pd.concat(frames, ignore_index=True)
        rows = _account(rows, read_reports, [len(f) for f in frames], _Deduper())
        messages = finish_batch(rows, agents=options.agents, session_gap_s=_session_gap(options))
    else:
        messages = empty_messages()
    for report in reports:
        _check_accounting(report)
    rejected = pd.concat(rejects, ignore_index=True) if rejects else _empty_rejected()
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
                 chunk_rows: int = 500_000, progress: Callable[[Path], None] | None = None):
        from .readers import iter_delimited_chunks, streamable_format

        self.options = options or IngestOptions()
        self.chunk_rows = chunk_rows
        self.progress = progress
        self.files: list[FileReport] = []
        self._rejects: list[pd.DataFrame] = []
        self.split_conversations = 0
        self._iter_chunks = iter_delimited_chunks
        self._streamable = streamable_format
        self._deduper = _Deduper()
        self._paths = list(paths)

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
        fmt = self._streamable(path, opts.fmt)
        report = FileReport(str(path))
        self.files.append(report)
        late: dict = {}
        if fmt is None:
            rows, rejected, rep = self._preloaded.pop(path, None) or read_one(path, opts)
            self.files[-1] = rep
            if len(rejected):
                self._rejects.append(rejected)
            if rows is not None and len(rows):
                rows = _account(rows, [rep], [len(rows)], self._deduper, remember=True)
            _check_accounting(rep)
            if rows is not None and len(rows):
                yield rows
            return
        report.reader = fmt
        stats: dict = {}
        try:
            for raw, enc, structural in self._iter_chunks(path, "\t" if fmt == "tsv" else ",",
                                                          encoding=opts.encoding, columns=opts.columns,
                                                          chunk_rows=self.chunk_rows,
                                                          encoding_errors=opts.encoding_errors, stats=stats):
                report.encoding = enc
                report.rows_read += len(raw) + len(structural)
                rows, rejected = normalize_file(raw, str(path))
                rejected = _clean_rejects(structural, rejected, str(path))
                report.rows += len(rows)
                report.rejected += len(rejected)
                if len(rejected):
                    self._rejects.append(rejected)
                rows = _account(rows, [report], [len(rows)], self._deduper, remember=True, late=late)
                if len(rows):
                    yield rows
        except NotAChatExport as exc:
            _file_failed(report, exc)
        except FileReadError as exc:
            _file_failed(report, exc)
            if report.rows:
                report.error += " " + _("({n} rows before it were audited)").format(n=f"{report.rows:,}")
        report.replaced = int(stats.get("replaced", 0))
        if report.replaced:
            report.notes.append(_("{n} undecodable byte sequence(s) were replaced by U+FFFD (encoding_errors="
                                  "replace); the rows holding them are audited with that character").format(
                                      n=report.replaced))
        _note_out_of_order(report, late.get(report.path))
        _check_accounting(report)

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
            fmt = self._streamable(path, self.options.fmt)
            if fmt is None:
                got = read_one(path, self.options)
                self._preloaded[path] = got
                m = got[0]["sent_at"].max() if got[0] is not None and len(got[0]) else None
            else:
                try:
                    m = latest_timestamp_delimited(path, "\t" if fmt == "tsv" else ",", encoding=self.options.encoding,
                                                   columns=self.options.columns, chunk_rows=self.chunk_rows,
                                                   encoding_errors=self.options.encoding_errors)
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
