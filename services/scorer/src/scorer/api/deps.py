"""Dependency aliases so route signatures read like prose."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from callqa.auth import Principal, Role, require_roles
from scorer.library import ScorecardLibrary
from scorer.scoring import Scorer


def get_scorer(request: Request) -> Scorer:
    scorer: Scorer = request.app.state.scorer
    return scorer


def get_library(request: Request) -> ScorecardLibrary:
    library: ScorecardLibrary = request.app.state.scorer.library
    return library


ScorerDep = Annotated[Scorer, Depends(get_scorer)]
LibraryDep = Annotated[ScorecardLibrary, Depends(get_library)]
# Who edits scorecards and starts re-scores (admin holds every role); also who may follow a re-score job.
Author = Annotated[Principal, Depends(require_roles(Role.qa_analyst, Role.supervisor))]
Reader = Annotated[
    Principal, Depends(require_roles(Role.qa_analyst, Role.supervisor, Role.trainer, Role.auditor, Role.agent))
]
