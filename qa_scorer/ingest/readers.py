"""One reader per export format.  Each returns a *raw* frame: canonical column names (as far as
the file has them, values still text) plus ``source_line``; rows that are structurally broken
(wrong field count, an unclosed quote, bad JSON, a chat-log header we cannot read) come back as
rejects.  ``normalize.py`` turns raw frames into the canonical messages table.

Nothing is dropped silently: every data row a reader sees is either in the frame or in the
rejects (``RawRead.rows_read`` = rows in the frame + rejects).
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections import deque
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

from qa_scorer.i18n import _

from .columns import (looks_like_kpi_file, looks_like_sales_file, map_headers, mapping_conflicts, missing_columns_hint,
                      missing_required)
from .encoding import COUNTING_REPLACE, DecodeError, decode_bytes, replaced_count, reset_replaced, sniff_file_encoding

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
    replaced: int = 0              # characters decoded as U+FFFD (encoding_errors="replace")

    @property
    def rows_read(self) -> int:
        """Data rows the reader saw: the rows of the frame plus the rows it rejected."""
        return len(self.frame) + len(self.rejected)


def _errors_handler(encoding_errors: str) -> str:
    if encoding_errors not in ("strict", "replace"):
        raise FileReadError(_("unknown encoding_errors {value}; allowed: strict, replace").format(
            value=repr(encoding_errors)))
    return "strict" if encoding_errors == "strict" else COUNTING_REPLACE


# --------------------------------------------------------------------------- chat-log header lines

_DATE = r"\d{4}\s*[-/.年]\s*\d{1,2}\s*[-/.月]\s*\d{1,2}\s*日?"
_TIME = r"\d{1,2}:\d{2}(?::\d{2})?"
_DT = rf"(?P<date>{_DATE})(?:\s*[T ]\s*|\s*)(?P<time>{_TIME})"
_TIME_ONLY = r"(?P<time>\d{1,2}:\d{2}:\d{2})"   # a header with a time and no date needs seconds
_OPEN, _CLOSE = r"[(（\[【]", r"[)）\]】]"
_COLON = r"\s*[:：]?\s*"

_LOG_HEADER_PATTERNS = [
    # NAME (YYYY-MM-DD HH:MM:SS):          ASCII or full-width brackets/colon
    re.compile(rf"^(?P<name>\S.*?)\s*{_OPEN}\s*{_DT}\s*{_CLOSE}{_COLON}$"),
    # 【YYYY-MM-DD HH:MM:SS】NAME：          [..], (..) too
    re.compile(rf"^\s*{_OPEN}\s*{_DT}\s*{_CLOSE}\s*(?P<name>[^\s:：].*?){_COLON}$"),
    # YYYY-MM-DD HH:MM:SS NAME
    re.compile(rf"^\s*{_DT}\s+(?P<name>[^\s:：].*?){_COLON}$"),
    # NAME YYYY-MM-DD HH:MM:SS
    re.compile(rf"^(?P<name>\S.*?)\s+{_DT}{_COLON}$"),
    # NAME (HH:MM:SS):  /  NAME HH:MM:SS    (date from the last date line or dated header)
    re.compile(rf"^(?P<name>[^\s:：(（\[【]\S*?)\s*{_OPEN}\s*{_TIME_ONLY}\s*{_CLOSE}{_COLON}$"),
    re.compile(rf"^(?P<name>[^\s:：(（\[【]\S*?)\s+{_TIME_ONLY}{_COLON}$"),
    # 【HH:MM:SS】NAME：
    re.compile(rf"^\s*{_OPEN}\s*{_TIME_ONLY}\s*{_CLOSE}\s*(?P<name>[^\s:：].*?){_COLON}$"),
]
#: A line holding only a date (Qianniu puts one above each day): the date of the time-only headers after it.
_LOG_DATE_LINE = re.compile(rf"^\s*[-=—*\s]*{_OPEN}?\s*(?P<date>{_DATE})\s*{_CLOSE}?\s*"
                            r"(?:星期.|周.|[A-Za-z]{3,9})?[-=—*\s]*$")
#: What a header attempt starts with: a date, or a bracketed time.  Such a line is never merged into
#: the previous message: it is a header, a date line, or rejected.
_LOG_HEADERISH = re.compile(rf"^\s*(?:{_OPEN}\s*)?{_DATE}|^\s*{_OPEN}\s*\d{{1,2}}:\d{{2}}")
_LOG_BUYER = re.compile(r"^\s*(?:消息对象|聊天对象|对话对象|买家)\s*[:：]\s*(?P<buyer>\S.*?)\s*$")
_LOG_SEPARATOR = re.compile(r"^\s*(?:-{3,}|={3,}|_{3,}|\*{3,})\s*$")
_DIGITS = re.compile(r"\d+")
_NAME_IS_DATE = re.compile(rf"\s*{_OPEN}?\s*{_DATE}")


def _match_log_header(line: str):
    if "\t" in line:  # a tab-separated row, not a chat-log header
        return None
    for pattern in _LOG_HEADER_PATTERNS:
        m = pattern.match(line)
        if m and m.group("name").strip() and not _NAME_IS_DATE.match(m.group("name")):
            return m
    return None


def _parse_date(text: str) -> date | None:
    parts = _DIGITS.findall(text)
    try:
        return date(int(parts[0]), int(parts[1]), int(parts[2]))
    except (ValueError, IndexError):
        return None


# --------------------------------------------------------------------------- format sniffing

def _delimited_evidence(lines: list[str], sep: str, columns: dict[str, str] | None) -> tuple[int, bool, float]:
    """How much ``lines`` look like a ``sep``-separated table with a header row:
    (known canonical columns in the first line, all required ones there, share of the next lines
    with the header's number of separators)."""
    try:
        header = next(csv.reader([lines[0]], delimiter=sep))
    except (csv.Error, StopIteration):
        return 0, False, 0.0
    if len(header) < 2:
        return 0, False, 0.0
    mapped = map_headers([h.lstrip("\ufeff") for h in header], columns)
    rest = lines[1:21]
    share = (sum(1 for ln in rest if ln.count(sep) == len(header) - 1) / len(rest)) if rest else 1.0
    return len(set(mapped.values())), not missing_required(mapped), share


def sniff_format(path: Path, head_text: str | None, columns: dict[str, str] | None = None) -> str | None:
    """Choose a reader by extension, then by the content's evidence.  Returns None when nothing fits.

    Content: JSON / JSON Lines by their first character; a delimited table when the first line,
    split by tab or comma, names known columns (and the next lines have as many separators); a
    chat log when lines look like its message headers; else a table whose lines consistently
    have the same number of tabs (or commas)."""
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
    lines[0] = first
    evidence = {sep: _delimited_evidence(lines, sep, columns) for sep in ("\t", ",")}
    for sep, name in (("\t", "tsv"), (",", "csv")):
        known, complete, share = evidence[sep]
        if complete and (share >= 0.5 or len(lines) < 3):
            return name
    for sep, name in (("\t", "tsv"), (",", "csv")):
        known, complete, share = evidence[sep]
        if known >= 2 and share >= 0.8:
            return name  # the reader names the missing column
    if any(_match_log_header(ln) or _LOG_BUYER.match(ln) for ln in lines):
        return "chatlog"
    for sep, name in (("\t", "tsv"), (",", "csv")):
        if evidence[sep][2] >= 0.9 and first.count(sep) >= 1 and len(lines) >= 3:
            return name
    return None


# --------------------------------------------------------------------------- delimited text

def _rename(frame: pd.DataFrame, path: Path, columns: dict[str, str] | None) -> pd.DataFrame:
    headers = list(frame.columns)
    problems = mapping_conflicts(headers, columns)
    if problems:
        raise FileReadError("; ".join(problems))
    mapped = map_headers(headers, columns)
    missing = missing_required(mapped)
    if missing:
        if looks_like_kpi_file(headers):
            raise NotAChatExport(_("looks like a KPI file (use it with `qa-scorer assess --kpis`)"))
        if looks_like_sales_file(headers):
            raise NotAChatExport(_("looks like a sales file (use it with `qa-scorer commission --sales`)"))
        shown = ", ".join(str(h) for h in headers[:12])
        raise FileReadError(_("no usable column for {missing} (headers found: {shown}); {hint}").format(
            missing=", ".join(missing), shown=shown, hint=missing_columns_hint(headers, mapped, missing)))
    frame = frame[list(mapped)].rename(columns=mapped)
    return frame


def _unique_header(header: list[str]) -> list[str]:
    """Header names as pandas makes them: a repeated name gets ``.1``, ``.2``."""
    seen: dict[str, int] = {}
    out = []
    for h in header:
        name = h
        while name in seen:
            seen[h] += 1
            name = f"{h}.{seen[h]}"
        seen.setdefault(name, 0)
        out.append(name)
    return out


def _ts_index(header: list, columns: dict[str, str] | None) -> int | None:
    mapped = map_headers(list(header), columns)
    return next((i for i, h in enumerate(header) if mapped.get(h) == "sent_at"), None)


#: The start of a timestamp, as the rows of an export begin their time field.
_TS_START = re.compile(r"\s*(?:\d{4}\s*[-/.年]\s*\d{1,2}|\d{10}(?:\d{3})?(?:\.\d+)?\s*$|\d{1,2}/\d{1,2}/\d{4})")


def _row_like(line: str, sep: str, n_fields: int, ts_i: int | None) -> bool:
    """Is this physical line, on its own, a well-formed row of the file (right number of fields,
    a timestamp where the time column is)?"""
    if ts_i is None:
        return False
    line = line.rstrip("\r\n")
    if line.count(sep) < n_fields - 1:
        return False
    try:
        fields = next(csv.reader([line], delimiter=sep))
    except (csv.Error, StopIteration):
        return False
    return len(fields) == n_fields and bool(_TS_START.match(fields[ts_i]))


def _value_hides_rows(value: str, sep: str, n_fields: int, ts_i: int | None) -> bool:
    """A multi-line field whose later lines are rows of the file themselves: the quote that opened
    it was never closed, and it swallowed those rows."""
    return any(_row_like(ln, sep, n_fields, ts_i) for ln in value.splitlines()[1:])


def _frame_hides_rows(frame: pd.DataFrame, sep: str, n_fields: int, ts_i: int | None) -> bool:
    if ts_i is None:
        return False
    for col in frame.columns:
        values = frame[col]
        if not pd.api.types.is_string_dtype(values) and values.dtype != object:
            continue
        values = values.fillna("").astype(str)
        cand = values.str.contains("\n", regex=False) & (values.str.count(re.escape(sep)) >= n_fields - 1)
        if cand.any() and any(_value_hides_rows(v, sep, n_fields, ts_i) for v in values[cand]):
            return True
    return False


def _arrow_hides_rows(table, sep: str, n_fields: int, ts_i: int | None) -> bool:
    import pyarrow.compute as pc

    if ts_i is None:
        return False
    for col in table.columns:
        has_nl = pc.match_substring(col, "\n")
        if not pc.any(has_nl).as_py():
            continue
        cand = pc.and_(has_nl, pc.greater_equal(pc.count_substring(col, sep), n_fields - 1))
        values = pc.filter(col, cand).to_pylist()
        if any(_value_hides_rows(v, sep, n_fields, ts_i) for v in values if v):
            return True
    return False


class _LineFeed:
    """Physical lines for ``csv.reader``, one at a time, remembering the lines of the record being
    read so that after a damaged record the lines after its first can be handed out again."""

    def __init__(self, source, first_line: int = 1):
        self._src = iter(source)
        self._back: deque[str] = deque()
        self.taken: list[str] = []
        self.next_line = first_line   # physical line number of the next line handed out
        self.exhausted = False

    def __iter__(self):
        return self

    def __next__(self) -> str:
        if self._back:
            line = self._back.popleft()
        else:
            try:
                line = next(self._src)
            except StopIteration:
                self.exhausted = True
                raise
        self.taken.append(line)
        self.next_line += 1
        return line

    def begin(self) -> int:
        """Start a record; returns the line it starts on."""
        self.taken = []
        return self.next_line

    def rewind_after_first(self) -> None:
        rest = self.taken[1:]
        self._back.extendleft(reversed(rest))
        self.next_line -= len(rest)
        self.exhausted = self.exhausted and not rest
        self.taken = self.taken[:1]


def _careful_records(feed: _LineFeed, sep: str, n_fields: int, ts_i: int | None, skip_records: int = 0):
    """Records of a delimited file with their line, one by one: ``(line, fields, None)`` for a
    usable row, ``(line, None, reject)`` for a damaged one.  Blank records are skipped.

    A record that spans lines is damaged when one of its later lines is a row of the file on its
    own, or when it runs to the end of the file with an odd number of quotes: a quote opened in
    its first line was never closed.  It is rejected ("unclosed quote starting at line N") and the
    lines after its first are read again as rows, so one stray quote costs one row.
    ``skip_records``: records read (and dropped without checks) first - already read elsewhere."""
    reader = csv.reader(feed, delimiter=sep)
    for _i in range(skip_records):
        feed.begin()
        try:
            next(reader)
        except StopIteration:
            return
        except csv.Error:
            reader = csv.reader(feed, delimiter=sep)
    while True:
        start = feed.begin()
        try:
            fields = next(reader)
        except StopIteration:
            return
        except csv.Error as exc:
            first = feed.taken[0].rstrip("\r\n") if feed.taken else ""
            spans = len(feed.taken) > 1
            feed.rewind_after_first()
            reader = csv.reader(feed, delimiter=sep)
            reason = (_("unclosed quote starting at line {line} ({error}); the lines after it were read as rows")
                      if spans else _("unreadable row ({error})")).format(line=start, error=exc)
            yield start, None, {"source_line": start, "reason": reason, "raw": first}
            continue
        if len(feed.taken) > 1 and (
                any(_row_like(ln, sep, n_fields, ts_i) for ln in feed.taken[1:])
                or (feed.exhausted and sum(ln.count('"') for ln in feed.taken) % 2 == 1)):
            first = feed.taken[0].rstrip("\r\n")
            feed.rewind_after_first()
            reader = csv.reader(feed, delimiter=sep)
            yield start, None, {"source_line": start, "raw": first, "reason": _(
                "unclosed quote starting at line {line}; the lines after it were read as rows").format(line=start)}
            continue
        if not any(f.strip() for f in fields):
            continue
        if len(fields) != n_fields:
            yield start, None, {"source_line": start, "raw": sep.join(fields),
                                "reason": _("expected {n} fields, found {m} (check quoting/delimiters)").format(
                                    n=n_fields, m=len(fields))}
        else:
            yield start, fields, None


def _read_header(feed: _LineFeed, sep: str) -> list[str]:
    reader = csv.reader(feed, delimiter=sep)
    feed.begin()
    try:
        header = next(reader)
    except StopIteration:
        raise FileReadError(_("the file is empty")) from None
    except csv.Error as exc:
        raise FileReadError(_("cannot read the header row ({error})").format(error=exc)) from None
    if header:
        header[0] = header[0].lstrip("\ufeff")
    return _unique_header(header)


def _read_delimited_arrow(data: bytes, sep: str, columns: dict[str, str] | None = None) -> pd.DataFrame | None:
    """Arrow's multi-threaded CSV reader, with ``newlines_in_values`` so quoted multi-line
    messages stay in sync (pandas' "pyarrow" engine does not pass that option and loses sync).
    Returns None - and the caller takes pandas' C parser - whenever the result cannot be
    trusted to the line: a header we cannot read, duplicate headers, blank lines (Arrow skips
    them, which would shift line numbers), any parse error, or a multi-line field that may come
    from an unclosed quote (it holds rows of the file, or the file has an odd number of quotes)."""
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.compute as pc

    body = data[3:] if data.startswith(b"\xef\xbb\xbf") else data
    first_line = body.split(b"\n", 1)[0].rstrip(b"\r")
    if b'"' in first_line or b"\r" in first_line:
        return None
    try:
        header = first_line.decode("utf-8").split(sep)
    except UnicodeDecodeError:
        return None
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
        if body.count(b'"') % 2 or _arrow_hides_rows(table, sep, len(header), _ts_index(header, columns)):
            return None
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
    pandas' C parser; when the file has rows with the wrong number of fields or an unclosed
    quote, the csv module reads record by record so each bad row is rejected with its line
    number instead of failing the file or swallowing the rows after it."""
    if raw is not None:
        frame = _read_delimited_arrow(raw, sep, columns)
        if frame is not None:
            lines = frame.pop("source_line")
            frame = _rename(frame, path, columns)
            frame["source_line"] = lines.to_numpy(dtype="int64")
            return frame, []
    if _LONE_CR.search(text):  # old Mac line ends: pandas and Arrow count lines differently
        return _read_delimited_careful(path, text, sep, columns)
    try:
        # Parsing bytes is ~3x faster than a str buffer, and str dtype gives Arrow-backed strings.
        frame = pd.read_csv(io.BytesIO(text.encode("utf-8", "surrogatepass")), sep=sep, dtype=str,
                            keep_default_na=False, skip_blank_lines=False, engine="c", encoding="utf-8")
    except pd.errors.EmptyDataError:
        raise FileReadError(_("the file is empty")) from None
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError, OverflowError):
        return _read_delimited_careful(path, text, sep, columns)
    header = list(frame.columns)
    if any("\n" in str(c) for c in header) or "\x00" in text:
        return _read_delimited_careful(path, text, sep, columns)
    # Physical line of each row's start: header is line 1; a row spans 1 + (newlines inside its fields).
    spans = np.ones(len(frame), dtype=np.int64)
    if text.count("\n") > len(frame) + 1:  # some field holds a newline: count per row, every column
        if text.count('"') % 2 or _frame_hides_rows(frame, sep, len(header), _ts_index(header, columns)):
            return _read_delimited_careful(path, text, sep, columns)
        for col in frame.columns:
            spans += frame[col].str.count("\n").to_numpy(dtype=np.int64)
    blank = (frame == "").all(axis=1).to_numpy()  # blank lines are not rows
    frame = _rename(frame, path, columns)
    frame["source_line"] = 2 + np.cumsum(spans) - spans
    return (frame[~blank].reset_index(drop=True) if blank.any() else frame), []


_LONE_CR = re.compile(r"\r(?!\n)")


def _read_delimited_careful(path: Path, text: str, sep: str, columns: dict[str, str] | None):
    """The csv module, record by record (``_careful_records``): every damaged row rejected with its
    line, every other row kept."""
    feed = _LineFeed(io.StringIO(text, newline=""))
    header = _read_header(feed, sep)
    _rename(pd.DataFrame(columns=header), path, columns)  # unusable headers fail here, before any row
    ts_i = _ts_index(header, columns)
    rows, lines, rejected = [], [], []
    for line, fields, bad in _careful_records(feed, sep, len(header), ts_i):
        if bad is None:
            rows.append(fields)
            lines.append(line)
        else:
            rejected.append(bad)
    frame = pd.DataFrame(rows, columns=header, dtype=object) if rows else pd.DataFrame(columns=header, dtype=object)
    frame = _rename(frame, path, columns)
    frame["source_line"] = pd.Series(lines, dtype="int64")
    return frame, rejected


# --------------------------------------------------------------------------- xlsx

#: How many rows at the top of a sheet are searched for the header row (below it: title rows).
XLSX_HEADER_SEARCH = 20


def _cell_text(v) -> str:
    if v is None:
        return ""
    if isinstance(v, float):
        if v != v:  # NaN
            return ""
        if v.is_integer():
            return str(int(v))
    return str(v)


def _find_header_row(rows: list[tuple], columns: dict[str, str] | None, skip_rows: int | None) -> int | None:
    """Index of the header row: ``skip_rows`` when given, else the first of the top rows that names
    every required column; else the first row with two or more cells (its problem is reported)."""
    if skip_rows is not None:
        return skip_rows if skip_rows < len(rows) else None
    first_filled = None
    for i, row in enumerate(rows[:XLSX_HEADER_SEARCH]):
        cells = [_cell_text(v).strip() for v in row]
        filled = [c for c in cells if c]
        if not filled:
            continue
        if not missing_required(map_headers(cells, columns)):
            return i
        if first_filled is None and len(filled) >= 2:
            first_filled = i
    if first_filled is None:
        return next((i for i, row in enumerate(rows) if any(_cell_text(v).strip() for v in row)), None)
    return first_filled


def read_xlsx(path: Path, columns: dict[str, str] | None,
              skip_rows: int | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Every sheet with usable headers.  Title rows above the header (a shop name, an export date:
    rows before the first row naming the required columns) are skipped and noted; ``skip_rows``
    forces how many rows come before the header.  ``source_line`` is the sheet's own row number."""
    import openpyxl

    try:
        wb = openpyxl.load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for corrupt files
        raise FileReadError(_("cannot open as an Excel workbook ({error})").format(
            error=f"{exc.__class__.__name__}: {exc}")) from None
    frames, notes, errors = [], [], []
    try:
        for ws in wb.worksheets:
            try:
                rows = list(ws.iter_rows(min_row=1, values_only=True))
            except Exception as exc:
                errors.append(_("sheet {name}: cannot read it ({error})").format(name=repr(ws.title), error=exc))
                continue
            h = _find_header_row(rows, columns, skip_rows)
            if h is None:
                continue
            width = max((len(r) for r in rows), default=0)
            header = _unique_header([_cell_text(v).strip() for v in rows[h]] + [""] * (width - len(rows[h])))
            body, lines = [], []
            for i in range(h + 1, len(rows)):
                row = list(rows[i]) + [None] * (width - len(rows[i]))
                if any(_cell_text(v).strip() for v in row):
                    body.append(row)
                    lines.append(i + 1)
            sheet = pd.DataFrame(body, columns=header, dtype=object) if body else pd.DataFrame(columns=header,
                                                                                                 dtype=object)
            try:
                frame = _rename(sheet, path, columns)
            except NotAChatExport:
                raise
            except FileReadError as exc:
                errors.append(_("sheet {name}: {error}").format(name=repr(ws.title), error=exc))
                continue
            if h and skip_rows is None:
                notes.append(_("sheet {name}: skipped {n} title row(s) above the header (row {row})").format(
                    name=repr(ws.title), n=h, row=h + 1))
            frame = frame.copy()
            frame["source_line"] = pd.Series(lines, dtype="int64")
            frame["source_sheet"] = ws.title
            frames.append(frame)
    finally:
        wb.close()
    if not frames:
        raise FileReadError("; ".join(errors) or _("the workbook has no sheet with data"))
    notes.extend(_("skipped {what}").format(what=e) for e in errors)
    frame = pd.concat(frames, ignore_index=True)
    for col in frame.columns:
        if col in ("source_line", "sent_at"):
            continue
        frame[col] = frame[col].map(_cell_text)
    return frame, notes


# --------------------------------------------------------------------------- JSON

def _records_frame(records: list[dict], lines: list[int], path: Path, columns):
    frame = pd.DataFrame.from_records(records) if records else pd.DataFrame()
    if frame.empty and not len(frame.columns):
        raise FileReadError(_("no messages found in the JSON"))
    frame = _rename(frame, path, columns)
    for col in frame.columns:
        if col != "sent_at":
            frame[col] = frame[col].map(lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
    frame["source_line"] = pd.Series(lines, dtype="int64")
    return frame


def read_json(path: Path, text: str, columns) -> tuple[pd.DataFrame, list[dict]]:
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as exc:
        if isinstance(exc, RecursionError):
            raise FileReadError(_("invalid JSON: nested too deeply")) from None
        raise FileReadError(_("invalid JSON at line {line}, column {col}: {msg}").format(
            line=exc.lineno, col=exc.colno, msg=exc.msg)) from None
    if isinstance(data, dict):
        for key in ("messages", "data", "records", "items"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            raise FileReadError(_("expected a JSON list of messages (or an object with a 'messages' list)"))
    if not isinstance(data, list):
        raise FileReadError(_("expected a JSON list of messages"))
    records, lines, rejected = [], [], []
    for i, item in enumerate(data, start=1):
        if isinstance(item, dict):
            records.append(item)
            lines.append(i)
        else:
            rejected.append({"source_line": i, "reason": _("list element is not an object"),
                             "raw": json.dumps(item, ensure_ascii=False)[:500]})
    if not records:
        raise FileReadError(_("no JSON objects found") + (f" ({len(rejected)})" if rejected else ""))
    return _records_frame(records, lines, path, columns), rejected


def read_jsonl(path: Path, text: str, columns) -> tuple[pd.DataFrame, list[dict]]:
    records, lines, rejected = [], [], []
    for i, line in enumerate(_physical_lines(text), start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except (json.JSONDecodeError, RecursionError) as exc:
            msg = exc.msg if isinstance(exc, json.JSONDecodeError) else "nested too deeply"
            rejected.append({"source_line": i, "reason": _("invalid JSON: {msg}").format(msg=msg), "raw": line[:500]})
            continue
        if not isinstance(item, dict):
            rejected.append({"source_line": i, "reason": _("line is not a JSON object"), "raw": line[:500]})
            continue
        records.append(item)
        lines.append(i)
    if not records:
        raise FileReadError(_("no JSON objects found") + (f" ({len(rejected)} invalid lines)" if rejected else ""))
    return _records_frame(records, lines, path, columns), rejected


# --------------------------------------------------------------------------- chat-log text

def _physical_lines(text: str) -> list[str]:
    """Lines as an editor numbers them: split at \\n, \\r\\n or \\r only."""
    return text.replace("\r\n", "\n").replace("\r", "\n").split("\n")


def read_chatlog(path: Path, text: str) -> tuple[pd.DataFrame, list[dict]]:
    """Wangwang/Qianniu text exports: a header line per message, content lines after it.

    ``消息对象:NAME`` names the buyer of the following messages; ``----`` lines end a section; a
    line holding only a date gives the date of time-only headers (``tb_小王 10:12:00``) after it.
    Conversations are otherwise separated later by buyer and time gap.  Never merged into the
    previous message: non-empty lines before the first header, and lines that start like a header
    (a date, or a bracketed time) but are not one - both are rejected with their line."""
    rows: list[dict] = []
    rejected: list[dict] = []
    current: dict | None = None
    section, buyer = 0, ""
    day: date | None = None
    for lineno, line in enumerate(_physical_lines(text), start=1):
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
            d = m.groupdict().get("date")
            when = _parse_date(d) if d else day
            hms = [int(x) for x in _DIGITS.findall(m.group("time"))] + [0]
            problem = None
            if when is None:
                problem = (_("a time without a date (no date line or dated header before it)") if not d
                           else _("impossible date {date}").format(date=d))
            elif hms[0] > 23 or hms[1] > 59 or hms[2] > 59:
                problem = _("impossible time {time}").format(time=m.group("time"))
            if problem:
                rejected.append({"source_line": lineno, "raw": line, "reason": problem})
                current = None
                continue
            day = when
            current = {"sender": m.group("name").strip(),
                       "sent_at": f"{when:%Y-%m-%d} {hms[0]:02d}:{hms[1]:02d}:{hms[2]:02d}",
                       "lines": [], "source_line": lineno, "section": section, "buyer": buyer}
            rows.append(current)
            continue
        m_date = _LOG_DATE_LINE.match(line)
        if m_date and _parse_date(m_date.group("date")):
            day = _parse_date(m_date.group("date"))
            current = None
            continue
        if _LOG_HEADERISH.match(line):
            rejected.append({"source_line": lineno, "raw": line, "reason": _(
                "looks like a message header but is not one this reader knows (expected e.g. "
                "'NAME (2026-11-20 10:00:20):', '【2026-11-20 10:00:20】NAME：' or '2026-11-20 10:00:20 NAME'); "
                "not merged into the message before it")})
            current = None
            continue
        if current is None:
            if stripped:
                rejected.append({"source_line": lineno, "raw": line, "reason": _(
                    "text outside any message (no 'NAME (YYYY-MM-DD HH:MM:SS):' header before it)")})
            continue
        current["lines"].append(line.rstrip())
    if not rows:
        raise FileReadError(_(
            "no message headers found; expected lines like 'NAME (2026-11-20 09:15:03):' or "
            "'2026-11-20 09:15:03 NAME' (use --format to force another reader)"))
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
              columns: dict[str, str] | None = None, encoding_errors: str = "strict",
              skip_rows: int | None = None) -> RawRead:
    """Read one file with the reader for ``fmt`` (or the sniffed one).

    ``encoding_errors="replace"``: undecodable bytes become U+FFFD (``RawRead.replaced`` counts
    them) instead of failing the file.  ``skip_rows``: rows above the header of an xlsx sheet."""
    _errors_handler(encoding_errors)
    if fmt is not None and fmt not in FORMATS:
        raise FileReadError(_("unknown --format {fmt}; allowed: {allowed}").format(fmt=repr(fmt),
                                                                                   allowed=", ".join(FORMATS)))
    if fmt is None and path.suffix.lower() in (".xlsx", ".xlsm"):
        fmt = "xlsx"
    if fmt == "xlsx":
        frame, notes = read_xlsx(path, columns, skip_rows)
        return RawRead(frame, "xlsx", None, [], notes)
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise FileReadError(_("cannot read the file: {reason}").format(reason=exc.strerror)) from None
    if data.startswith(b"PK\x03\x04") and fmt in (None, "xlsx"):
        frame, notes = read_xlsx(path, columns, skip_rows)
        return RawRead(frame, "xlsx", None, [], notes)
    if not data.strip():
        raise FileReadError(_("the file is empty"))
    try:
        text, used = decode_bytes(data, encoding, encoding_errors)
    except DecodeError as exc:
        raise FileReadError(str(exc)) from None
    replaced = replaced_count() if encoding_errors == "replace" else 0
    if text.startswith("\ufeff"):
        text = text[1:]
    if text[:4096].count("\x00") > 8:
        raise FileReadError(_("this is a binary file, not a text export (it holds NUL bytes); "
                              "if it is UTF-16 text without a BOM pass --encoding utf-16"))
    fmt = fmt or sniff_format(path, text[:65536], columns)
    if fmt is None:
        raise FileReadError(_(
            "unknown format: not CSV/TSV with known headers, JSON, JSON Lines or a chat-log text; "
            "use --format csv|tsv|xlsx|json|jsonl|chatlog"))
    raw = data if used in ("utf-8", "utf-8-sig") and not replaced else None
    if fmt == "csv":
        frame, rejected = read_delimited(path, text, ",", columns, raw)
    elif fmt == "tsv":
        frame, rejected = read_delimited(path, text, "\t", columns, raw)
    elif fmt == "json":
        frame, rejected = read_json(path, text, columns)
    elif fmt == "jsonl":
        frame, rejected = read_jsonl(path, text, columns)
    else:
        frame, rejected = read_chatlog(path, text)
    notes = []
    if replaced:
        notes.append(_("{n} undecodable byte sequence(s) were replaced by U+FFFD (encoding_errors=replace); "
                       "the rows holding them are audited with that character").format(n=replaced))
    return RawRead(frame, fmt, used, rejected, notes, replaced)


# --------------------------------------------------------------------------- streaming (large CSV/TSV)

def sniff_encoding(path: Path, sample_bytes: int = 1 << 20, errors: str = "strict") -> str:
    """Encoding of a large file from its first megabyte (``encoding.sniff_file_encoding``),
    as a FileReadError when it is not text."""
    try:
        return sniff_file_encoding(path, sample_bytes, errors)
    except DecodeError as exc:
        raise FileReadError(str(exc)) from None


def streamable_format(path: Path, fmt: str | None) -> str | None:
    """csv/tsv when the file can be read in chunks (by extension or --format), else None."""
    fmt = fmt or EXTENSIONS.get(path.suffix.lower())
    return fmt if fmt in ("csv", "tsv") else None


class _BrokenStructure(Exception):
    """A fast reader met a row it cannot parse (or may be misled by); the csv module takes over."""


def iter_delimited_chunks(path: Path, sep: str, *, encoding: str | None, columns: dict[str, str] | None,
                          chunk_rows: int, encoding_errors: str = "strict", stats: dict | None = None):
    """Yield ``(frame, encoding, rejected)``: raw frames of at most ``chunk_rows`` rows (canonical
    names + source_line), so a multi-GB export never sits in memory whole, and the rows rejected
    for their structure (``source_line, reason, raw`` dicts).

    Arrow (or pandas' C parser) reads while the file is well formed; at the first chunk they cannot
    parse - or whose multi-line fields hold rows of the file (an unclosed quote) - the csv module
    reads the rest of the file record by record, so a malformed row is rejected on its own with
    its line and nothing after it is lost.  ``encoding_errors="replace"``: undecodable bytes become
    U+FFFD; ``stats["replaced"]`` (when a dict is given) counts them."""
    handler = _errors_handler(encoding_errors)
    enc = encoding or sniff_encoding(path, errors=encoding_errors)
    if stats is not None:
        stats.setdefault("replaced", 0)
    done = 0  # records (rows after the header, blank ones included) already yielded
    try:
        fast = _iter_arrow_chunks(path, sep, columns, chunk_rows) if enc in ("utf-8", "utf-8-sig") else None
        for frame, records in (fast if fast is not None
                               else _iter_pandas_chunks(path, sep, enc, columns, chunk_rows, handler)):
            done += records
            yield frame, enc, []
        return
    except _BrokenStructure:
        pass
    finally:
        if stats is not None and handler != "strict":
            stats["replaced"] += replaced_count()
    reset_replaced()
    try:
        for frame, _n, rejected in _iter_csv_module_chunks(path, sep, enc, columns, chunk_rows,
                                                           skip_records=done, errors=handler):
            yield frame, enc, rejected
    finally:
        if stats is not None and handler != "strict":
            stats["replaced"] += replaced_count()


def _iter_pandas_chunks(path: Path, sep: str, enc: str, columns, chunk_rows: int, errors: str = "strict"):
    line = None
    header = ts_i = None
    reset_replaced()
    try:
        reader = pd.read_csv(path, sep=sep, dtype=str, keep_default_na=False, skip_blank_lines=False,
                             engine="c", encoding=enc, chunksize=chunk_rows, encoding_errors=errors)
        for frame in reader:
            if line is None:
                header = list(frame.columns)
                if any("\n" in str(c) for c in header):
                    raise _BrokenStructure(2)
                ts_i = _ts_index(header, columns)
                line = 2
            spans = np.ones(len(frame), dtype=np.int64)
            for col in frame.columns:  # every column's newlines move the line count, mapped or not
                spans += frame[col].str.count("\n").to_numpy(dtype=np.int64)
            if spans.sum() > len(frame) and _frame_hides_rows(frame, sep, len(header), ts_i):
                raise _BrokenStructure(line)
            blank = (frame == "").all(axis=1).to_numpy()
            renamed = _rename(frame, path, columns)
            renamed["source_line"] = line + np.cumsum(spans) - spans
            line += int(spans.sum())
            yield (renamed[~blank].reset_index(drop=True) if blank.any() else renamed), len(frame)
    except pd.errors.EmptyDataError:
        raise FileReadError(_("the file is empty")) from None
    except (pd.errors.ParserError, ValueError, OverflowError) as exc:
        if isinstance(exc, FileReadError):
            raise
        raise _BrokenStructure(line) from None
    except UnicodeDecodeError as exc:
        raise FileReadError(_("bytes after line {line} are not valid {encoding} ({error}); pass --encoding NAME "
                              "or --encoding-errors replace").format(line=line or 1, encoding=enc,
                                                                      error=exc.reason)) from None


def _iter_csv_module_chunks(path: Path, sep: str, enc: str, columns, chunk_rows: int, *, skip_records: int,
                            errors: str = "strict"):
    """The csv module, record by record (``_careful_records``), from record ``skip_records`` on:
    wrong field counts and unclosed quotes are rejected with their line (slower than Arrow; used
    only for the part of a file after a bad row)."""
    with open(path, encoding=enc, errors=errors, newline="") as fh:
        feed = _LineFeed(fh)
        try:
            header = _read_header(feed, sep)
        except UnicodeDecodeError:
            raise FileReadError(_("bytes in the header are not valid {encoding}; pass --encoding NAME").format(
                encoding=enc)) from None
        _rename(pd.DataFrame(columns=header), path, columns)
        ts_i = _ts_index(header, columns)
        rows, lines, rejected = [], [], []
        try:
            for line, fields, bad in _careful_records(feed, sep, len(header), ts_i, skip_records=skip_records):
                if bad is None:
                    rows.append(fields)
                    lines.append(line)
                else:
                    rejected.append(bad)
                if len(rows) >= chunk_rows:
                    yield _csv_module_frame(path, header, rows, lines, columns), len(rows), rejected
                    rows, lines, rejected = [], [], []
        except UnicodeDecodeError as exc:
            raise FileReadError(_("bytes after line {line} are not valid {encoding} ({error}); pass --encoding "
                                  "NAME or --encoding-errors replace").format(line=feed.next_line, encoding=enc,
                                                                            error=exc.reason)) from None
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
            if mm.find(b"\n\n") >= 0 or mm.find(b"\n\r\n") >= 0 or mm.find(b"\r", 0, len(first) - 2) >= 0:
                return None
    first = first[3:] if first.startswith(b"\xef\xbb\xbf") else first
    first = first.rstrip(b"\r\n")
    if b'"' in first:
        return None
    header = first.decode("utf-8", errors="replace").split(sep)
    if len(set(header)) != len(header) or not all(h.strip() for h in header):
        return None
    _rename(pd.DataFrame(columns=header), path, columns)  # unusable headers fail here, before any chunk
    ts_i = _ts_index(header, columns)
    odd_quotes: list[bool] = []  # computed once, when a chunk first has multi-line fields

    def file_has_odd_quotes() -> bool:
        if not odd_quotes:
            n = 0
            with open(path, "rb") as fh:
                for block in iter(lambda: fh.read(16 << 20), b""):
                    n += block.count(b'"')
            odd_quotes.append(bool(n % 2))
        return odd_quotes[0]

    def chunks():
        try:
            reader = _open()
        except pa.ArrowInvalid:  # Arrow parses the first block on open
            raise _BrokenStructure(2) from None
        except UnicodeDecodeError:
            raise _BrokenStructure(2) from None
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
            if spans.sum() > table.num_rows and (file_has_odd_quotes()
                                                 or _arrow_hides_rows(table, sep, len(header), ts_i)):
                raise _BrokenStructure(line)
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
        except (pa.ArrowInvalid, UnicodeDecodeError):
            raise _BrokenStructure(line) from None

    return chunks()


def latest_timestamp_delimited(path: Path, sep: str, *, encoding: str | None, columns: dict[str, str] | None,
                               chunk_rows: int, encoding_errors: str = "strict"):
    """The latest ``sent_at`` of a large CSV/TSV, reading only that column (a cheap first pass)."""
    from .normalize import parse_timestamps

    handler = _errors_handler(encoding_errors)
    enc = encoding or sniff_encoding(path, errors=encoding_errors)
    header = pd.read_csv(path, sep=sep, nrows=0, encoding=enc, encoding_errors=handler).columns
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
                                 encoding=enc, chunksize=chunk_rows, engine="c", encoding_errors=handler):
            m = parse_timestamps(frame.iloc[:, 0]).max()
            if pd.notna(m) and (latest is None or m > latest):
                latest = m
    except (pd.errors.ParserError, UnicodeDecodeError, ValueError):
        return latest  # the main pass reports the problem with its line
    return latest
