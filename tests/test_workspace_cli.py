"""End to end through the command line, on SQLite and PostgreSQL: audit --db -> queue -> decisions
(one tag rejected, one confirmed, one added) -> appeal filed and overturned -> period closed ->
commission from the final scores, compared with hand-computed figures.

Figures (the shipped samples; see tests/test_workspace.py for the machine scores):
- C20261120-018 (七七) 75.7 -> reject rude@6 85.7 -> confirm unhelpful@4 85.7 -> add pushy@4 83.7
  -> appeal on the pushy decision overturned: 85.7.
- C20261120-034 (阿杰) 68.5 -> reject rude@7: 78.5.
- 七七: 15 conversations, (1314.2 - 75.7 + 85.7) / 15 = 88.28 -> 88.3; minus within_3min_rate 4.1 and
  reply_rate 8.3 = 75.9.  Presales commission 183,240.00 x 0.005 x 75.9 / 100 = 695.3958 -> 695.40.
- 阿杰: 16 conversations, (1568.4 - 68.5 + 78.5) / 16 = 98.65 -> 98.7, no agent deductions.
  Aftersales commission 318 x 342.50 x 0.008 x 98.7 / 100 = 859.99284 -> 859.99.
"""

from __future__ import annotations

import re

import pandas as pd
import pytest
from typer.testing import CliRunner

from qa_scorer.cli import app

SAMPLES = "sample_transcripts"
C018, C034 = "C20261120-018", "C20261120-034"


def run(*args, code: int = 0):
    result = CliRunner().invoke(app, [str(a) for a in args])
    assert result.exit_code == code, result.output
    return result.output


def test_month_end_to_end(db_url, tmp_path):
    db = ("--db", db_url)
    out = run("audit", SAMPLES, "-o", tmp_path / "report", "--no-html", "--no-xlsx", "--by", "组长", *db)
    assert "新增 96，更新 0，未变 0" in out
    for name, role, *agent in (("组长", "lead"), ("小王", "reviewer"), ("小李", "reviewer"),
                               ("七七", "agent", "柚子家居旗舰店:七七"), ("阿杰", "agent", "柚子家居旗舰店:阿杰")):
        run("user", "add", name, "--role", role, *(("--agent", agent[0]) if agent else ()), *db)

    out = run("review", "queue", "--build", "--period", "2026-11", "--reviewers", "小王,小李", "--by", "组长", *db)
    assert C034 in out and C018 in out
    assert C018 in run("review", "queue", "--reviewer", "小李", *db)
    assert C034 in run("review", "queue", "--reviewer", "小王", *db)

    shown = run("review", "show", C018, *db)
    assert "说了多少遍了，看详情" in shown and "rude" in shown

    def decide(conv, *args, code=0):
        return run("review", "decide", conv, *args, *db, code=code)

    out = decide(C018, "--reply", 6, "--tag", "rude", "--verdict", "reject", "--reviewer", "小李",
                 "--reason", "在确认需求", "--version", 1)
    assert "75.7 -> 85.7" in out
    stale = decide(C018, "--reply", 6, "--tag", "rude", "--verdict", "confirm", "--reviewer", "小王",
                   "--reason", "态度差", "--version", 1, code=4)
    assert "C20261120-018" in stale
    assert "85.7 -> 85.7" in decide(C018, "--reply", 4, "--tag", "unhelpful", "--verdict", "confirm",
                                    "--reviewer", "小李", "--reason", "确实敷衍")
    out = decide(C018, "--reply", 4, "--tag", "pushy", "--verdict", "add", "--reviewer", "小李",
                 "--reason", "漏标催单")
    assert "85.7 -> 83.7" in out
    pushy_id = re.search(r"#(\d+)", out).group(1)
    assert "68.5 -> 78.5" in decide(C034, "--reply", 7, "--tag", "rude", "--verdict", "reject",
                                    "--reviewer", "小王", "--reason", "是在说明退货流程")

    # re-auditing the same input changes nothing and keeps every decision
    out = run("audit", SAMPLES, "-o", tmp_path / "report", "--no-html", "--no-xlsx", *db)
    assert "新增 0，更新 0，未变 96" in out
    assert "83.7" in run("review", "show", C018, *db)

    out = run("appeal", "file", C018, "--agent", "七七", "--comment", "买家问尺码，我没有催单", "--decision",
              pushy_id, *db)
    appeal_id = re.search(r"(\d+)", out).group(1)
    assert "待裁决" in run("appeal", "list", "--status", "pending", *db)
    out = run("appeal", "decide", appeal_id, "--outcome", "overturn", "--lead", "组长", "--reason", "确实没有催单",
              *db)
    assert "83.7 -> 85.7" in out

    run("period", "close", "2026-11", "--lead", "组长", *db)
    closed = run("period", "status", "2026-11", *db)
    assert "已结账" in closed

    payroll = tmp_path / "payroll.xlsx"
    run("commission", "--db", db_url, "--period", "2026-11", "--sales", f"{SAMPLES}/sales_2026-11.csv",
        "--out", payroll)
    rows = pd.read_excel(payroll, sheet_name="payroll").set_index("agent")
    assert rows.loc["柚子家居旗舰店:七七", "service_score"] == 75.9
    assert rows.loc["柚子家居旗舰店:七七", "commission"] == pytest.approx(695.40, abs=1e-9)
    assert rows.loc["柚子家居旗舰店:阿杰", "commission"] == pytest.approx(859.99, abs=1e-9)
    assert rows.loc["柚子家居旗舰店:七七", ["reviewed_conversations", "appeals_changed"]].tolist() == [1, 1]
    assert rows.loc["柚子家居旗舰店:阿杰", ["reviewed_conversations", "appeals_changed"]].tolist() == [1, 0]

    # the assessment sheet reads the same final scores from the workspace
    sheet_out = tmp_path / "assessment.xlsx"
    run("assess", "--db", db_url, "--period", "2026-11", "--kpis", f"{SAMPLES}/kpis_2026-11.csv",
        "--sheet", "presales,aftersales,gold,supervisor", "--out", sheet_out)
    assessed = pd.read_excel(sheet_out, sheet_name="assessment").set_index("agent")
    assert assessed.loc["柚子家居旗舰店:七七", "service_score"] == 75.9      # the final, reviewed score

    export = tmp_path / "scores.xlsx"
    run("export", "scores", "--period", "2026-11", "--out", export, *db)
    convs = pd.read_excel(export, sheet_name="conversations")
    assert len(convs) == 96

    # a closed month is frozen: the audit leaves it alone, decisions are refused
    out = run("audit", SAMPLES, "-o", tmp_path / "report", "--no-html", "--no-xlsx", *db)
    assert "已结账期间 96（未改动）" in out
    decide(C018, "--reply", 6, "--tag", "rude", "--verdict", "confirm", "--reviewer", "小王", "--reason", "x",
           code=1)
    events = run("workspace", "events", "--limit", 200, *db)
    for kind in ("audit", "decision", "appeal_file", "appeal_decide", "period_close"):
        assert kind in events


