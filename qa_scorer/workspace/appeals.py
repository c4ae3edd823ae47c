"""Appeals (申诉): an agent disputes the review of their conversation; a lead upholds or overturns.

- Filing: only the conversation's agent, only on a reviewed conversation, within
  ``appeal_window_days`` (default 7) after the last review decision, with a comment.  The appeal
  names the disputed decisions (default: every active review decision that costs points).
- Overturning: for each disputed decision the lead's reason is recorded as a new decision that
  takes the finding away (``reject``; an adjusted count goes back to the machine's), then the
  conversation is re-scored.  Upholding changes nothing but the appeal's status.
"""

from __future__ import annotations

import json
from datetime import datetime, timedelta

import pandas as pd
from sqlalchemy import insert, select, update

from qa_scorer.i18n import _
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.db import NotFound, PermissionDenied, WorkspaceError, dumps, now_text
from qa_scorer.workspace.events import log_event
from qa_scorer.workspace.review import _own, _period_open
from qa_scorer.workspace.scoring import active_decisions, load_decisions, rescore

OUTCOMES = ("uphold", "overturn")


def file_appeal(ws, key: str, *, agent: str, comment: str, decision_ids: list[int] | None = None,
                now: datetime | None = None) -> dict:
    comment = (comment or "").strip()
    if not comment:
        raise WorkspaceError(_("an appeal needs a comment saying what is wrong (--comment)"))
    now = now or datetime.now()
    with ws.begin() as conn:
        user = ws.require(conn, agent, "agent")
        conv = ws.conversation_row(conn, key)
        if not _own(user, conv):
            raise PermissionDenied(_("{name} can appeal only their own conversations").format(name=agent))
        _period_open(conn, conv["period"])
        cid = conv["id"]
        decisions = load_decisions(conn, cid)
        reviews = decisions[decisions["source"] == "review"] if len(decisions) else decisions
        if reviews.empty:
            raise WorkspaceError(_("conversation {key} has not been reviewed; only a reviewed conversation can be "
                                   "appealed").format(key=key))
        window = int(ws.setting("appeal_window_days", conn))
        last = datetime.fromisoformat(str(reviews["created_at"].max()))
        if now > last + timedelta(days=window):
            raise WorkspaceError(_("the appeal window closed on {date} ({days} days after the review of {when}); "
                                   "ask your team lead if there is a reason to reopen it").format(
                                       date=(last + timedelta(days=window)).isoformat(sep=" ", timespec="minutes"),
                                       days=window, when=last.isoformat(sep=" ", timespec="minutes")))
        active = active_decisions(decisions)
        costly = active[active["verdict"].isin(["confirm", "add", "adjust"]) & (active["item"] != "all")]
        if decision_ids:
            unknown = set(decision_ids) - set(active["id"].astype(int))
            if unknown:
                raise NotFound(_("decision(s) {ids} are not active decisions of conversation {key}").format(
                    ids=", ".join(map(str, sorted(unknown))), key=key))
            chosen = [int(i) for i in decision_ids]
        else:
            chosen = [int(i) for i in costly["id"]]
        if not chosen:
            raise WorkspaceError(_("no review decision in {key} costs points; there is nothing to appeal").format(
                key=key))
        pending = conn.execute(select(S.appeals.c.id).where(S.appeals.c.conversation_id == cid)
                               .where(S.appeals.c.status == "pending")).first()
        if pending:
            raise WorkspaceError(_("appeal {id} on this conversation is still pending").format(id=pending[0]))
        appeal_id = conn.execute(insert(S.appeals).values(
            conversation_id=cid, filed_by=user["id"], comment=comment, decision_ids=dumps(chosen),
            filed_at=now_text(now), status="pending", score_before=conv["final_score"])).inserted_primary_key[0]
        log_event(conn, "appeal_file", actor=agent, period=conv["period"], conversation_id=cid, reason=comment,
                  data={"appeal": appeal_id, "decisions": chosen})
    return _appeal(ws, appeal_id)


