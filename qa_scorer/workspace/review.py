"""Review: the queue a sampling policy builds, one conversation's view, and decisions.

These functions are ``Workspace`` methods (``ws.build_queue(...)``, ``ws.decide(...)``).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import pandas as pd
from sqlalchemy import and_, func, insert, or_, select, update

from qa_scorer.i18n import _
from qa_scorer.schema import TAGS
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.db import ConflictError, NotFound, PeriodClosed, PermissionDenied, WorkspaceError, now_text
from qa_scorer.workspace.events import log_event
from qa_scorer.workspace.scoring import (
    CONVERSATION_ITEMS, REPLY_ITEMS, VERDICTS, active_decisions, load_decisions, load_replies, rescore,
)

C = S.conversations.c


@dataclass
class QueuePolicy:
    """Which conversations of a period go to review, in this priority order.

    - ``needs_review``: every conversation a machine-only auto-fail item put on hold;
    - ``flagged_above``: conversations with a flagged reply of probability >= this (confident flags);
    - ``flagged_below``: conversations with a flagged reply of probability <= this (borderline flags);
    - ``random_pct``: this share (0-100) of each agent's conversations (at least one), in a fixed
      random order (``sample_key``), skipping those already in the queue;
    - ``lowest``: the N lowest final scores not already in the queue.
    Active learning (docs/closed-loop.md), after ``flagged_below``:
    - ``uncertain_band``: unreviewed conversations with a human reply whose ``p_<tag>`` lies within
      this distance of the tag's threshold (the thresholds of the model that scored the run),
      closest first: the replies the model is least sure of;
    - ``often_rejected``: for the N tags reviewers reject most often (share of rejects among
      confirm/reject decisions, at least ``OFTEN_REJECTED_MIN`` decisions), unreviewed conversations
      with a reply flagged with such a tag, least confident flag first.
    At most ``limit`` new items; a conversation already open in the queue is not added twice.
    """

    needs_review: bool = True
    flagged_above: float | None = None
    flagged_below: float | None = None
    random_pct: float = 0.0
    lowest: int = 0
    limit: int = 200
    uncertain_band: float | None = None
    often_rejected: int = 0


#: A tag needs this many confirm/reject decisions before its rejection share counts (``often_rejected``).
OFTEN_REJECTED_MIN = 5


def uncertain_conversations(conn, period: str, band: float) -> list[int]:
    """Unreviewed conversations of ``period`` with a human reply whose ``p_<tag>`` is within
    ``band`` of the tag's threshold, closest first.  One pass over the period's replies per run
    (the replies table is clustered by conversation); only rows within the band come back."""
    R = S.replies.c
    best: dict[int, float] = {}
    runs = conn.execute(select(C.run_id).where(C.period == period).where(C.reviewed.is_(False)).distinct()
                        ).scalars().all()
    for run_id in runs:
        model_json = conn.execute(select(S.runs.c.model_json).where(S.runs.c.id == run_id)).scalar()
        thresholds = (json.loads(model_json or "null") or {}).get("thresholds") or {}
        tags = [t for t in TAGS if t in thresholds]
        if not tags:
            continue
        near = or_(*[getattr(R, f"p_{t}").between(thresholds[t] - band, thresholds[t] + band) for t in tags])
        q = (select(R.conversation_id, *[getattr(R, f"p_{t}") for t in tags])
             .select_from(S.replies.join(S.conversations, R.conversation_id == C.id))
             .where(C.period == period).where(C.run_id == run_id).where(C.reviewed.is_(False))
             .where(or_(R.is_auto.is_(False), R.is_auto.is_(None))).where(near))
        for row in conn.execute(q):
            dist = min(abs(row[k + 1] - thresholds[t]) for k, t in enumerate(tags) if row[k + 1] is not None)
            if dist < best.get(row[0], float("inf")):
                best[row[0]] = dist
    return [cid for cid, _d in sorted(best.items(), key=lambda kv: (kv[1], kv[0]))]


def rejection_shares(conn) -> pd.DataFrame:
    """Per tag: confirm and reject review decisions (not calibration) and the share rejected."""
    d = S.decisions.c
    rows = conn.execute(select(d.item, d.verdict, func.count()).where(d.calibration_id.is_(None))
                        .where(d.source == "review").where(d.item.in_(TAGS)).where(d.verdict.in_(["confirm", "reject"]))
                        .group_by(d.item, d.verdict)).all()
    counts = {t: {"confirm": 0, "reject": 0} for t in TAGS}
    for item, verdict, n in rows:
        counts[item][verdict] = int(n)
    out = pd.DataFrame([{"tag": t, **c, "decisions": c["confirm"] + c["reject"]} for t, c in counts.items()])
    out["reject_share"] = (out["reject"] / out["decisions"].where(out["decisions"] > 0)).fillna(0.0)
    return out


def often_rejected_tags(conn, n: int) -> list[str]:
    """The ``n`` tags with the highest rejection share (with at least OFTEN_REJECTED_MIN decisions
    and at least one rejection), highest first."""
    shares = rejection_shares(conn)
    shares = shares[(shares["decisions"] >= OFTEN_REJECTED_MIN) & (shares["reject"] > 0)]
    return shares.sort_values(["reject_share", "tag"], ascending=[False, True])["tag"].head(n).tolist()


def flagged_conversations(conn, period: str, tag: str) -> list[int]:
    """Unreviewed conversations of ``period`` with a human reply flagged ``tag``, least confident first."""
    R = S.replies.c
    p = getattr(R, f"p_{tag}")
    q = (select(R.conversation_id, func.min(p).label("p"))
         .select_from(S.replies.join(S.conversations, R.conversation_id == C.id))
         .where(C.period == period).where(C.reviewed.is_(False)).where(getattr(R, tag) > 0)
         .where(or_(R.is_auto.is_(False), R.is_auto.is_(None)))
         .group_by(R.conversation_id).order_by(func.min(p), R.conversation_id))
    return [r[0] for r in conn.execute(q)]


def _period_open(conn, period: str) -> None:
    status = conn.execute(select(S.periods.c.status).where(S.periods.c.period == period)).scalar()
    if status == "closed":
        raise PeriodClosed(_("period {period} is closed; a lead must reopen it first (`qa-scorer period reopen "
                             "{period} --reason ...`)").format(period=period))


def _own(user: dict, conv: dict) -> bool:
    """Is this conversation the user's own (as the agent scored, or who should have closed it)?"""
    agent = user.get("agent")
    return bool(agent) and agent in (conv.get("agent"), conv.get("last_agent"))


