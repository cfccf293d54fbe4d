"""item cells keep only what differs from "every item of the scorecard version passed": the items of each version
(scorecard_items), and the existing item cells converted (each loses its evaluation cell's count of passes; a cell
left with nothing goes, an evaluation cell whose evaluations lacked an item gets a cell taking the pass back)

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

KEY = ("day", "agent_id", "group", "queue", "scorecard_id", "scorecard_version", "source")
ITEM = ("item_id", "section", "severity")
COUNTS = ("applicable", "failed", "not_applicable", "compared", "agreed", "auto_stricter", "auto_lenient")


EVALUATION_CELLS = sa.table("evaluation_rollups", *[sa.column(c) for c in (*KEY, "evaluations")])
ITEM_CELLS = sa.table("item_rollups", *[sa.column(c) for c in (*KEY, *ITEM, *COUNTS)])
VERSION_ITEMS = sa.table("scorecard_items", *[sa.column(c) for c in ("scorecard_id", "scorecard_version", *ITEM)])


def _shift(sign: int) -> None:
    """Add (+1) or take away (-1) each evaluation cell's count as applicable passes of its version's items."""
    cells, items = EVALUATION_CELLS.alias("e"), VERSION_ITEMS.alias("s")
    existing = ITEM_CELLS.alias("i")
    count = sa.func.coalesce(
        sa.select(cells.c.evaluations).where(*[cells.c[k] == ITEM_CELLS.c[k] for k in KEY]).scalar_subquery(), 0
    )
    applicable = ITEM_CELLS.c.applicable
    op.execute(sa.update(ITEM_CELLS).values(applicable=applicable + count if sign > 0 else applicable - count))
    missing = (
        sa.select(
            *[cells.c[k] for k in KEY],
            *[items.c[k] for k in ITEM],
            cells.c.evaluations if sign > 0 else -cells.c.evaluations,
            *[sa.literal(0) for _ in COUNTS[1:]],
        )
        .select_from(
            cells.join(
                items,
                sa.and_(
                    items.c.scorecard_id == cells.c.scorecard_id,
                    items.c.scorecard_version == cells.c.scorecard_version,
                ),
            )
        )
        .where(
            ~sa.exists().where(
                *[existing.c[k] == cells.c[k] for k in KEY], *[existing.c[k] == items.c[k] for k in ITEM]
            )
        )
    )
    op.execute(ITEM_CELLS.insert().from_select([*KEY, *ITEM, *COUNTS], missing))
    op.execute(ITEM_CELLS.delete().where(*[ITEM_CELLS.c[c] == 0 for c in COUNTS]))


def upgrade() -> None:
    op.create_table(
        "scorecard_items",
        sa.Column("scorecard_id", sa.String(100), primary_key=True),
        sa.Column("scorecard_version", sa.Integer(), primary_key=True),
        sa.Column("item_id", sa.String(100), primary_key=True),
        sa.Column("section", sa.String(100), primary_key=True),
        sa.Column("severity", sa.String(1), primary_key=True),
    )
    names = ("scorecard_id", "scorecard_version", *ITEM)
    op.execute(VERSION_ITEMS.insert().from_select(names, sa.select(*[ITEM_CELLS.c[c] for c in names]).distinct()))
    _shift(-1)


def downgrade() -> None:
    _shift(+1)
    op.drop_table("scorecard_items")
