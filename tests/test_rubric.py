"""Rubric loading/validation, forbidden words, conversation and agent scores.

Expected scores are worked out by hand from the rubric values in the test (or the shipped
preset, quoted in the comment), never copied from a run.
"""

from __future__ import annotations

import json
import math
import tomllib
from decimal import Decimal
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from qa_scorer.rubric import (
    PRESETS, RubricError, flag_forbidden, load_claim_lexicon, load_rubric, preset_text, rubric_from_mapping,
    score_agents, score_conversations, write_default_rubric,
)

DOCS = Path(__file__).resolve().parents[1] / "docs" / "rubric.md"
NAN = float("nan")


def conversation(cid="c1", agent="优衣库官方旗舰店:小美", **metrics):
    row = dict(conversation_id=cid, agent=agent, customer="tb_12345", rounds=1, slow_rounds=0,
               unanswered_rounds=0, within_3min_rate=1.0, short_replies=0, product_answer_short=0,
               missing_closing=False, closing_due=False, greeted=False, first_response_s=10.0)
    row.update(metrics)
    return row


def reply(cid="c1", text="好的呢亲，马上为您查询", **tags):
    row = dict(conversation_id=cid, agent="优衣库官方旗舰店:小美", text=text, is_auto=False, is_closing=False)
    row.update(tags)
    return row


def items_of(score_items: str) -> dict[str, dict]:
    return {entry["item"]: entry for entry in json.loads(score_items)}


def points_sum(score_items: str) -> Decimal:
    return sum((Decimal(str(e["points"])) for e in json.loads(score_items)), Decimal(0))


def rubric_with(**tables):
    """A minimal rubric mapping: every item 0 unless given."""
    return rubric_from_mapping(tables, where="test")


# --- the worked example of docs/rubric.md ------------------------------------------------------

def worked_example_tables():
    """Conversation c1 of docs/rubric.md: 4 rounds (answered in 40 s, 150 s, 400 s, never),
    "不会" is both a short reply and a short product answer, one reply is pushy + overclaim and
    contains 全网最低, the agent greeted and sent a closing."""
    conv = pd.DataFrame([
        conversation("c1", rounds=4, slow_rounds=2, unanswered_rounds=1, within_3min_rate=0.5,
                     short_replies=1, product_answer_short=1, missing_closing=False, greeted=True,
                     first_response_s=40.0),
        conversation("c2", rounds=1, greeted=True),
        conversation("c3", rounds=2, slow_rounds=1, short_replies=1, missing_closing=True,
                     within_3min_rate=1.0),
    ])
    rep = pd.DataFrame([
        reply("c1", "您好亲，在的呢~160的话建议拿S码，平时穿M的也可以拿S哦"),
        reply("c1", "有一点"),
        reply("c1", "全网最低价了亲，今天不拍明天就没了哦", pushy=1, overclaim=1),
        reply("c1", "亲爱的您可以看下我们店铺内有没有您喜欢的商品，有问题随时联系我哦", is_closing=True),
        reply("c2", "您好，有的亲，这款是纯棉的，洗了不会缩水哦"),
        reply("c2", "不客气，祝您购物愉快~", is_closing=True),
        reply("c3", "自己看详情", unhelpful=1),
        reply("c3", "嗯"),
    ])
    for tag in ("pushy", "unhelpful", "rude", "overclaim"):
        rep[tag] = rep.get(tag, pd.Series(0, index=rep.index)).fillna(0).astype(int)
    return conv, rep


