"""coaching plans (issue 16): problem analyses, improvement plans, training requests, transcript references,
the training library, learning assignments and learning records

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)


revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "improvement_plans",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=100), nullable=False),
        sa.Column("group", sa.String(length=100), nullable=True),
        sa.Column("coach_id", sa.String(length=200), nullable=False),
        sa.Column("scorecard_id", sa.String(length=100), nullable=False),
        sa.Column("focus_items", sa.JSON(), nullable=False),
        sa.Column("goal_pass_rate", sa.Float(), nullable=False),
        sa.Column("goal_calls", sa.Integer(), nullable=True),
        sa.Column("goal_days", sa.Integer(), nullable=True),
        sa.Column("actions", sa.JSON(), nullable=False),
        sa.Column("example_evaluation_ids", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("score_source", sa.String(length=20), nullable=False),
        sa.Column("baseline_days", sa.Integer(), nullable=False),
        sa.Column("max_window_days", sa.Integer(), nullable=False),
        sa.Column("follow_up_every_days", sa.Integer(), nullable=True),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("analysis_id", sa.String(length=36), nullable=True),
        sa.Column("problem_id", sa.String(length=300), nullable=True),
        sa.Column("activated_at", TS, nullable=True),
        sa.Column("coached_at", TS, nullable=True),
        sa.Column("acknowledged_at", TS, nullable=True),
        sa.Column("acknowledgement_comment", sa.Text(), nullable=True),
        sa.Column("verdict", sa.String(length=20), nullable=True),
        sa.Column("goal_met", sa.Boolean(), nullable=True),
        sa.Column("evidence", sa.JSON(), nullable=True),
        sa.Column("recurrence", sa.JSON(), nullable=True),
        sa.Column("reminders", sa.Integer(), nullable=False),
        sa.Column("reassignments", sa.Integer(), nullable=False),
        sa.Column("cancel_reason", sa.String(length=2000), nullable=True),
        sa.Column("last_activity_at", TS, nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("closed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("improvement_plans", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_improvement_plans_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_improvement_plans_coach_id"), ["coach_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_improvement_plans_created_at"), ["created_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_improvement_plans_group"), ["group"], unique=False)
        batch_op.create_index(batch_op.f("ix_improvement_plans_status"), ["status"], unique=False)

    op.create_table(
        "learning_assignments",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("library_item_id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=100), nullable=False),
        sa.Column("plan_id", sa.String(length=36), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("due_at", TS, nullable=True),
        sa.Column("assigned_by", sa.String(length=200), nullable=False),
        sa.Column("assigned_at", TS, nullable=False),
        sa.Column("completed_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("learning_assignments", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_learning_assignments_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_learning_assignments_library_item_id"), ["library_item_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_learning_assignments_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "learning_records",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("agent_id", sa.String(length=100), nullable=False),
        sa.Column("day", sa.Date(), nullable=False),
        sa.Column("plan_id", sa.String(length=36), nullable=True),
        sa.Column("library_item_id", sa.String(length=36), nullable=True),
        sa.Column("did_before", sa.Text(), nullable=False),
        sa.Column("learned", sa.Text(), nullable=False),
        sa.Column("will_improve", sa.Text(), nullable=False),
        sa.Column("points_this_week", sa.JSON(), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("learning_records", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_learning_records_agent_id"), ["agent_id"], unique=False)
        batch_op.create_index(batch_op.f("ix_learning_records_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "library_items",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("evaluation_id", sa.String(length=36), nullable=True),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("title", sa.String(length=200), nullable=False),
        sa.Column("purpose", sa.Text(), nullable=False),
        sa.Column("summary", sa.Text(), nullable=True),
        sa.Column("strengths", sa.JSON(), nullable=False),
        sa.Column("weaknesses", sa.JSON(), nullable=False),
        sa.Column("breakpoints", sa.JSON(), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("updated_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("library_items", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_library_items_kind"), ["kind"], unique=False)
        batch_op.create_index(batch_op.f("ix_library_items_recording_id"), ["recording_id"], unique=False)

    op.create_table(
        "problem_analyses",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("source", sa.String(length=20), nullable=False),
        sa.Column("period_start", TS, nullable=False),
        sa.Column("period_end", TS, nullable=False),
        sa.Column("scope", sa.JSON(), nullable=False),
        sa.Column("params", sa.JSON(), nullable=False),
        sa.Column("result", sa.JSON(), nullable=False),
        sa.Column("created_by", sa.String(length=200), nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("problem_analyses", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_problem_analyses_created_at"), ["created_at"], unique=False)

    op.create_table(
        "training_requests",
        sa.Column("id", sa.String(length=36), nullable=False),
        sa.Column("group", sa.String(length=100), nullable=False),
        sa.Column("scorecard_id", sa.String(length=100), nullable=False),
        sa.Column("items", sa.JSON(), nullable=False),
        sa.Column("analysis_id", sa.String(length=36), nullable=True),
        sa.Column("problem_id", sa.String(length=300), nullable=True),
        sa.Column("statistics", sa.JSON(), nullable=False),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.Column("trainer_id", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=20), nullable=False),
        sa.Column("score_source", sa.String(length=20), nullable=False),
        sa.Column("baseline_days", sa.Integer(), nullable=False),
        sa.Column("follow_up_days", sa.Integer(), nullable=False),
        sa.Column("scheduled_for", TS, nullable=True),
        sa.Column("delivered_at", TS, nullable=True),
        sa.Column("recheck", sa.JSON(), nullable=True),
        sa.Column("requested_by", sa.String(length=200), nullable=False),
        sa.Column("requested_at", TS, nullable=False),
        sa.Column("verified_at", TS, nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("training_requests", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_training_requests_group"), ["group"], unique=False)
        batch_op.create_index(batch_op.f("ix_training_requests_requested_at"), ["requested_at"], unique=False)
        batch_op.create_index(batch_op.f("ix_training_requests_status"), ["status"], unique=False)
        batch_op.create_index(batch_op.f("ix_training_requests_trainer_id"), ["trainer_id"], unique=False)

    op.create_table(
        "transcripts",
        sa.Column("recording_id", sa.String(length=36), nullable=False),
        sa.Column("model_version", sa.String(length=200), nullable=False),
        sa.Column("transcript_key", sa.String(length=500), nullable=False),
        sa.Column("redacted_audio_key", sa.String(length=500), nullable=True),
        sa.Column("language", sa.String(length=20), nullable=False),
        sa.Column("agent_id", sa.String(length=100), nullable=False),
        sa.Column("group", sa.String(length=100), nullable=True),
        sa.Column("started_at", TS, nullable=False),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("first_request", sa.Text(), nullable=True),
        sa.Column("first_answer", sa.Text(), nullable=True),
        sa.Column("received_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("recording_id"),
    )
    with op.batch_alter_table("transcripts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_transcripts_agent_id"), ["agent_id"], unique=False)


def downgrade() -> None:
    with op.batch_alter_table("transcripts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_transcripts_agent_id"))

    op.drop_table("transcripts")
    with op.batch_alter_table("training_requests", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_training_requests_trainer_id"))
        batch_op.drop_index(batch_op.f("ix_training_requests_status"))
        batch_op.drop_index(batch_op.f("ix_training_requests_requested_at"))
        batch_op.drop_index(batch_op.f("ix_training_requests_group"))

    op.drop_table("training_requests")
    with op.batch_alter_table("problem_analyses", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_problem_analyses_created_at"))

    op.drop_table("problem_analyses")
    with op.batch_alter_table("library_items", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_library_items_recording_id"))
        batch_op.drop_index(batch_op.f("ix_library_items_kind"))

    op.drop_table("library_items")
    with op.batch_alter_table("learning_records", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_learning_records_plan_id"))
        batch_op.drop_index(batch_op.f("ix_learning_records_agent_id"))

    op.drop_table("learning_records")
    with op.batch_alter_table("learning_assignments", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_learning_assignments_plan_id"))
        batch_op.drop_index(batch_op.f("ix_learning_assignments_library_item_id"))
        batch_op.drop_index(batch_op.f("ix_learning_assignments_agent_id"))

    op.drop_table("learning_assignments")
    with op.batch_alter_table("improvement_plans", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_improvement_plans_status"))
        batch_op.drop_index(batch_op.f("ix_improvement_plans_group"))
        batch_op.drop_index(batch_op.f("ix_improvement_plans_created_at"))
        batch_op.drop_index(batch_op.f("ix_improvement_plans_coach_id"))
        batch_op.drop_index(batch_op.f("ix_improvement_plans_agent_id"))

    op.drop_table("improvement_plans")
