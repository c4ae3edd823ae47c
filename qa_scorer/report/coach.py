"""Coaching examples for trainers: flagged (or model) replies with the buyer messages around them.

Selection works on whole columns of the replies/rounds/conversations tables; only the
``limit`` chosen examples are then looked up in the messages table for their context, so
the cost stays flat however big the audit is.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import xlsxwriter

from qa_scorer.i18n import _, get_language
from qa_scorer.report.common import (
    RULE_LABELS,
    RULES,
    TAG_LABELS,
    agent_matches,
    flag,
    fmt_seconds,
    fmt_time,
    has,
    is_missing,
    letters,
    number,
    parse_tag_words,
    render_template,
    tag_columns,
    thresholds,
)
from qa_scorer.safety import excel_safe, mask_pii
from qa_scorer.schema import TAGS

#: How many buyer messages of context to show before / after the reply.
BEFORE_MESSAGES = 3
AFTER_MESSAGES = 2
#: A model answer is a round-ending reply at most this fast.
GOOD_MAX_LATENCY_S = 60

EXAMPLE_COLUMNS = [
    "rank", "kind", "category", "label", "reason", "probability", "agent", "conversation_id", "customer",
    "sent_at", "latency_s", "reply", "before", "after", "source_file", "source_line",
]


class CoachingError(ValueError):
    """A coaching request that cannot be met (unknown tag/rule/agent, a table lacks a needed column)."""


# --------------------------------------------------------------------------- candidate selection
def _candidates(rows, category: str, kind: str, severity, reason, probability=None,
                cap: int | None = None) -> pd.DataFrame:
    """Candidate examples of one category, most severe first, at most ``cap`` of them.

    ``reason`` is a callable from positions (into ``rows``) to texts, so the per-row text
    formatting runs only for the few candidates kept, not for every flagged reply.
    """
    rows = np.asarray(rows, dtype="int64")
    sev = np.asarray(severity, dtype="float64")
    prob = np.asarray(probability, dtype="float64") if probability is not None else np.full(len(rows), np.nan)
    order = np.argsort(-sev, kind="stable")  # NaN severity sorts last
    if cap is not None:
        order = order[:cap]
    return pd.DataFrame({
        "reply_row": rows[order],
        "kind": kind,
        "category": category,
        "reason": pd.Series(list(reason(order)) if len(order) else [], dtype=object),
        "severity": sev[order],
        "probability": prob[order],
    })


def _none(category: str = "", kind: str = "rule") -> pd.DataFrame:
    return _candidates([], category, kind, [], lambda pos: [])


def _tag_candidates(replies: pd.DataFrame, keep: pd.Series, tag: str, cap: int) -> pd.DataFrame:
    hit = flag(replies, tag) & keep
    prob = number(replies, f"p_{tag}")[hit]
    words = replies.loc[hit, "tag_words"].to_numpy() if "tag_words" in replies.columns else np.full(hit.sum(), "")

    def reason(pos):
        found = [parse_tag_words(w).get(tag, "") for w in words[pos]]
        return [f"{TAG_LABELS[tag]} {tag}" + (_("：{words}").format(words=w) if w else "") for w in found]

    # No probability column (e.g. tags from a word list): rank all alike, keep table order.
    return _candidates(replies.index[hit], tag, "tag", prob.fillna(0.5), reason, prob, cap)


def _round_ending_rows(replies: pd.DataFrame, rounds: pd.DataFrame) -> pd.Series:
    """For each row of ``rounds``, the replies row that answered it (NaN if unanswered/unknown)."""
    if has(replies, "conversation_id", "round_index", "latency_s"):
        ending = replies.loc[number(replies, "latency_s").notna(), ["conversation_id", "round_index"]]
        key = pd.DataFrame({"conversation_id": ending["conversation_id"].astype("string"),
                            "round_index": pd.to_numeric(ending["round_index"], errors="coerce"),
                            "reply_row": ending.index}).drop_duplicates(["conversation_id", "round_index"])
        left = pd.DataFrame({"conversation_id": rounds["conversation_id"].astype("string"),
                             "round_index": pd.to_numeric(rounds["round_index"], errors="coerce")})
        merged = left.merge(key, on=["conversation_id", "round_index"], how="left")
        return pd.Series(merged["reply_row"].to_numpy(), index=rounds.index)
    if has(replies, "conversation_id", "sent_at") and has(rounds, "answered_at"):
        key = pd.DataFrame({"conversation_id": replies["conversation_id"].astype("string"),
                            "answered_at": replies["sent_at"], "reply_row": replies.index}).drop_duplicates(
            ["conversation_id", "answered_at"])
        left = pd.DataFrame({"conversation_id": rounds["conversation_id"].astype("string"),
                             "answered_at": rounds["answered_at"]})
        merged = left.merge(key, on=["conversation_id", "answered_at"], how="left")
        return pd.Series(merged["reply_row"].to_numpy(), index=rounds.index)
    return pd.Series(np.nan, index=rounds.index)


def _rule_candidates(rule: str, replies: pd.DataFrame, rounds: pd.DataFrame | None,
                     conversations: pd.DataFrame, keep: pd.Series, limits: dict, explicit: bool,
                     cap: int) -> pd.DataFrame:
    human = ~flag(replies, "is_auto")
    if rule == "short_reply":
        if "short_reply" not in replies.columns:
            return _missing(explicit, "replies.csv has no short_reply column")
        hit = flag(replies, "short_reply") & human & keep
        chars = number(replies, "counted_chars")[hit].to_numpy()
        least = limits["min_reply_chars"]
        return _candidates(replies.index[hit], rule, "rule", least - np.nan_to_num(chars),
                           lambda pos: [_("reply {n} chars < {min} chars").format(n=f"{n:.0f}", min=least) if not is_missing(n)
                                        else _("reply shorter than {min} chars").format(min=least)
                                        for n in chars[pos]], cap=cap)

    if rule in ("product_answer_short", "slow"):
        if rounds is None:
            return _missing(explicit, f"rule {rule} needs rounds.csv, which is missing from the audit folder; "
                                      "re-run qa-scorer audit")
        if rule == "product_answer_short":
            hit = flag(rounds, "product_answer_short")
            if "product_question" in rounds.columns:
                hit &= flag(rounds, "product_question")
            figure = number(rounds, "product_answer_chars")
            least = limits["product_answer_min_chars"]
            severity = least - figure.fillna(0)

            def describe(n):
                return (_("product answer {n} chars < {min} chars").format(n=f"{n:.0f}", min=least) if not is_missing(n)
                        else _("product answer shorter than {min} chars").format(min=least))
        else:
            figure = number(rounds, "latency_s")
            hit = flag(rounds, "slow") if "slow" in rounds.columns else figure > limits["slow_seconds"]
            hit &= figure.notna()
            severity = figure

            def describe(s):
                return _("buyer waited {time} for an answer (> {limit} s)").format(time=fmt_seconds(s),
                                                                                   limit=limits["slow_seconds"])
        # Only look up the answering reply for the flagged rounds (a small share of all rounds).
        flagged = rounds.loc[hit]
        reply_row = _round_ending_rows(replies, flagged)
        found = reply_row.notna().to_numpy()
        rows = reply_row.to_numpy()[found].astype("int64")
        ok = keep.to_numpy()[rows] & human.to_numpy()[rows]
        values = figure[hit].to_numpy()[found][ok]
        return _candidates(rows[ok], rule, "rule", severity[hit].to_numpy()[found][ok],
                           lambda pos: [describe(v) for v in values[pos]], cap=cap)

    # missing_closing: the example is the agent's last reply of a conversation that never got a closing.
    if "missing_closing" not in conversations.columns:
        return _missing(explicit, "conversations.csv has no missing_closing column")
    conv = conversations.loc[flag(conversations, "missing_closing")]
    if conv.empty:
        return _none(rule)
    agent_replies = replies.loc[human & keep, ["conversation_id", "sent_at"]]
    agent_replies = agent_replies.assign(cid=agent_replies["conversation_id"].astype("string"),
                                         reply_row=agent_replies.index)
    last = agent_replies.sort_values(["cid", "sent_at"], kind="stable").drop_duplicates("cid", keep="last")
    info = pd.DataFrame({"cid": conv["conversation_id"].astype("string"),
                         "rounds": number(conv, "rounds").to_numpy()})
    merged = info.merge(last[["cid", "reply_row"]], on="cid", how="inner")
    text = _("no closing message at the end of the conversation (due after {s} s of buyer silence)").format(
        s=limits["closing_silence_s"])
    # More rounds = a longer, more engaged chat left without a goodbye: coach those first.
    return _candidates(merged["reply_row"], rule, "rule", merged["rounds"].fillna(0),
                       lambda pos: [text] * len(pos), cap=cap)


def _missing(explicit: bool, message: str) -> pd.DataFrame:
    if explicit:
        raise CoachingError(message)
    return _none()


def _good_candidates(replies: pd.DataFrame, rounds: pd.DataFrame | None, conversations: pd.DataFrame,
                     keep: pd.Series, limits: dict, tag: str | None, product_only: bool, cap: int) -> pd.DataFrame:
    """Model answers: fast (≤60 s), complete (≥15 chars for product questions), no flags, chat closed."""
    latency = number(replies, "latency_s")
    ok = keep & latency.notna() & (latency <= GOOD_MAX_LATENCY_S) & ~flag(replies, "is_auto")
    for col in ("short_reply", "media_only", "forbidden", "product_answer_short", *TAGS):
        ok &= ~flag(replies, col)
    if "missing_closing" in conversations.columns:
        closed = conversations.loc[~flag(conversations, "missing_closing"), "conversation_id"].astype("string")
        ok &= replies["conversation_id"].astype("string").isin(closed)
    product = pd.Series(False, index=replies.index)
    answer_chars = number(replies, "counted_chars")
    if has(rounds, "product_question"):
        asked_rounds = rounds.loc[flag(rounds, "product_question")]
        reply_row = _round_ending_rows(replies, asked_rounds)
        found = reply_row.notna()
        chars = number(asked_rounds, "product_answer_chars")
        complete = found & ~flag(asked_rounds, "product_answer_short") & ~(chars < limits["product_answer_min_chars"])
        incomplete = found & ~complete
        product.loc[reply_row[complete].astype("int64").to_numpy()] = True
        ok.loc[reply_row[incomplete].astype("int64").to_numpy()] = False
        answer_chars.loc[reply_row[complete].astype("int64").to_numpy()] = chars[complete].to_numpy()
    if product_only:
        ok &= product
    probs = [number(replies, f"p_{t}")[ok] for t in ([tag] if tag else tag_columns(replies))]
    worst_prob = pd.concat(probs, axis=1).max(axis=1) if probs else pd.Series(0.0, index=replies.index[ok])
    lat = latency[ok].to_numpy()
    is_product = product[ok].to_numpy()
    chars_ok = answer_chars[ok].to_numpy()
    closing = _(" · conversation closed") if "missing_closing" in conversations.columns else ""

    def reason(pos):
        return [_("answered in {time} ≤ {limit} s").format(time=fmt_seconds(lat[i]), limit=GOOD_MAX_LATENCY_S)
                + (_(" · product answer {n} chars ≥ {min} chars").format(
                    n=f"{chars_ok[i]:.0f}", min=limits["product_answer_min_chars"]) if is_product[i] else "")
                + _(" · not flagged") + closing for i in pos]

    # Product answers first (the instructive ones), then the clearest (lowest flag probability), then fastest.
    severity = is_product * 10.0 + (1 - worst_prob.fillna(0).to_numpy()) - lat / 10_000
    return _candidates(replies.index[ok], "good", "good", severity, reason,
                       worst_prob if probs else None, cap)


def _rank(cands: pd.DataFrame) -> pd.DataFrame:
    """Most severe / most confident first within each category; categories take turns.

    Taking turns means ``--limit 20`` over all flags shows the worst few of every kind instead
    of twenty of whichever kind is most common.
    """
    cands = cands.sort_values(["category", "severity"], ascending=[True, False], kind="stable")
    cands["turn"] = cands.groupby("category").cumcount()
    order = {c: i for i, c in enumerate(list(TAGS) + list(RULES) + ["good"])}
    cands["cat_order"] = cands["category"].map(order)
    cands = cands.sort_values(["turn", "cat_order"], kind="stable")
    # A reply flagged for several reasons appears once, at its best position, with every reason.
    merged = cands.groupby("reply_row", sort=False).agg(
        kind=("kind", "first"), category=("category", lambda s: ",".join(s)),
        reason=("reason", lambda s: "；".join(s)), probability=("probability", "max"),
        severity=("severity", "first"),
    )
    return merged.reset_index()


# --------------------------------------------------------------------------- context + masking
def _message_positions(replies: pd.DataFrame, messages: pd.DataFrame, rows: np.ndarray) -> np.ndarray:
    """Row position in ``messages`` of each selected reply (-1 when it cannot be found)."""
    sel = replies.loc[rows]
    out = np.full(len(rows), -1, dtype="int64")
    cids = messages["conversation_id"].astype("string")
    if "message_index" in sel.columns:
        idx = pd.to_numeric(sel["message_index"], errors="coerce").to_numpy()
        valid = ~np.isnan(idx) & (idx >= 0) & (idx < len(messages))
        pos = idx[valid].astype("int64")
        same = cids.to_numpy()[pos] == sel["conversation_id"].astype("string").to_numpy()[valid]
        out[np.flatnonzero(valid)[same]] = pos[same]
    todo = out < 0
    for keys in (["conversation_id", "source_file", "source_line"], ["conversation_id", "sent_at", "text"]):
        if not todo.any() or not (has(messages, *keys) and has(sel, *keys)):
            continue
        left = sel.loc[todo, keys].astype("string").assign(order=np.flatnonzero(todo))
        right = messages[keys].astype("string").assign(pos=np.arange(len(messages))).drop_duplicates(keys)
        merged = left.merge(right, on=keys, how="left").dropna(subset=["pos"])
        out[merged["order"].to_numpy()] = merged["pos"].astype("int64").to_numpy()
        todo = out < 0
    return out


def _context(messages: pd.DataFrame, positions: np.ndarray) -> tuple[list[list[dict]], list[list[dict]]]:
    """Buyer messages before the reply (the question it answers) and after it (the buyer's reaction)."""
    wanted = messages["conversation_id"].iloc[positions[positions >= 0]].astype("string").unique()
    hit = messages["conversation_id"].astype("string").isin(wanted).to_numpy()
    sub = messages.loc[hit, ["conversation_id", "sent_at", "sender", "role", "text"]].copy()
    sub["pos"] = np.flatnonzero(hit)
    by_conv = {cid: g.sort_values(["sent_at", "pos"], kind="stable") for cid, g in
               sub.assign(cid=sub["conversation_id"].astype("string")).groupby("cid", sort=False)}
    befores, afters = [], []
    for pos in positions:
        if pos < 0:
            befores.append([])
            afters.append([])
            continue
        conv = by_conv[str(messages["conversation_id"].iloc[pos])]
        at = int(np.flatnonzero(conv["pos"].to_numpy() == pos)[0])
        roles = conv["role"].to_numpy()
        # Before: the buyer messages since the previous human agent message (the round's question).
        start = at
        while start > 0 and roles[start - 1] != "agent":
            start -= 1
        before = conv.iloc[start:at]
        before = before[before["role"] == "customer"].tail(BEFORE_MESSAGES)
        # After: the buyer's next messages, up to the next human agent message.
        end = at + 1
        while end < len(conv) and roles[end] != "agent":
            end += 1
        after = conv.iloc[at + 1:end]
        after = after[after["role"] == "customer"].head(AFTER_MESSAGES)
        befores.append(before[["sent_at", "sender", "text"]].to_dict("records"))
        afters.append(after[["sent_at", "sender", "text"]].to_dict("records"))
    return befores, afters


def _buyer_aliases(names: list[str]) -> dict[str, str]:
    aliases: dict[str, str] = {}
    for name in names:
        if name and name not in aliases:
            aliases[name] = _("buyer {letter}").format(letter=letters(len(aliases)))
    return aliases


def _mask_examples(ex: pd.DataFrame) -> pd.DataFrame:
    """Buyer nicknames -> 买家A, 买家B … (in order of appearance); phones, addresses, order numbers masked."""
    names: list[str] = []
    for rec in ex.itertuples(index=False):
        names.append(rec.customer)
        names.extend(m["sender"] for m in rec.before + rec.after)
    aliases = _buyer_aliases([n for n in names if isinstance(n, str)])
    # Longest first so 'tb_12' is replaced before 'tb_1'; one-character names would hit ordinary words.
    in_text = {n: aliases[n] for n in sorted(aliases, key=len, reverse=True) if len(n) >= 2}

    def clean(text: Any) -> Any:
        return mask_pii(text, addresses=True, order_numbers=True, names=in_text) if isinstance(text, str) else text

    def clean_messages(msgs: list[dict]) -> list[dict]:
        return [{**m, "sender": aliases.get(m["sender"], clean(m["sender"])), "text": clean(m["text"])}
                for m in msgs]

    out = ex.copy()
    out["customer"] = [aliases.get(c, clean(c)) for c in out["customer"]]
    # Chat text and buyer nicknames only: conversation ids and source files are how QA staff find
    # the chat again, so they are never rewritten (an id like QN202611210001 is not an order number).
    for col in ("reply", "reason"):  # the reason quotes the reply's words (tag_words)
        out[col] = out[col].map(clean)
    out["before"] = out["before"].map(clean_messages)
    out["after"] = out["after"].map(clean_messages)
    return out


# --------------------------------------------------------------------------- public
def coaching_examples(tables: dict, agent: str | None = None, tag: str | None = None, rule: str | None = None,
                      limit: int = 20, good: bool = False, mask: bool = True,
                      settings: dict | None = None) -> pd.DataFrame:
    """Pick coaching examples from an audit (``load_audit_folder`` output).

    Bad examples: replies with ``tag`` (most probable first) and/or breaking ``rule`` (most
    severe first); with neither, every tag and rule, taking turns.  ``good=True`` picks model
    answers instead.  ``agent`` matches with or without the ``店铺:`` prefix.  ``settings``
    (thresholds quoted in the reasons) default to run.json's, then to the metric defaults.
    Returns one row per example (``EXAMPLE_COLUMNS``); ``before``/``after`` are lists of
    ``{"sent_at", "sender", "text"}`` buyer messages.
    """
    if tag is not None and tag not in TAGS:
        raise CoachingError(f"unknown tag {tag!r}; choose one of: {', '.join(TAGS)}")
    if rule is not None and rule not in RULES:
        raise CoachingError(f"unknown rule {rule!r}; choose one of: {', '.join(RULES)}")
    if limit < 1:
        raise CoachingError(f"limit must be at least 1, got {limit}")
    for name in ("replies", "messages", "conversations"):
        if not isinstance(tables.get(name), pd.DataFrame):
            raise CoachingError(f"the audit tables lack {name}.csv; run `qa-scorer audit` first")
    replies = tables["replies"].reset_index(drop=True)
    messages = tables["messages"].reset_index(drop=True)
    conversations = tables["conversations"]
    rounds = tables.get("rounds")
    limits = {**thresholds(tables.get("run")), **(settings or {})}

    keep = pd.Series(True, index=replies.index)
    if agent:
        keep = agent_matches(replies["agent"], agent) if "agent" in replies.columns else keep & False
        if not keep.any():
            known = sorted(replies["agent"].astype("string").dropna().unique()) if "agent" in replies else []
            shown = ", ".join(known[:20]) + (" …" if len(known) > 20 else "")
            raise CoachingError(f"no replies by agent {agent!r} in replies.csv; agents: {shown or 'none'}")
    present_tags = tag_columns(replies)
    if tag is not None and tag not in present_tags:
        raise CoachingError(f"replies.csv has no {tag!r} column: the audit ran without the classifier; "
                            "re-run qa-scorer audit with a model to get tag examples")

    # Each category needs at most limit × (number of categories) candidates: even if every one of
    # them is a duplicate of a reply in another category, that leaves ``limit`` distinct replies.
    if good:
        cands = _good_candidates(replies, rounds, conversations, keep, limits, tag,
                                 product_only=rule == "product_answer_short", cap=limit)
    else:
        tags = [tag] if tag else (present_tags if rule is None else [])
        rules = [rule] if rule else (list(RULES) if tag is None else [])
        cap = limit * max(len(tags) + len(rules), 1)
        parts = [_tag_candidates(replies, keep, t, cap) for t in tags]
        parts += [_rule_candidates(r, replies, rounds, conversations, keep, limits, explicit=rule is not None, cap=cap)
                  for r in rules]
        cands = pd.concat(parts, ignore_index=True) if parts else _none()
    if cands.empty:
        return pd.DataFrame(columns=EXAMPLE_COLUMNS)
    chosen = _rank(cands).head(limit)

    rows = chosen["reply_row"].to_numpy()
    sel = replies.loc[rows]
    positions = _message_positions(replies, messages, rows) if len(messages) else np.full(len(rows), -1)
    before, after = _context(messages, positions) if len(messages) else ([[]] * len(rows), [[]] * len(rows))
    customers = pd.Series("", index=range(len(rows)), dtype=object)
    if has(conversations, "conversation_id", "customer"):
        lookup = conversations.drop_duplicates("conversation_id").set_index(
            conversations.drop_duplicates("conversation_id")["conversation_id"].astype("string"))["customer"]
        customers = sel["conversation_id"].astype("string").map(lookup).fillna("").astype(object).to_numpy()

    def col(name, default=""):
        return sel[name].to_numpy() if name in sel.columns else np.full(len(sel), default, dtype=object)

    ex = pd.DataFrame({
        "rank": np.arange(1, len(rows) + 1),
        "kind": chosen["kind"].to_numpy(),
        "category": chosen["category"].to_numpy(),
        "label": [" / ".join(TAG_LABELS.get(c) or RULE_LABELS.get(c) or _("model answer") for c in cat.split(","))
                  for cat in chosen["category"]],
        "reason": chosen["reason"].to_numpy(),
        "probability": chosen["probability"].to_numpy(),
        "agent": col("agent"),
        "conversation_id": col("conversation_id"),
        "customer": customers,
        "sent_at": col("sent_at", pd.NaT),
        "latency_s": number(sel, "latency_s").to_numpy(),
        "reply": col("text"),
        "before": before,
        "after": after,
        "source_file": col("source_file"),
        "source_line": col("source_line", np.nan),
    })
    return _mask_examples(ex) if mask else ex


# --------------------------------------------------------------------------- output
_MD_SPECIAL = str.maketrans({c: "\\" + c for c in "\\`*_[]<>#|~!"})


def _md(text: Any) -> str:
    """Chat text as inert Markdown: specials backslash-escaped (no HTML, links or emphasis), one line."""
    if is_missing(text):
        return ""
    return str(text).translate(_MD_SPECIAL).replace("\r\n", "\n").replace("\n", " ⏎ ")


def _prob(value: Any) -> str:
    return "" if is_missing(value) else f"{float(value):.2f}"


def _prob_label(kind: str) -> str:
    # For a model answer the figure is the highest probability of any tag: low is good.
    return _("highest tag probability") if kind == "good" else _("probability")


def _when(value: Any) -> str:
    return fmt_time(value, with_date=False) if not is_missing(value) else "--:--:--"


def to_markdown(examples: pd.DataFrame, title: str | None = None) -> str:
    title = title or _("Coaching examples")
    lines = [f"# {title}", "", _("{n} example(s)").format(n=len(examples)), ""]
    if examples.empty:
        lines.append(_("No examples match."))
    for ex in examples.itertuples(index=False):
        head = f"## {ex.rank}. {ex.label} · {ex.category.replace(',', ', ')}"  # our own names: nothing to escape
        if not is_missing(ex.probability):
            head += f" · {_prob_label(ex.kind)} {_prob(ex.probability)}"
        lines += [head, ""]
        meta = [_("agent {name}").format(name=_md(ex.agent)),
                _("conversation {id}").format(id=_md(ex.conversation_id)), _md(fmt_time(ex.sent_at))]
        if not is_missing(ex.latency_s):
            meta.append(_("response {time}").format(time=fmt_seconds(ex.latency_s)))
        lines += [" · ".join(m for m in meta if m), "", _("Why: {reason}").format(reason=_md(ex.reason)), ""]
        for m in ex.before:
            lines.append(f"- {_when(m['sent_at'])} {_md(m['sender'])}：{_md(m['text'])}")
        lines.append(f"- {_when(ex.sent_at)} **" + _("agent {name}").format(name=_md(ex.agent)) + f"：{_md(ex.reply)}** ◀")
        for m in ex.after:
            lines.append(f"- {_when(m['sent_at'])} {_md(m['sender'])}：{_md(m['text'])}")
        lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def _text(value: Any) -> str:
    return "" if is_missing(value) else str(value)


def to_html(examples: pd.DataFrame, title: str | None = None) -> str:
    """A standalone page (templates/coaching.html, autoescaped: chat text is shown as text)."""
    title = title or _("Coaching examples")
    def context(msgs: list[dict]) -> list[dict]:
        return [{"sender": _text(m["sender"]), "when": _when(m["sent_at"]), "text": _text(m["text"])} for m in msgs]

    rows = [{
        "rank": ex.rank,
        "kind_class": "good" if ex.kind == "good" else "bad",
        "label": _text(ex.label),
        "category": _text(ex.category).replace(",", ", "),
        "probability": _prob(ex.probability),
        "prob_label": _prob_label(ex.kind),
        "agent": _text(ex.agent),
        "conversation_id": _text(ex.conversation_id),
        "sent_at": fmt_time(ex.sent_at),
        "when": _when(ex.sent_at),
        "latency": "" if is_missing(ex.latency_s) else " · " + _("response {time}").format(time=fmt_seconds(ex.latency_s)),
        "reason": _text(ex.reason),
        "reply": _text(ex.reply),
        "before": context(ex.before),
        "after": context(ex.after),
    } for ex in examples.itertuples(index=False)]
    return render_template("coaching.html", title=title, examples=rows, lang="zh-CN" if get_language() == "zh" else "en")


def _lines(msgs: list[dict]) -> str:
    return "\n".join(f"{_when(m['sent_at'])} {m['sender']}：{m['text']}" for m in msgs)


def to_workbook(examples: pd.DataFrame, path) -> None:
    sheet = pd.DataFrame({
        _("No."): examples["rank"], _("Kind"): examples["label"], _("Tag/rule"): examples["category"],
        _("Reason"): examples["reason"], _("Probability"): examples["probability"],
        _("Agent"): examples["agent"], _("Conversation"): examples["conversation_id"],
        _("Time"): examples["sent_at"].map(lambda v: fmt_time(v)),
        _("Buyer before"): examples["before"].map(_lines), _("Reply"): examples["reply"],
        _("Buyer after"): examples["after"].map(_lines),
        _("Source"): examples["source_file"].astype(str) + ":" + examples["source_line"].map(
            lambda v: "" if is_missing(v) else str(int(float(v)))),
    })
    sheet = excel_safe(sheet)
    widths = [6, 12, 16, 36, 10, 22, 22, 20, 40, 40, 30, 30]
    with xlsxwriter.Workbook(str(path), {"strings_to_formulas": False, "strings_to_urls": False,
                                         "strings_to_numbers": False}) as wb:
        ws = wb.add_worksheet(_("Coaching")[:31])
        bold = wb.add_format({"bold": True, "bg_color": "#F0F3F8", "text_wrap": True, "valign": "top"})
        wrap = wb.add_format({"text_wrap": True, "valign": "top"})
        ws.write_row(0, 0, list(sheet.columns), bold)
        ws.freeze_panes(1, 0)
        for c, w in enumerate(widths):
            ws.set_column(c, c, w, wrap)
        for r, row in enumerate(sheet.itertuples(index=False), start=1):
            for c, v in enumerate(row):
                if is_missing(v):
                    continue
                if isinstance(v, (int, float, np.integer, np.floating)):
                    ws.write_number(r, c, float(v), wrap)
                else:
                    ws.write_string(r, c, str(v)[:32767], wrap)


def write_coaching(examples: pd.DataFrame, path_or_none=None, fmt: str = "md") -> str:
    """Write coaching examples as Markdown, HTML or a workbook.

    Returns the document text for md/html (also written to ``path_or_none`` when given; the
    CLI prints it when not).  xlsx needs a path and returns it.
    """
    if fmt not in ("md", "html", "xlsx"):
        raise CoachingError(f"unknown format {fmt!r}; choose md, html or xlsx")
    if fmt == "xlsx":
        if path_or_none is None:
            raise CoachingError("the xlsx format needs an output file (--out coaching.xlsx)")
        Path(path_or_none).parent.mkdir(parents=True, exist_ok=True)
        to_workbook(examples, path_or_none)
        return str(path_or_none)
    text = to_markdown(examples) if fmt == "md" else to_html(examples)
    if path_or_none is not None:
        Path(path_or_none).parent.mkdir(parents=True, exist_ok=True)
        Path(path_or_none).write_text(text, encoding="utf-8")
    return text