def test_worked_example_default_rubric():
    conv, rep = worked_example_tables()
    out = score_conversations(conv, rep, load_rubric())
    c1 = out.iloc[0]
    # default: slow 2x2, unanswered 5, rate 0.5<0.8 -> 1 + 0.05x30, short 1, product 2, pushy 2,
    # overclaim 5, forbidden 5 = 26.5; bonuses closing 2 + greeting 1 -> 100 - 26.5 + 3 = 76.5
    assert c1["ded_slow_rounds"] == 4.0
    assert c1["ded_unanswered_rounds"] == 5.0
    assert c1["ded_within_3min_rate"] == 2.5
    assert c1["ded_short_replies"] == 1.0
    assert c1["ded_product_answer_short"] == 2.0
    assert c1["ded_pushy"] == 2.0
    assert c1["ded_overclaim"] == 5.0
    assert c1["ded_forbidden"] == 5.0
    assert c1["bonus_closing"] == 2.0 and c1["bonus_greeting"] == 1.0
    assert c1["service_score"] == 76.5
    assert not c1["auto_failed"]
    parts = items_of(c1["score_items"])
    assert parts["within_3min_rate"]["value"] == 0.5
    assert parts["closing"]["points"] == -2.0
    assert points_sum(c1["score_items"]) == Decimal("23.5")
    # c2: nothing deducted, bonuses 3 would lift it to 103 -> bonus_ceiling gives back 3
    assert out.iloc[1]["service_score"] == 100.0
    assert out.iloc[1]["ded_bonus_ceiling"] == 3.0
    # c3: slow 2 + short 1 + missing closing 3 + unhelpful 4 = 10
    assert out.iloc[2]["service_score"] == 90.0


def test_worked_example_presets_differ():
    conv, rep = worked_example_tables()
    pre = score_conversations(conv, rep, load_rubric(preset="presales")).iloc[0]
    # presales: forbidden is an auto-fail item, but a word-list hit is machine evidence: the
    # conversation keeps its ordinary score and waits for a person; pushy is coached only.
    # items 6 + 8 + 6 + 1.5 + 3 + 6 + 10 = 40.5, bonuses 3 + 2 -> 64.5
    assert not pre["auto_failed"] and pre["service_score"] == 64.5
    assert pre["needs_review"]
    assert pre["review_reasons"] == "机器标记：广告法违禁用语(forbidden)：全网最低，需人工确认"
    assert pre["ded_pushy"] == 0.0
    assert items_of(pre["score_items"])["pushy"]["kind"] == "coached"
    # once a person confirms the forbidden item, the auto-fail applies: 64.5 -> 0
    confirmed = score_conversations(conv, rep, load_rubric(preset="presales"),
                                    confirmed_items={"c1": ["forbidden"]}).iloc[0]
    assert confirmed["auto_failed"] and confirmed["service_score"] == 0.0
    assert confirmed["auto_fail_reason"] == "forbidden" and not confirmed["needs_review"]
    assert confirmed["ded_auto_fail"] == 64.5
    after = score_conversations(conv, rep, load_rubric(preset="aftersales")).iloc[0]
    # aftersales: 3 + 6 + 2.5 + 1 + 0 + 2 + 4 + 5 = 23.5, bonuses 3 -> 79.5
    assert after["ded_product_answer_short"] == 0.0
    assert after["service_score"] == 79.5


def test_worked_example_agent_scores():
    conv, rep = worked_example_tables()
    rubric = load_rubric()
    scored = score_conversations(conv, rep, rubric)
    agents = pd.DataFrame({"agent": ["优衣库官方旗舰店:小美"], "within_3min_rate": [0.85],
                           "reply_rate": [0.96], "greeting_rate": [0.7], "slow_receptions": [1]})
    out = score_agents(agents, scored, rubric).iloc[0]
    # mean(76.5, 100, 90) = 88.833 -> 88.8; rate 0.85 < 0.9 -> 2 + 0.2x5 = 3; slow_receptions 0.5
    assert out["conversation_score_mean"] == 88.8
    assert out["agent_ded_within_3min_rate"] == 3.0
    assert out["agent_ded_reply_rate"] == 0.0
    assert out["agent_ded_slow_receptions"] == 0.5
    assert out["service_score"] == 85.3
    assert out["conversations_scored"] == 3
    assert points_sum(out["score_items"]) == Decimal("14.7")
    # weighted by rounds (4, 1, 2): (76.5x4 + 100x1 + 90x2) / 7 = 83.714 -> 83.7
    weighted = rubric_with(agent={"weight": "rounds"})
    assert score_agents(agents, scored, weighted).iloc[0]["conversation_score_mean"] == 83.7


def test_docs_show_the_worked_example_numbers():
    text = DOCS.read_text(encoding="utf-8")
    for number in ("76.5", "23.5", "64.5", "79.5", "88.8", "85.3", "83.7"):
        assert number in text, f"docs/rubric.md lost the worked-example figure {number}"


