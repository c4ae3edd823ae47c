"""Raw reader frames -> the canonical messages table (schema.MESSAGE_COLUMNS).

Per file: parse timestamps, map role values, reject unusable rows (with file, line, reason).
Per batch: infer roles, mark auto-replies, segment conversations without ids, name the
serving agent and shop, sort.  All vectorised: this runs on millions of rows.
"""

from __future__ import annotations

import json
import re
from datetime import datetime

import numpy as np
import pandas as pd
import pyarrow as pa

from qa_scorer.schema import MESSAGE_COLUMNS, OPTIONAL_MESSAGE_COLUMNS
from qa_scorer.settings import MetricSettings

ROLE_VALUES = {
    "customer": "customer", "buyer": "customer", "client": "customer", "user": "customer",
    "买家": "customer", "顾客": "customer", "客户": "customer", "用户": "customer", "消费者": "customer",
    "agent": "agent", "seller": "agent", "staff": "agent", "service": "agent", "cs": "agent",
    "客服": "agent", "卖家": "agent", "商家": "agent", "店家": "agent", "售前": "agent", "售后": "agent",
    "auto": "auto", "autoreply": "auto", "auto_reply": "auto", "bot": "auto", "自动回复": "auto", "机器人": "auto",
    "system": "system", "系统": "system", "系统消息": "system", "sys": "system",
}
SYSTEM_SENDERS = {"系统", "系统消息", "system", "System", "SYSTEM", "平台", "淘宝", "千牛"}
ROLES_ORDER = ("customer", "agent", "auto", "system")
CUSTOMER, AGENT, AUTO, SYSTEM = range(4)
AUTO_PREFIX = re.compile(r"^\s*[\[【]自动回复[\]】]")
AGENT_NAME = re.compile(r"^(?P<shop>[^:：]+)[:：](?P<sub>.+)$")

_FALLBACK_FORMATS = ("%Y/%m/%d %H:%M:%S", "%Y/%m/%d %H:%M", "%Y.%m.%d %H:%M:%S", "%Y年%m月%d日 %H:%M:%S",
                     "%Y-%m-%d %H:%M", "%m/%d/%Y %H:%M:%S")


