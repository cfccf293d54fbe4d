"""Problem analyses: run `coaching.problems.analyse` on a period and scope of coaching's evaluations and keep
the result (frozen with its scope and parameters), so training requests and improvement plans can cite it."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from sqlmodel import col, func, select

from callqa.auth import Principal
from callqa.db import Database
from coaching.errors import NotFound
from coaching.observations import Scope, Source, observations
from coaching.problems import AnalysisParams, analyse
from coaching.tables import ProblemAnalysis


class ProblemAnalyses:
    def __init__(self, db: Database) -> None:
        self.db = db

    def run(
        self,
        principal: Principal,
        *,
        start: datetime,
        end: datetime,
        scope: Scope,
        source: Source,
        params: AnalysisParams,
    ) -> ProblemAnalysis:
        """Analyse [start, end) against the previous period of the same length (for the trend)."""
        length = end - start
        with self.db.session() as session:
            now = observations(session, scope, start, end, source)
            previous = observations(session, scope, start - length, start, source)
            result = analyse(now, params, previous)
            analysis = ProblemAnalysis(
                id=str(uuid.uuid4()),
                source=source,
                period_start=start,
                period_end=end,
                scope=scope.as_dict(),
                params=params.model_dump(),
                result=result,
                created_by=principal.subject,
            )
            session.add(analysis)
        return analysis

    def get(self, analysis_id: str) -> ProblemAnalysis:
        with self.db.session() as session:
            found = session.get(ProblemAnalysis, analysis_id)
            if found is None:
                raise NotFound("problem analysis", analysis_id)
            return found

    def problem(self, analysis_id: str, problem_id: str) -> tuple[ProblemAnalysis, dict[str, Any]]:
        analysis = self.get(analysis_id)
        for problem in analysis.result.get("problems", []):
            if problem["id"] == problem_id:
                return analysis, problem
        raise NotFound("problem", problem_id)

    def search(self, *, limit: int, offset: int) -> tuple[list[ProblemAnalysis], int]:
        with self.db.session() as session:
            total = session.exec(select(func.count()).select_from(ProblemAnalysis)).one()
            rows = session.exec(
                select(ProblemAnalysis)
                .order_by(col(ProblemAnalysis.created_at).desc(), col(ProblemAnalysis.id))
                .offset(offset)
                .limit(limit)
            ).all()
        return list(rows), int(total)
