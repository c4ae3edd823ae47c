"""One reader per export format.  Each returns a *raw* frame: canonical column names (as far as
the file has them, values still text) plus ``source_line``; rows that are structurally broken
(wrong field count, bad JSON) come back as rejects.  ``normalize.py`` turns raw frames into the
canonical messages table.
"""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from .columns import looks_like_sales_file, map_headers, missing_required
from .encoding import DecodeError, decode_bytes, sniff_file_encoding

FORMATS = ("csv", "tsv", "xlsx", "json", "jsonl", "chatlog")
EXTENSIONS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".xlsx": "xlsx", ".xlsm": "xlsx", ".json": "json",
    ".jsonl": "jsonl", ".ndjson": "jsonl", ".txt": None, ".log": None,
}


class FileReadError(ValueError):
    """The whole file cannot be used; the message says why and how to fix it."""


class NotAChatExport(FileReadError):
    """The file is something else we recognise (e.g. a sales file): skipped, not an error."""


@dataclass
class RawRead:
    frame: pd.DataFrame
    fmt: str
    encoding: str | None = None
    rejected: list[dict] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


# --------------------------------------------------------------------------- format sniffing

_LOG_HEADER_PATTERNS = [
    # NAME (YYYY-MM-DD HH:MM:SS):   (ASCII or full-width brackets/colon)
    re.compile(r"^(?P<name>\S.*?)\s*[(（](?P<ts>\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[ T]\d{1,2}:\d{2}(?::\d{2})?)[)）]\s*[:：]?\s*$"),
    # YYYY-MM-DD HH:MM:SS NAME
    re.compile(r"^(?P<ts>\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[ T]\d{1,2}:\d{2}(?::\d{2})?)\s+(?P<name>\S.*?)\s*[:：]?\s*$"),
    # NAME YYYY-MM-DD HH:MM:SS
    re.compile(r"^(?P<name>\S.*?)\s+(?P<ts>\d{4}[-/.]\d{1,2}[-/.]\d{1,2}[ T]\d{1,2}:\d{2}(?::\d{2})?)\s*[:：]?\s*$"),
]
_LOG_BUYER = re.compile(r"^\s*(?:消息对象|聊天对象|对话对象|买家)\s*[:：]\s*(?P<buyer>\S.*?)\s*$")
_LOG_SEPARATOR = re.compile(r"^\s*(?:-{3,}|={3,}|_{3,}|\*{3,})\s*$")


def _match_log_header(line: str):
    for pattern in _LOG_HEADER_PATTERNS:
        m = pattern.match(line)
        if m:
            return m
    return None


def sniff_format(path: Path, head_text: str | None) -> str | None:
    """Choose a reader by extension, then by content.  Returns None when nothing fits."""
    ext = path.suffix.lower()
    fmt = EXTENSIONS.get(ext)
    if fmt:
        return fmt
    if head_text is None:
        return None
    lines = [ln for ln in head_text.splitlines()[:50] if ln.strip()]
    if not lines:
        return None
    first = lines[0].lstrip("\ufeff").lstrip()
    if first.startswith("["):
        return "json"
    if first.startswith("{"):
        return "jsonl"
    if sum(1 for ln in lines if _match_log_header(ln) or _LOG_BUYER.match(ln)) >= 1 and not (
        "," in first and map_headers(first.split(","))
    ):
        return "chatlog"
    if "\t" in first:
        return "tsv"
    if "," in first:
        return "csv"
    return None


# --------------------------------------------------------------------------- delimited text

def _rename(frame: pd.DataFrame, path: Path, columns: dict[str, str] | None) -> pd.DataFrame:
    headers = list(frame.columns)
    mapped = map_headers(headers, columns)
    missing = missing_required(mapped)
    if missing:
        if looks_like_sales_file(headers):
            raise NotAChatExport("looks like a sales file (use it with `qa-scorer commission --sales`)")
        shown = ", ".join(str(h) for h in headers[:12])
        raise FileReadError(
            f"no usable column for {', '.join(missing)} (headers found: {shown}); "
            f"rename the header or map it, e.g. --columns \"{headers[0] if headers else 'HEADER'}={missing[0]}\""
        )
    frame = frame[list(mapped)].rename(columns=mapped)
    return frame


