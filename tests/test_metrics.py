"""Service metrics (qa_scorer.metrics) on tiny transcripts with hand-computed figures.

Each transcript is a list of (time, sender, role, text) on 2026-03-02 (a Monday).  Agents
are named 店:小美 / 店:小王 (the 主账号:子账号 form), buyers tb_1, tb_2 ...  Every expected
value is derived in the comment next to it.
"""

import numpy as np
import pandas as pd
import pytest

from qa_scorer.metrics import (
    AGENT_OUTPUT_COLUMNS,
    CONVERSATION_OUTPUT_COLUMNS,
    REPLY_OUTPUT_COLUMNS,
    ROUND_COLUMNS,
    MetricTables,
    agent_metrics,
    conversation_metrics,
)
from qa_scorer.schema import AGENT_COLUMNS, CONVERSATION_COLUMNS, MESSAGE_COLUMNS, REPLY_COLUMNS
from qa_scorer.settings import MetricSettings, settings_from_mapping

DAY = "2026-03-02"
MEI, WANG = "店:小美", "店:小王"
DEFAULT = MetricSettings(question_types="keywords")  # hand-computed: the keyword rules
TAOBAO = settings_from_mapping({"platform": "taobao", "question_types": "keywords"})


def chat(conversations: dict[str, list[tuple]], agent_column: dict[str, str] | None = None) -> pd.DataFrame:
    """A canonical messages table from {conversation_id: [(time, sender, role, text), ...]}."""
    rows = []
    for cid, msgs in conversations.items():
        for clock, sender, role, text in msgs:
            when = clock if " " in clock else f"{DAY} {clock}"
            rows.append((cid, pd.Timestamp(when), sender, role, text, "chat.csv", len(rows) + 2, "店",
                         (agent_column or {}).get(cid, "")))
    df = pd.DataFrame(rows, columns=MESSAGE_COLUMNS)
    df["sent_at"] = df["sent_at"].astype("datetime64[ns]")
    return df


def run(conversations, settings=DEFAULT, data_end=None, agent_column=None) -> MetricTables:
    return conversation_metrics(chat(conversations, agent_column), settings, data_end=data_end)


def conv_row(tables: MetricTables, cid: str) -> pd.Series:
    conv = tables.conversations
    return conv[conv["conversation_id"] == cid].iloc[0]


def agent_row(agents: pd.DataFrame, name: str) -> pd.Series:
    return agents[agents["agent"] == name].iloc[0]


# --------------------------------------------------------------------------- rounds


def test_domain_example_merged_customer_messages_form_one_round():
    # DOMAIN.md: buyer asks 10:10:15, asks again 10:15:20, shop replies 10:18:10 -> one round,
    # latency 10:18:10 - 10:10:15 = 475 s, not within 3 minutes (0/1), slower than 120 s.
    t = run({"c1": [
        ("10:10:15", "tb_1", "customer", "在吗"),
        ("10:15:20", "tb_1", "customer", "这个还有货吗"),
        ("10:18:10", MEI, "agent", "在的亲，有货的，今天下单今天发"),
    ]})
    assert len(t.rounds) == 1
    r = t.rounds.iloc[0]
    assert r["latency_s"] == 475.0
    assert r["customer_text"] == "在吗\n这个还有货吗"
    assert (r["answered"], r["within_3min"], r["slow"], r["in_hours"]) == (True, False, True, True)
    c = conv_row(t, "c1")
    assert c["rounds"] == 1 and c["within_3min_rate"] == 0.0
    assert c["first_response_s"] == 475.0 and c["avg_response_s"] == 475.0
    assert c["slow_rounds"] == 1
    # the answer carries the latency and the round's customer text as context
    reply = t.replies.iloc[0]
    assert reply["latency_s"] == 475.0 and reply["context"] == "在吗\n这个还有货吗"
    assert reply["message_index"] == 2 and reply["source_line"] == 4


