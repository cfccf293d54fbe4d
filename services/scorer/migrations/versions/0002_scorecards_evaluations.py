"""scorecards, transcripts seen, evaluations, re-score jobs

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "scorecard_versions",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("scorecard_id", sa.String(100), nullable=False, index=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("language", sa.String(20), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint("scorecard_id", "version", name="uq_scorecard_version"),
    )
    op.create_table(
        "transcripts_seen",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("recording_id", sa.String(36), nullable=False, index=True),
        sa.Column("transcript_version", sa.String(200), nullable=False),
        sa.Column("transcript_key", sa.String(300)),
        sa.Column("language", sa.String(20), nullable=False),
        sa.Column("agent_id", sa.String(100), nullable=False, index=True),
        sa.Column("group", sa.String(100), index=True),
        sa.Column("queue", sa.String(100), index=True),
        sa.Column("started_at", TS, nullable=False, index=True),
        sa.UniqueConstraint("recording_id", "transcript_version", name="uq_transcript_seen"),
    )
    op.create_table(
        "evaluations",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("recording_id", sa.String(36), nullable=False, index=True),
        sa.Column("agent_id", sa.String(100), nullable=False, index=True),
        sa.Column("group", sa.String(100), index=True),
        sa.Column("queue", sa.String(100), index=True),
        sa.Column("started_at", TS, nullable=False, index=True),
        sa.Column("scorecard_id", sa.String(100), nullable=False, index=True),
        sa.Column("scorecard_version", sa.Integer(), nullable=False),
        sa.Column("transcript_version", sa.String(200), nullable=False),
        sa.Column("total_points", sa.Float(), nullable=False),
        sa.Column("max_points", sa.Float(), nullable=False),
        sa.Column("percentage", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False, index=True),
        sa.Column("auto_failed", sa.Boolean(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("evidence_purged", sa.Boolean(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.UniqueConstraint(
            "recording_id", "scorecard_id", "scorecard_version", "transcript_version", name="uq_evaluation_identity"
        ),
    )
    op.create_table(
        "rescore_jobs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("scorecard_id", sa.String(100), nullable=False),
        sa.Column("scorecard_version", sa.Integer(), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("done", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("error", sa.String(1000)),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("finished_at", TS),
    )


def downgrade() -> None:
    for table in ("rescore_jobs", "evaluations", "transcripts_seen", "scorecard_versions"):
        op.drop_table(table)
