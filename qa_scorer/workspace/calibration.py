"""Calibration (校准): the same conversations before several reviewers, blind; how well they agree.

A session samples conversations (machine-flagged ones first); each member reviews them with
``review decide --calibration ID`` (those decisions never change a score) and sees only their own.
For every (reply, tag) of a conversation a member judged, the member's label is the machine's
flag unless the member rejected it or added the tag.  The report gives:

- per tag: units, how many each reviewer flagged, Fleiss' kappa over all members and the mean
  pairwise Cohen's kappa (1 = perfect agreement, 0 = chance, < 0 = worse than chance);
- score spread: each member's score of each conversation (the rubric on their facts),
  max - min and standard deviation per conversation;
- each reviewer's strictness: their mean score minus the group's mean (negative = stricter);
- model vs human, per tag, from the workspace's live review decisions: confirmed machine tags
  are true positives, rejected ones false positives, added ones false negatives.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from itertools import combinations

import numpy as np
import pandas as pd
from sqlalchemy import insert, or_, select

from qa_scorer.i18n import _
from qa_scorer.schema import TAGS
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.db import NotFound, WorkspaceError, now_text
from qa_scorer.workspace.events import log_event
from qa_scorer.workspace.scoring import (
    REPLY_ITEMS, active_decisions, final_row, load_decisions, load_replies, reviewed_facts, run_rubric,
)

C = S.conversations.c


def start_calibration(ws, name: str, *, reviewers: list[str], size: int = 10, period: str | None = None,
                      actor: str) -> dict:
    """Sample ``size`` conversations (machine-flagged first) for every reviewer; returns
    ``{"id": session id, "conversations": [conversation ids]}``."""
    if len(reviewers) < 2:
        raise WorkspaceError(_("a calibration session needs at least two reviewers"))
    if size < 1:
        raise WorkspaceError(_("--size must be at least 1"))
    with ws.begin() as conn:
        ws.require(conn, actor, "lead")
        members = [ws.require(conn, r, "reviewer", "lead") for r in reviewers]
        base = select(C.id).order_by(C.sample_key, C.id)
        if period:
            base = base.where(C.period == period)
        flagged = conn.execute(base.where(or_(C.flagged_replies > 0, C.needs_review.is_(True))).limit(size)
                               ).scalars().all()
        rest = conn.execute(base.where(C.id.notin_(flagged) if flagged else C.id.isnot(None))
                            .limit(size - len(flagged))).scalars().all() if len(flagged) < size else []
        chosen = list(flagged) + list(rest)
        if not chosen:
            raise NotFound(_("no conversations to calibrate on{period}").format(
                period=f" ({period})" if period else ""))
        sid = conn.execute(insert(S.calibration_sessions).values(
            name=name, period=period, created_by=actor, created_at=now_text(), status="open")).inserted_primary_key[0]
        conn.execute(insert(S.calibration_members), [{"session_id": sid, "reviewer_id": m["id"]} for m in members])
        conn.execute(insert(S.calibration_items), [{"session_id": sid, "conversation_id": c} for c in chosen])
        log_event(conn, "calibration_start", actor=actor, period=period,
                  data={"session": sid, "name": name, "reviewers": reviewers, "conversations": len(chosen)})
        keys = conn.execute(select(C.conversation_key).where(C.id.in_(chosen)).order_by(C.id)).scalars().all()
    return {"id": sid, "conversations": list(keys)}


def fleiss_kappa(counts: np.ndarray) -> float:
    """Fleiss' kappa; ``counts[i, j]`` = raters who put unit i in category j (same raters per unit)."""
    counts = np.asarray(counts, dtype=float)
    if counts.size == 0:
        return float("nan")
    m = counts.sum(axis=1)
    if not np.all(m == m[0]) or m[0] < 2:
        raise ValueError("every unit needs the same number (>= 2) of ratings")
    m = m[0]
    p_j = counts.sum(axis=0) / counts.sum()
    p_i = (np.square(counts).sum(axis=1) - m) / (m * (m - 1))
    p_bar, p_e = p_i.mean(), np.square(p_j).sum()
    return float("nan") if np.isclose(p_e, 1.0) else float((p_bar - p_e) / (1 - p_e))


def cohen_kappa(a: np.ndarray, b: np.ndarray) -> float:
    """Cohen's kappa of two raters' binary labels (nan when both give one label only)."""
    a, b = np.asarray(a, dtype=bool), np.asarray(b, dtype=bool)
    if len(a) == 0:
        return float("nan")
    po = float(np.mean(a == b))
    pe = float(a.mean() * b.mean() + (1 - a.mean()) * (1 - b.mean()))
    return float("nan") if np.isclose(pe, 1.0) else (po - pe) / (1 - pe)


@dataclass
class CalibrationReport:
    session: dict
    reviewers: list[str]
    tags: pd.DataFrame          # tag, units, flagged_<reviewer>..., fleiss_kappa, cohen_kappa_mean
    scores: pd.DataFrame        # conversation, <reviewer>... , spread, std
    strictness: pd.DataFrame    # reviewer, conversations, mean_score, strictness
    model_vs_human: pd.DataFrame  # tag, confirmed, rejected, added, precision, recall


