"""Commission on the 绩效考核得分 (score_source = "assessment") and the salary scheme.

The team is the hand-made month of tests/test_assessment.py (assessment scores: 小美 75.88,
阿杰 87.38, 豆豆 81.29, 老陈 81.05; service scores 88.7, 91, 91.1, —).  Every amount is worked
out by hand in the comment next to it; docs/assessment.md and docs/commission.md quote them.
"""

from __future__ import annotations

import os
from decimal import Decimal
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

from qa_scorer import i18n
from qa_scorer.assessment import assess, load_sheets, read_agents, read_kpis, write_assessment
from qa_scorer.cli import app
from qa_scorer.commission import (
    SchemeError, compute_commission, load_scheme, read_sales, read_scores, scheme_from_mapping, write_payroll,
)
from qa_scorer.i18n import use_language
from test_assessment import AGENTS_CSV, KPIS_CSV

ROOT = Path(__file__).resolve().parents[1]
D = Decimal
runner = CliRunner()
SALES = ("客服,岗位,询单销售额,询单人数,成交人数,退换件数,平均客单价\n"
         "店A:小美,售前,120000,400,180,,\n阿杰,售后,,,,40,158.50\n豆豆,金牌,80000,300,100,25,120\n老陈,主管,,,,,\n")


@pytest.fixture(autouse=True)
def _no_language_leak():
    yield
    os.environ.pop("QA_SCORER_LANG", None)
    i18n.set_language(None)


@pytest.fixture
def files(tmp_path):
    (tmp_path / "agents.csv").write_text(AGENTS_CSV, encoding="utf-8")
    (tmp_path / "kpis.csv").write_bytes(KPIS_CSV.encode("gbk"))
    (tmp_path / "sales.csv").write_text(SALES, encoding="utf-8")
    return tmp_path


@pytest.fixture
def assessment(files):
    return assess(read_agents(files / "agents.csv"), read_kpis(files / "kpis.csv"),
                  load_sheets("presales,aftersales,gold,supervisor"))


def by_agent(result, name):
    rows = result.rows[result.rows["agent"] == name]
    assert len(rows) == 1, name
    return rows.iloc[0]


def test_service_score_stays_the_default(files):
    result = compute_commission(read_scores(files / "agents.csv"), read_sales(files / "sales.csv"), load_scheme())
    mei = by_agent(result, "店A:小美")
    # 120000 x 0.005 x 88.7/100 = 532.20
    assert (mei["score_source"], mei["service_score"], mei["assessment_score"]) == ("service", D("88.7"), None)
    assert mei["commission"] == D("532.20")
    # the supervisor: team average of the service scores (88.7 + 91 + 91.1) / 3 = 90.2666…
    # (600 + 37.36) x 0.902666… = 575.3236 -> 575.32
    chen = by_agent(result, "老陈")
    assert chen["score_source"] == "team_avg_service" and chen["commission"] == D("575.32")


def test_assessment_score_drives_the_default_formulas(files, assessment):
    result = compute_commission(read_scores(files / "agents.csv"), read_sales(files / "sales.csv"), load_scheme(),
                                assessment=assessment.rows)
    mei = by_agent(result, "店A:小美")
    # 120000 x 0.005 x 75.88/100 = 600 x 0.7588 = 455.28 (the service score 88.7 would give 532.20)
    assert (mei["service_score"], mei["assessment_score"], mei["score"]) == (D("88.7"), D("75.88"), D("75.88"))
    assert mei["score_source"] == "assessment" and mei["commission"] == D("455.28")
    assert mei["formula"] == "120000 × 0.005 × 75.88/100 = 455.28"
    # 40 x 158.50 x 0.008 = 50.72 x 0.8738 = 44.319… -> 44.32
    assert by_agent(result, "阿杰")["commission"] == D("44.32")
    # (80000 x 0.006 + 25 x 120 x 0.008) x 0.8129 = 504 x 0.8129 = 409.7016 -> 409.70
    assert by_agent(result, "豆豆")["commission"] == D("409.70")
    # supervisor: the department's average 绩效考核得分 (75.88 + 87.38 + 81.29) / 3 = 81.5166…;
    # (600 + 37.36) x 244.55 / 300 = 519.5546… -> 519.55.  Their own sheet (81.05) is shown, not used.
    chen = by_agent(result, "老陈")
    assert chen["score_source"] == "team_avg_assessment" and chen["assessment_score"] == D("81.05")
    assert chen["commission"] == D("519.55")
    assert result.total == D("455.28") + D("44.32") + D("409.70") + D("519.55")


