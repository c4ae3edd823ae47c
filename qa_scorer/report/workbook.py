"""audit.xlsx: the agents, conversations, replies and rejected tables for people who live in Excel.

Sheet names and header cells are for people: Chinese by default, English with ``--lang en``
(``qa_scorer.report.columns``; the CSVs keep the English column names, docs/columns.md maps
them).  Rates are numbers shown as percentages (85.7%), durations are Excel durations shown as
``3分12秒`` - both stay numbers, so they sort, filter and sum.

Written with xlsxwriter in ``constant_memory`` mode (rows are flushed as they are written,
so memory stays flat on a million-row replies sheet).  Every text cell goes through
``qa_scorer.safety.excel_safe`` and is written as a string, never as a formula.
"""

from __future__ import annotations

import unicodedata
from pathlib import Path

import pandas as pd
import xlsxwriter

from qa_scorer.i18n import _
from qa_scorer.report.columns import VALUE_LABELS, column_label, column_unit, sheet_label
from qa_scorer.safety import excel_safe

#: Data rows Excel can hold under the header row (1,048,576 rows in all).
EXCEL_MAX_DATA_ROWS = 1_048_575
#: Excel's limit on characters in one cell.
EXCEL_MAX_CELL_CHARS = 32_767
_EXCEL_EPOCH = pd.Timestamp("1899-12-30")


def _display_width(text: str) -> int:
    """Columns a string needs: CJK and other wide characters count double."""
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in text)


def _column_width(header: str, sample: pd.Series) -> float:
    widths = [_display_width(header) + 2]
    if len(sample):
        widths.append(int(sample.astype("string").fillna("").map(_display_width).quantile(0.9)) + 2)
    return float(min(max(widths + [8]), 60))


def _prepared_columns(df: pd.DataFrame):
    """Per column: (kind, values) with values already converted, so the row loop only writes.

    kind is 'number' (float, NaN = blank), 'rate' (a 0..1 fraction shown as %), 'duration'
    (seconds converted to Excel days, shown as 分/秒), 'date' (Excel serial day number) or
    'text' (str or None).
    """
    out = []
    for col in df.columns:
        s = df[col]
        if pd.api.types.is_bool_dtype(s):
            out.append(("number", s.astype("float64").to_numpy()))
        elif pd.api.types.is_numeric_dtype(s):
            values = pd.to_numeric(s, errors="coerce").astype("float64")
            unit = column_unit(str(col))
            if unit == "rate" and not (values.max() > 1.0 + 1e-9):  # a 0..100 column stays a number
                out.append(("rate", values.to_numpy()))
            elif unit == "s":
                out.append(("duration", (values / 86400.0).to_numpy()))
            else:
                out.append(("number", values.to_numpy()))
        elif pd.api.types.is_datetime64_any_dtype(s):
            naive = s.dt.tz_localize(None) if getattr(s.dt, "tz", None) is not None else s
            serial = (naive - _EXCEL_EPOCH) / pd.Timedelta(days=1)
            out.append(("date", serial.astype("float64").to_numpy()))
        else:
            text = s.astype(object).where(s.notna(), None)
            values = [v if v is None or isinstance(v, str) else str(v) for v in text]
            values = [v[:EXCEL_MAX_CELL_CHARS] if v is not None and len(v) > EXCEL_MAX_CELL_CHARS else v
                      for v in values]
            out.append(("text", values))
    return out


def _value_labels(df: pd.DataFrame) -> pd.DataFrame:
    """Coded cells people read as words (``attribution`` unassigned -> 未分配); unknown codes stay."""
    cols = [c for c in VALUE_LABELS if c in df.columns and not pd.api.types.is_numeric_dtype(df[c])]
    if not cols:
        return df
    out = df.copy()
    for col in cols:
        labels = {code: _(label) for code, label in VALUE_LABELS[col].items()}
        values = out[col].astype(object)
        out[col] = values.map(labels).fillna(values)
    return out


