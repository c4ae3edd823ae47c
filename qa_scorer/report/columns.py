"""The column dictionary: every column of the audit tables, its label for people, meaning and unit.

The CSV files keep these stable English column names (scripts and payroll tools read them);
people-facing outputs (audit.xlsx headers, report.html) show ``column_label(name)``, which is
Chinese by default and English with ``--lang en``.  docs/columns.md is generated from this
module (``python -m qa_scorer.report.columns > docs/columns.md``; a test checks it is current
and that every column of a real audit folder is described).
"""

from __future__ import annotations

import re

from qa_scorer.i18n import N_, _, pgettext, use_language

#: Units, as shown in docs/columns.md (English) and translated in labels where useful.
UNITS = {
    "text": N_("text"),
    "id": N_("id"),
    "datetime": N_("date-time"),
    "s": N_("seconds"),
    "rate": N_("rate 0–1 (shown as %)"),
    "count": N_("count"),
    "bool": N_("yes/no"),
    "points": N_("points"),
    "chars": N_("characters"),
    "prob": N_("probability 0–1"),
    "json": N_("JSON"),
    "int": N_("number"),
    "h": N_("hours"),
}

# name -> (label, unit, meaning).  Labels are msgids (English) translated at use; the meaning
# is documentation (English), shown in docs/columns.md.
COLUMNS: dict[str, tuple[str, str, str]] = {
    # --- messages / shared
    "conversation_id": (N_("Conversation ID"), "id", "from the export; without one `<shop>|<buyer>|<time of first message>`"),
    "sent_at": (N_("Sent at"), "datetime", "the shop's local time"),
    "sender": (N_("Sender"), "text", "account name as exported (agents as 店铺:子账号)"),
    "role": (N_("Role"), "text", "customer, agent (human), auto (auto-reply) or system"),
    "text": (N_("Text"), "text", "message text"),
    "source_file": (N_("Source file"), "text", "the export file the row came from"),
    "source_line": (N_("Source line"), "int", "line (CSV/TSV/chat log), sheet row (xlsx) or element/line number (JSON)"),
    "shop": (N_("Shop"), "text", "main account (店铺) of the agent side, empty if unknown"),
    "agent": (N_("Agent"), "text", "the agent account (店铺:子账号)"),
    "receiver": (N_("Receiver"), "text", "receiving account as exported (接待客服), optional"),
    # --- rejected
    "reason": (N_("Reason"), "text", "why the row could not be used"),
    "raw": (N_("Raw row"), "text", "the row as read from the file"),
    # --- replies
    "counted_chars": (N_("Counted characters"), "chars", "characters that count (emoticons, emoji and spaces do not)"),
    "is_auto": (N_("Auto-reply"), "bool", "an auto-reply sent on the agent's behalf"),
    "round_index": (N_("Round"), "int", "0-based round (首问首答) within the conversation"),
    "latency_s": (N_("Response time"), "s", "seconds from the round's first buyer message to this answer (only on the message that answers a round)"),
    "short_reply": (N_("Short reply"), "bool", "the reply turn has fewer counted characters than min_reply_chars (4)"),
    "is_closing": (N_("Closing message"), "bool", "the message is a closing (结束语)"),
    "media_only": (N_("Media only"), "bool", "only emoticons/emoji, no counted character"),
    "context": (N_("Buyer's question"), "text", "the round's buyer text this reply answers"),
    "message_index": (N_("Message row"), "int", "row position in messages.csv (0-based)"),
    "is_answer": (N_("Answers a round"), "bool", "the message answers a buyer round"),
    "turn_index": (N_("Reply turn"), "int", "0-based reply turn of human agent messages (empty for auto-replies)"),
    "turn_chars": (N_("Turn characters"), "chars", "counted characters of the whole reply turn"),
    "turn_start": (N_("Turn start"), "bool", "first message of its reply turn (short_reply is set on it)"),
    "rich_media": (N_("Image/card/link"), "bool", "an image, card or link: never a short reply"),
    "forbidden_words": (N_("Forbidden words"), "text", "forbidden words found, `|`-joined"),
    "forbidden_categories": (N_("Forbidden word categories"), "text", "category of each forbidden word, same order"),
    "tag_words": (N_("Tag words"), "text", "words that drove each tag, e.g. `pushy: 最后一件, 没有了`"),
    # --- rounds
    "customer_text": (N_("Buyer's messages"), "text", "the buyer messages of the round"),
    "started_at": (N_("Started at"), "datetime", "first message (conversation) or first buyer message (round)"),
    "answered_at": (N_("Answered at"), "datetime", "time of the answering agent message, empty if unanswered"),
    "in_hours": (N_("In service hours"), "bool", "the round started inside service hours"),
    "answered": (N_("Answered"), "bool", "an agent answered the round"),
    "within_3min": (N_("Answered within 3 min"), "bool", "answered within within_seconds (180)"),
    "slow": (N_("Slow"), "bool", "answered slower than slow_seconds (120)"),
    "product_question": (N_("Product question"), "bool", "the buyer asked about the product"),
    "product_answer_chars": (N_("Product answer characters"), "chars", "counted characters of the agent's answer to a product question"),
    "customer": (N_("Buyer"), "text", "buyer nickname"),
    "latency_for_avg_s": (N_("Response time for averages"), "s", "latency used in averages (after platform caps)"),
    "first_counted": (N_("First counted round"), "bool", "the conversation's first counted round (first response)"),
    "question_type": (N_("Question type"), "text", "product, size, stock, price, logistics, aftersales, chitchat or other"),
    "trailing_ack": (N_("Trailing acknowledgement"), "bool", "an unanswered last round that is only 好的/谢谢 and the like"),
    "counted": (N_("Counted"), "bool", "counted in the rates and averages (in hours, not a trailing acknowledgement)"),
    # --- conversations
    "ended_at": (N_("Ended at"), "datetime", "last message"),
    "messages": (N_("Messages"), "count", "messages in the conversation"),
    "rounds": (N_("Rounds"), "count", "buyer rounds (首问首答)"),
    "rounds_outside_hours": (N_("Rounds outside hours"), "count", "rounds started outside service hours"),
    "unanswered_rounds": (N_("Unanswered rounds"), "count", "counted rounds never answered"),
    "first_response_s": (N_("First response time"), "s", "latency of the first counted round"),
    "avg_response_s": (N_("Average response time"), "s", "mean latency of answered counted rounds"),
    "within_3min_rate": (N_("3-minute response rate"), "rate", "counted rounds answered within 180 s / counted rounds"),
    "slow_rounds": (N_("Slow rounds"), "count", "answered counted rounds slower than 120 s"),
    "short_replies": (N_("Short replies"), "count", "short reply turns"),
    "product_answer_short": (N_("Short product answers"), "count", "product questions answered with fewer than 15 counted characters (rounds.csv: yes/no)"),
    "missing_closing": (N_("Missing closing"), "bool", "no closing message after the buyer went quiet"),
    "closing_due": (N_("Closing due"), "bool", "the buyer was silent long enough for a closing to be due"),
    "greeted": (N_("Greeted"), "bool", "the first human reply contains a greeting"),
    "agents": (N_("Agents in conversation"), "text", "the human agents who replied in the conversation"),
    "transferred": (N_("Transferred"), "bool", "more than one human agent replied"),
    "media_only_replies": (N_("Media-only replies"), "count", "replies of emoticons/emoji only"),
    "counted_rounds": (N_("Counted rounds"), "count", "rounds counted in rates and averages"),
    "within_3min_rounds": (N_("Rounds within 3 min"), "count", "counted rounds answered within 180 s"),
    "agent_replies": (N_("Agent replies"), "count", "human agent messages"),
    "auto_replies": (N_("Auto-replies"), "count", "auto-reply messages"),
    "last_agent": (N_("Last agent"), "text", "the agent of the last human reply"),
    "attribution": (N_("Attribution"), "text", "how the conversation's agent was found: agent, auto_reply, receiver or unassigned"),
    "trailing_acks": (N_("Trailing acknowledgements"), "count", "uncounted last rounds of 好的/谢谢 and the like"),
    "answered_rounds": (N_("Answered rounds"), "count", "counted rounds that got an answer"),
    "forbidden": (N_("Replies with forbidden words"), "count", "replies with forbidden words (replies.csv: yes/no)"),
    "auto_failed": (N_("Auto-failed"), "bool", "an auto-fail item (e.g. rude) set the score to 0"),
    "auto_fail_reason": (N_("Auto-fail reason"), "text", "the items that failed it, e.g. rude|forbidden"),
    "needs_review": (N_("Needs review"), "count", "machine evidence waiting for a person to confirm (conversations.csv: yes/no)"),
    "review_reasons": (N_("Review reasons"), "text", "what a person should confirm"),
    "buyer_upset_max": (N_("Buyer upset (max)"), "prob", "highest buyer-upset score of the round/conversation "
                        "(chasing, complaints, anger); a review-sorting signal, never scored (docs/metrics.md)"),
    "buyer_signals": (N_("Buyer signals"), "text", "what made the buyer look upset, e.g. 催促:人呢; 不满:太慢了"),
    "buyer_upset_msgs": (N_("Upset buyer messages"), "count", "buyer messages with an upset score of 0.5 or more"),
    "buyer_chasing": (N_("Buyer chasing messages"), "count", "buyer messages chasing a reply (人呢, 在吗 again, ？？？)"),
    "buyer_upset_convs": (N_("Conversations with an upset buyer"), "count",
                          "conversations whose buyer_upset_max is 0.5 or more"),
    "service_score": (N_("Service score"), "points", "0–100 (conversation: rubric; agent: mean conversation score minus agent items)"),
    "score_items": (N_("Score breakdown"), "json", "the non-zero rubric items: item, kind, count/value, points"),
    # --- agents
    "first_response_avg_s": (N_("Average first response time"), "s", "mean first response time of the agent's conversations"),
    "missing_closings": (N_("Missing closings"), "count", "conversations whose last human reply was the agent's and that lack a closing"),
    "reply_rate": (N_("Reply rate"), "rate", "conversations with a human reply / conversations"),
    "greeting_rate": (N_("Greeting rate"), "rate", "greeted / conversations that got a human reply"),
    "slow_receptions": (N_("Slow receptions"), "count", "buyer-days with at least 3 slow rounds"),
    "conversations": (N_("Conversations"), "count", "conversations of the agent"),
    "conversations_joined": (N_("Conversations joined"), "count", "conversations with at least one human reply by the agent"),
    "replied_conversations": (N_("Replied conversations"), "count", "the agent's conversations with any human reply"),
    "unassigned": (N_("Unassigned"), "bool", "the (未分配) row: conversations no agent answered"),
    "conversations_scored": (N_("Conversations scored"), "count", "conversations with a service score"),
    "auto_failed_conversations": (N_("Auto-failed conversations"), "count", "conversations set to 0 by an auto-fail item"),
    "conversation_score_mean": (N_("Mean conversation score"), "points", "mean of the agent's conversation scores, before agent items"),
    "online_hours_est": (N_("Online hours (estimated)"), "h",
                         "在线时长 estimate: sum of the gaps of at most online_gap_minutes (30) between the agent's "
                         "consecutive human replies (docs/metrics.md \"Online hours\")"),
    # --- tags (classifier)
    "pushy": (N_("pushy"), "count", "replies tagged pushy (催单) (replies.csv: yes/no)"),
    "unhelpful": (N_("unhelpful"), "count", "replies tagged unhelpful (敷衍) (replies.csv: yes/no)"),
    "rude": (N_("rude"), "count", "replies tagged rude (态度差) (replies.csv: yes/no)"),
    "overclaim": (N_("overclaim"), "count", "replies tagged overclaim (夸大) (replies.csv: yes/no)"),
    # --- scoring adjustments
    "ded_cap_adjustment": (N_("Cap adjustment"), "points", "≤ 0: points given back above the rubric's max_deduction"),
    "ded_bonus_ceiling": (N_("Bonus ceiling"), "points", "≥ 0: bonus points above 100 taken back"),
    "ded_auto_fail": (N_("Auto-fail deduction"), "points", "what was left when an auto-fail item set the score to 0"),
    "agent_ded_floor_adjustment": (N_("Floor adjustment"), "points", "≤ 0: deductions below a score of 0 given back"),
}

