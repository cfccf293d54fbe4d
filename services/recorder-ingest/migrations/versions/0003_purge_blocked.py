"""recordings: why the retention purge could not delete the audio (shown on the recording)

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


def upgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.add_column(sa.Column("purge_blocked_reason", sa.String(50)))
        batch.add_column(sa.Column("purge_blocked_detail", sa.String(500)))
        batch.add_column(sa.Column("purge_blocked_at", sa.DateTime(timezone=True)))


def downgrade() -> None:
    with op.batch_alter_table("recordings") as batch:
        batch.drop_column("purge_blocked_at")
        batch.drop_column("purge_blocked_detail")
        batch.drop_column("purge_blocked_reason")
