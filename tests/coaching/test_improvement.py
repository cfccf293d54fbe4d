"""Issue 16 through the service, on SQLite and PostgreSQL with the real broker: a generated evaluation stream
with a planted common problem (most agents of g1 fail `verify_identity`) and a planted individual one
(agent-g0-3 fails `closing`) arrives as `evaluation.scored`; the analysis separates them; a plan proposed from
the individual problem is coached and closed with a verified verdict on generated later calls; the common
problem goes to the trainers and is re-checked after training; `coaching.*` events reach their topics."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient

from callqa.auth import Role
from callqa.events import EvaluationScoredEvent
from callqa.settings import KafkaSettings
from callqa_stack.coaching_demo import follow_up
from tests.coaching.helpers import (
    AGENT,
    QA,
    SUPERVISOR,
    TRAINER,
    agents_of,
    bearer,
    events_of,
    feed_all,
    make_settings,
    send,
    started,
    stream,
    wait_for,
)

pytestmark = pytest.mark.timeout(300)

NOW = datetime.now(UTC).replace(microsecond=0)
PERIOD_START = NOW - timedelta(days=60)
COACHED = NOW - timedelta(days=30)
PLANTED = {("g1", None, "verify_identity"): 0.45, ("g0", "agent-g0-3", "closing"): 0.6}
AGENT_G03 = bearer("agent-g0-3", Role.agent)


@pytest.fixture
def app(database_url: str, private_kafka_settings: KafkaSettings) -> Iterator[TestClient]:
    yield from started(make_settings(database_url, private_kafka_settings, sweep_interval_s=0))


def analysis(app: TestClient, start: datetime, end: datetime, **body: Any) -> dict[str, Any]:
    answer = app.post(
        "/v1/problem-analyses",
        json={"period_start": start.isoformat(), "period_end": end.isoformat(), **body},
        headers=QA,
    )
    assert answer.status_code == 201, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_from_planted_problems_to_verified_follow_up(app: TestClient, private_kafka_settings: KafkaSettings) -> None:
    kafka = private_kafka_settings
    before = stream(11, agents=agents_of(3, 6), calls=15, rates=PLANTED, start=PERIOD_START, days=28)
    events = [EvaluationScoredEvent(correlation_id=p.recording_id, producer="scorer", payload=p) for p in before]
    send(kafka, *events)
    wait_for(lambda: app.get("/v1/evaluations", headers=QA).json()["total"] == len(before))

    found = analysis(app, PERIOD_START, COACHED)
    kinds = sorted((p["kind"], p["group"], p["agent_id"], p["item_id"]) for p in found["result"]["problems"])
    assert kinds == [("common", "g1", None, "verify_identity"), ("individual", "g0", "agent-g0-3", "closing")]
    individual = next(p for p in found["result"]["problems"] if p["kind"] == "individual")
    common = next(p for p in found["result"]["problems"] if p["kind"] == "common")
    assert individual["examples"] and individual["q_value"] < 0.05 and individual["trend"]["direction"] == "no_history"
    assert app.get(f"/v1/problem-analyses/{found['id']}", headers=TRAINER).status_code == 200
    assert app.post("/v1/problem-analyses", json={}, headers=AGENT).status_code == 403

    # an improvement plan proposed from the individual problem, edited by the coach
    proposed = app.post(
        "/v1/improvement-plans",
        json={"analysis_id": found["id"], "problem_id": individual["id"], "coach_id": "sup-zhao"},
        headers=QA,
    )
    assert proposed.status_code == 201, proposed.text
    plan = proposed.json()
    assert plan["status"] == "draft" and plan["agent_id"] == "agent-g0-3" and plan["focus_items"] == ["closing"]
    assert plan["scorecard_id"] == "test-card" and plan["example_evaluation_ids"] == [
        e["evaluation_id"] for e in individual["examples"]
    ]
    pid = plan["id"]
    etag = app.get(f"/v1/improvement-plans/{pid}", headers=QA).headers["ETag"]
    edited = app.put(
        f"/v1/improvement-plans/{pid}",
        json={"goal_pass_rate": 0.9, "goal_days": 14, "actions": ["role-play the closing"]},
        headers=SUPERVISOR | {"If-Match": etag},
    )
    assert edited.status_code == 200 and edited.json()["goal_calls"] is None
    wrong = app.put(
        f"/v1/improvement-plans/{pid}",
        json={"example_evaluation_ids": [before[0].evaluation_id]},
        headers=QA | {"If-Match": edited.headers["ETag"]},
    )
    assert wrong.status_code == 422 and wrong.json()["errors"][0]["field"] == "example_evaluation_ids"
    assert app.post(f"/v1/improvement-plans/{pid}/coached", json={}, headers=QA).status_code == 409  # still draft
    assert app.get(f"/v1/improvement-plans/{pid}", headers=AGENT).status_code == 403  # another agent's
    assert app.post(f"/v1/improvement-plans/{pid}/activate", headers=QA).json()["status"] == "active"
    acked = app.post(f"/v1/improvement-plans/{pid}/acknowledgement", json={"comment": "ok"}, headers=AGENT_G03)
    assert acked.status_code == 200 and acked.json()["acknowledged_at"]
    assert app.get("/v1/improvement-plans", headers=AGENT_G03).json()["total"] == 1
    assert app.get("/v1/improvement-plans", headers=AGENT).json()["total"] == 0
    assert app.post(f"/v1/improvement-plans/{pid}/reminders", headers=SUPERVISOR).json()["reminders"] == 1
    coached = app.post(f"/v1/improvement-plans/{pid}/coached", json={"at": COACHED.isoformat()}, headers=QA)
    assert coached.json()["status"] == "in_follow_up"

    # the calls after coaching: the agent now closes (fails 4 %), the group as before
    after = stream(
        12,
        agents=agents_of(3, 6),
        calls=15,
        rates={**PLANTED, ("g0", "agent-g0-3", "closing"): 0.04},
        start=COACHED,
        days=13,
    )
    feed_all(app, after)
    closed = app.post(f"/v1/improvement-plans/{pid}/follow-up", headers=QA)
    assert closed.status_code == 200, closed.text
    body = closed.json()
    assert body["status"] == "closed" and body["verdict"] == "improved", body["evidence"]
    evidence = body["evidence"]
    assert evidence["before"]["calls"] == 15 and evidence["after"]["calls"] == 15
    assert evidence["effect_ci"][0] > 0 and evidence["did_p_value"] < 0.05 and body["goal_met"] is True
    assert app.post(f"/v1/improvement-plans/{pid}/follow-up", headers=QA).status_code == 409  # recurrence not due

    created, ended = events_of(kafka, "coaching.plan.created", 1), events_of(kafka, "coaching.plan.closed", 1)
    assert created[0]["payload"]["plan_id"] == pid and created[0]["payload"]["analysis_id"] == found["id"]
    assert ended[0]["payload"]["verdict"] == "improved" and ended[0]["payload"]["reminders"] == 1

    # the common problem goes to the trainers and is re-checked after training
    requested = app.post(
        "/v1/training-requests", json={"analysis_id": found["id"], "problem_id": common["id"]}, headers=QA
    )
    assert requested.status_code == 201, requested.text
    rid = requested.json()["id"]
    assert requested.json()["statistics"]["agents_affected"] >= 3
    assert (
        app.post(f"/v1/training-requests/{rid}/schedule", json={"at": NOW.isoformat()}, headers=QA).status_code == 403
    )
    assert (
        app.post(f"/v1/training-requests/{rid}/schedule", json={"at": COACHED.isoformat()}, headers=TRAINER).json()[
            "status"
        ]
        == "scheduled"
    )
    assert app.post(f"/v1/training-requests/{rid}/recheck", json={}, headers=QA).status_code == 409  # not delivered
    delivered = app.post(f"/v1/training-requests/{rid}/delivered", json={"at": COACHED.isoformat()}, headers=TRAINER)
    assert delivered.json()["status"] == "delivered" and delivered.json()["trainer_id"] == "trainer-ma"
    rechecked = app.post(
        f"/v1/training-requests/{rid}/recheck", json={"review_calls": 3, "reviewers": ["qa-lin"], "seed": 1}, headers=QA
    )
    assert rechecked.status_code == 200, rechecked.text
    result = rechecked.json()["request"]
    assert result["status"] == "verified" and result["recheck"]["verdict"] == "not_improved"  # g1 still fails
    assert len(rechecked.json()["review_assignments"]) == 3
    kinds = [
        e["event_type"]
        for t in ("requested", "delivered", "verified")
        for e in events_of(kafka, f"coaching.training.{t}", 1)
    ]
    assert kinds == ["coaching.training.requested", "coaching.training.delivered", "coaching.training.verified"]


def test_insufficient_data_cancel_and_expiry(sqlite_client: TestClient) -> None:
    app = sqlite_client
    feed_all(app, stream(21, agents=agents_of(1, 4), calls=12, start=PERIOD_START, days=28))
    plan = app.post(
        "/v1/improvement-plans",
        json={
            "agent_id": "agent-g0-0",
            "group": "g0",
            "scorecard_id": "test-card",
            "focus_items": ["closing"],
            "goal_days": 7,
        },
        headers=QA,
    ).json()
    app.post(f"/v1/improvement-plans/{plan['id']}/activate", headers=QA)
    app.post(f"/v1/improvement-plans/{plan['id']}/coached", json={"at": COACHED.isoformat()}, headers=QA)
    feed_all(app, stream(22, agents=[("g0", "agent-g0-0")], calls=3, start=COACHED, days=6))
    closed = app.post(f"/v1/improvement-plans/{plan['id']}/follow-up", headers=QA).json()
    assert closed["verdict"] == "insufficient_data" and "fewer than 10" in closed["evidence"]["reasons"][0]

    other = app.post(
        "/v1/improvement-plans",
        json={"agent_id": "agent-g0-1", "scorecard_id": "test-card", "focus_items": ["closing"], "goal_calls": 5},
        headers=QA,
    ).json()
    assert (
        app.post(
            f"/v1/improvement-plans/{other['id']}/reassign", json={"coach_id": "qa-wu", "reason": "leave"}, headers=QA
        ).json()["reassignments"]
        == 1
    )
    assert (
        app.post(f"/v1/improvement-plans/{other['id']}/cancel", json={"reason": "left"}, headers=QA).json()["status"]
        == "cancelled"
    )
    assert app.post(f"/v1/improvement-plans/{other['id']}/activate", headers=QA).status_code == 409

    idle = app.post(
        "/v1/improvement-plans",
        json={"agent_id": "agent-g0-2", "scorecard_id": "test-card", "focus_items": ["closing"], "goal_calls": 5},
        headers=QA,
    ).json()
    plans = app.app.state.improvement  # type: ignore[attr-defined]
    assert plans.sweep(NOW + timedelta(days=91))["expired"] == 1
    assert app.get(f"/v1/improvement-plans/{idle['id']}", headers=QA).json()["status"] == "expired"
    assert (
        app.post(
            "/v1/improvement-plans",
            json={"agent_id": "a", "coach_id": "a", "scorecard_id": "c", "focus_items": ["x"]},
            headers=QA,
        ).json()["errors"][0]["field"]
        == "coach_id"
    )


def test_the_demo_follow_up(
    app: TestClient, private_kafka_settings: KafkaSettings, database_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """`./run demo`'s issue-16 step, against this app: analysis, a proposed plan, its verdict on generated calls."""
    if not database_url.startswith("sqlite"):
        pytest.skip("one database is enough for the demo's script")
    demo_calls = stream(31, agents=agents_of(1, 2), calls=3, start=NOW - timedelta(days=2), days=1)
    feed_all(app, demo_calls)
    evaluations = [p.model_dump(mode="json") for p in demo_calls]
    secret = make_settings("sqlite://", private_kafka_settings).auth.jwt_secret.get_secret_value()
    assert follow_up(app, secret, private_kafka_settings.bootstrap_servers, evaluations) == 0
    closed = app.get("/v1/improvement-plans", params={"status": "closed"}, headers=QA).json()["items"]
    assert [p["verdict"] for p in closed] == ["improved"]
    out = capsys.readouterr().out
    for step in (
        "problem analysis of the demo's 6 calls",
        "an individual problem",
        "improvement plan",
        "proposed: focus ['closing']",
        "follow-up verdict: improved",
        "difference in differences",
    ):
        assert step in out, (step, out)
