"""Coaching examples from a real audit folder: loading, selection, order, context, masking, outputs, CLI.

The folder is written by qa_scorer.pipeline.audit on the crafted export of
tests/conftest_report.py and read with load_audit_folder, as ``qa-scorer coach --from`` does.
"""

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

C2 = "QN202611210002"


@pytest.fixture(scope="module")
def _chinese():
    """Coaching output in the default language (Chinese); tests that switch language switch back."""
    import os

    from qa_scorer.i18n import set_language

    saved = os.environ.get("QA_SCORER_LANG")
    os.environ["QA_SCORER_LANG"] = "zh"  # the CLI picks its language from the environment
    set_language("zh")
    yield
    os.environ.pop("QA_SCORER_LANG", None)
    if saved is not None:
        os.environ["QA_SCORER_LANG"] = saved
    set_language(None)


@pytest.fixture(autouse=True)
def _back_to_chinese(_chinese):
    import os

    from qa_scorer.i18n import set_language

    yield
    os.environ["QA_SCORER_LANG"] = "zh"
    set_language("zh")


@pytest.fixture(scope="module")
def audit(tmp_path_factory, _chinese) -> Path:
    return fx.audit_folder(tmp_path_factory)


@pytest.fixture
def folder(audit, tmp_path) -> Path:
    """A private copy (the CLI writes coaching.html into the folder)."""
    return fx.copy_folder(audit, tmp_path / "qa-report")


@pytest.fixture
def tables(audit) -> dict:
    return load_audit_folder(audit)


def replies_by_text(tables) -> pd.DataFrame:
    return tables["replies"].set_index("text")


# --------------------------------------------------------------------------- load_audit_folder
def test_load_audit_folder_types(tables):
    assert {"messages", "replies", "conversations", "rounds", "agents", "rejected", "run"} <= set(tables)
    assert pd.api.types.is_datetime64_any_dtype(tables["messages"]["sent_at"])
    assert pd.api.types.is_datetime64_any_dtype(tables["rounds"]["answered_at"])
    assert tables["messages"]["sent_at"].iloc[0] == pd.Timestamp("2026-11-21 10:00:00")
    assert tables["messages"]["text"].iloc[0] == "这件T恤会掉色吗？"
    first = replies_by_text(tables).loc["亲，这款是纯棉面料，正常洗涤不会掉色的哦，放心购买~"]
    assert first["tag_words"] == ""  # empty text stays "", not NaN
    assert first["latency_s"] == 30
    assert tables["rejected"]["reason"].str.contains("yesterday").tolist() == [True]
    assert tables["run"]["settings"]["min_reply_chars"] == 4


def test_numeric_looking_ids_stay_text(audit, tmp_path):
    folder = fx.copy_folder(audit, tmp_path / "qa")
    for path in folder.glob("*.csv"):  # QN202611210001 -> 00202611210001
        path.write_text(path.read_text(encoding="utf-8-sig").replace("QN2026", "002026"), encoding="utf-8-sig")
    loaded = load_audit_folder(folder)
    assert loaded["conversations"]["conversation_id"].tolist()[0] == "00202611210001"
    ex = coaching_examples(loaded, rule="short_reply")
    assert ex["conversation_id"].tolist() == ["00202611210001"]  # not masked, not a number


def test_missing_file_is_named(audit, tmp_path):
    folder = fx.copy_folder(audit, tmp_path / "qa")
    (folder / "replies.csv").unlink()
    with pytest.raises(AuditFolderError, match=r"replies\.csv missing; run `qa-scorer audit"):
        load_audit_folder(folder)
    with pytest.raises(AuditFolderError, match="no such folder"):
        load_audit_folder(tmp_path / "nope")


def test_bad_date_names_file_row_and_column(audit, tmp_path):
    folder = fx.copy_folder(audit, tmp_path / "qa")
    path = folder / "messages.csv"
    path.write_text(path.read_text(encoding="utf-8-sig").replace("2026-11-21 10:02:00", "yesterday", 1),
                    encoding="utf-8-sig")
    with pytest.raises(AuditFolderError, match=r"messages\.csv: data row 3, column sent_at: .*'yesterday'"):
        load_audit_folder(folder)


# --------------------------------------------------------------------------- selection and order
def test_tag_examples(tables):
    ex = coaching_examples(tables, tag="pushy", mask=False)
    pushy = replies_by_text(tables).loc[fx.PUSHY]
    assert ex["reply"].tolist() == [fx.PUSHY]
    assert ex["probability"].tolist() == [pushy["p_pushy"]]
    assert ex["reason"].tolist() == ["催单 pushy：" + pushy["tag_words"].removeprefix("pushy:").strip()]
    assert ex["rank"].tolist() == [1]


