"""Report runs (frozen definition + result), their downloads (each one audited), and schedules that make
runs on their own and e-mail them."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import exists, func, select
from sqlmodel import col

from callqa.db import Database
from reporting import delivery
from reporting.periods import Period, PeriodKind, previous_completed
from reporting.render import MEDIA_TYPES, Format, file_name, render, title_of
from reporting.reports import Definition, ReportType, compute, resolve_versions
from reporting.schedule import next_run, parse_time
from reporting.store import RollupStore
from reporting.tables import DownloadAudit, ReportRun, ReportRunGroup, Schedule

log = logging.getLogger(__name__)


class RunNotFound(LookupError):
    pass


class ScheduleNotFound(LookupError):
    pass


class WrongTimeZone(ValueError):
    """Rollups are kept per local day of the site's zone; a report in another zone cannot be read from them."""


class ReportRuns:
    def __init__(self, db: Database, store: RollupStore, zone: ZoneInfo) -> None:
        self.db = db
        self.store = store
        self.zone = zone

    def definition(
        self,
        kind: PeriodKind,
        day: Any,
        *,
        report: ReportType = ReportType.quality,
        time_zone: str | None = None,
        group: str | None = None,
        queue: str | None = None,
        agent_id: str | None = None,
        scorecard_versions: dict[str, list[int]] | None = None,
        groups: list[str] | None = None,
    ) -> Definition:
        if time_zone is not None and time_zone != self.zone.key:
            raise WrongTimeZone(f"reports are kept in the site's time zone {self.zone.key}, not {time_zone}")
        if day is None:
            period = previous_completed(kind, datetime.now(self.zone).date())
        else:
            period = Period.containing(kind, day)
        return Definition(
            report=report,
            kind=kind,
            first=period.first,
            last=period.last,
            time_zone=self.zone.key,
            group=group,
            queue=queue,
            agent_id=agent_id,
            scorecard_versions=scorecard_versions or {},
            groups=sorted(groups) if groups is not None else None,
        )

    def run(
        self,
        definition: Definition,
        requested_by: str,
        *,
        schedule_id: str | None = None,
        rerun_of: str | None = None,
    ) -> ReportRun:
        """Freeze the definition (a new one names the versions it finds), compute, store."""
        if rerun_of is None:
            definition = resolve_versions(self.store, definition)
        run = ReportRun(
            id=str(uuid.uuid4()),
            report=definition.report.value,
            kind=definition.kind.value,
            period_first=definition.first,
            period_last=definition.last,
            definition=definition.model_dump(mode="json"),
            status="failed",
            agent_id=definition.agent_id,
            requested_by=requested_by,
            schedule_id=schedule_id,
            rerun_of=rerun_of,
        )
        try:
            run.result = compute(self.store, definition)
            run.status = "empty" if run.result["empty"] else "done"
        except Exception as exc:
            log.exception("report run failed")
            run.error = f"{type(exc).__name__}: {exc}"[:2000]
        with self.db.session() as session:
            session.add(run)
            for group in confined_to(definition) or ():
                session.add(ReportRunGroup(run_id=run.id, group=group))
        return run

    def rerun(self, run_id: str, requested_by: str) -> ReportRun:
        """The same frozen definition, computed again: the same numbers unless late calls of its versions came."""
        original = self.get(run_id)
        return self.run(Definition.model_validate(original.definition), requested_by, rerun_of=original.id)

    def get(self, run_id: str) -> ReportRun:
        with self.db.session() as session:
            run = session.get(ReportRun, run_id)
        if run is None:
            raise RunNotFound(f"no report run {run_id}")
        return run

    def search(
        self,
        *,
        kind: PeriodKind | None = None,
        report: ReportType | None = None,
        schedule_id: str | None = None,
        agent_id: str | None = None,
        groups: Sequence[str] | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[ReportRun], int]:
        """Runs, newest first; `groups`: only runs confined to these groups (a reader limited to them)."""
        where: list[Any] = []
        if kind is not None:
            where.append(col(ReportRun.kind) == kind.value)
        if report is not None:
            where.append(col(ReportRun.report) == report.value)
        if groups is not None:
            mine = col(ReportRunGroup.run_id) == col(ReportRun.id)
            where.append(exists().where(mine))
            where.append(~exists().where(mine, col(ReportRunGroup.group).not_in(list(groups))))
        if schedule_id is not None:
            where.append(col(ReportRun.schedule_id) == schedule_id)
        if agent_id is not None:  # agents: only runs about themselves
            where.append(col(ReportRun.agent_id) == agent_id)
        with self.db.session() as session:
            total = int(session.execute(select(func.count()).select_from(ReportRun).where(*where)).scalar_one())
            rows = session.execute(
                select(ReportRun)
                .where(*where)
                .order_by(col(ReportRun.created_at).desc(), col(ReportRun.id))
                .limit(limit)
                .offset(offset)
            ).all()
        return [row[0] for row in rows], total

    def download(self, run: ReportRun, fmt: Format, subject: str, roles: Sequence[str]) -> tuple[bytes, str, str]:
        """The run's file in `fmt`; the download is recorded in the audit table first."""
        if run.result is None:
            raise RunNotFound(f"report run {run.id} failed and has nothing to download: {run.error}")
        with self.db.session() as session:
            session.add(DownloadAudit(run_id=run.id, format=fmt.value, subject=subject, roles=",".join(sorted(roles))))
        return render(run.result, fmt), MEDIA_TYPES[fmt], file_name(run.result, fmt)

    def audit(self, limit: int, offset: int) -> tuple[list[DownloadAudit], int]:
        with self.db.session() as session:
            total = int(session.execute(select(func.count()).select_from(DownloadAudit)).scalar_one())
            rows = session.execute(
                select(DownloadAudit).order_by(col(DownloadAudit.id).desc()).limit(limit).offset(offset)
            ).all()
        return [row[0] for row in rows], total