def build_queue(ws, period: str, *, reviewers: list[str], policy: QueuePolicy | None = None,
                actor: str) -> pd.DataFrame:
    """Add the policy's conversations of ``period`` to the queue, assigned round-robin to
    ``reviewers`` (never to a reviewer whose own conversation it is).  Returns the new items."""
    policy = policy or QueuePolicy()
    if not reviewers:
        raise WorkspaceError(_("name at least one reviewer (--reviewers alice,bob)"))
    with ws.begin() as conn:
        ws.require(conn, actor, "lead")
        staff = [ws.require(conn, r, "reviewer", "lead") for r in reviewers]
        _period_open(conn, period)
        queued = {r[0] for r in conn.execute(select(S.queue_items.c.conversation_id)
                                             .where(S.queue_items.c.period == period)
                                             .where(S.queue_items.c.status == "open"))}
        picked: dict[int, list[str]] = {}

        def take(rows, reason: str, cap: int | None = None) -> None:
            """Add ``rows`` (best first) not already open in the queue, at most ``cap`` of them."""
            taken = 0
            for cid in rows:
                if cid in queued or (cap is not None and taken >= cap):
                    continue
                if cid not in picked and len(picked) >= policy.limit:
                    return
                picked.setdefault(cid, []).append(reason)
                taken += 1

        base = select(C.id).where(C.period == period)
        if policy.needs_review:
            take(conn.execute(base.where(C.needs_review.is_(True)).order_by(C.final_score, C.id)
                              .limit(policy.limit + len(queued))).scalars(), "needs_review")
        if policy.flagged_above is not None:
            take(conn.execute(base.where(C.flag_p_max >= policy.flagged_above).order_by(C.flag_p_max.desc(), C.id)
                              .limit(policy.limit + len(queued))).scalars(), f"flagged_p>={policy.flagged_above:g}")
        if policy.flagged_below is not None:
            take(conn.execute(base.where(C.flagged_replies > 0).where(C.flag_p_min <= policy.flagged_below)
                              .order_by(C.flag_p_min, C.id).limit(policy.limit + len(queued))).scalars(),
                 f"flagged_p<={policy.flagged_below:g}")
        if policy.uncertain_band is not None:
            take(uncertain_conversations(conn, period, policy.uncertain_band)[:policy.limit + len(queued)],
                 f"uncertain±{policy.uncertain_band:g}")
        if policy.often_rejected > 0:
            for tag in often_rejected_tags(conn, policy.often_rejected):
                take(flagged_conversations(conn, period, tag)[:policy.limit + len(queued)], f"often_rejected:{tag}")
        if policy.random_pct > 0:
            per_agent = conn.execute(select(C.agent, func.count()).where(C.period == period).group_by(C.agent)).all()
            for agent, n in per_agent:
                k = max(1, round(n * policy.random_pct / 100))
                take(conn.execute(base.where(C.agent == agent).order_by(C.sample_key, C.id).limit(k + len(queued))
                                  ).scalars(), f"random_{policy.random_pct:g}%", cap=k)
        if policy.lowest > 0:
            take(conn.execute(base.order_by(C.final_score, C.id).limit(policy.lowest + len(queued))).scalars(),
                 "lowest_score", cap=policy.lowest)
        if not picked:
            log_event(conn, "queue_build", actor=actor, period=period, data={"added": 0, "policy": asdict(policy)})
            return pd.DataFrame(columns=["conversation", "reviewer", "reasons"])
        owners = {r.id: {"agent": r.agent, "last_agent": r.last_agent} for r in conn.execute(
            select(C.id, C.agent, C.last_agent).where(C.id.in_(list(picked))))}
        rows, turn, unassigned = [], 0, []
        now = now_text()
        for cid, reasons in picked.items():
            reviewer = None
            for step in range(len(staff)):
                cand = staff[(turn + step) % len(staff)]
                if not _own(cand, owners[cid]):
                    reviewer, turn = cand, turn + step + 1
                    break
            if reviewer is None:
                unassigned.append(cid)
            rows.append({"conversation_id": cid, "reviewer_id": reviewer["id"] if reviewer else None,
                         "period": period, "reasons": ",".join(reasons), "status": "open", "created_at": now,
                         "created_by": actor})
        conn.execute(insert(S.queue_items), rows)
        log_event(conn, "queue_build", actor=actor, period=period,
                  data={"added": len(rows), "unassigned": len(unassigned), "policy": asdict(policy)})
    return ws.queue(period=period, status="open").query("conversation_id in @picked_ids",
                                                         local_dict={"picked_ids": list(picked)})