# --- the exact-sum rule -----------------------------------------------------------------------

def test_breakdown_always_sums_to_100_minus_score():
    rng = np.random.default_rng(7)
    n = 400
    conv = pd.DataFrame({
        "conversation_id": [f"c{i}" for i in range(n)],
        "agent": rng.choice(["s:a", "s:b", "s:c"], n),
        "rounds": rng.integers(0, 12, n),
        "slow_rounds": rng.integers(0, 8, n),
        "unanswered_rounds": rng.integers(0, 5, n),
        "within_3min_rate": np.where(rng.random(n) < 0.1, np.nan, rng.random(n).round(3)),
        "short_replies": rng.integers(0, 9, n),
        "product_answer_short": rng.integers(0, 4, n),
        "missing_closing": rng.random(n) < 0.3,
        "greeted": rng.random(n) < 0.6,
        "first_response_s": rng.integers(0, 200, n).astype(float),
        "pushy": rng.integers(0, 3, n), "unhelpful": rng.integers(0, 4, n),
        "rude": (rng.random(n) < 0.05).astype(int), "overclaim": rng.integers(0, 3, n),
    })
    # a person confirmed every third rude tag (the other rude tags only mark needs_review)
    conv["confirmed_items"] = np.where(conv.index % 3 == 0, "rude", "")
    # the first 30 conversations are spotless, so bonuses hit the 100 ceiling
    clean = conv.index < 30
    for col in ("slow_rounds", "unanswered_rounds", "short_replies", "product_answer_short", "pushy",
                "unhelpful", "rude", "overclaim"):
        conv.loc[clean, col] = 0
    conv.loc[clean, ["within_3min_rate", "missing_closing", "greeted"]] = [1.0, False, True]
    rep = pd.DataFrame({"conversation_id": rng.choice(conv["conversation_id"][30:], 2 * n),
                        "text": rng.choice(["好的亲", "全网最低哦", "国家级品质绝对放心", "祝您购物愉快"], 2 * n),
                        "is_auto": False})
    rep["is_closing"] = rep["text"] == "祝您购物愉快"
    seen = set()
    for preset in PRESETS:
        out = score_conversations(conv, rep, load_rubric(preset=preset))
        ded = out.filter(regex="^ded_").sum(axis=1) - out.filter(regex="^bonus_").sum(axis=1)
        for items, score, d in zip(out["score_items"], out["service_score"], ded):
            assert 0 <= score <= 100
            assert points_sum(items) == Decimal(100) - Decimal(str(score))
            assert round(d, 6) == round(100 - score, 6)
            seen.update(e["item"] for e in json.loads(items))
        agents = score_agents(pd.DataFrame({"agent": ["s:a", "s:b", "s:c"], "within_3min_rate": [0.5, 0.95, NAN],
                                            "reply_rate": [0.9, 1.0, 0.2], "greeting_rate": [1, 1, 1],
                                            "slow_receptions": [0, 3, 40]}),
                              out, load_rubric(preset=preset))
        for items, score in zip(agents["score_items"], agents["service_score"]):
            assert points_sum(items) == Decimal(100) - Decimal(str(score))
    # the random tables exercised every adjustment kind
    assert {"cap_adjustment", "bonus_ceiling", "auto_fail"} <= seen


def test_conversation_cap_and_item_cap():
    rubric = rubric_with(score={"max_deduction": 30},
                         items={"slow_rounds": {"points": 3, "cap": 12}, "unanswered_rounds": {"points": 10}})
    conv = pd.DataFrame([conversation(slow_rounds=9, unanswered_rounds=3)])
    out = score_conversations(conv, pd.DataFrame(columns=["conversation_id", "text"]), rubric).iloc[0]
    assert out["ded_slow_rounds"] == 12.0          # 27 capped at 12
    assert out["ded_unanswered_rounds"] == 30.0    # no item cap
    assert out["ded_cap_adjustment"] == -12.0      # 42 -> 30
    assert out["service_score"] == 70.0
    assert items_of(out["score_items"])["cap_adjustment"]["points"] == -12.0


