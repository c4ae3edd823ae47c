"""Human decisions as labelled examples: the shop's own training data (docs/closed-loop.md).

Every reviewer decision on a reply tag says what the tag *should* have been.  ``export_labels``
turns them into rows of the training corpus format (docs/labeling.md) plus provenance:

The label rule
--------------
- Per (conversation, reply, tag) the **active** decision counts: the newest non-calibration one
  (calibration decisions never count; an older decision stays in the table but is superseded).
- An appeal that was **overturned** added a decision by the lead (``source = appeal``); it is the
  newest, so the label is the appeal's outcome.  ``appeal`` says ``overturned``, ``upheld`` or
  ``pending`` (a pending appeal does not change the label yet).
- ``confirm`` / ``add`` -> 1, ``reject`` -> 0.
- A tag without a decision is **unknown** (an empty cell) - unless a reviewer confirmed the rest of
  that conversation (``review decide --all``): ``--all`` confirms every tag the machine had flagged,
  so an undecided tag of such a conversation is one the machine did not flag, and is 0 (the
  machine's own flag at decision time).
- Only replies with at least one tag decision are rows.  ``complete`` = all four tags known.
  ``qa-scorer train --add`` trains on complete rows only; ``model evaluate`` scores each tag on the
  rows where that tag is known and the fine-reply rate on complete rows.
- Disagreements: when reviewers decided the same tag differently, the newest decision wins;
  ``earlier`` counts the superseded decisions on the row that said otherwise.

Context = the buyer messages right before the reply (the last buyer block, at most 3 messages,
oldest first, joined with `` | ``); text and context are masked with ``qa_scorer.safety.mask_pii``.
``source`` = ``ws:<conversation>:<reply #>`` (one group per reply).

The split: rows ordered by their newest decision (time, then decision id); the newest
``holdout`` share (30 %) is ``test`` - never trained on (``train_model`` leaves ``test`` rows out),
what ``model evaluate`` measures on; the older rows are ``train``.
"""

from __future__ import annotations

import hashlib
import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import and_, or_, select

from qa_scorer.i18n import _
from qa_scorer.safety import mask_pii
from qa_scorer.schema import TAGS
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.db import WorkspaceError

#: Share of the newest labelled replies held out for evaluation (``split = test``).
HOLDOUT = 0.30
#: At most this many buyer messages make the context.
CONTEXT_MESSAGES = 3
PROVENANCE_COLUMNS = ("split", "complete", "conversation", "seq", "reviewer", "verdict", "decided_at", "appeal",
                      "machine", "earlier", "decision_id")
LABEL_COLUMNS = ("text", "context", *TAGS, "source", *PROVENANCE_COLUMNS)


def _context(msgs: list[tuple[int, str, str]], seq: int) -> str:
    """The buyer block before reply ``seq``: skip agent/system messages back to the nearest buyer
    messages, take that contiguous block (at most CONTEXT_MESSAGES, oldest first)."""
    before = [m for m in msgs if m[0] < seq]
    block: list[str] = []
    i = len(before) - 1
    while i >= 0 and before[i][1] != "customer":
        i -= 1
    while i >= 0 and before[i][1] == "customer":
        text = (before[i][2] or "").strip()
        if text:
            block.append(text)
        i -= 1
    return " | ".join(reversed(block[:CONTEXT_MESSAGES]))


def _clean(text: str) -> str:
    return mask_pii(" ".join(str(text or "").split()))