def test_scheme_asking_for_assessment_needs_one(files):
    scheme = scheme_from_mapping({"score_source": "assessment"}, where="mine.toml")
    with use_language("en"), pytest.raises(SchemeError, match='mine.toml: score_source = "assessment" needs an '
                                                              'assessment: give --assessment FILE'):
        compute_commission(read_scores(files / "agents.csv"), read_sales(files / "sales.csv"), scheme)
    with use_language("en"), pytest.raises(SchemeError, match="score_source must be one of service, assessment"):
        scheme_from_mapping({"score_source": "kpi"})


def test_agent_without_assessment_is_not_paid(files, assessment):
    rows = assessment.rows.copy()
    rows.loc[rows["agent"] == "阿杰", "status"] = "missing_kpis"
    rows.loc[rows["agent"] == "阿杰", "assessment_score"] = None
    rows = rows[rows["agent"] != "豆豆"]
    with use_language("en"):
        result = compute_commission(read_scores(files / "agents.csv"), read_sales(files / "sales.csv"),
                                    load_scheme(), assessment=rows)
    jie, dou = by_agent(result, "阿杰"), by_agent(result, "豆豆")
    assert jie["status"] == "no_assessment" and jie["commission"] is None
    assert "status missing_kpis" in jie["message"]
    assert dou["status"] == "no_assessment" and "has no row in the assessment" in dou["message"]
    assert {"阿杰", "豆豆"} <= set(result.unpaid["agent"])
    # the supervisor's department average leaves them out: 75.88 only -> (600 + 37.36) x 0.7588 = 483.6288
    assert by_agent(result, "老陈")["commission"] == D("483.63")


def test_salary_scheme(files, assessment):
    scheme = load_scheme("salary")
    assert (scheme.mode, scheme.score_source) == ("salary", "assessment")
    text = (ROOT / "qa_scorer" / "data" / "schemes" / "salary.toml").read_text(encoding="utf-8")
    assert "EVERY AMOUNT BELOW IS AN EXAMPLE, NOT FROM THE SOURCES" in text
    result = compute_commission(read_scores(files / "agents.csv"), read_sales(files / "sales.csv"), scheme,
                                assessment=assessment.rows)
    mei = by_agent(result, "店A:小美")
    # 3000 + 500 + 1000 x 75.88/100 = 3500 + 758.80 = 4258.80
    assert (mei["base_pay"], mei["post_pay"], mei["performance_base"]) == (D(3000), D(500), D(1000))
    assert mei["performance_pay"] == D("758.80") and mei["commission"] == D("4258.80")
    assert mei["formula"] == "3000 + 500 + 1000 × 75.88/100 = 4258.80"
    assert by_agent(result, "阿杰")["commission"] == D("4373.80")    # 3500 + 873.80
    assert by_agent(result, "豆豆")["commission"] == D("5519.35")    # 3500 + 800 + 1500 x 0.8129 = 4300 + 1219.35
    chen = by_agent(result, "老陈")   # the supervisor's own sheet: 4500 + 1200 + 2000 x 0.8105 = 7321.00
    assert chen["score_source"] == "assessment" and chen["commission"] == D("7321.00")
    # on the service score instead (score_source = "service"): 3500 + 1000 x 0.887 = 4387.00; the
    # supervisor has no score of their own and is not paid
    service = scheme_from_mapping({**_salary_table(), "score_source": "service"}, where="s.toml")
    with use_language("en"):
        plain = compute_commission(read_scores(files / "agents.csv"), read_sales(files / "sales.csv"), service)
    assert by_agent(plain, "店A:小美")["commission"] == D("4387.00")
    assert by_agent(plain, "老陈")["status"] == "no_score_value"
    assert "no score of their own" in by_agent(plain, "老陈")["message"]


