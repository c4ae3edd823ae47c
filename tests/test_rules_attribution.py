"""Rule 1 — "ignored buyers count against nobody": every conversation belongs to an account.

Transcripts are built here on 2026-03-02 (a Monday, inside 08:00-24:00 service hours);
every expected figure is worked out by hand in the comment next to it.
"""

import numpy as np
import pandas as pd
import pytest

from qa_scorer.metrics import UNASSIGNED, agent_metrics, conversation_metrics
from qa_scorer.rubric import load_rubric, score_agents, score_conversations
from qa_scorer.schema import MESSAGE_COLUMNS
from qa_scorer.settings import MetricSettings

DAY = "2026-03-02"
SHOP = "柚子家居旗舰店"
MEI, WANG = f"{SHOP}:小美", f"{SHOP}:小王"
S = MetricSettings(question_types="keywords")


def chat(conversations, shop=SHOP, receiver=None):
    rows = []
    for cid, msgs in conversations.items():
        for clock, sender, role, text in msgs:
            # like ingest: shop and first human agent filled per conversation
            humans = [m[1] for m in msgs if m[2] == "agent"]
            side = [m[1] for m in msgs if m[2] in ("agent", "auto")]
            rows.append((cid, pd.Timestamp(f"{DAY} {clock}"), sender, role, text, "x.csv", len(rows) + 2,
                         shop if side else "", humans[0] if humans else ""))
    df = pd.DataFrame(rows, columns=MESSAGE_COLUMNS)
    df["sent_at"] = df["sent_at"].astype("datetime64[ns]")
    if receiver is not None:
        df["receiver"] = df["conversation_id"].map(receiver).fillna("")
    return df


def sample_like():
    return {
        # c1: 小美 answers both rounds within 60 s.
        "c1": [("10:00:00", "tb_1", "customer", "在吗"), ("10:01:00", MEI, "agent", "您好亲，在的呢"),
               ("10:02:00", "tb_1", "customer", "这款被子能机洗吗"),
               ("10:03:00", MEI, "agent", "可以机洗的亲，建议用洗衣袋轻柔模式")],
        # c2: only an auto-reply from 小王's sub-account answers; nobody else.
        "c2": [("11:00:00", "tb_2", "customer", "有人吗"),
               ("11:00:02", WANG, "auto", "[自动回复]亲，客服小王暂时不在，稍后回复您哦"),
               ("11:05:00", "tb_2", "customer", "枕头多高")],
        # c3: nobody at all (like the sample's C20261120-027 at 12:35).
        "c3": [("12:35:50", "tb_3", "customer", "你好"), ("12:36:25", "tb_3", "customer", "被子能机洗吗")],
    }


def test_every_conversation_has_an_account():
    t = conversation_metrics(chat(sample_like()), S)
    c = t.conversations.set_index("conversation_id")
    # c1 answered by 小美; c2 by the auto-reply of 小王's sub-account; c3 nobody -> no shop known
    # from its messages ("" in this table) -> the plain "(未分配)" row.
    assert c.loc["c1", ["agent", "attribution"]].tolist() == [MEI, "agent"]
    assert c.loc["c2", ["agent", "attribution"]].tolist() == [WANG, "auto_reply"]
    assert c.loc["c3", ["agent", "attribution"]].tolist() == [UNASSIGNED, "unassigned"]
    # c2: one round (有人吗 + 枕头多高 join it: the auto-reply does not answer) -> unanswered 1
    # c3: one round, unanswered 1
    assert c["unanswered_rounds"].tolist() == [0, 1, 1]

    agents = agent_metrics(t.replies, t.rounds, t.conversations, S).set_index("agent")
    # Nobody vanishes: 3 rows.  小美: 2 counted rounds, both answered -> reply_rate 2/2 = 1.0.
    # 小王: 1 round (c2), unanswered -> reply_rate 0/1 = 0.0, unanswered_rounds 1.
    # (未分配): 1 round (c3), unanswered -> reply_rate 0.0, within_3min_rate 0/1 = 0.0.
    assert sorted(agents.index) == sorted([MEI, WANG, UNASSIGNED])
    assert agents.loc[MEI, ["conversations", "counted_rounds", "answered_rounds"]].tolist() == [1, 2, 2]
    assert agents.loc[MEI, "reply_rate"] == 1.0
    assert agents.loc[WANG, ["conversations", "unanswered_rounds"]].tolist() == [1, 1]
    assert agents.loc[WANG, "reply_rate"] == 0.0
    assert agents.loc[UNASSIGNED, ["conversations", "unanswered_rounds", "within_3min_rate", "reply_rate"]
                      ].tolist() == [1, 1, 0.0, 0.0]
    assert agents["unassigned"].to_dict() == {MEI: False, WANG: False, UNASSIGNED: True}


