"""Who an ignored buyer counts against, end to end: the receiving account (接待客服) read by ingest,
the 需人工复核 badge and the ignored-buyers list in report.html, the audit.xlsx conversations
sheet, and payroll that never pays an unassigned bucket.

One real audit folder (``qa_scorer.pipeline.audit`` on the export below, no classifier, a rubric
whose ``forbidden`` item is auto-fail so that a word hit needs review), read back as files.
Every expected value is worked out by hand from the transcript (default settings: service hours
08:00-24:00, a round = the buyer's messages until the first human reply):

c1 小美 / tb_阿花: 在吗 -> 30 s; 这款被子能机洗吗 -> 40 s "百分百正品，全网最低价…" (forbidden words
   百分百, 全网最低; auto-fail item on machine evidence -> needs_review, not 0).  2 rounds, answered.
c2 tb_大熊<b> (a nickname with markup): two messages, nobody replies; 接待客服 柚子家居旗舰店：小王
   (full-width colon) -> agent 柚子家居旗舰店:小王, attribution receiver, 1 unanswered round.
c3 tb_小鱼: only an auto-reply of 柚子家居旗舰店:阿杰 -> attribution auto_reply, 1 unanswered round.
c4 tb_三三: nobody, no receiver, no shop -> (未分配), attribution unassigned, 1 unanswered round.
c5 小美 / tb_二二: 在吗 -> 20 s; 那什么时候发货 unanswered -> attribution agent, 1 unanswered round
   counted against 小美 (the agent who last replied).
"""

from __future__ import annotations

import re
from decimal import Decimal
from html import unescape
from importlib import resources

import openpyxl
import pandas as pd
import pytest

from qa_scorer.report import load_audit_folder

SHOP = "柚子家居旗舰店"
MEI, WANG, JIE = f"{SHOP}:小美", f"{SHOP}:小王", f"{SHOP}:阿杰"
UNASSIGNED = "(未分配)"
FORBIDDEN_REPLY = "百分百正品，全网最低价，可以机洗的亲"

EXPORT = f"""会话ID,发送时间,发送人,角色,消息内容,接待客服
c1,2026-11-20 10:00:00,tb_阿花,买家,在吗,{MEI}
c1,2026-11-20 10:00:30,{MEI},客服,您好亲，在的呢,{MEI}
c1,2026-11-20 10:01:00,tb_阿花,买家,这款被子能机洗吗,{MEI}
c1,2026-11-20 10:01:40,{MEI},客服,{FORBIDDEN_REPLY},{MEI}
c2,2026-11-20 11:00:00,tb_大熊<b>,买家,这款被子能机洗吗,{SHOP}：小王
c2,2026-11-20 11:00:40,tb_大熊<b>,买家,人呢,{SHOP}：小王
c3,2026-11-20 12:00:00,tb_小鱼,买家,有人吗,
c3,2026-11-20 12:00:02,{JIE},客服,[自动回复]亲，稍等哦,
c4,2026-11-20 12:35:00,tb_三三,买家,你好，被子能机洗吗,
c5,2026-11-20 13:00:00,tb_二二,买家,在吗,{MEI}
c5,2026-11-20 13:00:20,{MEI},客服,在的亲，有什么可以帮您,{MEI}
c5,2026-11-20 13:02:00,tb_二二,买家,那什么时候发货,{MEI}
"""


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    from qa_scorer.pipeline import AuditOptions, audit

    root = tmp_path_factory.mktemp("attribution")
    export = root / "exports" / "shop.csv"
    export.parent.mkdir()
    export.write_text(EXPORT, encoding="utf-8")
    rubric = resources.files("qa_scorer.data").joinpath("default_rubric.toml").read_text(encoding="utf-8")
    marked = rubric.replace("[items.forbidden]\npoints = 5\ncap = 15\n", "[items.forbidden]\npoints = 5\ncap = 15\nauto_fail = true\n")
    assert marked != rubric
    (root / "rubric.toml").write_text(marked, encoding="utf-8")
    out = root / "qa-report"
    result = audit([export], AuditOptions(out_dir=out, tags=False, rubric_path=root / "rubric.toml"))
    assert not result.failed_files
    return out


@pytest.fixture(scope="module")
def tables(folder):
    return load_audit_folder(folder)


# --- 1. the receiving account -------------------------------------------------------------------

def test_messages_csv_carries_the_receiver(tables):
    m = tables["messages"]
    assert list(m.columns)[-1] == "receiver"
    assert set(m.loc[m["conversation_id"] == "c2", "receiver"]) == {WANG}   # full-width colon -> ASCII
    assert set(m.loc[m["conversation_id"] == "c2", "shop"]) == {SHOP}       # shop from the receiver
    assert set(m.loc[m["conversation_id"] == "c3", "receiver"].fillna("")) == {""}