def export_labels(ws, *, since: str | None = None, holdout: float = HOLDOUT) -> pd.DataFrame:
    """Every reply a person decided a tag on, as a labelled row (columns ``LABEL_COLUMNS``).

    Tag columns are nullable integers (``<NA>`` = unknown).  ``since`` (``YYYY-MM-DD``...): only
    rows whose newest decision is at or after it.  Rows are in decision order, oldest first."""
    if not 0.0 <= holdout < 1.0:
        raise WorkspaceError(_("the held-out share must be at least 0 and below 1"))
    d, c, u = S.decisions.c, S.conversations.c, S.users.c
    with ws.engine.connect() as conn:
        rows = conn.execute(
            select(d.id, d.conversation_id, d.seq, d.item, d.verdict, d.source, d.appeal_id, d.machine_value,
                   d.created_at, u.name.label("reviewer"))
            .select_from(S.decisions.join(S.users, d.reviewer_id == u.id))
            .where(d.calibration_id.is_(None))
            .where(or_(and_(d.item.in_(TAGS), d.seq.is_not(None)), d.item == "all"))
            .order_by(d.id)).mappings().all()
        dec = pd.DataFrame(rows, columns=["id", "conversation_id", "seq", "item", "verdict", "source", "appeal_id",
                                          "machine_value", "created_at", "reviewer"])
        tag_dec = dec[dec["item"].isin(TAGS)]
        cids = sorted({int(x) for x in tag_dec["conversation_id"]})
        keys, msgs = {}, {}
        appeals = []
        for i in range(0, len(cids), 500):
            part = cids[i:i + 500]
            keys.update(dict(conn.execute(select(c.id, c.conversation_key).where(c.id.in_(part))).all()))
            for r in conn.execute(select(S.messages.c.conversation_id, S.messages.c.seq, S.messages.c.role,
                                         S.messages.c.text).where(S.messages.c.conversation_id.in_(part))
                                  .order_by(S.messages.c.conversation_id, S.messages.c.seq)):
                msgs.setdefault(r[0], []).append((int(r[1]), r[2], r[3]))
            appeals += conn.execute(select(S.appeals.c.status, S.appeals.c.decision_ids)
                                    .where(S.appeals.c.conversation_id.in_(part))).all()
    disputed: dict[int, str] = {}
    for status, ids in appeals:
        for i in json.loads(ids or "[]"):
            # an upheld ruling outranks a pending one on the same decision
            if disputed.get(int(i)) != "upheld":
                disputed[int(i)] = status
    with_all = set(dec.loc[dec["item"] == "all", "conversation_id"].astype(int))

    out = []
    tag_dec = tag_dec.assign(seq=tag_dec["seq"].astype(int), conversation_id=tag_dec["conversation_id"].astype(int))
    for (cid, seq), g in tag_dec.groupby(["conversation_id", "seq"], sort=False):
        active = g.drop_duplicates("item", keep="last")   # ordered by id: the newest per tag
        labels: dict[str, object] = {t: (0 if cid in with_all else pd.NA) for t in TAGS}
        for r in active.itertuples(index=False):
            labels[r.item] = 0 if r.verdict == "reject" else 1
        newest = active.loc[active["id"].idxmax()]
        verdict_of = dict(zip(active["item"], active["verdict"]))
        earlier = 0
        for r in g.itertuples(index=False):
            if r.id not in set(active["id"]) and (r.verdict == "reject") != (verdict_of[r.item] == "reject"):
                earlier += 1
        if (active["source"] == "appeal").any():
            appeal = "overturned"
        else:
            states = {disputed.get(int(i)) for i in active["id"]} - {None}
            appeal = "upheld" if "upheld" in states else ("pending" if "pending" in states else "")
        conv_msgs = msgs.get(cid, [])
        text = next((m[2] for m in conv_msgs if m[0] == seq), "")
        key = str(keys.get(cid, cid))
        out.append({
            "text": _clean(text), "context": _clean(_context(conv_msgs, seq)), **labels,
            "source": f"ws:{key}:{seq}", "complete": all(labels[t] is not pd.NA for t in TAGS),
            "conversation": key, "seq": seq, "reviewer": newest["reviewer"],
            "verdict": ";".join(f"{t}:{verdict_of[t]}" for t in TAGS if t in verdict_of),
            "decided_at": newest["created_at"], "appeal": appeal,
            "machine": ";".join(t for t in TAGS if t in verdict_of
                                and (active.loc[active["item"] == t, "machine_value"].iloc[0] or 0) > 0),
            "earlier": earlier, "decision_id": int(newest["id"]),
        })
    df = pd.DataFrame(out, columns=[c for c in LABEL_COLUMNS if c != "split"])
    df = df[df["text"].astype(str).str.strip() != ""]
    if since:
        df = df[df["decided_at"] >= str(since)]
    df = df.sort_values(["decided_at", "decision_id"], kind="stable").reset_index(drop=True)
    for t in TAGS:
        df[t] = df[t].astype("Int64")
    n_test = math.ceil(len(df) * holdout) if len(df) else 0
    df.insert(len(CORPUS_LIKE), "split", ["train"] * (len(df) - n_test) + ["test"] * n_test)
    return df[list(LABEL_COLUMNS)]