def parse_timestamps(values: pd.Series) -> pd.Series:
    """Parse export timestamps to naive datetimes (the shop's local time); NaT where impossible.

    Fast path ISO-8601 ("2026-11-20 09:15:03"); then a few common export formats on the rest;
    10/13-digit numbers are Unix seconds/milliseconds (converted to China time, UTC+8).
    Datetime cells (from xlsx) are taken as they are."""
    if pd.api.types.is_datetime64_any_dtype(values):
        out = values
        if getattr(out.dt, "tz", None) is not None:
            out = out.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
        return out.astype("datetime64[ns]")
    result = pd.Series(pd.NaT, index=values.index, dtype="datetime64[ns]")
    if values.dtype == object:  # json/xlsx: may mix datetime objects, numbers and text
        is_dt = values.map(lambda v: isinstance(v, datetime))
        if is_dt.any():
            result[is_dt] = pd.to_datetime(values[is_dt]).astype("datetime64[ns]")
        text = values[~is_dt].map(lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
        text = text.astype(str)
    else:
        text = values.fillna("").astype(str)
    text = text.str.strip()
    sub = text[text != ""]
    if sub.empty:
        return result
    numeric = sub.str.fullmatch(r"\d{10}(?:\d{3})?(?:\.\d+)?")
    if numeric.any():
        nums = sub[numeric].astype(float)
        ms = sub[numeric].str.len() >= 13
        secs = nums.where(~ms, nums / 1000.0)
        result[secs.index] = (pd.to_datetime(secs, unit="s", utc=True)
                              .dt.tz_convert("Asia/Shanghai").dt.tz_localize(None).astype("datetime64[ns]"))
        sub = sub[~numeric]
    if len(sub):
        try:
            parsed = pd.to_datetime(sub, format="%Y-%m-%d %H:%M:%S", errors="coerce")
        except ValueError:
            parsed = pd.Series(pd.NaT, index=sub.index, dtype="datetime64[ns]")
        rest = sub[parsed.isna()]
        if len(rest):
            iso = pd.to_datetime(rest, format="ISO8601", errors="coerce", utc=True)
            iso = iso.dt.tz_convert("Asia/Shanghai").dt.tz_localize(None)
            # naive strings were read as UTC above: take their wall time back
            naive = ~rest.str.contains(r"(?:Z|[+-]\d{2}:?\d{2})$", regex=True)
            iso_naive = pd.to_datetime(rest[naive], format="ISO8601", errors="coerce")
            parsed = parsed.copy()
            parsed[iso.index] = iso.astype("datetime64[ns]")
            parsed[iso_naive.index] = iso_naive.astype("datetime64[ns]")
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
    for col in ("conversation_id", "sender", "text", "buyer", "role", "receiver"):
        if col in frame.columns:
            out[col] = frame[col].fillna("").astype(str).str.strip()  # inner newlines stay
        else:
            out[col] = pd.Series("", index=frame.index, dtype=str)
    out["section"] = frame["section"].astype("int64") if "section" in frame.columns else 0
    out["source_line"] = frame["source_line"].astype("int64")
    out["source_file"] = source_file
    out["sent_at"] = parse_timestamps(frame["sent_at"]) if n else pd.Series([], dtype="datetime64[ns]")

    reasons = pd.Series("", index=frame.index, dtype=object)
    bad_ts = out["sent_at"].isna()
    if bad_ts.any():
        raw_ts = frame.loc[bad_ts, "sent_at"].astype(object).map(
            lambda v: "" if v is None or (isinstance(v, float) and pd.isna(v)) else str(v))
        reasons[bad_ts] = ("bad timestamp " + raw_ts.map(repr) + " (expected e.g. 2026-11-20 09:15:03)").astype(object)
    empty_sender = out["sender"] == ""
    reasons[empty_sender & ~bad_ts] = "empty sender"
    role_codes, role_uniq = pd.factorize(out["role"].str.lower())
    mapped_uniq = pd.Series(role_uniq, dtype=object).map(ROLE_VALUES)
    mapped_uniq[pd.Series(role_uniq, dtype=object) == ""] = ""
    mapped = pd.Series(mapped_uniq.to_numpy()[role_codes] if len(role_uniq) else [], index=out.index, dtype=object)
    unknown_role = mapped.isna()
    if unknown_role.any():
        reasons[unknown_role & (reasons == "")] = (
            "unknown role " + out["role"][unknown_role].map(repr)
            + " (allowed: customer/买家, agent/客服, auto/自动回复, system/系统; or leave it empty to infer)"
        ).astype(object)
    out["role"] = mapped.fillna("").astype(str)
    bad = reasons != ""
    rejected = pd.DataFrame({
        "source_file": source_file,
        "source_line": out.loc[bad, "source_line"],
        "reason": reasons[bad],
        "raw": _raw_repr(frame, bad),
    })
    return (out[~bad] if bad.any() else out), rejected  # no copy when nothing is rejected


STR = pd.StringDtype("pyarrow", na_value=np.nan)  # pandas' default "str" dtype


def _str_column(uniques, codes: np.ndarray) -> pd.Series:
    """A str column built from a few distinct values and per-row codes (Arrow take: no per-row objects)."""
    arr = pa.array([str(u) for u in uniques], type=pa.string())
    return pd.Series(arr.take(pa.array(codes, type=pa.int64())), dtype=STR)


def finish_batch(rows: pd.DataFrame, *, agents: set[str] | None = None,
                 session_gap_s: int = MetricSettings.session_gap_s) -> pd.DataFrame:
    """Roles, auto-replies, conversation segmentation, serving agent/shop, sort -> canonical table.

    String work is done once per distinct sender/conversation, never per message: rows carry
    integer codes and the string columns are assembled at the end."""
    agents = set(agents or ())
    df = rows.reset_index(drop=True)
    n = len(df)
    seq = np.arange(n, dtype="int64")  # input order, the tie-breaker for equal timestamps

    # --- roles: explicit value wins; else agent by name form / --agents list; system senders; else customer
    s_codes, s_uniq = pd.factorize(df["sender"])
    senders = pd.Series(np.asarray(s_uniq, dtype=object), dtype=object)
    n_senders = len(senders)
    parts = senders.str.extract(AGENT_NAME)
    u_shop = parts["shop"].str.strip().fillna("").to_numpy(dtype=object)
    u_agentish = ((parts["shop"].notna()) | senders.isin(agents)).to_numpy()
    u_system = senders.isin(SYSTEM_SENDERS).to_numpy()
    role_names = np.array(ROLES_ORDER, dtype=object)
    inferred = np.where(u_system[s_codes], SYSTEM, np.where(u_agentish[s_codes], AGENT, CUSTOMER))
    g_codes, g_uniq = pd.factorize(df["role"])
    g_map = np.array([ROLES_ORDER.index(r) if r in ROLES_ORDER else -1 for r in g_uniq], dtype=np.int64)
    given = g_map[g_codes] if len(g_uniq) else np.full(n, -1)
    role = np.where(given >= 0, given, inferred)
    text = df["text"]
    auto_text = (text.str.startswith("[自动回复]") | text.str.startswith("【自动回复】")).to_numpy(dtype=bool)
    role[(role == AGENT) & auto_text] = AUTO
    agent_side = (role == AGENT) | (role == AUTO)
    # One spelling per agent account: full-width colon -> ASCII, so 店铺：小美 and 店铺:小美 are one agent.
    # Sender codes >= n_senders point at the normalised spelling.
    all_names = np.concatenate([senders.to_numpy(dtype=object),
                                senders.str.replace("：", ":", regex=False).to_numpy(dtype=object)])
    sender_code = s_codes + np.where(agent_side, n_senders, 0)
    has_shop = agent_side & (u_shop[s_codes] != "")

    # --- conversation codes; exports without ids: per (buyer, shop), new after a silence > session_gap_s
    conv_raw = df["conversation_id"]
    no_id = (conv_raw == "").to_numpy(dtype=bool)
    c_codes, c_uniq = pd.factorize(conv_raw.where(~no_id, None) if no_id.any() else conv_raw)
    conv_names = list(np.asarray(c_uniq, dtype=object))
    conv_code = c_codes.astype(np.int64)
    sent_at = df["sent_at"].to_numpy(dtype="datetime64[ns]")
    if no_id.any():
        idx = np.flatnonzero(no_id)
        sub = pd.DataFrame({
            "file": df["source_file"].to_numpy(dtype=object)[idx],
            "section": df["section"].to_numpy()[idx],
            "buyer": df["buyer"].to_numpy(dtype=object)[idx],
            "sender": all_names[sender_code[idx]], "is_customer": role[idx] == CUSTOMER,
            "shop": np.where(has_shop[idx], u_shop[s_codes[idx]], None),
            "sent_at": sent_at[idx], "seq": seq[idx],
        })
        buyer = sub["buyer"].where(sub["buyer"] != "", sub["sender"].where(sub["is_customer"]))
        buyer = buyer.replace("", np.nan)
        grp = [sub["file"], sub["section"]]
        sub["buyer_key"] = buyer.groupby(grp).ffill()
        sub["buyer_key"] = sub["buyer_key"].groupby(grp).bfill().fillna("")
        sub["shop_key"] = sub.groupby(["file", "section", "buyer_key"])["shop"].transform("first").fillna("")
        sub = sub.sort_values(["buyer_key", "shop_key", "sent_at", "seq"], kind="stable")
        same_pair = sub["buyer_key"].eq(sub["buyer_key"].shift()) & sub["shop_key"].eq(sub["shop_key"].shift())
        gap = (sub["sent_at"] - sub["sent_at"].shift()).dt.total_seconds()
        conv_no = (~same_pair | (gap > session_gap_s)).cumsum().to_numpy() - 1
        firsts = sub.groupby(conv_no, sort=True).first()
        names = (firsts["shop_key"] + "|" + firsts["buyer_key"] + "|"
                 + firsts["sent_at"].dt.strftime("%Y%m%d-%H%M%S")).tolist()
        seg_code = np.empty(len(idx), dtype=np.int64)
        seg_code[sub.index.to_numpy()] = conv_no + len(conv_names)
        conv_code[idx] = seg_code
        conv_names.extend(names)

    # --- order: conversations by start time then id, messages by time, file order for ties
    name_rank = np.empty(len(conv_names), dtype=np.int64)
    name_rank[np.argsort(np.array(conv_names, dtype=object).astype(str), kind="stable")] = np.arange(len(conv_names))
    conv_rank = name_rank[conv_code]
    t = sent_at.view("int64")
    start = pd.Series(t).groupby(conv_rank).transform("min").to_numpy()
    order = np.lexsort((seq, t, conv_rank, start))
    in_order = bool(np.all(order[1:] > order[:-1])) if n > 1 else True
    if not in_order:
        conv_code, role, sender_code, agent_side = conv_code[order], role[order], sender_code[order], agent_side[order]
        conv_rank = conv_rank[order]

    # --- serving agent (first human agent) and shop, per conversation (codes, -1 = none)
    by_conv = pd.Series(conv_rank)
    human = role == AGENT
    first_agent = pd.Series(np.where(human, sender_code, np.nan)).groupby(by_conv).transform("first")
    first_side = pd.Series(np.where(agent_side, sender_code, np.nan)).groupby(by_conv).transform("first")
    shop_src = np.where(first_agent.notna(), first_agent, first_side)
    shop_code = np.where(np.isnan(shop_src), -1, np.nan_to_num(shop_src, nan=0).astype(np.int64) % n_senders)
    shop_names = np.append(u_shop, "")
    # receiving account (optional column, always written); a conversation no agent-side account
    # wrote in takes its shop from the receiver's 店铺:子账号 name
    files_codes, files_uniq = pd.factorize(df["source_file"])
    take = (lambda a: a[order]) if not in_order else (lambda a: a)
    rec_code, rec_names = _receiver_codes(df)
    rec_code = take(rec_code)
    if (shop_code < 0).any() and any(rec_names):
        rec_shop = pd.Series(rec_names, dtype=object).str.extract(AGENT_NAME)["shop"].str.strip().fillna("")
        rec_shop = rec_shop.to_numpy(dtype=object)
        with_shop = rec_shop[rec_code] != ""
        first_rec = pd.Series(np.where(with_shop, rec_code, np.nan)).groupby(by_conv).transform("first").to_numpy()
        use = (shop_code < 0) & ~np.isnan(first_rec)
        shop_code = np.where(use, len(shop_names) + np.nan_to_num(first_rec, nan=0).astype(np.int64), shop_code)
        shop_names = np.concatenate([shop_names, rec_shop])
    agent_code = np.where(first_agent.notna(), np.nan_to_num(first_agent.to_numpy(), nan=0), -1).astype(np.int64)
    agent_names = np.append(all_names, "")

    out = pd.DataFrame({
        "conversation_id": _str_column(conv_names, conv_code),
        "sent_at": take(sent_at),
        "sender": _str_column(all_names, sender_code),
        "role": _str_column(role_names, role),
        "text": text.astype(str).take(order).reset_index(drop=True) if not in_order else text.astype(str),
        "source_file": _str_column(files_uniq, take(files_codes)),
        "source_line": take(df["source_line"].to_numpy(dtype="int64")),
        "shop": _str_column(shop_names, np.where(shop_code < 0, len(u_shop), shop_code)),
        "agent": _str_column(agent_names, np.where(agent_code < 0, len(agent_names) - 1, agent_code)),
        "receiver": _str_column(rec_names, rec_code),
    })
    return out[MESSAGE_COLUMNS + OPTIONAL_MESSAGE_COLUMNS]


def _receiver_codes(df: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Per-row codes and names of the optional ``receiver`` column (接待客服): the account as
    exported, one spelling per account as for agents (full-width colon -> ASCII, so 店铺：小美 is
    店铺:小美).  Without the column every row is "" (the column is always written, so every
    chunk and messages.csv have the same columns)."""
    if "receiver" not in df.columns:
        return np.zeros(len(df), dtype=np.int64), [""]
    codes, uniq = pd.factorize(df["receiver"].fillna(""))
    names = [str(u).strip().replace("：", ":") for u in uniq]
    return codes.astype(np.int64), names or [""]
