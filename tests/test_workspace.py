"""The QA workspace as a library: recording, re-auditing, review, appeals, periods, calibration,
payroll.  Every test runs twice: on SQLite and on a real PostgreSQL server (``db_url``).

Hand-computed figures come from the shipped samples' audit (conversations.csv / agents.csv):

- C20261120-018 (柚子家居旗舰店:七七), machine score 75.7 = 100 - (unanswered_rounds 5
  + product_answer_short 4 + unhelpful 4 + rude 10 + within_3min_rate 1.3); rude is an auto-fail
  item backed only by the model, so it waits for a person (needs_review).
- C20261120-034 (柚子家居旗舰店:阿杰), machine score 68.5 = 100 - (slow 2 + unanswered 5 +
  unhelpful 3x4 + rude 10 + within_3min_rate 2.5), needs_review for rude at message 7.
"""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pandas as pd
import pytest
from sqlalchemy import select

from qa_scorer.workspace import (
    ConflictError, NotFound, PeriodClosed, PermissionDenied, QueuePolicy, Workspace, WorkspaceError,
)
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.calibration import cohen_kappa, fleiss_kappa

QIQI, AJIE = "柚子家居旗舰店:七七", "柚子家居旗舰店:阿杰"
C018, C034 = "C20261120-018", "C20261120-034"
PERIOD = "2026-11"


@pytest.fixture
def ws(sample_workspace):
    return sample_workspace


def record(ws, result, conversations=None, rubric=None):
    from conftest import record_audit

    return record_audit(ws, result, conversations, rubric)


def dump(ws) -> dict[str, list]:
    """Every row of every table but the run log and the audit trail (which record the re-run)."""
    out = {}
    with ws.engine.connect() as conn:
        for table in S.metadata.sorted_tables:
            if table.name in ("runs", "events"):
                continue
            cols = [c for c in table.columns if c.name != "updated_at"]
            out[table.name] = sorted(map(tuple, conn.execute(select(*cols)).all()), key=repr)
    return out


def final(ws, key) -> float:
    return ws.conversation(key).conversation["final_score"]


# --- recording -----------------------------------------------------------------------------------

def test_recording_keeps_every_conversation_and_message(ws, sample_audit):
    st = ws.status()
    assert st["conversations"] == 96 and st["messages"] == 925 and st["runs"] == 1
    assert st["needs_review"] == 2
    view = ws.conversation(C018)
    assert view.conversation["machine_score"] == 75.7 == view.conversation["final_score"]
    assert view.messages["seq"].tolist() == list(range(1, 9))
    assert view.messages.loc[view.messages["seq"] == 6, "text"].item() == "说了多少遍了，看详情"
    assert view.messages.loc[view.messages["seq"] == 6, "rude"].item() == 1


def test_unreviewed_workspace_scores_equal_the_audit(ws, sample_audit):
    """No decisions yet: the workspace's agent scores are exactly the audit's agents.csv."""
    live = ws.final_agent_scores(PERIOD).set_index("agent")
    audit = sample_audit.agents.set_index("agent")
    assert sorted(live.index) == sorted(audit.index)
    pd.testing.assert_series_equal(live["service_score"].sort_index().astype(float),
                                   audit["service_score"].sort_index().astype(float))
    for col in ("reply_rate", "within_3min_rate", "conversations", "slow_receptions", "online_hours_est"):
        pd.testing.assert_series_equal(live[col].sort_index().astype(float), audit[col].sort_index().astype(float),
                                       check_names=False)
    assert live.loc[QIQI, "service_score"] == 75.2  # 1314.2 / 15 = 87.6; 87.6 - 4.1 - 8.3


def test_reaudit_of_the_same_input_changes_no_row(ws, sample_audit):
    ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="在确认需求")
    before = dump(ws)
    summary = record(ws, sample_audit)
    assert (summary.new, summary.updated, summary.unchanged) == (0, 0, 96)
    assert dump(ws) == before
    assert final(ws, C018) == 85.7


