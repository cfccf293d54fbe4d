"""Human review: assignment state machine (every allowed and refused transition), If-Match, overrides with
reasons, items not in the scorecard, a review as a new version (never an overwrite), per-item agreement
with the auto-scorer, `evaluation.reviewed` in the outbox. On SQLite and PostgreSQL."""

from __future__ import annotations

import json

import pytest
from fastapi.testclient import TestClient
from sqlmodel import select

from callqa.auth import Role
from callqa.outbox import OutboxMessage
from tests.coaching.helpers import AGENT, AUDITOR, OVERRIDE_CLOSING, QA, QA2, SUPERVISOR, Feed, assign, bearer, review

pytestmark = pytest.mark.timeout(120)


def test_a_review_is_a_new_human_version_and_is_announced(client: TestClient, feed: Feed) -> None:
    evaluation = feed()
    submitted = review(client, evaluation.evaluation_id, OVERRIDE_CLOSING, notes="closing heard")
    version = submitted["version"]
    assert (version["version"], version["source"], version["cause"], version["author"]) == (
        2,
        "human",
        "review",
        "qa-lin",
    )
    closing = next(i for i in version["items"] if i["item_id"] == "closing")
    assert (closing["result"], closing["points"], closing["auto_result"], closing["changed"]) == (
        "pass",
        10,
        "fail",
        True,
    )
    assert version["percentage"] == 100 and version["passed"] is True

    detail = client.get(f"/v1/evaluations/{evaluation.evaluation_id}", headers=QA).json()
    assert detail["auto"]["version"] == 1 and detail["auto"]["percentage"] == 75  # never overwritten
    assert detail["human"]["version"] == 2 and detail["released"]["version"] == 2
    versions = client.get(f"/v1/evaluations/{evaluation.evaluation_id}/versions", headers=QA).json()
    assert [v["source"] for v in versions["items"]] == ["auto", "human"]

    with client.app.state.ledger.db.session() as session:  # type: ignore[attr-defined]
        sent = session.exec(select(OutboxMessage).where(OutboxMessage.event_type == "evaluation.reviewed")).all()
    assert len(sent) == 1
    payload = json.loads(sent[0].payload)["payload"]
    assert payload["version"] == 2 and payload["cause"] == "review" and payload["reviewer_id"] == "qa-lin"
    assert "closing heard" not in sent[0].payload.decode()  # notes stay in coaching

    agreement = client.get("/v1/auto-scorer/agreement", params={"scorecard_id": "test-card"}, headers=QA).json()
    by_item = {row["item_id"]: row for row in agreement["items"]}
    assert by_item["closing"]["overridden"] == 1 and by_item["greeting"]["agreed"] == 1


def test_state_machine_allows_and_refuses(client: TestClient, feed: Feed) -> None:
    evaluation = feed()
    a = assign(client, evaluation.evaluation_id)
    url = f"/v1/assignments/{a['id']}"
    # pending: cannot save or submit
    assert client.put(f"{url}/review", json={}, headers=QA | {"If-Match": '"0"'}).status_code == 409
    assert client.post(f"{url}/submit", json={}, headers=QA | {"If-Match": '"0"'}).status_code == 409
    # a second open assignment for the same evaluation is refused
    duplicate = client.post(
        "/v1/assignments", json={"evaluation_id": evaluation.evaluation_id, "reviewer_id": "qa-wu"}, headers=SUPERVISOR
    )
    assert duplicate.status_code == 409
    # only the reviewer opens it
    assert client.post(f"{url}/open", headers=QA2).status_code == 403
    opened = client.post(f"{url}/open", headers=QA)
    assert opened.status_code == 200 and opened.json()["assignment"]["status"] == "in_review"
    assert client.post(f"{url}/open", headers=QA).status_code == 200  # opening again is harmless
    etag = client.get(url, headers=QA).headers["ETag"]
    # reassign moves it back to pending for another reviewer; the old reviewer's revision is stale
    moved = client.post(f"{url}/reassign", json={"reviewer_id": "qa-wu", "reason": "leave"}, headers=SUPERVISOR)
    assert moved.status_code == 200 and moved.json()["status"] == "pending"
    assert client.post(f"{url}/open", headers=QA).status_code == 403
    assert client.post(f"{url}/open", headers=QA2).status_code == 200
    stale = client.post(f"{url}/submit", json={}, headers=QA2 | {"If-Match": etag})
    assert stale.status_code == 409 and stale.json()["errors"][0]["field"] == "If-Match"
    etag = client.get(url, headers=QA2).headers["ETag"]
    assert client.post(f"{url}/submit", json={}, headers=QA2 | {"If-Match": etag}).status_code == 200
    # submitted is final
    etag = client.get(url, headers=QA2).headers["ETag"]
    for path in ("open", "reassign", "cancel"):
        body = (
            {}
            if path == "open"
            else {"reviewer_id": "qa-lin", "reason": "x"}
            if path == "reassign"
            else {"reason": "x"}
        )
        headers = QA2 if path == "open" else SUPERVISOR
        assert client.post(f"{url}/{path}", json=body, headers=headers).status_code == 409, path
    assert client.post(f"{url}/submit", json={}, headers=QA2 | {"If-Match": etag}).status_code == 409
    # cancel: pending -> cancelled, then nothing more
    other = assign(client, feed().evaluation_id)
    assert (
        client.post(f"/v1/assignments/{other['id']}/cancel", json={"reason": "dup"}, headers=SUPERVISOR).json()[
            "status"
        ]
        == "cancelled"
    )
    assert client.post(f"/v1/assignments/{other['id']}/open", headers=QA).status_code == 409
    timeline = client.get(f"/v1/evaluations/{evaluation.evaluation_id}/timeline", headers=AUDITOR).json()["items"]
    assert [t["action"] for t in timeline] == [
        "scored",
        "assigned",
        "review_opened",
        "reassigned",
        "review_opened",
        "review_submitted",
        "released",
    ]
    assert all(t["actor"] and t["at"] for t in timeline)


