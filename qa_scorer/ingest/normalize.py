"""Raw reader frames -> the canonical messages table (schema.MESSAGE_COLUMNS).

Per file: parse timestamps, map role values, reject unusable rows (with file, line, reason).
Per batch: infer roles, mark auto-replies, segment conversations without ids, name the
serving agent and shop, sort.  All vectorised: this runs on millions of rows.
"""

from __future__ import annotations

import json
import re

import numpy as np
import pandas as pd

from qa_scorer.schema import MESSAGE_COLUMNS

ROLE_VALUES = {
    "customer": "customer", "buyer": "customer", "client": "customer", "user": "customer",
    "买家": "customer", "顾客": "customer", "客户": "customer", "用户": "customer", "消费者": "customer",
    "agent": "agent", "seller": "agent", "staff": "agent", "service": "agent", "cs": "agent",
    "客服": "agent", "卖家": "agent", "商家": "agent", "店家": "agent", "售前": "agent", "售后": "agent",
    "auto": "auto", "autoreply": "auto", "auto_reply": "auto", "bot": "auto", "自动回复": "auto", "机器人": "auto",
    "system": "system", "系统": "system", "系统消息": "system", "sys": "system",
}
SYSTEM_SENDERS = {"系统", "系统消息", "system", "System", "SYSTEM", "平台", "淘宝", "千牛"}
AUTO_PREFIX = re.compile(r"^\s*[\[【]自动回复[\]】]")
AGENT_NAME = re.compile(r"^(?P<shop>[^:：]+)[:：](?P<sub>.+)$")

