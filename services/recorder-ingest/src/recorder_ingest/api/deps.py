"""Dependency aliases so route signatures read like prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from callqa.auth import Principal, Role, require_roles
from recorder_ingest.archive import RecordingArchive


def get_archive(request: Request) -> RecordingArchive:
    archive: RecordingArchive = request.app.state.archive
    return archive


def client_of(request: Request) -> str | None:
    return request.client.host if request.client else None


ArchiveDep = Annotated[RecordingArchive, Depends(get_archive)]
ClientDep = Annotated[str | None, Depends(client_of)]
Platform = Annotated[Principal, Depends(require_roles(Role.ingest))]
Reader = Annotated[
    Principal,
    Depends(require_roles(Role.qa_analyst, Role.supervisor, Role.trainer, Role.auditor, Role.agent)),
]
Supervisor = Annotated[Principal, Depends(require_roles(Role.supervisor))]
Auditor = Annotated[Principal, Depends(require_roles(Role.auditor))]
