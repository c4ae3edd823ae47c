"""The model registry in the workspace: candidate / active / retired reply models, their
evaluation, the promotion gate, rollback, and the closed-loop report (docs/closed-loop.md).

Models are stored as skops bytes in the ``models`` table (loaded only through
``qa_scorer.classifier.model.model_from_bytes``: trusted types only, never pickle), with their
sha256, parents (base corpus, shop labels, the model active when it was registered), corpus hash,
label counts and newest evaluation.  Which model is active is the row with ``status = active``;
none = the shipped ``models/reply_tagger.skops``.  Every add, evaluation, promotion and rollback is
an event.

The gate (``evaluate``): candidate vs the active model

- on the shop's **held-out labels** (the newest 30 % of labelled replies, ``labels.HOLDOUT``, which
  ``train --add`` never fits): macro-F1 over the tags with positive labels must be >= the active
  model's, and agreement (share of known tag labels predicted right) must be >= the active model's;
- on the **blind challenge set** (``models/challenge/blind_*.csv``): macro-F1 may not drop by more
  than ``F1_TOLERANCE`` (0.02) and the fine-reply flag rate may not rise by more than
  ``FINE_TOLERANCE`` (0.005);
- at least ``MIN_HELDOUT`` held-out rows, and the candidate must not have trained on any of them.
``promote`` refuses a candidate that fails a check unless forced with a reason (logged).
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from pathlib import Path

import numpy as np
import pandas as pd
from sqlalchemy import func, insert, select, update

from qa_scorer.i18n import _
from qa_scorer.schema import TAGS
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.db import NotFound, WorkspaceError, dumps, now_text
from qa_scorer.workspace.events import log_event
from qa_scorer.workspace.labels import HOLDOUT

F1_TOLERANCE = 0.02
FINE_TOLERANCE = 0.005
MIN_HELDOUT = 10
M = S.models.c
LIST_COLUMNS = ("id", "status", "name", "sha256", "size", "parent_id", "corpus_rows", "created_at", "created_by",
                "promoted_at", "promoted_by", "forced", "evaluated_at")


class GateRefused(WorkspaceError):
    """The candidate is worse than the active model on a gate check (and not forced)."""


def default_blind_paths() -> list[Path]:
    from qa_scorer.model_files import checkout_model_path

    return sorted(checkout_model_path("challenge").glob("blind_*.csv"))


# --- registry ---------------------------------------------------------------------------------
def _active_row(conn) -> dict | None:
    row = conn.execute(select(S.models).where(M.status == "active")).mappings().first()
    return dict(row) if row else None


def register_model(ws, model_file: str | Path | bytes, *, actor: str | None = None, name: str | None = None) -> dict:
    """Store a trained model (a .skops file or its bytes) as a candidate; an already stored file
    (same sha256) is returned as it is."""
    from qa_scorer.classifier.model import ModelError, model_from_bytes

    data = model_file if isinstance(model_file, bytes) else Path(model_file).read_bytes()
    try:
        model = model_from_bytes(data)
    except ModelError as exc:
        raise WorkspaceError(str(exc)) from None
    sha = hashlib.sha256(data).hexdigest()
    meta = model.metadata_
    shop = meta.get("shop_labels") or {}
    with ws.begin() as conn:
        old = conn.execute(select(M.id).where(M.sha256 == sha)).scalar()
        if old is not None:
            return model_info(ws, old, conn)
        active = _active_row(conn)
        desc = model.describe()
        desc["file_sha256"] = sha
        new_id = conn.execute(insert(S.models).values(
            sha256=sha, name=name or (None if isinstance(model_file, bytes) else Path(model_file).name),
            status="candidate", data=data, size=len(data), parent_id=active["id"] if active else None,
            parents_json=dumps(meta.get("parents") or {}), corpus_sha256=meta.get("corpus_sha256"),
            corpus_rows=meta.get("corpus_rows"), label_counts_json=dumps(shop.get("label_counts") or {}),
            describe_json=dumps(desc), created_at=now_text(), created_by=actor, forced=False,
        )).inserted_primary_key[0]
        log_event(conn, "model_add", actor=actor, data={"model": new_id, "sha256": sha,
                                                        "parent": active["id"] if active else None})
        return model_info(ws, new_id, conn)


def model_info(ws, model_id: int, conn=None) -> dict:
    cols = [getattr(M, c) for c in (*LIST_COLUMNS, "parents_json", "label_counts_json", "describe_json",
                                    "evaluation_json", "promote_reason", "corpus_sha256")]

    def get(c):
        return c.execute(select(*cols).where(M.id == model_id)).mappings().first()
    row = get(conn) if conn is not None else None
    if conn is None:
        with ws.engine.connect() as c:
            row = get(c)
    if row is None:
        raise NotFound(_("no model {id} in this workspace (`qa-scorer model list`)").format(id=model_id))
    return dict(row)


def list_models(ws) -> pd.DataFrame:
    with ws.engine.connect() as conn:
        rows = conn.execute(select(*[getattr(M, c) for c in LIST_COLUMNS]).order_by(M.id)).mappings().all()
    return pd.DataFrame(rows, columns=list(LIST_COLUMNS))


def resolve(ws, ref) -> int:
    """A model id from ``ref``: its number, ``active``, or a sha256 prefix (at least 6 digits)."""
    text = str(ref).strip()
    with ws.engine.connect() as conn:
        if text == "active":
            row = _active_row(conn)
            if row is None:
                raise NotFound(_("no model is active in this workspace: the shipped model scores"))
            return int(row["id"])
        if text.isdigit() and len(text) < 6:
            if conn.execute(select(M.id).where(M.id == int(text))).scalar() is None:
                raise NotFound(_("no model {id} in this workspace (`qa-scorer model list`)").format(id=text))
            return int(text)
        ids = conn.execute(select(M.id).where(M.sha256.like(text.lower() + "%"))).scalars().all()
    if len(text) < 6 or len(ids) != 1:
        raise NotFound(_("no single model matches {ref}; give its id or at least 6 digits of its sha256").format(
            ref=text))
    return int(ids[0])


def load_registered(ws, model_id: int):
    from qa_scorer.classifier.model import model_from_bytes

    with ws.engine.connect() as conn:
        row = conn.execute(select(M.data, M.sha256, M.name).where(M.id == model_id)).first()
    if row is None:
        raise NotFound(_("no model {id} in this workspace (`qa-scorer model list`)").format(id=model_id))
    model = model_from_bytes(bytes(row.data))
    model._file_name = _file_name(model_id, row.sha256)
    model._file_sha256 = row.sha256
    return model


def _file_name(model_id: int, sha: str) -> str:
    return f"ws-model-{model_id}-{sha[:12]}.skops"


def active_model(ws):
    """(model, registry id or None): the workspace's active model, or the shipped one."""
    with ws.engine.connect() as conn:
        row = _active_row(conn)
    if row is None:
        from qa_scorer.classifier import load_model

        return load_model(), None
    return load_registered(ws, int(row["id"])), int(row["id"])


