"""The scorer under inputs found wrong (issue 13): out-of-range integers, time zones read back from the
database, who may follow a re-score job, and calls no scorecard applies to. Configured from its
environment and migrated by `python -m scorer migrate`, on SQLite and on PostgreSQL."""

from __future__ import annotations

import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from callqa.auth import Role
from scorer.config import Settings
from scorer.main import create_app
from tests.scorer.helpers import GOOD_CALL, QA, bearer, publish, ready_event, scored, transcript

pytestmark = pytest.mark.timeout(180)


def ready(client: TestClient) -> None:
    deadline = time.monotonic() + 30
    while client.get("/readyz").status_code != 200:
        assert time.monotonic() < deadline, "the consumer never joined"
        time.sleep(0.2)


def test_out_of_range_integers_are_a_422_naming_the_field(env_settings: Settings) -> None:
    good = transcript("dry-run", GOOD_CALL).model_dump(mode="json")
    with TestClient(create_app(env_settings)) as client:
        for huge in (2**63, 2**31, 0):
            page = [] if huge == 0 else [client.get(p, params={"offset": huge}, headers=QA) for p in LISTS]
            answers = [
                *((r, "offset") for r in page),
                (client.get(f"/v1/scorecards/default-zh/versions/{huge}", headers=QA), "version"),
                (
                    client.post("/v1/scorecards/default-zh/dry-run", params={"version": huge}, json=good, headers=QA),
                    "version",
                ),
                (client.post("/v1/scorecards/default-zh/rescore", json={"version": huge}, headers=QA), "version"),
            ]
            for response, field in answers:
                assert response.status_code == 422, (huge, response.request.url, response.text)
                assert response.headers["content-type"] == "application/problem+json"
                assert [e["field"] for e in response.json()["errors"]] == [field], response.text
        assert client.get("/v1/evaluations", params={"offset": 2**31 - 1}, headers=QA).status_code == 200
        assert client.get(f"/v1/scorecards/default-zh/versions/{2**31 - 1}", headers=QA).status_code == 404


LISTS = ("/v1/evaluations", "/v1/scorecards")


def utc_instant(value: str) -> datetime:
    parsed = datetime.fromisoformat(value)
    assert parsed.utcoffset() == timedelta(0), f"{value} is not UTC"
    return parsed


def test_timestamps_read_back_from_the_database_are_timezone_aware_utc(
    env_settings: Settings,
    unique: str,
) -> None:
    call = transcript(f"tz-{unique}", GOOD_CALL)
    started = datetime(2026, 11, 2, 9, 30, tzinfo=timezone(timedelta(hours=8)))
    with TestClient(create_app(env_settings)) as client:
        ready(client)
        publish(env_settings.kafka, ready_event(call, started_at=started))
        (event,) = scored(env_settings.kafka, call.recording_id)
        evaluation = client.get(f"/v1/evaluations/{event.payload.evaluation_id}", headers=QA).json()
        assert utc_instant(evaluation["started_at"]) == started
        assert evaluation["started_at"].endswith("Z")
        utc_instant(evaluation["created_at"])
        listed = client.get(
            "/v1/evaluations",
            params={"started_from": "2026-11-02T09:00:00+08:00", "started_to": "2026-11-02T01:31:00Z"},
            headers=QA,
        ).json()["items"]
        assert [e["recording_id"] for e in listed] == [call.recording_id], "filters compare instants"
        card = client.get("/v1/scorecards/default-zh", headers=QA).json()
        utc_instant(card["created_at"])
        job = client.post("/v1/scorecards/default-zh/rescore", json={"agent_id": "nobody"}, headers=QA).json()
        deadline = time.monotonic() + 30
        while (state := client.get(f"/v1/rescore-jobs/{job['id']}", headers=QA).json())["finished_at"] is None:
            assert time.monotonic() < deadline, state
            time.sleep(0.2)
        assert state["status"] == "done"
        utc_instant(state["created_at"])
        utc_instant(state["finished_at"])


def test_only_those_who_may_start_a_rescore_can_follow_it(env_settings: Settings) -> None:
    with TestClient(create_app(env_settings)) as client:
        started = client.post("/v1/scorecards/default-zh/rescore", json={"group": "billing"}, headers=QA)
        assert started.status_code == 202, started.text
        url = f"/v1/rescore-jobs/{started.json()['id']}"
        for role in (Role.qa_analyst, Role.supervisor, Role.admin):
            assert client.get(url, headers=bearer(role)).status_code == 200, role
        for role in (Role.trainer, Role.auditor, Role.agent, Role.ingest):
            refused = client.get(url, headers=bearer(role))
            assert refused.status_code == 403, role
            assert refused.headers["content-type"] == "application/problem+json"
        assert client.get(url).status_code == 401


def unscored() -> float:
    return REGISTRY.get_sample_value("callqa_scorer_unscored_total", {"reason": "no_applicable_scorecard"}) or 0.0


def test_a_call_no_scorecard_applies_to_is_counted_and_logged(
    env_settings: Settings,
    unique: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    before = unscored()
    french = transcript(f"fr-{unique}", [("agent", "Bonjour"), ("customer", "Au revoir")], language="fr")
    english = transcript(f"en-{unique}", [("agent", "Hello, how can I help?"), ("customer", "Bye")], language="en")

    def logged() -> list[dict[str, Any]]:
        return [r.__dict__ for r in caplog.records if getattr(r, "recording_id", None) == french.recording_id]

    app = create_app(env_settings)
    logging.getLogger().addHandler(caplog.handler)  # the app's logging set-up replaced the root's handlers
    with caplog.at_level(logging.WARNING), TestClient(app) as client:
        ready(client)
        # Twice: a redelivery is logged again but counted once. The English call is scored as usual.
        publish(env_settings.kafka, ready_event(french), ready_event(french), ready_event(english))
        assert scored(env_settings.kafka, english.recording_id)
        deadline = time.monotonic() + 15
        while len(logged()) < 2:
            assert time.monotonic() < deadline, "the unscored call was not logged twice"
            time.sleep(0.1)
        assert scored(env_settings.kafka, french.recording_id, timeout=1) == []
    assert unscored() == before + 1
    lines = logged()
    assert all(line["reason"] == "no_applicable_scorecard" and line["levelname"] == "WARNING" for line in lines)
    assert (lines[0]["language"], lines[0]["queue"]) == ("fr", "billing-zh")