#: Rubric items (score_items ``item`` and the ded_/bonus_/agent_ded_ columns) with their own label.
ITEM_LABELS = {
    "conversation_scores": N_("Mean conversation score"),
    "closing": N_("Closing message"),
    "greeting": N_("Greeting"),
    "fast_first_response": N_("Fast first response"),
    "cap_adjustment": N_("Cap adjustment"),
    "bonus_ceiling": N_("Bonus ceiling"),
    "auto_fail": N_("Auto-fail"),
    "floor_adjustment": N_("Floor adjustment"),
    "missing_closing": N_("Missing closing"),
    "forbidden": N_("Forbidden words"),
}

#: ``kind`` of a score_items entry.
KIND_LABELS = {
    "deduction": N_("deduction"),
    "agent_deduction": N_("agent deduction"),
    "coached": N_("coached only"),
    "bonus": N_("bonus"),
    "adjustment": N_("adjustment"),
    "conversations": N_("conversations"),
}

#: Columns of the score breakdown (score_items keys).
BREAKDOWN_KEYS = {
    "item": N_("Item"),
    "kind": N_("Kind"),
    "count": N_("Count"),
    "value": N_("Value"),
    "points": N_("Points"),
}

_PATTERNS = [
    (re.compile(r"^agent_ded_(.+)$"), N_("Agent deduction: {item}"), "points",
     "points the agent item `{item}` deducted from the agent score"),
    (re.compile(r"^ded_(.+)$"), N_("Deduction: {item}"), "points", "points the rubric item `{item}` deducted"),
    (re.compile(r"^bonus_(.+)$"), N_("Bonus: {item}"), "points", "points the bonus `{item}` gave back"),
    (re.compile(r"^p_(.+)$"), N_("Probability: {item}"), "prob", "classifier probability of the tag `{item}`"),
]