def test_shipped_model_still_flags_the_crafted_replies(tables):
    replies = replies_by_text(tables)
    for text, tags in fx.TAGGED.items():
        flagged = {t for t in ("pushy", "unhelpful", "rude", "overclaim") if replies.loc[text, t]}
        assert flagged == tags, text
    assert replies[["pushy", "unhelpful", "rude", "overclaim"]].to_numpy().sum() == sum(map(len, fx.TAGGED.values()))


def test_tag_examples_most_probable_first(tables):
    t = dict(tables, replies=tables["replies"].copy())
    rude = t["replies"]["text"] == fx.RUDE
    t["replies"].loc[rude, "pushy"] = 1  # a second pushy reply, less probable than the first
    ex = coaching_examples(t, tag="pushy", mask=False)
    assert ex["reply"].tolist() == [fx.PUSHY, fx.RUDE]
    assert ex["probability"].is_monotonic_decreasing


def test_rule_short_reply(tables):
    ex = coaching_examples(tables, rule="short_reply", mask=False)
    assert ex["reply"].tolist() == [fx.SHORT]
    assert ex["reason"].tolist() == ["回复 1 字 < 4 字"]
    assert ex["latency_s"].tolist() == [240.0]


def test_rule_slow_uses_latency(tables):
    ex = coaching_examples(tables, rule="slow", mask=False)
    assert ex["reply"].tolist() == [fx.SHORT]
    assert ex["reason"].tolist() == ["买家等待 4分 才得到回复（> 120 秒）"]


def test_rule_product_answer_short_most_severe_first(tables):
    rounds = tables["rounds"].assign(product_answer_short=False)
    for cid, idx, chars in ((fx.CID1, 2, 13), ("QN202611210003", 1, 4)):
        hit = (rounds["conversation_id"] == cid) & (rounds["round_index"] == idx)
        rounds.loc[hit, ["product_question", "product_answer_chars", "product_answer_short"]] = [True, chars, True]
    ex = coaching_examples(dict(tables, rounds=rounds), rule="product_answer_short", mask=False)
    assert ex["reply"].tolist() == [fx.SIZE_ANSWER, fx.PUSHY]  # 4 characters (11 short) before 13 (2 short)
    assert ex["reason"].tolist() == ["商品问题回复 4 字 < 15 字", "商品问题回复 13 字 < 15 字"]


def test_rule_missing_closing_shows_last_agent_reply(tables):
    ex = coaching_examples(tables, rule="missing_closing", mask=False)
    assert ex["conversation_id"].tolist() == [fx.CID1]
    assert ex["reply"].tolist() == [fx.PUSHY]


def test_thresholds_come_from_run_json(tables):
    t = dict(tables, run={"settings": {"min_reply_chars": 6, "slow_seconds": 60}})
    assert coaching_examples(t, rule="short_reply")["reason"].tolist() == ["回复 1 字 < 6 字"]
    # 70 s is slow under a 60 s threshold only if rounds.csv says so; its `slow` column rules
    assert coaching_examples(t, rule="slow")["reply"].tolist() == [fx.SHORT]


def test_all_flags_take_turns_and_merge_reasons(tables):
    ex = coaching_examples(tables, mask=False)
    assert {fx.PUSHY, fx.RUDE, fx.OVERCLAIM, fx.SHORT} <= set(ex["reply"])
    assert ex["reply"].is_unique
    row = ex.set_index("reply")
    # the question-type model reads the buyer's digits-only "=1+1" as a size question (like "165"), so the
    # 12-character reply is also a short product answer
    assert row.loc[fx.RUDE, "category"] == ",".join(
        [t for t in ("pushy", "unhelpful", "rude", "overclaim") if t in fx.TAGGED[fx.RUDE]] + ["product_answer_short"])
    assert row.loc[fx.SHORT, "category"] == "short_reply,slow"
    assert "会话结束未发送结束语" in row.loc[fx.PUSHY, "reason"] and "催单 pushy" in row.loc[fx.PUSHY, "reason"]
    # first turn: the best of each tag in TAGS order (pushy, unhelpful, …), then the rules
    assert ex["reply"].tolist()[:2] == [fx.PUSHY, fx.RUDE]


def test_limit(tables):
    assert len(coaching_examples(tables, limit=2)) == 2


