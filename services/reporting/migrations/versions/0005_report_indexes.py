"""read-side indexes that hold everything a report reads (source, day, versions, group, queue, agent and the counts),
so a period is one range of an index; the worst calls of a period from the evaluation rows' index alone

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
WORST = ("source", "day", "scorecard_id", "scorecard_version", "auto_failed", "percentage", "started_at")


def upgrade() -> None:
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