def _salary_table():
    pay = {"base_pay": 3000, "post_pay": 500, "performance_base": 1000}
    return {"mode": "salary", **{role: dict(pay) for role in ("presales", "aftersales", "gold", "supervisor")}}


def test_salary_scheme_errors():
    table = _salary_table()
    del table["gold"]["post_pay"]
    with use_language("en"), pytest.raises(SchemeError, match=r'mode = "salary" needs post_pay in \[gold\]; write 0'):
        scheme_from_mapping(table, where="s.toml")
    with use_language("en"), pytest.raises(SchemeError, match='presales.base_pay is only used with mode = "salary"'):
        scheme_from_mapping({"presales": {"rate": 0.005, "base_pay": 3000}}, where="s.toml")


def test_payroll_files_show_both_scores(files, assessment, tmp_path):
    result = compute_commission(read_scores(files / "agents.csv"), read_sales(files / "sales.csv"), load_scheme(),
                                assessment=assessment.rows)
    xlsx, csv = write_payroll(result, tmp_path / "p.xlsx")[0], write_payroll(result, tmp_path / "p.csv")[0]
    wb = openpyxl.load_workbook(xlsx)
    header = [c.value for c in wb["payroll"][1]]
    for col in ("service_score", "assessment_score", "score_source", "score"):
        assert col in header
    assert ("score_source", "assessment") in [tuple(r) for r in wb["scheme"].iter_rows(min_row=2, values_only=True)]
    back = pd.read_csv(csv, dtype=str).set_index("agent")
    assert back.loc["店A:小美", ["service_score", "assessment_score", "commission"]].tolist() == \
        ["88.7", "75.88", "455.28"]


def test_commission_command_with_assessment_file_and_with_sheets(files, assessment, tmp_path):
    out = write_assessment(assessment, tmp_path / "assessment.xlsx")[0]
    base = ["--lang", "en", "commission", "--scores", str(files / "agents.csv"), "--sales", str(files / "sales.csv")]
    result = runner.invoke(app, [*base, "--assessment", str(out), "--out", str(tmp_path / "p.csv")])
    assert result.exit_code == 0, result.output
    # 455.28 + 44.32 + 409.70 + 519.55 = 1428.85
    assert "4 of 6 agents paid, total 1,428.85" in result.output and "绩效考核得分" in result.output
    sheets = runner.invoke(app, [*base, "--scheme", "salary", "--sheet", "presales,aftersales,gold",
                                 "--sheet", "supervisor", "--kpis", str(files / "kpis.csv"),
                                 "--out", str(tmp_path / "s.xlsx")])
    # 4258.80 + 4373.80 + 5519.35 + 7321.00 = 21472.95
    assert sheets.exit_code == 0, sheets.output
    assert "4 of 6 agents paid, total 21,472.95" in sheets.output
    needs = runner.invoke(app, [*base, "--scheme", "salary", "--out", str(tmp_path / "x.csv")])
    assert needs.exit_code == 2 and 'score_source = "assessment" needs an assessment' in needs.output
    both = runner.invoke(app, [*base, "--assessment", str(out), "--sheet", "presales", "--out", str(tmp_path / "y.csv")])
    assert both.exit_code == 2 and "not both" in both.output
    lone = runner.invoke(app, [*base, "--kpis", str(files / "kpis.csv"), "--out", str(tmp_path / "z.csv")])
    assert lone.exit_code == 2 and "--kpis needs --sheet" in lone.output


def test_docs_quote_the_tested_amounts():
    docs = (ROOT / "docs" / "commission.md").read_text(encoding="utf-8")
    for figure in ("455.28", "4258.80", "519.55", "score_source", "salary"):
        assert figure in docs
