"""recordings and the append-only audit log

Revision ID: 0002
Revises: 0001
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: Sequence[str] | None = None
depends_on: Sequence[str] | None = None

TS = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "recordings",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("call_id", sa.String(200), nullable=False, unique=True),
        sa.Column("platform", sa.String(100)),
        sa.Column("agent_id", sa.String(100), nullable=False, index=True),
        sa.Column("group", sa.String(100), index=True),
        sa.Column("queue", sa.String(100), index=True),
        sa.Column("direction", sa.String(10), nullable=False),
        sa.Column("started_at", TS, nullable=False, index=True),
        sa.Column("received_at", TS, nullable=False),
        sa.Column("channel_layout", sa.String(20), nullable=False),
        sa.Column("language", sa.String(20)),
        sa.Column("tags", sa.String(1000), nullable=False),
        sa.Column("customer_number_hash", sa.String(64), index=True),
        sa.Column("customer_number_encrypted", sa.String(500)),
        sa.Column("consent_status", sa.String(20), nullable=False, index=True),
        sa.Column("consent_method", sa.String(30)),
        sa.Column("consent_at", TS),
        sa.Column("consent_outcome", sa.String(300), nullable=False),
        sa.Column("retention_policy", sa.String(50), nullable=False),
        sa.Column("retain_until", TS, nullable=False, index=True),
        sa.Column("legal_hold", sa.Boolean(), nullable=False, index=True),
        sa.Column("legal_hold_reason", sa.String(500)),
        sa.Column("legal_hold_by", sa.String(200)),
        sa.Column("legal_hold_at", TS),
        sa.Column("status", sa.String(30), nullable=False, index=True),
        sa.Column("audio_key", sa.String(300)),
        sa.Column("audio_sha256", sa.String(64), nullable=False),
        sa.Column("audio_size", sa.BigInteger(), nullable=False),
        sa.Column("container", sa.String(30), nullable=False),
        sa.Column("codec", sa.String(30), nullable=False),
        sa.Column("channels", sa.Integer(), nullable=False),
        sa.Column("sample_rate", sa.Integer(), nullable=False),
        sa.Column("duration_ms", sa.BigInteger(), nullable=False),
        sa.Column("purged_at", TS),
        sa.Column("purge_reason", sa.String(50)),
    )
    op.create_table(
        "audit_log",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("at", TS, nullable=False, index=True),
        sa.Column("actor", sa.String(200), nullable=False, index=True),
        sa.Column("roles", sa.String(200), nullable=False),
        sa.Column("action", sa.String(40), nullable=False, index=True),
        sa.Column("recording_id", sa.String(36), index=True),
        sa.Column("purpose", sa.String(300)),
        sa.Column("outcome", sa.String(20), nullable=False),
        sa.Column("client", sa.String(100)),
        sa.Column("detail", sa.String(1000)),
    )
    # Append-only: the database itself refuses to rewrite history, whatever the code does.
    if op.get_bind().dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION audit_log_append_only() RETURNS trigger AS $$ "
            "BEGIN RAISE EXCEPTION 'audit_log is append-only'; END; $$ LANGUAGE plpgsql"
        )
        op.execute(
            "CREATE TRIGGER audit_log_append_only BEFORE UPDATE OR DELETE ON audit_log "
            "FOR EACH ROW EXECUTE FUNCTION audit_log_append_only()"
        )
    else:
        for event in ("UPDATE", "DELETE"):
            op.execute(
                f"CREATE TRIGGER audit_log_no_{event.lower()} BEFORE {event} ON audit_log "
                "BEGIN SELECT RAISE(ABORT, 'audit_log is append-only'); END"
            )


def downgrade() -> None:
    if op.get_bind().dialect.name == "postgresql":
        op.execute("DROP TRIGGER audit_log_append_only ON audit_log")
        op.execute("DROP FUNCTION audit_log_append_only()")
    op.drop_table("audit_log")
    op.drop_table("recordings")