def confined_to(definition: Definition) -> list[str] | None:
    """The groups a run's figures can come from; None: every group."""
    if definition.group is not None:
        return [definition.group]
    return definition.groups


class Schedules:
    def __init__(self, db: Database, runs: ReportRuns, smtp: delivery.SmtpSettings) -> None:
        self.db = db
        self.runs = runs
        self.smtp = smtp

    def create(
        self,
        *,
        name: str,
        kind: PeriodKind,
        at_time: str,
        filters: dict[str, Any],
        recipients: list[str],
        formats: list[Format],
        created_by: str,
        now: datetime | None = None,
    ) -> Schedule:
        at = parse_time(at_time)
        schedule = Schedule(
            id=str(uuid.uuid4()),
            name=name,
            kind=kind.value,
            at_time=at.strftime("%H:%M"),
            filters=filters,
            recipients=recipients,
            formats=[f.value for f in formats],
            next_run_at=next_run(kind, at, now or datetime.now(UTC), self.runs.zone),
            created_by=created_by,
        )
        with self.db.session() as session:
            session.add(schedule)
        return schedule

    def get(self, schedule_id: str) -> Schedule:
        with self.db.session() as session:
            schedule = session.get(Schedule, schedule_id)
        if schedule is None:
            raise ScheduleNotFound(f"no schedule {schedule_id}")
        return schedule

    def search(self, limit: int, offset: int, created_by: str | None = None) -> tuple[list[Schedule], int]:
        where = [col(Schedule.created_by) == created_by] if created_by is not None else []
        with self.db.session() as session:
            total = int(session.execute(select(func.count()).select_from(Schedule).where(*where)).scalar_one())
            rows = session.execute(
                select(Schedule)
                .where(*where)
                .order_by(col(Schedule.created_at), col(Schedule.id))
                .limit(limit)
                .offset(offset)
            ).all()
        return [row[0] for row in rows], total

    def delete(self, schedule_id: str) -> None:
        with self.db.session() as session:
            schedule = session.get(Schedule, schedule_id)
            if schedule is None:
                raise ScheduleNotFound(f"no schedule {schedule_id}")
            session.delete(schedule)

    def run_due(self, now: datetime | None = None) -> list[ReportRun]:
        """Run every schedule whose time has come (once, however late), e-mail it, and move it on."""
        now = now or datetime.now(UTC)
        with self.db.session() as session:
            due = [row[0] for row in session.execute(select(Schedule).where(col(Schedule.next_run_at) <= now)).all()]
        made = []
        for schedule in due:
            kind = PeriodKind(schedule.kind)
            local_now = now.astimezone(self.runs.zone).date()
            period = previous_completed(kind, local_now)
            filters = dict(schedule.filters)
            report = ReportType(filters.pop("report", ReportType.quality.value))
            definition = self.runs.definition(kind, period.first, report=report, **filters)
            run = self.runs.run(definition, f"schedule:{schedule.id}", schedule_id=schedule.id)
            self.deliver(run, schedule)
            with self.db.session() as session:
                stored = session.get(Schedule, schedule.id)
                if stored is not None:
                    stored.next_run_at = next_run(kind, parse_time(stored.at_time), now, self.runs.zone)
                    session.add(stored)
            made.append(run)
        return made

    def deliver(self, run: ReportRun, schedule: Schedule) -> None:
        if not schedule.recipients:
            status, error = "none", None
        elif run.result is None:
            status, error = "failed", f"nothing to send: the run failed ({run.error})"
        else:
            try:
                attachments = [
                    delivery.Attachment(
                        file_name(run.result, Format(f)), render(run.result, Format(f)), MEDIA_TYPES[Format(f)]
                    )
                    for f in schedule.formats
                ]
                summary = run.result["summary"]
                body = (
                    f"{title_of(run.result)}\n\n"
                    + (f"{run.result['explanation']}\n" if run.result["empty"] else "")
                    + f"calls: {summary['calls']}, pass rate: {summary['pass_rate']}\nrun: {run.id}\n"
                )
                delivery.send(self.smtp, schedule.recipients, f"[callqa] {title_of(run.result)}", body, attachments)
                status, error = "sent", None
            except Exception as exc:
                log.exception("report e-mail failed")
                status, error = "failed", f"{type(exc).__name__}: {exc}"[:2000]
        with self.db.session() as session:
            stored = session.get(ReportRun, run.id)
            if stored is not None:
                stored.delivery_status, stored.delivery_error = status, error
                session.add(stored)
        run.delivery_status, run.delivery_error = status, error