def test_unanswered_buyer_goes_to_the_receiver(tables):
    conv = tables["conversations"].set_index("conversation_id")
    assert conv.loc["c2", ["agent", "attribution", "unanswered_rounds"]].tolist() == [WANG, "receiver", 1]
    assert conv.loc["c3", ["agent", "attribution", "unanswered_rounds"]].tolist() == [JIE, "auto_reply", 1]
    assert conv.loc["c4", ["agent", "attribution", "unanswered_rounds"]].tolist() == [UNASSIGNED, "unassigned", 1]
    assert conv.loc["c1", ["agent", "attribution", "unanswered_rounds"]].tolist() == [MEI, "agent", 0]
    assert conv.loc["c5", ["agent", "attribution", "unanswered_rounds"]].tolist() == [MEI, "agent", 1]
    rounds = tables["rounds"]
    c2 = rounds[rounds["conversation_id"] == "c2"]
    assert c2["agent"].tolist() == [WANG] and not c2["answered"].astype(bool).any()

    agents = tables["agents"].set_index("agent")
    # 小王: only c2 -> 1 conversation, 1 counted round, unanswered, reply_rate 0/1
    assert agents.loc[WANG, ["conversations", "rounds", "unanswered_rounds", "reply_rate"]].tolist() == [1, 1, 1, 0]
    assert agents.loc[JIE, ["conversations", "unanswered_rounds"]].tolist() == [1, 1]
    # 小美: c1 (2 answered) + c5 (1 answered, 1 not) -> 4 rounds, 1 unanswered, reply_rate 3/4
    assert agents.loc[MEI, ["conversations", "rounds", "unanswered_rounds"]].tolist() == [2, 4, 1]
    assert agents.loc[MEI, "reply_rate"] == pytest.approx(0.75)
    assert bool(agents.loc[UNASSIGNED, "unassigned"]) and not bool(agents.loc[WANG, "unassigned"])
    assert agents.loc[MEI, "needs_review"] == 1 and agents.loc[WANG, "needs_review"] == 0


# --- 2. report.html -----------------------------------------------------------------------------

def _section(html: str, conv_id: str) -> str:
    start = html.index(f'<span class="cid">{conv_id}</span>')
    start = html.rindex('<section class="conv"', 0, start)
    return html[start:html.index("</section>", start)]


def test_report_badge_and_review_reasons(folder):
    html = (folder / "report.html").read_text(encoding="utf-8")
    c1 = _section(html, "c1")
    reasons = "机器标记：广告法违禁用语(forbidden)：百分百、全网最低，需人工确认"
    assert f'<span class="badge-review" title="{reasons}">需人工复核</span>' in c1
    assert f'<div class="conv-review"><b>复核原因</b> {reasons}</div>' in c1
    assert html.count('class="badge-review"') == 1          # only c1 needs review
    for other in ("c2", "c3", "c4", "c5"):
        assert "badge-review" not in _section(html, other)
    # a conversation nobody answered names its attribution in the header line
    assert "归属方式 <b>接待账号</b>" in _section(html, "c2")
    assert "归属方式 <b>未分配</b>" in _section(html, "c4")


def test_report_agent_table_needs_review_count(folder):
    html = (folder / "report.html").read_text(encoding="utf-8")
    table = html[html.index('<table id="agent-table"'):]
    table = table[:table.index("</table>")]
    headers = re.findall(r'<th scope="col" data-col="([^"]+)">', table)
    col = headers.index("needs_review")
    assert re.search(r'data-col="needs_review">待人工复核</th>', table)
    rows = {}
    for tr in re.findall(r"<tr>(.*?)</tr>", table, flags=re.S)[1:]:
        cells = re.findall(r'<td data-sort="([^"]*)"', tr)
        rows[unescape(cells[0])] = cells
    assert rows[MEI][col] == "1.0" and rows[WANG][col] == "0.0" and rows[UNASSIGNED][col] == "0.0"


def test_report_ignored_buyers(folder):
    html = (folder / "report.html").read_text(encoding="utf-8")
    assert '<h2 id="ignored">被忽略的买家 <small>共 4 个会话，显示 4 个</small></h2>' in html
    table = html[html.index('<table id="ignored-buyers">'):]
    table = table[:table.index("</table>")]
    body = re.findall(r"<tr><td class=\"cid\">(.*?)</tr>", table, flags=re.S)

    def row(cells):
        return [unescape(re.sub(r"<[^>]+>", "|", c)).strip("|") for c in
                re.findall(r"(?:^|<td[^>]*>)(.*?)</td>", cells)]
    got = [row(r) for r in body]
    # never answered first (by start time), then the conversation a human answered only in part
    assert [g[0] for g in got] == ["c2", "c3", "c4", "c5"]
    assert got[0] == ["c2", "tb_大熊<b>", "2026-11-20 11:00:00", "小王|柚子家居旗舰店", "接待账号", "1", "1"]
    assert got[1] == ["c3", "tb_小鱼", "2026-11-20 12:00:00", "阿杰|柚子家居旗舰店", "仅自动回复", "1", "1"]
    assert got[2] == ["c4", "tb_三三", "2026-11-20 12:35:00", UNASSIGNED, "未分配", "1", "1"]
    assert got[3] == ["c5", "tb_二二", "2026-11-20 13:00:00", "小美|柚子家居旗舰店", "人工回复", "1", "2"]
    # escaped: the nickname's markup is text, never a tag
    assert "tb_大熊&lt;b&gt;" in table and "<b>" not in table
    assert "c1" not in [g[0] for g in got]


