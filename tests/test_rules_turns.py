"""Rule 7 — the 4-character rule judges reply turns; bare emoticons are short, images are not.

Transcripts on 2026-03-02; default reply_turn_window_s = 10 (inclusive); figures by hand.
"""

import pandas as pd

from qa_scorer.metrics import conversation_metrics
from qa_scorer.schema import MESSAGE_COLUMNS
from qa_scorer.settings import MetricSettings

MEI, WANG = "店:小美", "店:小王"
S = MetricSettings(question_types="keywords")


def chat(msgs, cid="c1"):
    rows = [(cid, pd.Timestamp(f"2026-03-02 {clock}"), sender, role, text, "x.csv", i + 2, "店", MEI)
            for i, (clock, sender, role, text) in enumerate(msgs)]
    df = pd.DataFrame(rows, columns=MESSAGE_COLUMNS)
    df["sent_at"] = df["sent_at"].astype("datetime64[ns]")
    return df


def replies(msgs, settings=S):
    return conversation_metrics(chat(msgs), settings).replies


def test_split_answer_is_one_turn():
    # 亲 (1) + 5 s later the full answer (14) -> one turn of 15 characters: not short.
    r = replies([("10:00:00", "tb_1", "customer", "这个被子多重"),
                 ("10:00:30", MEI, "agent", "亲"),
                 ("10:00:35", MEI, "agent", "这款是八斤的冬被，盖着很暖和哦")])
    assert r["turn_index"].tolist() == [0, 0]
    assert r["turn_chars"].tolist() == [15, 15]          # 1 + 8 (这款是八斤的冬被) + 6 (盖着很暖和哦)
    assert r["short_reply"].tolist() == [False, False]


def test_gap_over_the_window_makes_two_turns():
    # 亲 at 10:00:30, the answer 11 s later (> 10): two turns; 亲 (1 < 4) is short.
    r = replies([("10:00:00", "tb_1", "customer", "这个被子多重"),
                 ("10:00:30", MEI, "agent", "亲"),
                 ("10:00:41", MEI, "agent", "这款是八斤的冬被，盖着很暖和哦")])
    assert r["turn_index"].tolist() == [0, 1]
    assert r["short_reply"].tolist() == [True, False]
    # a wider window joins them again
    wide = replies([("10:00:00", "tb_1", "customer", "这个被子多重"),
                    ("10:00:30", MEI, "agent", "亲"),
                    ("10:00:41", MEI, "agent", "这款是八斤的冬被，盖着很暖和哦")],
                   MetricSettings(question_types="keywords", reply_turn_window_s=15))
    assert wide["short_reply"].tolist() == [False, False]


def test_bare_emoticon_is_short_image_and_card_are_not():
    # Each agent message answers its own buyer message (a buyer message ends a turn):
    # [微笑] -> 0 characters, no image -> short; [图片] -> image -> not short;
    # [商品卡片] -> product card -> not short; 在的呢亲~[微笑] -> 4 -> not short;
    # 好的呢~[微笑] -> 3 -> short.   => short_replies 2
    msgs = []
    for i, answer in enumerate(["[微笑]", "[图片]", "[商品卡片]", "在的呢亲~[微笑]", "好的呢~[微笑]"]):
        msgs += [(f"10:0{i}:00", "tb_1", "customer", "在吗"), (f"10:0{i}:20", MEI, "agent", answer)]
    t = conversation_metrics(chat(msgs), S)
    assert t.replies["short_reply"].tolist() == [True, False, False, False, True]
    assert t.replies["rich_media"].tolist() == [False, True, True, False, False]
    assert t.conversations.iloc[0]["short_replies"] == 2


def test_turns_do_not_join_across_agents_or_buyer_messages():
    # 小美 嗯 (1) at :10, 小王 好的 (2) at :15 -> different agents: two turns, both short.
    # Then buyer, then 小王 嗯嗯 (2) -> own turn, short.  => 3 short replies
    r = replies([("10:00:00", "tb_1", "customer", "在吗"),
                 ("10:00:10", MEI, "agent", "嗯"),
                 ("10:00:15", WANG, "agent", "好的"),
                 ("10:00:18", "tb_1", "customer", "哦"),
                 ("10:00:20", WANG, "agent", "嗯嗯")])
    assert r["turn_index"].tolist() == [0, 1, 2]
    assert r["short_reply"].tolist() == [True, True, True]


def test_auto_replies_are_never_short_and_have_no_turn():
    r = replies([("10:00:00", "tb_1", "customer", "在吗"), ("10:00:01", MEI, "auto", "[自动回复]稍等")])
    assert r["short_reply"].tolist() == [False] and pd.isna(r["turn_index"].iloc[0])
