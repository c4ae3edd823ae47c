"""`qa-scorer rubric init|check` and `qa-scorer commission` through the real root app."""

from __future__ import annotations

import tomllib

import openpyxl
import pytest
from typer.testing import CliRunner

from qa_scorer.cli import app
from qa_scorer.rubric import load_rubric

runner = CliRunner()


# Each test starts in the default language (Chinese): tests/conftest.py::_default_language.

SALES = (
    "客服,岗位,询单销售额,询单人数,成交人数,退换件数,平均客单价\n"
    "小美,售前,120000,400,180,,\n"
    "小丽,售后,,,,40,158.50\n"
    "小红,售前,5000,10,1,,\n"
)
AGENTS = "agent,conversations,service_score\n店:小美,3,95\n店:小丽,2,88.5\n店:小明,1,70\n"


@pytest.mark.parametrize("args", [["rubric", "--help"], ["rubric", "init", "--help"],
                                  ["rubric", "check", "--help"], ["commission", "--help"]])
def test_help_has_an_example(args):
    result = runner.invoke(app, args, terminal_width=200)
    assert result.exit_code == 0
    assert "Example:" in result.output and "qa-scorer " in result.output


def test_rubric_init_refuses_overwrite_and_force(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["rubric", "init"])
    assert result.exit_code == 0, result.output
    assert tomllib.loads((tmp_path / "rubric.toml").read_text(encoding="utf-8"))["name"] == "default"
    again = runner.invoke(app, ["rubric", "init", "--preset", "presales"])
    assert again.exit_code == 1 and "--force" in again.output
    assert load_rubric(tmp_path / "rubric.toml").name == "default"  # untouched
    forced = runner.invoke(app, ["rubric", "init", "rubric.toml", "--preset", "presales", "--force"])
    assert forced.exit_code == 0
    assert load_rubric(tmp_path / "rubric.toml").coached_only == ["pushy"]


def test_rubric_check_summary_and_error(tmp_path):
    good = tmp_path / "after.toml"
    assert runner.invoke(app, ["rubric", "init", str(good), "--preset", "aftersales"]).exit_code == 0
    result = runner.invoke(app, ["rubric", "check", str(good)])
    assert result.exit_code == 0 and "OK：评分表有效" in result.output
    assert "auto-fail: rude" in result.output
    assert "unhelpful: 8 per occurrence, cap 24" in result.output
    assert "not scored: product_answer_short" in result.output
    bad = tmp_path / "bad.toml"
    bad.write_text(good.read_text(encoding="utf-8").replace("[items.rude]", "[items.rudeness]"), encoding="utf-8")
    result = runner.invoke(app, ["rubric", "check", str(bad)])
    assert result.exit_code == 2 and "错误：" in result.output
    assert "unknown item 'rudeness'" in result.output and "allowed: slow_rounds" in result.output


def test_commission_end_to_end_xlsx(tmp_path):
    (tmp_path / "sales.csv").write_bytes(SALES.encode("gbk"))
    (tmp_path / "agents.csv").write_text(AGENTS, encoding="utf-8-sig")
    out = tmp_path / "payroll.xlsx"
    args = ["commission", "--scores", str(tmp_path / "agents.csv"), "--sales", str(tmp_path / "sales.csv"),
            "--out", str(out)]
    chinese = runner.invoke(app, args)
    assert chinese.exit_code == 0, chinese.output
    assert "4 位客服中 2 位有提成，合计 614.89" in chinese.output and "已写出" in chinese.output
    result = runner.invoke(app, [*args, "--lang", "en"])
    assert result.exit_code == 0, result.output
    # 小美 120000 x 0.005 x 0.95 = 570.00 ; 小丽 40 x 158.50 x 0.008 x 0.885 = 44.8872 -> 44.89
    assert "2 of 4 agents paid, total 614.89" in result.output
    assert "小红 (not_in_scores)" in result.output and "店:小明 (not_in_sales)" in result.output
    wb = openpyxl.load_workbook(out)
    header = [c.value for c in wb["payroll"][1]]
    rows = {r[header.index("agent")]: r for r in wb["payroll"].iter_rows(min_row=2, values_only=True)}
    assert rows["小美"][header.index("commission")] == pytest.approx(570.00)
    assert rows["小丽"][header.index("commission")] == pytest.approx(44.89)
    assert rows["小红"][header.index("commission")] is None
    assert wb["unmatched"].max_row == 3  # header + 2


def test_commission_strict_and_errors(tmp_path):
    (tmp_path / "sales.csv").write_text(SALES, encoding="utf-8")
    (tmp_path / "agents.csv").write_text(AGENTS, encoding="utf-8")
    base = ["--lang", "en", "commission", "--scores", str(tmp_path / "agents.csv"), "--sales", str(tmp_path / "sales.csv")]
    strict = runner.invoke(app, base + ["--out", str(tmp_path / "p.csv"), "--strict"])
    assert strict.exit_code == 1 and (tmp_path / "p.csv").exists()
    tiered = runner.invoke(app, base + ["--out", str(tmp_path / "t.csv"), "--scheme", "tiered"])
    # 小美 converts 45% -> 0.007: 120000 x 0.007 x 0.95 = 798.00
    assert tiered.exit_code == 0 and "total 842.89" in tiered.output
    missing = runner.invoke(app, base + ["--out", str(tmp_path / "p.csv"), "--scheme", str(tmp_path / "x.toml")])
    assert missing.exit_code == 2 and "scheme file not found" in missing.output
    (tmp_path / "bad.csv").write_text("客服,岗位\n小美,经理\n", encoding="utf-8")
    bad = runner.invoke(app, ["--lang", "en", "commission", "--scores", str(tmp_path / "agents.csv"), "--sales",
                              str(tmp_path / "bad.csv"), "--out", str(tmp_path / "p.xlsx")])
    assert bad.exit_code == 2 and "line 2, column role: unknown role '经理'" in bad.output