def test_auto_reply_and_system_messages_never_end_a_round():
    # 10:00:00 buyer asks; 10:00:01 auto-reply; 10:01:00 buyer again (joins the same round, the
    # auto-reply did not answer it); 10:01:30 system notice; 10:02:00 human answer.
    # -> one round, latency 120 s: within 3 minutes, not slow (120 is not > 120).
    t = run({"c1": [
        ("10:00:00", "tb_1", "customer", "在吗"),
        ("10:00:01", "店", "auto", "[自动回复]您好，客服马上就来"),
        ("10:01:00", "tb_1", "customer", "有人吗"),
        ("10:01:30", "店", "system", "买家已下单"),
        ("10:02:00", MEI, "agent", "在的呢亲~[微笑]"),
    ]})
    assert len(t.rounds) == 1
    r = t.rounds.iloc[0]
    assert (r["latency_s"], r["within_3min"], r["slow"]) == (120.0, True, False)
    assert r["customer_text"] == "在吗\n有人吗"
    # replies: the auto-reply (is_auto, no latency, not a short reply) and the human answer
    assert t.replies["is_auto"].tolist() == [True, False]
    assert np.isnan(t.replies["latency_s"].iloc[0]) and t.replies["latency_s"].iloc[1] == 120.0
    assert t.replies["short_reply"].tolist() == [False, False]  # 在的呢亲 = 4 counted characters
    c = conv_row(t, "c1")
    assert (c["agent_replies"], c["auto_replies"], c["messages"]) == (1, 1, 5)


def test_round_outside_service_hours_is_left_out_of_latency_figures():
    # Round 0 starts 07:30 (before 08:00): outside hours, answered after 600 s.
    # Round 1 starts 09:00:00, answered 09:00:30 -> 30 s.
    # Counted rounds = 1 -> first_response 30, average 30, within 1/1; rounds 2, outside 1.
    t = run({"c1": [
        ("07:30:00", "tb_1", "customer", "在吗"),
        ("07:40:00", MEI, "agent", "在的亲，早上好"),
        ("09:00:00", "tb_1", "customer", "什么时候发货"),
        ("09:00:30", MEI, "agent", "今天下午就发货哦"),
    ]})
    assert t.rounds["in_hours"].tolist() == [False, True]
    c = conv_row(t, "c1")
    assert (c["rounds"], c["rounds_outside_hours"], c["counted_rounds"]) == (2, 1, 1)
    assert c["first_response_s"] == 30.0 and c["avg_response_s"] == 30.0
    assert c["within_3min_rate"] == 1.0
    assert c["slow_rounds"] == 0  # the 600 s answer is outside hours


def test_service_end_is_exclusive_for_douyin():
    # Douyin counts 08:00:00-22:59:59: a round starting 22:59:59 is in, one at 23:00:00 is out.
    douyin = settings_from_mapping({"platform": "douyin"})
    t = run({"c1": [("22:59:59", "tb_1", "customer", "在吗"), ("23:00:10", MEI, "agent", "在的亲")],
             "c2": [("23:00:00", "tb_2", "customer", "在吗"), ("23:00:10", MEI, "agent", "在的亲")]}, douyin)
    assert t.rounds["in_hours"].tolist() == [True, False]
    # with the default 08:00-24:00 both are in
    assert run({"c2": [("23:00:00", "tb_2", "customer", "在吗")]}).rounds["in_hours"].tolist() == [True]


def test_unanswered_final_round():
    # Round 0: 10:00:00 -> 10:01:00 answered in 60 s.  Round 1: 10:05:00, never answered.
    # within_3min_rate = 1 answered in time / 2 counted rounds = 0.5.
    # avg_response_s = 60 (default: unanswered rounds have no latency to average).
    # The conversation ends with the buyer: unanswered, not a missing closing.
    msgs = {"c1": [
        ("10:00:00", "tb_1", "customer", "在吗"),
        ("10:01:00", MEI, "agent", "在的亲，您说"),
        ("10:05:00", "tb_1", "customer", "还有别的颜色吗"),
    ]}
    t = run(msgs, data_end=pd.Timestamp(f"{DAY} 12:00:00"))
    c = conv_row(t, "c1")
    assert (c["rounds"], c["unanswered_rounds"]) == (2, 1)
    assert c["within_3min_rate"] == 0.5
    assert c["avg_response_s"] == 60.0
    assert (c["missing_closing"], c["closing_due"]) == (False, False)
    last = t.rounds.iloc[1]
    assert (last["answered"], last["within_3min"]) == (False, False)
    assert pd.isna(last["answered_at"]) and np.isnan(last["latency_s"])
    assert last["agent"] == MEI  # unanswered -> the agent who last replied
    # Taobao: the unanswered round counts as 600 s in the average: (60 + 600) / 2 = 330.
    assert conv_row(run(msgs, TAOBAO), "c1")["avg_response_s"] == 330.0