def test_new_rubric_is_a_new_version_and_keeps_decisions(ws, sample_audit):
    from qa_scorer.rubric import load_rubric, rubric_from_mapping, score_conversations

    ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="在确认需求")
    data = load_rubric().to_dict()
    data.pop("source")
    data["items"]["unhelpful"]["points"] = 6          # was 4
    stricter = rubric_from_mapping(data)
    rescored = score_conversations(sample_audit.conversations, sample_audit.replies, stricter)
    summary = record(ws, sample_audit, conversations=rescored, rubric=stricter)
    assert (summary.new, summary.updated, summary.unchanged) == (0, 96, 0)
    assert summary.rescored_with_decisions == 1
    view = ws.conversation(C018)
    assert view.conversation["version_no"] == 2
    assert view.conversation["machine_score"] == 73.7   # 100 - (5 + 4 + 6 + 10 + 1.3)
    assert view.conversation["final_score"] == 83.7     # the rejected rude stays rejected: 100 - (5 + 4 + 6 + 1.3)
    assert view.decisions["verdict"].tolist() == ["reject"]
    with ws.engine.connect() as conn:
        versions = conn.execute(select(S.conversation_versions)).mappings().all()
    assert len(versions) == 96
    old = [v for v in versions if v["final_score"] == 85.7]
    assert len(old) == 1 and old[0]["machine_score"] == 75.7


# --- review ----------------------------------------------------------------------------------------

def test_decisions_rescore_from_the_reviewed_facts(ws):
    r = ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="在确认需求")
    assert (r.score_before, r.score_after) == (75.7, 85.7)               # rude's 10 points given back
    r = ws.decide(C018, reviewer="rev1", item="unhelpful", seq=4, verdict="confirm", reason="确实敷衍")
    assert r.score_after == 85.7                                        # confirmed: unchanged
    r = ws.decide(C018, reviewer="rev1", item="pushy", seq=4, verdict="add", reason="漏标催单")
    assert r.score_after == 83.7                                        # pushy costs 2
    r = ws.decide(C018, reviewer="rev1", item="product_answer_short", verdict="adjust", value=1,
                  reason="第二个不是商品问题")
    assert r.score_after == 85.7                                        # 2 x 2 -> 1 x 2
    view = ws.conversation(C018)
    c = view.conversation
    assert c["reviewed"] and not c["needs_review"] and c["review_reasons"] == ""
    items = {i["item"]: i["points"] for i in view.final_items}
    assert items == {"unanswered_rounds": 5.0, "product_answer_short": 2.0, "pushy": 2.0, "unhelpful": 4.0,
                     "within_3min_rate": 1.3}
    assert sum(items.values()) == pytest.approx(100 - 85.7)
    found = view.findings().set_index(["item"])
    assert found.loc["rude", "decision"] == "reject" and found.loc["pushy", "machine"] == 0


def test_newest_decision_wins_and_older_ones_stay(ws):
    ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="先驳回")
    ws.decide(C018, reviewer="rev2", item="rude", seq=6, verdict="confirm", reason="组内复核：确属态度差")
    view = ws.conversation(C018)
    assert view.decisions["verdict"].tolist() == ["reject", "confirm"]
    # confirmed rude is an auto-fail item (default rubric): the person's confirmation zeroes the chat
    assert view.conversation["final_score"] == 0.0 and view.conversation["auto_failed"]
    assert not view.conversation["needs_review"]


def test_confirm_rest_marks_a_clean_conversation_reviewed(ws):
    clean = ws.scores_table(PERIOD).query("final_score == 100").iloc[0]["conversation"]
    r = ws.decide(clean, reviewer="rev1", verdict="confirm", reason="全部无误", confirm_rest=True)
    assert r.score_after == 100.0
    assert ws.conversation(clean).conversation["reviewed"]


def test_decision_needs_reason_and_a_real_target(ws):
    with pytest.raises(WorkspaceError, match="理由"):
        ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="  ")
    with pytest.raises(WorkspaceError, match="--verdict add"):
        ws.decide(C018, reviewer="rev1", item="pushy", seq=6, verdict="reject", reason="x")
    with pytest.raises(WorkspaceError, match="--verdict confirm 或 reject"):
        ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="add", reason="x")
    with pytest.raises(NotFound):
        ws.decide(C018, reviewer="rev1", item="rude", seq=5, verdict="add", reason="买家的话")
    with pytest.raises(WorkspaceError, match="未知项目"):
        ws.decide(C018, reviewer="rev1", item="typo", seq=6, verdict="add", reason="x")
    assert ws.conversation(C018).decisions.empty


