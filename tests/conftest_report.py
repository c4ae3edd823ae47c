"""A small, hand-written audit (four conversations) shared by the report tests.

Not a conftest: imported explicitly by tests/test_report_html.py, test_workbook.py,
test_coach.py and test_browser_report.py.  Every figure below follows from the transcript by
hand (latency = first human reply - first unanswered buyer message; auto replies do not end
a round), so tests can assert exact values.

c1 小美 / tb_buyer1: 3 rounds (30 s product answer, 240 s "嗯" = short + slow, 20 s pushy reply
   that is also a too-short product answer), never closed -> score 55.
c2 阿强 / 小王爱购物: auto reply, then 70 s answer flagged overclaim + pushy, then a 40 s closing -> 78.5.
c3 小美 / tb_buyer3: 10 s greeting, 20 s "偏大一码" (product answer of 4 chars), system notice,
   closing -> 92.
c4 阿强 / tb_buyer4: 45 s complete product answer (28 chars), 30 s closing -> 96 (the model answer).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

SHOP = "优衣库官方旗舰店"
XIAOMEI = f"{SHOP}:小美"
AQIANG = f"{SHOP}:阿强"
SCRIPT_ATTACK = "<script>window.__pwned=1;document.title='pwned'</script>还有货吗"
IMG_ATTACK = '<img src=x onerror="window.__pwned=2">有优惠吗'
FORMULA = '=HYPERLINK("http://evil.example","点我")'
PHONE = "13812345678"
ORDER_NO = "123456789012345"
ADDRESS = "浙江省杭州市西湖区文三路100号"


def _ts(s: str) -> pd.Timestamp:
    return pd.Timestamp(f"2024-05-06 {s}")


def messages() -> pd.DataFrame:
    rows = [
        # conversation, time, sender, role, text
        ("c1", "10:00:00", "tb_buyer1", "customer", "这件T恤会掉色吗？"),
        ("c1", "10:00:30", XIAOMEI, "agent", "亲，这款是纯棉面料，正常洗涤不会掉色的哦，放心购买~"),
        ("c1", "10:02:00", "tb_buyer1", "customer", f"好的，我电话{PHONE}，订单号{ORDER_NO}"),
        ("c1", "10:06:00", XIAOMEI, "agent", "嗯"),
        ("c1", "10:07:00", "tb_buyer1", "customer", SCRIPT_ATTACK),
        ("c1", "10:07:20", XIAOMEI, "agent", "最后一件了，亲不买就没有了哦"),
        ("c2", "11:00:00", "小王爱购物", "customer", IMG_ATTACK),
        ("c2", "11:00:05", AQIANG, "auto", "[自动回复]您好，客服马上就来"),
        ("c2", "11:01:10", AQIANG, "agent", "有的亲，现在下单立减20元，百分百正品"),
        ("c2", "11:02:00", "小王爱购物", "customer", FORMULA),
        ("c2", "11:02:40", AQIANG, "agent", "好的呢亲，有问题随时联系我们，祝您购物愉快"),
        ("c3", "14:00:00", "tb_buyer3", "customer", "在吗"),
        ("c3", "14:00:10", XIAOMEI, "agent", "在的呢亲~有什么可以帮您"),
        ("c3", "14:00:30", "tb_buyer3", "customer", f"尺码偏大吗，我身高165体重100斤，寄到{ADDRESS}"),
        ("c3", "14:00:50", XIAOMEI, "agent", "偏大一码"),
        ("c3", "14:01:00", "系统", "system", "买家已下单"),
        ("c3", "14:03:00", XIAOMEI, "agent", "感谢您的支持，祝您生活愉快"),
        ("c4", "15:00:00", "tb_buyer4", "customer", "这个面料是什么材质的，会起球吗"),
        ("c4", "15:00:45", AQIANG, "agent", "亲，这款是100%精梳棉，经过抗起球处理，正常穿着不容易起球哦"),
        ("c4", "15:01:30", "tb_buyer4", "customer", "好的谢谢"),
        ("c4", "15:02:00", AQIANG, "agent", "不客气，有问题随时联系我们，祝您购物愉快"),
    ]
    agent_of = {"c1": XIAOMEI, "c2": AQIANG, "c3": XIAOMEI, "c4": AQIANG}
    df = pd.DataFrame(rows, columns=["conversation_id", "sent_at", "sender", "role", "text"])
    df["sent_at"] = df["sent_at"].map(_ts).astype("datetime64[ns]")
    df["source_file"] = "chats/day1.txt"
    df["source_line"] = np.arange(1, len(df) + 1, dtype="int64") * 2
    df["shop"] = SHOP
    df["agent"] = df["conversation_id"].map(agent_of)
    return df


# One row per agent/auto message: (message position, round_index, latency_s, counted_chars,
# short_reply, is_closing, is_auto, pushy, p_pushy, overclaim, p_overclaim, tag_words)
_REPLIES = [
    (1, 0, 30.0, 24, 0, 0, 0, 0, 0.08, 0, 0.05, ""),
    (3, 1, 240.0, 1, 1, 0, 0, 0, 0.10, 0, 0.02, ""),
    (5, 2, 20.0, 13, 0, 0, 0, 1, 0.93, 0, 0.20, "pushy: 最后一件, 没有了"),
    (7, 0, np.nan, 11, 0, 0, 1, 0, 0.01, 0, 0.01, ""),
    (8, 0, 70.0, 17, 0, 0, 0, 1, 0.62, 1, 0.71, "pushy: 现在下单; overclaim: 百分百"),
    (10, 1, 40.0, 19, 0, 1, 0, 0, 0.05, 0, 0.03, ""),
    (12, 0, 10.0, 11, 0, 0, 0, 0, 0.10, 0, 0.02, ""),
    (14, 1, 20.0, 4, 0, 0, 0, 0, 0.04, 0, 0.03, ""),
    (16, 1, np.nan, 13, 0, 1, 0, 0, 0.02, 0, 0.01, ""),
    (18, 0, 45.0, 28, 0, 0, 0, 0, 0.01, 0, 0.04, ""),
    (20, 1, 30.0, 19, 0, 1, 0, 0, 0.02, 0, 0.01, ""),
]


def replies(msgs: pd.DataFrame | None = None) -> pd.DataFrame:
    msgs = messages() if msgs is None else msgs
    cols = ["message_index", "round_index", "latency_s", "counted_chars", "short_reply", "is_closing", "is_auto",
            "pushy", "p_pushy", "overclaim", "p_overclaim", "tag_words"]
    r = pd.DataFrame(_REPLIES, columns=cols)
    m = msgs.iloc[r["message_index"]].reset_index(drop=True)
    out = pd.DataFrame({
        "conversation_id": m["conversation_id"], "agent": m["agent"], "sent_at": m["sent_at"], "text": m["text"],
        "counted_chars": r["counted_chars"], "is_auto": r["is_auto"], "round_index": r["round_index"],
        "latency_s": r["latency_s"], "short_reply": r["short_reply"], "is_closing": r["is_closing"],
        "media_only": 0, "message_index": r["message_index"], "source_file": m["source_file"],
        "source_line": m["source_line"],
        "pushy": r["pushy"], "unhelpful": 0, "rude": 0, "overclaim": r["overclaim"],
        "p_pushy": r["p_pushy"], "p_unhelpful": 0.01, "p_rude": 0.01, "p_overclaim": r["p_overclaim"],
        "tag_words": r["tag_words"], "forbidden_words": "", "forbidden": 0,
    })
    return out


def rounds() -> pd.DataFrame:
    rows = [
        # conv, round, agent, started, answered, latency, product_question, product_answer_chars
        ("c1", 0, XIAOMEI, "10:00:00", "10:00:30", 30.0, 1, 24),
        ("c1", 1, XIAOMEI, "10:02:00", "10:06:00", 240.0, 0, np.nan),
        ("c1", 2, XIAOMEI, "10:07:00", "10:07:20", 20.0, 1, 13),
        ("c2", 0, AQIANG, "11:00:00", "11:01:10", 70.0, 0, np.nan),
        ("c2", 1, AQIANG, "11:02:00", "11:02:40", 40.0, 0, np.nan),
        ("c3", 0, XIAOMEI, "14:00:00", "14:00:10", 10.0, 0, np.nan),
        ("c3", 1, XIAOMEI, "14:00:30", "14:00:50", 20.0, 1, 4),
        ("c4", 0, AQIANG, "15:00:00", "15:00:45", 45.0, 1, 28),
        ("c4", 1, AQIANG, "15:01:30", "15:02:00", 30.0, 0, np.nan),
    ]
    df = pd.DataFrame(rows, columns=["conversation_id", "round_index", "agent", "started_at", "answered_at",
                                     "latency_s", "product_question", "product_answer_chars"])
    df["customer_text"] = ""
    df["started_at"] = df["started_at"].map(_ts).astype("datetime64[ns]")
    df["answered_at"] = df["answered_at"].map(_ts).astype("datetime64[ns]")
    df["in_hours"] = 1
    df["answered"] = 1
    df["within_3min"] = (df["latency_s"] <= 180).astype(int)
    df["slow"] = (df["latency_s"] > 120).astype(int)
    df["product_answer_short"] = ((df["product_question"] == 1) & (df["product_answer_chars"] < 15)).astype(int)
    return df


def conversations() -> pd.DataFrame:
    items_c1 = json.dumps([{"item": "响应速度 response", "points": 10, "max": 30},
                           {"item": "标签扣分 tags", "points": -15, "detail": "pushy ×1"}], ensure_ascii=False)
    items_c2 = json.dumps({"response": 28, "tags": -10})
    rows = [
        ("c1", XIAOMEI, "tb_buyer1", "10:00:00", "10:07:20", 6, 3, 30.0, 290 / 3, 2 / 3, 1, 1, 1, 1, 1, 0, 55.0,
         items_c1),
        ("c2", AQIANG, "小王爱购物", "11:00:00", "11:02:40", 5, 2, 70.0, 55.0, 1.0, 0, 0, 0, 0, 1, 1, 78.5,
         items_c2),
        ("c3", XIAOMEI, "tb_buyer3", "14:00:00", "14:03:00", 6, 2, 10.0, 15.0, 1.0, 0, 0, 1, 0, 0, 0, 92.0, ""),
        ("c4", AQIANG, "tb_buyer4", "15:00:00", "15:02:00", 4, 2, 45.0, 37.5, 1.0, 0, 0, 0, 0, 0, 0, 96.0, ""),
    ]
    df = pd.DataFrame(rows, columns=[
        "conversation_id", "agent", "customer", "started_at", "ended_at", "messages", "rounds", "first_response_s",
        "avg_response_s", "within_3min_rate", "slow_rounds", "short_replies", "product_answer_short",
        "missing_closing", "pushy", "overclaim", "service_score", "score_items"])
    df["started_at"] = df["started_at"].map(_ts).astype("datetime64[ns]")
    df["ended_at"] = df["ended_at"].map(_ts).astype("datetime64[ns]")
    df["rounds_outside_hours"] = 0
    df["unanswered_rounds"] = 0
    df["unhelpful"] = 0
    df["rude"] = 0
    return df


def agents() -> pd.DataFrame:
    return pd.DataFrame({
        "agent": [XIAOMEI, AQIANG],
        "conversations": [2, 2],
        "rounds": [5, 4],
        "unanswered_rounds": [0, 0],
        "first_response_avg_s": [20.0, 57.5],
        "avg_response_s": [64.0, 46.25],  # (30+240+20+10+20)/5, (70+40+45+30)/4
        "within_3min_rate": [0.8, 1.0],
        "slow_rounds": [1, 0],
        "short_replies": [1, 0],
        "product_answer_short": [2, 0],
        "missing_closings": [1, 0],
        "reply_rate": [1.0, 1.0],
        "pushy": [1, 1],
        "unhelpful": [0, 0],
        "rude": [0, 0],
        "overclaim": [0, 1],
        "service_score": [73.5, 87.25],
    })


def rejected() -> pd.DataFrame:
    return pd.DataFrame({
        "source_file": ["chats/day1.txt"], "source_line": [99], "reason": ["bad timestamp"],
        "raw": ["=cmd|' /C calc'!A0"],
    })


RUN_INFO = {
    "version": "0.1.0",
    "inputs": ["chats/day1.txt"],
    "settings": {"platform": "taobao", "min_reply_chars": 4, "product_answer_min_chars": 15, "slow_seconds": 120,
                 "within_seconds": 180, "service_start": "08:00", "service_end": "24:00"},
    "model": {"name": "reply-tagger", "version": "2024.05"},
}


def audit_tables() -> dict:
    msgs = messages()
    return {"messages": msgs, "replies": replies(msgs), "rounds": rounds(), "conversations": conversations(),
            "agents": agents(), "rejected": rejected(), "run": dict(RUN_INFO)}


def write_audit_folder(folder: Path, tables: dict | None = None) -> Path:
    """Write the tables the way ``qa-scorer audit`` does (CSV, UTF-8 with BOM, plus run.json)."""
    tables = audit_tables() if tables is None else tables
    folder.mkdir(parents=True, exist_ok=True)
    for name, df in tables.items():
        if isinstance(df, pd.DataFrame):
            df.to_csv(folder / f"{name}.csv", index=False, encoding="utf-8-sig")
    (folder / "run.json").write_text(json.dumps(tables.get("run", {}), ensure_ascii=False), encoding="utf-8")
    return folder