def test_rounding_half_up_to_tenths():
    rubric = rubric_with(items={"short_replies": {"points": 0.25},
                                "within_3min_rate": {"target": 0.9, "points_per_pct": 0.15}})
    # 3 x 0.25 = 0.75 -> 0.8 ; (0.9 - 0.75) x 100 = 15 pct x 0.15 = 2.25 -> 2.3
    conv = pd.DataFrame([conversation(short_replies=3, within_3min_rate=0.75)])
    out = score_conversations(conv, pd.DataFrame(columns=["conversation_id", "text"]), rubric).iloc[0]
    assert out["ded_short_replies"] == 0.8
    assert out["ded_within_3min_rate"] == 2.3
    assert out["service_score"] == 96.9


def test_rate_item_boundaries():
    rubric = rubric_with(items={"within_3min_rate": {"target": 0.8, "points": 1, "points_per_pct": 0.05, "cap": 5}})
    conv = pd.DataFrame([conversation("a", within_3min_rate=0.8), conversation("b", within_3min_rate=NAN),
                         conversation("c", within_3min_rate=0.0), conversation("d", within_3min_rate=0.79)])
    out = score_conversations(conv, pd.DataFrame(columns=["conversation_id", "text"]), rubric)
    # at target: nothing; no counted rounds: nothing; 0.0 -> 1 + 4 = 5 (cap 5); 0.79 -> 1 + 0.05 = 1.05 -> 1.1
    assert list(out["ded_within_3min_rate"]) == [0.0, 0.0, 5.0, 1.1]


def test_auto_fail_records_its_own_item():
    rubric = load_rubric()  # default: rude auto-fails once a person confirmed it
    conv = pd.DataFrame([conversation(slow_rounds=1, greeted=True, rude=1, confirmed_items="rude")])
    out = score_conversations(conv, pd.DataFrame(columns=["conversation_id", "text"]), rubric).iloc[0]
    # slow 2 + rude 10 = 12, greeting +1 -> 89 before failing
    assert out["auto_failed"] and out["service_score"] == 0.0
    assert out["ded_auto_fail"] == 89.0
    assert items_of(out["score_items"])["auto_fail"]["reason"] == "rude"


def test_tags_absent_count_zero_and_tags_from_replies():
    rubric = rubric_with(items={"unhelpful": {"points": 4}, "pushy": {"points": 2}})
    conv = pd.DataFrame([conversation("a"), conversation("b")])
    no_tags = pd.DataFrame([reply("a"), reply("b")])
    out = score_conversations(conv, no_tags, rubric)
    assert list(out["service_score"]) == [100.0, 100.0]
    tagged = pd.DataFrame([reply("a", unhelpful=1, pushy=0), reply("a", unhelpful=1, pushy=1),
                           reply("b", unhelpful=0, pushy=0)])
    out = score_conversations(conv, tagged, rubric)
    assert list(out["ded_unhelpful"]) == [8.0, 0.0]
    assert list(out["service_score"]) == [90.0, 100.0]


def test_coached_only_tag_costs_nothing_but_is_reported():
    rubric = rubric_with(items={"pushy": {"points": 5, "deduct": False}})
    conv = pd.DataFrame([conversation(pushy=2)])
    out = score_conversations(conv, pd.DataFrame(columns=["conversation_id", "text"]), rubric).iloc[0]
    assert out["service_score"] == 100.0
    assert items_of(out["score_items"])["pushy"] == {"item": "pushy", "kind": "coached", "count": 2, "points": 0.0}


def test_scoring_in_chunks_equals_scoring_whole():
    conv, rep = worked_example_tables()
    rubric = load_rubric()
    whole = score_conversations(conv, rep, rubric)
    parts = pd.concat([score_conversations(conv.iloc[:1], rep, rubric),
                       score_conversations(conv.iloc[1:], rep[rep["conversation_id"] != "c1"], rubric)])
    pd.testing.assert_frame_equal(whole.reset_index(drop=True), parts.reset_index(drop=True))


