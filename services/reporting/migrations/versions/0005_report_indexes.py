"""read-side indexes that hold everything a report reads (source, day, versions, group, queue, agent and the counts),
so a period is one range of an index; the worst calls of a period from the evaluation rows' index alone; the indexes
that repeat the start of a unique key go (recording_id of the evaluations, day of the cells): less to write per call

Revision ID: 0005
Revises: 0004
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

REPORT_KEY = ("source", "day", "scorecard_id", "scorecard_version", "group", "queue", "agent_id")
TALLIES = ("evaluations", "passed", "auto_failed", "score_centi", "failed_a", "failed_b", "failed_c")
ITEM_TALLIES = ("applicable", "failed", "not_applicable", "compared", "agreed", "auto_stricter", "auto_lenient")
WORST = ("source", "day", "scorecard_id", "scorecard_version", "auto_failed", "percentage", "started_at", "id")


# (index, table, column) that the unique keys starting with the same column make redundant
REDUNDANT = (
    ("ix_report_evaluations_recording_id", "report_evaluations", "recording_id"),
    ("ix_evaluation_rollups_day", "evaluation_rollups", "day"),
    ("ix_item_rollups_day", "item_rollups", "day"),
)


def upgrade() -> None:
    for name, table, _ in REDUNDANT:
        op.drop_index(name, table)
    op.drop_index("ix_report_evaluations_day_group", "report_evaluations")
    op.drop_index("ix_evaluation_rollups_source_day", "evaluation_rollups")
    op.drop_index("ix_item_rollups_source_day", "item_rollups")
    op.create_index("ix_report_evaluations_report", "report_evaluations", list(WORST))
    op.create_index("ix_evaluation_rollups_report", "evaluation_rollups", [*REPORT_KEY, *TALLIES])
    op.create_index(
        "ix_item_rollups_report", "item_rollups", [*REPORT_KEY, "item_id", "section", "severity", *ITEM_TALLIES]
    )


def downgrade() -> None:
    op.drop_index("ix_item_rollups_report", "item_rollups")
    op.drop_index("ix_evaluation_rollups_report", "evaluation_rollups")
    op.drop_index("ix_report_evaluations_report", "report_evaluations")
    op.create_index("ix_item_rollups_source_day", "item_rollups", ["source", "day"])
    op.create_index("ix_evaluation_rollups_source_day", "evaluation_rollups", ["source", "day"])
    op.create_index("ix_report_evaluations_day_group", "report_evaluations", ["day", "group"])
    for name, table, column in REDUNDANT:
        op.create_index(name, table, [column])