#: Tables of the audit folder, in docs order, with a short description.
TABLES = {
    "messages": "one row per message read (the canonical messages table)",
    "rejected": "rows that could not be used, with file, line and reason",
    "replies": "one row per agent message (human or auto-reply)",
    "rounds": "one row per buyer round (首问首答)",
    "conversations": "one row per conversation, with its score",
    "agents": "one row per agent, with its score",
}

#: Sheet names of audit.xlsx (the CSV file name is the key), translated with the context "sheet".
SHEET_LABELS = {
    "agents": "Agents",
    "conversations": "Conversations",
    "replies": "Replies",
    "rejected": "Rejected rows",
}
# For extraction (pybabel sees the literal calls):
if False:  # pragma: no cover
    pgettext("sheet", "Agents"), pgettext("sheet", "Conversations"), pgettext("sheet", "Replies")
    pgettext("sheet", "Rejected rows")


def item_label(item: str) -> str:
    """A rubric item's label: 'slow_rounds' -> '慢回复轮次'; unknown items keep their key."""
    if item in ITEM_LABELS:
        return _(ITEM_LABELS[item])
    if item in COLUMNS:
        return _(COLUMNS[item][0])
    return item


def _describe(name: str) -> tuple[str, str, str] | None:
    """(label msgid already formatted, unit key, meaning) of a column, or None if unknown."""
    if name in COLUMNS:
        label, unit, meaning = COLUMNS[name]
        return _(label), unit, meaning
    for pattern, label, unit, meaning in _PATTERNS:
        m = pattern.match(name)
        if m:
            item = m.group(1)
            return _(label).format(item=item_label(item)), unit, meaning.format(item=item)
    return None


