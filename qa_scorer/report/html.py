"""report.html: one self-contained page for QA staff.

The page works offline: CSS and the small sorting script are inlined from package data, the
charts are SVG drawn in Python, and a Content-Security-Policy allows no network access and
no script but ours (by hash), so even a chat message that slipped past escaping could not run.

The markup is the Jinja2 template ``templates/report.html`` (autoescaped): this module only
turns the tables into plain values (texts, numbers, flags) for it, so chat text is escaped
by default and never pasted into HTML by hand.

Cost: the agent table and the charts come from the aggregated tables; only the ``worst_n``
conversations render messages, and the messages table is filtered to those ids first.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from datetime import datetime
from importlib import resources
from pathlib import Path, PureWindowsPath
from typing import Any

import numpy as np
import pandas as pd
from markupsafe import Markup

from qa_scorer import __version__
from qa_scorer.i18n import N_, _, get_language, pgettext
from qa_scorer.report.common import (
    AGENT_MEAN_HINT,
    AGENT_MEAN_LABEL,
    CONVERSATION_MEAN_HINT,
    CONVERSATION_MEAN_LABEL,
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
    pooled_within_rate,
    rate_fraction,
    render_template,
    score_means,
    tag_columns,
    thresholds,
)
from qa_scorer.report.columns import (
    BREAKDOWN_KEYS,
    KIND_LABELS,
    column_label,
    column_unit,
    item_label,
    value_label,
)
from qa_scorer.report.selection import worst_conversations
from qa_scorer.report.svg import latency_by_agent_chart, score_histogram
from qa_scorer.safety import mask_pii, mask_series

# (column, kind) of the agent table, in display order; headers are column_label(column), the
# same names as in audit.xlsx and docs/columns.md.
AGENT_TABLE_COLUMNS = [
    ("agent", "text"),
    ("service_score", "score"),
    ("conversations", "int"),
    ("rounds", "int"),
    ("first_response_avg_s", "seconds"),
    ("avg_response_s", "seconds"),
    ("within_3min_rate", "rate"),
    ("reply_rate", "rate"),
    ("unanswered_rounds", "int"),
    ("short_replies", "int"),
    ("product_answer_short", "int"),
    ("missing_closings", "int"),
    ("needs_review", "int"),
] + [(t, "int") for t in ("pushy", "unhelpful", "rude", "overclaim")]

ROLE_LABELS = {"customer": N_("buyer"), "auto": N_("auto-reply"), "system": N_("system")}

#: Rows of the ignored-buyers list (conversations no human answered, or with unanswered rounds).
IGNORED_BUYERS_N = 20

# A token that looks like a file path (a/b, /abs/x, C:\x\y, ~/x): only its last part is shown.
_PATH_TOKEN = re.compile(r"""(?<![\w:/\\])(?:~|[A-Za-z]:)?[\\/]{0,2}(?:[^\s\\/"'<>|:;,()\[\]{}]+[\\/])+[^\s\\/"'<>|:;,()\[\]{}]*""")


def file_name_only(text: str) -> str:
    """Every path in ``text`` cut to its last part: report.html never shows where files were on disk."""
    def last(m: re.Match) -> str:
        if not re.search(r"[^\W\d_]", m.group(0)):  # 1/3, 2026/11/20: not a path
            return m.group(0)
        parts = [p for p in re.split(r"[\\/]", m.group(0)) if p and p != "~"]
        return parts[-1] if parts else ""

    return _PATH_TOKEN.sub(last, text)


def _without_paths(value: Any) -> Any:
    """run.json with every string's paths cut to file names (recursively)."""
    if isinstance(value, dict):
        return {k: _without_paths(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_without_paths(v) for v in value]
    if isinstance(value, str):
        return file_name_only(value)
    return value


def _asset(name: str) -> str:
    return resources.files("qa_scorer.report").joinpath(name).read_text(encoding="utf-8")


def _score(score: Any) -> dict:
    """What the score pill shows: its colour class and text."""
    if is_missing(score):
        return {"cls": "none", "text": "–"}
    value = float(score)
    return {"cls": "good" if value >= 80 else "mid" if value >= 60 else "bad", "text": f"{value:.1f}"}


def _truthy(value: Any) -> bool:
    """A flag cell (bool, 0/1, or "true"/"false" text) as a bool; missing is False."""
    from qa_scorer.booleans import parse_bool  # the one yes/no parser

    if is_missing(value):
        return False
    return parse_bool(value) is True


def _latency_class(seconds: float) -> str:
    return "green" if seconds <= 60 else "amber" if seconds <= 180 else "red"


# --------------------------------------------------------------------------- header
def _period(run_info: dict, conversations: pd.DataFrame) -> str:
    period = run_info.get("period")
    if isinstance(period, (list, tuple)) and len(period) == 2:
        return f"{period[0]} – {period[1]}"
    if period:
        return str(period)
    if has(conversations, "started_at") and len(conversations):
        start = pd.to_datetime(conversations["started_at"], errors="coerce").min()
        end_col = "ended_at" if "ended_at" in conversations.columns else "started_at"
        end = pd.to_datetime(conversations[end_col], errors="coerce").max()
        if not is_missing(start):
            return f"{fmt_time(start)} – {fmt_time(end)}"
    return "–"


def _model_name(model: dict) -> str:
    """The model's name: run.json's ``name``, else the file name without its folder.

    run.json records where the model file was (``path``: a local path, or ``shipped (/…)``);
    the report is mailed around, so only the file's stem is shown, never the path.
    """
    if model.get("name"):
        return str(model["name"])
    path = str(model.get("path") or "").strip()
    shipped = path.startswith("shipped")
    if shipped:
        path = path.removeprefix("shipped").strip().strip("()").strip()
    stem = PureWindowsPath(path).stem if path else ""  # PureWindowsPath splits on / and \
    if shipped:
        return _("{name} (shipped)").format(name=stem) if stem else _("shipped")
    return stem


def _model_line(model: Any) -> str:
    if is_missing(model) or model == "" or model == {}:
        return _("– (no classifier)")
    if not isinstance(model, dict):
        return _model_name({"path": str(model)}) or "–"
    parts = [_model_name(model)]
    if model.get("version"):
        parts.append(_("version {version}").format(version=model["version"]))
    if model.get("trained_at"):
        parts.append(_("trained {date}").format(date=str(model["trained_at"]).replace("T", " ")))
    return " · ".join(p for p in parts if p) or "–"


def _rubric_line(run_info: dict) -> str:
    rubric = run_info.get("rubric")
    name = rubric.get("name") if isinstance(rubric, dict) else rubric
    parts = [str(name) if name else ""]
    if isinstance(rubric, dict) and rubric.get("version"):
        parts.append(_("version {version}").format(version=rubric["version"]))
    if run_info.get("rubric_file"):
        parts.append(file_name_only(str(run_info["rubric_file"])))
    return " · ".join(p for p in parts if p) or "–"


def _public_run_info(run_info: dict) -> dict:
    """run.json for the fold in the header, without the model file's path and with file names only."""
    shown = dict(run_info)
    if isinstance(shown.get("model"), dict):
        shown["model"] = {k: v for k, v in shown["model"].items() if k != "path"}
    return _without_paths(shown)


def _header(run_info: dict, conversations: pd.DataFrame) -> dict:
    inputs = run_info.get("inputs") or run_info.get("input") or []
    if isinstance(inputs, str):
        inputs = [inputs]
    # File names only: the report is mailed around, the folders on this machine are nobody's business.
    inputs = [file_name_only(str(i).rstrip("/\\")) or str(i) for i in inputs]
    shown = ", ".join(inputs[:8]) + (f" … (+{len(inputs) - 8})" if len(inputs) > 8 else "")
    t = thresholds(run_info)
    start = find_setting(run_info, "service_start", "08:00")
    end = find_setting(run_info, "service_end", "24:00")
    preset = find_setting(run_info, "platform") or run_info.get("preset") or _("default")
    settings_line = " · ".join([
        _("service hours {start}–{end}").format(start=start, end=end),
        _("3-minute line {seconds}").format(seconds=_("{seconds} s").format(seconds=t["within_seconds"])),
        _("slow reply > {seconds}").format(seconds=_("{seconds} s").format(seconds=t["slow_seconds"])),
        _("short reply < {n} chars").format(n=t["min_reply_chars"]),
        _("product answer ≥ {n} chars").format(n=t["product_answer_min_chars"]),
        _("closing after {seconds} of buyer silence").format(
            seconds=_("{seconds} s").format(seconds=t["closing_silence_s"])),
    ])
    rows = [
        (_("Inputs"), shown or "–"),
        (_("Period"), _period(run_info, conversations)),
        (_("Preset"), file_name_only(str(preset))),
        (_("Settings"), settings_line),
        (_("Model"), file_name_only(_model_line(run_info.get("model")))),
        (_("Rubric"), _rubric_line(run_info)),
    ]
    generated = (run_info.get("generated_at") or run_info.get("run_at")
                 or datetime.now().strftime("%Y-%m-%d %H:%M"))
    return {
        "version": run_info.get("version") or run_info.get("qa_scorer_version") or __version__,
        "generated": str(generated).replace("T", " "),
        "rows": rows,
        "raw": json.dumps(_public_run_info(run_info), ensure_ascii=False, indent=2, default=str) if run_info else "",
    }


# --------------------------------------------------------------------------- summary + agent table
def _summary_cards(agents: pd.DataFrame, conversations: pd.DataFrame, replies: pd.DataFrame) -> list:
    """(label, value, hint) of the cards; the score means are named as in the terminal summary."""
    cards = [(_("Conversations"), f"{len(conversations):,}", ""), (pgettext("summary", "Agents"), f"{len(agents):,}", "")]
    rounds = number(conversations, "rounds")
    if rounds.notna().any():
        cards.append((_("Rounds"), f"{int(rounds.sum()):,}", ""))
        rate = pooled_within_rate(conversations)
        if not is_missing(rate):
            cards.append((_("3-minute response rate"), fmt_rate(rate), _("pooled over all counted rounds")))
    means = score_means(agents, conversations)
    if "conversation" in means:
        cards.append((_(CONVERSATION_MEAN_LABEL), f"{means['conversation']:.1f}", _(CONVERSATION_MEAN_HINT)))
    if "agent" in means:
        cards.append((_(AGENT_MEAN_LABEL), f"{means['agent']:.1f}", _(AGENT_MEAN_HINT)))
    tags = tag_columns(replies)
    if tags:
        flagged = np.zeros(len(replies), dtype=bool)
        for t in tags:
            flagged |= flag(replies, t).to_numpy()
        cards.append((_("Flagged replies"), f"{int(flagged.sum()):,}", ""))
    if "needs_review" in conversations.columns:
        cards.append((_("Conversations to review"), f"{int(flag(conversations, 'needs_review').sum()):,}", ""))
    return cards


def _agent_cell(name: str) -> dict:
    """'店铺:小美' shown as 小美 with the shop underneath (keeps the wide table narrow)."""
    shop, sep, short = name.replace("：", ":").rpartition(":")
    if not (sep and shop and short):
        shop, short = "", name
    return {"kind": "text", "sort": name, "title": name, "text": short, "shop": shop}


def _agent_table(agents: pd.DataFrame) -> dict | None:
    """Header and rows of the sortable agent table (None when there is nothing to show)."""
    columns = [c for c in AGENT_TABLE_COLUMNS if c[0] in agents.columns]
    if agents.empty or not columns:
        return None
    frame = agents
    if "service_score" in frame.columns:
        frame = frame.assign(_s=number(frame, "service_score")).sort_values("_s", ascending=False, na_position="last")
    # Build the body column by column (vectorised formatting), then zip into rows.
    cells: list[list[dict]] = []
    for col, kind in columns:
        raw = frame[col]
        if kind == "text":
            cells.append([_agent_cell(v) for v in raw.astype("string").fillna("")])
            continue
        values = rate_fraction(raw) if kind == "rate" else pd.to_numeric(raw, errors="coerce")
        column_cells = []
        for v in values:
            cell = {"kind": kind, "sort": "" if is_missing(v) else repr(float(v)),
                    "zero": kind == "int" and not is_missing(v) and float(v) == 0}
            if kind == "score":
                cell["score"] = _score(v)
            else:
                fmt = fmt_seconds if kind == "seconds" else fmt_rate if kind == "rate" else fmt_number
                cell["text"] = fmt(v)
            column_cells.append(cell)
        cells.append(column_cells)
    return {"columns": [{"col": col, "label": column_label(col)} for col, _kind in columns],
            "rows": [list(row) for row in zip(*cells)]}


# --------------------------------------------------------------------------- worst conversations
def _link_replies(msgs: pd.DataFrame, replies: pd.DataFrame) -> pd.DataFrame:
    """Attach to each message the row of its reply in ``replies`` (``link_row``, -1 if none).

    ``replies.message_index`` is the row position in the messages table; it is used when
    every linked reply's conversation agrees with that row.  Otherwise (a streamed audit keeps
    only some messages, so positions differ) fall back to the source location, then to
    (conversation, time, text).
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


def _reply_flags(replies: pd.DataFrame, rounds: pd.DataFrame | None, limits: dict, mask: bool) -> list[dict]:
    """Per reply (row of ``replies``): latency, flagged tags (probability, words) and rule flags."""
    latency = number(replies, "latency_s").to_numpy()
    out = [{"latency_s": None if np.isnan(v) else float(v), "tags": [], "rules": [], "closing": False}
           for v in latency]
    clean = (lambda text: mask_pii(text, addresses=False)) if mask else (lambda text: text)
    words = replies["tag_words"].map(parse_tag_words) if "tag_words" in replies.columns else None
    positions = pd.Series(np.arange(len(replies)), index=replies.index)
    for t in tag_columns(replies):
        hit = flag(replies, t)
        prob = number(replies, f"p_{t}")
        for i in hit[hit].index:
            out[positions[i]]["tags"].append({
                "label": TAG_LABELS[t], "name": t,
                "p": None if is_missing(prob[i]) else f"{prob[i]:.2f}",
                "words": clean(words[i].get(t, "")) if words is not None else "",
            })
    short = flag(replies, "short_reply")
    chars = number(replies, "counted_chars")
    for i in short[short].index:
        detail = "" if is_missing(chars[i]) else _("{n} chars < {min}").format(n=int(chars[i]), min=limits["min_reply_chars"])
        out[positions[i]]["rules"].append({"label": RULE_LABELS["short_reply"], "detail": detail})
    for i, n in _product_short_per_reply(replies, rounds).items():
        detail = "" if is_missing(n) else _("{n} chars < {min}").format(n=int(n), min=limits["product_answer_min_chars"])
        out[positions[i]]["rules"].append({"label": RULE_LABELS["product_answer_short"], "detail": detail})
    forbidden = flag(replies, "forbidden")
    if "forbidden_words" in replies.columns:
        forbidden |= replies["forbidden_words"].astype("string").fillna("").str.strip().ne("")
    for i in forbidden[forbidden].index:
        w = replies.at[i, "forbidden_words"] if "forbidden_words" in replies.columns else ""
        out[positions[i]]["rules"].append({"label": _("forbidden words"), "detail": "",
                                           "words": "" if is_missing(w) else clean(str(w))})
    closing = flag(replies, "is_closing")
    for i in closing[closing].index:
        out[positions[i]]["closing"] = True
    for info in out:
        info["flagged"] = bool(info["tags"] or info["rules"])
    return out


def _product_short_per_reply(replies: pd.DataFrame, rounds: pd.DataFrame | None) -> pd.Series:
    """Replies that ended a round whose product question got too short an answer -> the answer's characters.

    The figure is the round's ``product_answer_chars`` (every agent message of the round),
    so a product answer in several messages is judged as a whole, as in the metrics.
    """
    if not has(rounds, "conversation_id", "round_index", "product_answer_short") or not has(
            replies, "conversation_id", "round_index", "latency_s"):
        return pd.Series(dtype="float64")
    short_rounds = rounds.loc[flag(rounds, "product_answer_short"), ["conversation_id", "round_index"]]
    if short_rounds.empty:
        return pd.Series(dtype="float64")
    short_rounds = short_rounds.assign(
        _chars=number(rounds, "product_answer_chars")[short_rounds.index],
        conversation_id=short_rounds["conversation_id"].astype("string"),
        round_index=pd.to_numeric(short_rounds["round_index"], errors="coerce"),
    )
    ending = replies.loc[number(replies, "latency_s").notna(), ["conversation_id", "round_index"]]
    ending = ending.assign(conversation_id=ending["conversation_id"].astype("string"),
                           round_index=pd.to_numeric(ending["round_index"], errors="coerce"),
                           _row=ending.index)
    merged = ending.merge(short_rounds, on=["conversation_id", "round_index"], how="inner")
    return pd.Series(merged["_chars"].to_numpy(), index=merged["_row"].to_numpy())


def _breakdown(items: list[dict]) -> dict:
    """score_items as a table: the union of the items' keys (without ``kind``) and one row per item."""
    keys: list[str] = []
    for row in items:
        keys.extend(k for k in row if k not in keys)
    # "kind" (deduction/bonus/...) repeats what the sign of the points says, and the panel is narrow.
    keys = [k for k in keys if k != "kind"] or keys

    def shown(row, key):
        value = row.get(key)
        if key == "item" and isinstance(value, str):
            return item_label(value)
        if key == "kind" and isinstance(value, str):
            return _(KIND_LABELS[value]) if value in KIND_LABELS else value
        if key == "value" and column_unit(str(row.get("item"))) == "rate" and not is_missing(value):
            return fmt_rate(value)
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            return fmt_number(value, 2)
        return "" if is_missing(value) else value

    return {"columns": [_(BREAKDOWN_KEYS[k]) if k in BREAKDOWN_KEYS else k for k in keys],
            "rows": [[shown(row, k) for k in keys] for row in items]}


def _chat(msgs: pd.DataFrame, flags: list[dict]) -> list[dict]:
    """One conversation's messages in order, with date separators: buyer left, agent right, auto/system centred."""
    items: list[dict] = []
    last_date = None
    for rec in msgs[["sent_at", "role", "sender", "text", "link_row"]].itertuples(index=False):
        ts = pd.Timestamp(rec.sent_at) if not is_missing(rec.sent_at) else None
        if ts is not None and ts.date() != last_date:
            items.append({"date": f"{ts:%Y-%m-%d}"})
            last_date = ts.date()
        role = rec.role if rec.role in ("customer", "agent", "auto", "system") else "system"
        who = _(ROLE_LABELS[role]) if role in ROLE_LABELS else ""
        sender = rec.sender if not is_missing(rec.sender) else ""
        label = f"{who} {sender}".strip() if role == "customer" else (sender or _("agent")) if role == "agent" else who
        msg = {"role": role, "label": label, "time": f"{ts:%H:%M:%S}" if ts is not None else "",
               "text": "" if is_missing(rec.text) else str(rec.text), "latency": None, "flagged": False,
               "tags": [], "rules": [], "closing": False}
        if rec.link_row >= 0:
            info = flags[rec.link_row]
            if info["latency_s"] is not None:
                msg["latency"] = {"cls": _latency_class(info["latency_s"]), "text": fmt_seconds(info["latency_s"])}
            msg.update(flagged=info["flagged"], tags=info["tags"], rules=info["rules"], closing=info["closing"])
        items.append(msg)
    return items


def _conversation(rank: int, conv: pd.Series, msgs: pd.DataFrame, flags: list[dict], tags: list[str]) -> dict:
    def val(col):
        return conv[col] if col in conv.index else None

    always = (_("Agent"), _("Time"))
    meta = [
        (_("Agent"), val("agent")), (_("Buyer"), val("customer")),
        (_("Time"), f"{fmt_time(val('started_at'))} – {fmt_time(val('ended_at'), with_date=False)}"),
        (column_label("rounds"), fmt_number(val("rounds"))),
        (column_label("avg_response_s"), fmt_seconds(val("avg_response_s"))),
        (column_label("first_response_s"), fmt_seconds(val("first_response_s"))),
        (column_label("within_3min_rate"), fmt_rate(rate_fraction(pd.Series([val("within_3min_rate")])).iloc[0])),
        (column_label("short_replies"), fmt_number(val("short_replies"))),
    ]
    # Only the tags that occurred: a row of zeros is noise.
    meta += [(TAG_LABELS[t], fmt_number(val(t))) for t in tags
             if t in conv.index and not is_missing(val(t)) and float(val(t)) > 0]
    attribution = val("attribution")
    if not is_missing(attribution) and str(attribution) not in ("", "agent"):
        meta.append((column_label("attribution"), value_label("attribution", attribution)))
    meta = [(k, "" if is_missing(v) else str(v)) for k, v in meta]
    meta = [(k, v or "–") for k, v in meta if k in always or v not in ("", "–")]
    review = None
    if _truthy(val("needs_review")):  # the 需人工复核 badge, with what a person should confirm
        reasons = val("review_reasons")
        review = {"reasons": "" if is_missing(reasons) else str(reasons).strip()}
    return {
        "rank": rank,
        "review": review,
        "score": _score(val("service_score")),
        "cid": "" if is_missing(val("conversation_id")) else str(val("conversation_id")),
        "meta": meta,
        "chat": _chat(msgs, flags) if len(msgs) else None,
        "missing_closing": _truthy(val("missing_closing")),
        "breakdown": _breakdown(parse_score_items(val("score_items"))),
    }


def _worst(conversations, replies, messages, rounds, worst_n, mask, run_info) -> list[dict]:
    worst = worst_conversations(conversations, worst_n)
    if worst.empty:
        return []
    ids = worst["conversation_id"].astype("string")
    # Filter first: only the worst conversations' messages and replies are touched below.
    msg_hit = messages["conversation_id"].astype("string").isin(ids).to_numpy() if len(messages) else []
    msgs = messages.loc[msg_hit].copy() if len(messages) else messages.copy()
    msgs["msg_pos"] = np.flatnonzero(msg_hit) if len(messages) else []
    msgs["sent_at"] = (pd.to_datetime(msgs["sent_at"], errors="coerce") if "sent_at" in msgs.columns
                       else pd.Series(pd.NaT, index=msgs.index, dtype="datetime64[ns]"))
    for col in ("conversation_id", "sender", "role", "text"):  # an empty table may have no columns
        if col not in msgs.columns:
            msgs[col] = ""
    reps = replies.loc[replies["conversation_id"].astype("string").isin(ids)] if has(
        replies, "conversation_id") else pd.DataFrame(columns=["conversation_id"])
    reps = reps.reset_index(drop=True)
    msgs = _link_replies(msgs, reps)  # before masking: the fallback links on the text
    if mask and len(msgs):  # chat text only: ids, agents and buyer nicknames stay as they are
        msgs["text"] = mask_series(msgs["text"].astype(object).fillna(""), addresses=False)
    rnds = rounds.loc[rounds["conversation_id"].astype("string").isin(ids)] if has(
        rounds, "conversation_id") else None
    flags = _reply_flags(reps, rnds, thresholds(run_info), mask)
    msgs = msgs.assign(cid=msgs["conversation_id"].astype("string"))
    msgs = msgs.sort_values(["cid", "sent_at", "msg_pos"], kind="stable")
    by_conv = {cid: g for cid, g in msgs.groupby("cid", sort=False)}
    tags = tag_columns(replies) or [t for t in TAG_LABELS if t in conversations.columns]
    return [_conversation(rank, conv, by_conv.get(str(conv["conversation_id"]), msgs.head(0)), flags, tags)
            for rank, (_index, conv) in enumerate(worst.iterrows(), start=1)]


# --------------------------------------------------------------------------- ignored buyers
def _ignored_buyers(conversations: pd.DataFrame, n: int = IGNORED_BUYERS_N) -> dict | None:
    """Buyers nobody (or no human) answered: conversations whose ``attribution`` is not ``agent``
    (auto-reply only, receiving account, unassigned) or that have unanswered rounds, with the
    account each one counts against (docs/metrics.md "Attribution").  Never-answered first, then
    most unanswered rounds, then earliest; at most ``n`` rows.  None without the columns."""
    if not has(conversations, "conversation_id", "agent") or not (
            has(conversations, "attribution") or has(conversations, "unanswered_rounds")):
        return None
    how = (conversations["attribution"].astype("string").fillna("") if "attribution" in conversations.columns
           else pd.Series("agent", index=conversations.index, dtype="string"))
    unanswered = number(conversations, "unanswered_rounds").fillna(0)
    no_human = how.ne("agent") & how.ne("")
    hit = (no_human | unanswered.gt(0)).to_numpy(dtype=bool)
    total = int(hit.sum())
    if not total:
        return {"rows": [], "total": 0, "shown": 0}
    start = (pd.to_datetime(conversations["started_at"], errors="coerce") if "started_at" in conversations.columns
             else pd.Series(pd.NaT, index=conversations.index))
    order = pd.DataFrame({"no_human": no_human.to_numpy(dtype=bool), "unanswered": unanswered.to_numpy(),
                          "start": start.to_numpy(), "cid": conversations["conversation_id"].astype("string").to_numpy()},
                         index=conversations.index)[hit]
    order = order.sort_values(["no_human", "unanswered", "start", "cid"], ascending=[False, False, True, True],
                              kind="stable", na_position="last")
    picked = conversations.loc[order.index[:n]]

    def text(row, col):
        v = row.get(col)
        return "" if is_missing(v) else str(v)

    rows = []
    for _index, row in picked.iterrows():
        code = text(row, "attribution") or "agent"
        # an unanswered round of a conversation a human did answer counts against the agent who
        # last replied (rounds.agent); otherwise against the conversation's account
        account = text(row, "last_agent") if code == "agent" and text(row, "last_agent") else text(row, "agent")
        rows.append({
            "cid": text(row, "conversation_id"),
            "buyer": text(row, "customer"),
            "time": fmt_time(row.get("started_at")) if not is_missing(row.get("started_at")) else "–",
            "account": _agent_cell(account) if account else {"text": "–", "shop": "", "title": ""},
            "how": value_label("attribution", code),
            "how_code": code,
            "unanswered": fmt_number(row.get("unanswered_rounds")),
            "rounds": fmt_number(row.get("counted_rounds") if "counted_rounds" in row.index else row.get("rounds")),
        })
    return {"rows": rows, "total": total, "shown": len(rows)}


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
    scores = conversations["service_score"] if "service_score" in conversations.columns else pd.Series(dtype=float)
    return render_template(
        "report.html",
        lang="zh-CN" if get_language() == "zh" else "en",
        csp=(f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
             f"script-src 'sha256-{script_hash}'; base-uri 'none'; form-action 'none'"),
        # Markup (not escaped by the template): our own package files, not data.  The script must
        # stay byte for byte what the CSP hash was computed from.
        css=Markup(_asset("report.css")),
        script=Markup(script),
        header=_header(run_info, conversations),
        cards=_summary_cards(agents, conversations, replies),
        agent_table=_agent_table(agents),
        # Markup: the SVG is built by qa_scorer.report.svg, which escapes every text it puts in
        # (agent names, labels) with html.escape; everything else in it is a number it formatted.
        score_chart=Markup(score_histogram(scores)),
        latency_chart=Markup(latency_by_agent_chart(replies)),
        worst_title_n=min(int(worst_n), len(conversations)),
        worst=_worst(conversations, replies, messages, rounds, worst_n, mask, run_info),
        ignored=_ignored_buyers(conversations),
        column_label=column_label,
        mask=mask,
        badge_green=fmt_seconds(60),
        badge_amber=fmt_seconds(180),
    )


def write_html_report(path, *, agents: pd.DataFrame, conversations: pd.DataFrame, replies: pd.DataFrame,
                      messages: pd.DataFrame, run_info: dict | None = None, worst_n: int = 20,
                      mask: bool = True, rounds: pd.DataFrame | None = None) -> Path:
    """Write report.html: run info, sortable agent table, charts and the ``worst_n`` worst chats.

    ``mask`` hides phone and order numbers in chat text (only there: conversation ids, agents
    and buyer nicknames are shown as they are).  ``rounds`` (optional) lets the chats mark
    replies that answered a product question too briefly.
    """
    html_text = render_html_report(agents=agents, conversations=conversations, replies=replies,
                                   messages=messages, run_info=run_info, worst_n=worst_n, mask=mask,
                                   rounds=rounds)
    out = Path(path)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(html_text, encoding="utf-8")
    return out
