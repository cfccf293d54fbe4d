"""A re-score job's filters survive their JSON column: timestamps come back as datetimes, not as strings
(which PostgreSQL refused to compare with its timestamps, failing every job with a time window)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from scorer.schemas import RescoreRequest
from scorer.scoring import CallFilter


def test_a_job_s_stored_filters_give_back_the_request_s_window() -> None:
    start = datetime(2026, 11, 2, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    request = RescoreRequest(started_from=start, started_to=datetime(2026, 11, 3, tzinfo=UTC), group="billing")
    stored = request.model_dump(mode="json", exclude={"version"}, exclude_none=True)
    assert isinstance(stored["started_from"], str)
    where = CallFilter.from_json(stored)
    assert where == CallFilter(started_from=start, started_to=datetime(2026, 11, 3, tzinfo=UTC), group="billing")
    assert CallFilter.from_json({"agent_id": "a-1"}) == CallFilter(agent_id="a-1")
