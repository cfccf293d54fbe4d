"""evaluations, rollups, purged recordings, report runs, schedules, download audit

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
KEY = ("day", "agent_id", "group", "queue", "scorecard_id", "scorecard_version", "source")


def key_columns() -> list[sa.Column[object]]:
    return [
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("day", sa.Date(), nullable=False, index=True),
        sa.Column("agent_id", sa.String(100), nullable=False),
        sa.Column("group", sa.String(100), nullable=False),
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("scorecard_id", sa.String(100), nullable=False),
        sa.Column("scorecard_version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(20), nullable=False),
    ]


def upgrade() -> None:
    op.create_table(
        "report_evaluations",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("evaluation_id", sa.String(64), nullable=False),
        sa.Column("recording_id", sa.String(64), nullable=False, index=True),
        sa.Column("source", sa.String(20), nullable=False),
        sa.Column("reviewer", sa.String(200), nullable=False),
        sa.Column("agent_id", sa.String(100), nullable=False, index=True),
        sa.Column("group", sa.String(100), nullable=False),
        sa.Column("queue", sa.String(100), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("scorecard_id", sa.String(100), nullable=False),
        sa.Column("scorecard_version", sa.Integer(), nullable=False),
        sa.Column("transcript_version", sa.String(200), nullable=False),
        sa.Column("percentage", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("auto_failed", sa.Boolean(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("text_purged", sa.Boolean(), nullable=False),
        sa.UniqueConstraint(
            "recording_id", "scorecard_id", "scorecard_version", "source", name="uq_evaluation_identity"
        ),
    )
    op.create_index("ix_report_evaluations_day_group", "report_evaluations", ["day", "group"])
    op.create_table(
        "evaluation_rollups",
        *key_columns(),
        *[
            sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
            for name in ("evaluations", "passed", "auto_failed", "score_centi", "failed_a", "failed_b", "failed_c")
        ],
        sa.UniqueConstraint(*KEY, name="uq_evaluation_rollup"),
    )
    op.create_table(
        "item_rollups",
        *key_columns(),
        sa.Column("item_id", sa.String(100), nullable=False),
        sa.Column("section", sa.String(100), nullable=False),
        sa.Column("severity", sa.String(1), nullable=False),
        *[
            sa.Column(name, sa.BigInteger(), nullable=False, server_default="0")
            for name in ("applicable", "failed", "not_applicable")
        ],
        sa.UniqueConstraint(*KEY, "item_id", "section", "severity", name="uq_item_rollup"),
    )
    op.create_table(
        "purged_recordings",
        sa.Column("recording_id", sa.String(64), primary_key=True),
        sa.Column("reason", sa.String(50), nullable=False),
        sa.Column("purged_at", TS, nullable=False),
    )
    op.create_table(
        "report_runs",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("kind", sa.String(20), nullable=False, index=True),
        sa.Column("period_first", sa.Date(), nullable=False),
        sa.Column("period_last", sa.Date(), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(20), nullable=False),
        sa.Column("result", sa.JSON()),
        sa.Column("error", sa.String(2000)),
        sa.Column("agent_id", sa.String(100), index=True),
        sa.Column("requested_by", sa.String(200), nullable=False),
        sa.Column("schedule_id", sa.String(36), index=True),
        sa.Column("rerun_of", sa.String(36)),
        sa.Column("delivery_status", sa.String(20)),
        sa.Column("delivery_error", sa.String(2000)),
        sa.Column("created_at", TS, nullable=False, index=True),
    )
    op.create_table(
        "schedules",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("kind", sa.String(20), nullable=False),
        sa.Column("at_time", sa.String(5), nullable=False),
        sa.Column("filters", sa.JSON(), nullable=False),
        sa.Column("recipients", sa.JSON(), nullable=False),
        sa.Column("formats", sa.JSON(), nullable=False),
        sa.Column("next_run_at", TS, nullable=False, index=True),
        sa.Column("created_by", sa.String(200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
    )
    op.create_table(
        "download_audit",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("run_id", sa.String(36), nullable=False, index=True),
        sa.Column("format", sa.String(10), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("at", TS, nullable=False, index=True),
    )


def downgrade() -> None:
    for table in (
        "download_audit",
        "schedules",
        "report_runs",
        "purged_recordings",
        "item_rollups",
        "evaluation_rollups",
        "report_evaluations",
    ):
        op.drop_table(table)