def queue(ws, *, reviewer: str | None = None, period: str | None = None, status: str | None = "open",
          limit: int | None = None) -> pd.DataFrame:
    """Queue items, oldest first: conversation, agent, score, reasons, reviewer, status."""
    q_t, u = S.queue_items.c, S.users.c
    q = (select(q_t.id, q_t.conversation_id, C.conversation_key.label("conversation"), C.agent, C.period,
                C.final_score, C.needs_review, q_t.reasons, u.name.label("reviewer"), q_t.status)
         .select_from(S.queue_items.join(S.conversations, q_t.conversation_id == C.id)
                      .outerjoin(S.users, q_t.reviewer_id == u.id))
         .order_by(q_t.id))
    if status:
        q = q.where(q_t.status == status)
    if period:
        q = q.where(q_t.period == period)
    if limit:
        q = q.limit(limit)
    with ws.engine.connect() as conn:
        if reviewer:
            q = q.where(q_t.reviewer_id == ws.user(reviewer, conn)["id"])
        rows = conn.execute(q).mappings().all()
    return pd.DataFrame(rows, columns=["id", "conversation_id", "conversation", "agent", "period", "final_score",
                                       "needs_review", "reasons", "reviewer", "status"])


@dataclass
class ConversationView:
    """What a reviewer sees: the conversation row, its messages with reply facts, the decisions
    (active ones marked), appeals, and the machine vs final score items."""

    conversation: dict
    messages: pd.DataFrame
    decisions: pd.DataFrame
    appeals: pd.DataFrame

    @property
    def machine_items(self) -> list[dict]:
        return json.loads(self.conversation.get("machine_items") or "[]")

    @property
    def final_items(self) -> list[dict]:
        return json.loads(self.conversation.get("final_items") or "[]")

    def findings(self) -> pd.DataFrame:
        """Every machine finding a reviewer can decide, with its current decision."""
        rows = []
        rep = self.messages[self.messages["role"].isin(["agent", "auto"])]
        for r in rep.itertuples(index=False):
            for item in REPLY_ITEMS:
                v = getattr(r, item, None)
                if v is not None and v == v and int(v) > 0:
                    p = getattr(r, f"p_{item}", None) if item in TAGS else None
                    rows.append({"seq": int(r.seq), "item": item, "machine": int(v), "p": p})
        facts = json.loads(self.conversation["facts_json"])
        for item in CONVERSATION_ITEMS:
            v = facts.get(item)
            if v:
                rows.append({"seq": None, "item": item, "machine": float(v), "p": None})
        active = active_decisions(self.decisions) if not self.decisions.empty else self.decisions
        decided = {((None if pd.isna(d.seq) else int(d.seq)), d.item): d.verdict
                   for d in active.itertuples(index=False)} if len(active) else {}
        seen = {(r["seq"], r["item"]) for r in rows}
        for (s, i), verdict in decided.items():  # findings a reviewer added
            if (s, i) not in seen and i != "all":
                rows.append({"seq": s, "item": i, "machine": 0, "p": None})
        out = pd.DataFrame(rows, columns=["seq", "item", "machine", "p"])
        out["seq"] = out["seq"].astype("Int64")
        out["decision"] = [decided.get((None if pd.isna(s) else int(s), i), "") for s, i in zip(out["seq"], out["item"])]
        return out