def test_ignored_buyers_list_is_bounded():
    from qa_scorer.report.html import IGNORED_BUYERS_N, render_html_report

    n = 25
    conversations = pd.DataFrame({
        "conversation_id": [f"x{i:02d}" for i in range(n)],
        "agent": [f"店:<script>{i}" for i in range(n)],
        "customer": ["<img src=x onerror=alert(1)>"] * n,
        "started_at": pd.date_range("2026-11-20 09:00", periods=n, freq="min"),
        "attribution": ["unassigned"] * 5 + ["agent"] * (n - 5),
        "unanswered_rounds": [1] * 5 + list(range(n - 5)),   # x05 has 0 unanswered: not ignored
        "rounds": [3] * n, "service_score": [80.0] * n,
    })
    html = render_html_report(agents=pd.DataFrame(), conversations=conversations, replies=pd.DataFrame(),
                              messages=pd.DataFrame())
    table = html[html.index('<table id="ignored-buyers">'):]
    table = table[:table.index("</table>")]
    ids = re.findall(r'<td class="cid">([^<]*)</td>', table)
    assert IGNORED_BUYERS_N == 20 and len(ids) == 20
    assert "共 24 个会话，显示 20 个" in html
    # unassigned first (x00-x04 by time), then most unanswered rounds: x24 (19), x23 (18), ...
    assert ids[:7] == ["x00", "x01", "x02", "x03", "x04", "x24", "x23"]
    assert "<script>" not in table and "<img" not in table and "&lt;img src=x" in table


# --- audit.xlsx ---------------------------------------------------------------------------------

def test_workbook_conversations_sheet(folder):
    wb = openpyxl.load_workbook(folder / "audit.xlsx", read_only=True)
    ws = wb["会话"]
    rows = list(ws.iter_rows(values_only=True))
    header = list(rows[0])
    for label in ("待人工复核", "复核原因", "归属方式"):
        assert label in header
    by_id = {r[header.index("会话ID")]: r for r in rows[1:]}
    pick = (lambda cid, label: by_id[cid][header.index(label)])
    assert pick("c1", "待人工复核") == 1
    assert pick("c1", "复核原因") == "机器标记：广告法违禁用语(forbidden)：百分百、全网最低，需人工确认"
    assert pick("c2", "待人工复核") == 0 and pick("c2", "复核原因") is None
    assert [pick(c, "归属方式") for c in ("c1", "c2", "c3", "c4", "c5")] == [
        "人工回复", "接待账号", "仅自动回复", "未分配", "人工回复"]
    assert pick("c2", "客服") == WANG
    # the CSV keeps the codes
    conv = pd.read_csv(folder / "conversations.csv", encoding="utf-8-sig")
    assert sorted(conv["attribution"]) == ["agent", "agent", "auto_reply", "receiver", "unassigned"]


# --- 3. payroll ---------------------------------------------------------------------------------

def test_payroll_from_the_audit_never_pays_the_unassigned_bucket(folder, tmp_path):
    from qa_scorer.commission import compute_commission, load_scheme, read_sales, read_scores

    scores = read_scores(folder / "agents.csv")
    assert dict(zip(scores["agent"], scores["unassigned"]))[UNASSIGNED] is True
    sales = tmp_path / "sales.csv"
    sales.write_text("客服,岗位,询单销售额\n小美,售前,10000\n小王,售前,2000\n阿杰,售前,3000\n(未分配),售前,500\n",
                     encoding="utf-8")
    result = compute_commission(scores, read_sales(sales), load_scheme())
    rows = result.rows.set_index("agent")
    assert rows.loc["(未分配)", "status"] == "unassigned" and rows.loc["(未分配)", "commission"] is None
    assert rows.loc["(未分配)", "message"].startswith("未分配，不发放：")
    score = {a: Decimal(str(s)) for a, s in zip(scores["agent"], scores["service_score"])}
    # each person: inquiry_sales x 0.005 x score/100, rounded half up to the fen
    expected = {name: (Decimal(amount) * Decimal("0.005") * score[full] / 100).quantize(Decimal("0.01"))
                for name, full, amount in (("小美", MEI, 10000), ("小王", WANG, 2000), ("阿杰", JIE, 3000))}
    for name, amount in expected.items():
        assert rows.loc[name, "status"] == "ok" and rows.loc[name, "commission"] == amount
    assert result.total == sum(expected.values())
    assert result.unmatched.empty and result.unpaid.empty