_FALLBACK_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y.%m.%d %H:%M:%S", "%Y年%m月%d日 %H:%M:%S",
                     "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M:%S")


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Parse export timestamps to naive datetimes (the shop's local time); NaT where impossible.

    Fast path ISO-8601 ("2026-11-20 09:15:03"); then a few common export formats on the rest;
    10/13-digit numbers are Unix seconds/milliseconds (converted to China time, UTC+8)."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
        return out.astype("datetime64[ns]")
    obj = values.astype(object)
    is_dt = obj.map(lambda v: isinstance(v, pd.Timestamp) or hasattr(v, "year"))
    text = obj.where(~is_dt, None).map(lambda v: v if v is None else str(v).strip())
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if is_dt.any():
        result[is_dt] = pd.to_datetime(obj[is_dt]).astype("datetime64[ns]")
    todo = text.notna() & (text != "")
    if not todo.any():
        return result
    sub = text[todo]
    numeric = sub.str.fullmatch(r"\d{10}(?:\d{3})?(?:\.\d+)?")
    if numeric.any():
        nums = sub[numeric].astype(float)
        ms = sub[numeric].str.len() >= 13
        secs = nums.where(~ms, nums / 1000.0)
        result[secs.index] = (pd.to_datetime(secs, unit="s", utc=True)
                              .dt.tz_convert("Asia/Shanghai").dt.tz_localize(None).astype("datetime64[ns]"))
        sub = sub[~numeric]
    if len(sub):
        parsed = pd.to_datetime(sub, format="ISO8601", errors="coerce")
        if getattr(parsed.dt, "tz", None) is not None:  # offsets in the text
            parsed = parsed.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
        result[parsed.index] = parsed.astype("datetime64[ns]")
        rest = sub[parsed.isna()]
        for fmt in _FALLBACK_FORMATS:
            if rest.empty:
                break
            p = pd.to_datetime(rest, format=fmt, errors="coerce")
            ok = p.notna()
            result[p[ok].index] = p[ok].astype("datetime64[ns]")
            rest = rest[~ok]
    return result


def _raw_repr(frame: pd.DataFrame, mask: pd.Series) -> pd.Series:
    cols = [c for c in ("conversation_id", "sent_at", "sender", "role", "text") if c in frame.columns]
    sub = frame.loc[mask, cols]
    return pd.Series([json.dumps({k: str(v) for k, v in rec.items()}, ensure_ascii=False)
                      for rec in sub.to_dict("records")], index=sub.index, dtype=object)


def normalize_file(frame: pd.DataFrame, source_file: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Clean one reader frame.  Returns (rows, rejected) - rows keep a ``role`` that may be "" (infer later)."""
    n = len(frame)
    out = pd.DataFrame(index=frame.index)
    for col in ("conversation_id", "sender", "text", "buyer", "role"):
        out[col] = frame[col].astype(object).fillna("").astype(str).str.strip() if col in frame.columns else ""
    if "text" in frame.columns:  # keep inner newlines, trim only the ends
        out["text"] = frame["text"].astype(object).fillna("").astype(str).str.strip()
    out["section"] = frame["section"].astype("int64") if "section" in frame.columns else 0
    out["source_line"] = frame["source_line"].astype("int64")
    out["source_file"] = source_file
    out["sent_at"] = parse_timestamps(frame["sent_at"]) if n else pd.Series([], dtype="datetime64[ns]")

    reasons = pd.Series("", index=frame.index, dtype=object)
    raw_ts = frame["sent_at"].astype(object).map(lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
    bad_ts = out["sent_at"].isna()
    reasons[bad_ts] = "bad timestamp " + raw_ts[bad_ts].map(repr) + " (expected e.g. 2026-11-20 09:15:03)"
    empty_sender = out["sender"] == ""
    reasons[empty_sender & ~bad_ts] = "empty sender"
    role_given = out["role"] != ""
    mapped = out["role"].str.lower().map(ROLE_VALUES)
    unknown_role = role_given & mapped.isna()
    reasons[unknown_role & (reasons == "")] = (
        "unknown role " + out["role"][unknown_role].map(repr)
        + " (allowed: customer/买家, agent/客服, auto/自动回复, system/系统; or leave it empty to infer)"
    )
    out["role"] = mapped.fillna("")
    bad = reasons != ""
    rejected = pd.DataFrame({
        "source_file": source_file,
        "source_line": out.loc[bad, "source_line"],
        "reason": reasons[bad],
        "raw": _raw_repr(frame, bad),
    })
    return out[~bad], rejected


def finish_batch(rows: pd.DataFrame, *, agents: set[str] | None = None, session_gap_s: int = 1800) -> pd.DataFrame:
    """Roles, auto-replies, conversation segmentation, serving agent/shop, sort -> canonical table."""
    agents = set(agents or ())
    df = rows.reset_index(drop=True)
    df["seq"] = np.arange(len(df), dtype="int64")  # input order, the tie-breaker for equal timestamps

    # --- roles: explicit value wins; else agent by name form / --agents list; system senders; else customer
    sender = df["sender"]
    name_match = sender.str.extract(AGENT_NAME)
    looks_agent = name_match["shop"].notna() | sender.isin(agents)
    inferred = np.where(sender.isin(SYSTEM_SENDERS), "system", np.where(looks_agent, "agent", "customer"))
    role = df["role"].where(df["role"] != "", pd.Series(inferred, index=df.index))
    is_auto_text = df["text"].str.contains(AUTO_PREFIX, na=False)
    role = role.where(~((role == "agent") & is_auto_text), "auto")
    df["role"] = role
    # One spelling per agent account: full-width colon -> ASCII, so 店铺：小美 and 店铺:小美 are one agent.
    agent_side = df["role"].isin(["agent", "auto"])
    df.loc[agent_side, "sender"] = df.loc[agent_side, "sender"].str.replace("：", ":", regex=False)
    shop_of_row = name_match["shop"].where(agent_side).str.strip()

    # --- conversations without an id: per (buyer, shop), new one after a silence > session_gap_s
    no_id = df["conversation_id"] == ""
    if no_id.any():
        sub = df.loc[no_id, ["source_file", "section", "buyer", "role", "sender", "sent_at", "seq"]].copy()
        sub["shop_tmp"] = shop_of_row[no_id]
        buyer = sub["buyer"].where(sub["buyer"] != "", sub["sender"].where(sub["role"] == "customer"))
        buyer = buyer.replace("", np.nan)
        grp = [sub["source_file"], sub["section"]]
        sub["buyer_key"] = buyer.groupby(grp).ffill()
        sub["buyer_key"] = sub["buyer_key"].groupby(grp).bfill().fillna("")
        sub["shop_key"] = sub.groupby([sub["source_file"], sub["section"], sub["buyer_key"]])["shop_tmp"] \
                             .transform("first").fillna("")
        sub = sub.sort_values(["buyer_key", "shop_key", "sent_at", "seq"], kind="stable")
        same_pair = (sub["buyer_key"].eq(sub["buyer_key"].shift())) & (sub["shop_key"].eq(sub["shop_key"].shift()))
        gap = (sub["sent_at"] - sub["sent_at"].shift()).dt.total_seconds()
        new_conv = ~same_pair | (gap > session_gap_s)
        conv_no = new_conv.cumsum()
        first_ts = sub["sent_at"].groupby(conv_no).transform("first")
        cid = sub["shop_key"] + "|" + sub["buyer_key"] + "|" + first_ts.dt.strftime("%Y%m%d-%H%M%S")
        df.loc[sub.index, "conversation_id"] = cid

    # --- serving agent (first human agent reply) and shop, per conversation
    df = df.sort_values(["conversation_id", "sent_at", "seq"], kind="stable")
    is_human = df["role"] == "agent"
    first_agent = df["sender"].where(is_human).groupby(df["conversation_id"]).transform("first")
    first_agent_side = df["sender"].where(df["role"].isin(["agent", "auto"])).groupby(df["conversation_id"]).transform("first")
    df["agent"] = first_agent.fillna("")
    shop_src = first_agent.fillna(first_agent_side).fillna("")
    df["shop"] = shop_src.str.extract(AGENT_NAME)["shop"].fillna("").str.strip()

    # --- order: conversations by start time, messages by time, file order for ties
    start = df.groupby("conversation_id")["sent_at"].transform("min")
    df = df.assign(_start=start).sort_values(["_start", "conversation_id", "sent_at", "seq"], kind="stable")
    out = df[MESSAGE_COLUMNS].reset_index(drop=True)
    out["source_line"] = out["source_line"].astype("int64")
    return out
