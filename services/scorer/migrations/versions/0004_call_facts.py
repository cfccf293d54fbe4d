"""transcripts seen: the call's direction, duration and tags, passed on in evaluation.scored for sampling

Revision ID: 0004
Revises: 0003
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("transcripts_seen") as batch:
        batch.add_column(sa.Column("direction", sa.String(20)))
        batch.add_column(sa.Column("duration_ms", sa.BigInteger()))
        batch.add_column(sa.Column("tags", sa.JSON(), nullable=False, server_default="[]"))


def downgrade() -> None:
    with op.batch_alter_table("transcripts_seen") as batch:
        batch.drop_column("tags")
        batch.drop_column("duration_ms")
        batch.drop_column("direction")