def test_unanswered_round_outside_hours_is_not_counted_as_unanswered():
    # 02:00 buyer message nobody answers: outside hours -> rounds_outside_hours 1,
    # unanswered_rounds 0 (only counted rounds), no counted round -> rate NaN.
    c = conv_row(run({"c1": [("02:00:00", "tb_1", "customer", "在吗")]}), "c1")
    assert (c["rounds"], c["rounds_outside_hours"], c["unanswered_rounds"]) == (1, 1, 0)
    assert np.isnan(c["within_3min_rate"]) and np.isnan(c["first_response_s"])
    # nobody replied, no receiver column: the shop's visible (未分配) row (shop "店")
    assert (c["agent"], c["attribution"]) == ("店:(未分配)", "unassigned")


# --------------------------------------------------------------------------- reply content


def test_short_replies_four_characters_is_enough_three_is_not():
    # 好的呢亲 = 4 counted characters -> not short; 好的呢 = 3 -> short;
    # 好的呢~[微笑] = 3 (the emoticon does not count) -> short.
    t = run({"c1": [
        ("10:00:00", "tb_1", "customer", "在吗"),
        ("10:00:10", MEI, "agent", "好的呢亲"),
        ("10:01:00", "tb_1", "customer", "能便宜吗"),
        ("10:01:10", MEI, "agent", "好的呢"),
        ("10:02:00", "tb_1", "customer", "包邮吗"),
        ("10:02:10", MEI, "agent", "好的呢~[微笑]"),
    ]})
    assert t.replies["counted_chars"].tolist() == [4, 3, 3]
    assert t.replies["short_reply"].tolist() == [False, True, True]
    assert conv_row(t, "c1")["short_replies"] == 2


def test_emoticon_only_replies_are_media_and_short():
    # [微笑] and /:^_^ have 0 counted characters: media_only.  The three messages are 10 s
    # apart (reply_turn_window_s = 10, inclusive) -> one reply turn of 0 + 0 + 1 = 1 counted
    # character < 4 -> one short reply, flagged on the turn's first message.
    # -> short_replies 1, media_only_replies 2.
    t = run({"c1": [
        ("10:00:00", "tb_1", "customer", "谢谢"),
        ("10:00:10", MEI, "agent", "[微笑]"),
        ("10:00:20", MEI, "agent", "/:^_^"),
        ("10:00:30", MEI, "agent", "嗯"),
    ]})
    assert t.replies["media_only"].tolist() == [True, True, False]
    assert t.replies["short_reply"].tolist() == [True, False, False]
    assert t.replies["turn_chars"].tolist() == [1, 1, 1]
    c = conv_row(t, "c1")
    assert (c["short_replies"], c["media_only_replies"]) == (1, 2)
    # all three belong to round 0; only the first one answers it
    assert t.replies["round_index"].tolist() == [0, 0, 0]
    assert t.replies["is_answer"].tolist() == [True, False, False]


def product_chat(second_part: str) -> dict:
    return {"c1": [
        ("10:00:00", "tb_1", "customer", "这件衣服是什么材质的？"),      # 材质 -> product question
        ("10:00:20", MEI, "agent", "亲，这款是纯棉面料哦"),             # 这款是纯棉面料哦 + 亲 = 9
        ("10:00:40", MEI, "agent", second_part),                         # split answer, part 2
        ("10:01:00", "tb_1", "customer", "好的"),                        # ends the answer
        ("10:01:10", MEI, "agent", "亲，还有其他问题可以随时问我哦"),   # next round: not counted
    ]}


