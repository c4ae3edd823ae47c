"""report.html: one self-contained page for QA staff.

The page works offline: CSS and the small sorting script are inlined from package data, the
charts are SVG drawn in Python, and a Content-Security-Policy allows no network access and
no script but ours (by hash), so even a chat message that slipped past escaping could not run.

Cost: the agent table and the charts come from the aggregated tables; only the ``worst_n``
conversations render messages, and the messages table is filtered to those ids first.
"""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import datetime
from html import escape
from importlib import resources
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from qa_scorer import __version__
from qa_scorer.report._common import (
    RULE_LABELS,
    TAG_LABELS,
    find_setting,
    flag,
    fmt_number,
    fmt_rate,
    fmt_seconds,
    fmt_time,
    has,
    is_missing,
    number,
    parse_score_items,
    parse_tag_words,
    rate_fraction,
    tag_columns,
    thresholds,
)
from qa_scorer.report.svg import latency_by_agent_chart, score_histogram
from qa_scorer.safety import mask_series

# (column, Chinese label, English label, kind) of the agent table, in display order.
AGENT_TABLE_COLUMNS = [
    ("agent", "客服", "agent", "text"),
    ("service_score", "服务分", "score", "score"),
    ("conversations", "会话", "conversations", "int"),
    ("rounds", "轮次", "rounds", "int"),
    ("first_response_avg_s", "首次响应", "first response", "seconds"),
    ("avg_response_s", "平均响应", "avg response", "seconds"),
    ("within_3min_rate", "3分钟响应率", "within 3 min", "rate"),
    ("unanswered_rounds", "未回复轮次", "unanswered", "int"),
    ("short_replies", "短回复", "short replies", "int"),
    ("product_answer_short", "商品回复短", "product short", "int"),
    ("missing_closings", "缺结束语", "no closing", "int"),
] + [(t, TAG_LABELS[t], t, "int") for t in ("pushy", "unhelpful", "rude", "overclaim")]

ROLE_LABELS = {"customer": "买家", "auto": "自动回复", "system": "系统"}


def _asset(name: str) -> str:
    return resources.files("qa_scorer.report").joinpath(name).read_text(encoding="utf-8")


def _e(value: Any) -> str:
    """Escape anything for HTML text or a quoted attribute; missing -> ''."""
    return "" if is_missing(value) else escape(str(value), quote=True)


def _score_class(score: Any) -> str:
    if is_missing(score):
        return "none"
    return "good" if float(score) >= 80 else "mid" if float(score) >= 60 else "bad"


def _score_pill(score: Any) -> str:
    text = "–" if is_missing(score) else f"{float(score):.1f}"
    return f'<span class="pill {_score_class(score)}">{text}</span>'


def _latency_class(seconds: float) -> str:
    return "green" if seconds <= 60 else "amber" if seconds <= 180 else "red"


# --------------------------------------------------------------------------- header
def _period(run_info: dict, conversations: pd.DataFrame) -> str:
    period = run_info.get("period")
    if isinstance(period, (list, tuple)) and len(period) == 2:
        return f"{period[0]} – {period[1]}"
    if isinstance(period, dict):
        return f"{period.get('start', '')} – {period.get('end', '')}"
    if period:
        return str(period)
    if has(conversations, "started_at") and len(conversations):
        start = pd.to_datetime(conversations["started_at"], errors="coerce").min()
        end_col = "ended_at" if "ended_at" in conversations.columns else "started_at"
        end = pd.to_datetime(conversations[end_col], errors="coerce").max()
        if not is_missing(start):
            return f"{fmt_time(start)} – {fmt_time(end)}"
    return "–"


def _describe(value: Any) -> str:
    """A model/rubric entry of run.json as one line (str, or the telling fields of a dict)."""
    if is_missing(value) or value == "":
        return "–"
    if isinstance(value, dict):
        keys = [k for k in ("name", "version", "path", "sha256", "trained_at") if value.get(k)]
        if keys:
            return " · ".join(f"{value[k]}" if k == "name" else f"{k} {value[k]}" for k in keys)
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return ", ".join(str(v) for v in value)
    return str(value)