def _write_sheet(wb: xlsxwriter.Workbook, name: str, df: pd.DataFrame, max_rows: int, formats: dict) -> str | None:
    ws = wb.add_worksheet(sheet_label(name)[:31])
    total = len(df)
    note = None
    if total > max_rows:
        df = df.iloc[:max_rows]
        why = _("Excel's limit") if max_rows >= EXCEL_MAX_DATA_ROWS else f"max_rows={max_rows:,}"
        note = _("{sheet} sheet limited to first {shown} of {total} rows ({why}); the full table is {file}").format(
            sheet=sheet_label(name), shown=f"{max_rows:,}", total=f"{total:,}", why=why, file=f"{name}.csv")
    df = excel_safe(_value_labels(df))
    columns = [column_label(c) for c in df.columns]
    sample = df.head(500)
    prepared = _prepared_columns(df)
    # Formats and widths must be set before any row is written in constant_memory mode.
    for c, (col, (kind, _values)) in enumerate(zip(columns, prepared)):
        width = 20.0 if kind == "date" else 12.0 if kind == "duration" else _column_width(col, sample.iloc[:, c])
        ws.set_column(c, c, width, formats.get(kind))
    ws.freeze_panes(1, 0)
    ws.write_row(0, 0, columns, formats["header"])
    if note:
        # Say it on the sheet too (beside the header: constant_memory cannot go back to row 0 later).
        ws.write_string(0, len(columns), f"⚠ {note}", formats["note"])
    if columns:
        ws.autofilter(0, 0, max(len(df), 1), len(columns) - 1)
    cell_formats = [formats.get(kind) for kind, _values in prepared]
    write_number, write_string = ws.write_number, ws.write_string
    for r in range(len(df)):
        row = r + 1
        for c, (kind, values) in enumerate(prepared):
            v = values[r]
            if kind == "text":
                if v is not None and v != "":
                    write_string(row, c, v)
            elif v == v:  # not NaN (the fastest test in this hot loop)
                fmt = cell_formats[c]
                if fmt is None:
                    write_number(row, c, v)
                else:
                    write_number(row, c, v, fmt)
    return note


def write_workbook(path, *, agents: pd.DataFrame, conversations: pd.DataFrame, replies: pd.DataFrame,
                   rejected: pd.DataFrame, max_rows: int = EXCEL_MAX_DATA_ROWS) -> list[str]:
    """Write audit.xlsx with sheets agents, conversations, replies, rejected (named and headed in the
    current language: 客服, 会话, 回复, 无法使用的行 by default).

    Returns notes for the caller to print, one per sheet that had more than ``max_rows``
    rows (capped at Excel's limit) and was cut.
    """
    max_rows = int(min(max_rows, EXCEL_MAX_DATA_ROWS))
    if max_rows < 1:
        raise ValueError(f"max_rows must be at least 1, got {max_rows}")
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    notes: list[str] = []
    options = {
        "constant_memory": True,
        # Chat text is data: never turn it into formulas, links or numbers.
        "strings_to_formulas": False, "strings_to_urls": False, "strings_to_numbers": False,
    }
    with xlsxwriter.Workbook(str(out), options) as wb:
        formats = {
            "header": wb.add_format({"bold": True, "bg_color": "#F0F3F8", "bottom": 1}),
            "date": wb.add_format({"num_format": "yyyy-mm-dd hh:mm:ss"}),
            "rate": wb.add_format({"num_format": "0.0%"}),
            # [m] counts minutes past an hour (75分); the literal units are in the current language.
            "duration": wb.add_format({"num_format": _('[m]" min "ss" s"')}),
            "note": wb.add_format({"bold": True, "font_color": "#B00020"}),
        }
        for name, df in (("agents", agents), ("conversations", conversations), ("replies", replies),
                         ("rejected", rejected)):
            if df is None:
                df = pd.DataFrame()
            note = _write_sheet(wb, name, df, max_rows, formats)
            if note:
                notes.append(note)
    return notes

