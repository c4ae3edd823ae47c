"""Coaching examples: loading the audit folder, selection, order, context, masking, outputs and the CLI."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from typer.testing import CliRunner

sys.path.insert(0, str(Path(__file__).parent))
import conftest_report as fx  # noqa: E402

from qa_scorer.cli import app  # noqa: E402
from qa_scorer.report import (  # noqa: E402
    AuditFolderError,
    CoachingError,
    coaching_examples,
    load_audit_folder,
    write_coaching,
)


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return fx.write_audit_folder(tmp_path_factory.mktemp("audit") / "qa-report")


@pytest.fixture(scope="module")
def tables(folder) -> dict:
    return load_audit_folder(folder)


# --------------------------------------------------------------------------- load_audit_folder
def test_load_audit_folder_types(tables):
    assert {"messages", "replies", "conversations", "rounds", "agents", "rejected", "run"} <= set(tables)
    assert pd.api.types.is_datetime64_any_dtype(tables["messages"]["sent_at"])
    assert pd.api.types.is_datetime64_any_dtype(tables["rounds"]["answered_at"])
    assert tables["messages"]["sent_at"].iloc[0] == pd.Timestamp("2024-05-06 10:00:00")
    assert tables["replies"]["tag_words"].iloc[0] == ""  # empty text stays "", not NaN
    assert tables["run"]["settings"]["platform"] == "taobao"


def test_numeric_looking_ids_stay_text(tmp_path):
    t = fx.audit_tables()
    for name in ("messages", "replies", "rounds", "conversations"):
        t[name] = t[name].assign(conversation_id=t[name]["conversation_id"].str.replace("c", "00", regex=False))
    loaded = load_audit_folder(fx.write_audit_folder(tmp_path / "qa", t))
    assert loaded["conversations"]["conversation_id"].tolist() == ["001", "002", "003", "004"]
    ex = coaching_examples(loaded, rule="short_reply")
    assert ex["conversation_id"].tolist() == ["001"]


def test_missing_file_is_named(tmp_path):
    folder = fx.write_audit_folder(tmp_path / "qa")
    (folder / "replies.csv").unlink()
    with pytest.raises(AuditFolderError, match=r"replies\.csv missing; run `qa-scorer audit"):
        load_audit_folder(folder)
    with pytest.raises(AuditFolderError, match="no such folder"):
        load_audit_folder(tmp_path / "nope")


def test_bad_date_names_file_row_and_column(tmp_path):
    t = fx.audit_tables()
    t["messages"] = t["messages"].astype({"sent_at": object})
    t["messages"].loc[2, "sent_at"] = "yesterday"
    folder = fx.write_audit_folder(tmp_path / "qa", t)
    with pytest.raises(AuditFolderError, match=r"messages\.csv: data row 3, column sent_at: .*'yesterday'"):
        load_audit_folder(folder)


# --------------------------------------------------------------------------- selection and order
def test_tag_examples_most_probable_first(tables):
    ex = coaching_examples(tables, tag="pushy", mask=False)
    assert ex["reply"].tolist() == ["最后一件了，亲不买就没有了哦", "有的亲，现在下单立减20元，百分百正品"]
    assert ex["probability"].tolist() == [0.93, 0.62]
    assert ex["reason"].tolist() == ["催单 pushy：最后一件, 没有了", "催单 pushy：现在下单"]
    assert ex["rank"].tolist() == [1, 2]


def test_rule_short_reply(tables):
    ex = coaching_examples(tables, rule="short_reply", mask=False)
    assert ex["reply"].tolist() == ["嗯"]
    assert ex["reason"].tolist() == ["回复 1 字 < 4 字"]
    assert ex["latency_s"].tolist() == [240.0]


def test_rule_slow_uses_latency(tables):
    ex = coaching_examples(tables, rule="slow", mask=False)
    assert ex["reply"].tolist() == ["嗯"]
    assert ex["reason"].tolist() == ["买家等待 4分 才得到回复（> 120 秒）"]


def test_rule_product_answer_short_most_severe_first(tables):
    ex = coaching_examples(tables, rule="product_answer_short", mask=False)
    # c3 answered with 4 characters (11 short), c1 with 13 (2 short)
    assert ex["reply"].tolist() == ["偏大一码", "最后一件了，亲不买就没有了哦"]
    assert ex["reason"].tolist() == ["商品问题回复 4 字 < 15 字", "商品问题回复 13 字 < 15 字"]


def test_rule_missing_closing_shows_last_agent_reply(tables):
    ex = coaching_examples(tables, rule="missing_closing", mask=False)
    assert ex["conversation_id"].tolist() == ["c1"]
    assert ex["reply"].tolist() == ["最后一件了，亲不买就没有了哦"]


def test_thresholds_come_from_run_json(tables):
    t = dict(tables, run={"settings": {"min_reply_chars": 6, "slow_seconds": 60}})
    assert coaching_examples(t, rule="short_reply")["reason"].tolist() == ["回复 1 字 < 6 字"]
    # 70 s is slow under a 60 s threshold only if rounds.csv says so; its `slow` column rules
    assert coaching_examples(t, rule="slow")["reply"].tolist() == ["嗯"]


def test_all_flags_take_turns_and_merge_reasons(tables):
    ex = coaching_examples(tables, mask=False)
    assert ex["reply"].tolist() == [
        "最后一件了，亲不买就没有了哦",  # pushy 0.93 (+ product short, missing closing)
        "有的亲，现在下单立减20元，百分百正品",  # overclaim 0.71 (+ pushy 0.62)
        "嗯",  # short reply, slow
        "偏大一码",  # product answer short
    ]
    assert ex["category"].iloc[1] == "overclaim,pushy"
    assert ex["probability"].iloc[1] == 0.71
    assert "会话结束未发送结束语" in ex["reason"].iloc[0]
    assert ex["reply"].is_unique


def test_limit(tables):
    assert len(coaching_examples(tables, limit=2)) == 2


def test_agent_filter_with_or_without_shop_prefix(tables):
    short = coaching_examples(tables, agent="小美", mask=False)
    full = coaching_examples(tables, agent=fx.XIAOMEI, mask=False)
    wide_colon = coaching_examples(tables, agent="优衣库官方旗舰店：小美", mask=False)
    assert short["reply"].tolist() == full["reply"].tolist() == wide_colon["reply"].tolist()
    assert set(short["agent"]) == {fx.XIAOMEI}
    assert "偏大一码" in short["reply"].tolist()
    assert coaching_examples(tables, agent="阿强", mask=False)["reply"].tolist() == [
        "有的亲，现在下单立减20元，百分百正品"]


def test_unknown_agent_tag_rule(tables):
    with pytest.raises(CoachingError, match=f"agents: {fx.XIAOMEI}, {fx.AQIANG}"):
        coaching_examples(tables, agent="小红")
    with pytest.raises(CoachingError, match="unknown tag 'spam'"):
        coaching_examples(tables, tag="spam")
    with pytest.raises(CoachingError, match="unknown rule"):
        coaching_examples(tables, rule="typo")


def test_tag_without_classifier_columns(tables):
    t = dict(tables, replies=tables["replies"].drop(columns=["pushy", "p_pushy"]))
    with pytest.raises(CoachingError, match="without the classifier"):
        coaching_examples(t, tag="pushy")
    # without any tag columns the default still finds the rule examples
    no_tags = tables["replies"].drop(columns=["pushy", "unhelpful", "rude", "overclaim"])
    ex = coaching_examples(dict(tables, replies=no_tags), mask=False)
    assert ex["kind"].eq("rule").all() and "嗯" in ex["reply"].tolist()


def test_rule_needing_rounds_without_rounds_csv(tables):
    t = {k: v for k, v in tables.items() if k != "rounds"}
    with pytest.raises(CoachingError, match="needs rounds.csv"):
        coaching_examples(t, rule="slow")


def test_good_examples(tables):
    ex = coaching_examples(tables, good=True, mask=False)
    # product answer first, then the cleanest (lowest tag probability); c1 is excluded (never closed),
    # c3's "偏大一码" is a short product answer, c2's tagged reply and the auto reply are out.
    assert ex["reply"].tolist() == [
        "亲，这款是100%精梳棉，经过抗起球处理，正常穿着不容易起球哦",
        "不客气，有问题随时联系我们，祝您购物愉快",
        "好的呢亲，有问题随时联系我们，祝您购物愉快",
        "在的呢亲~有什么可以帮您",
    ]
    assert ex["kind"].eq("good").all()
    assert (ex["latency_s"] <= 60).all()
    assert ex["reason"].iloc[0] == "响应 45秒 ≤ 60 秒 · 商品问题回复 28 字 ≥ 15 字 · 无标记 · 会话有结束语"
    only_product = coaching_examples(tables, good=True, rule="product_answer_short", mask=False)
    assert only_product["conversation_id"].tolist() == ["c4"]


# --------------------------------------------------------------------------- context and masking
def test_context_buyer_messages_before_and_after(tables):
    ex = coaching_examples(tables, rule="short_reply", mask=False).iloc[0]
    assert [m["text"] for m in ex["before"]] == [f"好的，我电话{fx.PHONE}，订单号{fx.ORDER_NO}"]
    assert [m["text"] for m in ex["after"]] == [fx.SCRIPT_ATTACK]
    assert ex["before"][0]["sent_at"] == pd.Timestamp("2024-05-06 10:02:00")
    good = coaching_examples(tables, good=True, mask=False)
    # the system notice between the answer and the next agent message is not buyer context
    assert [m["text"] for m in good.iloc[3]["after"]] == [f"尺码偏大吗，我身高165体重100斤，寄到{fx.ADDRESS}"]


def test_context_without_message_index(tables):
    t = dict(tables, replies=tables["replies"].drop(columns=["message_index"]))
    ex = coaching_examples(t, rule="short_reply", mask=False).iloc[0]
    assert [m["text"] for m in ex["after"]] == [fx.SCRIPT_ATTACK]


def test_masking_buyers_phones_addresses_orders(tables):
    ex = coaching_examples(tables)
    text = write_coaching(ex, None, fmt="md")
    for secret in ("tb_buyer1", "tb_buyer3", "小王爱购物", fx.PHONE, fx.ORDER_NO, fx.ADDRESS):
        assert secret not in text
    assert ex["customer"].tolist() == ["买家A", "买家B", "买家A", "买家C"]  # in order of appearance
    assert ex.iloc[2]["before"][0]["sender"] == "买家A"
    assert "138\\*\\*\\*\\*5678" in text and "\\[订单号\\]" in text and "\\[地址\\]" in text


def test_no_mask_keeps_names(tables):
    ex = coaching_examples(tables, rule="short_reply", mask=False)
    assert ex.iloc[0]["customer"] == "tb_buyer1"
    assert fx.PHONE in ex.iloc[0]["before"][0]["text"]


# --------------------------------------------------------------------------- outputs
def test_markdown_escapes_chat_text(tables):
    text = write_coaching(coaching_examples(tables, tag="pushy"), None, fmt="md")
    assert not re.search(r"(?<!\\)<", text)  # every < is backslash-escaped: no raw HTML reaches a renderer
    assert "\\<script\\>window.\\_\\_pwned=1" in text
    assert text.index("0.93") < text.index("0.62")
    assert "**客服 优衣库官方旗舰店:小美：最后一件了，亲不买就没有了哦** ◀" in text


def test_html_output_escapes(tables, tmp_path):
    path = tmp_path / "c.html"
    text = write_coaching(coaching_examples(tables, tag="pushy"), path, fmt="html")
    assert path.read_text(encoding="utf-8") == text
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;window.__pwned=1" in text and "&lt;img src=x onerror=" in text


def test_xlsx_output_neutralises_formulas(tables, tmp_path):
    t = dict(tables, replies=tables["replies"].copy())
    t["replies"].loc[1, "text"] = fx.FORMULA  # the short reply "嗯" now looks like a formula
    path = tmp_path / "c.xlsx"
    write_coaching(coaching_examples(t, rule="short_reply"), path, fmt="xlsx")
    ws = openpyxl.load_workbook(path)["coaching"]
    head = [c.value for c in ws[1]]
    reply = ws.cell(row=2, column=head.index("回复 reply") + 1)
    assert reply.data_type == "s" and reply.value == "'" + fx.FORMULA
    assert ws.cell(row=2, column=head.index("原因 reason") + 1).value == "回复 1 字 < 4 字"
    with pytest.raises(CoachingError, match="needs an output file"):
        write_coaching(coaching_examples(t, rule="short_reply"), None, fmt="xlsx")


def test_empty_result(tables):
    ex = coaching_examples(tables, agent="阿强", rule="short_reply")
    assert ex.empty
    assert "没有符合条件的案例" in write_coaching(ex, None, fmt="md")


# --------------------------------------------------------------------------- CLI
runner = CliRunner()


def test_cli_help_has_example():
    result = runner.invoke(app, ["coach", "--help"])
    assert result.exit_code == 0
    assert "Example:" in result.output and "qa-scorer coach --from qa-report/" in result.output


def test_cli_markdown_to_stdout(folder):
    result = runner.invoke(app, ["coach", "--from", str(folder), "--tag", "pushy"])
    assert result.exit_code == 0, result.output
    assert result.stdout.startswith("# 客服培训案例")
    assert result.stdout.index("概率 0.93") < result.stdout.index("概率 0.62")
    assert "tb_buyer1" not in result.stdout and "买家A" in result.stdout


def test_cli_filters_and_no_mask(folder):
    result = runner.invoke(app, ["coach", "--from", str(folder), "--agent", "小美", "--rule", "short_reply",
                                 "--no-mask"])
    assert result.exit_code == 0, result.output
    assert "回复 1 字 \\< 4 字" in result.stdout and "tb\\_buyer1" in result.stdout
    assert "阿强" not in result.stdout


def test_cli_xlsx_and_html_files(folder, tmp_path):
    out = tmp_path / "good.xlsx"
    result = runner.invoke(app, ["coach", "--from", str(folder), "--good", "--format", "xlsx", "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert "wrote 4 example(s)" in result.output
    assert openpyxl.load_workbook(out)["coaching"].max_row == 5
    result = runner.invoke(app, ["coach", "--from", str(folder), "--format", "html", "--limit", "1"])
    assert result.exit_code == 0, result.output
    assert (folder / "coaching.html").read_text(encoding="utf-8").count('<section class="ex') == 1


def test_cli_not_an_audit_folder(tmp_path):
    result = runner.invoke(app, ["coach", "--from", str(tmp_path)])
    assert result.exit_code == 2
    assert "messages.csv" in result.output and "qa-scorer audit" in result.output


def test_cli_bad_choice_and_unknown_agent(folder):
    result = runner.invoke(app, ["coach", "--from", str(folder), "--tag", "spam"])
    assert result.exit_code == 2 and "spam" in result.output
    result = runner.invoke(app, ["coach", "--from", str(folder), "--agent", "小红"])
    assert result.exit_code == 2 and "no replies by agent '小红'" in result.output
