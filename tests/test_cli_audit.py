"""`qa-scorer audit` and the root command, as a user runs them (CliRunner)."""

import json
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from qa_scorer import __version__
from qa_scorer.cli import app

ROOT = Path(__file__).resolve().parent.parent
SAMPLE = ROOT / "sample_transcripts" / "shop_day_2026-11-20.csv"
runner = CliRunner()


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
    assert f"{len(source):,}" in res.output and "rejected rows" in res.output
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
    res = runner.invoke(app, ["audit", str(folder), "--out", str(out), "--no-tags", "--no-html", "--no-xlsx"])
    assert res.exit_code == 1
    assert "broken.json" in res.output and "invalid JSON" in res.output
    assert len(pd.read_csv(out / "messages.csv", encoding="utf-8-sig")) == 2
    rejected = pd.read_csv(out / "rejected.csv", encoding="utf-8-sig")
    assert rejected["source_line"].tolist() == [4] and "bad timestamp" in rejected["reason"].iloc[0]


def test_bad_options_give_clear_errors(tmp_path):
    res = runner.invoke(app, ["audit", str(SAMPLE), "--format", "pdf", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "pdf" in res.output
    res = runner.invoke(app, ["audit", str(SAMPLE), "--platform", "amazon", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "taobao" in res.output
    res = runner.invoke(app, ["audit", str(SAMPLE), "--columns", "x=nonsense", "--out", str(tmp_path)])
    assert res.exit_code == 2 and "allowed" in res.output
