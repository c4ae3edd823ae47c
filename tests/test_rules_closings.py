"""Rule 6 — closings and greetings are recognised by a generous pattern set plus phrases."""

import pandas as pd
import pytest

from qa_scorer.metrics import conversation_metrics
from qa_scorer.schema import MESSAGE_COLUMNS
from qa_scorer.settings import MetricSettings, settings_from_mapping
from qa_scorer.textstats import matches_phrases

S = MetricSettings(question_types="keywords")
SEED = "亲爱的您可以看下我们店铺内有没有您喜欢的商品，如果有什么问题请随时咨询我们…有需要时候记得联系我哦"


def is_closing(text, settings=S):
    return bool(matches_phrases(pd.Series([text]), settings.closing_phrases, settings.closing_patterns).iloc[0])


def is_greeting(text, settings=S):
    return bool(matches_phrases(pd.Series([text]), settings.greeting_phrases, settings.greeting_patterns).iloc[0])


@pytest.mark.parametrize("text", [
    SEED,                                   # the source's own closing sentence
    "亲爱的您可以看下我们店铺内有没有您喜欢的商品[微笑]",
    "有需要时候记得联系我哦~",
    "祝您生活愉快！",
    "祝亲购物愉快哦[玫瑰]",
    "如有其他问题欢迎随时联系我们",
    "感谢您的耐心等待，期待再次为您服务",
    "那不打扰您啦，拜拜~",
])
def test_closings(text):
    assert is_closing(text)


@pytest.mark.parametrize("text", ["好的亲，有货的", "亲，您说", "稍等，我帮您查一下", "这款是纯棉的"])
def test_not_closings(text):
    assert not is_closing(text)


def test_quick_phrase_counts_whatever_its_punctuation():
    shop = settings_from_mapping({"closing_phrases": ["小店随时恭候您"], "closing_patterns": []})
    assert is_closing("小店随时恭候您~~[玫瑰]", shop)     # phrase matched on normalised text
    assert is_closing("小店 随时恭候您！", shop)
    assert not is_closing("祝您生活愉快", shop)           # patterns switched off, phrase absent


@pytest.mark.parametrize("text, expected", [
    ("您好，很高兴为您服务", True), ("在的呢亲~[微笑]", True), ("欢迎光临柚子家居", True),
    ("hello 亲", True), ("下午好", True), ("请问有什么可以帮您", True),
    ("this one", False), ("有货", False),
])
def test_greetings(text, expected):
    assert is_greeting(text) is expected


def test_seed_closing_stops_a_missing_closing():
    # Buyer asks at 10:00:00; agent answers 10:00:30 and at 10:01:00 sends the source's closing
    # sentence; the data ends at 10:10:00 (540 s of silence >= 300) -> closing due, not missing.
    rows = [("c", pd.Timestamp(f"2026-03-02 {t}"), s, r, x, "x.csv", i + 2, "店", "店:小美")
            for i, (t, s, r, x) in enumerate([
                ("10:00:00", "tb_1", "customer", "好的我考虑下"),
                ("10:00:30", "店:小美", "agent", "好的亲，有货的"),
                ("10:01:00", "店:小美", "agent", SEED)])]
    df = pd.DataFrame(rows, columns=MESSAGE_COLUMNS)
    df["sent_at"] = df["sent_at"].astype("datetime64[ns]")
    c = conversation_metrics(df, S, data_end="2026-03-02 10:10:00").conversations.iloc[0]
    assert bool(c["closing_due"]) and not bool(c["missing_closing"])