def test_two_reviewers_at_once_one_wins_the_other_gets_a_conflict(ws):
    seen = ws.conversation(C018).conversation["row_version"]
    ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="在确认需求", expected_version=seen)
    with pytest.raises(ConflictError, match="已被他人修改"):
        ws.decide(C018, reviewer="rev2", item="rude", seq=6, verdict="confirm", reason="态度差",
                  expected_version=seen)
    view = ws.conversation(C018)
    assert view.decisions["reviewer"].tolist() == ["rev1"] and view.conversation["final_score"] == 85.7


def test_concurrent_decisions_in_threads(ws):
    seen = ws.conversation(C034).conversation["row_version"]
    barrier, outcomes = threading.Barrier(2), []

    def decide(reviewer, verdict):
        barrier.wait()
        try:
            ws.decide(C034, reviewer=reviewer, item="rude", seq=7, verdict=verdict, reason="并发",
                      expected_version=seen)
            outcomes.append("ok")
        except ConflictError:
            outcomes.append("conflict")

    threads = [threading.Thread(target=decide, args=a) for a in (("rev1", "reject"), ("rev2", "confirm"))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["conflict", "ok"]
    assert len(ws.conversation(C034).decisions) == 1


def test_nobody_reviews_their_own_conversations(ws):
    ws.add_user("qiqi_rev", "reviewer", agent=QIQI)   # a reviewer who also serves buyers
    with pytest.raises(PermissionDenied, match="不能复核自己的会话"):
        ws.decide(C018, reviewer="qiqi_rev", item="rude", seq=6, verdict="reject", reason="不是我")
    added = ws.build_queue(PERIOD, reviewers=["qiqi_rev", "rev1"], policy=QueuePolicy(lowest=30), actor="lead")
    mine = added[added["reviewer"] == "qiqi_rev"]
    assert len(mine) > 0 and QIQI not in set(mine["agent"])
    assert set(added.loc[added["agent"] == QIQI, "reviewer"]) == {"rev1"}


def test_roles_are_checked(ws):
    with pytest.raises(PermissionDenied):
        ws.decide(C018, reviewer="qiqi", item="rude", seq=6, verdict="reject", reason="x")
    with pytest.raises(PermissionDenied):
        ws.close_period(PERIOD, lead="rev1")
    with pytest.raises(PermissionDenied, match="只能查看自己的会话"):
        ws.conversation(C034, viewer="qiqi")
    assert ws.conversation(C018, viewer="qiqi").conversation["agent"] == QIQI
    ws.disable_user("rev2", actor="lead", reason="离职")
    with pytest.raises(PermissionDenied, match="已停用"):
        ws.decide(C018, reviewer="rev2", item="rude", seq=6, verdict="reject", reason="x")


def test_queue_policy(ws):
    added = ws.build_queue(PERIOD, reviewers=["rev1", "rev2"], policy=QueuePolicy(), actor="lead")
    # default: every needs_review conversation, lowest score first, assigned round-robin
    assert added["conversation"].tolist() == [C034, C018]
    assert added["reviewer"].tolist() == ["rev1", "rev2"]
    again = ws.build_queue(PERIOD, reviewers=["rev1", "rev2"], policy=QueuePolicy(), actor="lead")
    assert again.empty                                  # an open item is never queued twice
    more = ws.build_queue(PERIOD, reviewers=["rev1"], actor="lead",
                          policy=QueuePolicy(needs_review=False, lowest=3, random_pct=10, limit=200))
    scores = ws.scores_table(PERIOD).set_index("conversation")
    lowest = more[more["reasons"].str.contains("lowest_score")]["conversation"].tolist()
    # the three lowest not already queued (034 at 68.5 and 018 at 75.7 are): 72.0, 73.0, 78.7
    assert scores.loc[lowest, "final_score"].tolist() == [72.0, 73.0, 78.7]
    assert scores.drop([C034, C018])["final_score"].nsmallest(3).tolist() == [72.0, 73.0, 78.7]
    per_agent = scores.groupby("agent").size()
    random = more[more["reasons"].str.contains("random_10%")]
    # 10% of each agent's conversations, at least one: round(n * 0.1) or 1
    assert len(random) == sum(max(1, round(n * 0.1)) for n in per_agent)
    limited = ws.build_queue(PERIOD, reviewers=["rev1"], actor="lead",
                             policy=QueuePolicy(needs_review=False, lowest=50, limit=5))
    assert len(limited) == 5
    ws.decide(C034, reviewer="rev1", item="rude", seq=7, verdict="reject", reason="是流程说明")
    assert C034 not in ws.queue(reviewer="rev1")["conversation"].tolist()


# --- appeals -----------------------------------------------------------------------------------------

def test_appeal_overturned_rescores(ws):
    ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="在确认需求")
    pushy = ws.decide(C018, reviewer="rev1", item="pushy", seq=4, verdict="add", reason="漏标催单")
    assert pushy.score_after == 83.7
    a = ws.file_appeal(C018, agent="qiqi", comment="买家问尺码，我没有催单", decision_ids=pushy.decision_ids)
    assert a["status"] == "pending" and a["score_before"] == 83.7
    with pytest.raises(WorkspaceError, match="仍在处理中"):
        ws.file_appeal(C018, agent="qiqi", comment="再申诉")
    with pytest.raises(PermissionDenied):
        ws.decide_appeal(a["id"], lead="rev1", outcome="overturn", reason="x")
    done = ws.decide_appeal(a["id"], lead="lead", outcome="overturn", reason="确实没有催单")
    assert (done["status"], done["score_after"]) == ("overturned", 85.7)
    view = ws.conversation(C018)
    assert view.decisions["source"].tolist() == ["review", "review", "appeal"]
    assert view.conversation["final_score"] == 85.7
    assert ws.final_agent_scores(PERIOD).set_index("agent").loc[QIQI, "appeals_changed"] == 1


