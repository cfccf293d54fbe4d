"""/v1/audit: the append-only access log, for auditors."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Depends, Query

from callqa.http import PROBLEM_RESPONSES, Page, PageParams, PlainText, page_params
from recorder_ingest.api.deps import ArchiveDep, Auditor
from recorder_ingest.schemas import AuditEntryOut

router = APIRouter(prefix="/v1/audit", tags=["audit"], responses=PROBLEM_RESPONSES)


@router.get(
    "",
    summary="Who accessed or changed which recording, when and why (newest first)",
    response_model=Page[AuditEntryOut],
)
def list_audit(
    _: Auditor,
    archive: ArchiveDep,
    page: Annotated[PageParams, Depends(page_params)],
    recording_id: Annotated[PlainText | None, Query(max_length=36)] = None,
    actor: Annotated[PlainText | None, Query(max_length=200)] = None,
    action: Annotated[PlainText | None, Query(max_length=40)] = None,
    since: datetime | None = None,
    until: datetime | None = None,
) -> Page[AuditEntryOut]:
    entries, total = archive.audit_log(
        recording_id=recording_id,
        actor=actor,
        action=action,
        since=since,
        until=until,
        limit=page.limit,
        offset=page.offset,
    )
    return Page[AuditEntryOut].of([AuditEntryOut.of(e) for e in entries], total, page)
