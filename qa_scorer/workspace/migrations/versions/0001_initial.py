"""The first workspace schema: runs, conversations and their messages, review, appeals, periods, events.

Revision ID: 0001
Revises:
Create Date: 2026-11-30

A migration is a frozen snapshot: it spells its tables out instead of importing
``qa_scorer.workspace.schema`` (which always describes the newest revision).
"""
import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

S, T, I, F, B = sa.String, sa.Text, sa.Integer, sa.Float, sa.Boolean


def _col(name, type_, *args, **kw):
    return sa.Column(name, type_, *args, **kw)


def upgrade() -> None:
    op.create_table(
        "users",
        _col("id", I, primary_key=True), _col("name", S(200), nullable=False, unique=True),
        _col("role", S(20), nullable=False), _col("agent", S(500)), _col("password_hash", S(500)),
        _col("active", B, nullable=False), _col("created_at", S(32), nullable=False),
    )
    op.create_table(
        "runs",
        _col("id", I, primary_key=True), _col("started_at", S(32), nullable=False), _col("finished_at", S(32)),
        _col("actor", S(200)), _col("qa_scorer_version", S(40)), _col("version_key", S(64), nullable=False),
        _col("model_json", T), _col("rubric_json", T), _col("settings_json", T), _col("inputs_json", T),
        _col("summary_json", T), _col("status", S(20), nullable=False),
    )
    op.create_table(
        "conversations",
        _col("id", I, primary_key=True), _col("conversation_key", S(300), nullable=False, unique=True),
        _col("shop", S(300)), _col("agent", S(500)), _col("last_agent", S(500)), _col("customer", S(500)),
        _col("started_at", S(32)), _col("ended_at", S(32)), _col("period", S(7), nullable=False),
        _col("messages", I), _col("content_hash", S(32), nullable=False), _col("version_key", S(64), nullable=False),
        _col("version_no", I, nullable=False), _col("run_id", I, sa.ForeignKey("runs.id")),
        _col("facts_json", T, nullable=False), _col("machine_score", F), _col("machine_items", T),
        _col("flagged_replies", I, nullable=False), _col("flag_p_max", F), _col("flag_p_min", F),
        _col("needs_review", B, nullable=False), _col("review_reasons", T), _col("final_score", F),
        _col("final_items", T), _col("auto_failed", B, nullable=False), _col("reviewed", B, nullable=False),
        _col("sample_key", I, nullable=False), _col("row_version", I, nullable=False), _col("updated_at", S(32)),
    )
    op.create_index("ix_conversations_period_agent", "conversations", ["period", "agent"])
    op.create_index("ix_conversations_period_review", "conversations", ["period", "needs_review", "final_score"])
    op.create_index("ix_conversations_period_counts", "conversations", ["period", "agent", "reviewed", "run_id"])
    op.create_index("ix_conversations_period_score", "conversations", ["period", "final_score"])
    op.create_index("ix_conversations_period_sample", "conversations", ["period", "agent", "sample_key"])
    op.create_index("ix_conversations_period_flag", "conversations", ["period", "flag_p_max"])
    op.create_table(
        "conversation_versions",
        _col("id", I, primary_key=True),
        _col("conversation_id", I, sa.ForeignKey("conversations.id"), nullable=False, index=True),
        _col("version_no", I, nullable=False), _col("run_id", I, sa.ForeignKey("runs.id")),
        _col("version_key", S(64)), _col("content_hash", S(32)), _col("machine_score", F),
        _col("machine_items", T), _col("final_score", F), _col("replaced_at", S(32), nullable=False),
    )
    op.create_table(
        "messages",
        _col("conversation_id", I, primary_key=True), _col("seq", I, primary_key=True),
        _col("sent_at", S(32), nullable=False), _col("sender", S(500)), _col("role", S(20)), _col("text", T),
        _col("source_file", T), _col("source_line", I),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "replies",
        _col("conversation_id", I, primary_key=True), _col("seq", I, primary_key=True),
        _col("agent", S(500)), _col("sent_at", S(32)), _col("is_auto", B), _col("latency_s", F),
        _col("short_reply", B), _col("is_closing", B),
        *[_col(t, I) for t in ("pushy", "unhelpful", "rude", "overclaim")],
        *[_col(f"p_{t}", F) for t in ("pushy", "unhelpful", "rude", "overclaim")],
        _col("tag_words", T), _col("forbidden", I), _col("forbidden_words", T),
        sqlite_with_rowid=False,
    )
    op.create_table(
        "rounds",
        _col("conversation_id", I, primary_key=True), _col("round_index", I, primary_key=True),
        _col("agent", S(500)), _col("customer", S(500)), _col("started_at", S(32)), _col("latency_s", F),
        _col("latency_for_avg_s", F),
        *[_col(c, B) for c in ("in_hours", "counted", "answered", "within_3min", "slow", "first_counted",
                               "product_answer_short")],
        sqlite_with_rowid=False,
    )
    op.create_table(
        "queue_items",
        _col("id", I, primary_key=True),
        _col("conversation_id", I, sa.ForeignKey("conversations.id"), nullable=False, index=True),
        _col("reviewer_id", I, sa.ForeignKey("users.id"), index=True), _col("period", S(7), nullable=False),
        _col("reasons", T), _col("status", S(20), nullable=False), _col("created_at", S(32), nullable=False),
        _col("created_by", S(200)),
    )
    op.create_table(
        "decisions",
        _col("id", I, primary_key=True),
        _col("conversation_id", I, sa.ForeignKey("conversations.id"), nullable=False, index=True),
        _col("seq", I), _col("item", S(60), nullable=False), _col("verdict", S(20), nullable=False),
        _col("value", F), _col("reviewer_id", I, sa.ForeignKey("users.id"), nullable=False),
        _col("reason", T, nullable=False), _col("source", S(20), nullable=False), _col("appeal_id", I),
        _col("calibration_id", I), _col("machine_value", F), _col("created_at", S(32), nullable=False),
    )
    op.create_table(
        "appeals",
        _col("id", I, primary_key=True),
        _col("conversation_id", I, sa.ForeignKey("conversations.id"), nullable=False, index=True),
        _col("filed_by", I, sa.ForeignKey("users.id"), nullable=False), _col("comment", T, nullable=False),
        _col("decision_ids", T), _col("filed_at", S(32), nullable=False), _col("status", S(20), nullable=False),
        _col("decided_by", I, sa.ForeignKey("users.id")), _col("decided_at", S(32)), _col("decision_reason", T),
        _col("score_before", F), _col("score_after", F),
    )
    op.create_table(
        "periods",
        _col("period", S(7), primary_key=True), _col("status", S(20), nullable=False), _col("closed_at", S(32)),
        _col("closed_by", S(200)), _col("close_reason", T), _col("forced", B, nullable=False),
        _col("rubric_json", T), _col("model_json", T), _col("open_items_json", T),
        _col("close_no", I, nullable=False),
    )
    op.create_table(
        "period_scores",
        _col("id", I, primary_key=True), _col("period", S(7), nullable=False), _col("close_no", I, nullable=False),
        _col("agent", S(500), nullable=False), _col("service_score", F), _col("conversations", I),
        _col("reviewed_conversations", I), _col("appeals_changed", I), _col("row_json", T),
        sa.UniqueConstraint("period", "close_no", "agent"),
    )
    op.create_table(
        "events",
        _col("id", I, primary_key=True), _col("at", S(32), nullable=False), _col("actor", S(200)),
        _col("kind", S(40), nullable=False), _col("period", S(7)), _col("conversation_id", I),
        _col("data_json", T), _col("reason", T),
    )
    op.create_index("ix_events_conversation", "events", ["conversation_id"])
    op.create_table(
        "workspace_settings",
        _col("key", S(100), primary_key=True), _col("value", T, nullable=False),
    )


def downgrade() -> None:
    for name in ("workspace_settings", "events", "period_scores", "periods", "appeals", "decisions",
                 "queue_items", "rounds", "replies", "messages", "conversation_versions", "conversations",
                 "runs", "users"):
        op.drop_table(name)