def test_product_question_answered_in_14_characters_is_short():
    # 9 + 透气不起球 (5; [微笑] does not count) = 14 < 15 -> product_answer_short.
    t = run(product_chat("透气不起球[微笑]"))
    r = t.rounds.iloc[0]
    assert (r["product_question"], r["product_answer_chars"], r["product_answer_short"]) == (True, 14, True)
    assert t.rounds.iloc[1]["product_question"] == False  # "好的" asks nothing  # noqa: E712
    assert conv_row(t, "c1")["product_answer_short"] == 1


def test_product_question_answered_in_15_characters_is_enough():
    # 9 + 很透气不起球 (6) = 15 -> not short.
    t = run(product_chat("很透气不起球"))
    r = t.rounds.iloc[0]
    assert (r["product_answer_chars"], r["product_answer_short"]) == (15, False)
    assert conv_row(t, "c1")["product_answer_short"] == 0


def test_image_placeholder_is_not_a_product_question():
    # "图片" is a product keyword (图片和实物一样吗) but the placeholder [图片] is just an image.
    t = run({"c1": [("10:00:00", "tb_1", "customer", "[图片]"), ("10:00:10", MEI, "agent", "收到")],
             "c2": [("10:00:00", "tb_2", "customer", "图片和实物一样吗"), ("10:00:10", MEI, "agent", "差不多")]})
    assert t.rounds["product_question"].tolist() == [False, True]
    assert t.rounds["product_answer_short"].tolist() == [False, True]  # 差不多 = 3 < 15


# --------------------------------------------------------------------------- closing


def closing_chats() -> dict:
    return {
        # agent's last reply 10:00:30, data ends 10:10:00 -> 570 s silence >= 300: due, missing
        "missing": [("10:00:00", "tb_1", "customer", "好的我考虑下"), ("10:00:30", MEI, "agent", "好的亲，有货的")],
        # the agent sent a closing phrase (祝您购物愉快) -> due, not missing
        "closed": [("10:00:00", "tb_2", "customer", "好的我拍了"), ("10:00:30", MEI, "agent", "好的亲"),
                   ("10:01:00", MEI, "agent", "感谢您的支持，祝您购物愉快")],
        # last reply 10:08:00, data ends 10:10:00 -> 120 s < 300: not yet due
        "not_due": [("10:07:00", "tb_3", "customer", "好的"), ("10:08:00", MEI, "agent", "好的亲，马上为您发货")],
        # exactly 300 s of silence (10:05:00 -> 10:10:00) is enough: due, missing
        "exactly": [("10:04:00", "tb_4", "customer", "好的"), ("10:05:00", MEI, "agent", "好的亲，马上为您发货")],
        # ends with the buyer: unanswered, never a missing closing
        "buyer_last": [("10:00:00", "tb_5", "customer", "在吗"), ("10:00:10", MEI, "agent", "在的亲"),
                       ("10:00:40", "tb_5", "customer", "好的谢谢")],
        # an auto-reply after the agent does not change who ends the conversation
        "auto_after": [("10:00:00", "tb_6", "customer", "好的"), ("10:00:30", MEI, "agent", "好的亲，有货的"),
                       ("10:00:40", "店", "auto", "[自动回复]感谢光临")],
    }


def test_closing_present_missing_and_not_yet_due():
    t = run(closing_chats(), data_end=pd.Timestamp(f"{DAY} 10:10:00"))
    got = {cid: (bool(conv_row(t, cid)["closing_due"]), bool(conv_row(t, cid)["missing_closing"]))
           for cid in closing_chats()}
    assert got == {
        "missing": (True, True),
        "closed": (True, False),
        "not_due": (False, False),
        "exactly": (True, True),
        "buyer_last": (False, False),
        "auto_after": (True, True),
    }
    closing_flags = t.replies[t.replies["conversation_id"] == "closed"]["is_closing"].tolist()
    assert closing_flags == [False, True]
    # the missing closings go to the agent who replied last: 3 (missing, exactly, auto_after)
    agents = agent_metrics(t.replies, t.rounds, t.conversations, DEFAULT)
    assert agent_row(agents, MEI)["missing_closings"] == 3


