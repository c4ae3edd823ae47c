"""`qa-scorer audit` and the root command, as a user runs them (CliRunner)."""

import json
import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qa_scorer import __version__
from qa_scorer.cli import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_transcripts" / "shop_day_2026-11-20.csv"
runner = CliRunner()
FAST = ["--no-tags", "--no-html", "--no-xlsx"]


# Each test starts in the default language (Chinese): tests/conftest.py::_default_language.


def test_version():
    res = runner.invoke(app, ["--version"])
    assert res.exit_code == 0 and __version__ in res.output


@pytest.mark.parametrize("command", [["audit"], ["train"], ["evaluate"], ["tag"], ["commission"],
                                     ["coach"], ["rubric", "init"], ["rubric", "check"]])
def test_every_command_help_shows_an_example(command):
    res = runner.invoke(app, [*command, "--help"])
    assert res.exit_code == 0, res.output
    assert "Example" in res.output and "qa-scorer " + command[0] in res.output


def test_audit_writes_tables_and_summary(tmp_path):
    out = tmp_path / "rep"
    res = runner.invoke(app, ["audit", str(SAMPLE), "--out", str(out), "--no-tags", "--no-html", "--no-xlsx"])
    assert res.exit_code == 0, res.output
    for name in ("messages.csv", "rejected.csv", "replies.csv", "rounds.csv", "conversations.csv",
                 "agents.csv", "run.json"):
        assert (out / name).exists(), name
    messages = pd.read_csv(out / "messages.csv", encoding="utf-8-sig")
    source = pd.read_csv(SAMPLE)
    assert len(messages) == len(source)  # nothing lost
    assert messages["conversation_id"].nunique() == source["conversation_id"].nunique()
    assert f"{len(source):,}" in res.output and "无法使用的行" in res.output
    assert (out / "messages.csv").read_bytes().startswith(b"\xef\xbb\xbf")  # BOM: Excel shows Chinese
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["settings"]["within_seconds"] == 180 and run["messages"] == len(source)


def test_audit_options_reach_the_metrics(tmp_path):
    out = tmp_path / "rep"
    res = runner.invoke(app, ["audit", str(SAMPLE), "--out", str(out), "--no-tags", "--no-html", "--no-xlsx",
                              "--platform", "douyin", "--slow-seconds", "60"])
    assert res.exit_code == 0, res.output
    run = json.loads((out / "run.json").read_text(encoding="utf-8"))
    assert run["settings"]["platform"] == "douyin" and run["settings"]["service_end"] == "23:00"
    assert run["settings"]["slow_seconds"] == 60


def test_bad_file_is_reported_batch_continues_exit_1(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "good.csv").write_text(
        "sent_at,sender,text\n2026-11-20 10:00:00,buyer,有货吗\n2026-11-20 10:00:20,店:小美,有的亲\n"
        "not-a-time,buyer,谢谢\n", encoding="utf-8")
    (folder / "broken.json").write_text("[{", encoding="utf-8")
    out = tmp_path / "rep"
    res = runner.invoke(app, ["audit", str(folder), "--out", str(out), "--no-tags", "--no-html", "--no-xlsx",
                              "--lang", "en"])
    assert res.exit_code == 1
    assert "broken.json" in res.output and "invalid JSON" in res.output
    assert len(pd.read_csv(out / "messages.csv", encoding="utf-8-sig")) == 2
    rejected = pd.read_csv(out / "rejected.csv", encoding="utf-8-sig")
    assert rejected["source_line"].tolist() == [4] and "bad timestamp" in rejected["reason"].iloc[0]


