"""Tables owned by reporting: evaluations as reporting keeps them, the rollups built from them, purged
calls, report runs (frozen definition + result), schedules and the download audit."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, BigInteger, Column, Index, UniqueConstraint
from sqlalchemy.orm import registry
from sqlmodel import Field, SQLModel

from callqa.db import utc_column
from callqa.events import utcnow


class Table(SQLModel, registry=registry()):
    """Base of this service's tables: a registry (and MetaData) of their own, so a table's name only has to be
    unique in this service's database, never among every service imported into one process."""


ROLLUP_KEY = ("day", "agent_id", "group", "queue", "scorecard_id", "scorecard_version", "source")
# Reports read one source over a span of days, filter on versions, group, queue or agent, and sum the counts: each
# read-side index holds all of those, so a period is one range of the index and the table itself is never read.
REPORT_KEY = ("source", "day", "scorecard_id", "scorecard_version", "group", "queue", "agent_id")
TALLIES = ("evaluations", "passed", "auto_failed", "score_centi", "failed_a", "failed_b", "failed_c")
ITEM_TALLIES = ("applicable", "failed", "not_applicable", "compared", "agreed", "auto_stricter", "auto_lenient")


class EvaluationRow(Table, table=True):
    """The evaluation that counts for one call × scorecard version × source (see `rollups.winners`)."""

    __tablename__ = "report_evaluations"
    __table_args__ = (
        UniqueConstraint("recording_id", "scorecard_id", "scorecard_version", "source", name="uq_evaluation_identity"),
        # the month's count and its worst calls (auto-failed first, lowest score) without reading the rows (id last:
        # PostgreSQL's index-only scan needs every column the query names; SQLite's rowid is there anyway)
        Index(
            "ix_report_evaluations_report",
            "source",
            "day",
            "scorecard_id",
            "scorecard_version",
            "auto_failed",
            "percentage",
            "started_at",
            "id",
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    evaluation_id: str = Field(max_length=64)
    recording_id: str = Field(max_length=64)  # looked up by uq_evaluation_identity, which starts with it
    source: str = Field(max_length=20)
    reviewer: str = Field(max_length=200)
    agent_id: str = Field(index=True, max_length=100)
    group: str = Field(max_length=100)
    queue: str = Field(max_length=100)
    started_at: datetime = Field(sa_column=utc_column(nullable=False))
    day: date
    scorecard_id: str = Field(max_length=100)
    scorecard_version: int
    transcript_version: str = Field(max_length=200)
    percentage: float
    passed: bool
    auto_failed: bool
    items: list[dict[str, Any]] = Field(sa_column=Column(JSON, nullable=False))
    text_purged: bool = False
    revision: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    cause: str = Field(default="", max_length=20, sa_column_kwargs={"server_default": ""})


class EvaluationRollup(Table, table=True):
    __tablename__ = "evaluation_rollups"
    __table_args__ = (
        UniqueConstraint(*ROLLUP_KEY, name="uq_evaluation_rollup"),
        Index("ix_evaluation_rollups_report", *REPORT_KEY, *TALLIES),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: date  # ranges of days: the unique key starts with it
    agent_id: str = Field(max_length=100)
    group: str = Field(max_length=100)
    queue: str = Field(max_length=100)
    scorecard_id: str = Field(max_length=100)
    scorecard_version: int
    source: str = Field(max_length=20)
    evaluations: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    passed: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    auto_failed: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    score_centi: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    failed_a: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    failed_b: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    failed_c: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})


class ItemRollup(Table, table=True):
    __tablename__ = "item_rollups"
    __table_args__ = (
        UniqueConstraint(*ROLLUP_KEY, "item_id", "section", "severity", name="uq_item_rollup"),
        Index("ix_item_rollups_report", *REPORT_KEY, "item_id", "section", "severity", *ITEM_TALLIES),
    )

    id: int | None = Field(default=None, primary_key=True)
    day: date  # ranges of days: the unique key starts with it
    agent_id: str = Field(max_length=100)
    group: str = Field(max_length=100)
    queue: str = Field(max_length=100)
    scorecard_id: str = Field(max_length=100)
    scorecard_version: int
    source: str = Field(max_length=20)
    item_id: str = Field(max_length=100)
    section: str = Field(max_length=100)
    severity: str = Field(max_length=1)
    applicable: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    failed: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    not_applicable: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    compared: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    agreed: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    auto_stricter: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})
    auto_lenient: int = Field(default=0, sa_type=BigInteger, sa_column_kwargs={"server_default": "0"})