def test_missing_metric_column_names_it():
    conv = pd.DataFrame([conversation()]).drop(columns=["slow_rounds"])
    with pytest.raises(ValueError, match="slow_rounds"):
        score_conversations(conv, pd.DataFrame(columns=["conversation_id", "text"]), load_rubric())


def test_fast_first_response_bonus():
    rubric = rubric_with(items={"slow_rounds": {"points": 5}},
                         bonus={"fast_first_response": {"points": 2, "within_s": 30}})
    conv = pd.DataFrame([conversation("a", slow_rounds=1, first_response_s=30.0),
                         conversation("b", slow_rounds=1, first_response_s=31.0),
                         conversation("c", slow_rounds=1, first_response_s=NAN)])
    out = score_conversations(conv, pd.DataFrame(columns=["conversation_id", "text"]), rubric)
    assert list(out["service_score"]) == [97.0, 95.0, 95.0]


def test_closing_bonus_ignores_auto_replies():
    rubric = rubric_with(items={"slow_rounds": {"points": 5}}, bonus={"closing": {"points": 2}})
    conv = pd.DataFrame([conversation("a", slow_rounds=1), conversation("b", slow_rounds=1)])
    rep = pd.DataFrame([reply("a", "祝您购物愉快", is_closing=True),
                        reply("b", "[自动回复]祝您购物愉快", is_closing=True, is_auto=True)])
    out = score_conversations(conv, rep, rubric)
    assert list(out["service_score"]) == [97.0, 95.0]


# --- forbidden words --------------------------------------------------------------------------

def test_flag_forbidden_hits_in_text_order():
    rubric = rubric_with(forbidden={"words": ["全网最低", "国家级", "100%有效", "绝对"],
                                    "allow_phrases": ["绝对保密"]})
    rep = pd.DataFrame([reply(text="我们是国家级认证，全网最低价"), reply(text="１００％有效哦"),
                        reply(text="您的信息绝对保密"), reply(text="这个绝对好用，绝对保密"),
                        reply(text="有的亲"), reply(text=None)])
    out = flag_forbidden(rep, rubric)
    # hits in the order they occur; 100%有效 (the shop's word) is longer than the lexicon's 100%
    assert list(out["forbidden_words"]) == ["国家级|全网最低", "100%有效", "", "绝对", "", ""]
    assert list(out["forbidden_categories"]) == ["extreme|extreme", "shop", "", "absolute", "", ""]
    assert list(out["forbidden"]) == [1, 1, 0, 1, 0, 0]


def test_forbidden_auto_replies_can_be_excluded():
    rubric = rubric_with(forbidden={"words": ["全网最低"], "include_auto_replies": False})
    rep = pd.DataFrame([reply(text="[自动回复]全网最低", is_auto=True), reply(text="全网最低")])
    assert list(flag_forbidden(rep, rubric)["forbidden"]) == [0, 1]
    # concatenated chunks may repeat index labels: flags stay on their own rows
    rep = pd.concat([rep, rep.iloc[::-1]])
    assert list(flag_forbidden(rep, rubric)["forbidden"]) == [0, 1, 1, 0]


def test_forbidden_counts_per_conversation():
    rubric = rubric_with(items={"forbidden": {"points": 5, "cap": 8}}, forbidden={"words": ["根治", "万能"]})
    conv = pd.DataFrame([conversation("a"), conversation("b")])
    rep = pd.DataFrame([reply("a", "根治脱发"), reply("a", "万能的"), reply("a", "根治又万能"), reply("b", "好的")])
    out = score_conversations(conv, rep, rubric)
    # a: three replies with hits -> 15, capped at 8
    assert list(out["ded_forbidden"]) == [8.0, 0.0]
    assert items_of(out.iloc[0]["score_items"])["forbidden"]["count"] == 3


# --- loading and validation -------------------------------------------------------------------