def _header(run_info: dict, conversations: pd.DataFrame) -> str:
    inputs = run_info.get("inputs") or run_info.get("input") or []
    if isinstance(inputs, str):
        inputs = [inputs]
    inputs = [str(i) for i in inputs]
    shown = ", ".join(inputs[:8]) + (f" … (+{len(inputs) - 8})" if len(inputs) > 8 else "")
    t = thresholds(run_info)
    start = find_setting(run_info, "service_start", "08:00")
    end = find_setting(run_info, "service_end", "24:00")
    preset = find_setting(run_info, "platform") or run_info.get("preset") or "默认 default"
    settings_line = (
        f"服务时间 {start}–{end} · 3分钟线 {t['within_seconds']}秒 · 慢回复 >{t['slow_seconds']}秒 · "
        f"短回复 <{t['min_reply_chars']}字 · 商品回复 ≥{t['product_answer_min_chars']}字 · "
        f"结束语 买家沉默 {t['closing_silence_s']}秒"
    )
    rows = [
        ("输入 Inputs", shown or "–"),
        ("时段 Period", _period(run_info, conversations)),
        ("预设 Preset", str(preset)),
        ("设置 Settings", settings_line),
        ("模型 Model", _describe(run_info.get("model"))),
        ("评分表 Rubric", _describe(run_info.get("rubric"))),
    ]
    generated = run_info.get("generated_at") or datetime.now().strftime("%Y-%m-%d %H:%M")
    version = run_info.get("version") or __version__
    info = "".join(f"<dt>{_e(k)}</dt><dd>{_e(v)}</dd>" for k, v in rows)
    raw = ""
    if run_info:
        raw = (f'<details class="raw"><summary>run.json</summary><pre>'
               f'{_e(json.dumps(run_info, ensure_ascii=False, indent=2, default=str))}</pre></details>')
    return (
        '<header class="report-head"><div class="inner">'
        '<h1>客服质检报告 <span style="font-weight:400;opacity:.75">Customer-service QA report</span></h1>'
        f'<div class="sub">qa-scorer {_e(version)} · 生成于 {_e(generated)}</div>'
        f'<dl class="run-info">{info}</dl>{raw}</div></header>'
    )


# --------------------------------------------------------------------------- summary + agent table
def _summary_cards(agents: pd.DataFrame, conversations: pd.DataFrame, replies: pd.DataFrame) -> str:
    cards = [("会话 conversations", f"{len(conversations):,}"), ("客服 agents", f"{len(agents):,}")]
    rounds = number(conversations, "rounds")
    if rounds.notna().any():
        cards.append(("轮次 rounds", f"{int(rounds.sum()):,}"))
        rate = rate_fraction(conversations["within_3min_rate"]) if "within_3min_rate" in conversations else None
        if rate is not None and (rate.notna() & (rounds > 0)).any():
            ok = rate.notna() & (rounds > 0)
            cards.append(("3分钟响应率 within 3 min",
                          fmt_rate((rate[ok] * rounds[ok]).sum() / rounds[ok].sum())))
    score = number(conversations, "service_score")
    if score.notna().any():
        cards.append(("平均服务分 mean score", f"{score.mean():.1f}"))
    tags = tag_columns(replies)
    if tags:
        flagged = np.zeros(len(replies), dtype=bool)
        for t in tags:
            flagged |= flag(replies, t).to_numpy()
        cards.append(("标记回复 flagged replies", f"{int(flagged.sum()):,}"))
    return '<div class="cards">' + "".join(
        f'<div class="card"><div class="k">{_e(k)}</div><div class="v">{_e(v)}</div></div>' for k, v in cards
    ) + "</div>"


