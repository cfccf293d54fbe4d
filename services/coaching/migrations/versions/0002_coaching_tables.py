"""coaching tables: evaluations and versions, sampling plans, runs and picks, review assignments,
appeals, timeline, item agreement, calibration sessions and scores, purged recordings

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)


revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "appeals",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("evaluation_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=100), nullable=False),
        sa.Column("round", sa.Integer(), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("assignee", sa.String(length=200), nullable=True),
        sa.Column("raised_at", TS, nullable=False),
        sa.Column("resolved_by", sa.String(length=200), nullable=True),
        sa.Column("resolved_at", TS, nullable=True),
        sa.Column("resolutions", sa.JSON(), nullable=False),
        sa.Column("result_version", sa.Integer(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_appeals_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appeals_assignee"), ["assignee"], unique=False)
        batch_op.create_index(batch_op.f("ix_appeals_evaluation_id"), ["evaluation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_appeals_status"), ["status"], unique=False)

    op.create_table(
        "calibration_scores",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("session_id", sa.String(length=36), nullable=False),
        sa.Column("evaluation_id", sa.String(length=36), nullable=False),
        sa.Column("rater_id", sa.String(length=200), nullable=False),
        sa.Column("is_reference", sa.Boolean(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("session_id", "evaluation_id", "rater_id", name="uq_calibration_score"),
    )
    with op.batch_alter_table("calibration_scores", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calibration_scores_evaluation_id"), ["evaluation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_calibration_scores_session_id"), ["session_id"], unique=False)

    op.create_table(
        "calibration_sessions",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("lead_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("evaluation_ids", sa.JSON(), nullable=False),
        sa.Column("analysts", sa.JSON(), nullable=False),
        sa.Column("submitted", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("calibration_sessions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_calibration_sessions_lead_id"), ["lead_id"], unique=False)

    op.create_table(
        "evaluation_versions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("cause", sa.String(length=20), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("total_points", sa.Float(), nullable=False),
        sa.Column("max_points", sa.Float(), nullable=False),
        sa.Column("percentage", sa.Float(), nullable=False),
        sa.Column("passed", sa.Boolean(), nullable=False),
        sa.Column("auto_failed", sa.Boolean(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("author", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("released_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("evaluation_id", "version", name="uq_evaluation_version"),
    )
    with op.batch_alter_table("evaluation_versions", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evaluation_versions_evaluation_id"), ["evaluation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evaluation_versions_released_at"), ["released_at"], unique=False)

    op.create_table(
        "evaluations",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=100), nullable=False),
        sa.Column("group", sa.String(length=100), nullable=True),
        sa.Column("queue", sa.String(length=100), nullable=True),
        sa.Column("direction", sa.String(length=20), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("scorecard_id", sa.String(length=100), nullable=False),
        sa.Column("scorecard_version", sa.Integer(), nullable=False),
        sa.Column("transcript_version", sa.String(length=200), nullable=False),
        sa.Column("pass_threshold", sa.Float(), nullable=True),
        sa.Column("auto_percentage", sa.Float(), nullable=False),
        sa.Column("auto_failed", sa.Boolean(), nullable=False),
        sa.Column("failed_items", sa.JSON(), nullable=False),
        sa.Column("latest_version", sa.Integer(), nullable=False),
        sa.Column("picked", sa.Boolean(), nullable=False),
        sa.Column("acknowledged_version", sa.Integer(), nullable=True),
        sa.Column("appeal_rounds", sa.Integer(), nullable=False),
        sa.Column("evidence_purged", sa.Boolean(), nullable=False),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_evaluations_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evaluations_auto_failed"), ["auto_failed"], unique=False)
        batch_op.create_index(batch_op.f("ix_evaluations_group"), ["group"], unique=False)
        batch_op.create_index(batch_op.f("ix_evaluations_picked"), ["picked"], unique=False)
        batch_op.create_index(batch_op.f("ix_evaluations_queue"), ["queue"], unique=False)
        batch_op.create_index(batch_op.f("ix_evaluations_recording_id"), ["recording_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evaluations_scorecard_id"), ["scorecard_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_evaluations_started_at"), ["started_at"], unique=False)

    op.create_table(
        "item_agreement",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.String(length=36), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("scorecard_id", sa.String(length=100), nullable=False),
        sa.Column("scorecard_version", sa.Integer(), nullable=False),
        sa.Column("item_id", sa.String(length=100), nullable=False),
        sa.Column("auto_result", sa.String(length=20), nullable=False),
        sa.Column("human_result", sa.String(length=20), nullable=False),
        sa.Column("agreed", sa.Boolean(), nullable=False),
        sa.Column("reviewer_id", sa.String(length=200), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("evaluation_id", "version", "item_id", name="uq_item_agreement"),
    )
    with op.batch_alter_table("item_agreement", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_item_agreement_evaluation_id"), ["evaluation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_item_agreement_scorecard_id"), ["scorecard_id"], unique=False)

    op.create_table(
        "purged_recordings",
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("purged_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("recording_id"),
    )
    op.create_table(
        "review_assignments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("evaluation_id", sa.String(length=36), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=True),
        sa.Column("reviewer_id", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("opened_at", TS, nullable=True),
        sa.Column("submitted_at", TS, nullable=True),
        sa.Column("decisions", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("result_version", sa.Integer(), nullable=True),
        sa.Column("cancel_reason", sa.String(length=500), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("review_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_review_assignments_evaluation_id"), ["evaluation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_assignments_reviewer_id"), ["reviewer_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_assignments_run_id"), ["run_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_review_assignments_status"), ["status"], unique=False)

    op.create_table(
        "sampling_picks",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("evaluation_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=100), nullable=False),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("method", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(length=300), nullable=False),
        sa.Column("reviewer_id", sa.String(length=200), nullable=True),
        sa.Column("assignment_id", sa.String(length=36), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("run_id", "evaluation_id", name="uq_sampling_pick"),
    )
    with op.batch_alter_table("sampling_picks", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sampling_picks_run_id"), ["run_id"], unique=False)

    op.create_table(
        "sampling_plans",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.String(length=100), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("document", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "version", name="uq_sampling_plan_version"),
    )
    with op.batch_alter_table("sampling_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sampling_plans_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "sampling_runs",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("plan_id", sa.String(length=100), nullable=False),
        sa.Column("plan_version", sa.Integer(), nullable=False),
        sa.Column("seed", sa.BigInteger(), nullable=False),
        sa.Column("period_start", TS, nullable=False),
        sa.Column("period_end", TS, nullable=False),
        sa.Column("population_size", sa.Integer(), nullable=False),
        sa.Column("size_cap", sa.Integer(), nullable=True),
        sa.Column("quota", sa.JSON(), nullable=True),
        sa.Column("picks", sa.Integer(), nullable=False),
        sa.Column("unassigned", sa.Integer(), nullable=False),
        sa.Column("reviewers", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sampling_runs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sampling_runs_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_sampling_runs_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "timeline",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("evaluation_id", sa.String(length=36), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("at", TS, nullable=False),
        sa.Column("actor", sa.String(length=200), nullable=False),
        sa.Column("action", sa.String(length=40), nullable=False),
        sa.Column("version", sa.Integer(), nullable=True),
        sa.Column("comment", sa.Text(), nullable=True),
        sa.Column("detail", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("timeline", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_timeline_evaluation_id"), ["evaluation_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_timeline_recording_id"), ["recording_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("timeline", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_timeline_recording_id"))
        batch_op.drop_index(batch_op.f("ix_timeline_evaluation_id"))

    op.drop_table("timeline")
    with op.batch_alter_table("sampling_runs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sampling_runs_plan_id"))
        batch_op.drop_index(batch_op.f("ix_sampling_runs_created_at"))

    op.drop_table("sampling_runs")
    with op.batch_alter_table("sampling_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sampling_plans_plan_id"))

    op.drop_table("sampling_plans")
    with op.batch_alter_table("sampling_picks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sampling_picks_run_id"))

    op.drop_table("sampling_picks")
    with op.batch_alter_table("review_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_review_assignments_status"))
        batch_op.drop_index(batch_op.f("ix_review_assignments_run_id"))
        batch_op.drop_index(batch_op.f("ix_review_assignments_reviewer_id"))
        batch_op.drop_index(batch_op.f("ix_review_assignments_evaluation_id"))

    op.drop_table("review_assignments")
    op.drop_table("purged_recordings")
    with op.batch_alter_table("item_agreement", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_item_agreement_scorecard_id"))
        batch_op.drop_index(batch_op.f("ix_item_agreement_evaluation_id"))

    op.drop_table("item_agreement")
    with op.batch_alter_table("evaluations", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluations_started_at"))
        batch_op.drop_index(batch_op.f("ix_evaluations_scorecard_id"))
        batch_op.drop_index(batch_op.f("ix_evaluations_recording_id"))
        batch_op.drop_index(batch_op.f("ix_evaluations_queue"))
        batch_op.drop_index(batch_op.f("ix_evaluations_picked"))
        batch_op.drop_index(batch_op.f("ix_evaluations_group"))
        batch_op.drop_index(batch_op.f("ix_evaluations_auto_failed"))
        batch_op.drop_index(batch_op.f("ix_evaluations_agent_id"))

    op.drop_table("evaluations")
    with op.batch_alter_table("evaluation_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_versions_released_at"))
        batch_op.drop_index(batch_op.f("ix_evaluation_versions_evaluation_id"))

    op.drop_table("evaluation_versions")
    with op.batch_alter_table("calibration_sessions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calibration_sessions_lead_id"))

    op.drop_table("calibration_sessions")
    with op.batch_alter_table("calibration_scores", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_calibration_scores_session_id"))
        batch_op.drop_index(batch_op.f("ix_calibration_scores_evaluation_id"))

    op.drop_table("calibration_scores")
    with op.batch_alter_table("appeals", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_appeals_status"))
        batch_op.drop_index(batch_op.f("ix_appeals_evaluation_id"))
        batch_op.drop_index(batch_op.f("ix_appeals_assignee"))
        batch_op.drop_index(batch_op.f("ix_appeals_agent_id"))

    op.drop_table("appeals")
