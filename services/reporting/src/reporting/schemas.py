"""API request and response models."""

from __future__ import annotations

from datetime import date, datetime
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from callqa.http import NonBlankText, PlainText
from reporting.periods import PeriodKind
from reporting.render import Format
from reporting.reports import ReportType
from reporting.tables import DownloadAudit, ReportRun, Schedule

Name = Annotated[NonBlankText, StringConstraints(max_length=100)]
Email = Annotated[str, StringConstraints(pattern=r"^[^@\s]{1,64}@[^@\s]{1,190}$", max_length=254)]


class ReportFilters(BaseModel):
    group: Name | None = None
    queue: Name | None = None
    agent_id: Name | None = None


class ReportRequest(ReportFilters):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"kind": "monthly", "day": "2026-11-01", "group": "billing"},
                {"report": "case_analysis", "kind": "weekly", "day": "2026-11-02", "queue": "billing-zh"},
                {"report": "agreement", "kind": "monthly", "day": "2026-11-01"},
            ]
        },
    )

    report: ReportType = Field(
        ReportType.quality,
        description="quality (seed 004's daily/weekly/monthly report), case_analysis (notable calls: auto-failed, "
        "lowest scores, overturned on appeal, overridden by reviewers) or agreement (calibration and auto-scorer "
        "agreement per item)",
    )
    kind: PeriodKind
    day: date | None = Field(None, description="any day of the period; default: the last completed period")
    time_zone: Annotated[PlainText, StringConstraints(max_length=64)] | None = Field(
        None, description="must be the site's time zone when given (rollups are kept per local day)"
    )
    scorecard_versions: (
        dict[Name, Annotated[list[Annotated[int, Field(ge=1, le=2**31 - 1)]], Field(max_length=100)]] | None
    ) = Field(None, max_length=50, description="scorecard id -> versions; default: the versions present in the period")


class RunOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "4b0f6c0e-1d7a-4c57-9a53-2f8f0c1b9e10",
                    "report": "quality",
                    "kind": "monthly",
                    "period_first": "2026-11-01",
                    "period_last": "2026-11-30",
                    "status": "done",
                    "definition": {
                        "kind": "monthly",
                        "time_zone": "Asia/Shanghai",
                        "scorecard_versions": {"default-zh": [1]},
                    },
                    "result": {"summary": {"calls": 1200, "pass_rate": 0.91}},
                    "error": None,
                    "requested_by": "qa-lin",
                    "schedule_id": None,
                    "rerun_of": None,
                    "delivery_status": None,
                    "delivery_error": None,
                    "created_at": "2026-12-01T07:00:00Z",
                }
            ]
        }
    )

    id: str
    report: ReportType
    kind: PeriodKind
    period_first: date
    period_last: date
    status: str = Field(description="done | empty (explained, zero figures) | failed")
    definition: dict[str, Any] = Field(description="what the run was computed with, frozen")
    result: dict[str, Any] | None
    error: str | None
    requested_by: str
    schedule_id: str | None
    rerun_of: str | None
    delivery_status: str | None
    delivery_error: str | None
    created_at: datetime

    @classmethod
    def of(cls, run: ReportRun, *, with_result: bool = True) -> RunOut:
        data = run.model_dump()
        if not with_result:
            data["result"] = None
        return cls.model_validate(data)


class ScheduleIn(BaseModel):
    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "name": "weekly billing",
                    "kind": "weekly",
                    "at_time": "07:00",
                    "filters": {"group": "billing"},
                    "recipients": ["qa-lead@example.com"],
                    "formats": ["pdf", "xlsx"],
                },
                {"name": "weekly cases", "kind": "weekly", "report": "case_analysis", "formats": ["xlsx"]},
            ]
        },
    )

    report: ReportType = ReportType.quality
    name: Annotated[NonBlankText, StringConstraints(max_length=200)]
    kind: PeriodKind
    at_time: Annotated[str, StringConstraints(pattern=r"^([01][0-9]|2[0-3]):[0-5][0-9]$")] = Field(
        "07:00", description="HH:MM in the site's time zone"
    )
    filters: ReportFilters = Field(default_factory=ReportFilters)
    recipients: list[Email] = Field(default_factory=list, max_length=50)
    formats: list[Format] = Field(default_factory=lambda: [Format.pdf], max_length=4)


class ScheduleOut(BaseModel):
    id: str
    name: str
    kind: PeriodKind
    at_time: str
    filters: dict[str, Any]
    recipients: list[str]
    formats: list[str]
    next_run_at: datetime
    created_by: str
    created_at: datetime

    @classmethod
    def of(cls, schedule: Schedule) -> ScheduleOut:
        return cls.model_validate(schedule.model_dump())


class DownloadOut(BaseModel):
    id: int
    run_id: str
    format: str
    subject: str
    roles: str
    at: datetime

    @classmethod
    def of(cls, row: DownloadAudit) -> DownloadOut:
        return cls.model_validate(row.model_dump())


class MonitoredCall(BaseModel):
    """One evaluated call of the daily monitoring detail."""

    evaluation_id: str
    recording_id: str
    started_at: str
    day: str
    agent_id: str
    group: str
    queue: str
    scorecard: str
    score: float
    passed: bool
    auto_failed: bool
    source: str
    reviewer: str
    failed_items: list[dict[str, Any]]
    links: dict[str, str]
