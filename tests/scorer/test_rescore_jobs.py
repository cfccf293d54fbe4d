"""Re-score jobs cannot get lost: a run that raises ends its job `failed` with the reason, and jobs a
previous process left unfinished are resumed (or failed with the reason) when the service starts;
one replica only wins each such job. Against a real broker, object store and SQLite/PostgreSQL, with
the service configured from its environment and migrated by `python -m scorer migrate`."""

from __future__ import annotations

import threading
import time
from datetime import timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text
from sqlmodel import select

from callqa.db import Database
from callqa.events import utcnow
from callqa.storage import ObjectStore
from scorer.config import Settings
from scorer.library import ScorecardLibrary
from scorer.main import create_app
from scorer.scoring import Scorer
from scorer.tables import EvaluationRecord, RescoreJob, TranscriptSeen
from tests.scorer.helpers import GOOD_CALL, QA, transcript

pytestmark = pytest.mark.timeout(180)


def finished(client: TestClient, job_id: str, timeout: float = 30) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        state: dict[str, Any] = client.get(f"/v1/rescore-jobs/{job_id}", headers=QA).json()
        if state["status"] in ("done", "failed"):
            return state
        assert time.monotonic() < deadline, state
        time.sleep(0.2)


def remembered(db: Database, store: ObjectStore, recording_id: str, *, stored: bool = True) -> None:
    """A transcript the scorer saw earlier; `stored=False`: its document is missing from the store."""
    key = f"transcripts/{recording_id}.json"
    if stored:
        store.put_bytes(key, transcript(recording_id, GOOD_CALL).model_dump_json().encode())
    with db.session() as session:
        session.add(
            TranscriptSeen(
                recording_id=recording_id,
                transcript_version="whisper-base@test",
                transcript_key=key,
                language="zh",
                agent_id="agent-1",
                group="billing",
                queue="billing-zh",
                started_at=utcnow() - timedelta(days=1),
            )
        )


def job(job_id: str, status: str, version: int = 1, **fields: Any) -> RescoreJob:
    return RescoreJob(
        id=job_id,
        scorecard_id="default-zh",
        scorecard_version=version,
        filters={"group": "billing"},
        status=status,
        created_by="qa-lin",
        **fields,
    )


def test_a_rescore_that_raises_ends_failed_with_the_reason(env_settings: Settings) -> None:
    with TestClient(create_app(env_settings)) as client:
        db = Database(env_settings.database_url)
        with db.engine.begin() as connection:  # the run's query for the calls to re-score fails
            connection.execute(text("ALTER TABLE transcripts_seen RENAME TO transcripts_seen_elsewhere"))
        db.dispose()
        started = client.post("/v1/scorecards/default-zh/rescore", json={"group": "billing"}, headers=QA)
        assert started.status_code == 202, started.text

        ended = finished(client, started.json()["id"])
        assert ended["status"] == "failed", ended
        assert "transcripts_seen" in ended["error"] and "\n" not in ended["error"], "one readable line"
        assert "SELECT" not in ended["error"], "the database's reason, not the SQL"
        assert ended["finished_at"] is not None
        assert started.json()["error"] is None


def test_jobs_left_unfinished_are_resumed_or_failed_with_the_reason_when_the_service_starts(
    env_settings: Settings, unique: str
) -> None:
    db = Database(env_settings.database_url)
    store = ObjectStore.from_settings(env_settings.s3.model_copy(update={"bucket": env_settings.transcripts_bucket}))
    store.ensure_bucket()
    calls = [f"call-{unique}-{n}" for n in range(3)]
    for recording_id in calls[:2]:
        remembered(db, store, recording_id)
    remembered(db, store, calls[2], stored=False)
    crashed = utcnow() - timedelta(minutes=5)
    with db.session() as session:
        # A previous process died mid-run: its claim and lease are stale, its counts half-way.
        session.add(
            job("interrupted", "running", total=3, done=1, claimed_by="scorer-0/41/dead", lease_expires_at=crashed)
        )
        session.add(job("card-gone", "queued", version=99))  # queued before a 0003 schema: no claim at all
        # Another replica's live run: not this start-up's to take.
        session.add(
            job("held", "running", claimed_by="scorer-1/7/alive", lease_expires_at=utcnow() + timedelta(hours=1))
        )

    with TestClient(create_app(env_settings)) as client:
        resumed = finished(client, "interrupted")
        assert resumed["status"] == "done", resumed
        assert (resumed["total"], resumed["done"], resumed["failed"]) == (3, 2, 1), (
            "a missing transcript counts as failed"
        )
        assert resumed["error"] is None and resumed["finished_at"] is not None

        gone = finished(client, "card-gone")
        assert gone["status"] == "failed"
        assert gone["error"] == "scorecard default-zh v99 no longer exists"

    with db.session() as session:
        scored = session.exec(
            select(EvaluationRecord.recording_id).where(EvaluationRecord.scorecard_version == 1)
        ).all()
        held = session.get(RescoreJob, "held")
    assert set(scored) == set(calls[:2])
    assert held is not None and (held.status, held.claimed_by) == ("running", "scorer-1/7/alive")
    db.dispose()


def test_replicas_starting_at_once_resume_each_job_once(env_settings: Settings) -> None:
    replicas = [Database(env_settings.database_url) for _ in range(4)]
    ScorecardLibrary(replicas[0]).seed_defaults()
    jobs = [f"orphan-{n}" for n in range(8)]
    with replicas[0].session() as session:
        for job_id in jobs:
            session.add(job(job_id, "running", claimed_by="scorer-0/41/dead", lease_expires_at=utcnow()))
    scorers = [Scorer(db, ScorecardLibrary(db), ObjectStore.from_settings(env_settings.s3)) for db in replicas]
    barrier = threading.Barrier(len(scorers))
    won: list[list[tuple[str, str]]] = [[] for _ in scorers]

    def start(n: int) -> None:
        barrier.wait()
        won[n] = scorers[n].claim_orphaned_jobs()

    threads = [threading.Thread(target=start, args=(n,)) for n in range(len(scorers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)

    claims = dict(claim for claims in won for claim in claims)
    assert sorted(job_id for claims in won for job_id, _ in claims) == jobs, "every job won exactly once"
    with replicas[0].session() as session:
        stored = {row.id: row.claimed_by for row in session.exec(select(RescoreJob))}
    assert stored == claims
    assert all(not scorer.claim_orphaned_jobs() for scorer in scorers), "held while their leases run"

    # A run that lost its job to another claimant writes nothing more.
    scorers[0].rescore(jobs[0], "scorer-0/41/dead")
    with replicas[0].session() as session:
        after = session.get(RescoreJob, jobs[0])
    assert after is not None and (after.status, after.claimed_by) == ("running", claims[jobs[0]])

    # A run stopped by a shutdown leaves its job `running` and released: the next start resumes it at once.
    remembered(replicas[0], ObjectStore.from_settings(env_settings.s3), "call-never-loaded", stored=False)
    stop = threading.Event()
    stop.set()
    scorers[1].rescore(jobs[1], claims[jobs[1]], stop=stop)
    with replicas[0].session() as session:
        released = session.get(RescoreJob, jobs[1])
    assert released is not None and (released.status, released.claimed_by, released.total) == ("running", None, 1)
    assert [job_id for job_id, _ in scorers[2].claim_orphaned_jobs()] == [jobs[1]]
    for db in replicas:
        db.dispose()