def test_appeal_upheld_changes_nothing(ws):
    ws.decide(C034, reviewer="rev1", item="slow_rounds", verdict="confirm", reason="确实慢")
    a = ws.file_appeal(C034, agent="ajie", comment="当时在处理别的买家")
    done = ws.decide_appeal(a["id"], lead="lead", outcome="uphold", reason="3分钟内应先回复")
    assert done["status"] == "upheld" and done["score_after"] == done["score_before"] == 68.5
    with pytest.raises(WorkspaceError, match="已经裁决"):
        ws.decide_appeal(a["id"], lead="lead", outcome="overturn", reason="x")


def test_appeal_rules(ws):
    with pytest.raises(WorkspaceError, match="尚未复核"):
        ws.file_appeal(C018, agent="qiqi", comment="x")
    r = ws.decide(C018, reviewer="rev1", item="unhelpful", seq=4, verdict="confirm", reason="敷衍")
    with pytest.raises(PermissionDenied, match="只能对自己的会话申诉"):
        ws.file_appeal(C018, agent="ajie", comment="x")
    with pytest.raises(WorkspaceError, match="申诉必须写明理由"):
        ws.file_appeal(C018, agent="qiqi", comment=" ")
    decided_at = datetime.fromisoformat(ws.conversation(C018).decisions["created_at"].max())
    with pytest.raises(WorkspaceError, match="申诉期已于"):
        ws.file_appeal(C018, agent="qiqi", comment="晚了", now=decided_at + timedelta(days=7, minutes=1))
    ws.set_setting("appeal_window_days", "10", actor="lead", reason="双十一加长")
    a = ws.file_appeal(C018, agent="qiqi", comment="详情页确实写了", now=decided_at + timedelta(days=9))
    assert json.loads(a["decision_ids"]) == r.decision_ids
    with pytest.raises(WorkspaceError, match="1 到 30"):
        ws.set_setting("appeal_window_days", "45", actor="lead")


# --- periods and payroll -------------------------------------------------------------------------------