def test_receiver_column_names_the_account_and_shop_row_when_unknown():
    msgs = sample_like()
    msgs["c4"] = [("13:00:00", "tb_4", "customer", "在吗")]
    messages = chat(msgs, receiver={"c3": WANG})
    # c4 has no agent-side message but the export knows the shop in this test (an ingest
    # that knows the shop fills it): then the row is "<shop>:(未分配)".
    messages.loc[messages["conversation_id"] == "c4", "shop"] = SHOP
    t = conversation_metrics(messages, S)
    c = t.conversations.set_index("conversation_id")
    assert c.loc["c3", ["agent", "attribution"]].tolist() == [WANG, "receiver"]
    assert c.loc["c4", ["agent", "attribution"]].tolist() == [f"{SHOP}:{UNASSIGNED}", "unassigned"]
    agents = agent_metrics(t.replies, t.rounds, t.conversations, S).set_index("agent")
    # 小王 now holds c2 and c3: 2 counted rounds, none answered -> reply_rate 0, unanswered 2
    assert agents.loc[WANG, ["conversations", "unanswered_rounds", "reply_rate"]].tolist() == [2, 2, 0.0]
    assert agents.loc[f"{SHOP}:{UNASSIGNED}", "unassigned"]


def test_reply_rate_counts_rounds_not_conversations():
    # 小美: c1 has 3 rounds, the last one (多少钱) never answered; c2 has 1 answered round.
    # Conversation-based it would be 2/2 = 1.0; 消息回复率 = answered rounds / rounds = 3/4.
    msgs = {
        "c1": [("10:00:00", "tb_1", "customer", "在吗"), ("10:00:30", MEI, "agent", "在的亲，您说"),
               ("10:01:00", "tb_1", "customer", "有M码吗"), ("10:01:30", MEI, "agent", "有的亲，现货"),
               ("10:02:00", "tb_1", "customer", "多少钱")],
        "c2": [("11:00:00", "tb_2", "customer", "在吗"), ("11:00:30", MEI, "agent", "在的亲，您说")],
    }
    t = conversation_metrics(chat(msgs), S)
    mei = agent_metrics(t.replies, t.rounds, t.conversations, S).set_index("agent").loc[MEI]
    assert (mei["answered_rounds"], mei["counted_rounds"]) == (3, 4)
    assert mei["reply_rate"] == pytest.approx(0.75)


def test_unassigned_row_reaches_the_scored_agent_table():
    t = conversation_metrics(chat(sample_like()), S)
    rubric = load_rubric()
    conv = score_conversations(t.conversations, t.replies, rubric)
    agents = score_agents(agent_metrics(t.replies, t.rounds, t.conversations, S), conv, rubric)
    row = agents.set_index("agent").loc[UNASSIGNED]
    # c3: unanswered 5 + 3-min rate 0 < 0.8 -> 1 + 0.05 x 80 = 5 -> 90.0; no greeting, no closing.
    assert row["conversation_score_mean"] == 90.0
    assert row["conversations_scored"] == 1
    assert not np.isnan(row["service_score"])