def decide_appeal(ws, appeal_id: int, *, lead: str, outcome: str, reason: str) -> dict:
    reason = (reason or "").strip()
    if outcome not in OUTCOMES:
        raise WorkspaceError(_("outcome must be uphold or overturn"))
    if not reason:
        raise WorkspaceError(_("a lead's ruling needs a reason (--reason)"))
    with ws.begin() as conn:
        user = ws.require(conn, lead, "lead")
        appeal = conn.execute(select(S.appeals).where(S.appeals.c.id == appeal_id)).mappings().first()
        if appeal is None:
            raise NotFound(_("no appeal {id}").format(id=appeal_id))
        if appeal["status"] != "pending":
            raise WorkspaceError(_("appeal {id} was already decided ({status})").format(id=appeal_id,
                                                                                      status=appeal["status"]))
        cid = appeal["conversation_id"]
        period = conn.execute(select(S.conversations.c.period).where(S.conversations.c.id == cid)).scalar_one()
        _period_open(conn, period)
        after = appeal["score_before"]
        if outcome == "overturn":
            disputed = json.loads(appeal["decision_ids"] or "[]")
            rows = conn.execute(select(S.decisions).where(S.decisions.c.id.in_(disputed))).mappings().all()
            now = now_text()
            for d in rows:
                undo = {"verdict": "reject", "value": None}
                if d["verdict"] == "adjust" and d["seq"] is None and (d["machine_value"] or 0) > 0:
                    undo = {"verdict": "adjust", "value": d["machine_value"]}
                conn.execute(insert(S.decisions).values(
                    conversation_id=cid, seq=d["seq"], item=d["item"], reviewer_id=user["id"],
                    reason=_("appeal {id} overturned: {reason}").format(id=appeal_id, reason=reason),
                    source="appeal", appeal_id=appeal_id, machine_value=d["machine_value"], created_at=now, **undo))
            conn.execute(update(S.conversations).where(S.conversations.c.id == cid)
                         .values(row_version=S.conversations.c.row_version + 1))
            _before, after = rescore(conn, cid)
        conn.execute(update(S.appeals).where(S.appeals.c.id == appeal_id).values(
            status="overturned" if outcome == "overturn" else "upheld", decided_by=user["id"],
            decided_at=now_text(), decision_reason=reason, score_after=after))
        log_event(conn, "appeal_decide", actor=lead, period=period, conversation_id=cid, reason=reason,
                  data={"appeal": appeal_id, "outcome": outcome, "score_before": appeal["score_before"],
                        "score_after": after})
    return _appeal(ws, appeal_id)


def _appeal(ws, appeal_id: int) -> dict:
    with ws.engine.connect() as conn:
        return dict(conn.execute(select(S.appeals).where(S.appeals.c.id == appeal_id)).mappings().one())


def appeals(ws, *, status: str | None = None, agent: str | None = None, period: str | None = None) -> pd.DataFrame:
    a, c, u = S.appeals.c, S.conversations.c, S.users.c
    q = (select(a.id, c.conversation_key.label("conversation"), c.agent, c.period, u.name.label("filed_by"),
                a.filed_at, a.comment, a.status, a.decision_reason, a.score_before, a.score_after)
         .select_from(S.appeals.join(S.conversations, a.conversation_id == c.id).join(S.users, a.filed_by == u.id))
         .order_by(a.id))
    if status:
        q = q.where(a.status == status)
    if period:
        q = q.where(c.period == period)
    with ws.engine.connect() as conn:
        if agent:
            q = q.where(a.filed_by == ws.user(agent, conn)["id"])
        rows = conn.execute(q).mappings().all()
    return pd.DataFrame(rows, columns=["id", "conversation", "agent", "period", "filed_by", "filed_at", "comment",
                                       "status", "decision_reason", "score_before", "score_after"])
