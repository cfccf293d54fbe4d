"""Data made for the run on each fresh instance, so the fuzzer and the matrix reach real objects:
a stored recording of the agent key's subject; on the scorer an evaluation of that agent (scored
from a transcript.ready event on the instances' broker, its transcript where the transcriber would
have put it) and a re-score job."""

from __future__ import annotations

import json
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from callqa.auth import Role
from callqa.settings import KafkaSettings, S3Settings
from callqa.storage import ObjectStore
from tests.api.helpers import AGENT_SUBJECT, Instance
from tests.scorer.helpers import GOOD_CALL, publish, ready_event, transcript


def _tone(path: Path) -> bytes:
    subprocess.run(
        ["sox", "-n", "-r", "8000", "-c", "2", "-e", "u-law", str(path), "synth", "2", "sine", "440"], check=True
    )
    return path.read_bytes()


def seed_ingest(instance: Instance) -> None:
    with tempfile.TemporaryDirectory() as spool:
        audio = _tone(Path(spool) / "seed.wav")
    metadata = {
        "call_id": "seed-0001",
        "platform": "pbx-east",
        "agent_id": AGENT_SUBJECT,
        "group": "billing",
        "queue": "billing-zh",
        "started_at": "2026-11-02T09:30:00+08:00",
        "customer_number": "+86 138 0013 8000",
        "language": "zh",
        "tags": ["complaint"],
        "consent": {"status": "notified", "method": "ivr_announcement"},
    }
    posted = instance.http.post(
        "/v1/recordings",
        files={"audio": ("seed.wav", audio, "audio/wav")},
        data={"metadata": json.dumps(metadata)},
        headers={"X-API-Key": f"key-{Role.ingest.value}"},
    )
    assert posted.status_code == 201, posted.text
    instance.seeds["recording_id"] = posted.json()["id"]


def seed_scorer(instance: Instance) -> None:
    env = instance.env
    kafka = KafkaSettings(bootstrap_servers=env["CALLQA_SCORER_KAFKA__BOOTSTRAP_SERVERS"])
    document = transcript("seed-recording", GOOD_CALL)
    event = ready_event(document, agent_id=AGENT_SUBJECT)
    store = ObjectStore.from_settings(
        S3Settings(endpoint=env["CALLQA_SCORER_S3__ENDPOINT"], bucket=env["CALLQA_SCORER_TRANSCRIPTS_BUCKET"])
    )
    store.ensure_bucket()
    store.put_bytes(event.payload.transcript_key, document.model_dump_json().encode())
    publish(kafka, event)

    qa = {"X-API-Key": f"key-{Role.qa_analyst.value}"}
    deadline = time.monotonic() + 60
    while not (items := instance.http.get("/v1/evaluations", headers=qa).json()["items"]):
        assert time.monotonic() < deadline, "the seeded transcript was not scored"
        time.sleep(0.2)
    instance.seeds["evaluation_id"] = items[0]["id"]
    job = instance.http.post("/v1/scorecards/default-zh/rescore", json={"group": "billing"}, headers=qa)
    assert job.status_code == 202, job.text
    instance.seeds |= {"job_id": job.json()["id"], "scorecard_id": "default-zh", "version": "1"}


def seed_reporting(instance: Instance) -> None:
    """A report run about the agent key's subject (empty: no evaluations on this instance) and a schedule."""
    qa = {"X-API-Key": f"key-{Role.qa_analyst.value}"}
    run = instance.http.post(
        "/v1/report-runs", json={"kind": "weekly", "day": "2026-11-02", "agent_id": AGENT_SUBJECT}, headers=qa
    )
    assert run.status_code == 201, run.text
    schedule = instance.http.post("/v1/schedules", json={"name": "seed", "kind": "monthly"}, headers=qa)
    assert schedule.status_code == 201, schedule.text
    instance.seeds |= {"run_id": run.json()["id"], "schedule_id": schedule.json()["id"]}


SEEDERS: dict[str, Callable[[Instance], None]] = {
    "recorder-ingest": seed_ingest,
    "scorer": seed_scorer,
    "reporting": seed_reporting,
}
