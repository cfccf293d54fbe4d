"""human versions (evaluation.reviewed): revision and cause of an evaluation, auto-scorer agreement per item;
report types; the groups a run is confined to

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

AGREEMENT = ("compared", "agreed", "auto_stricter", "auto_lenient")


def upgrade() -> None:
    with op.batch_alter_table("report_evaluations") as table:
        table.add_column(sa.Column("revision", sa.Integer(), nullable=False, server_default="0"))
        table.add_column(sa.Column("cause", sa.String(20), nullable=False, server_default=""))
    with op.batch_alter_table("item_rollups") as table:
        for name in AGREEMENT:
            table.add_column(sa.Column(name, sa.BigInteger(), nullable=False, server_default="0"))
    with op.batch_alter_table("report_runs") as table:
        table.add_column(sa.Column("report", sa.String(20), nullable=False, server_default="quality"))
    # Reports read one source over a span of days; the human rows are few beside the automatic ones.
    op.create_index("ix_evaluation_rollups_source_day", "evaluation_rollups", ["source", "day"])
    op.create_index("ix_item_rollups_source_day", "item_rollups", ["source", "day"])
    op.create_table(
        "report_run_groups",
        sa.Column("run_id", sa.String(36), primary_key=True),
        sa.Column("group", sa.String(100), primary_key=True),
    )


def downgrade() -> None:
    op.drop_table("report_run_groups")
    op.drop_index("ix_item_rollups_source_day", "item_rollups")
    op.drop_index("ix_evaluation_rollups_source_day", "evaluation_rollups")
    with op.batch_alter_table("report_runs") as table:
        table.drop_column("report")
    with op.batch_alter_table("item_rollups") as table:
        for name in AGREEMENT:
            table.drop_column(name)
    with op.batch_alter_table("report_evaluations") as table:
        table.drop_column("cause")
        table.drop_column("revision")
