"""The periodic tasks and what they do: one run per due task however many replicas tick (a lease claimed with a
conditional UPDATE, on SQLite and PostgreSQL); overdue review assignments listed, reminded (counted, on the
timeline) and reassigned; scheduled releases stored by the task (agents see nothing before); improvement-plan
check-ins with interim figures, edits with If-Match. The tasks are ticked by hand (`sweep_interval_s=0`) except
in one test where the service's own loop releases a review."""

from __future__ import annotations

import json
import threading
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlmodel import col, select

from callqa.outbox import OutboxMessage
from callqa.settings import KafkaSettings
from callqa_stack.factories import recording_purged
from coaching.scheduler import Scheduler, Task
from tests.coaching.helpers import (
    AGENT,
    AUDITOR,
    OTHER_AGENT,
    OVERRIDE_CLOSING,
    QA,
    QA2,
    SUPERVISOR,
    assign,
    feed_all,
    make_settings,
    review,
    started,
    stream,
    wait_for,
)
from tests.scorer.helpers import ready_event, transcript

pytestmark = pytest.mark.timeout(120)


@pytest.fixture
def app(sqlite_url: str, coaching_kafka: KafkaSettings) -> Iterator[TestClient]:
    yield from started(make_settings(sqlite_url, coaching_kafka, sweep_interval_s=0))


@pytest.fixture
def both(database_url: str, coaching_kafka: KafkaSettings) -> Iterator[TestClient]:
    """As `app`, on SQLite and on PostgreSQL."""
    yield from started(make_settings(database_url, coaching_kafka, sweep_interval_s=0))


def tick(app: TestClient, now: datetime) -> dict[str, dict[str, int]]:
    ran: dict[str, dict[str, int]] = app.app.state.scheduler.tick(now, force=True)  # type: ignore[attr-defined]
    return ran


def reviewed_events(app: TestClient, evaluation_id: str) -> list[dict[str, Any]]:
    """The payloads of the `evaluation.reviewed` events of one evaluation in the outbox, oldest first."""
    db = app.app.state.ledger.db  # type: ignore[attr-defined]
    with db.session() as session:
        rows = session.exec(
            select(OutboxMessage)
            .where(OutboxMessage.event_type == "evaluation.reviewed")
            .order_by(col(OutboxMessage.id))
        ).all()
    payloads = [json.loads(row.payload)["payload"] for row in rows]
    return [p for p in payloads if p["evaluation_id"] == evaluation_id]


def test_each_due_run_happens_once_however_many_replicas_tick(client: TestClient) -> None:
    db = client.app.state.ledger.db  # type: ignore[attr-defined]
    runs: list[str] = []
    name = f"count-{time.monotonic_ns()}"

    def count(_now: datetime) -> dict[str, int]:
        runs.append(threading.current_thread().name)
        time.sleep(0.05)  # long enough for the other replicas to try meanwhile
        return {"counted": 1}

    def failing(_now: datetime) -> dict[str, int]:
        raise RuntimeError("the database went away")

    replicas = [
        Scheduler(db, [Task(name, timedelta(minutes=5), count)], lease=timedelta(minutes=1), owner=f"replica-{n}")
        for n in range(6)
    ]
    now = datetime.now(UTC)
    threads = [threading.Thread(target=r.tick, args=(now,), name=r.owner) for r in replicas]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(runs) == 1  # one replica claimed it; the others found the lease taken or the run not due
    assert all(r.tick(now + timedelta(minutes=4)) == {} for r in replicas)  # not due again yet
    assert replicas[0].tick(now + timedelta(minutes=6)) == {name: {"counted": 1}}
    row = next(t for t in replicas[0].status() if t.name == name)
    assert row.runs == 2 and row.last_result == {"counted": 1} and row.lease_owner is None

    # a replica that dies holding the lease blocks the task only until the lease expires
    later = now + timedelta(minutes=20)
    assert replicas[1].claim(name, later)
    assert replicas[2].tick(later, force=True) == {}
    assert replicas[2].tick(later + timedelta(minutes=2), force=True) == {name: {"counted": 1}}

    # a failing task is recorded and tried again at its next run
    broken = Scheduler(db, [Task(f"{name}-broken", timedelta(minutes=5), failing)], lease=timedelta(minutes=1))
    assert broken.tick(now) == {}
    row = next(t for t in broken.status() if t.name == f"{name}-broken")
    assert row.last_error == "RuntimeError: the database went away" and row.lease_owner is None
    assert row.next_run_at == now + timedelta(minutes=5)


