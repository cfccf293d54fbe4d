"""coaching scheduler: periodic tasks (a lease per task), scheduled releases stored as releases, review reminders
and reassignments counted, plan revisions (If-Match) and check-ins, the materialised FAQ

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

TS = sa.DateTime(timezone=True)


revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "faq_entries",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.Column("question", sa.Text(), nullable=False),
        sa.Column("question_recording_id", sa.String(length=36), nullable=False),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.Column("examples", sa.JSON(), nullable=False),
        sa.Column("answers", sa.JSON(), nullable=False),
        sa.Column("recording_ids", sa.JSON(), nullable=False),
        sa.Column("computed_at", TS, nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "faq_state",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("changed_at", TS, nullable=False),
        sa.Column("computed_at", TS, nullable=True),
        sa.Column("calls", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    # the FAQ's one state row, there from the start: writers lock it to take turns (never computed yet: stale)
    op.bulk_insert(
        sa.table(
            "faq_state", sa.column("id", sa.Integer()), sa.column("changed_at", TS), sa.column("calls", sa.Integer())
        ),
        [{"id": 1, "changed_at": datetime.now(UTC), "calls": 0}],
    )
    op.create_table(
        "plan_check_ins",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("plan_id", sa.String(length=36), nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("due_at", TS, nullable=False),
        sa.Column("created_at", TS, nullable=False),
        sa.Column("figures", sa.JSON(), nullable=False),
        sa.Column("done_at", TS, nullable=True),
        sa.Column("done_by", sa.String(length=200), nullable=True),
        sa.Column("notes", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("plan_id", "number", name="uq_plan_check_in"),
    )
    with op.batch_alter_table("plan_check_ins", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_plan_check_ins_plan_id"), ["plan_id"], unique=False)

    op.create_table(
        "scheduled_tasks",
        sa.Column("name", sa.String(length=100), nullable=False),
        sa.Column("next_run_at", TS, nullable=False),
        sa.Column("lease_owner", sa.String(length=200), nullable=True),
        sa.Column("lease_until", TS, nullable=True),
        sa.Column("runs", sa.Integer(), nullable=False),
        sa.Column("last_started_at", TS, nullable=True),
        sa.Column("last_finished_at", TS, nullable=True),
        sa.Column("last_result", sa.JSON(), nullable=True),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.PrimaryKeyConstraint("name"),
    )
    with op.batch_alter_table("evaluation_versions", schema=None) as batch_op:
        batch_op.add_column(sa.Column("release_scheduled_at", TS, nullable=True))
        batch_op.add_column(sa.Column("released_by", sa.String(length=200), nullable=True))
        batch_op.create_index(
            batch_op.f("ix_evaluation_versions_release_scheduled_at"), ["release_scheduled_at"], unique=False
        )

    # Releases used to be a future `released_at` evaluated on read: such a version is now a scheduled release
    # (the periodic task releases it and stores when); past ones were released by their author.
    versions = sa.table(
        "evaluation_versions",
        sa.column("id", sa.Integer()),
        sa.column("author", sa.String()),
        sa.column("released_at", TS),
        sa.column("release_scheduled_at", TS),
        sa.column("released_by", sa.String()),
    )
    connection = op.get_bind()
    now = datetime.now(UTC)
    for version_id, author, released_at in connection.execute(
        sa.select(versions.c.id, versions.c.author, versions.c.released_at).where(versions.c.released_at.is_not(None))
    ).all():
        moment = released_at if isinstance(released_at, datetime) else datetime.fromisoformat(str(released_at))
        moment = moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment
        scheduled = {"release_scheduled_at": released_at, "released_at": None}
        change = scheduled if moment > now else {"released_by": author}
        connection.execute(sa.update(versions).where(versions.c.id == version_id).values(**change))

    with op.batch_alter_table("improvement_plans", schema=None) as batch_op:
        batch_op.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))

    with op.batch_alter_table("review_assignments", schema=None) as batch_op:
        batch_op.add_column(sa.Column("reminders", sa.Integer(), nullable=False, server_default="0"))
        batch_op.add_column(sa.Column("last_reminded_at", TS, nullable=True))
        batch_op.add_column(sa.Column("reassignments", sa.Integer(), nullable=False, server_default="0"))


def downgrade() -> None:
    with op.batch_alter_table("review_assignments", schema=None) as batch_op:
        batch_op.drop_column("reassignments")
        batch_op.drop_column("last_reminded_at")
        batch_op.drop_column("reminders")

    with op.batch_alter_table("improvement_plans", schema=None) as batch_op:
        batch_op.drop_column("revision")

    # a scheduled release not yet made goes back to the old shape: a future `released_at`
    versions = sa.table(
        "evaluation_versions",
        sa.column("released_at", TS),
        sa.column("release_scheduled_at", TS),
    )
    op.get_bind().execute(
        sa.update(versions)
        .where(versions.c.released_at.is_(None), versions.c.release_scheduled_at.is_not(None))
        .values(released_at=versions.c.release_scheduled_at)
    )
    with op.batch_alter_table("evaluation_versions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_evaluation_versions_release_scheduled_at"))
        batch_op.drop_column("released_by")
        batch_op.drop_column("release_scheduled_at")

    op.drop_table("scheduled_tasks")
    with op.batch_alter_table("plan_check_ins", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_plan_check_ins_plan_id"))

    op.drop_table("plan_check_ins")
    op.drop_table("faq_state")
    op.drop_table("faq_entries")