def test_data_end_defaults_to_the_latest_message():
    # data ends at the latest sent_at (10:08:00 of "not_due"): "missing" has 450 s of silence
    # (10:00:30 -> 10:08:00) -> due; "not_due" has 0 s -> not due.
    t = run(closing_chats())
    assert bool(conv_row(t, "missing")["closing_due"]) is True
    assert bool(conv_row(t, "not_due")["closing_due"]) is False


# --------------------------------------------------------------------------- agents


def transfer_chat() -> dict:
    return {"c1": [
        ("10:00:00", "tb_1", "customer", "我要退货"),
        ("10:00:30", MEI, "agent", "亲，我帮您转接售后"),               # round 0: 小美, 30 s
        ("10:01:00", "tb_1", "customer", "好的"),
        ("10:01:10", "店", "system", "会话已转接"),
        ("10:02:00", WANG, "agent", "您好，售后小王为您服务"),         # round 1: 小王, 60 s
        ("10:03:00", "tb_1", "customer", "怎么寄回"),                   # round 2: unanswered
    ]}


def test_transfer_between_agents_attributes_each_round_to_who_answered():
    t = run(transfer_chat(), agent_column={"c1": MEI})
    # unanswered round 2 -> the agent who last replied (小王)
    assert t.rounds["agent"].tolist() == [MEI, WANG, WANG]
    c = conv_row(t, "c1")
    assert (c["agent"], c["agents"], bool(c["transferred"]), c["last_agent"]) == (MEI, f"{MEI}|{WANG}", True, WANG)
    agents = agent_metrics(t.replies, t.rounds, t.conversations, DEFAULT)
    mei, wang = agent_row(agents, MEI), agent_row(agents, WANG)
    # 小美: the conversation is hers (first agent), one round answered in 30 s, greeted (亲)
    assert (mei["conversations"], mei["rounds"], mei["unanswered_rounds"]) == (1, 1, 0)
    assert (mei["avg_response_s"], mei["first_response_avg_s"], mei["within_3min_rate"]) == (30.0, 30.0, 1.0)
    assert (mei["reply_rate"], mei["greeting_rate"]) == (1.0, 1.0)
    # 小王: no conversation assigned, 2 rounds (60 s + unanswered), took part in 1 conversation
    assert (wang["conversations"], wang["rounds"], wang["unanswered_rounds"], wang["conversations_joined"]) \
        == (0, 2, 1, 1)
    assert wang["avg_response_s"] == 60.0
    assert wang["within_3min_rate"] == 0.5                 # 1 of 2 counted rounds
    assert np.isnan(wang["first_response_avg_s"])           # the first round was 小美's
    # reply_rate (消息回复率) = counted rounds answered by a human / counted rounds: 1 / 2
    assert wang["reply_rate"] == 0.5


def test_taobao_preset_caps_latency_in_averages():
    # Round 0: 10:00:00 -> 10:15:00 = 900 s; round 1: 10:20:00 -> 10:21:00 = 60 s;
    # round 2: 10:30:00 unanswered.
    msgs = {"c1": [
        ("10:00:00", "tb_1", "customer", "在吗"), ("10:15:00", MEI, "agent", "在的亲，久等了"),
        ("10:20:00", "tb_1", "customer", "有货吗"), ("10:21:00", MEI, "agent", "有的亲，现货"),
        ("10:30:00", "tb_1", "customer", "好的"),
    ]}
    default = run(msgs)
    c = conv_row(default, "c1")
    assert c["first_response_s"] == 900.0
    assert c["avg_response_s"] == 480.0            # (900 + 60) / 2, unanswered left out
    taobao = run(msgs, TAOBAO)
    c = conv_row(taobao, "c1")
    assert c["first_response_s"] == 900.0          # the raw first latency (caps are for averages)
    assert c["avg_response_s"] == 420.0            # (600 + 60 + 600) / 3
    assert taobao.rounds["latency_s"].tolist()[:2] == [900.0, 60.0]  # raw latencies kept
    agents = agent_metrics(taobao.replies, taobao.rounds, taobao.conversations, TAOBAO)
    mei = agent_row(agents, MEI)
    assert mei["avg_response_s"] == 420.0
    assert mei["first_response_avg_s"] == 600.0    # 900 capped at 600
    assert mei["within_3min_rate"] == pytest.approx(1 / 3)


