"""audit.xlsx: the workbook the real pipeline writes, and write_workbook on the tables it wrote.

Read back with openpyxl: sheets, formula neutralisation, types, truncation notes.
"""

from __future__ import annotations

import sys
from datetime import datetime
from pathlib import Path

import openpyxl
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import conftest_report as fx  # noqa: E402

from qa_scorer.i18n import use_language  # noqa: E402
from qa_scorer.report import EXCEL_MAX_DATA_ROWS, load_audit_folder, write_workbook  # noqa: E402
from qa_scorer.report.columns import column_label  # noqa: E402

#: Sheet names in the default language (Chinese); the CSV names stay English.
SHEET = {"agents": "客服", "conversations": "会话", "replies": "回复", "rejected": "无法使用的行"}


@pytest.fixture(autouse=True, scope="module")
def _chinese(chinese_for_module):
    """The report in the default language (Chinese), whatever the environment says."""
    yield


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return fx.audit_folder(tmp_path_factory, name="crafted-zh")  # xlsx on; written in Chinese (module fixture)


@pytest.fixture(scope="module")
def tables(folder) -> dict:
    return load_audit_folder(folder)


@pytest.fixture(scope="module")
def book(folder):
    return openpyxl.load_workbook(folder / "audit.xlsx")


def build(tables: dict, path: Path, **overrides) -> list[str]:
    args = dict(agents=tables["agents"], conversations=tables["conversations"], replies=tables["replies"],
                rejected=tables["rejected"])
    args.update(overrides)
    return write_workbook(path, **args)


def header(ws) -> list:
    return [c.value for c in ws[1]]


def column(ws, name: str) -> list:
    """The cells of the CSV column ``name``, found by its header label (客服, 平均响应时间, …)."""
    idx = header(ws).index(column_label(name)) + 1
    return [ws.cell(row=r, column=idx) for r in range(2, ws.max_row + 1)]


def test_pipeline_workbook_sheets_headers_frozen_bold(book, tables):
    assert book.sheetnames == ["客服", "会话", "回复", "无法使用的行"]
    for ws in book.worksheets:
        assert ws.freeze_panes == "A2"
        assert ws["A1"].font.bold
    assert header(book[SHEET["agents"]]) == [column_label(c) for c in tables["agents"].columns]
    assert header(book[SHEET["agents"]])[:3] == ["客服", "会话数", "轮次"]
    assert book[SHEET["agents"]].max_row == 1 + 3
    assert book[SHEET["conversations"]].max_row == 1 + 5
    assert book[SHEET["replies"]].max_row == 1 + 14  # every agent and auto message
    assert book[SHEET["rejected"]].max_row == 1 + 1  # the row dated "yesterday"


def test_pipeline_workbook_neutralises_formula_text(book):
    # the buyer's "=1+1" is the context of the reply that answered it
    rude = [c.row for c in column(book[SHEET["replies"]], "text") if c.value == fx.RUDE]
    assert len(rude) == 1
    context = book[SHEET["replies"]].cell(row=rude[0], column=header(book[SHEET["replies"]]).index(column_label("context")) + 1)
    assert context.data_type == "s" and context.value == "'" + fx.FORMULA
    for ws in book.worksheets:  # no cell anywhere holds a formula
        assert not [c.coordinate for row in ws.iter_rows() for c in row if c.data_type == "f"]


def test_pipeline_workbook_cells(book):
    agents = book[SHEET["agents"]]
    names = [c.value for c in column(agents, "agent")]
    assert sorted(names) == sorted([fx.XIAOMEI, fx.AQIANG, fx.XIAOXIN])
    row = names.index(fx.XIAOMEI)
    assert column(agents, "rounds")[row].value == 6
    # a duration (shown as 1分3秒): openpyxl reads it back as a timedelta
    assert column(agents, "avg_response_s")[row].value.total_seconds() == pytest.approx(380 / 6, abs=1e-3)  # 30+240+20+10+20+60
    started = column(book[SHEET["conversations"]], "started_at")[0]
    assert started.is_date and started.value == datetime(2026, 11, 21, 10, 0, 0)
    ids = [c.value for c in column(book[SHEET["conversations"]], "conversation_id")]
    assert fx.CID1 in ids and all(isinstance(i, str) for i in ids)  # ids stay text
    replies = book[SHEET["replies"]]
    latency = {c.value: column(replies, "latency_s")[i].value for i, c in enumerate(column(replies, "text"))}
    assert latency[fx.SHORT].total_seconds() == pytest.approx(240)
    assert latency["[自动回复]您好，客服马上就来"] is None  # the auto reply ends no round


