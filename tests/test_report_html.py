"""report.html: escaping, masking, agent table, charts, worst conversations (tests/conftest_report.py data)."""

from __future__ import annotations

import re
import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).parent))
import conftest_report as fx  # noqa: E402

from qa_scorer.report import render_html_report, write_html_report  # noqa: E402
from qa_scorer.report.svg import latency_bins_by_agent, score_histogram  # noqa: E402


def render(tables=None, **kwargs) -> str:
    t = tables or fx.audit_tables()
    args = dict(agents=t["agents"], conversations=t["conversations"], replies=t["replies"], messages=t["messages"],
                run_info=t["run"], rounds=t["rounds"])
    args.update(kwargs)
    return render_html_report(**args)


@pytest.fixture(scope="module")
def page() -> str:
    return render()


def section(html: str, rank: int) -> str:
    """The HTML of the rank-th worst conversation."""
    start = html.index(f'<section class="conv" id="conv-{rank}">')
    return html[start:html.index("</section>", start)]


def test_write_html_report_writes_utf8_file(tmp_path):
    t = fx.audit_tables()
    out = write_html_report(tmp_path / "sub" / "report.html", agents=t["agents"], conversations=t["conversations"],
                            replies=t["replies"], messages=t["messages"], run_info=t["run"])
    text = out.read_text(encoding="utf-8")
    assert text.startswith("<!DOCTYPE html>")
    assert "优衣库官方旗舰店" in text


def test_chat_text_is_escaped(page):
    assert "&lt;script&gt;window.__pwned=1;document.title=&#x27;pwned&#x27;&lt;/script&gt;还有货吗" in page
    assert "&lt;img src=x onerror=&quot;window.__pwned=2&quot;&gt;有优惠吗" in page
    assert "<script>window.__pwned" not in page
    assert "<img" not in page
    # the only script element is the report's own sorting script
    assert len(re.findall(r"<script\b", page)) == 1


def test_report_loads_nothing_from_the_network(page):
    assert not re.search(r"<(script|link|img|iframe)\b[^>]*\b(src|href)=", page)
    csp = re.search(r'http-equiv="Content-Security-Policy" content="([^"]+)"', page).group(1)
    assert "default-src &#x27;none&#x27;" in csp
    assert "script-src &#x27;sha256-" in csp


def test_phone_and_order_numbers_are_masked(page):
    assert fx.PHONE not in page and fx.ORDER_NO not in page
    assert "138****5678" in page and "[订单号]" in page


def test_no_mask_keeps_numbers():
    html = render(mask=False)
    assert fx.PHONE in html and fx.ORDER_NO in html


def test_run_info_header(page):
    assert "chats/day1.txt" in page
    assert "2024-05-06 10:00:00 – 2024-05-06 15:02:00" in page  # period from the conversations
    assert "taobao" in page
    assert "reply-tagger · version 2024.05" in page


def agent_rows(html: str) -> list[str]:
    body = html[html.index('<table id="agent-table"'):]
    body = body[body.index("<tbody>"):body.index("</tbody>")]
    return re.findall(r"<tr>(.*?)</tr>", body)


def test_agent_table_rows_sorted_by_score_with_raw_sort_keys(page):
    rows = agent_rows(page)
    assert len(rows) == 2
    assert f'data-sort="{fx.AQIANG}"' in rows[0]  # 87.25 before 73.5
    assert f'data-sort="{fx.XIAOMEI}"' in rows[1]
    # 小美's average response 64 s is shown as 1分4秒 but sorts by the number
    assert '<td data-sort="64.0">1分4秒</td>' in rows[1]
    assert '<td data-sort="0.8">80.0%</td>' in rows[1]
    headers = re.findall(r'<th scope="col" data-col="([^"]+)"', page)
    assert headers[:3] == ["agent", "service_score", "conversations"]
    assert {"pushy", "unhelpful", "rude", "overclaim", "missing_closings", "short_replies"} <= set(headers)


def test_agent_table_missing_score_sorts_blank(page):
    t = fx.audit_tables()
    agents = t["agents"].copy()
    agents.loc[0, "service_score"] = float("nan")
    rows = agent_rows(render(t, agents=agents))
    assert f'data-sort="{fx.XIAOMEI}"' in rows[1]  # NaN score goes last
    assert '<td data-sort=""><span class="pill none">–</span></td>' in rows[1]


def test_worst_conversations_lowest_score_first():
    html = render(worst_n=3)
    ids = re.findall(r'<span class="cid">([^<]+)</span>', html)
    assert ids == ["c1", "c2", "c3"]  # scores 55, 78.5, 92; c4 (96) left out
    assert "最差的 3 个会话" in html


def test_chat_layout_roles_and_latency_badges(page):
    c1 = section(page, 1)
    assert c1.count('class="msg customer"') == 3
    assert c1.count('class="msg agent') == 3
    # round latencies 30 s (green), 240 s (red, 4分), 20 s (green)
    assert re.findall(r'class="lat (\w+)"[^>]*>([^<]+)<', c1) == [("green", "30秒"), ("red", "4分"), ("green", "20秒")]
    c2 = section(page, 2)
    assert 'class="msg auto"' in c2 and "[自动回复]您好，客服马上就来" in c2
    assert re.findall(r'class="lat (\w+)"[^>]*>([^<]+)<', c2) == [("amber", "1分10秒"), ("green", "40秒")]
    c3 = section(page, 3)
    assert 'class="msg system"' in c3 and "买家已下单" in c3