def test_within_3min_rate_is_pooled_over_rounds_not_averaged_over_conversations():
    # c1: 1 round within 3 min (1/1).  c2: 3 rounds, latencies 30, 200, 300 -> 1 within (1/3).
    # Pooled: 2 / 4 = 0.5.  (The mean of the two rates would be (1 + 1/3) / 2 = 0.667.)
    t = run({
        "c1": [("10:00:00", "tb_1", "customer", "在吗"), ("10:00:30", MEI, "agent", "在的亲")],
        "c2": [("11:00:00", "tb_2", "customer", "在吗"), ("11:00:30", MEI, "agent", "在的亲"),
               ("11:10:00", "tb_2", "customer", "有货吗"), ("11:13:20", MEI, "agent", "有的亲"),
               ("11:20:00", "tb_2", "customer", "发什么快递"), ("11:25:00", MEI, "agent", "中通快递")],
    })
    assert conv_row(t, "c2")["within_3min_rate"] == pytest.approx(1 / 3)
    mei = agent_row(agent_metrics(t.replies, t.rounds, t.conversations, DEFAULT), MEI)
    assert mei["within_3min_rate"] == 0.5
    assert (mei["counted_rounds"], mei["within_3min_rounds"]) == (4, 2)
    # average over the 4 rounds: (30 + 30 + 200 + 300) / 4 = 140; slow: 200 and 300 > 120
    assert (mei["avg_response_s"], mei["slow_rounds"]) == (140.0, 2)
    # first responses: 30 (c1) and 30 (c2) -> 30
    assert mei["first_response_avg_s"] == 30.0


def test_reply_rate_greeting_and_slow_receptions():
    # 小美 is assigned c1, c2, c3 (agent column).  c1: greeted (您好) and answered;
    # c2: answered without a greeting (好的); c3: never answered.
    # reply_rate = answered counted rounds / counted rounds = (3 + 2) / (3 + 2 + 1) = 5/6; greeting_rate = 1 greeted / 2 replied conversations = 0.5.
    # c1 has three answers slower than 120 s for buyer tb_1 on one day -> 1 slow reception;
    # c2 has two slow answers -> below the threshold of 3.
    msgs = {
        "c1": [("10:00:00", "tb_1", "customer", "在吗"), ("10:03:00", MEI, "agent", "您好，在的"),
               ("10:10:00", "tb_1", "customer", "有货吗"), ("10:13:00", MEI, "agent", "有的呢亲"),
               ("10:20:00", "tb_1", "customer", "包邮吗"), ("10:23:00", MEI, "agent", "包邮的亲")],
        "c2": [("11:00:00", "tb_2", "customer", "在吗"), ("11:03:00", MEI, "agent", "好的"),
               ("11:10:00", "tb_2", "customer", "有货吗"), ("11:13:00", MEI, "agent", "有的呢亲")],
        "c3": [("12:00:00", "tb_3", "customer", "在吗")],
    }
    t = run(msgs, agent_column={cid: MEI for cid in msgs})
    assert t.conversations["greeted"].tolist() == [True, False, False]
    mei = agent_row(agent_metrics(t.replies, t.rounds, t.conversations, DEFAULT), MEI)
    assert mei["conversations"] == 3
    assert mei["reply_rate"] == pytest.approx(5 / 6)
    assert mei["greeting_rate"] == 0.5
    assert mei["slow_receptions"] == 1
    assert mei["unanswered_rounds"] == 1  # c3 is attributed to its assigned agent
    assert mei["short_replies"] == 1      # 好的 (2 characters)