def conversation(ws, key: str, *, viewer: str | None = None, calibration: int | None = None) -> ConversationView:
    """One conversation for review: < 200 ms at 30M stored messages (benchmarks/bench_workspace.py).

    With ``viewer`` the role is checked: an agent sees only their own conversations.  In a
    calibration session a reviewer sees only their own calibration decisions (blind)."""
    with ws.engine.connect() as conn:
        conv = ws.conversation_row(conn, key)
        viewer_row = ws.user(viewer, conn) if viewer else None
        if viewer_row and viewer_row["role"] == "agent" and not _own(viewer_row, conv):
            raise PermissionDenied(_("an agent sees only their own conversations"))
        cid = conv["id"]
        msgs = conn.execute(select(S.messages).where(S.messages.c.conversation_id == cid)
                            .order_by(S.messages.c.seq)).mappings().all()
        msgs = pd.DataFrame(msgs, columns=[c.name for c in S.messages.columns])
        rep = load_replies(conn, cid).drop(columns=["conversation_id", "agent", "sent_at"])
        msgs = msgs.merge(rep, on="seq", how="left")
        if calibration is not None:
            reviewer_id = viewer_row["id"] if viewer_row and viewer_row["role"] != "lead" else None
            decisions = load_decisions(conn, cid, calibration_id=calibration, reviewer_id=reviewer_id)
        else:
            decisions = load_decisions(conn, cid)
        names = dict(conn.execute(select(S.users.c.id, S.users.c.name)).all())
        decisions["reviewer"] = decisions["reviewer_id"].map(names)
        appeals = pd.DataFrame(conn.execute(select(S.appeals).where(S.appeals.c.conversation_id == cid)
                                            .order_by(S.appeals.c.id)).mappings().all(),
                               columns=[c.name for c in S.appeals.columns])
    return ConversationView(conv, msgs, decisions, appeals)


