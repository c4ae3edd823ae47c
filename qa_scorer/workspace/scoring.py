"""Final scores: the conversation's rubric applied to the *reviewed* facts.

The machine's facts (the measured conversation row, each reply's tags and forbidden-word hits)
are never changed by a review.  A decision sets the value of one fact ("target"):

==================  =========================================  ==========================
target              verdict                                    value used for scoring
==================  =========================================  ==========================
reply tag           confirm / add                              1 (and the item counts as
(``--reply N``)                                                confirmed by a person)
                    reject                                     0
conversation item   confirm                                    the machine's count
(slow_rounds, …)    reject                                     0
                    add                                        machine count + value (1)
                    adjust                                     value
==================  =========================================  ==========================

The newest decision on a target wins (older ones stay in the table: the audit trail).
Confirmed items are passed to ``score_conversations(confirmed_items=…)``, so a confirmed
``needs_review`` auto-fail applies, and a rejected one disappears with its flag.
"""

from __future__ import annotations

import json
from functools import lru_cache

import pandas as pd
from sqlalchemy import select, update
from sqlalchemy.engine import Connection

from qa_scorer.rubric import Rubric, rubric_from_mapping, score_conversations
from qa_scorer.schema import TAGS
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.db import now_text

#: Findings a reviewer can decide on one reply (``--reply N``).
REPLY_ITEMS: tuple[str, ...] = (*TAGS, "forbidden")
#: Findings a reviewer can decide on the whole conversation (counts in the conversation row).
CONVERSATION_ITEMS: tuple[str, ...] = ("slow_rounds", "unanswered_rounds", "short_replies",
                                       "product_answer_short", "missing_closing")
VERDICTS = ("confirm", "reject", "add", "adjust")


@lru_cache(maxsize=32)
def _rubric_from_json(text: str) -> Rubric:
    data = json.loads(text)
    data.pop("source", None)
    return rubric_from_mapping(data, where="workspace rubric")


def run_rubric(conn: Connection, run_id: int) -> Rubric:
    """The rubric a run scored with (recorded in ``runs.rubric_json``)."""
    text = conn.execute(select(S.runs.c.rubric_json).where(S.runs.c.id == run_id)).scalar_one()
    return _rubric_from_json(text)


def active_decisions(decisions: pd.DataFrame) -> pd.DataFrame:
    """The newest decision per target (seq, item); ``decisions`` sorted or not."""
    if decisions.empty:
        return decisions
    d = decisions.sort_values("id")
    d = d.assign(_seq=d["seq"].fillna(-1).astype("int64"))
    return d.drop_duplicates(["_seq", "item"], keep="last").drop(columns="_seq")


def load_decisions(conn: Connection, conversation_id: int, *, calibration_id: int | None = None,
                   reviewer_id: int | None = None) -> pd.DataFrame:
    d = S.decisions.c
    q = select(S.decisions).where(d.conversation_id == conversation_id)
    q = q.where(d.calibration_id.is_(None)) if calibration_id is None else q.where(d.calibration_id == calibration_id)
    if reviewer_id is not None:
        q = q.where(d.reviewer_id == reviewer_id)
    rows = conn.execute(q.order_by(d.id)).mappings().all()
    return pd.DataFrame(rows, columns=[c.name for c in S.decisions.columns])


def load_replies(conn: Connection, conversation_id: int) -> pd.DataFrame:
    rows = conn.execute(select(S.replies).where(S.replies.c.conversation_id == conversation_id)
                        .order_by(S.replies.c.seq)).mappings().all()
    return pd.DataFrame(rows, columns=[c.name for c in S.replies.columns])


def reviewed_facts(facts: dict, replies: pd.DataFrame, decisions: pd.DataFrame
                   ) -> tuple[pd.DataFrame, pd.DataFrame, set[str]]:
    """(one-row conversations table, replies table, confirmed items) after the decisions."""
    conv = pd.DataFrame([facts])
    key = str(facts["conversation_id"])
    rep = replies.copy()
    rep["conversation_id"] = key
    for col in (*TAGS, "forbidden"):
        rep[col] = pd.to_numeric(rep[col], errors="coerce").fillna(0).astype("int64") if col in rep else 0
    rep["is_auto"] = rep["is_auto"].fillna(False).astype(bool)
    rep["is_closing"] = rep["is_closing"].fillna(False).astype(bool)
    confirmed: set[str] = set()
    for dec in active_decisions(decisions).itertuples(index=False):
        item, verdict = dec.item, dec.verdict
        if item in REPLY_ITEMS:
            hit = rep["seq"] == dec.seq
            value = 0 if verdict == "reject" else 1
            rep.loc[hit, item] = value
            continue
        if item not in conv.columns:
            continue
        machine = float(pd.to_numeric(conv.at[0, item], errors="coerce") or 0)
        if verdict == "reject":
            value = 0.0
        elif verdict == "add":
            value = machine + (dec.value if dec.value == dec.value and dec.value is not None else 1.0)
        elif verdict == "adjust":
            value = float(dec.value)
        else:
            value = machine
        conv[item] = conv[item].astype(object)
        conv.at[0, item] = bool(value) if item == "missing_closing" else value
    active = active_decisions(decisions)
    for dec in active.itertuples(index=False):
        if dec.verdict in ("confirm", "add") or (dec.verdict == "adjust" and (dec.value or 0) > 0):
            confirmed.add(dec.item)
    # a reply-tag item stays confirmed only while some reply still carries it
    confirmed = {i for i in confirmed if i not in REPLY_ITEMS or int(rep[i].sum()) > 0}
    human = ~rep["is_auto"]
    for tag in TAGS:
        conv[tag] = int(rep.loc[human, tag].gt(0).sum())
    return conv, rep, confirmed


def final_row(facts: dict, replies: pd.DataFrame, decisions: pd.DataFrame, rubric: Rubric) -> dict:
    """The conversation scored on its reviewed facts: service_score, score_items, needs_review, ..."""
    conv, rep, confirmed = reviewed_facts(facts, replies, decisions)
    key = str(facts["conversation_id"])
    scored = score_conversations(conv, rep, rubric, confirmed_items={key: confirmed} if confirmed else None)
    return scored.iloc[0].to_dict()


def rescore(conn: Connection, conversation_id: int) -> tuple[float | None, float]:
    """Recompute and store a conversation's final score from its decisions; (before, after)."""
    c = S.conversations.c
    row = conn.execute(select(c.facts_json, c.run_id, c.final_score).where(c.id == conversation_id)).one()
    decisions = load_decisions(conn, conversation_id)
    scored = final_row(json.loads(row.facts_json), load_replies(conn, conversation_id), decisions,
                       run_rubric(conn, row.run_id))
    after = float(scored["service_score"])
    conn.execute(update(S.conversations).where(c.id == conversation_id).values(
        final_score=after, final_items=str(scored["score_items"]), needs_review=bool(scored["needs_review"]),
        review_reasons=str(scored["review_reasons"]), auto_failed=bool(scored["auto_failed"]),
        reviewed=not decisions.empty, updated_at=now_text()))
    return row.final_score, after
