"""Rule 5 — the 15-character rule applies to product/spec/size questions; complete yes/no or
stock answers are fine.  Keyword rules here (question_types = "keywords"); the learned detector
is wired in when installed (last test)."""

import sys
import types

import pandas as pd
import pytest

from qa_scorer.metrics import conversation_metrics
from qa_scorer.schema import MESSAGE_COLUMNS
from qa_scorer.settings import MetricSettings

MEI = "店:小美"
S = MetricSettings(question_types="keywords")


def rounds(pairs, settings=S):
    """One conversation per (question, answer) pair; the answer comes 20 s later."""
    rows = []
    for k, (q, a) in enumerate(pairs):
        cid = f"c{k}"
        rows.append((cid, pd.Timestamp("2026-03-02 10:00:00"), "tb_1", "customer", q, "x", 2 * k + 2, "店", MEI))
        rows.append((cid, pd.Timestamp("2026-03-02 10:00:20"), MEI, "agent", a, "x", 2 * k + 3, "店", MEI))
    df = pd.DataFrame(rows, columns=MESSAGE_COLUMNS)
    df["sent_at"] = df["sent_at"].astype("datetime64[ns]")
    return conversation_metrics(df, settings).rounds


@pytest.mark.parametrize("question, qtype", [
    ("165穿什么码", "size"), ("有没有M码", "size"), ("能机洗吗", "product"), ("防水吗", "product"),
    ("有什么区别", "product"), ("宝宝1岁能用吗", "product"), ("保暖吗", "product"),
    ("可以使用优惠券吗", "price"), ("我发的图片你看到了吗", "other"), ("有黑色吗", "stock"),
    ("什么时候发货", "logistics"), ("我要退货", "aftersales"), ("在吗", "chitchat"),
])
def test_question_types(question, qtype):
    r = rounds([(question, "稍等")]).iloc[0]
    assert r["question_type"] == qtype
    assert bool(r["product_question"]) == (qtype in ("product", "size"))  # default product_question_types


def test_short_product_answers_and_complete_answers():
    r = rounds([
        ("防水吗", "防水"),                                    # product, 2 chars, not yes/no form -> short
        ("165穿什么码", "M码"),                                # size, 2 chars -> short
        ("有没有M码", "有的亲"),                               # size, complete stock answer -> fine
        ("能机洗吗", "可以的亲，建议放洗衣袋"),                # complete yes answer -> fine
        ("有黑色吗", "有的亲，现货"),                          # stock question: not a product question
        ("可以使用优惠券吗", "可以"),                          # price: not a product question
        ("保暖吗", "很保暖的，八斤重的冬被，零下也够用"),      # 16 chars -> fine
    ])
    assert r["product_question"].tolist() == [True, True, True, True, False, False, True]
    assert r["product_answer_short"].tolist() == [True, True, False, False, False, False, False]


def test_learned_detector_is_used_when_installed(monkeypatch):
    fake = types.ModuleType("qa_scorer.question_types")
    fake.classify_questions = lambda texts: pd.Series(["size"] * len(texts), index=texts.index)
    monkeypatch.setitem(sys.modules, "qa_scorer.question_types", fake)
    # auto: the detector says "size" for 在吗 -> a product question; 在的亲 (3) -> short
    auto = rounds([("在吗", "在的亲")], MetricSettings())
    assert auto["question_type"].tolist() == ["size"] and auto["product_answer_short"].tolist() == [True]
    # keywords: 在吗 is chitchat whatever is installed
    assert rounds([("在吗", "在的亲")])["question_type"].tolist() == ["chitchat"]