def test_period_close_needs_open_items_settled(ws, sample_audit):
    with pytest.raises(WorkspaceError, match="还有 2 个待人工复核会话未复核") as err:
        ws.close_period(PERIOD, lead="lead")
    assert C034 in str(err.value) and C018 in str(err.value)
    with pytest.raises(WorkspaceError, match="--force 必须配合 --reason"):
        ws.close_period(PERIOD, lead="lead", force=True)
    st = ws.close_period(PERIOD, lead="lead", force=True, reason="月底结算，两条待复核另行处理")
    assert st["status"] == "closed" and st["close_no"] == 1
    with pytest.raises(PeriodClosed, match="重新开账"):
        ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="x")
    summary = record(ws, sample_audit)
    assert summary.skipped_closed == 96 and summary.new == summary.updated == 0
    frozen = ws.final_agent_scores(PERIOD).set_index("agent")
    assert frozen.loc[QIQI, "service_score"] == 75.2
    ws.reopen_period(PERIOD, lead="lead", reason="补复核两条")
    ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="在确认需求")
    ws.decide(C034, reviewer="rev1", item="rude", seq=7, verdict="reject", reason="流程说明")
    st = ws.close_period(PERIOD, lead="lead")
    assert st["close_no"] == 2 and st["needs_review_open"] == 0
    # 七七: (1314.2 - 75.7 + 85.7) / 15 = 88.28 -> 88.3; 88.3 - 4.1 - 8.3 = 75.9
    assert ws.final_agent_scores(PERIOD).set_index("agent").loc[QIQI, "service_score"] == 75.9
    with ws.engine.connect() as conn:
        kinds = conn.execute(select(S.events.c.kind).order_by(S.events.c.id)).scalars().all()
        frozen_rows = conn.execute(select(S.period_scores.c.close_no)).scalars().all()
    assert kinds.count("period_close") == 2 and "period_reopen" in kinds
    assert sorted(set(frozen_rows)) == [1, 2]            # the first closing's rows are kept


def test_payroll_pays_only_closed_final_scores(ws, tmp_path):
    from qa_scorer.commission import load_scheme, read_sales

    sales = read_sales("sample_transcripts/sales_2026-11.csv")
    with pytest.raises(WorkspaceError, match="尚未结账"):
        ws.payroll(PERIOD, sales, load_scheme("default"))
    ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="在确认需求")
    ws.decide(C034, reviewer="rev1", item="rude", seq=7, verdict="reject", reason="流程说明")
    ws.close_period(PERIOD, lead="lead")
    rows = ws.payroll(PERIOD, sales, load_scheme("default")).rows.set_index("agent")
    # 七七 presales: 183,240.00 x 0.005 x 75.9 / 100 = 695.3958 -> 695.40
    assert str(rows.loc[QIQI, "commission"]) == "695.40"
    assert rows.loc[QIQI, "reviewed_conversations"] == 1 and rows.loc[QIQI, "appeals_changed"] == 0
    # 阿杰 aftersales: conversations (1568.4 - 68.5 + 78.5) / 16 = 98.65 -> 98.7 (was 98.0); no agent
    # deductions; 318 returns x 342.50 x 0.008 x 98.7 / 100 = 859.99284 -> 859.99
    assert str(rows.loc[AJIE, "commission"]) == "859.99"


# --- calibration ------------------------------------------------------------------------------------

def test_kappa_by_hand():
    # 4 units, 2 raters: (0,0) (1,1) (1,0) (0,0)
    # Fleiss: p = [5/8, 3/8]; P_i = 1, 1, 0, 1 -> 0.75; Pe = 0.53125; (0.75-0.53125)/0.46875 = 0.4667
    assert fleiss_kappa([[2, 0], [0, 2], [1, 1], [2, 0]]) == pytest.approx(0.466667, abs=1e-6)
    # Cohen: po = 0.75; pe = 0.5*0.25 + 0.5*0.75 = 0.5 -> 0.5
    assert cohen_kappa([0, 1, 1, 0], [0, 1, 0, 0]) == pytest.approx(0.5)
    assert fleiss_kappa([[3, 0], [3, 0]]) != fleiss_kappa([[3, 0], [3, 0]])   # one category only: NaN