def test_overdue_assignments_are_listed_reminded_and_reassigned(app: TestClient) -> None:
    now = datetime.now(UTC)
    late, fresh, done = stream(1, agents=[("g0", "agent-7")], calls=3, start=now - timedelta(days=3), days=1)
    feed_all(app, [late, fresh, done])
    made = app.post(
        "/v1/assignments",
        json={
            "evaluation_id": late.evaluation_id,
            "reviewer_id": "qa-lin",
            "due_at": (now - timedelta(days=1)).replace(tzinfo=None).isoformat(),  # naive: UTC
        },
        headers=SUPERVISOR,
    ).json()
    undated = assign(app, fresh.evaluation_id)  # no due date given: due in `review_due_days` (3)
    assert undated["due_at"] and undated["overdue"] is False
    assert abs(datetime.fromisoformat(undated["due_at"]) - (now + timedelta(days=3))) < timedelta(minutes=1)
    review(app, done.evaluation_id, reviewer_id="qa-wu", reviewer=QA2)  # submitted: never overdue

    overdue = app.get("/v1/assignments", params={"overdue": True}, headers=AUDITOR).json()
    assert [a["id"] for a in overdue["items"]] == [made["id"]] and overdue["items"][0]["overdue"] is True
    assert app.get("/v1/assignments", params={"overdue": False}, headers=SUPERVISOR).json()["total"] == 2
    queue = app.get("/v1/assignments/queue", headers=QA).json()["items"]
    assert [a["id"] for a in queue] == [made["id"], undated["id"]]  # mine, open, due first
    assert app.get("/v1/assignments/queue", headers=QA2).json()["total"] == 0  # qa-wu's one is submitted
    assert app.get("/v1/assignments/queue", params={"overdue": True}, headers=QA).json()["total"] == 1
    for who in (AGENT, AUDITOR):
        assert app.get("/v1/assignments/queue", headers=who).status_code == 403

    # the periodic task reminds the reviewer of the overdue one, at most once a day (`review_reminder_hours`)
    assert tick(app, now)["review-reminders"] == {"reminded": 1}
    assert tick(app, now + timedelta(hours=1))["review-reminders"] == {"reminded": 0}
    assert tick(app, now + timedelta(hours=25))["review-reminders"] == {"reminded": 1}
    reminded = app.get(f"/v1/assignments/{made['id']}", headers=QA).json()["assignment"]
    assert reminded["reminders"] == 2 and reminded["last_reminded_at"]

    # reassignment: never to the call's agent nor to the same reviewer, a supervisor's; counted and audited
    url = f"/v1/assignments/{made['id']}/reassign"
    for body in ({"reviewer_id": "agent-7", "reason": "x"}, {"reviewer_id": "qa-lin", "reason": "x"}):
        refused = app.post(url, json=body, headers=SUPERVISOR)
        assert refused.status_code == 409, refused.text
        assert refused.headers["content-type"].startswith("application/problem+json")
    assert app.post(url, json={"reviewer_id": "qa-wu", "reason": "x"}, headers=QA).status_code == 403
    missing = app.post(
        "/v1/assignments/nope/reassign", json={"reviewer_id": "qa-wu", "reason": "x"}, headers=SUPERVISOR
    )
    assert missing.status_code == 404
    moved = app.post(url, json={"reviewer_id": "qa-wu", "reason": "qa-lin is away"}, headers=SUPERVISOR).json()
    assert (moved["reviewer_id"], moved["reassignments"], moved["overdue"], moved["reminders"]) == (
        "qa-wu",
        1,
        False,
        2,
    )
    assert datetime.fromisoformat(moved["due_at"]) > now + timedelta(days=2)  # a new due date
    timeline = app.get(f"/v1/evaluations/{late.evaluation_id}/timeline", headers=AUDITOR).json()["items"]
    assert [t["action"] for t in timeline] == ["scored", "assigned", "reminded", "reminded", "reassigned"]
    assert timeline[2]["actor"] == "scheduler" and timeline[2]["detail"]["reviewer"] == "qa-lin"
    assert timeline[4]["actor"] == "sup-zhao" and timeline[4]["comment"] == "qa-lin is away"
    assert timeline[4]["detail"] | {"due_at": None} == {
        "assignment": made["id"],
        "before": "qa-lin",
        "after": "qa-wu",
        "overdue": True,
        "due_before": made["due_at"].replace("Z", "+00:00"),
        "due_at": None,
        "reassignments": 1,
    }


