"""audit.xlsx: sheets, formula neutralisation, types, truncation notes (read back with openpyxl)."""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import conftest_report as fx  # noqa: E402

from qa_scorer.report import EXCEL_MAX_DATA_ROWS, write_workbook  # noqa: E402


def build(path: Path, **overrides) -> list[str]:
    t = fx.audit_tables()
    args = dict(agents=t["agents"], conversations=t["conversations"], replies=t["replies"], rejected=t["rejected"])
    args.update(overrides)
    return write_workbook(path, **args)


@pytest.fixture(scope="module")
def book(tmp_path_factory):
    path = tmp_path_factory.mktemp("wb") / "audit.xlsx"
    replies = fx.replies()
    replies.loc[0, "text"] = fx.FORMULA
    notes = build(path, replies=replies)
    return openpyxl.load_workbook(path), notes


def header(ws) -> list:
    return [c.value for c in ws[1]]


def column(ws, name: str) -> list:
    idx = header(ws).index(name) + 1
    return [ws.cell(row=r, column=idx) for r in range(2, ws.max_row + 1)]


def test_sheets_headers_frozen_bold(book):
    wb, notes = book
    assert wb.sheetnames == ["agents", "conversations", "replies", "rejected"]
    assert notes == []
    for ws in wb.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws["A1"].font.bold
    assert header(wb["agents"]) == list(fx.agents().columns)
    assert wb["replies"].max_row == 1 + len(fx.replies())


def test_formula_text_is_neutralised(book):
    wb, _ = book
    cell = column(wb["replies"], "text")[0]
    assert cell.data_type == "s"
    assert cell.value == "'" + fx.FORMULA
    raw = column(wb["rejected"], "raw")[0]
    assert raw.data_type == "s" and raw.value == "'=cmd|' /C calc'!A0"


def test_chinese_numbers_dates_and_blanks(book):
    wb, _ = book
    assert [c.value for c in column(wb["agents"], "agent")] == [fx.XIAOMEI, fx.AQIANG]
    assert [c.value for c in column(wb["agents"], "avg_response_s")] == [64.0, 46.25]
    started = column(wb["conversations"], "started_at")[0]
    assert started.is_date and started.value == datetime(2024, 5, 6, 10, 0, 0)
    latency = [c.value for c in column(wb["replies"], "latency_s")]
    assert latency[3] is None  # the auto reply ends no round
    assert latency[1] == 240.0


def test_column_widths_fit_chinese(book):
    wb, _ = book
    ws = wb["agents"]
    # "优衣库官方旗舰店:小美" is 11 characters, 10 of them double width -> 21 columns + padding
    assert ws.column_dimensions["A"].width >= 21


def test_truncation_notes_with_tiny_max_rows(tmp_path):
    path = tmp_path / "audit.xlsx"
    notes = build(path, max_rows=3)
    assert notes == [
        "conversations sheet limited to first 3 of 4 rows (max_rows=3); the full table is conversations.csv",
        "replies sheet limited to first 3 of 11 rows (max_rows=3); the full table is replies.csv",
    ]
    wb = openpyxl.load_workbook(path)
    assert wb["replies"].max_row == 4 and wb["agents"].max_row == 3
    # the note is also on the sheet, right of the header
    assert wb["replies"].cell(row=1, column=len(fx.replies().columns) + 1).value.startswith("⚠ replies sheet limited")


def test_rows_beyond_excel_limit_are_cut_with_excel_wording(tmp_path, monkeypatch):
    # Pretend Excel holds 5 data rows: the default max_rows (Excel's real limit) is capped to it.
    import qa_scorer.report.workbook as workbook

    assert EXCEL_MAX_DATA_ROWS == 1_048_575
    monkeypatch.setattr(workbook, "EXCEL_MAX_DATA_ROWS", 5)
    notes = build(tmp_path / "audit.xlsx")
    assert notes == ["replies sheet limited to first 5 of 11 rows (Excel's limit); the full table is replies.csv"]


def test_empty_and_missing_tables(tmp_path):
    path = tmp_path / "audit.xlsx"
    notes = build(path, rejected=pd.DataFrame(columns=["source_file", "source_line", "reason", "raw"]),
                  replies=None, max_rows=10**9)
    assert notes == []
    wb = openpyxl.load_workbook(path)
    assert header(wb["rejected"]) == ["source_file", "source_line", "reason", "raw"]
    assert wb["rejected"].max_row == 1
    assert wb["replies"].max_row == 1


def test_long_text_cut_to_excel_cell_limit(tmp_path):
    path = tmp_path / "audit.xlsx"
    rejected = pd.DataFrame({"source_file": ["x"], "source_line": [1], "reason": ["too long"], "raw": ["长" * 40_000]})
    build(path, rejected=rejected)
    wb = openpyxl.load_workbook(path)
    assert len(column(wb["rejected"], "raw")[0].value) == 32_767


def test_bad_max_rows(tmp_path):
    with pytest.raises(ValueError, match="max_rows"):
        build(tmp_path / "a.xlsx", max_rows=0)