def test_flagged_replies_show_tag_probability_and_words(page):
    c1 = section(page, 1)
    assert c1.count('class="msg agent flagged"') == 2  # "嗯" (short) and the pushy reply
    assert '催单 pushy <span class="p">0.93</span> <span class="w">· 最后一件, 没有了</span>' in c1
    c2 = section(page, 2)
    assert '催单 pushy <span class="p">0.62</span> <span class="w">· 现在下单</span>' in c2
    assert '夸大 overclaim <span class="p">0.71</span> <span class="w">· 百分百</span>' in c2


def test_rule_flags(page):
    c1 = section(page, 1)
    assert "短回复 1字 &lt; 4字" in c1
    assert "商品回复过短 13字 &lt; 15字" in c1  # from rounds.csv product_answer_chars
    assert "缺少结束语" in c1
    c3 = section(page, 3)
    assert "商品回复过短 4字 &lt; 15字" in c3
    assert "缺少结束语" not in section(page, 2)


def test_forbidden_words_flag():
    t = fx.audit_tables()
    replies = t["replies"].copy()
    replies.loc[6, ["forbidden", "forbidden_words"]] = [1, "加微信"]
    html = render(t, replies=replies)
    assert '违禁词 forbidden <span class="w">加微信</span>' in section(html, 3)


def test_score_breakdown_from_score_items(page):
    c1 = section(page, 1)
    assert "<td>响应速度 response</td><td>10</td><td>30</td>" in c1
    assert "<td>-15</td>" in c1 and "pushy ×1" in c1
    c2 = section(page, 2)  # mapping form {"response": 28, "tags": -10}
    assert "<td>response</td><td>28</td>" in c2 and "<td>tags</td><td>-10</td>" in c2


def test_links_replies_without_message_index():
    t = fx.audit_tables()
    replies = t["replies"].drop(columns=["message_index"])
    html = render(t, replies=replies)
    assert re.findall(r'class="lat (\w+)"[^>]*>', section(html, 1)) == ["green", "red", "green"]


def test_links_replies_when_message_index_points_elsewhere():
    # a message_index from a differently ordered messages table must not attach badges to wrong messages
    t = fx.audit_tables()
    replies = t["replies"].assign(message_index=len(t["messages"]) - 1 - t["replies"]["message_index"])
    html = render(t, replies=replies)
    assert re.findall(r'class="lat (\w+)"[^>]*>', section(html, 1)) == ["green", "red", "green"]


def test_charts(page):
    assert page.count("<svg") == 2
    assert "50–60: 1 个会话" in page and "70–80: 1 个会话" in page and "90–100: 2 个会话" in page
    assert "中位 20秒 · 5 轮" in page  # 小美: 30, 240, 20, 10, 20


def test_latency_bins_by_agent():
    table = latency_bins_by_agent(fx.replies())
    assert table.loc[fx.XIAOMEI, ["≤1分", "1–3分", "3–10分", ">10分", "rounds"]].tolist() == [4, 0, 1, 0, 5]
    assert table.loc[fx.AQIANG, ["≤1分", "1–3分", "3–10分", ">10分", "rounds"]].tolist() == [3, 1, 0, 0, 4]
    assert table.loc[fx.AQIANG, "median_s"] == 42.5  # 70, 40, 45, 30
    assert list(table.index) == [fx.XIAOMEI, fx.AQIANG]  # fastest median first


def test_score_histogram_bins_edges():
    svg = score_histogram(pd.Series([0, 9.9, 10, 59.9, 100, None]))
    assert "0–10: 2 个会话" in svg and "10–20: 1 个会话" in svg and "50–60: 1 个会话" in svg
    assert "90–100: 1 个会话" in svg  # 100 falls in the last bin
    assert "no-data" in score_histogram(pd.Series([], dtype=float))


def test_degrades_without_classifier_and_rubric():
    t = fx.audit_tables()
    tag_cols = [c for c in t["replies"].columns if c in ("pushy", "unhelpful", "rude", "overclaim", "tag_words")
                or c.startswith("p_")]
    replies = t["replies"].drop(columns=tag_cols)
    conversations = t["conversations"].drop(columns=["service_score", "score_items", "pushy", "overclaim"])
    agents = t["agents"][["agent", "conversations", "avg_response_s"]]
    html = render(t, replies=replies, conversations=conversations, agents=agents, run_info={}, rounds=None)
    assert 'class="flag tag"' not in html
    assert "没有会话分数" in html
    # without scores the conversation with most problems (c1: slow, short, product short, no closing) leads
    assert re.findall(r'<span class="cid">([^<]+)</span>', html)[0] == "c1"
    assert re.findall(r'<th scope="col" data-col="([^"]+)"', html) == ["agent", "conversations", "avg_response_s"]


def test_empty_tables_render():
    t = fx.audit_tables()
    html = render(t, agents=t["agents"].head(0), conversations=t["conversations"].head(0),
                  replies=t["replies"].head(0), messages=t["messages"].head(0))
    assert "没有客服数据" in html and "没有会话。" in html


def test_only_worst_conversations_render_messages():
    html = render(worst_n=1)
    assert "偏大一码" not in html  # c3's message: not among the worst 1
    assert "最后一件了，亲不买就没有了哦" in html
