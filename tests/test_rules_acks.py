"""Rule 2 — a buyer's closing acknowledgement is not an unanswered round.

Transcripts on 2026-03-02 (inside service hours); figures worked out by hand in comments.
"""

import pandas as pd
import pytest

from qa_scorer.metrics import agent_metrics, conversation_metrics
from qa_scorer.schema import MESSAGE_COLUMNS
from qa_scorer.settings import MetricSettings, settings_from_mapping
from qa_scorer.textstats import is_acknowledgement

MEI = "店:小美"
S = MetricSettings(question_types="keywords")


def chat(conversations):
    rows = []
    for cid, msgs in conversations.items():
        for clock, sender, role, text in msgs:
            rows.append((cid, pd.Timestamp(f"2026-03-02 {clock}"), sender, role, text, "x.csv", len(rows) + 2,
                         "店", MEI))
    df = pd.DataFrame(rows, columns=MESSAGE_COLUMNS)
    df["sent_at"] = df["sent_at"].astype("datetime64[ns]")
    return df


def answered_then(last_messages):
    """Round 0 answered in 60 s, then the buyer's last messages, never answered."""
    msgs = [("10:00:00", "tb_1", "customer", "这款有M码吗"), ("10:01:00", MEI, "agent", "有的亲，M码现货，今天就能发")]
    msgs += [(f"10:0{2 + i}:00", "tb_1", "customer", text) for i, text in enumerate(last_messages)]
    return msgs


@pytest.mark.parametrize("text", ["好的谢谢", "好", "嗯嗯", "[微笑]", "谢谢亲~[玫瑰]", "OK", "好的呢亲"])
def test_acknowledgements(text):
    assert is_acknowledgement(pd.Series([text])).tolist() == [True]


@pytest.mark.parametrize("text", ["好的，还有黑色吗", "好的?", "[图片]", "你好", "在吗", "亲", "那我拍了", "好的我考虑下"])
def test_not_acknowledgements(text):
    assert is_acknowledgement(pd.Series([text])).tolist() == [False]


def test_trailing_ack_is_not_an_unanswered_round():
    t = conversation_metrics(chat({
        "ack": answered_then(["好的谢谢", "[微笑]"]),     # two ack messages: one trailing round, all acks
        "question": answered_then(["好的，还有黑色吗"]),  # a real question: unanswered
    }), S)
    c = t.conversations.set_index("conversation_id")
    # ack: rounds 2 (the ack round stays in the rounds table), counted 1, unanswered 0,
    # within_3min_rate 1/1 = 1.0 (without the rule: unanswered 1 and 1/2 = 0.5), trailing_acks 1
    assert c.loc["ack", ["rounds", "counted_rounds", "unanswered_rounds", "trailing_acks"]].tolist() == [2, 1, 0, 1]
    assert c.loc["ack", "within_3min_rate"] == 1.0
    # question: 2 counted rounds, 1 unanswered, rate 1/2
    assert c.loc["question", ["counted_rounds", "unanswered_rounds", "trailing_acks"]].tolist() == [2, 1, 0]
    assert c.loc["question", "within_3min_rate"] == 0.5
    r = t.rounds[t.rounds["conversation_id"] == "ack"]
    assert r["trailing_ack"].tolist() == [False, True] and r["counted"].tolist() == [True, False]
    # the agent: 3 counted rounds (ack 1 + question 2), 2 answered -> reply_rate 2/3
    mei = agent_metrics(t.replies, t.rounds, t.conversations, S).set_index("agent").loc[MEI]
    assert (mei["counted_rounds"], mei["unanswered_rounds"]) == (3, 1)
    assert mei["reply_rate"] == pytest.approx(2 / 3)


def test_answered_ack_is_an_ordinary_round():
    msgs = answered_then(["好的谢谢"]) + [("10:03:30", MEI, "agent", "不客气亲，祝您购物愉快")]
    c = conversation_metrics(chat({"c": msgs}), S).conversations.iloc[0]
    # 2 rounds, both answered (60 s, 90 s) -> counted 2, within 2/2, no trailing ack
    assert c[["counted_rounds", "unanswered_rounds", "trailing_acks"]].tolist() == [2, 0, 0]
    assert c["within_3min_rate"] == 1.0


def test_only_the_last_round_can_be_a_trailing_ack_and_the_taobao_preset_counts_it():
    t = conversation_metrics(chat({"c": answered_then(["嗯嗯"])}),
                             settings_from_mapping({"platform": "taobao", "question_types": "keywords"}))
    c = t.conversations.iloc[0]
    # taobao: count_trailing_acks = true -> the 嗯嗯 round is an unanswered counted round:
    # counted 2, unanswered 1, within 1/2; avg = (60 + 600 for the unanswered round) / 2 = 330
    assert settings_from_mapping({"platform": "taobao"}).count_trailing_acks is True
    assert c[["counted_rounds", "unanswered_rounds", "trailing_acks"]].tolist() == [2, 1, 0]
    assert c["within_3min_rate"] == 0.5 and c["avg_response_s"] == 330.0
    assert t.rounds["trailing_ack"].tolist() == [False, True]


def test_conversation_of_only_an_ack_has_no_counted_round():
    c = conversation_metrics(chat({"c": [("10:00:00", "tb_1", "customer", "谢谢")]}), S).conversations.iloc[0]
    # one round, trailing ack, not counted -> unanswered 0, rate NaN (nothing to judge)
    assert c[["rounds", "counted_rounds", "unanswered_rounds", "rounds_outside_hours"]].tolist() == [1, 0, 0, 0]
    assert pd.isna(c["within_3min_rate"])