def active_model_file(db: str) -> str | None:
    """A file path holding the workspace's active model (None: none promoted, use the shipped one).

    What ``audit --db`` without ``--model`` scores with: the bytes are written once to a
    content-addressed file in the temp folder (``qa-scorer-models/ws-model-<id>-<sha>.skops``), a
    path every executor worker can open."""
    from qa_scorer.workspace.core import Workspace

    ws = Workspace(db)
    try:
        with ws.engine.connect() as conn:
            row = conn.execute(select(M.id, M.sha256).where(M.status == "active")).first()
            if row is None:
                return None
            folder = Path(tempfile.gettempdir()) / "qa-scorer-models"
            path = folder / _file_name(row.id, row.sha256)
            if path.is_file() and hashlib.sha256(path.read_bytes()).hexdigest() == row.sha256:
                return str(path)
            data = bytes(conn.execute(select(M.data).where(M.id == row.id)).scalar_one())
    finally:
        ws.close()
    folder.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, suffix=".part")
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)
    return str(path)


# --- evaluation -----------------------------------------------------------------------------
def heldout_metrics(model, labels: pd.DataFrame) -> dict:
    """Per tag P/R/F1 on the rows where that tag is known; fine-flag rate on complete rows;
    agreement = share of known (reply, tag) labels the model gets right."""
    if labels.empty:
        return {"rows": 0, "per_tag": {}, "macro_f1": None, "fine_rows": 0, "fine_flag_rate": None,
                "agreement": None}
    pred = model.decide(model.predict_proba_frame(labels[["text", "context"]].astype(str)))
    per_tag, right, known = {}, 0, 0
    for t in TAGS:
        mask = labels[t].notna().to_numpy()
        y = labels[t].fillna(0).to_numpy(dtype=int)[mask].astype(bool)
        p = pred[t].to_numpy()[mask].astype(bool)
        tp, flagged, support = int((y & p).sum()), int(p.sum()), int(y.sum())
        prec = tp / flagged if flagged else 0.0
        rec = tp / support if support else 0.0
        per_tag[t] = {"labels": int(mask.sum()), "support": support, "flagged": flagged, "true_positives": tp,
                      "false_flags": flagged - tp, "precision": round(prec, 6), "recall": round(rec, 6),
                      "f1": round(2 * prec * rec / (prec + rec), 6) if prec + rec else 0.0}
        right += int((y == p).sum())
        known += int(mask.sum())
    scored = [per_tag[t]["f1"] for t in TAGS if per_tag[t]["support"] > 0]
    complete = labels[list(TAGS)].notna().all(axis=1).to_numpy()
    fine = complete & (labels[list(TAGS)].fillna(0).sum(axis=1) == 0).to_numpy()
    any_flag = (pred[list(TAGS)].sum(axis=1) > 0).to_numpy()
    return {"rows": int(len(labels)), "per_tag": per_tag,
            "macro_f1": round(float(np.mean(scored)), 6) if scored else None,
            "fine_rows": int(fine.sum()),
            "fine_flag_rate": round(float((fine & any_flag).sum() / fine.sum()), 6) if fine.any() else None,
            "agreement": round(right / known, 6) if known else None}