#: Labels of coded values people see (audit.xlsx cells, report.html); the CSVs keep the codes.
VALUE_LABELS: dict[str, dict[str, str]] = {
    # docs/metrics.md "Attribution": how a conversation's agent was found
    "attribution": {
        "agent": N_("human reply"),
        "auto_reply": N_("auto-reply only"),
        "receiver": N_("receiving account"),
        "unassigned": N_("unassigned"),
    },
}


def value_label(column: str, value) -> str:
    """The label people see for a coded cell (``attribution`` ``unassigned`` -> 未分配); other
    values are returned as text unchanged."""
    text = "" if value is None or (isinstance(value, float) and value != value) else str(value)
    labels = VALUE_LABELS.get(column)
    return _(labels[text]) if labels and text in labels else text


def column_label(name: str) -> str:
    """The header people see for a column (current language); an unknown column keeps its name."""
    found = _describe(str(name))
    return found[0] if found else str(name)


def sheet_label(name: str) -> str:
    """audit.xlsx sheet name of a table: 客服, 会话, 回复, 无法使用的行 (English: Agents, …)."""
    return pgettext("sheet", SHEET_LABELS[name]) if name in SHEET_LABELS else name


def column_unit(name: str) -> str | None:
    found = _describe(str(name))
    return found[1] if found else None