def _agent_cell(name: str) -> str:
    """'店铺:小美' shown as 小美 with the shop underneath (keeps the wide table narrow)."""
    shop, sep, short = name.replace("：", ":").rpartition(":")
    shown = f'{_e(short)}<span class="shop">{_e(shop)}</span>' if sep and shop and short else _e(name)
    return f'<td data-sort="{_e(name)}" title="{_e(name)}">{shown}</td>'


def _agent_table(agents: pd.DataFrame) -> str:
    columns = [c for c in AGENT_TABLE_COLUMNS if c[0] in agents.columns]
    if agents.empty or not columns:
        return '<p class="no-data">没有客服数据。No agents in this run.</p>'
    frame = agents
    if "service_score" in frame.columns:
        frame = frame.assign(_s=number(frame, "service_score")).sort_values("_s", ascending=False, na_position="last")
    head = "".join(f'<th scope="col" data-col="{_e(col)}">{_e(zh)}<small>{_e(en)}</small></th>'
                   for col, zh, en, _kind in columns)
    # Build the body column by column (vectorised formatting), then join rows.
    cells: list[list[str]] = []
    for col, _zh, _en, kind in columns:
        raw = frame[col]
        if kind == "text":
            cells.append([_agent_cell(v) for v in raw.astype("string").fillna("")])
            continue
        values = rate_fraction(raw) if kind == "rate" else pd.to_numeric(raw, errors="coerce")
        column_cells = []
        for v in values:
            sort = "" if is_missing(v) else repr(float(v))
            if kind == "score":
                shown = _score_pill(v)
            elif kind == "seconds":
                shown = _e(fmt_seconds(v))
            elif kind == "rate":
                shown = _e(fmt_rate(v))
            else:
                shown = _e(fmt_number(v))
            zero = ' class="zero"' if kind == "int" and not is_missing(v) and float(v) == 0 else ""
            column_cells.append(f'<td data-sort="{sort}"{zero}>{shown}</td>')
        cells.append(column_cells)
    body = "".join("<tr>" + "".join(row) + "</tr>" for row in zip(*cells))
    return (f'<div class="panel table-wrap"><table id="agent-table" class="sortable">'
            f'<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table></div>'
            '<p class="note">点击表头排序（再次点击反向）。Click a column header to sort; click again to reverse.</p>')


# --------------------------------------------------------------------------- worst conversations
def _worst_conversations(conversations: pd.DataFrame, worst_n: int) -> pd.DataFrame:
    """The ``worst_n`` lowest-scored conversations (most problems first when there is no score)."""
    if conversations.empty or worst_n <= 0:
        return conversations.head(0)
    problems = sum(
        number(conversations, c).fillna(0)
        for c in ("unanswered_rounds", "slow_rounds", "short_replies", "product_answer_short", "missing_closing",
                  "pushy", "unhelpful", "rude", "overclaim")
    )
    ranked = conversations.assign(_score=number(conversations, "service_score"), _problems=problems)
    ranked = ranked.sort_values(["_score", "_problems", "conversation_id"], ascending=[True, False, True],
                                na_position="last", kind="stable")
    return ranked.head(worst_n)