@dataclass
class DecisionResult:
    decision_ids: list[int]
    score_before: float | None
    score_after: float | None
    row_version: int


def _check_target(conn, cid: int, seq: int | None, item: str, verdict: str, value) -> float:
    """Validate a reviewer's decision against the machine's facts; returns the machine value."""
    if verdict not in VERDICTS:
        raise WorkspaceError(_("unknown verdict {v}; use confirm, reject, add or adjust").format(v=verdict))
    if item in REPLY_ITEMS:
        if seq is None:
            raise WorkspaceError(_("{item} is decided per reply: add --reply N (the message number shown by "
                                   "`review show`)").format(item=item))
        row = conn.execute(select(S.replies).where(S.replies.c.conversation_id == cid)
                           .where(S.replies.c.seq == seq)).mappings().first()
        if row is None:
            raise NotFound(_("message {seq} is not an agent reply in this conversation").format(seq=seq))
        if row["is_auto"] and item in TAGS:
            raise WorkspaceError(_("message {seq} is an auto-reply; tags apply to the agent's own replies").format(
                seq=seq))
        machine = float(row[item] or 0)
        if verdict == "adjust":
            raise WorkspaceError(_("a reply tag is confirmed, rejected or added, not adjusted"))
    elif item in CONVERSATION_ITEMS:
        if seq is not None:
            raise WorkspaceError(_("{item} is a conversation item: leave out --reply").format(item=item))
        facts = json.loads(conn.execute(select(C.facts_json).where(C.id == cid)).scalar_one())
        machine = float(facts.get(item) or 0)
        if verdict == "adjust" and (value is None or value < 0):
            raise WorkspaceError(_("adjust needs --value, the corrected count (0 or more)"))
    else:
        raise WorkspaceError(_("unknown item {item}; reply items: {reply}; conversation items: {conv}").format(
            item=item, reply=", ".join(REPLY_ITEMS), conv=", ".join(CONVERSATION_ITEMS)))
    if verdict in ("confirm", "reject") and machine <= 0:
        raise WorkspaceError(_("the machine did not find {item} here; use --verdict add to record a missed "
                               "finding").format(item=item))
    if verdict == "add" and item in REPLY_ITEMS and machine > 0:
        raise WorkspaceError(_("the machine already found {item} here; use --verdict confirm or reject").format(
            item=item))
    return machine