class ScorecardItem(Table, table=True):
    """An item of a scorecard version, as the evaluations of that version carry it: the item cells imply that
    it passed in each evaluation an evaluation cell counts (see `rollups`)."""

    __tablename__ = "scorecard_items"

    scorecard_id: str = Field(primary_key=True, max_length=100)
    scorecard_version: int = Field(primary_key=True)
    item_id: str = Field(primary_key=True, max_length=100)
    section: str = Field(primary_key=True, max_length=100)
    severity: str = Field(primary_key=True, max_length=1)


class PurgedRecording(Table, table=True):
    """Calls whose quoted text is gone; an evaluation arriving later for one is stored without quotes."""

    __tablename__ = "purged_recordings"

    recording_id: str = Field(primary_key=True, max_length=64)
    reason: str = Field(max_length=50)
    purged_at: datetime = Field(sa_column=utc_column(nullable=False))


class ReportRun(Table, table=True):
    """One computed report: the frozen definition it was computed with and what it found."""

    __tablename__ = "report_runs"

    id: str = Field(primary_key=True, max_length=36)
    report: str = Field(
        default="quality", max_length=20, sa_column_kwargs={"server_default": "quality"}, description="ReportType"
    )
    kind: str = Field(index=True, max_length=20)
    period_first: date
    period_last: date
    definition: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(max_length=20, description="done | empty | failed")
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    error: str | None = Field(default=None, max_length=2000)
    agent_id: str | None = Field(default=None, index=True, max_length=100, description="the agent it is about")
    requested_by: str = Field(max_length=200)
    schedule_id: str | None = Field(default=None, index=True, max_length=36)
    rerun_of: str | None = Field(default=None, max_length=36)
    delivery_status: str | None = Field(default=None, max_length=20, description="sent | failed | none")
    delivery_error: str | None = Field(default=None, max_length=2000)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False, index=True))


class ReportRunGroup(Table, table=True):
    """The groups a run is confined to (its group filter, or the groups its requester may see); none: every
    group. A reader limited to some groups lists and opens only runs confined to groups it may see."""

    __tablename__ = "report_run_groups"

    run_id: str = Field(primary_key=True, max_length=36)
    group: str = Field(primary_key=True, max_length=100)


class Schedule(Table, table=True):
    __tablename__ = "schedules"

    id: str = Field(primary_key=True, max_length=36)
    name: str = Field(max_length=200)
    kind: str = Field(max_length=20)
    at_time: str = Field(max_length=5, description="HH:MM in the site's time zone")
    filters: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    recipients: list[str] = Field(sa_column=Column(JSON, nullable=False))
    formats: list[str] = Field(sa_column=Column(JSON, nullable=False))
    next_run_at: datetime = Field(sa_column=utc_column(nullable=False, index=True))
    created_by: str = Field(max_length=200)
    created_at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False))


class DownloadAudit(Table, table=True):
    """Who downloaded which report in which format, and when (append-only)."""

    __tablename__ = "download_audit"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(index=True, max_length=36)
    format: str = Field(max_length=10)
    subject: str = Field(max_length=200)
    roles: str = Field(max_length=200)
    at: datetime = Field(default_factory=utcnow, sa_column=utc_column(nullable=False, index=True))
