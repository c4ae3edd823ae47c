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
    "IngestOptions", "IngestResult", "FileReport", "read_paths", "discover_files", "read_one",
    "parse_column_mapping", "parse_timestamps", "FORMATS", "FileReadError",
]


@dataclass
class IngestOptions:
    fmt: str | None = None                  # force a reader (csv|tsv|xlsx|json|jsonl|chatlog)
    encoding: str | None = None             # force an encoding (default: detect)
    columns: dict[str, str] = field(default_factory=dict)  # extra header mapping {header: canonical}
    agents: set[str] = field(default_factory=set)          # extra agent account names
    session_gap_s: int = 1800               # new conversation after this silence (no conversation id)


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
                                session_gap_s=options.session_gap_s)
    else:
        messages = empty_messages()
    rejected = (pd.concat(rejects, ignore_index=True) if rejects
                else pd.DataFrame(columns=REJECTED_COLUMNS))
    rejected["source_line"] = rejected["source_line"].astype("int64")
    return IngestResult(messages, rejected, reports)
