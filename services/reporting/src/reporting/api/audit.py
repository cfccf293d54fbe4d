"""/v1/downloads: the audit of every report download."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends

from callqa.http import PROBLEM_RESPONSES, Page, PageParams, page_params
from reporting.api.deps import Auditor, RunsDep
from reporting.schemas import DownloadOut

router = APIRouter(prefix="/v1/downloads", tags=["audit"], responses=PROBLEM_RESPONSES)


@router.get("", response_model=Page[DownloadOut], summary="Who downloaded which report, when (newest first)")
def list_downloads(
    _principal: Auditor, runs: RunsDep, page: Annotated[PageParams, Depends(page_params)]
) -> Page[DownloadOut]:
    found, total = runs.audit(page.limit, page.offset)
    return Page[DownloadOut].of([DownloadOut.of(d) for d in found], total, page)
