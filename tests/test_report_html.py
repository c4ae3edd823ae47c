"""report.html from a real audit folder: escaping, masking, header, agent table, charts, worst chats.

The folder is written by qa_scorer.pipeline.audit on the crafted export of
tests/conftest_report.py and read back with load_audit_folder (as ``coach --from`` does).
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import conftest_report as fx  # noqa: E402

import qa_scorer.report.html as report_html  # noqa: E402
from qa_scorer.report import load_audit_folder, render_html_report, write_html_report  # noqa: E402
from qa_scorer.report.selection import worst_conversations  # noqa: E402
from qa_scorer.i18n import use_language  # noqa: E402
from qa_scorer.report.columns import item_label  # noqa: E402
from qa_scorer.report.svg import latency_bins_by_agent, score_histogram  # noqa: E402


@pytest.fixture(autouse=True, scope="module")
def _chinese(chinese_for_module):
    """The report in the default language (Chinese), whatever the environment says."""
    yield


@pytest.fixture(scope="module")
def folder(tmp_path_factory) -> Path:
    return fx.audit_folder(tmp_path_factory, name="crafted-zh")  # written in Chinese (module fixture)


@pytest.fixture
def tables(folder) -> dict:
    return load_audit_folder(folder)


def render(tables: dict, **kwargs) -> str:
    args = dict(agents=tables["agents"], conversations=tables["conversations"], replies=tables["replies"],
                messages=tables["messages"], run_info=tables["run"], rounds=tables["rounds"])
    args.update(kwargs)
    return render_html_report(**args)


@pytest.fixture(scope="module")
def page(folder) -> str:
    return render(load_audit_folder(folder))


def section(html: str, cid: str) -> str:
    """The HTML of the rendered conversation ``cid``."""
    at = html.index(f'<span class="cid">{cid}</span>')
    start = html.rindex('<section class="conv"', 0, at)
    return html[start:html.index("</section>", start)]


def badges(html: str) -> list[tuple[str, str]]:
    return re.findall(r'class="lat (\w+)" title="[^"]*">([^<]+)<', html)


# --------------------------------------------------------------------------- the file the pipeline wrote
def test_pipeline_writes_a_safe_self_contained_report(folder):
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert html.startswith("<!DOCTYPE html>")
    assert "&lt;script&gt;alert(1)&lt;/script&gt;还有货吗" in html
    assert "&lt;img src=x onerror=alert(1)&gt;有优惠吗" in html
    assert "<script>alert" not in html and "<img" not in html
    assert len(re.findall(r"<script\b", html)) == 1  # the sorting script only
    assert '<span class="cid">QN202611210001</span>' in html


def test_header_shows_model_version_not_its_path(folder, page, tables):
    from qa_scorer.model_files import default_model_path

    model = tables["run"]["model"]
    model_dir = str(default_model_path().resolve().parent)
    for html in (page, (folder / "report.html").read_text(encoding="utf-8")):
        assert model_dir not in html  # neither in the header nor in the run.json fold
        line = re.search(r"<dt>模型</dt><dd>([^<]*)</dd>", html).group(1)
        assert f"版本 {model['version']}" in line and "/" not in line
    # run.json of another run may record where the model file was: the report still hides it
    run = dict(tables["run"], model={"path": "/home/qa/secret-models/shop_tagger.skops", "version": "7"})
    html = render(tables, run_info=run)
    assert "secret-models" not in html
    assert "<dt>模型</dt><dd>shop_tagger · 版本 7</dd>" in html


def test_model_line_without_path_or_model():
    assert report_html._model_line({"name": "reply-tagger", "version": "2026.11", "path": "/srv/m.skops"}) == \
        "reply-tagger · 版本 2026.11"
    assert report_html._model_line({"path": "C:\\models\\shop_tagger.skops"}) == "shop_tagger"
    assert "未使用分类器" in report_html._model_line(None)


# --------------------------------------------------------------------------- escaping, masking, CSP
def test_chat_text_is_escaped(page):
    assert "&lt;script&gt;alert(1)&lt;/script&gt;还有货吗" in page
    assert "&lt;img src=x onerror=alert(1)&gt;有优惠吗" in page
    assert "<script>alert" not in page and "<img" not in page
    assert len(re.findall(r"<script\b", page)) == 1


def test_escaping_is_the_default_for_every_text(tables):
    # an agent name, a buyer nickname and a score item with markup stay text wherever they are shown
    evil = '<b onclick="x()">小美</b>'
    t = dict(tables)
    t["conversations"] = tables["conversations"].assign(customer=evil)
    t["agents"] = tables["agents"].assign(agent=tables["agents"]["agent"].where(
        tables["agents"]["agent"] != fx.XIAOMEI, evil))
    html = render(t)
    assert "<b onclick" not in html
    assert "&lt;b onclick=&#34;x()&#34;&gt;小美&lt;/b&gt;" in html


def test_report_loads_nothing_from_the_network(page):
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", page)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src &#39;none&#39;" in csp
    assert "script-src &#39;sha256-" in csp


def test_phone_and_order_numbers_are_masked_but_not_the_conversation_id(page):
    assert fx.PHONE not in page and fx.ORDER_NO not in page
    assert "好的，我电话138****5678，订单号[订单号]" in page
    assert '<span class="cid">QN202611210001</span>' in page
    assert "QN[订单号]" not in page
    assert "tb_buyer1" in page  # buyer nicknames stay in report.html (QA staff look them up)


def test_no_mask_keeps_numbers(tables):
    html = render(tables, mask=False)
    assert f"好的，我电话{fx.PHONE}，订单号{fx.ORDER_NO}" in html


def test_run_info_header(page, tables):
    inputs = tables["run"]["inputs"]
    # file names only: report.html never shows where the files were on this machine
    assert re.search(r"<dt>输入</dt><dd>([^<]*)</dd>", page).group(1) == Path(str(inputs[0])).name
    assert "<dt>时段</dt><dd>2026-11-21 10:00:00 – 2026-11-21 16:00:35</dd>" in page
    assert "短回复 &lt;4字" in page and "3分钟线 180秒" in page


# --------------------------------------------------------------------------- agent table
def agent_rows(html: str) -> list[str]:
    body = html[html.index('<table id="agent-table"'):]
    body = body[body.index("<tbody>"):body.index("</tbody>")]
    return re.findall(r"<tr>(.*?)</tr>", body)


def test_agent_table_sorted_by_score_with_raw_sort_keys(page, tables):
    rows = agent_rows(page)
    by_score = tables["agents"].sort_values("service_score", ascending=False)["agent"].tolist()
    assert sorted(by_score) == sorted([fx.XIAOMEI, fx.AQIANG, fx.XIAOXIN])
    assert [re.search(r'data-sort="([^"]+)"', r).group(1) for r in rows] == by_score
    xiaomei = rows[by_score.index(fx.XIAOMEI)]
    assert f'title="{fx.XIAOMEI}">小美<span class="shop">{fx.SHOP}</span></td>' in xiaomei
    # rounds answered in 30, 240, 20, 10, 20, 60 s: mean 63.33 s shown as 1分3秒, sorted by the number
    assert f'<td data-sort="{380 / 6!r}">1分3秒</td>' in xiaomei
    assert f'<td data-sort="{5 / 6!r}">83.3%</td>' in xiaomei  # 240 s is over the 3-minute line
    xiaoxin = rows[by_score.index(fx.XIAOXIN)]
    assert '<td data-sort="8.0">8秒</td>' in xiaoxin  # first response
    assert '<td data-sort="0.0" class="zero">0</td>' in xiaoxin  # no short replies
    headers = re.findall(r'<th scope="col" data-col="([^"]+)"', page)
    assert headers[:3] == ["agent", "service_score", "conversations"]
    assert {"pushy", "unhelpful", "rude", "overclaim", "missing_closings", "short_replies"} <= set(headers)


# --------------------------------------------------------------------------- worst conversations
def test_worst_conversations_lowest_score_first(tables):
    html = render(tables, worst_n=3)
    ids = re.findall(r'<span class="cid">([^<]+)</span>', html)
    conv = tables["conversations"]
    expected = conv.sort_values(["service_score", "conversation_id"], kind="stable")["conversation_id"].tolist()
    assert ids == expected[:3]
    # the two conversations with problems come before the three clean ones (all 100)
    assert set(ids[:2]) == {fx.CID1, "QN202611210002"}
    assert "最差的 3 个会话" in html


def test_selection_module(tables):
    conv = tables["conversations"]
    worst = worst_conversations(conv, 2)
    assert list(worst.columns) == list(conv.columns)
    assert worst["service_score"].is_monotonic_increasing
    assert worst_conversations(conv, 0).empty and len(worst_conversations(conv, 99)) == len(conv)
    # chunk by chunk (keep the selection, add the next chunk, select again) = all at once
    first, second = conv.iloc[:3], conv.iloc[3:]
    again = worst_conversations(pd.concat([worst_conversations(first, 3), second]), 3)
    assert again["conversation_id"].tolist() == worst_conversations(conv, 3)["conversation_id"].tolist()
    # equal scores: more problems first
    tied = conv.assign(service_score=50.0)
    assert worst_conversations(tied, 1)["conversation_id"].tolist() == [fx.CID1]  # slow+short+no closing: 3
    assert not hasattr(report_html, "_worst_conversations")


def test_chat_layout_roles_and_latency_badges(page):
    c1 = section(page, fx.CID1)
    assert c1.count('class="msg customer"') == 3
    assert c1.count('class="msg agent') == 3
    assert badges(c1) == [("green", "30秒"), ("red", "4分"), ("green", "20秒")]
    c2 = section(page, "QN202611210002")
    assert 'class="msg auto"' in c2 and "[自动回复]您好，客服马上就来" in c2
    assert badges(c2) == [("amber", "1分10秒"), ("green", "40秒"), ("green", "30秒")]


def test_system_messages_are_centred_items(tables):
    c3 = section(render(tables, worst_n=5), "QN202611210003")
    assert '<div class="msg system">' in c3 and "买家已下单" in c3
    assert badges(c3) == [("green", "10秒"), ("green", "20秒"), ("green", "1分")]


def test_flagged_replies_show_tag_probability_and_words(page, tables):
    replies = tables["replies"].set_index("text")
    c1 = section(page, fx.CID1)
    pushy = replies.loc[fx.PUSHY]
    words = pushy["tag_words"].removeprefix("pushy:").strip()
    assert words
    assert (f'<span class="flag tag">催单 pushy <span class="p">{pushy["p_pushy"]:.2f}</span> '
            f'<span class="w">· {words}</span></span>') in c1
    c2 = section(page, "QN202611210002")
    assert f'夸大 overclaim <span class="p">{replies.loc[fx.OVERCLAIM, "p_overclaim"]:.2f}</span>' in c2
    assert f'态度差 rude <span class="p">{replies.loc[fx.RUDE, "p_rude"]:.2f}</span>' in c2
    # a tag the model did not give is not shown (the shipped model tags this reply rude only)
    assert (f'敷衍 unhelpful <span class="p">{replies.loc[fx.RUDE, "p_unhelpful"]:.2f}</span>' in c2) == \
        bool(replies.loc[fx.RUDE, "unhelpful"])
    assert c1.count('class="msg agent flagged"') == 2  # "嗯" (short) and the pushy reply
    assert c2.count('class="msg agent flagged"') == 2  # overclaim + forbidden word, rude


def test_rule_flags(page, tables):
    c1 = section(page, fx.CID1)
    assert '<span class="flag rule">短回复 1字 &lt; 4字</span>' in c1
    assert "缺少结束语" in c1
    c2 = section(page, "QN202611210002")
    forbidden = tables["replies"].set_index("text").loc[fx.OVERCLAIM, "forbidden_words"]
    assert "百分百" in forbidden
    assert f'<span class="flag rule">违禁词 <span class="w">{forbidden}</span></span>' in c2
    assert "缺少结束语" not in c2
    assert c2.count('<span class="flag closing">结束语</span>') == 1


def test_product_answer_short_flag_comes_from_rounds(tables):
    # mark c3's size question (answered "偏大一码", 4 characters) as a too-short product answer
    rounds = tables["rounds"].copy()
    hit = (rounds["conversation_id"] == "QN202611210003") & (rounds["round_index"] == 1)
    assert hit.sum() == 1
    rounds.loc[hit, ["product_question", "product_answer_chars", "product_answer_short"]] = [True, 4, True]
    c3 = section(render(tables, rounds=rounds, worst_n=5), "QN202611210003")
    bubble = c3.index(f'<div class="bubble">{fx.SIZE_ANSWER}</div>')
    assert c3.index('<span class="flag rule">商品回复过短 4字 &lt; 15字</span>') > bubble
    assert c3.count('<span class="flag rule">商品回复过短') == 1


def test_score_breakdown_from_score_items(page, tables):
    conv = tables["conversations"].set_index("conversation_id")
    items = json.loads(conv.loc[fx.CID1, "score_items"])
    assert items
    c1 = section(page, fx.CID1)
    head = re.search(r"<table><thead><tr>(.*?)</tr></thead>", c1).group(1)
    columns = re.findall(r"<th>([^<]*)</th>", head)
    assert columns[0] == "项目" and "分值" in columns and "类型" not in columns  # Chinese labels, not keys
    body_rows = re.findall(r"<tr>((?:<td>[^<]*</td>)+)</tr>", c1)
    assert [re.findall(r"<td>([^<]*)</td>", r)[0] for r in body_rows] == [item_label(i["item"]) for i in items]
    assert "unanswered_rounds" not in c1 and "slow_rounds" not in c1
    points = [re.findall(r"<td>([^<]*)</td>", r)[columns.index("分值")] for r in body_rows]
    assert [float(p) for p in points] == [pytest.approx(i["points"], abs=0.005) for i in items]


def test_links_replies_without_message_index(tables):
    # a streamed audit's report tables: positions in messages.csv do not match; the source location does
    html = render(tables, replies=tables["replies"].drop(columns=["message_index"]))
    assert badges(section(html, fx.CID1)) == [("green", "30秒"), ("red", "4分"), ("green", "20秒")]


def test_links_replies_when_message_index_points_elsewhere(tables):
    replies = tables["replies"].assign(message_index=len(tables["messages"]) - 1 - tables["replies"]["message_index"])
    html = render(tables, replies=replies)
    assert badges(section(html, fx.CID1)) == [("green", "30秒"), ("red", "4分"), ("green", "20秒")]


def test_only_worst_conversations_render_messages(tables):
    html = render(tables, worst_n=1)
    lowest = worst_conversations(tables["conversations"], 1)["conversation_id"].tolist()
    assert lowest in (["QN202611210002"], [fx.CID1])  # the two with problems
    assert re.findall(r'<span class="cid">([^<]+)</span>', html) == lowest
    other = fx.PUSHY if lowest == ["QN202611210002"] else fx.RUDE
    assert other not in html and fx.SIZE_ANSWER not in html and fx.GOOD_ANSWER not in html


# --------------------------------------------------------------------------- charts
def test_charts(page, tables):
    assert page.count("<svg") == 2
    scores = tables["conversations"].set_index("conversation_id")["service_score"]
    assert scores[fx.CID1] < 100  # slow, short, never closed
    counts = pd.cut(scores, bins=range(0, 101, 10), right=False).value_counts()
    counts[pd.Interval(90, 100, closed="left")] += int((scores == 100).sum())  # the last bin holds 100
    for interval, n in counts.items():
        if n:
            assert f"{interval.left}–{interval.right}: {n} 个会话" in page
    assert page.count(" 个会话</title>") == 10
    assert "中位 25秒 · 6 轮" in page  # 小美: 30, 240, 20, 10, 20, 60


def test_latency_bins_by_agent(tables):
    table = latency_bins_by_agent(tables["replies"])
    cols = ["≤1分", "1–3分", "3–10分", ">10分", "rounds"]
    assert table.loc[fx.XIAOMEI, cols].tolist() == [5, 0, 1, 0, 6]
    assert table.loc[fx.AQIANG, cols].tolist() == [4, 1, 0, 0, 5]  # 70, 40, 30, 45, 30
    assert table.loc[fx.AQIANG, "median_s"] == 40
    assert list(table.index) == [fx.XIAOXIN, fx.XIAOMEI, fx.AQIANG]  # fastest median first: 6.5, 25, 40


def test_score_histogram_bins_edges():
    svg = score_histogram(pd.Series([0, 9.9, 10, 59.9, 100, None]))
    assert "0–10: 2 个会话" in svg and "10–20: 1 个会话" in svg and "50–60: 1 个会话" in svg
    assert "90–100: 1 个会话" in svg  # 100 falls in the last bin
    assert "no-data" in score_histogram(pd.Series([], dtype=float))


# --------------------------------------------------------------------------- other runs
def test_audit_without_classifier(tmp_path_factory):
    folder = fx.audit_folder(tmp_path_factory, "no-tags", tags=False)
    t = load_audit_folder(folder)
    assert not {"pushy", "rude", "p_pushy"} & set(t["replies"].columns)
    html = render(t)
    assert 'class="flag tag"' not in html
    assert "未使用分类器" in html
    assert '<span class="flag rule">短回复 1字 &lt; 4字</span>' in section(html, fx.CID1)
    assert "pushy" not in re.findall(r'<th scope="col" data-col="([^"]+)"', html)


def test_empty_tables_render(tables):
    t = tables
    html = render(t, agents=t["agents"].head(0), conversations=t["conversations"].head(0),
                  replies=t["replies"].head(0), messages=t["messages"].head(0))
    assert "没有客服数据" in html and "没有会话。" in html and "最差的 0 个会话" in html


def test_write_html_report_writes_utf8_file(tmp_path, tables):
    out = write_html_report(tmp_path / "sub" / "report.html", agents=tables["agents"],
                            conversations=tables["conversations"], replies=tables["replies"],
                            messages=tables["messages"], rounds=tables["rounds"], run_info=tables["run"], worst_n=2)
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>") and fx.SHOP in text
    assert text.count('<section class="conv"') == 2


def test_no_local_paths_anywhere(folder, tables):
    """Inputs, files, rubric and model appear as file names only - nowhere a folder of this machine."""
    run = dict(tables["run"], inputs=["/home/qa/exports/2026-11/", "C:\\Users\\qa\\Desktop\\chat.csv"],
               rubric_file="/home/qa/rules/my_rubric.toml",
               files=[{"path": "/home/qa/exports/2026-11/day1.csv", "rows": 3}],
               notes=["no usable message was read: the earlier report in /home/qa/out was kept"],
               model={"path": "/home/qa/secret-models/shop_tagger.skops", "version": "7"})
    html = render(tables, run_info=run)
    for leak in ("/home/qa", "C:\\Users", "Desktop", "secret-models"):
        assert leak not in html, leak
    assert "2026-11" in html and "chat.csv" in html and "day1.csv" in html and "my_rubric.toml" in html
    page = (folder / "report.html").read_text(encoding="utf-8")
    assert str(folder.parent) not in page and str(Path.cwd()) not in page


def test_report_in_english(tables):
    with use_language("en"):
        html = render(tables)
    assert '<html lang="en">' in html and "<title>Customer-service QA report</title>" in html
    for text in ("Mean conversation score", "Mean agent score", "3-minute response rate", "Score breakdown",
                 'data-col="avg_response_s">Average response time</th>'):
        assert text in html, text
    assert "会话平均服务分" not in html and "客服质检报告" not in html
    page = render(tables)
    assert '<html lang="zh-CN">' in page and "会话平均服务分" in page and "Mean conversation score" not in page


def test_durations_and_rates_for_people(page):
    # the agent table: 分/秒 and percentages, never raw seconds or fractions
    table = re.search(r'<table id="agent-table".*?</table>', page, flags=re.S).group(0)
    assert re.search(r"<td data-sort=\"[\d.e+-]+\">\d+(分\d+秒|分|秒|\.\d秒)</td>", table)
    assert re.search(r"<td data-sort=\"[\d.e+-]+\">\d{1,3}\.\d%</td>", table)


def test_wide_content_scrolls_inside_its_own_box():
    css = (Path(report_html.__file__).parent / "report.css").read_text(encoding="utf-8")
    assert ".table-wrap { overflow-x: auto;" in css or ".table-wrap { overflow-x: auto; }" in css
    assert "@media (max-width: 600px)" in css