def is_known(name: str) -> bool:
    return _describe(str(name)) is not None


# Columns of a default audit that docs/columns.md lists per table (with the classifier on).
DOC_TABLE_COLUMNS_EXTRA = {
    "replies": ["pushy", "unhelpful", "rude", "overclaim", "p_pushy", "p_unhelpful", "p_rude", "p_overclaim",
                "tag_words"],
    "conversations": ["pushy", "unhelpful", "rude", "overclaim"],
    "agents": ["pushy", "unhelpful", "rude", "overclaim"],
}


def markdown(table_columns: dict[str, list[str]]) -> str:
    """docs/columns.md for ``{table: [columns]}`` (English names, Chinese names, meaning, unit)."""
    lines = [
        "# Column dictionary (列名对照)",
        "",
        "<!-- Generated by `python -m qa_scorer.report.columns > docs/columns.md`; edit",
        "     qa_scorer/report/columns.py instead.  tests/test_i18n.py checks it is current. -->",
        "",
        "The CSV files of an audit folder keep these **English column names**: they are a stable",
        "contract for scripts and payroll tools. People-facing outputs show the **中文名**: the",
        "header row of `audit.xlsx`, its sheet names, and the tables of `report.html` (English",
        "with `--lang en`). Rates are stored as fractions 0–1 in the CSVs and shown as",
        "percentages (85.7%) to people; durations are stored in seconds and shown as 分/秒.",
        "",
        "Patterns: `ded_<item>` = 扣分：<item>, `bonus_<item>` = 加分：<item>,",
        "`agent_ded_<item>` = 客服扣分：<item> (the rubric items, docs/rubric.md), `p_<tag>` =",
        "概率：<tag> (classifier probability). Tag columns (`pushy` 催单, `unhelpful` 敷衍, `rude`",
        "态度差, `overclaim` 夸大) appear only when the classifier ran.",
        "",
    ]
    with use_language("zh"):
        for table, columns in table_columns.items():
            lines += [f"## {table}.csv", "", TABLES.get(table, ""), "",
                      "| column | 中文名 | meaning | unit |", "|---|---|---|---|"]
            for col in columns:
                found = _describe(col)
                if found is None:
                    lines.append(f"| `{col}` | | | |")
                    continue
                zh, unit, meaning = found
                with use_language("en"):
                    unit_text = _(UNITS[unit])
                lines.append(f"| `{col}` | {zh} | {meaning.replace('|', chr(92) + '|')} | {unit_text} |")
            lines.append("")
    return "\n".join(lines).rstrip() + "\n"


def audit_folder_columns(folder) -> dict[str, list[str]]:
    """{table: columns} of the CSVs in an audit folder, plus the classifier's columns."""
    import csv
    from pathlib import Path

    out: dict[str, list[str]] = {}
    for table in TABLES:
        path = Path(folder) / f"{table}.csv"
        if not path.exists():
            continue
        with path.open(encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
        extra = [c for c in DOC_TABLE_COLUMNS_EXTRA.get(table, []) if c not in header]
        # the tag columns sit before the score columns in a real audit; order does not matter here
        out[table] = header + extra
    return out


if __name__ == "__main__":  # python -m qa_scorer.report.columns [AUDIT_FOLDER] > docs/columns.md
    import sys
    import tempfile

    if len(sys.argv) > 1:
        folder = sys.argv[1]
    else:
        from qa_scorer.pipeline import AuditOptions, audit

        root = __import__("pathlib").Path(__file__).resolve().parents[2]
        folder = tempfile.mkdtemp()
        audit([str(root / "sample_transcripts")], AuditOptions(out_dir=folder, html=False, xlsx=False, tags=False))
    sys.stdout.write(markdown(audit_folder_columns(folder)))