def test_calibration_session_report(ws):
    """Two sampled conversations (flagged first, fixed random order), three reviewers, blind.

    A = 20261119002 (85.0): replies 2, 4, 6; reply 6 flagged overclaim (+ a forbidden word).
    B = C20261120-015 (85.0): replies 3, 5, 7, 10; reply 5 flagged unhelpful.
    rev1: A confirm all, B reject unhelpful@5 -> 85.0, 89.0
    rev2: A confirm all, B confirm all        -> 85.0, 85.0
    rev3: A reject overclaim@6, B confirm all -> 90.0, 85.0
    """
    ws.add_user("rev3", "reviewer")
    session = ws.start_calibration("11月校准", reviewers=["rev1", "rev2", "rev3"], size=2, period=PERIOD,
                                   actor="lead")
    a, b = "20261119002", "C20261120-015"
    assert session["conversations"] == [a, b]
    sid = session["id"]
    for who in ("rev1", "rev2"):
        ws.decide(a, reviewer=who, verdict="confirm", reason="无误", confirm_rest=True, calibration=sid)
    ws.decide(a, reviewer="rev3", item="overclaim", seq=6, verdict="reject", reason="只是夸张", calibration=sid)
    ws.decide(b, reviewer="rev1", item="unhelpful", seq=5, verdict="reject", reason="给了指引", calibration=sid)
    for who in ("rev2", "rev3"):
        ws.decide(b, reviewer=who, verdict="confirm", reason="无误", confirm_rest=True, calibration=sid)
    with pytest.raises(PermissionDenied, match="不是校准"):
        ws.decide(a, reviewer="lead", verdict="confirm", reason="x", confirm_rest=True, calibration=sid)
    # calibration never changes the live score, and each reviewer sees only their own judgements
    assert ws.conversation(a).conversation["final_score"] == 85.0 and not ws.conversation(a).conversation["reviewed"]
    assert set(ws.conversation(a, viewer="rev3", calibration=sid).decisions["reviewer"]) == {"rev3"}

    rep = ws.calibration_report(sid)
    tags = rep.tags.set_index("tag")
    # unhelpful over 7 reply units: six (0,0,0) and one (0,1,1).  Fleiss: p1 = 2/21,
    # P-bar = (6 + 2/6) / 7 = 19/21, Pe = (19/21)^2 + (2/21)^2 = 365/441 -> (399-365)/(441-365) = 34/76
    # Cohen pairs: rev1-rev2 0, rev1-rev3 0, rev2-rev3 1 -> mean 1/3.  overclaim: the same shape.
    for tag, flagged in (("unhelpful", [0, 1, 1]), ("overclaim", [1, 1, 0])):
        row = tags.loc[tag]
        assert row["units"] == 7
        assert [row["flagged_rev1"], row["flagged_rev2"], row["flagged_rev3"]] == flagged
        assert row["fleiss_kappa"] == pytest.approx(34 / 76)
        assert row["cohen_kappa_mean"] == pytest.approx(1 / 3)
    assert tags.loc["rude", "units"] == 7 and tags.loc["rude", "flagged_rev1"] == 0
    scores = rep.scores.set_index("conversation")
    assert scores.loc[a, ["rev1", "rev2", "rev3", "spread"]].tolist() == [85.0, 85.0, 90.0, 5.0]
    assert scores.loc[b, ["rev1", "rev2", "rev3", "spread"]].tolist() == [89.0, 85.0, 85.0, 4.0]
    assert scores.loc[a, "std"] == pytest.approx((50 / 9) ** 0.5)   # deviations -5/3, -5/3, 10/3
    # group mean 519 / 6 = 86.5; rev1 87.0, rev2 85.0 (strictest), rev3 87.5
    strict = rep.strictness.set_index("reviewer")["strictness"]
    assert strict.to_dict() == pytest.approx({"rev1": 0.5, "rev2": -1.5, "rev3": 1.0})


