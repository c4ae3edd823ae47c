"""Buyer signal (qa_scorer.buyer_signal): hand-computed values from the shipped lexicon.

Weights used below (qa_scorer/data/buyer_signal.toml): 人呢 0.4, ??? 0.4, 太慢了 0.4, 差评 0.6,
12315 0.8, 脏话 0.6, !!! 0.4, !! 0.15, 我要投诉 0.8, 一点都不好 0.5, 根本不行 0.5, 在吗 0.3
(repeat-only); context: 2nd message 0.25, 3rd+ 0.5, resend 0.3.  Fired weights combine as
1 - prod(1 - w).
"""

import numpy as np
import pandas as pd
import pytest

from qa_scorer.buyer_signal import (
    UPSET_THRESHOLD,
    load_lexicon,
    necessary_literals,
    parse_lexicon,
    score_buyer_messages,
)
from qa_scorer.metrics import (
    AGENT_OUTPUT_COLUMNS,
    CONVERSATION_OUTPUT_COLUMNS,
    ROUND_COLUMNS,
    agent_metrics,
    conversation_metrics,
)
from qa_scorer.rubric import load_rubric
from qa_scorer.schema import BUYER_SIGNAL_COLUMNS, MESSAGE_COLUMNS
from qa_scorer.scoring import score_chunk
from qa_scorer.settings import MetricSettings

DEFAULT = MetricSettings(question_types="keywords")
MEI, WANG = "店:小美", "店:小王"


def score(texts, round_id=None) -> pd.DataFrame:
    return score_buyer_messages(pd.Series(texts, dtype=object), round_id)


def one(text: str) -> tuple[float, str, bool]:
    row = score([text]).iloc[0]
    return row["buyer_upset"], row["buyer_signals"], bool(row["buyer_chasing"])


# --------------------------------------------------------------------------- each signal class


@pytest.mark.parametrize("text, upset, signals", [
    ("人呢", 0.4, "催促:人呢"),
    ("人呢？？？", 0.64, "催促:人呢; 催促:???"),            # 1 - 0.6 * 0.6; ？ -> ? by NFKC
    ("怎么不回我", 0.5, "催促:怎么不说话"),
    ("。。。", 0.4, "催促:只发标点"),
])
def test_chasing(text, upset, signals):
    assert one(text) == pytest.approx((upset, signals, True))


@pytest.mark.parametrize("text, upset, signals", [
    ("太慢了", 0.4, "不满:太慢了"),
    ("差评", 0.6, "不满:差评"),
    ("我要打12315", 0.8, "不满:12315"),
    ("人呢？太慢了", 0.64, "催促:人呢; 不满:太慢了"),       # the brief's example: 1 - 0.6 * 0.6
    ("太慢了，差评", 0.76, "不满:太慢了; 不满:差评"),       # 1 - 0.6 * 0.4
])
def test_complaints(text, upset, signals):
    got = one(text)
    assert got[:2] == pytest.approx((upset, signals))


@pytest.mark.parametrize("text, upset, signals", [
    ("卧槽", 0.6, "愤怒:脏话"),
    ("TMD", 0.6, "愤怒:脏话"),                               # lower-cased first
    ("发货了吗！！！", 0.4, "愤怒:!!!"),
    ("我要投诉！！！", 0.88, "愤怒:我要投诉; 愤怒:!!!"),     # 1 - 0.2 * 0.6; not also 不满:投诉
])
def test_anger(text, upset, signals):
    assert one(text) == pytest.approx((upset, signals, False))


@pytest.mark.parametrize("text, upset, signals", [
    ("一点都不好", 0.5, "否定:一点都不好"),
    ("根本不行", 0.5, "否定:根本不行"),
])
def test_negated_satisfaction(text, upset, signals):
    assert one(text) == pytest.approx((upset, signals, False))


@pytest.mark.parametrize("text", [
    "请问", "谢谢", "好的", "有货吗", "多久发货", "在吗", "有人吗", "这件衣服是什么材质的？", "[图片]", "",
    # common false alarms the patterns exclude
    "垃圾袋有几个尺寸", "靠谱吗", "靠垫有货吗", "不会给差评的", "不满意可以退吗", "如果不满意怎么办",
    "适合老人呢", "有没有人买过", "差不多", "什么情况下可以退", "不满200包邮吗", "[呵呵]",
    "太好了！！！", "谢谢!!!",
])
def test_polite_and_neutral_messages_are_zero(text):
    assert one(text) == (0.0, "", False)


# --------------------------------------------------------------------------- round context