def test_agent_filter_with_or_without_shop_prefix(tables):
    short = coaching_examples(tables, agent="小美", mask=False)
    full = coaching_examples(tables, agent=fx.XIAOMEI, mask=False)
    wide_colon = coaching_examples(tables, agent=f"{fx.SHOP}：小美", mask=False)
    assert short["reply"].tolist() == full["reply"].tolist() == wide_colon["reply"].tolist()
    assert {fx.PUSHY, fx.SHORT} <= set(short["reply"]) and set(short["agent"]) == {fx.XIAOMEI}
    aqiang = coaching_examples(tables, agent="阿强", mask=False)
    assert {fx.RUDE, fx.OVERCLAIM} <= set(aqiang["reply"]) and set(aqiang["agent"]) == {fx.AQIANG}


def test_unknown_agent_tag_rule(tables):
    with pytest.raises(CoachingError, match="agents: .*小美"):
        coaching_examples(tables, agent="小红")
    with pytest.raises(CoachingError, match="unknown tag 'spam'"):
        coaching_examples(tables, tag="spam")
    with pytest.raises(CoachingError, match="unknown rule"):
        coaching_examples(tables, rule="typo")


def test_audit_without_classifier(tmp_path_factory):
    t = load_audit_folder(fx.audit_folder(tmp_path_factory, "no-tags", tags=False))
    with pytest.raises(CoachingError, match="without the classifier"):
        coaching_examples(t, tag="pushy")
    ex = coaching_examples(t, mask=False)  # the rule examples are still there
    assert ex["kind"].eq("rule").all() and fx.SHORT in ex["reply"].tolist()


def test_rule_needing_rounds_without_rounds_csv(tables):
    t = {k: v for k, v in tables.items() if k != "rounds"}
    with pytest.raises(CoachingError, match="needs rounds.csv"):
        coaching_examples(t, rule="slow")


def test_good_examples(tables):
    ex = coaching_examples(tables, good=True, mask=False)
    assert ex["kind"].eq("good").all() and len(ex) > 3
    assert (ex["latency_s"] <= 60).all()
    # the product answer first; never a tagged, short, auto or unclosed conversation's reply
    assert ex["reply"].iloc[0] == fx.GOOD_ANSWER
    assert ex["reason"].iloc[0] == "响应 45秒 ≤ 60 秒 · 商品问题回复 27 字 ≥ 15 字 · 无标记 · 会话有结束语"
    assert not {fx.PUSHY, fx.RUDE, fx.OVERCLAIM, fx.SHORT, "[自动回复]您好，客服马上就来"} & set(ex["reply"])
    assert fx.CID1 not in set(ex["conversation_id"])  # never closed
    only_product = coaching_examples(tables, good=True, rule="product_answer_short", mask=False)
    assert fx.GOOD_ANSWER in only_product["reply"].tolist()
    assert only_product["reason"].str.contains("商品问题回复").all()


# --------------------------------------------------------------------------- context and masking
def test_context_buyer_messages_before_and_after(tables):
    ex = coaching_examples(tables, rule="short_reply", mask=False).iloc[0]
    assert [m["text"] for m in ex["before"]] == [f"好的，我电话{fx.PHONE}，订单号{fx.ORDER_NO}"]
    assert [m["text"] for m in ex["after"]] == [fx.SCRIPT_ATTACK]
    assert ex["before"][0]["sent_at"] == pd.Timestamp("2026-11-21 10:02:00")
    replies = tables["replies"].copy()
    replies.loc[replies["text"] == fx.SIZE_ANSWER, "short_reply"] = True
    size = coaching_examples(dict(tables, replies=replies), rule="short_reply", mask=False).set_index(
        "reply").loc[fx.SIZE_ANSWER]
    # the system notice after the answer is not buyer context; the buyer's "好的" is
    assert [m["text"] for m in size["before"]] == [f"尺码偏大吗，我身高165体重100斤，寄到{fx.ADDRESS}"]
    assert [m["text"] for m in size["after"]] == ["好的"]


def test_context_without_message_index(tables):
    t = dict(tables, replies=tables["replies"].drop(columns=["message_index"]))
    ex = coaching_examples(t, rule="short_reply", mask=False).iloc[0]
    assert [m["text"] for m in ex["after"]] == [fx.SCRIPT_ATTACK]