def test_tag_columns_are_summed_per_sender_of_human_replies():
    t = run(transfer_chat(), agent_column={"c1": MEI})
    replies = t.replies.copy()
    replies["pushy"] = [True, True]      # one reply of 小美, one of 小王
    replies["rude"] = [False, True]      # 小王 only
    agents = agent_metrics(replies, t.rounds, t.conversations, DEFAULT)
    assert list(agents.columns[-2:]) == ["pushy", "rude"]
    assert agent_row(agents, MEI)[["pushy", "rude"]].tolist() == [1, 0]
    assert agent_row(agents, WANG)[["pushy", "rude"]].tolist() == [1, 1]


# --------------------------------------------------------------------------- whole vs chunks


def many_chats() -> dict:
    merged = {}
    merged.update(closing_chats())
    merged.update({f"p{k}": v for k, v in product_chat("透气不起球").items()})
    merged.update({f"t{k}": v for k, v in transfer_chat().items()})
    merged["night"] = [("02:00:00", "tb_9", "customer", "在吗"), ("08:30:00", WANG, "agent", "在的亲")]
    merged["outbound"] = [("09:00:00", MEI, "agent", "亲，您的快递已发出")]  # no buyer message at all
    return merged


def test_chunked_run_equals_whole_run():
    messages = chat(many_chats(), agent_column={"tc1": MEI})
    data_end = messages["sent_at"].max()
    whole = conversation_metrics(messages, DEFAULT)
    ids = messages["conversation_id"].unique()
    first_half = messages[messages["conversation_id"].isin(ids[: len(ids) // 2])]
    second_half = messages[messages["conversation_id"].isin(ids[len(ids) // 2:])]
    parts = [conversation_metrics(p, DEFAULT, data_end=data_end) for p in (first_half, second_half)]
    for name in ("replies", "rounds", "conversations"):
        glued = pd.concat([getattr(p, name) for p in parts], ignore_index=True)
        pd.testing.assert_frame_equal(glued, getattr(whole, name))
    pd.testing.assert_frame_equal(
        agent_metrics(*(pd.concat([getattr(p, n) for p in parts], ignore_index=True)
                        for n in ("replies", "rounds", "conversations")), DEFAULT),
        agent_metrics(whole.replies, whole.rounds, whole.conversations, DEFAULT),
    )


def test_unsorted_input_is_sorted_stably():
    messages = chat(many_chats(), agent_column={"tc1": MEI})
    whole = conversation_metrics(messages, DEFAULT)
    shuffled = messages.sample(frac=1.0, random_state=3)  # keeps the index labels
    again = conversation_metrics(shuffled, DEFAULT)
    key = ["conversation_id", "sent_at", "message_index"]
    pd.testing.assert_frame_equal(
        again.replies.sort_values(key).reset_index(drop=True), whole.replies.sort_values(key).reset_index(drop=True))
    pd.testing.assert_frame_equal(
        again.conversations.sort_values("conversation_id").reset_index(drop=True),
        whole.conversations.sort_values("conversation_id").reset_index(drop=True))


def test_messages_at_the_same_second_keep_file_order():
    # Two agent messages stamped 10:00:10; input order: 在的亲 then 有货的亲.  Presented in the
    # wrong conversation order, the stable sort keeps the file order within equal times.
    messages = chat({"c1": [("10:00:00", "tb_1", "customer", "在吗"), ("10:00:10", MEI, "agent", "在的亲"),
                            ("10:00:10", MEI, "agent", "有货的亲")],
                     "c2": [("09:00:00", "tb_2", "customer", "在吗")]})
    reordered = messages.iloc[[3, 1, 2, 0]]
    t = conversation_metrics(reordered, DEFAULT)
    assert t.replies["text"].tolist() == ["在的亲", "有货的亲"]
    assert t.replies["is_answer"].tolist() == [True, False]
    assert t.replies["message_index"].tolist() == [1, 2]  # index labels of the rows passed in


def test_conversation_without_buyer_messages_and_empty_input():
    t = run({"c1": [("09:00:00", MEI, "agent", "亲，您的快递已发出")]})
    assert len(t.rounds) == 0
    reply = t.replies.iloc[0]
    assert pd.isna(reply["round_index"]) and reply["context"] == ""
    c = conv_row(t, "c1")
    assert (c["rounds"], c["agent"], c["customer"]) == (0, MEI, "")
    assert np.isnan(c["within_3min_rate"])

    empty = conversation_metrics(chat({}), DEFAULT)
    assert len(empty.replies) == len(empty.rounds) == len(empty.conversations) == 0
    # an empty chunk has the same columns and dtypes as a real one, so concatenating keeps dtypes
    for name in ("replies", "rounds", "conversations"):
        pd.testing.assert_series_equal(getattr(empty, name).dtypes, getattr(t, name).dtypes)
    agents = agent_metrics(empty.replies, empty.rounds, empty.conversations, DEFAULT)
    assert len(agents) == 0 and list(agents.columns[: len(AGENT_COLUMNS)]) == AGENT_COLUMNS


def test_output_columns_follow_the_schema_contract():
    t = run(transfer_chat(), agent_column={"c1": MEI})
    assert list(t.replies.columns[: len(REPLY_COLUMNS)]) == REPLY_COLUMNS
    assert list(t.conversations.columns[: len(CONVERSATION_COLUMNS)]) == CONVERSATION_COLUMNS
    assert list(t.rounds.columns[:3]) == ["conversation_id", "round_index", "agent"]
    # the full column lists are published as constants for the report/pipeline
    assert list(t.replies.columns) == REPLY_OUTPUT_COLUMNS
    assert list(t.rounds.columns) == ROUND_COLUMNS
    assert list(t.conversations.columns) == CONVERSATION_OUTPUT_COLUMNS
    agents = agent_metrics(t.replies, t.rounds, t.conversations, DEFAULT)
    assert list(agents.columns) == AGENT_OUTPUT_COLUMNS
    assert agents["agent"].tolist() == sorted([MEI, WANG])


def test_bad_input_is_rejected_with_a_clear_message():
    messages = chat({"c1": [("10:00:00", "tb_1", "customer", "在吗")]})
    with pytest.raises(ValueError, match="unknown roles"):
        conversation_metrics(messages.assign(role="buyer"), DEFAULT)
    with pytest.raises(ValueError, match="missing columns: text"):
        conversation_metrics(messages.drop(columns="text"), DEFAULT)


# --------------------------------------------------------------------------- cross-check


def reference_rounds(messages: pd.DataFrame) -> list[tuple]:
    """The round rule written as a plain loop over one conversation at a time (slow, obvious)."""
    out = []
    for cid, conv in messages.groupby("conversation_id", sort=False):
        open_start, index = None, 0
        for _, m in conv.sort_values("sent_at", kind="stable").iterrows():
            if m["role"] == "customer" and open_start is None:
                open_start = m["sent_at"]
            elif m["role"] == "agent" and open_start is not None:
                out.append((cid, index, (m["sent_at"] - open_start).total_seconds()))
                open_start, index = None, index + 1
        if open_start is not None:
            out.append((cid, index, None))
    return out


def test_rounds_match_a_plain_loop_on_random_chats():
    rng = np.random.default_rng(11)
    roles = rng.choice(["customer", "agent", "auto", "system"], size=400, p=[0.45, 0.4, 0.1, 0.05])
    conv = np.sort(rng.integers(0, 40, size=400))
    seconds = rng.integers(0, 86400, size=400)
    messages = pd.DataFrame({
        "conversation_id": [f"c{c}" for c in conv],
        "sent_at": pd.Timestamp(DAY) + pd.to_timedelta(seconds, unit="s"),
        "sender": np.where(roles == "customer", "tb_1", MEI),
        "role": roles,
        "text": "好的呢亲",
        "source_file": "x.csv",
        "source_line": np.arange(400),
        "shop": "店",
        "agent": "",
    })
    t = conversation_metrics(messages, DEFAULT)
    got = [(r.conversation_id, r.round_index, None if np.isnan(r.latency_s) else r.latency_s)
           for r in t.rounds.itertuples()]
    assert got == reference_rounds(messages)