def test_repeated_chasing_within_a_round():
    texts = ["这件有M码吗", "在吗", "在吗", "黑色的"]
    # without rounds every message is a first message: 在吗 is a greeting
    assert score(texts)["buyer_upset"].tolist() == [0.0, 0.0, 0.0, 0.0]
    got = score(texts, round_id=[7, 7, 7, 8])
    # 1st: a question -> 0
    # 2nd: 在吗 (0.3, counts from the 2nd message) + 2nd unanswered (0.25): 1 - 0.7 * 0.75 = 0.475
    # 3rd: 在吗 0.3 + the same text again 0.3 + 3rd unanswered 0.5: 1 - 0.7 * 0.7 * 0.5 = 0.755
    # next round: 黑色的 is not chasing -> 0
    assert got["buyer_upset"].tolist() == pytest.approx([0.0, 0.475, 0.755, 0.0])
    assert got["buyer_chasing"].tolist() == [False, True, True, False]
    assert got["buyer_signals"].tolist() == [
        "", "催促:在吗; 催促:未回复第2条", "催促:在吗; 催促:重复发送; 催促:未回复第3条+", ""]


def test_a_non_chasing_follow_up_gets_no_repeat_weight():
    got = score(["这件有M码吗", "黑色的", "[图片]", "[图片]"], round_id=[1, 1, 1, 1])
    # a 2nd/3rd message that adds to the question is not chasing; an image sent twice has no
    # text (0 counted characters) so it is not a resend
    assert got["buyer_upset"].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert not got["buyer_chasing"].any()


def test_distinct_texts_broadcast_and_index_kept():
    texts = pd.Series(["差评", "好的", "差评", None], index=[10, 11, 12, 13], dtype=object)
    got = score_buyer_messages(texts)
    assert got.index.tolist() == [10, 11, 12, 13]
    assert got["buyer_upset"].tolist() == [0.6, 0.0, 0.6, 0.0]
    assert score([]).empty


# --------------------------------------------------------------------------- conversations / agents


def chat(conversations: dict[str, list[tuple]]) -> pd.DataFrame:
    rows = []
    for cid, msgs in conversations.items():
        for clock, sender, role, text in msgs:
            rows.append((cid, pd.Timestamp(f"2026-03-02 {clock}"), sender, role, text, "chat.csv", len(rows) + 2, "店", ""))
    df = pd.DataFrame(rows, columns=MESSAGE_COLUMNS)
    df["sent_at"] = df["sent_at"].astype("datetime64[ns]")
    return df


TRANSCRIPT = {
    "c1": [
        ("10:00:00", "tb_1", "customer", "这件有M码吗"),        # round 0, 1st: 0
        ("10:03:00", "tb_1", "customer", "在吗"),               # 2nd: 0.475 (see above), chasing
        ("10:06:00", "tb_1", "customer", "人呢？？？"),          # 3rd: 1 - 0.6*0.6*0.5 = 0.82, chasing
        ("10:07:00", MEI, "agent", "亲，有的，M码现货"),
        ("10:08:00", "tb_1", "customer", "怎么这么慢，差评"),    # round 1: 1 - 0.6*0.4 = 0.76
        ("10:09:00", MEI, "agent", "抱歉亲，久等了"),
        ("10:10:00", "tb_1", "customer", "好的"),               # round 2: 0
    ],
    "c2": [
        ("11:00:00", "tb_2", "customer", "请问多久发货"),        # 0
        ("11:00:30", WANG, "agent", "48小时内发货哦亲"),
        ("11:01:00", "tb_2", "customer", "好的谢谢"),           # 0
    ],
    "c3": [
        ("12:00:00", "tb_3", "customer", "在吗"),               # 1st message of its round: 0
        ("12:00:20", MEI, "agent", "在的亲"),
        ("12:01:00", "tb_3", "customer", "发货太慢了！！"),       # 1 - 0.6*0.85 = 0.49: below 0.5
    ],
}


def test_round_conversation_and_agent_aggregates():
    t = conversation_metrics(chat(TRANSCRIPT), DEFAULT)
    rounds = t.rounds.set_index(["conversation_id", "round_index"])
    assert rounds.loc[("c1", 0), "buyer_upset_max"] == pytest.approx(0.82)
    assert rounds.loc[("c1", 0), "buyer_signals"] == (
        "催促:在吗; 催促:未回复第2条; 催促:人呢; 催促:???; 催促:未回复第3条+")
    assert rounds.loc[("c1", 1), "buyer_upset_max"] == pytest.approx(0.76)
    assert rounds.loc[("c1", 1), "buyer_signals"] == "不满:太慢了; 不满:差评"
    assert rounds.loc[("c1", 2), "buyer_upset_max"] == 0.0
    assert rounds.loc[("c3", 1), "buyer_upset_max"] == pytest.approx(0.49)

    conv = t.conversations.set_index("conversation_id")
    # c1: max 0.82; messages >= 0.5: 人呢？？？ and 怎么这么慢，差评 -> 2; chasing: 在吗 (2nd), 人呢？？？ -> 2
    assert conv.loc["c1", ["buyer_upset_max", "buyer_upset_msgs", "buyer_chasing"]].tolist() == pytest.approx([0.82, 2, 2])
    assert conv.loc["c2", ["buyer_upset_max", "buyer_upset_msgs", "buyer_chasing"]].tolist() == [0.0, 0, 0]
    assert conv.loc["c3", ["buyer_upset_max", "buyer_upset_msgs", "buyer_chasing"]].tolist() == pytest.approx([0.49, 0, 0])

    agents = agent_metrics(t.replies, t.rounds, t.conversations, DEFAULT).set_index("agent")
    # 小美 has c1 (0.82 >= 0.5) and c3 (0.49 < 0.5); 小王 has c2 (0)
    assert agents.loc[MEI, "buyer_upset_convs"] == 1
    assert agents.loc[WANG, "buyer_upset_convs"] == 0