def _read_delimited_arrow(data: bytes, sep: str) -> pd.DataFrame | None:
    """Arrow's multi-threaded CSV reader, with ``newlines_in_values`` so quoted multi-line
    messages stay in sync (pandas' "pyarrow" engine does not pass that option and loses sync).
    Returns None - and the caller takes pandas' C parser - whenever the result cannot be
    trusted to the line: a header we cannot read, duplicate headers, blank lines (Arrow skips
    them, which would shift line numbers), or any parse error."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.compute as pc

    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    first_line = body.split(b"\n", 1)[0].rstrip(b"\r")
    if b'"' in first_line:
        return None
    header = first_line.decode("utf-8").split(sep)
    if len(set(header)) != len(header) or not all(h.strip() for h in header):
        return None
    try:
        table = pacsv.read_csv(
            io.BytesIO(body),
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1),
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, UnicodeDecodeError):
        return None
    spans = np.ones(table.num_rows, dtype=np.int64)
    newlines_in_file = body.count(b"\n")
    if newlines_in_file > table.num_rows + 1:  # some field holds a newline: count per row
        for col in table.columns:
            spans += pc.count_substring(col, "\n").to_numpy(zero_copy_only=False).astype(np.int64)
    # every physical line must be accounted for (header + rows), else lines were skipped
    if newlines_in_file + (0 if body.endswith(b"\n") else 1) != 1 + int(spans.sum()):
        return None
    frame = table.to_pandas(types_mapper=lambda t: pd.StringDtype("pyarrow", na_value=np.nan)
                            if pa.types.is_string(t) else None)
    frame["source_line"] = 2 + np.cumsum(spans) - spans
    return frame


def read_delimited(path: Path, text: str, sep: str, columns: dict[str, str] | None,
                   raw: bytes | None = None) -> tuple[pd.DataFrame, list[dict]]:
    """CSV/TSV with quoted multi-line fields.  Fast path: Arrow's reader on UTF-8 bytes; then
    pandas' C parser; when the file has rows with the wrong number of fields, fall back to the
    csv module so each bad row can be rejected with its line number instead of failing the file."""
    if raw is not None:
        frame = _read_delimited_arrow(raw, sep)
        if frame is not None:
            lines = frame.pop("source_line")
            frame = _rename(frame, path, columns)
            frame["source_line"] = lines.to_numpy(dtype="int64")
            return frame, []
    try:
        # Parsing bytes is ~3x faster than a str buffer, and str dtype gives Arrow-backed strings.
        frame = pd.read_csv(io.BytesIO(text.encode("utf-8")) if isinstance(text, str) else io.BytesIO(text),
                            sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=False, engine="c",
                            encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise FileReadError("the file is empty") from None
    except pd.errors.ParserError:
        return _read_delimited_slow(path, text, sep, columns)
    frame = _rename(frame, path, columns)
    # Physical line of each row's start: header is line 1; a row spans 1 + (newlines inside its fields).
    header_lines = 1 + sum(str(c).count("\n") for c in frame.columns)
    spans = pd.Series(1, index=frame.index, dtype="int64")
    if text.count("\n") > len(frame) + header_lines:  # some field holds a newline: count per row
        for col in frame.columns:
            spans = spans + frame[col].str.count("\n").astype("int64")
    frame["source_line"] = (header_lines + 1 + spans.cumsum() - spans).astype("int64")
    blank = (frame.drop(columns="source_line") == "").all(axis=1)
    return frame[~blank].reset_index(drop=True), []


def _read_delimited_slow(path: Path, text: str, sep: str, columns: dict[str, str] | None):
    reader = csv.reader(io.StringIO(text), delimiter=sep)
    try:
        header = next(reader)
    except StopIteration:
        raise FileReadError("the file is empty") from None
    rows, lines, rejected = [], [], []
    start = reader.line_num + 1
    for fields in reader:
        if not any(f.strip() for f in fields):
            start = reader.line_num + 1
            continue
        if len(fields) != len(header):
            rejected.append({"source_line": start,
                             "reason": f"expected {len(header)} fields, found {len(fields)} (check quoting/delimiters)",
                             "raw": sep.join(fields)})
        else:
            rows.append(fields)
            lines.append(start)
        start = reader.line_num + 1
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(columns=header, dtype=object)
    frame = _rename(frame, path, columns)
    frame["source_line"] = pd.Series(lines, dtype="int64")
    return frame, rejected


# --------------------------------------------------------------------------- xlsx

def read_xlsx(path: Path, columns: dict[str, str] | None) -> tuple[pd.DataFrame, list[str]]:
    try:
        sheets = pd.read_excel(path, sheet_name=None, dtype=object, engine="openpyxl")
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise FileReadError(f"cannot open as an Excel workbook ({exc.__class__.__name__}: {exc})") from None
    frames, notes, errors = [], [], []
    for name, sheet in sheets.items():
        if sheet.empty and not len(sheet.columns):
            continue
        try:
            frame = _rename(sheet, path, columns)
        except FileReadError as exc:
            errors.append(f"sheet {name!r}: {exc}")
            continue
        frame = frame.copy()
        frame["source_line"] = pd.RangeIndex(2, 2 + len(frame)).astype("int64")  # row 1 = header
        frame["source_sheet"] = name
        frames.append(frame)
    if not frames:
        raise FileReadError("; ".join(errors) or "the workbook has no sheet with data")
    notes.extend(f"skipped {e}" for e in errors)
    frame = pd.concat(frames, ignore_index=True)
    for col in frame.columns:
        if col in ("source_line", "sent_at"):
            continue
        frame[col] = frame[col].map(lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
    return frame, notes


# --------------------------------------------------------------------------- JSON

def _records_frame(records: list[dict], lines: list[int], path: Path, columns):
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    if frame.empty and not len(frame.columns):
        raise FileReadError("no messages found in the JSON")
    frame = _rename(frame, path, columns)
    for col in frame.columns:
        if col != "sent_at":
            frame[col] = frame[col].map(lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
    frame["source_line"] = pd.Series(lines, dtype="int64")
    return frame


def read_json(path: Path, text: str, columns) -> tuple[pd.DataFrame, list[dict]]:
    try:
        data = json.loads(text)
    except json.JSONDecodeError as exc:
        raise FileReadError(f"invalid JSON at line {exc.lineno}, column {exc.colno}: {exc.msg}") from None
    if isinstance(data, dict):
        for key in ("messages", "data", "records", "items"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            raise FileReadError("expected a JSON list of messages (or an object with a 'messages' list)")
    if not isinstance(data, list):
        raise FileReadError("expected a JSON list of messages")
    records, lines, rejected = [], [], []
    for i, item in enumerate(data, start=1):
        if isinstance(item, dict):
            records.append(item)
            lines.append(i)
        else:
            rejected.append({"source_line": i, "reason": "list element is not an object",
                             "raw": json.dumps(item, ensure_ascii=False)[:500]})
    return _records_frame(records, lines, path, columns), rejected


def read_jsonl(path: Path, text: str, columns) -> tuple[pd.DataFrame, list[dict]]:
    records, lines, rejected = [], [], []
    for i, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except json.JSONDecodeError as exc:
            rejected.append({"source_line": i, "reason": f"invalid JSON: {exc.msg}", "raw": line[:500]})
            continue
        if not isinstance(item, dict):
            rejected.append({"source_line": i, "reason": "line is not a JSON object", "raw": line[:500]})
            continue
        records.append(item)
        lines.append(i)
    if not records:
        raise FileReadError("no JSON objects found" + (f" ({len(rejected)} invalid lines)" if rejected else ""))
    return _records_frame(records, lines, path, columns), rejected


# --------------------------------------------------------------------------- chat-log text

def read_chatlog(path: Path, text: str) -> tuple[pd.DataFrame, list[dict]]:
    """Wangwang/Qianniu text exports: a header line per message, content lines after it.

    ``消息对象:NAME`` names the buyer of the following messages; ``----`` lines end a section.
    Conversations are otherwise separated later by buyer and time gap.  Non-empty lines
    before the first header are rejected (not silently dropped)."""
    rows: list[dict] = []
    rejected: list[dict] = []
    current: dict | None = None
    section, buyer = 0, ""
    for lineno, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        m_buyer = _LOG_BUYER.match(line)
        if m_buyer:
            section += 1
            buyer = m_buyer.group("buyer")
            current = None
            continue
        if _LOG_SEPARATOR.match(line):
            section += 1
            buyer = ""
            current = None
            continue
        m = _match_log_header(line)
        if m:
            current = {"sender": m.group("name").strip(), "sent_at": m.group("ts"), "lines": [],
                       "source_line": lineno, "section": section, "buyer": buyer}
            rows.append(current)
            continue
        if current is None:
            if stripped:
                rejected.append({"source_line": lineno,
                                 "reason": "text outside any message (no 'NAME (YYYY-MM-DD HH:MM:SS):' header before it)",
                                 "raw": line[:500]})
            continue
        current["lines"].append(line.rstrip())
    if not rows:
        raise FileReadError(
            "no message headers found; expected lines like 'NAME (2026-11-20 09:15:03):' or "
            "'2026-11-20 09:15:03 NAME' (use --format to force another reader)"
        )
    for row in rows:
        body = row.pop("lines")
        while body and not body[-1].strip():
            body.pop()
        while body and not body[0].strip():
            body.pop(0)
        row["text"] = "\n".join(s.strip() for s in body)
    frame = pd.DataFrame(rows, columns=["sender", "sent_at", "source_line", "section", "buyer", "text"])
    frame["source_line"] = frame["source_line"].astype("int64")
    return frame, rejected


# --------------------------------------------------------------------------- dispatcher

def read_file(path: Path, *, fmt: str | None = None, encoding: str | None = None,
              columns: dict[str, str] | None = None) -> RawRead:
    """Read one file with the reader for ``fmt`` (or the sniffed one)."""
    if fmt is None and path.suffix.lower() in (".xlsx", ".xlsm"):
        fmt = "xlsx"
    if fmt == "xlsx":
        frame, notes = read_xlsx(path, columns)
        return RawRead(frame, "xlsx", None, [], notes)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileReadError(f"cannot read the file: {exc.strerror}") from None
    if data.startswith(b"PK\x03\x04") and fmt in (None, "xlsx"):
        frame, notes = read_xlsx(path, columns)
        return RawRead(frame, "xlsx", None, [], notes)
    try:
        text, used = decode_bytes(data, encoding)
    except DecodeError as exc:
        raise FileReadError(str(exc)) from None
    if text.startswith("\ufeff"):
        text = text[1:]
    fmt = fmt or sniff_format(path, text[:65536])
    if fmt is None:
        raise FileReadError(
            "unknown format: not CSV/TSV with known headers, JSON, JSON Lines or a chat-log text; "
            "use --format csv|tsv|xlsx|json|jsonl|chatlog"
        )
    raw = data if used in ("utf-8", "utf-8-sig") else None
    if fmt == "csv":
        frame, rejected = read_delimited(path, text, ",", columns, raw)
    elif fmt == "tsv":
        frame, rejected = read_delimited(path, text, "\t", columns, raw)
    elif fmt == "json":
        frame, rejected = read_json(path, text, columns)
    elif fmt == "jsonl":
        frame, rejected = read_jsonl(path, text, columns)
    elif fmt == "chatlog":
        frame, rejected = read_chatlog(path, text)
    else:
        raise FileReadError(f"unknown --format {fmt!r}; allowed: {', '.join(FORMATS)}")
    return RawRead(frame, fmt, used, rejected, [])


# --------------------------------------------------------------------------- streaming (large CSV/TSV)

def sniff_encoding(path: Path, sample_bytes: int = 1 << 20) -> str:
    """Encoding of a large file from its first megabyte (``encoding.sniff_file_encoding``),
    as a FileReadError when it is not text."""
    try:
        return sniff_file_encoding(path, sample_bytes)
    except DecodeError as exc:
        raise FileReadError(str(exc)) from None


def streamable_format(path: Path, fmt: str | None) -> str | None:
    """csv/tsv when the file can be read in chunks (by extension or --format), else None."""
    fmt = fmt or EXTENSIONS.get(path.suffix.lower())
    return fmt if fmt in ("csv", "tsv") else None


class _BrokenStructure(Exception):
    """A fast reader met a row it cannot parse; the csv module takes over from there."""


def iter_delimited_chunks(path: Path, sep: str, *, encoding: str | None, columns: dict[str, str] | None,
                          chunk_rows: int):
    """Yield ``(frame, encoding, rejected)``: raw frames of at most ``chunk_rows`` rows (canonical
    names + source_line), so a multi-GB export never sits in memory whole, and the rows rejected
    for their structure (``source_line, reason, raw`` dicts).

    Arrow (or pandas' C parser) reads while the file is well formed; at the first row they cannot
    parse, the csv module reads the rest of the file record by record, so a malformed row is
    rejected on its own with its line and nothing after it is lost."""
    enc = encoding or sniff_encoding(path)
    done = 0  # records (rows after the header, blank ones included) already yielded
    try:
        fast = _iter_arrow_chunks(path, sep, columns, chunk_rows) if enc in ("utf-8", "utf-8-sig") else None
        for frame, records in (fast if fast is not None else _iter_pandas_chunks(path, sep, enc, columns, chunk_rows)):
            done += records
            yield frame, enc, []
        return
    except _BrokenStructure:
        pass
    for frame, _, rejected in _iter_csv_module_chunks(path, sep, enc, columns, chunk_rows, skip_records=done):
        yield frame, enc, rejected


def _iter_pandas_chunks(path: Path, sep: str, enc: str, columns, chunk_rows: int):
    line = None
    try:
        reader = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=False,
                             engine="c", encoding=enc, chunksize=chunk_rows)
        for frame in reader:
            if line is None:
                line = 2 + sum(str(c).count("\n") for c in frame.columns)
            spans = pd.Series(1, index=frame.index, dtype="int64")
            for col in frame.columns:  # every column's newlines move the line count, mapped or not
                spans = spans + frame[col].str.count("\n").astype("int64")
            renamed = _rename(frame, path, columns)
            renamed["source_line"] = (line + spans.cumsum() - spans).to_numpy(dtype="int64")
            line += int(spans.sum())
            blank = (renamed.drop(columns="source_line") == "").all(axis=1)
            yield renamed[~blank].reset_index(drop=True), len(frame)
    except pd.errors.EmptyDataError:
        raise FileReadError("the file is empty") from None
    except pd.errors.ParserError:
        raise _BrokenStructure(line) from None
    except UnicodeDecodeError:
        raise FileReadError(f"bytes after line {line or 1} are not valid {enc}; pass --encoding NAME") from None


def _iter_csv_module_chunks(path: Path, sep: str, enc: str, columns, chunk_rows: int, *, skip_records: int):
    """The csv module, record by record, from record ``skip_records`` on: wrong field counts are
    rejected with their line (slower than Arrow; used only for the part of a file after a bad row)."""
    with open(path, encoding=enc, newline="") as fh:
        reader = csv.reader(fh, delimiter=sep)
        try:
            header = next(reader)
        except StopIteration:
            raise FileReadError("the file is empty") from None
        except UnicodeDecodeError:
            raise FileReadError(f"bytes in the header are not valid {enc}; pass --encoding NAME") from None
        header = [h.lstrip("\ufeff") for h in header]
        rows, lines, rejected = [], [], []
        start = reader.line_num + 1
        try:
            for i, fields in enumerate(reader):
                if i >= skip_records:
                    if not any(f.strip() for f in fields):
                        pass
                    elif len(fields) != len(header):
                        rejected.append({"source_line": start, "raw": sep.join(fields)[:2000],
                                         "reason": f"expected {len(header)} fields, found {len(fields)} "
                                                   "(check quoting/delimiters)"})
                    else:
                        rows.append(fields)
                        lines.append(start)
                    if len(rows) >= chunk_rows:
                        yield _csv_module_frame(path, header, rows, lines, columns), len(rows), rejected
                        rows, lines, rejected = [], [], []
                start = reader.line_num + 1
        except UnicodeDecodeError:
            raise FileReadError(f"bytes after line {start} are not valid {enc}; pass --encoding NAME") from None
        except csv.Error as exc:
            rejected.append({"source_line": start, "raw": "", "reason": f"unreadable from here on ({exc})"})
        if rows or rejected:
            yield _csv_module_frame(path, header, rows, lines, columns), len(rows), rejected


def _csv_module_frame(path, header, rows, lines, columns) -> pd.DataFrame:
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(columns=header, dtype=object)
    frame = _rename(frame, path, columns)
    frame["source_line"] = pd.Series(lines, dtype="int64")
    return frame


def _iter_arrow_chunks(path: Path, sep: str, columns: dict[str, str] | None, chunk_rows: int):
    """Arrow's streaming CSV reader (newlines_in_values on), when line numbers can be trusted:
    a plain header and no blank line anywhere (Arrow skips blank lines).  None = use pandas."""
    import mmap

    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.compute as pc

    with open(path, "rb") as fh:
        try:
            mm = mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ)
        except ValueError:  # empty file
            return None
        with mm:
            first = mm.readline()
            if mm.find(b"\n\n") >= 0 or mm.find(b"\n\r\n") >= 0:
                return None
    first = first[3:] if first.startswith(b"\xef\xbb\xbf") else first
    first = first.rstrip(b"\r\n")
    if b'"' in first:
        return None
    header = first.decode("utf-8", errors="replace").split(sep)
    if len(set(header)) != len(header) or not all(h.strip() for h in header):
        return None
    _rename(pd.DataFrame(columns=header), path, columns)  # unusable headers fail here, before any chunk

    def chunks():
        try:
            reader = _open()
        except pa.ArrowInvalid:  # Arrow parses the first block on open
            raise _BrokenStructure(2) from None
        except UnicodeDecodeError:
            raise FileReadError("bytes in the first rows are not valid UTF-8; pass --encoding NAME") from None
        yield from _batches(reader)

    def _open():
        return pacsv.open_csv(
            path,
            read_options=pacsv.ReadOptions(column_names=header, skip_rows=1, block_size=16 << 20),
            parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(column_types={h: pa.string() for h in header},
                                                 strings_can_be_null=False, quoted_strings_can_be_null=False),
        )

    def _batches(reader):
        line = 2

        def emit(table):
            nonlocal line
            spans = np.ones(table.num_rows, dtype=np.int64)
            for col in table.columns:  # every column's newlines move the line count, mapped or not
                spans += pc.count_substring(col, "\n").to_numpy(zero_copy_only=False).astype(np.int64)
            frame = table.to_pandas(types_mapper=lambda t: pd.StringDtype("pyarrow", na_value=np.nan)
                                    if pa.types.is_string(t) else None)
            frame = _rename(frame, path, columns)
            frame["source_line"] = line + np.cumsum(spans) - spans
            line += int(spans.sum())
            return frame, table.num_rows

        try:
            pending = None
            for batch in reader:
                table = pa.Table.from_batches([batch])
                pending = table if pending is None else pa.concat_tables([pending, table])
                while pending.num_rows >= chunk_rows:
                    yield emit(pending.slice(0, chunk_rows))
                    pending = pending.slice(chunk_rows)
            if pending is not None and pending.num_rows:
                yield emit(pending)
        except pa.ArrowInvalid:
            raise _BrokenStructure(line) from None
        except UnicodeDecodeError:
            raise FileReadError(f"bytes after line {line} are not valid UTF-8; pass --encoding NAME") from None

    return chunks()


def latest_timestamp_delimited(path: Path, sep: str, *, encoding: str | None, columns: dict[str, str] | None,
                               chunk_rows: int):
    """The latest ``sent_at`` of a large CSV/TSV, reading only that column (a cheap first pass)."""
    from .normalize import parse_timestamps

    enc = encoding or sniff_encoding(path)
    header = pd.read_csv(path, sep=sep, nrows=0, encoding=enc).columns
    mapped = {canon: orig for orig, canon in map_headers(list(header), columns).items()}
    if "sent_at" not in mapped:
        return None
    latest = None
    if enc in ("utf-8", "utf-8-sig"):  # Arrow streams the one column multi-threaded
        import pyarrow as pa
        import pyarrow.csv as pacsv

        try:
            reader = pacsv.open_csv(path, parse_options=pacsv.ParseOptions(delimiter=sep, newlines_in_values=True),
                                    convert_options=pacsv.ConvertOptions(include_columns=[mapped["sent_at"]],
                                                                         column_types={mapped["sent_at"]: pa.string()}),
                                    read_options=pacsv.ReadOptions(block_size=16 << 20))
            for batch in reader:
                m = parse_timestamps(batch.column(0).to_pandas()).max()
                if pd.notna(m) and (latest is None or m > latest):
                    latest = m
            return latest
        except (pa.ArrowInvalid, UnicodeDecodeError):
            latest = None  # fall back to pandas below
    try:
        for frame in pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, usecols=[mapped["sent_at"]],
                                 encoding=enc, chunksize=chunk_rows, engine="c"):
            m = parse_timestamps(frame.iloc[:, 0]).max()
            if pd.notna(m) and (latest is None or m > latest):
                latest = m
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError):
        return latest  # the main pass reports the problem with its line
    return latest
