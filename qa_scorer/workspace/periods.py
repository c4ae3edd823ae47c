"""Periods (months): final agent scores, closing (freezing) and reopening.

An agent's final period score is the rubric's agent roll-up (``score_agents``) over the final
conversation scores, with the agent-level facts (reply rate, 3-minute rate, slow receptions)
measured from the stored rounds and replies (``agent_metrics``), exactly as ``audit`` does for
one run.  Closing stores these rows (``period_scores``) with the rubric and model identity; while
closed, nothing in the period changes and payroll reads the frozen rows.  Reopening is explicit,
needs a reason and is logged; the next close stores a new set (``close_no`` + 1), the earlier
ones stay.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
from sqlalchemy import Integer, cast, func, insert, select, update

from qa_scorer.i18n import _
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.db import NotFound, WorkspaceError, dumps, now_text
from qa_scorer.workspace.events import log_event
from qa_scorer.workspace.scoring import run_rubric

C = S.conversations.c
#: How many open items a refused close lists by name.
SHOWN_OPEN_ITEMS = 20


def _period_row(conn, period: str) -> dict | None:
    row = conn.execute(select(S.periods).where(S.periods.c.period == period)).mappings().first()
    return dict(row) if row else None


def _latest_run(conn, period: str) -> int:
    run_id = conn.execute(select(func.max(C.run_id)).where(C.period == period)).scalar()
    if run_id is None:
        raise NotFound(_("no conversations in period {period}; audit its chats with --db first").format(
            period=period))
    return int(run_id)


def _read(conn, query, columns, *, strings=(), times=(), flags=()) -> pd.DataFrame:
    """A query's rows as a table, read in batches and stored compactly (Arrow strings, datetimes,
    booleans) so a month of millions of rounds fits in memory.  Rows become plain tuples first:
    pandas probes SQLAlchemy Row objects attribute by attribute, which is slow on millions."""
    parts = []
    result = conn.execute(query.execution_options(yield_per=250_000))
    for rows in result.partitions():
        df = pd.DataFrame([tuple(r) for r in rows], columns=columns)
        for c in strings:
            df[c] = df[c].astype("string[pyarrow]")
        for c in times:
            df[c] = pd.to_datetime(df[c])
        for c in flags:
            df[c] = df[c].fillna(False).astype(bool)
        parts.append(df)
    if not parts:
        return pd.DataFrame(columns=columns)
    return pd.concat(parts, ignore_index=True) if len(parts) > 1 else parts[0]


#: The conversation facts the agent roll-up reads (the rest of facts_json is not loaded).
AGENT_FACTS = ("agent", "last_agent", "missing_closing", "agent_replies", "greeted", "buyer_upset_max", "rounds")


def live_agent_scores(conn, period: str) -> pd.DataFrame:
    """The agents table of ``period`` from the final (reviewed) conversation scores."""
    from qa_scorer import metrics
    from qa_scorer.rubric import score_agents
    from qa_scorer.settings import settings_from_mapping

    run_id = _latest_run(conn, period)
    rubric = run_rubric(conn, run_id)
    settings_json = conn.execute(select(S.runs.c.settings_json).where(S.runs.c.id == run_id)).scalar_one()
    settings = settings_from_mapping(json.loads(settings_json)) if settings_json else None
    conv = _read(conn, select(C.id, C.facts_json, C.final_score, C.auto_failed, C.needs_review, C.reviewed)
                 .where(C.period == period).order_by(C.id),
                 ["id", "facts_json", "final_score", "auto_failed", "needs_review", "reviewed"],
                 flags=("auto_failed", "needs_review", "reviewed"))
    loads = json.loads
    facts = pd.DataFrame([{k: f.get(k) for k in AGENT_FACTS} for f in map(loads, conv.pop("facts_json"))],
                         columns=list(AGENT_FACTS))
    for col in ("agent", "last_agent"):
        facts[col] = facts[col].astype("string[pyarrow]")
    facts["conversation_id"] = conv["id"].to_numpy()
    facts["service_score"] = conv["final_score"].astype(float).to_numpy()
    facts["auto_failed"] = conv["auto_failed"].to_numpy()
    facts["needs_review"] = conv["needs_review"].to_numpy()
    for col in ("missing_closing", "greeted"):
        facts[col] = facts[col].fillna(False).astype(bool)
    in_period = select(C.id).where(C.period == period)
    r = S.replies.c
    rep_cols = ["conversation_id", "seq", "agent", "sent_at", "is_auto", "short_reply", "pushy", "unhelpful", "rude",
                "overclaim"]
    replies = _read(conn, select(*[r[c] for c in rep_cols]).where(r.conversation_id.in_(in_period)), rep_cols,
                    strings=("agent",), times=("sent_at",), flags=("is_auto", "short_reply"))
    o = S.rounds.c
    round_cols = ["conversation_id", "round_index", "agent", "customer", "started_at", "latency_s",
                  "latency_for_avg_s", "in_hours", "counted", "answered", "within_3min", "slow", "first_counted",
                  "product_answer_short"]
    rounds = _read(conn, select(*[o[c] for c in round_cols]).where(o.conversation_id.in_(in_period)), round_cols,
                   strings=("agent", "customer"), times=("started_at",),
                   flags=("in_hours", "counted", "answered", "within_3min", "slow", "first_counted",
                          "product_answer_short"))
    for col in ("latency_s", "latency_for_avg_s"):
        rounds[col] = rounds[col].astype(float)
    agents = metrics.agent_metrics(replies, rounds, facts, settings)
    agents = score_agents(agents, facts, rubric)
    reviewed = pd.Series(conv["reviewed"].astype(bool).to_numpy(), index=facts.index).groupby(facts["agent"]).sum()
    agents["reviewed_conversations"] = agents["agent"].map(reviewed).fillna(0).astype("int64")
    a = S.appeals.c
    changed = _read(conn, select(C.agent, func.count()).select_from(S.appeals.join(S.conversations,
                                                                                  a.conversation_id == C.id))
                    .where(C.period == period).where(a.status == "overturned")
                    .where(a.score_after != a.score_before).group_by(C.agent), ["agent", "n"])
    agents["appeals_changed"] = agents["agent"].map(dict(zip(changed["agent"], changed["n"]))).fillna(0).astype("int64")
    return agents


def final_agent_scores(ws, period: str, *, live: bool = False) -> pd.DataFrame:
    """One row per agent: the agents.csv columns with ``service_score`` = the final period score,
    plus ``reviewed_conversations`` and ``appeals_changed``.  A closed period gives its frozen
    rows (``live=True``: recompute anyway)."""
    with ws.engine.connect() as conn:
        row = _period_row(conn, period)
        if row and row["status"] == "closed" and not live:
            ps = S.period_scores.c
            rows = conn.execute(select(ps.row_json).where(ps.period == period).where(ps.close_no == row["close_no"])
                                .order_by(ps.agent)).scalars().all()
            return pd.DataFrame([json.loads(t) for t in rows])
        return live_agent_scores(conn, period)


def open_items(conn, period: str, shown: int = SHOWN_OPEN_ITEMS) -> dict:
    """What blocks closing: unreviewed needs_review conversations and pending appeals (counts, and
    the first ``shown`` of each by name: a big month may have hundreds of thousands)."""
    base = select(C.conversation_key).where(C.period == period).where(C.needs_review.is_(True))
    n_review = conn.execute(select(func.count()).select_from(base.subquery())).scalar()
    unreviewed = conn.execute(base.order_by(C.id).limit(shown)).scalars().all()
    a = S.appeals.c
    pending = (select(a.id, C.conversation_key).select_from(S.appeals.join(S.conversations, a.conversation_id == C.id))
               .where(C.period == period).where(a.status == "pending"))
    n_pending = conn.execute(select(func.count()).select_from(pending.subquery())).scalar()
    shown_pending = conn.execute(pending.order_by(a.id).limit(shown)).all()
    return {"needs_review_count": int(n_review), "needs_review": list(unreviewed),
            "pending_appeals_count": int(n_pending),
            "pending_appeals": [{"appeal": i, "conversation": k} for i, k in shown_pending]}


def period_status(ws, period: str) -> dict:
    with ws.engine.connect() as conn:
        row = _period_row(conn, period) or {"period": period, "status": "open", "close_no": 0}
        n = conn.execute(select(func.count(), func.sum(cast(C.reviewed, Integer)),
                                func.count(func.distinct(C.agent)))
                         .where(C.period == period)).one()
        versions = conn.execute(select(func.count()).select_from(
            select(C.run_id).where(C.period == period).group_by(C.run_id).subquery())).scalar()
        items = open_items(conn, period)
    return {**{k: row.get(k) for k in ("period", "status", "closed_at", "closed_by", "close_reason", "forced",
                                       "close_no")},
            "conversations": int(n[0]), "reviewed": int(n[1] or 0), "agents": int(n[2]), "scoring_runs": int(versions),
            "needs_review_open": items["needs_review_count"], "pending_appeals": items["pending_appeals_count"],
            "open_items": items}


def close_period(ws, period: str, *, lead: str, force: bool = False, reason: str | None = None) -> dict:
    """Freeze ``period``.  Unreviewed needs_review conversations and pending appeals block closing
    unless ``force`` with a reason (both are listed in the period's record)."""
    with ws.begin() as conn:
        ws.require(conn, lead, "lead")
        row = _period_row(conn, period)
        if row and row["status"] == "closed":
            raise WorkspaceError(_("period {period} is already closed").format(period=period))
        run_id = _latest_run(conn, period)
        items = open_items(conn, period)
        blocking = items["needs_review_count"] + items["pending_appeals_count"]
        if blocking and not force:
            shown = ", ".join(items["needs_review"])
            raise WorkspaceError(_("period {period} has {n} unreviewed needs_review conversation(s) and {a} pending "
                                   "appeal(s); review/decide them, or close with --force --reason \"...\". "
                                   "Unreviewed: {shown}").format(period=period, n=items["needs_review_count"],
                                                                 a=items["pending_appeals_count"], shown=shown or "-"))
        if force and not (reason or "").strip():
            raise WorkspaceError(_("--force needs a --reason"))
        agents = live_agent_scores(conn, period)
        close_no = (row["close_no"] if row else 0) + 1
        run = conn.execute(select(S.runs.c.rubric_json, S.runs.c.model_json).where(S.runs.c.id == run_id)).one()
        values = dict(status="closed", closed_at=now_text(), closed_by=lead, close_reason=reason, forced=bool(force),
                      rubric_json=run.rubric_json, model_json=run.model_json, open_items_json=dumps(items),
                      close_no=close_no)
        if row:
            conn.execute(update(S.periods).where(S.periods.c.period == period).values(**values))
        else:
            conn.execute(insert(S.periods).values(period=period, **values))
        rows_json = agents.replace({np.nan: None}).to_dict("records")
        conn.execute(insert(S.period_scores), [{
            "period": period, "close_no": close_no, "agent": r["agent"], "service_score": r["service_score"],
            "conversations": r["conversations"], "reviewed_conversations": r["reviewed_conversations"],
            "appeals_changed": r["appeals_changed"], "row_json": dumps(r)} for r in rows_json])
        log_event(conn, "period_close", actor=lead, period=period, reason=reason,
                  data={"close_no": close_no, "forced": bool(force), "agents": len(agents),
                        "open_items": {k: items[k] for k in ("needs_review_count", "pending_appeals_count")}})
    return period_status(ws, period)


def reopen_period(ws, period: str, *, lead: str, reason: str) -> dict:
    if not (reason or "").strip():
        raise WorkspaceError(_("reopening a period needs a reason (--reason)"))
    with ws.begin() as conn:
        ws.require(conn, lead, "lead")
        row = _period_row(conn, period)
        if not row or row["status"] != "closed":
            raise WorkspaceError(_("period {period} is not closed").format(period=period))
        conn.execute(update(S.periods).where(S.periods.c.period == period).values(status="open"))
        log_event(conn, "period_reopen", actor=lead, period=period, reason=reason, data={"close_no": row["close_no"]})
    return period_status(ws, period)


def scores_table(ws, period: str) -> pd.DataFrame:
    """Every conversation of ``period``: machine and final score, review state, decisions, appeals."""
    d, a = S.decisions.c, S.appeals.c
    n_dec = (select(func.count()).where(d.conversation_id == C.id).where(d.calibration_id.is_(None))
             .scalar_subquery())
    n_app = select(func.count()).where(a.conversation_id == C.id).scalar_subquery()
    cols = ["conversation", "shop", "agent", "customer", "started_at", "period", "machine_score", "final_score",
            "reviewed", "needs_review", "review_reasons", "auto_failed", "decisions", "appeals", "version_no"]
    with ws.engine.connect() as conn:
        return _read(conn, select(C.conversation_key, C.shop, C.agent, C.customer, C.started_at, C.period,
                                  C.machine_score, C.final_score, C.reviewed, C.needs_review, C.review_reasons,
                                  C.auto_failed, n_dec, n_app, C.version_no)
                     .where(C.period == period).order_by(C.started_at, C.id), cols)