def blind_metrics(model, blind: pd.DataFrame | None) -> dict | None:
    from qa_scorer.classifier import evaluate_model

    if blind is None or blind.empty:
        return None
    report = evaluate_model(model, blind, name="blind")
    out = report.to_dict()
    out["macro_f1"] = round(float(report.per_tag["f1"].mean()), 6)
    return out


def read_blind(paths) -> pd.DataFrame | None:
    from qa_scorer.classifier.files import read_corpus

    paths = [Path(p) for p in (paths if paths is not None else default_blind_paths())]
    if not paths:
        return None
    return pd.concat([read_corpus(p) for p in paths], ignore_index=True)


def _checks(cand: dict, act: dict, leak: int, blind_given: bool) -> list[dict]:
    out = []

    def check(name, ok, cand_v, act_v, rule):
        out.append({"check": name, "passed": bool(ok), "candidate": cand_v, "active": act_v, "rule": rule})
    h_c, h_a = cand["heldout"], act["heldout"]
    check("heldout_rows", h_c["rows"] >= MIN_HELDOUT, h_c["rows"], None, f">= {MIN_HELDOUT}")
    check("no_leak", leak == 0, leak, None, "0 held-out rows in the candidate's training labels")
    if h_c["macro_f1"] is not None or h_a["macro_f1"] is not None:
        check("heldout_macro_f1", (h_c["macro_f1"] or 0) >= (h_a["macro_f1"] or 0), h_c["macro_f1"], h_a["macro_f1"],
              ">= active")
    check("heldout_agreement", (h_c["agreement"] or 0) >= (h_a["agreement"] or 0), h_c["agreement"],
          h_a["agreement"], ">= active")
    if not blind_given:
        check("blind_set", False, None, None, "the blind challenge set must be available")
        return out
    b_c, b_a = cand["blind"], act["blind"]
    check("blind_macro_f1", b_c["macro_f1"] >= b_a["macro_f1"] - F1_TOLERANCE, b_c["macro_f1"], b_a["macro_f1"],
          f">= active - {F1_TOLERANCE}")
    check("blind_fine_flag_rate", b_c["fine_flag_rate"] <= b_a["fine_flag_rate"] + FINE_TOLERANCE,
          b_c["fine_flag_rate"], b_a["fine_flag_rate"], f"<= active + {FINE_TOLERANCE}")
    return out


