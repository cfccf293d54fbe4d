"""Release, acknowledgement and appeals: agents see only released evaluations of their own; an appeal is
per item, inside its window and rounds, routed to the reviewer or a supervisor, resolved upheld /
overturned / adjusted with reasons into a new version; the timeline keeps it all."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from callqa.settings import KafkaSettings
from coaching.tables import EvaluationVersion
from tests.coaching.helpers import (
    AGENT,
    OTHER_AGENT,
    OVERRIDE_CLOSING,
    QA,
    QA2,
    SUPERVISOR,
    Feed,
    make_settings,
    review,
    started,
)

pytestmark = pytest.mark.timeout(120)

APPEAL_CLOSING = {"items": [{"item_id": "verify_identity", "reason": "I verified it at 00:41"}], "comment": "please"}


def test_agents_see_only_their_own_released_evaluations(client: TestClient, feed: Feed) -> None:
    evaluation = feed()
    url = f"/v1/evaluations/{evaluation.evaluation_id}"
    assert client.get(url, headers=AGENT).status_code == 404  # automatic only: not released
    assert client.get("/v1/evaluations", headers=AGENT).json()["total"] == 0
    later = datetime.now(UTC) + timedelta(days=1)
    review(client, evaluation.evaluation_id, OVERRIDE_CLOSING, release_at=later.isoformat())
    assert client.get(url, headers=AGENT).status_code == 404  # released tomorrow
    released = feed()
    review(client, released.evaluation_id, notes="well done")
    seen = client.get(f"/v1/evaluations/{released.evaluation_id}", headers=AGENT).json()
    assert seen["auto"] is None and seen["human"] is None and seen["released"]["source"] == "human"
    assert [e["id"] for e in client.get("/v1/evaluations", headers=AGENT).json()["items"]] == [released.evaluation_id]
    assert client.get(f"/v1/evaluations/{released.evaluation_id}", headers=OTHER_AGENT).status_code == 403
    assert (
        client.post(
            f"/v1/evaluations/{released.evaluation_id}/appeals", json=APPEAL_CLOSING, headers=OTHER_AGENT
        ).status_code
        == 403
    )
    assert (
        client.post(
            f"/v1/evaluations/{released.evaluation_id}/acknowledgement", json={}, headers=OTHER_AGENT
        ).status_code
        == 403
    )
    versions = client.get(f"/v1/evaluations/{released.evaluation_id}/versions", headers=AGENT).json()
    assert [v["source"] for v in versions["items"]] == ["human"]  # the automatic draft is not shown
    actions = [
        t["action"]
        for t in client.get(f"/v1/evaluations/{released.evaluation_id}/timeline", headers=AGENT).json()["items"]
    ]
    assert "assigned" not in actions and "review_submitted" in actions


def test_appeal_rounds_routing_and_resolutions(client: TestClient, feed: Feed) -> None:
    evaluation = feed(failed=("closing", "verify_identity"))
    eid = evaluation.evaluation_id
    review(client, eid)
    appeal = client.post(f"/v1/evaluations/{eid}/appeals", json=APPEAL_CLOSING, headers=AGENT)
    assert appeal.status_code == 201, appeal.text
    first = appeal.json()
    assert (first["round"], first["assignee"], first["status"], first["version"]) == (1, "qa-lin", "open", 2)
    # while it is open: no second appeal, no acknowledgement
    assert client.post(f"/v1/evaluations/{eid}/appeals", json=APPEAL_CLOSING, headers=AGENT).status_code == 409
    assert client.post(f"/v1/evaluations/{eid}/acknowledgement", json={}, headers=AGENT).status_code == 409
    # routed to the reviewer: another analyst may not resolve it, a supervisor may
    resolve = f"/v1/appeals/{first['id']}/resolution"
    overturn = {"items": [{"item_id": "verify_identity", "outcome": "overturned", "reason": "heard at 00:41"}]}
    assert client.post(resolve, json=overturn, headers=QA2).status_code == 403
    bad = client.post(resolve, json={"items": [{"item_id": "closing", "outcome": "upheld", "reason": "x"}]}, headers=QA)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "items.0.item_id"
    done = client.post(resolve, json=overturn, headers=QA)
    assert done.status_code == 200, done.text
    assert done.json()["version"]["version"] == 3 and done.json()["version"]["cause"] == "appeal"
    item = next(i for i in done.json()["version"]["items"] if i["item_id"] == "verify_identity")
    assert (item["result"], item["points"], item["appeal_outcome"]) == ("pass", 10, "overturned")
    assert client.post(resolve, json=overturn, headers=QA).status_code == 409  # resolved is final
    assert client.get(f"/v1/evaluations/{eid}", headers=AGENT).json()["released"]["version"] == 3
    # round 2: all upheld -> no new version
    second = client.post(
        f"/v1/evaluations/{eid}/appeals", json={"items": [{"item_id": "closing", "reason": "r"}]}, headers=AGENT
    )
    assert second.status_code == 201 and second.json()["round"] == 2
    upheld = client.post(
        f"/v1/appeals/{second.json()['id']}/resolution",
        json={"items": [{"item_id": "closing", "outcome": "upheld", "reason": "no closing heard"}]},
        headers=SUPERVISOR,
    )
    assert upheld.status_code == 200 and upheld.json()["version"] is None
    # round 3 is past the limit of 2
    third = client.post(
        f"/v1/evaluations/{eid}/appeals", json={"items": [{"item_id": "closing", "reason": "r"}]}, headers=AGENT
    )
    assert third.status_code == 409 and "limit 2" in third.json()["detail"]
    assert len(client.get("/v1/appeals", headers=AGENT).json()["items"]) == 2
    assert client.get("/v1/appeals", headers=OTHER_AGENT).json()["total"] == 0
    actions = [t["action"] for t in client.get(f"/v1/evaluations/{eid}/timeline", headers=QA).json()["items"]]
    assert actions.count("appealed") == 2 and actions.count("appeal_resolved") == 2
    # acknowledgement is final
    ack = client.post(f"/v1/evaluations/{eid}/acknowledgement", json={"comment": "ok"}, headers=AGENT)
    assert ack.status_code == 200 and ack.json()["acknowledged_version"] == 3
    assert client.post(f"/v1/evaluations/{eid}/acknowledgement", json={}, headers=AGENT).status_code == 409


def test_adjusted_item_and_unknown_items(client: TestClient, feed: Feed) -> None:
    eid = feed(failed=("closing",)).evaluation_id
    review(client, eid)
    unknown = client.post(
        f"/v1/evaluations/{eid}/appeals", json={"items": [{"item_id": "nope", "reason": "r"}]}, headers=AGENT
    )
    assert unknown.status_code == 422 and unknown.json()["errors"][0]["field"] == "items.0.item_id"
    blank = client.post(
        f"/v1/evaluations/{eid}/appeals", json={"items": [{"item_id": "closing", "reason": " "}]}, headers=AGENT
    )
    assert blank.status_code == 422 and blank.json()["errors"][0]["field"] == "items.0.reason"
    appeal = client.post(
        f"/v1/evaluations/{eid}/appeals", json={"items": [{"item_id": "closing", "reason": "r"}]}, headers=AGENT
    ).json()
    adjusted = client.post(
        f"/v1/appeals/{appeal['id']}/resolution",
        json={
            "items": [{"item_id": "closing", "outcome": "adjusted", "result": "pass", "points": 5, "reason": "partly"}]
        },
        headers=QA,
    )
    assert adjusted.status_code == 200
    assert adjusted.json()["version"]["total_points"] == 35 and adjusted.json()["version"]["percentage"] == 87.5


def test_window_closes(client: TestClient, feed: Feed) -> None:
    eid = feed().evaluation_id
    review(client, eid)
    with client.app.state.ledger.db.session() as session:  # type: ignore[attr-defined]
        session.execute(
            sa.update(EvaluationVersion)
            .where(EvaluationVersion.evaluation_id == eid)  # type: ignore[arg-type]
            .values(released_at=datetime.now(UTC) - timedelta(days=8))
        )
    late = client.post(f"/v1/evaluations/{eid}/appeals", json=APPEAL_CLOSING, headers=AGENT)
    assert late.status_code == 409 and "window closed" in late.json()["detail"]
    assert client.get(f"/v1/evaluations/{eid}", headers=QA).json()["appeal_rounds"] == 0  # changed nothing


@pytest.fixture
def supervisor_routed(sqlite_url: str, coaching_kafka: KafkaSettings) -> Iterator[TestClient]:
    yield from started(
        make_settings(sqlite_url, coaching_kafka, appeal_route="supervisor", appeal_window_days=1, appeal_max_rounds=1)
    )


def test_configured_routing_window_and_rounds(supervisor_routed: TestClient, feed: Feed) -> None:
    client = supervisor_routed
    eid = feed(client).evaluation_id
    review(client, eid)
    appeal = client.post(f"/v1/evaluations/{eid}/appeals", json=APPEAL_CLOSING, headers=AGENT).json()
    assert appeal["assignee"] is None  # any supervisor
    resolve = {"items": [{"item_id": "verify_identity", "outcome": "upheld", "reason": "r"}]}
    assert client.post(f"/v1/appeals/{appeal['id']}/resolution", json=resolve, headers=QA).status_code == 403
    assert client.post(f"/v1/appeals/{appeal['id']}/resolution", json=resolve, headers=SUPERVISOR).status_code == 200
    again = client.post(f"/v1/evaluations/{eid}/appeals", json=APPEAL_CLOSING, headers=AGENT)
    assert again.status_code == 409 and "limit 1" in again.json()["detail"]
