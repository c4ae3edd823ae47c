"""The model registry (candidate / active / retired reply models with their evaluation).

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-01

A migration is a frozen snapshot: it spells its tables out instead of importing
``qa_scorer.workspace.schema`` (which always describes the newest revision).
"""
import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "models",
        sa.Column("id", sa.Integer, primary_key=True),
        sa.Column("sha256", sa.String(64), nullable=False, unique=True),
        sa.Column("name", sa.String(200)),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("data", sa.LargeBinary, nullable=False),
        sa.Column("size", sa.Integer, nullable=False),
        sa.Column("parent_id", sa.Integer, sa.ForeignKey("models.id")),
        sa.Column("parents_json", sa.Text),
        sa.Column("corpus_sha256", sa.String(64)),
        sa.Column("corpus_rows", sa.Integer),
        sa.Column("label_counts_json", sa.Text),
        sa.Column("describe_json", sa.Text),
        sa.Column("evaluation_json", sa.Text),
        sa.Column("evaluated_at", sa.String(32)),
        sa.Column("created_at", sa.String(32), nullable=False),
        sa.Column("created_by", sa.String(200)),
        sa.Column("promoted_at", sa.String(32)),
        sa.Column("promoted_by", sa.String(200)),
        sa.Column("promote_reason", sa.Text),
        sa.Column("forced", sa.Boolean, nullable=False),
    )
    op.create_index("ix_models_status", "models", ["status"])


def downgrade() -> None:
    op.drop_index("ix_models_status", "models")
    op.drop_table("models")