CORPUS_LIKE = ("text", "context", *TAGS, "source")


def write_labels(df: pd.DataFrame, path: str | Path) -> Path:
    """The labels as UTF-8 CSV (corpus columns first, provenance after; unknown tags empty).

    Not neutralised for spreadsheets (``excel_safe`` would change the texts the model learns);
    open it in a text editor or import it as text."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    df.to_csv(path, index=False, encoding="utf-8")
    return path


def read_labels(path: str | Path) -> pd.DataFrame:
    """A labels file (``labels export``): tags as nullable integers, ``complete`` as bool."""
    from qa_scorer.classifier.files import read_csv_text

    df = read_csv_text(path)
    missing = [col for col in (*CORPUS_LIKE, "split") if col not in df.columns]
    if missing:
        raise WorkspaceError(_("{path}: not a labels file from `qa-scorer labels export` (missing {cols})").format(
            path=path, cols=", ".join(missing)))
    for t in TAGS:
        bad = ~df[t].str.strip().isin(["", "0", "1"])
        if bad.any():
            line = int(np.flatnonzero(bad.to_numpy())[0]) + 2
            raise WorkspaceError(_("{path} line {line}: {tag} must be 0, 1 or empty (unknown)").format(
                path=path, line=line, tag=t))
        df[t] = pd.to_numeric(df[t].str.strip().replace("", None), errors="coerce").astype("Int64")
    df["complete"] = df[list(TAGS)].notna().all(axis=1)
    return df


def labels_fingerprint(df: pd.DataFrame) -> str:
    """sha256 of the labels' corpus columns and split (unknown tags as empty)."""
    payload = df[[*CORPUS_LIKE, "split"]].astype(str).replace("<NA>", "").to_csv(index=False).encode("utf-8")
    return hashlib.sha256(payload).hexdigest()


def label_counts(df: pd.DataFrame) -> dict:
    """Per tag: positive and negative labels (unknown ones not counted); rows; complete rows."""
    out = {t: {"positive": int((df[t] == 1).sum()), "negative": int((df[t] == 0).sum())} for t in TAGS}
    return {"rows": int(len(df)), "complete": int(df[list(TAGS)].notna().all(axis=1).sum()), "tags": out}


def training_frame(base: pd.DataFrame, labels: pd.DataFrame, *, weight: int = 1) -> tuple[pd.DataFrame, dict]:
    """The base corpus plus the shop's complete ``train`` labels, each repeated ``weight`` times
    (same ``source``, so repeats stay in one fold); shop ``test`` rows are kept as ``test`` (never
    fitted).  Returns (corpus with a ``split`` column, facts for the model's metadata)."""
    if weight < 1:
        raise WorkspaceError(_("--weight-shop must be 1 or more"))
    if "split" not in base.columns:
        from qa_scorer.classifier import split_by_group

        base = base.assign(split=split_by_group(base["source"], 0))
    complete = labels[labels[list(TAGS)].notna().all(axis=1)].copy()
    for t in TAGS:
        complete[t] = complete[t].astype("int64")
    shop_train = complete[complete["split"] == "train"]
    shop_test = complete[complete["split"] == "test"].assign(split="test")
    cols = [*CORPUS_LIKE, "split"]
    parts = [base[cols]] + [shop_train[cols]] * int(weight) + [shop_test[cols]]
    corpus = pd.concat(parts, ignore_index=True)
    facts = {
        "labels_sha256": labels_fingerprint(labels),
        "rows": int(len(labels)), "complete": int(len(complete)),
        "skipped_incomplete": int(len(labels) - len(complete)),
        "train_rows": int(len(shop_train)), "test_rows": int(len(shop_test)), "weight": int(weight),
        "label_counts": label_counts(complete),
        "train_sources": sorted(shop_train["source"].astype(str).unique().tolist()),
        "newest_train_decision": (str(shop_train["decided_at"].max()) if len(shop_train)
                                  and "decided_at" in shop_train else None),
    }
    return corpus, facts