def evaluate(ws, ref, *, blind_paths=None, holdout: float = HOLDOUT, actor: str | None = None,
             record: bool = True) -> dict:
    """Candidate ``ref`` vs the active model on the held-out shop labels and the blind set; the
    result (with the gate's checks and ``passed``) is stored on the candidate and logged."""
    from qa_scorer.workspace.labels import export_labels

    model_id = resolve(ws, ref)
    cand = load_registered(ws, model_id)
    act, act_id = active_model(ws)
    labels = export_labels(ws, holdout=holdout)
    held = labels[labels["split"] == "test"].reset_index(drop=True)
    blind = read_blind(blind_paths)
    trained_on = set((cand.metadata_.get("shop_labels") or {}).get("train_sources") or [])
    leak = int(held["source"].isin(trained_on).sum())
    result = {
        "candidate": model_id, "active": act_id, "active_name": act.describe().get("name"),
        "holdout_share": holdout, "labels": int(len(labels)), "heldout_rows": int(len(held)),
        "heldout_from": str(held["decided_at"].min()) if len(held) else None,
        "blind_rows": int(len(blind)) if blind is not None else 0,
        "tolerance": {"blind_macro_f1": F1_TOLERANCE, "blind_fine_flag_rate": FINE_TOLERANCE},
        "models": {
            "candidate": {"heldout": heldout_metrics(cand, held), "blind": blind_metrics(cand, blind)},
            "active": {"heldout": heldout_metrics(act, held), "blind": blind_metrics(act, blind)},
        },
    }
    if act_id == model_id:
        result["note"] = "the candidate is the active model"
    result["checks"] = _checks(result["models"]["candidate"], result["models"]["active"], leak, blind is not None)
    result["passed"] = all(c["passed"] for c in result["checks"])
    if record:
        with ws.begin() as conn:
            conn.execute(update(S.models).where(M.id == model_id).values(
                evaluation_json=dumps(result), evaluated_at=now_text()))
            log_event(conn, "model_evaluate", actor=actor, data={
                "model": model_id, "active": act_id, "passed": result["passed"],
                "failed": [c["check"] for c in result["checks"] if not c["passed"]]})
    return result


# --- promote / rollback -------------------------------------------------------------------------
def promote(ws, ref, *, actor: str, force: bool = False, reason: str | None = None, blind_paths=None,
            holdout: float = HOLDOUT) -> dict:
    """Make candidate ``ref`` the active model after a fresh ``evaluate``; refused (``GateRefused``)
    when a check fails, unless ``force`` with a ``reason`` (both logged)."""
    reason = (reason or "").strip() or None
    if force and not reason:
        raise WorkspaceError(_("--force needs --reason: why the gate is overridden (it is logged)"))
    with ws.begin() as conn:
        ws.require(conn, actor, "lead")
    model_id = resolve(ws, ref)
    result = evaluate(ws, model_id, blind_paths=blind_paths, holdout=holdout, actor=actor)
    failed = [c for c in result["checks"] if not c["passed"]]
    if result["active"] == model_id:
        raise WorkspaceError(_("model {id} is already active").format(id=model_id))
    if failed and not force:
        raise GateRefused(_("model {id} is not promoted: {checks}. Fix the candidate, or override with --force "
                            "--reason ...").format(id=model_id, checks="; ".join(
                                f"{c['check']} {_show(c['candidate'])} vs {_show(c['active'])} ({c['rule']})"
                                for c in failed)))
    with ws.begin() as conn:
        old = _active_row(conn)
        if old is not None:
            conn.execute(update(S.models).where(M.id == old["id"]).values(status="retired"))
        conn.execute(update(S.models).where(M.id == model_id).values(
            status="active", promoted_at=now_text(), promoted_by=actor, promote_reason=reason, forced=bool(failed)))
        log_event(conn, "model_promote", actor=actor, reason=reason, data={
            "model": model_id, "from": old["id"] if old else None, "forced": bool(failed),
            "failed": [c["check"] for c in failed]})
    return {"model": model_id, "from": old["id"] if old else None, "forced": bool(failed), "evaluation": result}


def _show(v) -> str:
    return "-" if v is None else (f"{v:.3f}" if isinstance(v, float) else str(v))


def rollback(ws, *, actor: str, reason: str, to=None) -> dict:
    """Retire the active model and re-activate the one it replaced (or ``to``; none left = the
    shipped model scores again)."""
    reason = (reason or "").strip()
    if not reason:
        raise WorkspaceError(_("a rollback needs a reason (--reason)"))
    target = resolve(ws, to) if to is not None else None
    with ws.begin() as conn:
        ws.require(conn, actor, "lead")
        current = _active_row(conn)
        if current is None and target is None:
            raise WorkspaceError(_("no model is active in this workspace: the shipped model scores"))
        if target is None:
            events = conn.execute(select(S.events.c.data_json).where(S.events.c.kind == "model_promote")
                                  .order_by(S.events.c.id.desc())).scalars().all()
            for data in events:
                d = json.loads(data or "{}")
                if d.get("model") == current["id"]:
                    target = d.get("from")
                    break
        if current is not None:
            conn.execute(update(S.models).where(M.id == current["id"]).values(status="retired"))
        if target is not None:
            conn.execute(update(S.models).where(M.id == target).values(status="active"))
        log_event(conn, "model_rollback", actor=actor, reason=reason,
                  data={"from": current["id"] if current else None, "to": target})
    return {"from": current["id"] if current else None, "to": target}


