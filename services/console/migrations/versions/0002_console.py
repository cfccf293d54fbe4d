"""local users, sessions, the call index (facts, transcript text, scores)

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

from callqa.db import UTCDateTime

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "console_users",
        sa.Column("username", sa.String(100), primary_key=True),
        sa.Column("password_hash", sa.String(200), nullable=False),
        sa.Column("roles", sa.String(300), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
    )
    op.create_table(
        "console_sessions",
        sa.Column("id", sa.String(64), primary_key=True),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("roles", sa.String(300), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("via", sa.String(20), nullable=False),
        sa.Column("created_at", UTCDateTime(), nullable=False),
        sa.Column("expires_at", UTCDateTime(), nullable=False),
    )
    op.create_index("ix_console_sessions_expires_at", "console_sessions", ["expires_at"])
    op.create_table(
        "console_calls",
        sa.Column("recording_id", sa.String(64), primary_key=True),
        sa.Column("call_id", sa.String(200), nullable=True),
        sa.Column("agent_id", sa.String(100), nullable=False),
        sa.Column("group", sa.String(100), nullable=True),
        sa.Column("queue", sa.String(100), nullable=True),
        sa.Column("started_at", UTCDateTime(), nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("tags", sa.String(2000), nullable=False),
        sa.Column("language", sa.String(20), nullable=True),
        sa.Column("transcript_version", sa.String(200), nullable=True),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=True),
        sa.Column("purged", sa.Boolean(), nullable=False),
    )
    op.create_index("ix_console_calls_agent_id", "console_calls", ["agent_id"])
    op.create_index("ix_console_calls_started_at", "console_calls", ["started_at"])
    op.create_table(
        "console_scores",
        sa.Column("evaluation_id", sa.String(64), primary_key=True),
        sa.Column("recording_id", sa.String(64), nullable=False),
        sa.Column("scorecard_id", sa.String(100), nullable=False),
        sa.Column("scorecard_version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("percentage", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("failed_items", sa.String(4000), nullable=False),
    )
    op.create_index("ix_console_scores_recording_id", "console_scores", ["recording_id"])


def downgrade() -> None:
    for table in ("console_scores", "console_calls", "console_sessions", "console_users"):
        op.drop_table(table)
