"""full-text search over transcripts: console_call_text (segmented words), indexed by SQLite FTS5 or a PostgreSQL
GIN index on to_tsvector; the calls already indexed are segmented and added

Revision ID: 0003
Revises: 0002
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from console.search import Segmenter

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None


def upgrade() -> None:
    text_table = op.create_table(
        "console_call_text",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("recording_id", sa.String(64), nullable=False),
        sa.Column("words", sa.Text(), nullable=False),
    )
    op.create_index("ix_console_call_text_recording_id", "console_call_text", ["recording_id"], unique=True)
    dialect = op.get_bind().dialect.name
    if dialect == "sqlite":
        # An external-content FTS5 table over console_call_text, kept in step by triggers (SQLite's documented
        # pattern): the words are stored once, the index refers to them by the integer key.
        op.execute(
            "CREATE VIRTUAL TABLE console_call_text_fts USING fts5(words, content='console_call_text', "
            "content_rowid='id', tokenize='porter unicode61 remove_diacritics 2')"
        )
        op.execute(
            "CREATE TRIGGER console_call_text_fts_insert AFTER INSERT ON console_call_text BEGIN "
            "INSERT INTO console_call_text_fts(rowid, words) VALUES (new.id, new.words); END"
        )
        op.execute(
            "CREATE TRIGGER console_call_text_fts_delete AFTER DELETE ON console_call_text BEGIN "
            "INSERT INTO console_call_text_fts(console_call_text_fts, rowid, words) "
            "VALUES ('delete', old.id, old.words); END"
        )
        op.execute(
            "CREATE TRIGGER console_call_text_fts_update AFTER UPDATE ON console_call_text BEGIN "
            "INSERT INTO console_call_text_fts(console_call_text_fts, rowid, words) "
            "VALUES ('delete', old.id, old.words); "
            "INSERT INTO console_call_text_fts(rowid, words) VALUES (new.id, new.words); END"
        )
    # The calls indexed before this revision: their transcript text, segmented as new ones are.
    calls = sa.table("console_calls", sa.column("recording_id"), sa.column("text"), sa.column("purged"))
    rows = op.get_bind().execute(
        sa.select(calls.c.recording_id, calls.c.text).where(calls.c.text != "", calls.c.purged == sa.false())
    )
    segmenter = Segmenter()
    backlog = [{"recording_id": r.recording_id, "words": segmenter.index_words(r.text)} for r in rows]
    if backlog:
        op.bulk_insert(text_table, backlog)
    if dialect == "postgresql":
        # An expression index: searches compute to_tsvector with the same constant configuration
        # (console.search.POSTGRES_CONFIG) and so use it.
        op.execute(
            "CREATE INDEX console_call_text_fts_gin ON console_call_text "
            "USING gin (to_tsvector('english'::regconfig, words))"
        )


def downgrade() -> None:
    if op.get_bind().dialect.name == "sqlite":
        for trigger in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER IF EXISTS console_call_text_fts_{trigger}")
        op.execute("DROP TABLE IF EXISTS console_call_text_fts")
    op.drop_table("console_call_text")  # its indexes go with it
