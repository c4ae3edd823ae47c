"""The workspace's tables (SQLAlchemy Core), at the newest migration (``migrations/versions``).

One schema for SQLite and PostgreSQL.  Times are stored as ISO text (``2026-11-16 10:05:12``):
they sort correctly, compare across both databases and cost nothing to write from pandas.

Three kinds of tables:

- **machine facts** (rewritten in place by a re-audit): ``conversations``, ``messages``,
  ``replies``, ``rounds``; the conversation row keeps its machine score and its *final* score
  (the rubric applied to the reviewed facts).  ``conversation_versions`` keeps every earlier
  machine scoring of a conversation (a re-audit with another model, rubric or content).
- **workflow state**: ``users``, ``queue_items``, ``decisions``, ``appeals``, ``periods``,
  ``period_scores``, ``calibration_*``, ``workspace_settings``.
- **audit trail**: ``events``, append-only; ``decisions`` are append-only too (a new decision on
  the same target supersedes the older one, which stays).

docs/workspace.md describes the workflow; docs/architecture.md says where to add a table
(a new Alembic revision under ``qa_scorer/workspace/migrations/versions``).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean, Column, Float, ForeignKey, Index, Integer, LargeBinary, MetaData, String, Table, Text, UniqueConstraint,
)

metadata = MetaData()

#: Roles a workspace user can have (the web app checks the same names).
ROLES = ("lead", "reviewer", "trainer", "agent")

users = Table(
    "users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("agent", String(500)),            # an agent's sender id in the exports, e.g. 店铺:子账号
    Column("display_name", String(200)),
    Column("password_hash", String(500)),   # set by the web app's `user passwd`
    Column("active", Boolean, nullable=False, default=True),
    Column("created_at", String(32), nullable=False),
)

runs = Table(
    "runs", metadata,
    Column("id", Integer, primary_key=True),
    Column("started_at", String(32), nullable=False),
    Column("finished_at", String(32)),
    Column("actor", String(200)),
    Column("qa_scorer_version", String(40)),
    Column("version_key", String(64), nullable=False),   # hash of model + rubric + settings + version
    Column("model_json", Text),
    Column("rubric_json", Text),
    Column("settings_json", Text),
    Column("inputs_json", Text),             # [{path, sha256, rows, rejected, ...}]
    Column("summary_json", Text),            # messages, new/updated/unchanged/skipped conversations
    Column("status", String(20), nullable=False),        # recording | done
)

conversations = Table(
    "conversations", metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_key", String(300), nullable=False, unique=True),  # the export's conversation id
    Column("shop", String(300)),
    Column("agent", String(500)),
    Column("last_agent", String(500)),
    Column("customer", String(500)),
    Column("started_at", String(32)),
    Column("ended_at", String(32)),
    Column("period", String(7), nullable=False),        # YYYY-MM of started_at
    Column("messages", Integer),
    Column("content_hash", String(32), nullable=False),
    Column("version_key", String(64), nullable=False),
    Column("version_no", Integer, nullable=False, default=1),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("facts_json", Text, nullable=False),          # the measured conversation row (no scores)
    Column("machine_score", Float),
    Column("machine_items", Text),
    Column("flagged_replies", Integer, nullable=False, default=0),  # replies with a machine tag
    Column("flag_p_max", Float),             # highest / lowest probability among flagged replies:
    Column("flag_p_min", Float),             # the queue's "flagged above/below p" without a scan
    Column("needs_review", Boolean, nullable=False, default=False),
    Column("review_reasons", Text),
    Column("final_score", Float),
    Column("final_items", Text),
    Column("auto_failed", Boolean, nullable=False, default=False),
    Column("reviewed", Boolean, nullable=False, default=False),
    Column("sample_key", Integer, nullable=False),       # 0-9999, fixed at first insert: random sampling
    Column("row_version", Integer, nullable=False, default=1),  # optimistic lock for decisions
    Column("updated_at", String(32)),
)
Index("ix_conversations_period_agent", conversations.c.period, conversations.c.agent)
Index("ix_conversations_period_review", conversations.c.period, conversations.c.needs_review,
      conversations.c.final_score)
# covering index for the period's counts (period status, dashboard): no scan of the wide rows
Index("ix_conversations_period_counts", conversations.c.period, conversations.c.agent, conversations.c.reviewed,
      conversations.c.run_id)
Index("ix_conversations_period_score", conversations.c.period, conversations.c.final_score)
Index("ix_conversations_period_sample", conversations.c.period, conversations.c.agent, conversations.c.sample_key)
Index("ix_conversations_period_flag", conversations.c.period, conversations.c.flag_p_max)

conversation_versions = Table(
    "conversation_versions", metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False, index=True),
    Column("version_no", Integer, nullable=False),
    Column("run_id", Integer, ForeignKey("runs.id")),
    Column("version_key", String(64)),
    Column("content_hash", String(32)),
    Column("machine_score", Float),
    Column("machine_items", Text),
    Column("final_score", Float),
    Column("replaced_at", String(32), nullable=False),
)

# Bulk per-message tables: clustered by conversation (SQLite WITHOUT ROWID), so opening one
# conversation reads a few adjacent pages whatever the workspace's size.
messages = Table(
    "messages", metadata,
    Column("conversation_id", Integer, primary_key=True),
    Column("seq", Integer, primary_key=True),            # 1-based position in the conversation
    Column("sent_at", String(32), nullable=False),
    Column("sender", String(500)),
    Column("role", String(20)),
    Column("text", Text),
    Column("source_file", Text),
    Column("source_line", Integer),
    sqlite_with_rowid=False,
)

replies = Table(
    "replies", metadata,
    Column("conversation_id", Integer, primary_key=True),
    Column("seq", Integer, primary_key=True),            # = messages.seq of the reply
    Column("agent", String(500)),
    Column("sent_at", String(32)),
    Column("is_auto", Boolean),
    Column("latency_s", Float),
    Column("short_reply", Boolean),
    Column("is_closing", Boolean),
    Column("pushy", Integer), Column("unhelpful", Integer), Column("rude", Integer), Column("overclaim", Integer),
    Column("p_pushy", Float), Column("p_unhelpful", Float), Column("p_rude", Float), Column("p_overclaim", Float),
    Column("tag_words", Text),
    Column("forbidden", Integer),
    Column("forbidden_words", Text),
    sqlite_with_rowid=False,
)

rounds = Table(
    "rounds", metadata,
    Column("conversation_id", Integer, primary_key=True),
    Column("round_index", Integer, primary_key=True),
    Column("agent", String(500)),
    Column("customer", String(500)),
    Column("started_at", String(32)),
    Column("latency_s", Float),
    Column("latency_for_avg_s", Float),
    Column("in_hours", Boolean),
    Column("counted", Boolean),
    Column("answered", Boolean),
    Column("within_3min", Boolean),
    Column("slow", Boolean),
    Column("first_counted", Boolean),
    Column("product_answer_short", Boolean),
    sqlite_with_rowid=False,
)

queue_items = Table(
    "queue_items", metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False, index=True),
    Column("reviewer_id", Integer, ForeignKey("users.id"), index=True),
    Column("period", String(7), nullable=False),
    Column("reasons", Text),
    Column("status", String(20), nullable=False),        # open | done
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(200)),
)

decisions = Table(
    "decisions", metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False, index=True),
    Column("seq", Integer),                  # the reply (messages.seq); NULL = a conversation item
    Column("item", String(60), nullable=False),          # a tag, forbidden, or a rubric count item
    Column("verdict", String(20), nullable=False),       # confirm | reject | add | adjust
    Column("value", Float),                  # adjust: the corrected count
    Column("reviewer_id", Integer, ForeignKey("users.id"), nullable=False),
    Column("reason", Text, nullable=False),
    Column("source", String(20), nullable=False),        # review | appeal | calibration
    Column("appeal_id", Integer),
    Column("calibration_id", Integer),
    Column("machine_value", Float),          # what the machine said when the decision was made
    Column("created_at", String(32), nullable=False),
)

appeals = Table(
    "appeals", metadata,
    Column("id", Integer, primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), nullable=False, index=True),
    Column("filed_by", Integer, ForeignKey("users.id"), nullable=False),
    Column("comment", Text, nullable=False),
    Column("decision_ids", Text),            # JSON list: the decisions the agent disputes
    Column("filed_at", String(32), nullable=False),
    Column("status", String(20), nullable=False),        # pending | upheld | overturned
    Column("decided_by", Integer, ForeignKey("users.id")),
    Column("decided_at", String(32)),
    Column("decision_reason", Text),
    Column("score_before", Float),
    Column("score_after", Float),
)

periods = Table(
    "periods", metadata,
    Column("period", String(7), primary_key=True),
    Column("status", String(20), nullable=False),        # open | closed
    Column("closed_at", String(32)),
    Column("closed_by", String(200)),
    Column("close_reason", Text),
    Column("forced", Boolean, nullable=False, default=False),
    Column("rubric_json", Text),
    Column("model_json", Text),
    Column("open_items_json", Text),
    Column("close_no", Integer, nullable=False, default=0),
)

period_scores = Table(
    "period_scores", metadata,
    Column("id", Integer, primary_key=True),
    Column("period", String(7), nullable=False),
    Column("close_no", Integer, nullable=False),
    Column("agent", String(500), nullable=False),
    Column("service_score", Float),
    Column("conversations", Integer),
    Column("reviewed_conversations", Integer),
    Column("appeals_changed", Integer),
    Column("row_json", Text),                # the whole agents-table row
    UniqueConstraint("period", "close_no", "agent"),
)

events = Table(
    "events", metadata,
    Column("id", Integer, primary_key=True),
    Column("at", String(32), nullable=False),
    Column("actor", String(200)),
    Column("kind", String(40), nullable=False),
    Column("period", String(7)),
    Column("conversation_id", Integer),
    Column("data_json", Text),
    Column("reason", Text),
)
Index("ix_events_conversation", events.c.conversation_id)

workspace_settings = Table(
    "workspace_settings", metadata,
    Column("key", String(100), primary_key=True),
    Column("value", Text, nullable=False),
)

# --- revision 0002: calibration sessions -------------------------------------------------------
calibration_sessions = Table(
    "calibration_sessions", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("period", String(7)),
    Column("created_by", String(200)),
    Column("created_at", String(32), nullable=False),
    Column("status", String(20), nullable=False),        # open | closed
)

calibration_members = Table(
    "calibration_members", metadata,
    Column("session_id", Integer, ForeignKey("calibration_sessions.id"), primary_key=True),
    Column("reviewer_id", Integer, ForeignKey("users.id"), primary_key=True),
)

calibration_items = Table(
    "calibration_items", metadata,
    Column("session_id", Integer, ForeignKey("calibration_sessions.id"), primary_key=True),
    Column("conversation_id", Integer, ForeignKey("conversations.id"), primary_key=True),
)

# --- revision 0003: the model registry (docs/closed-loop.md) ------------------------------------
models = Table(
    "models", metadata,
    Column("id", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False, unique=True),   # of the skops bytes
    Column("name", String(200)),
    Column("status", String(20), nullable=False),        # candidate | active | retired
    Column("data", LargeBinary, nullable=False),         # the model file (skops, never pickle)
    Column("size", Integer, nullable=False),
    Column("parent_id", Integer, ForeignKey("models.id")),   # the active model when it was registered
    Column("parents_json", Text),            # what it was trained from: base corpus, shop labels
    Column("corpus_sha256", String(64)),
    Column("corpus_rows", Integer),
    Column("label_counts_json", Text),       # shop labels per tag {positive, negative}
    Column("describe_json", Text),           # ReplyClassifier.describe()
    Column("evaluation_json", Text),         # the newest `model evaluate` against the active model
    Column("evaluated_at", String(32)),
    Column("created_at", String(32), nullable=False),
    Column("created_by", String(200)),
    Column("promoted_at", String(32)),
    Column("promoted_by", String(200)),
    Column("promote_reason", Text),
    Column("forced", Boolean, nullable=False, default=False),
)
Index("ix_models_status", models.c.status)