def test_a_scheduled_release_is_made_by_the_periodic_task(app: TestClient) -> None:
    now = datetime.now(UTC)
    (evaluation,) = stream(2, agents=[("g0", "agent-7")], calls=1, start=now - timedelta(days=1), days=1)
    feed_all(app, [evaluation])
    url = f"/v1/evaluations/{evaluation.evaluation_id}"
    submitted = review(
        app, evaluation.evaluation_id, OVERRIDE_CLOSING, release_at=(now + timedelta(hours=2)).isoformat()
    )
    version = submitted["version"]
    assert version["released_at"] is None and version["release_scheduled_at"] and version["released_by"] is None
    assert app.get(url, headers=AGENT).status_code == 404
    assert tick(app, now + timedelta(hours=1))["releases"] == {"released": 0}  # not yet
    assert app.get(url, headers=AGENT).status_code == 404
    release_time = now + timedelta(hours=2, minutes=1)
    assert tick(app, release_time)["releases"] == {"released": 1}
    assert tick(app, release_time + timedelta(minutes=1))["releases"] == {"released": 0}  # released once
    # announced when written (not released: search must not show it yet) and again when released
    announced = [(p["version"], p["released_at"]) for p in reviewed_events(app, evaluation.evaluation_id)]
    assert announced[0] == (2, None)
    assert announced[1][0] == 2 and datetime.fromisoformat(announced[1][1]) == release_time
    assert len(announced) == 2
    seen = app.get(url, headers=AGENT).json()["released"]
    assert (seen["version"], seen["released_by"]) == (2, "scheduler")
    assert datetime.fromisoformat(seen["released_at"]) == release_time
    actions = [(t["action"], t["actor"]) for t in app.get(f"{url}/timeline", headers=AUDITOR).json()["items"]]
    assert actions[-2:] == [("release_scheduled", "qa-lin"), ("released", "scheduler")]
    agent_view = [t["action"] for t in app.get(f"{url}/timeline", headers=AGENT).json()["items"]]
    assert "release_scheduled" not in agent_view and "released" in agent_view
    tasks = app.get("/v1/scheduled-tasks", headers=AUDITOR).json()
    assert {t["name"] for t in tasks} == {"releases", "review-reminders", "improvement-plans", "faq"}
    assert next(t for t in tasks if t["name"] == "releases")["runs"] == 3
    assert app.get("/v1/scheduled-tasks", headers=QA).status_code == 403

    # a release time already past is a release now (an appeal window never starts in the past)
    (past,) = stream(3, agents=[("g0", "agent-7")], calls=1, start=now - timedelta(days=1), days=1)
    feed_all(app, [past])
    earlier = (now - timedelta(days=3)).isoformat()
    released = review(app, past.evaluation_id, release_at=earlier)["version"]
    assert datetime.fromisoformat(released["released_at"]) >= now and released["released_by"] == "qa-lin"


def test_the_service_loop_releases_on_time(sqlite_url: str, coaching_kafka: KafkaSettings) -> None:
    for app in started(make_settings(sqlite_url, coaching_kafka, sweep_interval_s=1, release_interval_s=1)):
        released_by_the_loop(app)