def test_bad_options_give_clear_errors(tmp_path):
    res = runner.invoke(app, ["audit", str(SAMPLE), "--format", "pdf", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "pdf" in res.output and "未知的格式" in res.output
    res = runner.invoke(app, ["--lang", "en", "audit", str(SAMPLE), "--format", "pdf", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "unknown format 'pdf'" in res.output
    res = runner.invoke(app, ["audit", str(SAMPLE), "--platform", "amazon", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "taobao" in res.output
    res = runner.invoke(app, ["audit", str(SAMPLE), "--columns", "x=nonsense", "--out", str(tmp_path), "--lang", "en"])
    assert res.exit_code == 2 and "allowed" in res.output
    res = runner.invoke(app, ["--lang", "fr", "audit", str(SAMPLE)])
    assert res.exit_code == 2 and "zh" in res.output and "en" in res.output


SAMPLES = ROOT / "sample_transcripts"


def test_audit_summary_is_chinese_by_default(tmp_path):
    res = runner.invoke(app, ["audit", str(SAMPLES), "--out", str(tmp_path / "zh"), *FAST], terminal_width=160)
    assert res.exit_code == 0, res.output
    out = res.output
    assert "qa-scorer 质检汇总" in out
    for label in ("读取文件", "会话数", "消息数", "客服数", "无法使用的行", "会话平均服务分", "客服平均服务分",
                  "3分钟响应率", "输出目录"):
        assert label in out, label
    assert "（96 个会话的平均）" in out and "位客服的平均）" in out
    assert "买家 478" in out and "客服 385" in out
    assert re.search(r"3分钟响应率\s*│\s*\d{1,3}\.\d%", out)  # a percentage, not 0.916
    assert "看起来是销售数据文件" in out and "未质检" in out  # the sales file is skipped, said in Chinese
    assert "kpis_2026-11.csv: 看起来是考核指标文件" in out          # so is the KPI file of `assess`
    assert "mean agent score" not in out.lower() and "Files read" not in out


def test_audit_summary_in_english_with_lang_en(tmp_path):
    for args in (["--lang", "en", "audit", str(SAMPLES)], ["audit", str(SAMPLES), "--lang", "en"]):
        res = runner.invoke(app, [*args, "--out", str(tmp_path / "en"), *FAST], terminal_width=160)
        assert res.exit_code == 0, res.output
        out = res.output
        assert "qa-scorer audit summary" in out
        for label in ("Files read", "Conversations", "Messages", "Agents", "Rejected rows",
                      "Mean conversation score", "Mean agent score", "3-minute response rate", "Output folder"):
            assert label in out, label
        assert "(over 96 conversations)" in out and "buyer 478" in out
        assert "looks like a sales file" in out and "质检汇总" not in out


def test_the_two_score_means_are_the_report_figures(tmp_path):
    """The terminal and report.html show the same two means under the same names."""
    out = tmp_path / "rep"
    res = runner.invoke(app, ["audit", str(SAMPLES), "--out", str(out), "--no-tags", "--no-xlsx"], terminal_width=160)
    assert res.exit_code == 0, res.output
    conv = pd.read_csv(out / "conversations.csv", encoding="utf-8-sig")["service_score"].mean()
    agents = pd.read_csv(out / "agents.csv", encoding="utf-8-sig")["service_score"].mean()
    html = (out / "report.html").read_text(encoding="utf-8")
    for label, value in (("会话平均服务分", conv), ("客服平均服务分", agents)):
        assert re.search(label + r"\s*│\s*" + re.escape(f"{value:.1f}"), res.output), label
        assert re.search(label + r'</div><div class="v">' + re.escape(f"{value:.1f}") + "<", html), label


HOSTILE = "[/bold][link=http://x]y[/link]\x1b[31m"


def test_terminal_never_interprets_text_from_files(tmp_path):
    folder = tmp_path / "in[bold]"
    folder.mkdir()
    # a header and a sender with rich markup and an ANSI escape; the file cannot be mapped (no text column),
    # so its error message quotes the headers
    (folder / "bad[bold]x[red].csv").write_text(
        f"sent_at,sender,{HOSTILE}\n2026-11-20 10:00:00,{HOSTILE},有货吗\n", encoding="utf-8")
    (folder / "good.csv").write_text(
        f"sent_at,sender,text\n2026-11-20 10:00:00,{HOSTILE},有货吗\n2026-11-20 10:00:20,店:小美,有的亲\n",
        encoding="utf-8")
    res = runner.invoke(app, ["audit", str(folder), "--out", str(tmp_path / "rep"), *FAST], terminal_width=400)
    assert res.exception is None or isinstance(res.exception, SystemExit), repr(res.exception)
    assert res.exit_code == 1, res.output  # the bad file is reported, the good one audited
    out = res.output
    assert "bad[bold]x[red].csv" in out  # the file name exactly as it is
    assert "[link=http://x]y[/link]" in out  # shown as text, not turned into a link
    assert "\x1b" not in out  # the escape never reaches the terminal
    assert "qa-scorer 质检汇总" in out


def test_long_values_from_files_are_cut():
    from qa_scorer.commands.common import plain, safe

    assert plain("a" * 1000).endswith("…") and len(plain("a" * 1000)) == 160
    assert plain("x\x1b[31my\r\nz\u202e") == "x�[31my⏎z�"
    assert safe("[bold]x[/bold]") == "\\[bold]x\\[/bold]"