def decide(ws, key: str, *, reviewer: str, verdict: str, reason: str, item: str | None = None,
           seq: int | None = None, value: float | None = None, expected_version: int | None = None,
           calibration: int | None = None, confirm_rest: bool = False) -> DecisionResult:
    """Record a reviewer's decision on one finding (or, ``confirm_rest``, confirm every machine
    finding not decided yet) and re-score the conversation.

    ``expected_version`` is the ``row_version`` the reviewer saw (``review show``); if someone
    changed the conversation since, nothing is written and ``ConflictError`` says so."""
    reason = (reason or "").strip()
    if not reason:
        raise WorkspaceError(_("every decision needs a reason (--reason)"))
    with ws.begin() as conn:
        user = ws.require(conn, reviewer, "reviewer", "lead")
        conv = ws.conversation_row(conn, key)
        if _own(user, conv):
            raise PermissionDenied(_("{name} cannot review their own conversation {key}").format(
                name=reviewer, key=key))
        cid = conv["id"]
        if calibration is not None:
            member = conn.execute(select(S.calibration_members).where(and_(
                S.calibration_members.c.session_id == calibration,
                S.calibration_members.c.reviewer_id == user["id"]))).first()
            if member is None:
                raise PermissionDenied(_("{name} is not a member of calibration session {id}").format(
                    name=reviewer, id=calibration))
        else:
            _period_open(conn, conv["period"])
        targets: list[tuple[int | None, str, float]] = []
        if confirm_rest:
            view_decisions = load_decisions(conn, cid, calibration_id=calibration,
                                            reviewer_id=user["id"] if calibration is not None else None)
            done = {((None if pd.isna(d.seq) else int(d.seq)), d.item)
                    for d in view_decisions.itertuples(index=False)}
            for f in _machine_findings(conn, cid):
                if (f[0], f[1]) not in done:
                    targets.append(f)
            targets.append((None, "all", 0.0))  # "I looked at everything": marks a clean chat reviewed
            verdict = "confirm"
        else:
            if item is None:
                raise WorkspaceError(_("name the finding: --item (a tag such as rude, or an item such as "
                                       "missing_closing), or use --all to confirm the rest"))
            targets.append((seq, item, _check_target(conn, cid, seq, item, verdict, value)))
        now = now_text()
        ids = []
        for t_seq, t_item, machine in targets:
            ids.append(conn.execute(insert(S.decisions).values(
                conversation_id=cid, seq=t_seq, item=t_item, verdict=verdict,
                value=value if verdict in ("add", "adjust") else None, reviewer_id=user["id"], reason=reason,
                source="calibration" if calibration is not None else "review", calibration_id=calibration,
                machine_value=machine, created_at=now)).inserted_primary_key[0])
        if calibration is not None:
            log_event(conn, "decision", actor=reviewer, conversation_id=cid, reason=reason,
                      data={"calibration": calibration, "decisions": ids, "verdict": verdict, "item": item})
            return DecisionResult(ids, None, None, conv["row_version"])
        # optimistic lock: one of two concurrent reviewers wins, the other gets a conflict
        version = conv["row_version"] if expected_version is None else expected_version
        bumped = conn.execute(update(S.conversations).where(C.id == cid).where(C.row_version == version)
                              .values(row_version=C.row_version + 1)).rowcount
        if bumped != 1:
            raise ConflictError(_("conversation {key} was changed by someone else since you opened it (version "
                                  "{seen}); nothing was saved - open it again (`review show`) and decide "
                                  "again").format(key=key, seen=version))
        before, after = rescore(conn, cid)
        conn.execute(update(S.queue_items).where(S.queue_items.c.conversation_id == cid)
                     .where(S.queue_items.c.status == "open")
                     .where(or_(S.queue_items.c.reviewer_id == user["id"], S.queue_items.c.reviewer_id.is_(None)))
                     .values(status="done"))
        log_event(conn, "decision", actor=reviewer, period=conv["period"], conversation_id=cid, reason=reason,
                  data={"decisions": ids, "verdict": verdict, "item": item, "seq": seq, "value": value,
                        "score_before": before, "score_after": after})
    return DecisionResult(ids, before, after, version + 1)


def _machine_findings(conn, cid: int) -> list[tuple[int | None, str, float]]:
    out = []
    for r in conn.execute(select(S.replies).where(S.replies.c.conversation_id == cid)).mappings():
        for item in REPLY_ITEMS:
            if (r[item] or 0) > 0 and not (r["is_auto"] and item in TAGS):
                out.append((r["seq"], item, float(r[item])))
    facts = json.loads(conn.execute(select(C.facts_json).where(C.id == cid)).scalar_one())
    for item in CONVERSATION_ITEMS:
        if facts.get(item):
            out.append((None, item, float(facts[item])))
    return out