def test_model_vs_human_from_live_decisions(ws):
    ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="在确认需求")
    ws.decide(C018, reviewer="rev1", item="unhelpful", seq=4, verdict="confirm", reason="敷衍")
    ws.decide(C034, reviewer="rev1", item="unhelpful", seq=3, verdict="confirm", reason="推诿")
    ws.decide(C034, reviewer="rev1", item="pushy", seq=5, verdict="add", reason="漏标")
    sid = ws.start_calibration("x", reviewers=["rev1", "rev2"], size=1, period=PERIOD, actor="lead")["id"]
    mvh = ws.calibration_report(sid).model_vs_human.set_index("tag")
    assert mvh.loc["rude", ["confirmed", "rejected", "precision"]].tolist() == [0, 1, 0.0]
    assert mvh.loc["unhelpful", ["confirmed", "rejected", "precision", "recall"]].tolist() == [2, 0, 1.0, 1.0]
    assert mvh.loc["pushy", ["added", "recall"]].tolist() == [1, 0.0]


# --- trail and exports -------------------------------------------------------------------------------

def test_every_change_is_an_event(ws):
    ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="在确认需求")
    ev = ws.events(conversation=C018)
    assert ev["kind"].tolist() == ["decision"] and ev["actor"].tolist() == ["rev1"]
    assert ev["reason"].tolist() == ["在确认需求"]
    data = json.loads(ev["data_json"].iloc[0])
    assert (data["score_before"], data["score_after"]) == (75.7, 85.7)
    kinds = ws.events(limit=1000)["kind"].tolist()
    assert kinds.count("user_add") == 5 and kinds.count("audit") == 1


def test_export_scores(ws, tmp_path):
    from qa_scorer.workspace.exports import write_sheets

    ws.decide(C018, reviewer="rev1", item="rude", seq=6, verdict="reject", reason="在确认需求")
    table = ws.scores_table(PERIOD).set_index("conversation")
    assert len(table) == 96
    assert table.loc[C018, ["machine_score", "final_score", "decisions"]].tolist() == [75.7, 85.7, 1]
    written = write_sheets(tmp_path / "scores.xlsx", {"agents": ws.final_agent_scores(PERIOD),
                                                      "conversations": table.reset_index()})
    sheets = pd.read_excel(written[0], sheet_name=None)
    assert set(sheets) == {"agents", "conversations"} and len(sheets["conversations"]) == 96


def test_workspace_refuses_what_it_cannot_open(tmp_path, db_url):
    with pytest.raises(WorkspaceError, match="还不是 qa-scorer 工作区"):
        Workspace(db_url, create=False)
    with pytest.raises(WorkspaceError, match="不存在"):
        Workspace(str(tmp_path / "missing" / "qa.db"))


def test_a_later_export_with_more_messages_updates_that_conversation_only(db_url, tmp_path):
    """The real `audit --db` path twice: the second export has one more message in 018 (the agent
    apologises after the buyer's complaint).  Only 018 becomes a new version; its decisions stay."""
    import shutil

    from qa_scorer.pipeline import AuditOptions, audit

    src = tmp_path / "exports"
    shutil.copytree("sample_transcripts", src)
    opts = AuditOptions(out_dir=tmp_path / "out", db=db_url, html=False, xlsx=False, executor="in-process")
    first = audit([src], opts).run_info["workspace"]
    assert (first["new"], first["updated"], first["unchanged"]) == (96, 0, 0)
    ws = Workspace(db_url)
    ws.add_user("rev1", "reviewer")
    ws.decide(C018, reviewer="rev1", item="unhelpful", seq=4, verdict="reject", reason="给了指引")
    assert final(ws, C018) == 79.7                       # 75.7 + unhelpful 4
    with open(src / "shop_day_2026-11-20.csv", "a", encoding="utf-8") as fh:
        fh.write("C20261120-018,2026-11-20 10:54:30,柚子家居旗舰店:七七,agent,抱歉亲，1.8米的床选200x230正好\n")
    second = audit([src], opts).run_info["workspace"]
    assert (second["new"], second["updated"], second["unchanged"]) == (0, 1, 95)
    assert second["rescored_with_decisions"] == 1
    view = ws.conversation(C018)
    assert view.conversation["version_no"] == 2 and len(view.messages) == 9
    assert view.decisions["verdict"].tolist() == ["reject"]
    assert view.conversation["final_score"] != view.conversation["machine_score"]
    ws.close()