def _link_replies(msgs: pd.DataFrame, replies: pd.DataFrame) -> pd.DataFrame:
    """Attach to each message the row of its reply in ``replies`` (``link_row``, -1 if none).

    ``replies.message_index`` is the row position in the messages table; it is used when
    every linked reply's conversation agrees with that row.  Otherwise fall back to the
    source location, then to (conversation, time, text), so a reordered table still links.
    """
    if replies.empty:
        return msgs.assign(link_row=-1)
    reply_rows = np.arange(len(replies))
    if "message_index" in replies.columns:
        links = pd.DataFrame({"msg_pos": pd.to_numeric(replies["message_index"], errors="coerce"),
                              "link_row": reply_rows,
                              "reply_cid": replies["conversation_id"].astype("string").to_numpy()}).dropna()
        links["msg_pos"] = links["msg_pos"].astype("int64")
        merged = pd.DataFrame({"msg_pos": msgs["msg_pos"].to_numpy(),
                               "cid": msgs["conversation_id"].astype("string").to_numpy()}).merge(
            links.drop_duplicates("msg_pos"), on="msg_pos", how="left")
        found = merged["link_row"].notna()
        if found.any() and (merged.loc[found, "cid"] == merged.loc[found, "reply_cid"]).all():
            return msgs.assign(link_row=merged["link_row"].fillna(-1).astype("int64").to_numpy())
    for keys in (["conversation_id", "source_file", "source_line"], ["conversation_id", "sent_at", "text"]):
        if has(msgs, *keys) and has(replies, *keys):
            left = msgs[keys].astype("string").reset_index(drop=True)
            right = replies[keys].astype("string").assign(link_row=reply_rows).drop_duplicates(keys)
            merged = left.merge(right, on=keys, how="left")
            if merged["link_row"].notna().any():
                return msgs.assign(link_row=merged["link_row"].fillna(-1).astype("int64").to_numpy())
    return msgs.assign(link_row=-1)


def _reply_flags(replies: pd.DataFrame, rounds: pd.DataFrame | None, limits: dict) -> pd.DataFrame:
    """Per reply: latency, flagged tags (with probability and words) and rule flags as HTML snippets."""
    out = pd.DataFrame(index=replies.index)
    out["latency_s"] = number(replies, "latency_s")
    tags = tag_columns(replies)
    words = replies["tag_words"].map(parse_tag_words) if "tag_words" in replies.columns else None
    tag_html = pd.Series("", index=replies.index, dtype=object)
    for t in tags:
        hit = flag(replies, t)
        if not hit.any():
            continue
        prob = number(replies, f"p_{t}")
        for i in hit[hit].index:
            p = "" if is_missing(prob[i]) else f' <span class="p">{prob[i]:.2f}</span>'
            w = words[i].get(t, "") if words is not None else ""
            w_html = f' <span class="w">· {_e(w)}</span>' if w else ""
            tag_html[i] += f'<span class="flag tag">{_e(TAG_LABELS[t])} {_e(t)}{p}{w_html}</span>'
    rule_html = pd.Series("", index=replies.index, dtype=object)
    short = flag(replies, "short_reply")
    chars = number(replies, "counted_chars")
    for i in short[short].index:
        n = "" if is_missing(chars[i]) else f"{int(chars[i])}字 < {limits['min_reply_chars']}字"
        rule_html[i] += f'<span class="flag rule">{_e(RULE_LABELS["short_reply"])} {_e(n)}</span>'
    product_short = _product_short_per_reply(replies, rounds)
    for i, n in product_short.items():
        shown = "" if is_missing(n) else f"{int(n)}字 < {limits['product_answer_min_chars']}字"
        rule_html[i] += f'<span class="flag rule">{_e(RULE_LABELS["product_answer_short"])} {_e(shown)}</span>'
    forbidden = flag(replies, "forbidden")
    if "forbidden_words" in replies.columns:
        forbidden |= replies["forbidden_words"].astype("string").fillna("").str.strip().ne("")
    for i in forbidden[forbidden].index:
        w = replies.at[i, "forbidden_words"] if "forbidden_words" in replies.columns else ""
        rule_html[i] += f'<span class="flag rule">违禁词 forbidden <span class="w">{_e(w)}</span></span>'
    closing = flag(replies, "is_closing")
    for i in closing[closing].index:
        rule_html[i] += '<span class="flag closing">结束语 closing</span>'
    out["tag_html"] = tag_html
    out["rule_html"] = rule_html
    out["flagged"] = tag_html.ne("") | rule_html.str.contains("flag rule", regex=False)
    return out