def test_formula_text_is_neutralised_by_write_workbook(tables, tmp_path):
    replies = tables["replies"].copy()
    replies.loc[0, "text"] = fx.FORMULA
    rejected = tables["rejected"].assign(raw="=cmd|' /C calc'!A0")
    path = tmp_path / "audit.xlsx"
    assert build(tables, path, replies=replies, rejected=rejected) == []
    wb = openpyxl.load_workbook(path)
    cell = column(wb[SHEET["replies"]], "text")[0]
    assert cell.data_type == "s" and cell.value == "'" + fx.FORMULA
    raw = column(wb[SHEET["rejected"]], "raw")[0]
    assert raw.data_type == "s" and raw.value == "'=cmd|' /C calc'!A0"


def test_column_widths_fit_chinese(book):
    ws = book[SHEET["agents"]]
    # "优衣库官方旗舰店:小美" is 11 characters, 10 of them double width -> 21 columns + padding
    assert ws.column_dimensions["A"].width >= 21


def test_truncation_notes_with_tiny_max_rows(tables, tmp_path):
    path = tmp_path / "audit.xlsx"
    with use_language("en"):
        notes = build(tables, path, max_rows=3)
    assert notes == [
        "Conversations sheet limited to first 3 of 5 rows (max_rows=3); the full table is conversations.csv",
        "Replies sheet limited to first 3 of 14 rows (max_rows=3); the full table is replies.csv",
    ]
    wb = openpyxl.load_workbook(path)
    assert wb["Replies"].max_row == 4 and wb["Agents"].max_row == 4
    # the note is also on the sheet, right of the header
    note = wb["Replies"].cell(row=1, column=len(tables["replies"].columns) + 1).value
    assert note.startswith("⚠ Replies sheet limited")
    assert build(tables, tmp_path / "zh.xlsx", max_rows=3)[1] == (
        "回复 工作表只含前 3 行（共 14 行，max_rows=3）；完整数据见 replies.csv")


def test_rows_beyond_excel_limit_are_cut_with_excel_wording(tables, tmp_path, monkeypatch):
    # Pretend Excel holds 5 data rows: the default max_rows (Excel's real limit) is capped to it.
    import qa_scorer.report.workbook as workbook

    assert EXCEL_MAX_DATA_ROWS == 1_048_575
    monkeypatch.setattr(workbook, "EXCEL_MAX_DATA_ROWS", 5)
    with use_language("en"):
        notes = build(tables, tmp_path / "audit.xlsx")
    assert notes == ["Replies sheet limited to first 5 of 14 rows (Excel's limit); the full table is replies.csv"]


def test_empty_and_missing_tables(tables, tmp_path):
    path = tmp_path / "audit.xlsx"
    notes = build(tables, path, rejected=pd.DataFrame(columns=["source_file", "source_line", "reason", "raw"]),
                  replies=None, max_rows=10**9)
    assert notes == []
    wb = openpyxl.load_workbook(path)
    assert header(wb[SHEET["rejected"]]) == ["来源文件", "来源行号", "原因", "原始内容"]
    assert wb[SHEET["rejected"]].max_row == 1
    assert wb[SHEET["replies"]].max_row == 1


def test_long_text_cut_to_excel_cell_limit(tables, tmp_path):
    path = tmp_path / "audit.xlsx"
    rejected = tables["rejected"].assign(raw="长" * 40_000)
    build(tables, path, rejected=rejected)
    wb = openpyxl.load_workbook(path)
    assert len(column(wb[SHEET["rejected"]], "raw")[0].value) == 32_767


def test_bad_max_rows(tables, tmp_path):
    with pytest.raises(ValueError, match="max_rows"):
        build(tables, tmp_path / "a.xlsx", max_rows=0)


def test_rates_are_percentages_and_durations_minutes_seconds(book):
    agents = book[SHEET["agents"]]
    rate = column(agents, "within_3min_rate")[0]
    assert rate.number_format == "0.0%" and 0 <= rate.value <= 1  # still a number: sorts and sums
    duration = [c for c in column(agents, "avg_response_s") if c.value is not None][0]
    assert duration.number_format == '[m]"分"ss"秒"'  # 3分12秒 in Excel, stored as a fraction of a day
    assert duration.value.total_seconds() > 0


def test_english_sheet_names_and_headers(tables, tmp_path):
    with use_language("en"):
        build(tables, tmp_path / "en.xlsx")
    wb = openpyxl.load_workbook(tmp_path / "en.xlsx")
    assert wb.sheetnames == ["Agents", "Conversations", "Replies", "Rejected rows"]
    assert header(wb["Agents"])[:3] == ["Agent", "Conversations", "Rounds"]
    with use_language("en"):
        assert column(wb["Agents"], "avg_response_s")[0].number_format == '[m]" min "ss" s"'
