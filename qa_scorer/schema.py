"""The canonical messages table and the column sets of every output table.

Every reader produces exactly ``MESSAGE_COLUMNS`` (see docs/formats.md); every later stage
reads only these columns.  Keeping the definition here, in one place, is what lets a new
reader or a new stage plug in without touching the others.
"""

from __future__ import annotations

import pandas as pd

#: Roles a message can have.  ``auto`` = the platform's auto-reply sent on the agent's
#: behalf (``[自动回复]`` prefix); ``system`` = order cards, transfer notices and the like.
ROLES = ("customer", "agent", "auto", "system")
HUMAN_AGENT_ROLE = "agent"

#: The canonical messages table, in this column order.
MESSAGE_COLUMNS = [
    "conversation_id",  # str   - from the export, or "<shop>|<buyer>|<n>" when segmented by gap
    "sent_at",          # datetime64[ns], naive, the shop's local time
    "sender",           # str   - account name as exported (agents look like 店铺:子账号)
    "role",             # str   - one of ROLES
    "text",             # str   - message text, "" for an empty message
    "source_file",      # str   - path of the file the row came from
    "source_line",      # int64 - 1-based line (CSV/TSV/text: physical line of the row start;
                        #         xlsx: sheet row; JSON list: element index + 1; JSONL: line)
    "shop",             # str   - main account (店铺) of the agent side, "" if unknown
    "agent",            # str   - the agent serving the conversation (first human agent), "" if none
]

#: Optional message columns: used when present, never required by a stage.  Ingest always
#: writes them after ``MESSAGE_COLUMNS`` ("" where the input has no such column), so every
#: chunk and messages.csv have the same columns whatever the exports hold (docs/formats.md).
#: ``receiver`` = the account that received the buyer (接待客服 / 接待人 / 接待账号 in exports).
#: It names the account a conversation belongs to when no human agent replied and no
#: sub-account auto-reply answered (docs/metrics.md "Attribution").
OPTIONAL_MESSAGE_COLUMNS = [
    "receiver",         # str   - receiving account as exported, "" if unknown
]

#: Rejected rows (bad timestamp, empty sender, ...) - written to rejected.csv.
REJECTED_COLUMNS = ["source_file", "source_line", "reason", "raw"]

#: Output tables of ``qa-scorer audit``.  Column names are a public contract: payroll
#: tools and the report read them.  Stages may append columns; they never rename these.
REPLY_COLUMNS = [
    "conversation_id", "agent", "sent_at", "text", "counted_chars", "is_auto",
    "round_index", "latency_s", "short_reply", "is_closing",
]
#: Further reply columns every audit writes (the classifier uses ``context``; reports join
#: back to messages with ``message_index``).
REPLY_EXTRA_COLUMNS = ["media_only", "context", "message_index", "source_file", "source_line"]
CONVERSATION_COLUMNS = [
    "conversation_id", "agent", "customer", "started_at", "ended_at", "messages", "rounds",
    "rounds_outside_hours", "unanswered_rounds", "first_response_s", "avg_response_s",
    "within_3min_rate", "slow_rounds", "short_replies", "product_answer_short", "missing_closing",
]
CONVERSATION_EXTRA_COLUMNS = ["closing_due", "greeted", "agents", "transferred", "media_only_replies"]
AGENT_COLUMNS = [
    "agent", "conversations", "rounds", "unanswered_rounds", "first_response_avg_s",
    "avg_response_s", "within_3min_rate", "slow_rounds", "short_replies",
    "product_answer_short", "missing_closings", "reply_rate",
]
AGENT_EXTRA_COLUMNS = ["greeting_rate", "slow_receptions"]
#: Buyer-signal columns appended to rounds / conversations / agents (qa_scorer.buyer_signal,
#: docs/metrics.md "Buyer signal"): how upset the buyer is, to sort review work.  No score,
#: rubric item or payroll figure reads them.
BUYER_SIGNAL_COLUMNS = {
    "rounds": ["buyer_upset_max", "buyer_signals"],
    "conversations": ["buyer_upset_max", "buyer_upset_msgs", "buyer_chasing"],
    "agents": ["buyer_upset_convs"],
}

#: Classifier tags, in the order used everywhere (columns, reports, CLI choices).
TAGS = ("pushy", "unhelpful", "rude", "overclaim")


def empty_messages() -> pd.DataFrame:
    """An empty messages table with the canonical dtypes (and the optional columns ingest writes)."""
    return pd.DataFrame(
        {
            "conversation_id": pd.Series([], dtype=object),
            "sent_at": pd.Series([], dtype="datetime64[ns]"),
            "sender": pd.Series([], dtype=object),
            "role": pd.Series([], dtype=object),
            "text": pd.Series([], dtype=object),
            "source_file": pd.Series([], dtype=object),
            "source_line": pd.Series([], dtype="int64"),
            "shop": pd.Series([], dtype=object),
            "agent": pd.Series([], dtype=object),
            "receiver": pd.Series([], dtype=object),
        }
    )


def check_messages(df: pd.DataFrame) -> None:
    """Raise ValueError if ``df`` is not a canonical messages table (used by tests and stages)."""
    missing = [c for c in MESSAGE_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"messages table is missing columns: {', '.join(missing)}")
    if not pd.api.types.is_datetime64_any_dtype(df["sent_at"]):
        raise ValueError("messages.sent_at must be a datetime column")
    bad = set(df["role"].unique()) - set(ROLES)
    if bad:
        raise ValueError(f"unknown roles in messages.role: {sorted(bad)}; allowed: {ROLES}")
