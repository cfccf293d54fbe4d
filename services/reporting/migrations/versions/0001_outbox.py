"""outbox table for events published through the transactional outbox

Revision ID: 0001
Revises:
"""

from collections.abc import Sequence

from callqa.outbox import create_outbox_table, drop_outbox_table

revision: str = "0001"
down_revision: str | None = None
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    create_outbox_table()


def downgrade() -> None:
    drop_outbox_table()