def test_the_other_workspace_commands(db_url, tmp_path):
    """init, status, set, user list/disable, the queue's probability and random options, period
    reopen, calibration start/report: each command once, with what it must print or write."""
    db = ("--db", db_url)
    assert "结构版本 0003" in run("workspace", "init", *db)
    run("audit", SAMPLES, "-o", tmp_path / "report", "--no-html", "--no-xlsx", "--no-tags", *db)
    for name, role in (("组长", "lead"), ("小王", "reviewer"), ("小李", "reviewer"), ("小美", "reviewer")):
        run("user", "add", name, "--role", role, *db)
    status = run("workspace", "status", *db)
    assert re.search(r"会话\s*│\s*96", status) and re.search(r"用户数\s*│\s*4", status)
    assert "appeal_window_days = 10" in run("workspace", "set", "appeal_window_days", "10", "--by", "组长",
                                            "--reason", "双十一", *db)
    run("workspace", "set", "appeal_window_days", "45", "--by", "组长", *db, code=1)
    assert "已停用 小美" in run("user", "disable", "小美", "--by", "组长", "--reason", "离职", *db)
    users = run("user", "list", *db)
    assert re.search(r"小美\s*│\s*质检员\s*│[^│]*│\s*否", users)
    # without tags the machine flagged nothing: the probability options add nothing, random 10 % does
    out = run("review", "queue", "--build", "--period", "2026-11", "--reviewers", "小王", "--by", "组长",
              "--no-needs-review", "--flagged-above", "0.5", "--flagged-below", "0.9", "--random-pct", "10", *db)
    assert re.search(r"已将 (\d+) 个会话加入复核队列", out)
    assert "random_10%" in out and "flagged_p" not in out
    run("period", "close", "2026-11", "--lead", "组长", "--force", "--reason", "月底", *db)
    assert "未结账" in run("period", "reopen", "2026-11", "--lead", "组长", "--reason", "补复核", *db)
    out = run("calibration", "start", "11月校准", "--reviewers", "小王,小李", "--size", "2", "--period", "2026-11",
              "--by", "组长", *db)
    assert "校准 1：2 个会话" in out
    key = out.strip().splitlines()[-1].split(", ")[0]
    run("review", "decide", key, "--calibration", 1, "--all", "--verdict", "confirm", "--reviewer", "小王",
        "--reason", "无误", *db)
    report = run("calibration", "report", 1, "--out", tmp_path / "cal.xlsx", *db)
    assert "各标签一致性" in report and "宽严度" in report
    assert set(pd.read_excel(tmp_path / "cal.xlsx", sheet_name=None)) == {"tags", "scores", "strictness",
                                                                          "model_vs_human"}
    events = run("workspace", "events", "--limit", 100, *db)
    for kind in ("setting", "user_disable", "queue_build", "period_reopen", "calibration_start"):
        assert kind in events