def test_masking_buyers_phones_addresses_orders(tables):
    ex = coaching_examples(tables, limit=50)
    good = coaching_examples(tables, good=True, limit=50)
    text = write_coaching(ex, None, fmt="md") + write_coaching(good, None, fmt="md")
    for secret in ("tb_buyer1", "tb_buyer3", "小王爱购物", fx.PHONE, fx.ORDER_NO, fx.ADDRESS):
        assert secret not in text
    plain = coaching_examples(tables, limit=50, mask=False)["customer"].tolist()
    aliases = dict(zip(plain, ex["customer"]))
    assert len(set(aliases.values())) == len(aliases) == len(set(plain))  # one alias per buyer
    assert ex["customer"].iloc[0] == "买家A"  # in order of appearance
    assert "138\\*\\*\\*\\*5678" in text and "\\[订单号\\]" in text and "\\[地址\\]" in text


def test_conversation_ids_are_never_masked(tables, tmp_path):
    ex = coaching_examples(tables, rule="short_reply")
    assert ex["conversation_id"].tolist() == [fx.CID1]
    assert "[订单号]" in ex.iloc[0]["before"][0]["text"]  # the order number in the chat is masked
    md = write_coaching(ex, None, fmt="md")
    html = write_coaching(ex, None, fmt="html")
    for doc in (md, html):
        assert f"会话 {fx.CID1}" in doc and "QN[订单号]" not in doc and "QN\\[订单号\\]" not in doc
    path = tmp_path / "c.xlsx"
    write_coaching(ex, path, fmt="xlsx")
    ws = openpyxl.load_workbook(path)["培训案例"]
    head = [c.value for c in ws[1]]
    assert ws.cell(row=2, column=head.index("会话") + 1).value == fx.CID1


def test_no_mask_keeps_names(tables):
    ex = coaching_examples(tables, rule="short_reply", mask=False)
    assert ex.iloc[0]["customer"] == "tb_buyer1"
    assert fx.PHONE in ex.iloc[0]["before"][0]["text"]


# --------------------------------------------------------------------------- outputs
def test_markdown_escapes_chat_text(tables):
    text = write_coaching(coaching_examples(tables, rule="short_reply"), None, fmt="md")
    assert not re.search(r"(?<!\\)<", text)  # every < is backslash-escaped: no raw HTML reaches a renderer
    assert "\\<script\\>alert(1)\\</script\\>还有货吗" in text
    assert f"**客服 {fx.XIAOMEI}：{fx.SHORT}** ◀" in text


def test_html_output_escapes(tables, tmp_path):
    path = tmp_path / "c.html"
    ex = coaching_examples(tables, rule="short_reply")
    text = write_coaching(ex, path, fmt="html")
    assert path.read_text(encoding="utf-8") == text
    assert "<script" not in text and "<img" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;还有货吗" in text
    assert '<div class="reason">原因：回复 1 字 &lt; 4 字</div>' in text
    assert text.count('<section class="ex bad">') == 1


def test_xlsx_output_neutralises_formulas(tables, tmp_path):
    t = dict(tables, replies=tables["replies"].copy())
    t["replies"].loc[t["replies"]["text"] == fx.SHORT, "text"] = fx.FORMULA  # the short reply now looks like one
    path = tmp_path / "c.xlsx"
    write_coaching(coaching_examples(t, rule="short_reply"), path, fmt="xlsx")
    ws = openpyxl.load_workbook(path)["培训案例"]
    head = [c.value for c in ws[1]]
    reply = ws.cell(row=2, column=head.index("回复") + 1)
    assert reply.data_type == "s" and reply.value == "'" + fx.FORMULA
    assert ws.cell(row=2, column=head.index("原因") + 1).value == "回复 1 字 < 4 字"
    with pytest.raises(CoachingError, match="needs an output file"):
        write_coaching(coaching_examples(t, rule="short_reply"), None, fmt="xlsx")


def test_empty_result(tables):
    ex = coaching_examples(tables, agent="小新")
    assert ex.empty
    assert "没有符合条件的案例" in write_coaching(ex, None, fmt="md")
    assert "没有符合条件的案例" in write_coaching(ex, None, fmt="html")


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
    assert "催单 pushy" in result.stdout and fx.CID1 in result.stdout
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
    n = len(coaching_examples(load_audit_folder(folder), good=True))
    assert n > 3 and f"已将 {n} 个案例写入" in result.output
    english = runner.invoke(app, ["--lang", "en", "coach", "--from", str(folder), "--good", "--format", "xlsx",
                                  "--out", str(tmp_path / "en.xlsx")])
    assert f"wrote {n} example(s)" in english.output
    assert openpyxl.load_workbook(tmp_path / "en.xlsx").sheetnames == ["Coaching"]
    assert openpyxl.load_workbook(out)["培训案例"].max_row == n + 1
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