# --- the closed-loop report ---------------------------------------------------------------------
def loop_report(ws, *, freq: str = "M") -> dict[str, pd.DataFrame]:
    """What the lead dashboard shows: labels (per tag and verdict), model-vs-human agreement per
    month (``freq``: pandas period alias, "M" or "W"), when the model changed, and which model
    scored each audit run."""
    from qa_scorer.workspace.labels import export_labels

    labels = export_labels(ws)
    counts = pd.DataFrame([{"tag": t, "positive": int((labels[t] == 1).sum()), "negative": int((labels[t] == 0).sum()),
                            "unknown": int(labels[t].isna().sum())} for t in TAGS])
    d = S.decisions.c
    with ws.engine.connect() as conn:
        dec = pd.DataFrame(conn.execute(select(d.item, d.verdict, d.created_at, d.source)
                                        .where(d.calibration_id.is_(None)).where(d.item.in_(TAGS))
                                        .where(d.source == "review")).all(),
                           columns=["item", "verdict", "created_at", "source"])
        changes = pd.DataFrame(conn.execute(select(S.events.c.at, S.events.c.kind, S.events.c.actor,
                                                   S.events.c.data_json, S.events.c.reason)
                                            .where(S.events.c.kind.in_(["model_promote", "model_rollback"]))
                                            .order_by(S.events.c.id)).all(),
                               columns=["at", "kind", "actor", "data_json", "reason"])
        runs = conn.execute(select(S.runs.c.id, S.runs.c.started_at, S.runs.c.model_json).order_by(S.runs.c.id)).all()
        shas = dict(conn.execute(select(M.sha256, M.id)).all())
        n_models = int(conn.execute(select(func.count()).select_from(S.models)).scalar())
    if len(dec):
        dec["period"] = pd.to_datetime(dec["created_at"]).dt.to_period(freq).astype(str)
        dec["agree"] = dec["verdict"] == "confirm"    # reject = a false flag, add = a missed tag
        agreement = (dec.groupby(["period", "item"]).agg(decisions=("agree", "size"), agreed=("agree", "sum"))
                     .reset_index())
        agreement["agreement"] = (agreement["agreed"] / agreement["decisions"]).round(4)
        total = dec.groupby("period").agg(decisions=("agree", "size"), agreed=("agree", "sum")).reset_index()
        total["item"] = "all"
        total["agreement"] = (total["agreed"] / total["decisions"]).round(4)
        agreement = pd.concat([agreement, total], ignore_index=True).sort_values(["period", "item"])
    else:
        agreement = pd.DataFrame(columns=["period", "item", "decisions", "agreed", "agreement"])
    if len(changes):
        data = changes["data_json"].map(lambda s: json.loads(s or "{}"))
        changes["model"] = [x.get("model", x.get("to")) for x in data]
        changes["from"] = [x.get("from") for x in data]
        changes["forced"] = [bool(x.get("forced")) for x in data]
        changes = changes.drop(columns="data_json")
    else:
        changes = pd.DataFrame(columns=["at", "kind", "actor", "reason", "model", "from", "forced"])
    scored = []
    for rid, started, model_json in runs:
        info = json.loads(model_json or "null") or {}
        sha = info.get("file_sha256")
        scored.append({"run": rid, "started_at": started, "model": shas.get(sha), "model_name": info.get("name"),
                       "sha256": (sha or "")[:12]})
    summary = pd.DataFrame([{"labels": int(len(labels)), "complete": int(labels["complete"].sum()) if len(labels) else 0,
                             "heldout": int((labels["split"] == "test").sum()) if len(labels) else 0,
                             "models": n_models}])
    return {"summary": summary, "labels": counts, "agreement": agreement, "model_changes": changes,
            "runs": pd.DataFrame(scored, columns=["run", "started_at", "model", "model_name", "sha256"])}
