"""Calibration sessions, and a display name for users.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-30
"""
import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("display_name", sa.String(200)))
    op.create_table(
        "calibration_sessions",
        sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(200), nullable=False),
        sa.Column("period", sa.String(7)), sa.Column("created_by", sa.String(200)),
        sa.Column("created_at", sa.String(32), nullable=False), sa.Column("status", sa.String(20), nullable=False),
    )
    op.create_table(
        "calibration_members",
        sa.Column("session_id", sa.Integer, sa.ForeignKey("calibration_sessions.id"), primary_key=True),
        sa.Column("reviewer_id", sa.Integer, sa.ForeignKey("users.id"), primary_key=True),
    )
    op.create_table(
        "calibration_items",
        sa.Column("session_id", sa.Integer, sa.ForeignKey("calibration_sessions.id"), primary_key=True),
        sa.Column("conversation_id", sa.Integer, sa.ForeignKey("conversations.id"), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("calibration_items")
    op.drop_table("calibration_members")
    op.drop_table("calibration_sessions")
    with op.batch_alter_table("users") as batch:
        batch.drop_column("display_name")
