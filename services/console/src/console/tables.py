"""Tables owned by the console: its local users (hashed passwords) and sessions, and the index of calls it keeps
from the event stream for search (facts, transcript text, scores); nothing else is stored here."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Text
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from callqa.db import utc_column
from callqa.events import utcnow

# What the migrations make with one dialect's own DDL for full-text search (see console.search): SQLite's FTS5 table
# over `console_call_text` (and its shadow tables, its triggers), PostgreSQL's GIN index on to_tsvector(words).
MIGRATION_ONLY = ("console_call_text_fts",)


class Table(SQLModel, registry=registry()):
    """Base of the console's tables: a registry (and MetaData) of their own."""


class LocalUser(Table, table=True):
    __tablename__ = "console_users"

    username: str = Field(primary_key=True, max_length=100)
    password_hash: str = Field(max_length=200)
    roles: str = Field(max_length=300, description="comma-separated callqa roles")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class UserSession(Table, table=True):
    """A signed-in browser: the cookie holds a random token, the table only its SHA-256."""

    __tablename__ = "console_sessions"

    id: str = Field(primary_key=True, max_length=64)
    subject: str = Field(max_length=200)
    roles: str = Field(max_length=300)
    csrf: str = Field(max_length=64)
    via: str = Field(max_length=20, description="local | oidc")
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))
    expires_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))


class CallEntry(Table, table=True):
    """One call as search needs it: facts from `recording.stored`, text from `transcript.ready`."""

    __tablename__ = "console_calls"

    recording_id: str = Field(primary_key=True, max_length=64)
    call_id: str | None = Field(default=None, max_length=200)
    agent_id: str = Field(max_length=100, index=True)
    group: str | None = Field(default=None, max_length=100)
    queue: str | None = Field(default=None, max_length=100)
    started_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    duration_ms: int = 0
    tags: str = Field(default="", max_length=2000, description="|tag1|tag2| for exact matches")
    language: str | None = Field(default=None, max_length=20)
    transcript_version: str | None = Field(default=None, max_length=200)
    text: str = Field(default="", sa_column=Column(Text, nullable=False, default=""))
    document: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON))
    purged: bool = False


class CallScore(Table, table=True):
    """The score a call has on one scorecard: automatic, then the latest released human version."""

    __tablename__ = "console_scores"

    evaluation_id: str = Field(primary_key=True, max_length=64)
    recording_id: str = Field(max_length=64, index=True)
    scorecard_id: str = Field(max_length=100)
    scorecard_version: int
    source: str = Field(max_length=20)
    version: int = 1
    percentage: float
    passed: bool
    failed_items: str = Field(default="", max_length=4000, description="|item1|item2|")


class CallText(Table, table=True):
    """A call's words as the full-text index takes them (segmented, space-separated); gone when the call is purged.

    An integer key of its own: SQLite's FTS5 table refers to rows by an integer rowid that must not change.
    """

    __tablename__ = "console_call_text"

    id: int | None = Field(default=None, primary_key=True)
    recording_id: str = Field(max_length=64, unique=True, index=True)
    words: str = Field(sa_column=Column(Text, nullable=False))
