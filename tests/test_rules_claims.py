"""Rule 3 — claims vs promises: the Advertising-Law lexicon matches claims, not substrings.

Each case is a reply text; the expected hits are read off the lexicon rules
(qa_scorer/data/ad_law_lexicon.toml) by hand.
"""

import pandas as pd
import pytest

from qa_scorer.rubric import (
    flag_forbidden,
    load_claim_lexicon,
    load_rubric,
    rubric_from_mapping,
    score_conversations,
)

DEFAULT = rubric_from_mapping({}, where="test")  # the shipped lexicon, no shop words


def hits(text, rubric=DEFAULT):
    out = flag_forbidden(pd.DataFrame({"text": [text]}), rubric).iloc[0]
    return out["forbidden_words"], out["forbidden_categories"]


@pytest.mark.parametrize("text", [
    "我绝对帮您处理好",          # service promise (帮您) - the old substring rule hit 绝对
    "第一时间给您发货",          # ordinal/time: 第一时间
    "不能保证哦亲",              # no lexicon word at all
    "最近很多人买",              # time word 最近
    "最快明天发货",              # logistics estimate (documented: not a product claim)
    "不是最低价哦",              # negation before the word
    "100%纯棉的哦",              # composition label
    "这款是100%精梳棉",          # composition label: up to 3 characters, then a fibre word
    "鞋面100%头层牛皮",          # composition label: leather
    "万能胶也有的",              # 万能 inside the word 万能胶
    "您最好选大一码",            # 最好 as advice
    "您的信息绝对保密",          # privacy reassurance
    "最后一件了",                # 最后
    "最低能调到170度",           # a measured spec (digit within 6 characters)
    "最下面那层是收纳",          # a position
    "宝宝小的时候放最高档",      # a setting
    "把音量调到最大就可以",      # exempt_before: a setting
    "我们会尽最大努力处理",      # exempt_before: the shop's effort
    "您的满意是我们最大的动力",  # exempt_after: not about the product
    "我们会绝对保障您的信息安全",  # service promise (保障您)
])
def test_not_claims(text):
    assert hits(text) == ("", "")


@pytest.mark.parametrize("text, words, cats", [
    ("100%过滤有害物质，喝了能防癌", "100%|防癌", "absolute|medical"),   # substring rules missed 防癌
    ("全网最低价了亲", "全网最低", "extreme"),                           # leftmost-longest: not also 最低价
    ("这款是国家级认证的面料", "国家级", "extreme"),
    ("这个最好的面料", "最好", "extreme"),                               # prefix word 最 records 最好
    ("这个枕头最舒服了", "最舒服", "extreme"),
    ("这款绝对好用", "绝对", "absolute"),
    ("坚持用能治疗颈椎病", "治疗", "medical"),
    ("销量第一的款", "销量第一", "extreme"),
    ("永不褪色", "永不褪色", "absolute"),
    ("１００％有效", "100%", "absolute"),                                 # full-width folded
])
def test_claims(text, words, cats):
    assert hits(text) == (words, cats)


def test_lexicon_entries_carry_category_and_article():
    lexicon = {e.word: e for e in load_claim_lexicon()}
    assert (lexicon["国家级"].category, lexicon["国家级"].article) == ("extreme", "《广告法》第九条第三项")
    assert (lexicon["防癌"].category, lexicon["防癌"].article) == ("medical", "《广告法》第十七条")
    assert lexicon["100%"].article.startswith("see the law")
    assert lexicon["最"].prefix and lexicon["防癌"].label == "医疗用语"


def test_shop_words_extend_and_lexicon_can_be_switched_off():
    shop = rubric_from_mapping({"forbidden": {"words": ["秒杀价"]}}, where="t")
    assert hits("今天秒杀价哦", shop) == ("秒杀价", "shop")
    only_shop = rubric_from_mapping({"forbidden": {"lexicon": False, "words": ["秒杀价"]}}, where="t")
    assert hits("全网最低价", only_shop) == ("", "")


def test_promise_no_longer_zeroes_a_presales_conversation():
    # presales: forbidden 10 points, auto-fail (once confirmed).  Conversation a says
    # 我绝对帮您处理好 (no claim) -> nothing deducted: 100, no review.  Conversation b says
    # 喝了能防癌 (a medical claim) -> 10 deducted -> 90, needs_review naming 防癌.
    conv = pd.DataFrame([
        dict(conversation_id=c, agent="店:小美", rounds=1, slow_rounds=0, unanswered_rounds=0,
             within_3min_rate=1.0, short_replies=0, product_answer_short=0, missing_closing=False,
             greeted=False, first_response_s=100.0) for c in ("a", "b")])
    rep = pd.DataFrame({"conversation_id": ["a", "b"], "is_auto": False, "is_closing": False,
                        "text": ["亲，我绝对帮您处理好", "这个杯子喝了能防癌"]})
    out = score_conversations(conv, rep, load_rubric(preset="presales")).set_index("conversation_id")
    assert out.loc["a", "service_score"] == 100.0 and not out.loc["a", "needs_review"]
    assert out.loc["b", "service_score"] == 90.0 and not out.loc["b", "auto_failed"]
    assert out.loc["b", "review_reasons"] == "机器标记：广告法违禁用语(forbidden)：防癌，需人工确认"