def released_by_the_loop(app: TestClient) -> None:
    (evaluation,) = stream(4, agents=[("g0", "agent-7")], calls=1, start=datetime.now(UTC), days=1)
    feed_all(app, [evaluation])
    when = datetime.now(UTC) + timedelta(seconds=1)
    review(app, evaluation.evaluation_id, release_at=when.isoformat())
    url = f"/v1/evaluations/{evaluation.evaluation_id}"
    assert app.get(url, headers=AGENT).status_code == 404
    seen = wait_for(lambda: app.get(url, headers=AGENT).json().get("released"), timeout=10)
    assert seen["released_by"] == "scheduler" and datetime.fromisoformat(seen["released_at"]) >= when


def plan_of(app: TestClient, **fields: Any) -> dict[str, Any]:
    body = {"agent_id": "agent-7", "group": "g0", "scorecard_id": "test-card", "focus_items": ["closing"]}
    answer = app.post("/v1/improvement-plans", json=body | fields, headers=QA)
    assert answer.status_code == 201, answer.text
    plan: dict[str, Any] = answer.json()
    return plan


def test_plan_edits_need_the_current_revision(app: TestClient) -> None:
    plan = plan_of(app, goal_calls=10)
    url = f"/v1/improvement-plans/{plan['id']}"
    etag = app.get(url, headers=QA).headers["ETag"]
    assert etag == f'"{plan["revision"]}"'
    missing = app.put(url, json={"goal_calls": 12}, headers=QA)
    assert missing.status_code == 428 and missing.json()["errors"][0]["field"] == "If-Match"
    first = app.put(url, json={"goal_calls": 12}, headers=QA | {"If-Match": etag})
    assert first.status_code == 200 and first.headers["ETag"] != etag
    stale = app.put(url, json={"goal_calls": 99}, headers=SUPERVISOR | {"If-Match": etag})  # based on the old one
    assert stale.status_code == 409 and "revision" in stale.json()["detail"]
    assert stale.headers["content-type"].startswith("application/problem+json")
    assert app.get(url, headers=QA).json()["goal_calls"] == 12  # the first edit stands
    # a transition is a change too: an edit based on the revision before it is stale
    app.post(f"{url}/activate", headers=QA)
    assert app.put(url, json={"goal_calls": 15}, headers=QA | {"If-Match": first.headers["ETag"]}).status_code == 409
    assert app.put(url, json={"goal_calls": 15}, headers=AGENT | {"If-Match": etag}).status_code == 403
    assert app.put("/v1/improvement-plans/nope", json={}, headers=QA | {"If-Match": etag}).status_code == 404