def test_columns_are_published():
    for name, columns in (("rounds", ROUND_COLUMNS), ("conversations", CONVERSATION_OUTPUT_COLUMNS),
                          ("agents", AGENT_OUTPUT_COLUMNS)):
        assert columns[-len(BUYER_SIGNAL_COLUMNS[name]):] == BUYER_SIGNAL_COLUMNS[name]
    empty = conversation_metrics(chat({}), DEFAULT)
    assert {"buyer_upset_max", "buyer_signals"} <= set(empty.rounds.columns)
    assert empty.conversations["buyer_upset_msgs"].dtype == np.int64


def test_the_buyer_signal_never_changes_a_score():
    # the same conversation with a polite and with an angry buyer: every figure and the score
    # are equal; only the buyer-signal columns differ
    def conversation(last_text):
        return {"c1": [("10:00:00", "tb_1", "customer", "这件有M码吗"),
                       ("10:00:40", MEI, "agent", "亲，有的，M码现货"),
                       ("10:01:00", "tb_1", "customer", last_text),
                       ("10:01:30", MEI, "agent", "好的亲")]}

    rubric = load_rubric()
    polite = score_chunk(chat(conversation("嗯嗯那我再看看")), DEFAULT, rubric).conversations
    angry = score_chunk(chat(conversation("卧槽垃圾，再也不买了！！！")), DEFAULT, rubric).conversations
    buyer = BUYER_SIGNAL_COLUMNS["conversations"]
    assert angry.loc[0, "buyer_upset_max"] > UPSET_THRESHOLD > polite.loc[0, "buyer_upset_max"]
    pd.testing.assert_frame_equal(polite.drop(columns=buyer), angry.drop(columns=buyer))


# --------------------------------------------------------------------------- the lexicon


def test_every_shipped_entry_has_prefilter_keys():
    lexicon = load_lexicon()
    assert not lexicon._unkeyed
    assert necessary_literals("(?<!不)差评") == {"差评"}
    assert necessary_literals("!{3,}") == {"!!!"}
    assert necessary_literals("[^a]x") is None


def test_prefilter_gives_the_same_matches_as_the_full_alternation():
    lexicon = load_lexicon()
    rng = np.random.default_rng(0)
    parts = ["在吗", "还在", "人呢", "?", "!", "。", "不", "会给", "差评", "我要", "投诉", "垃圾", "袋", "靠", "谱",
             "满意", "如果", "的话", "太", "慢", "一点", "都", "好", "根本", "问题", "[怒]", "呵呵", "回我", "寄"]
    for _ in range(2000):
        text = "".join(rng.choice(parts, rng.integers(1, 6)))
        full = [m.lastgroup for m in lexicon._combined.finditer(text)]
        entries = lexicon._entries_in(text)
        fast = [m.lastgroup for m in lexicon._finder(entries)(text)] if entries else []
        assert fast == full, text


def test_bad_lexicon_entries_are_named():
    good = {"class": "不满", "name": "x", "pattern": "x", "weight": 0.5}
    with pytest.raises(ValueError, match=r"#1 \(x\): weight must be in \[0, 1\]"):
        parse_lexicon({"signal": [dict(good, weight=2)]})
    with pytest.raises(ValueError, match="class must be one of"):
        parse_lexicon({"signal": [dict(good, **{"class": "angry"})]})
    with pytest.raises(ValueError, match="non-capturing"):
        parse_lexicon({"signal": [dict(good, pattern="(a|b)")]})
    with pytest.raises(ValueError, match="bad regular expression"):
        parse_lexicon({"signal": [dict(good, pattern="(")]})
    custom = parse_lexicon({"signal": [good]})
    assert score_buyer_messages(pd.Series(["axa"]), lexicon=custom)["buyer_upset"].tolist() == [0.5]
