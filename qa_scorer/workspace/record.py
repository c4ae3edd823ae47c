"""Recording an audit into the workspace: the sink the audit driver feeds chunk by chunk.

Every conversation is keyed by the export's conversation id.  For each scored chunk:

- a conversation the workspace has not seen is inserted (its messages, replies, rounds);
- the same conversation with the same content (hash of its messages) scored by the same
  model + rubric + settings + qa-scorer version (``version_key``) is left alone: re-auditing
  the same input changes no row;
- otherwise (new content, or a new model/rubric) it becomes a new *version*: the earlier machine
  scoring is kept in ``conversation_versions``, the machine facts are replaced in place, and the
  human decisions already made on it are re-applied to give the new final score;
- a conversation in a closed period is not touched (reopen the period first) and is counted.

The whole run is one transaction: a failed audit records nothing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sqlalchemy import bindparam, delete, insert, select, update

from qa_scorer.schema import TAGS
from qa_scorer.workspace import schema as S
from qa_scorer.workspace.db import dumps, now_text

#: Conversation columns that are scores, not measured facts (recomputed from the facts).
SCORE_COLUMNS = ("service_score", "score_items", "auto_failed", "auto_fail_reason", "needs_review",
                 "review_reasons", "confirmed_items")
_BATCH = 2_000

MESSAGE_COLUMNS = ("conversation_id", "seq", "sent_at", "sender", "role", "text", "source_file", "source_line")
REPLY_COLUMNS = ("conversation_id", "seq", "agent", "sent_at", "is_auto", "latency_s", "short_reply", "is_closing",
                 *TAGS, *(f"p_{t}" for t in TAGS), "tag_words", "forbidden", "forbidden_words")
ROUND_COLUMNS = ("conversation_id", "round_index", "agent", "customer", "started_at", "latency_s",
                 "latency_for_avg_s", "in_hours", "counted", "answered", "within_3min", "slow", "first_counted",
                 "product_answer_short")


def version_key(run_info: dict) -> str:
    """What makes two scorings of the same chat comparable: tool version, model, rubric, settings."""
    model = dict(run_info.get("model") or {})
    rubric = dict(run_info.get("rubric") or {})
    rubric.pop("source", None)
    ident = {"version": run_info.get("qa_scorer_version"), "model": model, "rubric": rubric,
             "settings": run_info.get("settings")}
    return hashlib.sha256(dumps(ident).encode()).hexdigest()


def time_text(values: pd.Series) -> pd.Series:
    """Timestamps as ``YYYY-MM-DD HH:MM:SS`` text (NaT -> None); numpy formatting, fast on millions."""
    ts = pd.to_datetime(values, errors="coerce")
    if getattr(ts.dt, "tz", None) is not None:
        ts = ts.dt.tz_localize(None)
    text = np.char.replace(np.datetime_as_string(ts.to_numpy(dtype="datetime64[s]"), unit="s"), "T", " ")
    return pd.Series(text.astype(object), index=values.index).where(ts.notna().to_numpy(), None)


def column_lists(df: pd.DataFrame, columns) -> list[list]:
    """Each column as a list of plain Python values (NaN/NA -> None)."""
    lists = []
    for c in columns:
        s = df[c] if c in df.columns else pd.Series(None, index=df.index, dtype=object)
        if pd.api.types.is_float_dtype(s.dtype):
            a = s.to_numpy(dtype=float)
            lists.append(np.where(np.isnan(a), None, a).tolist())
        elif (pd.api.types.is_bool_dtype(s.dtype) or pd.api.types.is_integer_dtype(s.dtype)) and not s.hasnans:
            lists.append(s.tolist())
        else:
            lists.append(s.astype(object).where(s.notna(), None).tolist())
    return lists


def records(df: pd.DataFrame, columns) -> list[dict]:
    """Rows as dicts of plain Python values (for SQLAlchemy statements with bound parameters)."""
    return [dict(zip(columns, row)) for row in zip(*column_lists(df, columns))]


def bulk_insert(conn, table, df: pd.DataFrame, columns) -> None:
    """Insert ``df[columns]`` into ``table`` inside the caller's transaction, at the driver level:
    tuples to sqlite3's ``executemany``, PostgreSQL's ``COPY``.  About 3x faster than SQLAlchemy's
    insert() with a list of dicts (benchmarks/README.md, workspace recording)."""
    rows = list(zip(*column_lists(df, columns)))
    if not rows:
        return
    names = ", ".join(columns)
    if conn.dialect.name == "postgresql":
        cur = conn.connection.dbapi_connection.cursor()
        try:
            with cur.copy(f"COPY {table.name} ({names}) FROM STDIN") as copy:
                for row in rows:
                    copy.write_row(row)
        finally:
            cur.close()
    else:
        conn.exec_driver_sql(f"INSERT INTO {table.name} ({names}) VALUES ({', '.join(['?'] * len(columns))})",
                             rows)


def message_seq(messages: pd.DataFrame, sent: pd.Series) -> pd.Series:
    """1-based position of each message in its conversation (by time, then input order),
    indexed like ``messages``: the stable id of a reply inside the workspace."""
    order = pd.DataFrame({"c": messages["conversation_id"].to_numpy(), "t": sent.to_numpy(),
                          "i": np.arange(len(messages))}, index=messages.index)
    order = order.sort_values(["c", "t", "i"], kind="stable")
    seq = order.groupby("c", sort=False).cumcount() + 1
    return seq.reindex(messages.index)


def content_hashes(messages: pd.DataFrame, seq: pd.Series, sent_text: pd.Series) -> pd.Series:
    """conversation_id -> 16-hex-digit hash of its messages (time, sender, role, text, order)."""
    parts = messages[["conversation_id", "sender", "role", "text"]].astype(str)
    parts["sent_at"] = sent_text.astype(str)
    rows = pd.util.hash_pandas_object(parts, index=False).to_numpy(dtype=np.uint64)
    weights = (seq.to_numpy(dtype=np.uint64) * np.uint64(2) + np.uint64(1))
    with np.errstate(over="ignore"):
        mixed = rows * weights
    sums = pd.Series(mixed, index=messages.index).groupby(messages["conversation_id"], sort=False).sum()
    return sums.map(lambda v: f"{int(v) & 0xFFFFFFFFFFFFFFFF:016x}")


def sample_keys(keys: pd.Series) -> np.ndarray:
    """0-9999 from the conversation id: a fixed, reproducible random order for sampling."""
    return (pd.util.hash_pandas_object(keys.astype(str), index=False).to_numpy(dtype=np.uint64)
            % np.uint64(10_000)).astype(np.int64)


def flag_stats(replies: pd.DataFrame) -> pd.DataFrame:
    """Per conversation: flagged replies, and the highest/lowest probability among them."""
    present = [t for t in TAGS if t in replies.columns and f"p_{t}" in replies.columns]
    if not present or replies.empty:
        return pd.DataFrame(columns=["flagged_replies", "flag_p_max", "flag_p_min"])
    flags = np.column_stack([replies[t].fillna(0).to_numpy(dtype=float) > 0 for t in present])
    probs = np.column_stack([replies[f"p_{t}"].fillna(0).to_numpy(dtype=float) for t in present])
    any_flag = flags.any(axis=1)
    p_flagged = np.where(flags, probs, np.nan)
    with np.errstate(all="ignore"):
        top = np.where(any_flag, np.nanmax(np.where(flags, probs, -np.inf), axis=1), np.nan)
    del p_flagged
    df = pd.DataFrame({"conversation_id": replies["conversation_id"].to_numpy(), "flag": any_flag, "p": top})
    g = df.groupby("conversation_id", sort=False)
    return pd.DataFrame({"flagged_replies": g["flag"].sum().astype("int64"), "flag_p_max": g["p"].max(),
                         "flag_p_min": g["p"].min()})


@dataclass
class RecordSummary:
    run_id: int | None = None
    new: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped_closed: int = 0
    rescored_with_decisions: int = 0
    messages: int = 0
    closed_periods: set = field(default_factory=set)

    def to_dict(self) -> dict:
        return {"run_id": self.run_id, "new": self.new, "updated": self.updated, "unchanged": self.unchanged,
                "skipped_closed": self.skipped_closed, "rescored_with_decisions": self.rescored_with_decisions,
                "messages": self.messages, "closed_periods": sorted(self.closed_periods)}


class WorkspaceRecorder:
    """The audit driver's workspace sink: ``add(chunk, scored)`` per chunk, then ``finish`` or ``abort``."""

    def __init__(self, workspace, run_info: dict, actor: str | None = None):
        self.ws = workspace
        self.run_info = run_info
        self.version_key = version_key(run_info)
        self.conn = workspace.engine.connect()
        self.trans = self.conn.begin()
        self.summary = RecordSummary()
        self.closed = {r.period for r in self.conn.execute(select(S.periods.c.period)
                                                           .where(S.periods.c.status == "closed"))}
        self.summary.run_id = self.conn.execute(insert(S.runs).values(
            started_at=now_text(), actor=actor, qa_scorer_version=run_info.get("qa_scorer_version"),
            version_key=self.version_key, model_json=dumps(run_info.get("model")),
            rubric_json=dumps(run_info.get("rubric")), settings_json=dumps(run_info.get("settings")),
            status="recording")).inserted_primary_key[0]
        self.rubric = None  # built lazily for re-applying decisions

    # -- the sink interface -----------------------------------------------------------------
    def add(self, chunk: pd.DataFrame, scored) -> None:
        conv = scored.conversations
        if conv.empty:
            return
        sent_text = time_text(chunk["sent_at"])      # parsed and formatted once per chunk
        seq = message_seq(chunk, pd.to_datetime(chunk["sent_at"]))
        hashes = content_hashes(chunk, seq, sent_text)
        conv = conv.assign(content_hash=conv["conversation_id"].map(hashes).fillna("0" * 16))
        conv["period"] = time_text(conv["started_at"]).str.slice(0, 7).fillna("0000-00")
        self.summary.messages += len(chunk)

        existing = self._existing(conv["conversation_id"].astype(str).tolist())
        keys = conv["conversation_id"].astype(str)
        known = keys.isin(existing.index)
        closed = conv["period"].isin(self.closed).to_numpy() | (
            known & keys.map(existing["period"]).isin(self.closed)).to_numpy()
        self.summary.skipped_closed += int(closed.sum())
        self.summary.closed_periods |= set(conv.loc[closed, "period"])
        same = known & (keys.map(existing["content_hash"]) == conv["content_hash"]) & (
            keys.map(existing["version_key"]) == self.version_key)
        same = same.to_numpy() & ~closed
        self.summary.unchanged += int(same.sum())
        new = (~known).to_numpy() & ~closed
        changed = known.to_numpy() & ~same & ~closed
        if not (new.any() or changed.any()):
            return
        stats = flag_stats(scored.replies)
        rows = self._conversation_frame(conv[new | changed], stats)
        is_new = new[new | changed]
        ids: dict[str, int] = {}
        if new.any():
            bulk_insert(self.conn, S.conversations, rows[is_new], list(rows.columns))
            ids.update(self._ids(rows.loc[is_new, "conversation_key"].tolist()))
            self.summary.new += int(is_new.sum())
        if changed.any():
            upd = records(rows[~is_new], list(rows.columns))
            ids.update(self._replace(upd, existing))
            self.summary.updated += len(upd)
            changed_ids = [ids[r["conversation_key"]] for r in upd]
        self._bulk(chunk, seq, sent_text, scored, ids)
        if changed.any():
            self._reapply(changed_ids)

    def finish(self, run_info: dict, inputs: list[dict]) -> RecordSummary:
        self.conn.execute(update(S.runs).where(S.runs.c.id == self.summary.run_id).values(
            finished_at=now_text(), inputs_json=dumps(inputs), summary_json=dumps(self.summary.to_dict()),
            status="done"))
        from qa_scorer.workspace.events import log_event

        log_event(self.conn, "audit", actor=self.run_info.get("actor"), data=self.summary.to_dict())
        self.trans.commit()
        self.conn.close()
        return self.summary

    def abort(self) -> None:
        try:
            self.trans.rollback()
        finally:
            self.conn.close()

    # -- helpers ----------------------------------------------------------------------------
    def _existing(self, keys: list[str]) -> pd.DataFrame:
        c = S.conversations.c
        rows = []
        for i in range(0, len(keys), _BATCH):
            rows += self.conn.execute(select(c.id, c.conversation_key, c.content_hash, c.version_key, c.period,
                                             c.version_no).where(c.conversation_key.in_(keys[i:i + _BATCH]))).all()
        df = pd.DataFrame(rows, columns=["id", "conversation_key", "content_hash", "version_key", "period",
                                         "version_no"])
        return df.set_index("conversation_key")

    def _ids(self, keys: list[str]) -> dict[str, int]:
        c = S.conversations.c
        out = {}
        for i in range(0, len(keys), _BATCH):
            out.update(dict(self.conn.execute(select(c.conversation_key, c.id)
                                              .where(c.conversation_key.in_(keys[i:i + _BATCH]))).all()))
        return out

    def _conversation_frame(self, conv: pd.DataFrame, stats: pd.DataFrame) -> pd.DataFrame:
        facts = conv.drop(columns=[c for c in conv.columns if c in SCORE_COLUMNS or c.startswith("ded_")
                                   or c.startswith("bonus_") or c in ("content_hash", "period")])
        facts_json = facts.to_json(orient="records", lines=True, date_format="iso", force_ascii=False)
        facts_json = facts_json.rstrip("\n").split("\n") if len(facts) else []
        st = stats.reindex(conv["conversation_id"].to_numpy())
        now = now_text()
        df = pd.DataFrame({
            "conversation_key": conv["conversation_id"].astype(str).to_numpy(),
            "shop": conv["shop"].to_numpy() if "shop" in conv.columns else None,
            "agent": conv["agent"].to_numpy(),
            "last_agent": conv["last_agent"].to_numpy() if "last_agent" in conv.columns else None,
            "customer": conv["customer"].to_numpy() if "customer" in conv.columns else None,
            "started_at": time_text(conv["started_at"]).to_numpy(),
            "ended_at": time_text(conv["ended_at"]).to_numpy(),
            "period": conv["period"].to_numpy(),
            "messages": pd.to_numeric(conv["messages"], errors="coerce").fillna(0).astype("int64").to_numpy(),
            "content_hash": conv["content_hash"].to_numpy(),
            "version_key": self.version_key,
            "version_no": 1,
            "run_id": self.summary.run_id,
            "facts_json": facts_json,
            "machine_score": conv["service_score"].astype(float).to_numpy(),
            "machine_items": conv["score_items"].astype(str).to_numpy(),
            "flagged_replies": st["flagged_replies"].fillna(0).astype("int64").to_numpy(),
            "flag_p_max": st["flag_p_max"].astype(float).to_numpy(),
            "flag_p_min": st["flag_p_min"].astype(float).to_numpy(),
            "needs_review": conv["needs_review"].astype(bool).to_numpy(),
            "review_reasons": conv["review_reasons"].astype(str).to_numpy(),
            "final_score": conv["service_score"].astype(float).to_numpy(),
            "final_items": conv["score_items"].astype(str).to_numpy(),
            "auto_failed": conv["auto_failed"].astype(bool).to_numpy(),
            "reviewed": False,
            "sample_key": sample_keys(conv["conversation_id"]),
            "row_version": 1,
            "updated_at": now,
        })
        return df

    def _replace(self, rows: list[dict], existing: pd.DataFrame) -> dict[str, int]:
        """Keep the old machine scoring as a version, overwrite the facts, drop the old bulk rows."""
        c = S.conversations.c
        ids = {r["conversation_key"]: int(existing.at[r["conversation_key"], "id"]) for r in rows}
        old = self.conn.execute(select(c.id, c.version_no, c.run_id, c.version_key, c.content_hash,
                                       c.machine_score, c.machine_items, c.final_score)
                                .where(c.id.in_(list(ids.values())))).mappings().all()
        now = now_text()
        self.conn.execute(insert(S.conversation_versions), [
            {"conversation_id": o["id"], "version_no": o["version_no"], "run_id": o["run_id"],
             "version_key": o["version_key"], "content_hash": o["content_hash"], "machine_score": o["machine_score"],
             "machine_items": o["machine_items"], "final_score": o["final_score"], "replaced_at": now} for o in old])
        version_no = {o["id"]: o["version_no"] for o in old}
        keep = ("conversation_key", "sample_key", "reviewed")  # identity and review state survive
        params = []
        for r in rows:
            p = {k: v for k, v in r.items() if k not in keep}
            p["b_id"] = ids[r["conversation_key"]]
            p["version_no"] = version_no[p["b_id"]] + 1
            params.append(p)
        cols = [k for k in params[0] if k != "b_id"]
        stmt = (update(S.conversations).where(c.id == bindparam("b_id"))
                .values({k: bindparam(k) for k in cols}).values(row_version=c.row_version + 1))
        self.conn.execute(stmt, params)
        idlist = list(ids.values())
        for table in (S.messages, S.replies, S.rounds):
            for i in range(0, len(idlist), _BATCH):
                self.conn.execute(delete(table).where(table.c.conversation_id.in_(idlist[i:i + _BATCH])))
        return ids

    def _bulk(self, chunk: pd.DataFrame, seq: pd.Series, sent_text: pd.Series, scored, ids: dict[str, int]) -> None:
        wanted = pd.Series(ids, dtype="int64")
        conv_id = chunk["conversation_id"].astype(str).map(wanted)   # NaN: not written in this chunk
        keep = conv_id.notna().to_numpy()
        if not keep.any():
            return
        msg = chunk[keep]
        m = pd.DataFrame({
            "conversation_id": conv_id[keep].astype("int64").to_numpy(),
            "seq": seq[keep].to_numpy(),
            "sent_at": sent_text[keep].to_numpy(),
            "sender": msg["sender"].to_numpy(), "role": msg["role"].to_numpy(), "text": msg["text"].to_numpy(),
            "source_file": msg["source_file"].to_numpy() if "source_file" in msg.columns else None,
            "source_line": (pd.to_numeric(msg["source_line"], errors="coerce").astype("Int64").to_numpy()
                            if "source_line" in msg.columns else None),
        })
        bulk_insert(self.conn, S.messages, m, MESSAGE_COLUMNS)

        rep = scored.replies
        rep_id = rep["conversation_id"].astype(str).map(wanted)
        if rep_id.notna().any():
            r = rep[rep_id.notna().to_numpy()].copy()
            r["seq"] = pd.Series(seq.to_numpy(), index=chunk.index).reindex(r["message_index"].to_numpy()).to_numpy()
            r["conversation_id"] = rep_id[rep_id.notna()].astype("int64").to_numpy()
            r["sent_at"] = time_text(r["sent_at"])
            for t in TAGS:
                if t in r.columns:
                    r[t] = r[t].fillna(0).astype("int64")
            if "forbidden" in r.columns:
                r["forbidden"] = pd.to_numeric(r["forbidden"], errors="coerce").fillna(0).astype("int64")
            bulk_insert(self.conn, S.replies, r, REPLY_COLUMNS)

        rnd = scored.rounds
        rnd_id = rnd["conversation_id"].astype(str).map(wanted)
        if rnd_id.notna().any():
            r = rnd[rnd_id.notna().to_numpy()].copy()
            r["conversation_id"] = rnd_id[rnd_id.notna()].astype("int64").to_numpy()
            r["started_at"] = time_text(r["started_at"])
            bulk_insert(self.conn, S.rounds, r, ROUND_COLUMNS)

    def _reapply(self, conversation_ids: list[int]) -> None:
        """A re-scored conversation keeps its human decisions: re-apply them to the new facts."""
        from qa_scorer.workspace.scoring import rescore

        with_decisions = {r[0] for r in self.conn.execute(
            select(S.decisions.c.conversation_id).where(S.decisions.c.conversation_id.in_(conversation_ids))
            .where(S.decisions.c.calibration_id.is_(None)).distinct())}
        for cid in sorted(with_decisions):
            rescore(self.conn, cid)
        self.summary.rescored_with_decisions += len(with_decisions)