def _product_short_per_reply(replies: pd.DataFrame, rounds: pd.DataFrame | None) -> pd.Series:
    """Replies that answered a product question too briefly -> the answer's character count."""
    if "product_answer_short" in replies.columns:
        hit = flag(replies, "product_answer_short")
        return number(replies, "counted_chars")[hit]
    if not has(rounds, "conversation_id", "round_index", "product_answer_short") or not has(
            replies, "conversation_id", "round_index", "latency_s"):
        return pd.Series(dtype="float64")
    short_rounds = rounds.loc[flag(rounds, "product_answer_short"), ["conversation_id", "round_index"]]
    if short_rounds.empty:
        return pd.Series(dtype="float64")
    chars = number(rounds, "product_answer_chars")[short_rounds.index] if "product_answer_chars" in rounds else None
    short_rounds = short_rounds.assign(
        _chars=chars if chars is not None else np.nan,
        conversation_id=short_rounds["conversation_id"].astype("string"),
        round_index=pd.to_numeric(short_rounds["round_index"], errors="coerce"),
    )
    ending = replies.loc[number(replies, "latency_s").notna(), ["conversation_id", "round_index"]]
    ending = ending.assign(conversation_id=ending["conversation_id"].astype("string"),
                           round_index=pd.to_numeric(ending["round_index"], errors="coerce"),
                           _row=ending.index)
    merged = ending.merge(short_rounds, on=["conversation_id", "round_index"], how="inner")
    if chars is None:
        return number(replies, "counted_chars")[merged["_row"].to_numpy()]
    return pd.Series(merged["_chars"].to_numpy(), index=merged["_row"].to_numpy())