def test_concurrent_edits_and_bad_decisions_change_nothing(client: TestClient, feed: Feed) -> None:
    evaluation = feed()
    a = assign(client, evaluation.evaluation_id)
    url = f"/v1/assignments/{a['id']}"
    etag = client.post(f"{url}/open", headers=QA).headers["ETag"]
    first = client.put(
        f"{url}/review", json={"items": OVERRIDE_CLOSING, "notes": "one"}, headers=QA | {"If-Match": etag}
    )
    assert first.status_code == 200 and first.headers["ETag"] != etag
    # a second editor based on the old revision is refused, the first edit stands
    second = client.put(f"{url}/review", json={"notes": "two"}, headers=QA | {"If-Match": etag})
    assert second.status_code == 409
    assert client.put(f"{url}/review", json={}, headers=QA).status_code == 428
    assert client.get(url, headers=QA).json()["assignment"]["notes"] == "one"
    etag = first.headers["ETag"]
    cases = {
        "items.0.reason": [{"item_id": "closing", "decision": "override", "result": "pass"}],
        "items.0.item_id": [{"item_id": "no-such-item", "decision": "confirm"}],
        "items.0.points": [
            {"item_id": "closing", "decision": "override", "result": "pass", "points": 11, "reason": "r"}
        ],
        "items.0.result": [{"item_id": "closing", "decision": "override", "reason": "r"}],
        "items.1.item_id": [{"item_id": "closing", "decision": "confirm"}] * 2,
    }
    for field, items in cases.items():
        answer = client.post(f"{url}/submit", json={"items": items}, headers=QA | {"If-Match": etag})
        assert answer.status_code == 422, (field, answer.text)
        assert answer.headers["content-type"].startswith("application/problem+json")
        assert field in {e["field"] for e in answer.json()["errors"]}, (field, answer.text)
    assert client.get(url, headers=QA).json()["assignment"]["status"] == "in_review"
    assert client.get(f"/v1/evaluations/{evaluation.evaluation_id}", headers=QA).json()["latest_version"] == 1
    # the saved draft is what a submit without items submits
    done = client.post(f"{url}/submit", json={}, headers=QA | {"If-Match": etag})
    assert done.status_code == 200 and done.json()["version"]["notes"] == "one"
    assert next(i for i in done.json()["version"]["items"] if i["item_id"] == "closing")["result"] == "pass"


def test_no_self_review_and_roles(client: TestClient, feed: Feed) -> None:
    evaluation = feed(agent_id="qa-lin")  # an analyst who also takes calls
    answer = client.post(
        "/v1/assignments", json={"evaluation_id": evaluation.evaluation_id, "reviewer_id": "qa-lin"}, headers=SUPERVISOR
    )
    assert answer.status_code == 409 and "own call" in answer.json()["detail"]
    mine = feed()
    assert (
        client.post(
            "/v1/assignments", json={"evaluation_id": mine.evaluation_id, "reviewer_id": "qa-lin"}, headers=QA
        ).status_code
        == 403
    )  # assigning is a supervisor's
    assert client.get("/v1/assignments", headers=AGENT).status_code == 403
    trainer = bearer("tr-1", Role.trainer)
    assert client.get("/v1/assignments", headers=trainer).status_code == 403
    assert client.get("/v1/evaluations", headers=trainer).status_code == 200


def test_the_demo_walk_through(sqlite_client: TestClient, feed: Feed, capsys: pytest.CaptureFixture[str]) -> None:
    from callqa_stack import coaching_demo
    from tests.coaching.helpers import JWT_SECRET

    ids = {feed(agent_id=f"agent-{n}", failed=("closing",) if n else ("insult",)).evaluation_id for n in range(3)}
    assert coaching_demo.walk(sqlite_client, JWT_SECRET, ids) == 0
    out = capsys.readouterr().out
    for step in ("sampling plan 'demo' v1", "3 picked", "overrides", "appeals", "resolves it", "timeline"):
        assert step in out, (step, out)
    assert coaching_demo.walk(sqlite_client, JWT_SECRET, ids) == 0  # again: a new plan version, a new run
    assert "sampling plan 'demo' v2" in capsys.readouterr().out