def calibration_report(ws, session_id: int) -> CalibrationReport:
    with ws.engine.connect() as conn:
        session = conn.execute(select(S.calibration_sessions).where(S.calibration_sessions.c.id == session_id)
                               ).mappings().first()
        if session is None:
            raise NotFound(_("no calibration session {id}").format(id=session_id))
        members = conn.execute(select(S.users.c.id, S.users.c.name).select_from(
            S.calibration_members.join(S.users, S.calibration_members.c.reviewer_id == S.users.c.id))
            .where(S.calibration_members.c.session_id == session_id).order_by(S.users.c.name)).all()
        names = [m.name for m in members]
        convs = conn.execute(select(C.id, C.conversation_key, C.facts_json, C.run_id).select_from(
            S.calibration_items.join(S.conversations, S.calibration_items.c.conversation_id == C.id))
            .where(S.calibration_items.c.session_id == session_id).order_by(C.id)).all()
        labels: dict[tuple, dict[str, int]] = {}
        score_rows = []
        for conv in convs:
            facts = json.loads(conv.facts_json)
            replies = load_replies(conn, conv.id)
            rubric = run_rubric(conn, conv.run_id)
            row = {"conversation": conv.conversation_key}
            for m in members:
                dec = load_decisions(conn, conv.id, calibration_id=session_id, reviewer_id=m.id)
                if dec.empty:
                    continue  # not judged by this reviewer (yet)
                _conv, rep, _confirmed = reviewed_facts(facts, replies, dec)
                human = rep[~rep["is_auto"]]
                for r in human.itertuples(index=False):
                    for tag in REPLY_ITEMS:
                        labels.setdefault((conv.conversation_key, int(r.seq), tag), {})[m.name] = int(
                            getattr(r, tag) > 0)
                row[m.name] = float(final_row(facts, replies, dec, rubric)["service_score"])
            score_rows.append(row)
        model = model_vs_human(conn, session["period"])
    scores = pd.DataFrame(score_rows, columns=["conversation", *names])
    judged = scores[names].notna().all(axis=1)
    values = scores[names].to_numpy(dtype=float)
    with warnings.catch_warnings():  # a conversation nobody judged yet: NaN, not a warning
        warnings.simplefilter("ignore", RuntimeWarning)
        scores["spread"] = np.nanmax(values, axis=1) - np.nanmin(values, axis=1) if len(scores) else []
        scores["std"] = np.nanstd(values, axis=1, ddof=0) if len(scores) else []
    complete = scores[judged]
    group_mean = complete[names].to_numpy(dtype=float).mean() if len(complete) else float("nan")
    strict = pd.DataFrame({
        "reviewer": names,
        "conversations": [int(scores[n].notna().sum()) for n in names],
        "mean_score": [float(complete[n].mean()) if len(complete) else float("nan") for n in names],
    })
    strict["strictness"] = strict["mean_score"] - group_mean
    tag_rows = []
    for tag in REPLY_ITEMS:
        units = [v for (k, v) in labels.items() if k[2] == tag and len(v) == len(names)]
        mat = np.array([[u[n] for n in names] for u in units], dtype=int).reshape(len(units), len(names))
        counts = np.column_stack([(mat == 0).sum(axis=1), (mat == 1).sum(axis=1)]) if len(units) else np.zeros((0, 2))
        pairs = [cohen_kappa(mat[:, i], mat[:, j]) for i, j in combinations(range(len(names)), 2)] if len(units) else []
        pairs = [p for p in pairs if p == p]
        row = {"tag": tag, "units": len(units)}
        row.update({f"flagged_{n}": int(mat[:, i].sum()) if len(units) else 0 for i, n in enumerate(names)})
        row["fleiss_kappa"] = fleiss_kappa(counts) if len(units) and len(names) >= 2 else float("nan")
        row["cohen_kappa_mean"] = float(np.mean(pairs)) if pairs else float("nan")
        tag_rows.append(row)
    return CalibrationReport(dict(session), names, pd.DataFrame(tag_rows), scores, strict, model)


def model_vs_human(conn, period: str | None = None) -> pd.DataFrame:
    """Per tag, the live review decisions as a test of the machine: precision and recall."""
    d = S.decisions.c
    q = select(S.decisions).where(d.calibration_id.is_(None)).where(d.item.in_(REPLY_ITEMS))
    if period:
        q = q.where(d.conversation_id.in_(select(C.id).where(C.period == period)))
    dec = pd.DataFrame(conn.execute(q).mappings().all(), columns=[c.name for c in S.decisions.columns])
    rows = []
    active = pd.concat([active_decisions(g) for _k, g in dec.groupby("conversation_id")]) if len(dec) else dec
    for tag in REPLY_ITEMS:
        t = active[active["item"] == tag] if len(active) else active
        machine = t["machine_value"].fillna(0) > 0 if len(t) else pd.Series(dtype=bool)
        tp = int(((t["verdict"] == "confirm") & machine).sum()) if len(t) else 0
        fp = int(((t["verdict"] == "reject") & machine).sum()) if len(t) else 0
        fn = int(((t["verdict"] == "add") & ~machine).sum()) if len(t) else 0
        rows.append({"tag": tag, "confirmed": tp, "rejected": fp, "added": fn,
                     "precision": tp / (tp + fp) if tp + fp else float("nan"),
                     "recall": tp / (tp + fn) if tp + fn else float("nan")})
    return pd.DataFrame(rows)


__all__ = ["start_calibration", "calibration_report", "fleiss_kappa", "cohen_kappa", "model_vs_human", "TAGS"]