def _breakdown(items: list[dict]) -> str:
    if not items:
        return '<p class="no-data">没有评分明细。No score breakdown.</p>'
    keys: list[str] = []
    for row in items:
        keys.extend(k for k in row if k not in keys)
    # "kind" (deduction/bonus/...) repeats what the sign of the points says, and the panel is narrow.
    keys = [k for k in keys if k != "kind"] or keys
    head = "".join(f"<th>{_e(k)}</th>" for k in keys)
    body = "".join(
        "<tr>" + "".join(
            f"<td>{_e(fmt_number(row.get(k), 2) if isinstance(row.get(k), (int, float)) else row.get(k))}</td>"
            for k in keys) + "</tr>"
        for row in items
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _chat(msgs: pd.DataFrame, flags: pd.DataFrame) -> str:
    """One conversation's messages as a chat: buyer left, agent right, auto/system centred."""
    parts: list[str] = []
    last_date = None
    for rec in msgs[["sent_at", "role", "sender", "text", "link_row"]].itertuples(index=False):
        ts = pd.Timestamp(rec.sent_at) if not is_missing(rec.sent_at) else None
        if ts is not None and ts.date() != last_date:
            parts.append(f'<div class="date-sep">{ts:%Y-%m-%d}</div>')
            last_date = ts.date()
        role = rec.role if rec.role in ("customer", "agent", "auto", "system") else "system"
        who = ROLE_LABELS.get(role, "") if role != "agent" else ""
        sender = rec.sender if not is_missing(rec.sender) else ""
        label = f"{who} {sender}".strip() if role == "customer" else (sender or "客服") if role == "agent" else who
        meta = [f"<span>{_e(label)}</span>", f"<time>{ts:%H:%M:%S}</time>" if ts is not None else ""]
        classes = ["msg", role]
        extra = ""
        if rec.link_row >= 0:
            info = flags.iloc[rec.link_row]
            if not is_missing(info["latency_s"]):
                lat = float(info["latency_s"])
                meta.append(f'<span class="lat {_latency_class(lat)}" title="本轮响应时间 round latency">'
                            f'{_e(fmt_seconds(lat))}</span>')
            if info["flagged"]:
                classes.append("flagged")
            if info["tag_html"] or info["rule_html"]:
                extra = f'<div class="flags">{info["tag_html"]}{info["rule_html"]}</div>'
        parts.append(f'<div class="{" ".join(classes)}"><div class="meta">{"".join(meta)}</div>'
                     f'<div class="bubble">{_e(rec.text)}</div>{extra}</div>')
    return "".join(parts)


def _conversation_section(rank: int, conv: pd.Series, msgs: pd.DataFrame, flags: pd.DataFrame,
                          tags: list[str]) -> str:
    def val(col):
        return conv[col] if col in conv.index else None

    meta = [
        ("客服", _e(val("agent"))), ("买家", _e(val("customer"))),
        ("时间", _e(f"{fmt_time(val('started_at'))} – {fmt_time(val('ended_at'), with_date=False)}")),
        ("轮次", _e(fmt_number(val("rounds")))), ("平均响应", _e(fmt_seconds(val("avg_response_s")))),
        ("首次响应", _e(fmt_seconds(val("first_response_s")))),
        ("3分钟响应率", _e(fmt_rate(rate_fraction(pd.Series([val("within_3min_rate")])).iloc[0]))),
        ("短回复", _e(fmt_number(val("short_replies")))),
    ]
    # Only the tags that occurred: a row of zeros is noise.
    meta += [(TAG_LABELS[t], _e(fmt_number(val(t)))) for t in tags
             if t in conv.index and not is_missing(val(t)) and float(val(t)) > 0]
    meta_html = " · ".join(f"{k} <b>{v or '–'}</b>" for k, v in meta if k in ("客服", "时间") or v not in ("", "–"))
    closing = ""
    if "missing_closing" in conv.index and not is_missing(conv["missing_closing"]) and float(conv["missing_closing"]):
        closing = '<div class="conv-flag">⚠ 缺少结束语：买家沉默后未发送结束语 (missing closing message)</div>'
    items = parse_score_items(val("score_items"))
    chat = _chat(msgs, flags) if len(msgs) else '<p class="no-data">messages 表中没有这个会话的消息。</p>'
    return (
        f'<section class="conv" id="conv-{rank}"><div class="conv-head">'
        f'<h3><span>#{rank}</span>{_score_pill(val("service_score"))}'
        f'<span class="cid">{_e(val("conversation_id"))}</span></h3>'
        f'<div class="conv-meta">{meta_html}</div></div>'
        f'<div class="conv-body"><div class="chat">{chat}{closing}</div>'
        f'<div class="breakdown"><h3>评分明细 <small>score breakdown</small></h3>{_breakdown(items)}</div>'
        f"</div></section>"
    )


def _worst_section(conversations, replies, messages, rounds, worst_n, mask, run_info) -> str:
    worst = _worst_conversations(conversations, worst_n)
    if worst.empty:
        return '<p class="no-data">没有会话。No conversations.</p>'
    ids = worst["conversation_id"].astype("string")
    # Filter first: only the worst conversations' messages and replies are touched below.
    msg_hit = messages["conversation_id"].astype("string").isin(ids).to_numpy() if len(messages) else []
    msgs = messages.loc[msg_hit].copy() if len(messages) else messages.copy()
    msgs["msg_pos"] = np.flatnonzero(msg_hit) if len(messages) else []
    if "sent_at" in msgs.columns:
        msgs["sent_at"] = pd.to_datetime(msgs["sent_at"], errors="coerce")
    for col in ("sender", "role", "text"):
        if col not in msgs.columns:
            msgs[col] = ""
    reps = replies.loc[replies["conversation_id"].astype("string").isin(ids)] if has(
        replies, "conversation_id") else pd.DataFrame(columns=["conversation_id"])
    reps = reps.reset_index(drop=True)
    if mask and len(msgs):
        msgs["text"] = mask_series(msgs["text"].astype(object).fillna(""), addresses=False)
    msgs = _link_replies(msgs, reps)
    rnds = rounds.loc[rounds["conversation_id"].astype("string").isin(ids)] if has(
        rounds, "conversation_id") else None
    flags = _reply_flags(reps, rnds, thresholds(run_info)).reset_index(drop=True)
    msgs = msgs.assign(cid=msgs["conversation_id"].astype("string"))
    msgs = msgs.sort_values(["cid", "sent_at", "msg_pos"], kind="stable")
    by_conv = {cid: g for cid, g in msgs.groupby("cid", sort=False)}
    tags = tag_columns(replies) or [t for t in TAG_LABELS if t in conversations.columns]
    sections = []
    for rank, (_, conv) in enumerate(worst.iterrows(), start=1):
        conv_msgs = by_conv.get(str(conv["conversation_id"]), msgs.head(0))
        sections.append(_conversation_section(rank, conv, conv_msgs, flags, tags))
    legend = ('<p class="note">买家在左，客服在右，自动回复/系统消息居中。响应时间徽章：'
              '<span class="lat green">≤60秒</span> <span class="lat amber">≤180秒</span> '
              '<span class="lat red">&gt;180秒</span>；橙色气泡 = 被标记的回复（标签 概率 · 触发词）。'
              + ('电话和订单号已打码。' if mask else '') + '</p>')
    return legend + "".join(sections)


# --------------------------------------------------------------------------- public
def render_html_report(*, agents: pd.DataFrame, conversations: pd.DataFrame, replies: pd.DataFrame,
                       messages: pd.DataFrame, run_info: dict | None = None, worst_n: int = 20,
                       mask: bool = True, rounds: pd.DataFrame | None = None) -> str:
    """The report as an HTML string (see ``write_html_report``)."""
    run_info = dict(run_info or {})
    agents = agents if agents is not None else pd.DataFrame()
    conversations = conversations if conversations is not None else pd.DataFrame()
    replies = replies if replies is not None else pd.DataFrame()
    messages = messages if messages is not None else pd.DataFrame()
    script = _asset("report.js")
    script_hash = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    csp = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
           f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'")
    scores = conversations["service_score"] if "service_score" in conversations.columns else pd.Series(dtype=float)
    body = [
        _header(run_info, conversations),
        "<main>",
        _summary_cards(agents, conversations, replies),
        '<h2>客服一览 <small>agents</small></h2>',
        _agent_table(agents),
        '<h2>分布 <small>distributions</small></h2><div class="charts">',
        f'<div class="panel"><h3>会话服务分分布 <small>conversation scores</small></h3>{score_histogram(scores)}</div>',
        f'<div class="panel"><h3>各客服响应时间 <small>response time per agent</small></h3>'
        f'{latency_by_agent_chart(replies)}</div>',
        "</div>",
        f'<h2>最差的 {min(int(worst_n), len(conversations))} 个会话 <small>lowest-scored conversations</small></h2>',
        _worst_section(conversations, replies, messages, rounds, worst_n, mask, run_info),
        f"<footer>qa-scorer {_e(run_info.get('version') or __version__)} · 本报告离线可用，不加载任何外部资源。"
        "Works offline; loads nothing from the network.</footer>",
        "</main>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"zh-CN\"><head><meta charset=\"utf-8\">"
        f'<meta http-equiv="Content-Security-Policy" content="{_e(csp)}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>客服质检报告 QA report</title>"
        f"<style>{_asset('report.css')}</style></head><body>"
        + "".join(body)
        + f"<script>{script}</script></body></html>\n"
    )


def write_html_report(path, *, agents: pd.DataFrame, conversations: pd.DataFrame, replies: pd.DataFrame,
                      messages: pd.DataFrame, run_info: dict | None = None, worst_n: int = 20,
                      mask: bool = True, rounds: pd.DataFrame | None = None) -> Path:
    """Write report.html: run info, sortable agent table, charts and the ``worst_n`` worst chats.

    ``mask`` hides phone and order numbers in chat text.  ``rounds`` (optional) lets the
    chats mark replies that answered a product question too briefly.
    """
    html_text = render_html_report(agents=agents, conversations=conversations, replies=replies,
                                   messages=messages, run_info=run_info, worst_n=worst_n, mask=mask,
                                   rounds=rounds)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html_text, encoding="utf-8")
    return out