def test_presets_load_and_carry_their_weightings():
    default, pre, after = (load_rubric(preset=p) for p in ("default", "presales", "aftersales"))
    assert default.auto_fail_items == ["rude"]
    assert pre.coached_only == ["pushy"] and "forbidden" in pre.auto_fail_items
    assert pre.items["slow_rounds"].points > default.items["slow_rounds"].points
    assert after.items["unhelpful"].points > default.items["unhelpful"].points
    assert after.items["product_answer_short"].points == 0
    assert pre.agent_weight == "rounds"
    # the word lists moved to the shipped Advertising-Law lexicon, which every preset uses
    assert default.use_claim_lexicon and default.forbidden_words == []
    lexicon = {e.word: e for e in load_claim_lexicon()}
    assert lexicon["全网最低"].category == "extreme" and lexicon["根治"].category == "medical"
    assert lexicon["国家级"].article == "《广告法》第九条第三项" and lexicon["防癌"].article == "《广告法》第十七条"
    assert default.metrics.slow_seconds == 120 and default.metrics.within_seconds == 180


def test_metrics_table_feeds_settings():
    rubric = rubric_with(metrics={"platform": "taobao", "slow_seconds": 90})
    assert rubric.metrics.slow_seconds == 90
    assert rubric.metrics.latency_cap_s == 600  # from the taobao preset


@pytest.mark.parametrize("data, needle", [
    ({"itemz": {}}, "unknown key(s) 'itemz' in top level; allowed: name, description, metrics"),
    ({"items": {"spam": {"points": 1}}}, "unknown item 'spam' in [items]; allowed: slow_rounds"),
    ({"items": {"rude": {"points": -3}}}, "items.rude.points must be a number >= 0"),
    ({"items": {"rude": {"points": "10"}}}, "items.rude.points must be a number >= 0, got '10'"),
    ({"items": {"rude": {"pointz": 1}}}, "unknown key(s) 'pointz' in [items.rude]; allowed: points, cap, deduct, auto_fail"),
    ({"items": {"rude": {"deduct": "no"}}}, "items.rude.deduct must be true or false"),
    ({"items": {"rude": {"deduct": False, "auto_fail": True}}}, "auto_fail = true contradicts deduct = false"),
    ({"items": {"within_3min_rate": {"target": 80}}}, "between 0 and 1"),
    ({"metrics": {"slow_secs": 3}}, "unknown key(s) slow_secs; allowed:"),
    ({"metrics": {"platform": "jd"}}, "allowed: taobao, douyin, kuaishou, pdd"),
    ({"bonus": {"smile": {"points": 1}}}, "unknown bonus 'smile' in [bonus]; allowed: closing, greeting"),
    ({"bonus": {"fast_first_response": {"points": 1}}}, "within_s is required"),
    ({"agent": {"weight": "buyers"}}, "agent.weight must be one of conversations, rounds"),
    ({"agent": {"items": {"refund_rate": {}}}}, "unknown agent item 'refund_rate'"),
    ({"score": {"max_deduction": 120}}, "score.max_deduction must be between 0 and 100"),
    ({"forbidden": {"words": "全网最低"}}, "forbidden.words must be a list of non-empty strings"),
    ({"items": {"rude": 10}}, "items.rude must be a table"),
])
def test_broken_rubric_names_key_and_allowed_values(data, needle):
    with pytest.raises(RubricError) as exc:
        rubric_from_mapping(data, where="r.toml")
    assert needle in str(exc.value)
    assert str(exc.value).startswith("r.toml")


def test_unknown_tag_error_lists_the_tags():
    with pytest.raises(RubricError, match="classifier tags are: pushy, unhelpful, rude, overclaim"):
        rubric_from_mapping({"items": {"sarcastic": {"points": 3}}})


def test_load_rubric_file_errors(tmp_path):
    bad = tmp_path / "bad.toml"
    bad.write_text("[items.rude\npoints = 1\n", encoding="utf-8")
    with pytest.raises(RubricError, match="bad.toml: not valid TOML"):
        load_rubric(bad)
    with pytest.raises(RubricError, match="rubric file not found"):
        load_rubric(tmp_path / "missing.toml")


def test_write_default_rubric_round_trip_and_refuses_overwrite(tmp_path):
    target = tmp_path / "rubric.toml"
    write_default_rubric(target, preset="aftersales")
    assert target.read_text(encoding="utf-8") == preset_text("aftersales")
    assert load_rubric(target).to_dict()["items"] == load_rubric(preset="aftersales").to_dict()["items"]
    with pytest.raises(FileExistsError, match="--force"):
        write_default_rubric(target)
    write_default_rubric(target, force=True)
    assert tomllib.loads(target.read_text(encoding="utf-8"))["name"] == "default"