def test_check_ins_every_follow_up_period_with_interim_figures(both: TestClient) -> None:
    app = both
    now = datetime.now(UTC)
    plan = plan_of(app, goal_days=21, goal_pass_rate=0.9, follow_up_every_days=7, baseline_days=7)
    pid, url = plan["id"], f"/v1/improvement-plans/{plan['id']}"
    feed_all(app, stream(5, agents=[("g0", "agent-7")], calls=10, start=now - timedelta(days=7), days=7))
    plans = app.app.state.improvement  # type: ignore[attr-defined]
    assert plans.sweep(now + timedelta(days=8))["check_ins"] == 0  # a draft has no check-ins
    activated = app.post(f"{url}/activate", headers=QA).json()
    start = datetime.fromisoformat(activated["activated_at"])
    feed_all(
        app,
        stream(6, agents=[("g0", "agent-7")], calls=8, rates={("g0", None, "closing"): 0.5}, start=start, days=6),
    )
    assert plans.sweep(start + timedelta(days=6))["check_ins"] == 0  # not due yet
    assert plans.sweep(start + timedelta(days=7, hours=1))["check_ins"] == 1
    assert plans.sweep(start + timedelta(days=7, hours=2))["check_ins"] == 0  # made once

    first = app.get(f"{url}/check-ins", headers=AGENT).json()["items"]  # the plan's agent reads them
    assert [c["number"] for c in first] == [1]
    figures = first[0]["figures"]
    assert figures["calls"] == 8 and figures["status"] == "active" and figures["goal_pass_rate"] == 0.9
    failed = figures["items"]["closing"]["failed"]
    assert figures["passed"] == 8 - failed and figures["on_track"] is (figures["pass_rate"] >= 0.9)
    assert datetime.fromisoformat(first[0]["due_at"]) == start + timedelta(days=7)
    assert app.get(url, headers=QA).json()["reminders"] == 1  # the check-in reminded the coach
    assert app.get(f"{url}/check-ins", headers=OTHER_AGENT).status_code == 403

    # the coach holds it: recorded once, by staff only
    done = f"{url}/check-ins/1/done"
    assert app.post(done, json={"notes": "n"}, headers=AGENT).status_code == 403
    assert app.post(f"{url}/check-ins/9/done", json={}, headers=QA).status_code == 404
    held = app.post(done, json={"notes": "went through the closings"}, headers=QA)
    assert held.status_code == 200 and held.json()["done_by"] == "qa-lin"
    again = app.post(done, json={}, headers=QA)
    assert again.status_code == 409 and again.headers["content-type"].startswith("application/problem+json")

    # in follow-up the check-ins go on every 7 days (from coaching), with the before window beside
    app.post(f"{url}/coached", json={"at": start.isoformat()}, headers=QA)
    assert plans.sweep(start + timedelta(days=7, hours=3))["check_ins"] == 0
    assert plans.sweep(start + timedelta(days=14, hours=1))["check_ins"] == 1
    latest = app.get(f"{url}/check-ins", headers=QA).json()["items"][-1]
    assert latest["number"] == 2 and latest["figures"]["status"] == "in_follow_up"
    assert latest["figures"]["before"]["calls"] == 10

    # check-ins are not activity: a plan nobody works on expires
    idle = plan_of(app, goal_calls=5, follow_up_every_days=1, agent_id="agent-8")
    app.post(f"/v1/improvement-plans/{idle['id']}/activate", headers=QA)
    counts = plans.sweep(now + timedelta(days=30))
    assert counts["check_ins"] == 1
    assert app.get(f"/v1/improvement-plans/{pid}", headers=QA).json()["status"] == "closed"  # its window ended
    assert app.post(f"{url}/check-ins/2/done", json={}, headers=QA).status_code == 409  # the plan is closed
    assert plans.sweep(now + timedelta(days=95))["expired"] == 1
    assert app.get(f"/v1/improvement-plans/{idle['id']}", headers=QA).json()["status"] == "expired"


def test_the_stored_faq_loses_a_purged_call_at_once(app: TestClient) -> None:
    """(On PostgreSQL too through tests/coaching/test_events.py's purge.)"""
    library = app.app.state.library  # type: ignore[attr-defined]
    texts = ["我想查一下这个月的账单", "我想查询这个月的账单", "查一下我这个月的账单"]
    recordings = [str(uuid.uuid4()) for _ in texts]
    for n, (rid, text) in enumerate(zip(recordings, texts, strict=True)):
        document = transcript(rid, [("agent", "您好"), ("customer", text), ("agent", f"好的，第{n}位")])
        assert library.on_transcript_ready(ready_event(document, agent_id="agent-7").payload)
    assert library.refresh_faq()["recomputed"] == 1
    (entry,) = app.get("/v1/faq", headers=AGENT).json()["entries"]
    assert entry["calls"] == 3
    gone = recordings[texts.index(entry["question"])]  # purge the call whose request is the entry's question

    library.on_recording_purged(recording_purged(gone).payload)
    stored = app.get("/v1/faq", headers=AGENT)
    (entry,) = stored.json()["entries"]
    assert entry["calls"] == 2 and entry["question"] in texts and stored.json()["stale"] is True
    purged_text = texts[recordings.index(gone)]
    assert purged_text not in stored.text and all(a["recording_id"] != gone for a in entry["answers"])
    assert library.refresh_faq() == {"recomputed": 1, "entries": 1}
    assert app.get("/v1/faq", headers=AGENT).json()["stale"] is False
