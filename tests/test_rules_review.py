"""Rule 4 — "no zero without a person": machine evidence marks needs_review, never zeroes.

Conversation rows are built by hand; points come from the shipped default rubric
(slow 2, rude 10 auto-fail, forbidden 5, greeting bonus 1) quoted in each comment.
"""

import json

import pandas as pd

from qa_scorer.rubric import load_rubric, rubric_from_mapping, score_agents, score_conversations

EMPTY = pd.DataFrame(columns=["conversation_id", "text"])


def conversation(cid, agent="店:小美", **metrics):
    row = dict(conversation_id=cid, agent=agent, customer="tb_1", rounds=1, slow_rounds=0,
               unanswered_rounds=0, within_3min_rate=1.0, short_replies=0, product_answer_short=0,
               missing_closing=False, closing_due=False, greeted=False, first_response_s=10.0,
               pushy=0, unhelpful=0, rude=0, overclaim=0)
    row.update(metrics)
    return row


def test_rude_tag_alone_marks_review_and_keeps_the_ordinary_score():
    conv = pd.DataFrame([conversation("a", slow_rounds=1, greeted=True, rude=1),
                         conversation("b", rude=1, confirmed_items="rude"),
                         conversation("c", slow_rounds=1)])
    out = score_conversations(conv, EMPTY, load_rubric()).set_index("conversation_id")
    # a: slow 2 + rude 10 = 12, greeting +1 -> 89.0, not failed, waits for a person
    assert out.loc["a", "service_score"] == 89.0
    assert not out.loc["a", "auto_failed"] and out.loc["a", "needs_review"]
    assert out.loc["a", "review_reasons"] == "机器标记：态度差(rude)，需人工确认"
    # b: a person confirmed rude -> auto-fail: 100 - 10 = 90 recorded as auto_fail, score 0
    assert out.loc["b", "auto_failed"] and out.loc["b", "service_score"] == 0.0
    assert out.loc["b", "ded_auto_fail"] == 90.0 and not out.loc["b", "needs_review"]
    # c: nothing machine-flagged -> 100 - 2 = 98
    assert out.loc["c", "service_score"] == 98.0 and not out.loc["c", "needs_review"]
    assert out.loc["c", "review_reasons"] == ""
    # the breakdown still sums to 100 - score
    pts = sum(e["points"] for e in json.loads(out.loc["a", "score_items"]))
    assert round(pts, 1) == 11.0


def test_shop_can_opt_back_in_to_machine_auto_fail():
    rubric = rubric_from_mapping({"score": {"auto_fail_on_machine_evidence": True},
                                  "items": {"rude": {"points": 10, "auto_fail": True}}}, where="t")
    out = score_conversations(pd.DataFrame([conversation("a", rude=1)]), EMPTY, rubric).iloc[0]
    # 100 - 10 = 90 taken by the auto-fail -> 0, no review needed (the shop chose this)
    assert out["auto_failed"] and out["service_score"] == 0.0 and not out["needs_review"]


def test_metric_auto_fail_is_not_machine_evidence():
    # unanswered_rounds are measured from timestamps: an auto-fail on them applies at once.
    rubric = rubric_from_mapping({"items": {"unanswered_rounds": {"points": 5, "auto_fail": True}}}, where="t")
    out = score_conversations(pd.DataFrame([conversation("a", unanswered_rounds=1)]), EMPTY, rubric).iloc[0]
    assert out["auto_failed"] and not out["needs_review"]


def test_forbidden_hit_reason_names_the_word_and_agent_counts_reviews():
    rubric = load_rubric(preset="presales")  # forbidden: 10 points, auto-fail once confirmed
    conv = pd.DataFrame([conversation("a"), conversation("b"), conversation("c", agent="店:小王")])
    rep = pd.DataFrame({"conversation_id": ["a", "b", "c"], "is_auto": False, "is_closing": False,
                        "text": ["这款是国家级认证的面料", "好的亲", "好的亲"]})
    out = score_conversations(conv, rep, rubric, confirmed_items={}).set_index("conversation_id")
    # a: forbidden 10, fast-first-response bonus 2 (10 s <= 30 s) -> 92.0, needs_review with
    # the word; b, c clean -> 100 (the bonus cannot lift them above 100)
    assert out.loc["a", "service_score"] == 92.0 and out.loc["a", "needs_review"]
    assert out.loc["a", "review_reasons"] == "机器标记：广告法违禁用语(forbidden)：国家级，需人工确认"
    agents = score_agents(pd.DataFrame({"agent": ["店:小美", "店:小王"], "within_3min_rate": [1.0, 1.0],
                                        "reply_rate": [1.0, 1.0], "greeting_rate": [1.0, 1.0],
                                        "slow_receptions": [0, 0]}), out.reset_index(), rubric)
    assert agents["needs_review"].tolist() == [1, 0]
    assert agents["auto_failed_conversations"].tolist() == [0, 0]


def test_shipped_rubrics_say_so():
    for preset in ("default", "presales", "aftersales"):
        rubric = load_rubric(preset=preset)
        assert rubric.auto_fail_on_machine_evidence is False