def test_absent_item_is_not_scored():
    rubric = rubric_with(items={"slow_rounds": {"points": 1}})
    conv = pd.DataFrame([conversation(slow_rounds=2, unanswered_rounds=4, short_replies=3)])
    out = score_conversations(conv, pd.DataFrame(columns=["conversation_id", "text"]), rubric).iloc[0]
    assert out["service_score"] == 98.0


# --- agent scores -----------------------------------------------------------------------------

def test_agent_floor_and_missing_agents():
    rubric = rubric_with(items={"unanswered_rounds": {"points": 20}},
                         agent={"items": {"reply_rate": {"target": 0.9, "points": 5, "points_per_pct": 1}}})
    conv = pd.DataFrame([conversation("a", agent="s:a", unanswered_rounds=5),
                         conversation("b", agent="s:a", unanswered_rounds=4)])
    scored = score_conversations(conv, pd.DataFrame(columns=["conversation_id", "text"]), rubric)
    agents = pd.DataFrame({"agent": ["s:a", "s:z"], "reply_rate": [0.5, 1.0]})
    out = score_agents(agents, scored, rubric)
    # s:a: scores 0 and 20 -> mean 10; reply 0.5 -> 5 + 40 = 45 -> floor at 0 gives 35 back
    assert out.iloc[0]["conversation_score_mean"] == 10.0
    assert out.iloc[0]["agent_ded_reply_rate"] == 45.0
    assert out.iloc[0]["agent_ded_floor_adjustment"] == -35.0
    assert out.iloc[0]["service_score"] == 0.0
    # s:z has no conversations: no score rather than a made-up one
    assert math.isnan(out.iloc[1]["service_score"]) and out.iloc[1]["conversations_scored"] == 0
    assert out.iloc[1]["score_items"] == "[]"


def test_agent_rounds_weight_falls_back_to_plain_mean_without_rounds():
    rubric = rubric_with(items={"slow_rounds": {"points": 10}}, agent={"weight": "rounds"})
    conv = pd.DataFrame([conversation("a", agent="s:a", rounds=0, slow_rounds=1),
                         conversation("b", agent="s:a", rounds=0, slow_rounds=0),
                         conversation("c", agent="s:b", rounds=3, slow_rounds=1),
                         conversation("d", agent="s:b", rounds=1, slow_rounds=0)])
    scored = score_conversations(conv, pd.DataFrame(columns=["conversation_id", "text"]), rubric)
    out = score_agents(pd.DataFrame({"agent": ["s:a", "s:b"]}), scored, rubric)
    # s:a: (90 + 100) / 2 = 95 ; s:b: (90x3 + 100x1) / 4 = 92.5
    assert list(out["service_score"]) == [95.0, 92.5]


def test_agent_mean_rounds_half_up():
    rubric = rubric_with(items={"short_replies": {"points": 0.4}, "slow_rounds": {"points": 0.3}})
    conv = pd.DataFrame([conversation("a", agent="s:a", short_replies=1),
                         conversation("b", agent="s:a", slow_rounds=1)])
    scored = score_conversations(conv, pd.DataFrame(columns=["conversation_id", "text"]), rubric)
    # (99.6 + 99.7) / 2 = 99.65 -> 99.7 (half up; half-even would give 99.6)
    assert score_agents(pd.DataFrame({"agent": ["s:a"]}), scored, rubric).iloc[0]["service_score"] == 99.7


def test_empty_tables():
    rubric = load_rubric()
    conv = pd.DataFrame([conversation()]).iloc[:0]
    scored = score_conversations(conv, pd.DataFrame(columns=["conversation_id", "text"]), rubric)
    assert len(scored) == 0 and "service_score" in scored.columns and "score_items" in scored.columns
    out = score_agents(pd.DataFrame({"agent": ["s:a"], "within_3min_rate": [0.5], "reply_rate": [1.0],
                                     "slow_receptions": [0]}), scored, rubric)
    assert math.isnan(out.iloc[0]["service_score"])
