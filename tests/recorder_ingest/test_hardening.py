"""Inputs and outputs found wrong under faults (issue 13): out-of-range integers, time zones read back from
the database, text and times no call can have, and purges the store refuses without saying why. The
service is configured from its environment and migrated by `python -m recorder_ingest migrate`, on SQLite
and on PostgreSQL."""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from prometheus_client import REGISTRY

from callqa.auth import Role
from callqa.storage import ObjectStore
from recorder_ingest.archive import RecordingArchive
from recorder_ingest.config import Settings
from tests.recorder_ingest.helpers import AUDITOR, bearer, metadata, post, rows

QA = bearer(Role.qa_analyst, subject="qa-lin")
SUPERVISOR = bearer(Role.supervisor, subject="sup-wu")
RFC3339_WITH_OFFSET = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)$")


def archive_of(client: TestClient) -> RecordingArchive:
    archive: RecordingArchive = client.app.state.archive  # type: ignore[attr-defined]
    return archive


def test_out_of_range_offsets_are_a_422_naming_the_field(env_client: TestClient) -> None:
    for path, headers in (("/v1/recordings", QA), ("/v1/audit", AUDITOR)):
        for offset in (2**63, 2**64, 2**31, -1):
            response = env_client.get(path, params={"offset": offset}, headers=headers)
            assert response.status_code == 422, (path, offset, response.text)
            assert response.headers["content-type"] == "application/problem+json"
            assert [e["field"] for e in response.json()["errors"]] == ["offset"]
        assert env_client.get(path, params={"offset": 2**31 - 1}, headers=headers).status_code == 200


def timestamps(document: Any) -> list[str]:
    """Every value of a key ending in `_at`/`_until` or named `at`, anywhere in a JSON document."""
    found = []
    if isinstance(document, dict):
        for key, value in document.items():
            if isinstance(value, str) and (key == "at" or key.endswith(("_at", "_until"))):
                found.append(value)
            else:
                found += timestamps(value)
    elif isinstance(document, list):
        for value in document:
            found += timestamps(value)
    return found


def test_timestamps_read_back_from_the_database_are_timezone_aware_utc(
    env_client: TestClient, stereo_wav: Path
) -> None:
    meta = metadata("call-tz", started_at="2026-11-02T09:30:00+08:00", legal_hold={"reason": "dispute #1"})
    meta["consent"]["at"] = "2026-11-02T09:29:00+08:00"
    created = post(env_client, stereo_wav, meta).json()
    recording_id = created["id"]
    env_client.get(f"/v1/recordings/{recording_id}/audio", params={"purpose": "qa_review"}, headers=QA)

    read = env_client.get(f"/v1/recordings/{recording_id}", headers=QA).json()
    assert read["started_at"] == "2026-11-02T01:30:00Z", "the same instant, in UTC"
    assert read["consent"]["at"] == "2026-11-02T01:29:00Z"
    listed = env_client.get("/v1/recordings", headers=QA).json()["items"]
    audit = env_client.get("/v1/audit", headers=AUDITOR).json()["items"]
    assert created["started_at"] == read["started_at"] and created["retention"] == read["retention"], "as read back"
    values = timestamps([created, read, listed, audit])
    assert len(values) >= 8
    assert all(RFC3339_WITH_OFFSET.match(value) for value in values), values  # OpenAPI's date-time
    assert all(datetime.fromisoformat(value).utcoffset() == timedelta(0) for value in values), values

    # Filters compare instants, whatever offset the stored value or the bound was written in.
    def found(**bounds: str) -> list[str]:
        return [r["id"] for r in env_client.get("/v1/recordings", params=bounds, headers=QA).json()["items"]]

    assert found(started_from="2026-11-02T01:00:00Z", started_to="2026-11-02T02:00:00Z") == [recording_id]
    assert found(started_from="2026-11-02T09:00:00+08:00", started_to="2026-11-02T10:00:00+08:00") == [recording_id]
    assert found(started_from="2026-11-02T02:00:00Z") == []
    assert found(started_from="0001-01-01T00:00:00+08:00") == [recording_id], "an extreme bound is no 500"


NUL = "\x00"


ODD_METADATA: list[tuple[dict[str, Any], str]] = [
    ({"call_id": "   "}, "metadata.call_id"),
    ({"call_id": f"pbx{NUL}-1"}, "metadata.call_id"),
    ({"call_id": "pbx-1\n"}, "metadata.call_id"),
    ({"agent_id": f"agent{NUL}"}, "metadata.agent_id"),
    ({"agent_id": "\u3000"}, "metadata.agent_id"),  # an ideographic space is blank too
    ({"group": "\x1b[31mbilling"}, "metadata.group"),
    ({"queue": f"q{NUL}"}, "metadata.queue"),
    ({"platform": " "}, "metadata.platform"),
    ({"retention_policy": f"default{NUL}"}, "metadata.retention_policy"),
    ({"legal_hold": {"reason": "     "}}, "metadata.legal_hold.reason"),
    ({"legal_hold": {"reason": f"dispute{NUL}"}}, "metadata.legal_hold.reason"),
    ({"started_at": "0001-01-01T00:00:00+00:00"}, "metadata.started_at"),
    ({"started_at": "1989-12-31T23:59:59Z"}, "metadata.started_at"),
    ({"started_at": "2999-01-01T00:00:00Z"}, "metadata.started_at"),
    ({"consent": {"status": "accepted", "at": "0001-01-01T00:00:00Z"}}, "metadata.consent.at"),
]


def test_text_and_times_no_call_can_have_are_refused_naming_the_field(
    env_client: TestClient, env_settings: Settings, stereo_wav: Path
) -> None:
    for change, field in ODD_METADATA:
        response = post(env_client, stereo_wav, metadata("call-odd") | change)
        assert response.status_code == 422, (change, response.text)
        assert field in [e["field"] for e in response.json()["errors"]], (change, response.text)
    assert rows(env_settings) == []
    assert list(ObjectStore.from_settings(env_settings.s3).list_keys("recordings/")) == []


def test_text_in_queries_is_checked_too(env_client: TestClient, stereo_wav: Path) -> None:
    recording_id = post(env_client, stereo_wav, metadata("call-text")).json()["id"]
    refused = [
        env_client.get(f"/v1/recordings/{recording_id}/audio", params={"purpose": "   "}, headers=QA),
        env_client.get(f"/v1/recordings/{recording_id}/audio", params={"purpose": f"qa{NUL}"}, headers=QA),
        env_client.delete(f"/v1/recordings/{recording_id}/legal-hold", params={"reason": "   "}, headers=SUPERVISOR),
        env_client.delete(f"/v1/recordings/{recording_id}", params={"reason": f"gdpr{NUL}"}, headers=SUPERVISOR),
        env_client.put(f"/v1/recordings/{recording_id}/legal-hold", json={"reason": "\t\t\t"}, headers=SUPERVISOR),
        env_client.get("/v1/recordings", params={"agent_id": f"a{NUL}"}, headers=QA),
        env_client.get("/v1/recordings", params={"tag": f"t{NUL}"}, headers=QA),
        env_client.get("/v1/audit", params={"actor": f"a{NUL}"}, headers=AUDITOR),
    ]
    assert [r.status_code for r in refused] == [422] * len(refused), [r.text for r in refused]
    assert env_client.get("/v1/recordings/%00", headers=QA).status_code == 404


def metric(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def test_a_purge_the_store_refuses_says_why_in_the_metric_and_on_the_recording(
    env_client: TestClient, env_settings: Settings, stereo_wav: Path
) -> None:
    started = "2020-01-01T09:00:00+08:00"  # the default policy (180 days) ended long ago
    recording_id = post(env_client, stereo_wav, metadata("call-old", started_at=started, tags=[])).json()["id"]
    archive = archive_of(env_client)
    key = archive.get(recording_id).audio_key
    assert key is not None
    store = ObjectStore.from_settings(env_settings.s3)
    until = datetime.now(UTC).replace(microsecond=0) + timedelta(seconds=6)
    store.set_retention(key, until)  # the store keeps it longer than the database says (clock skew, an edit)
    before = metric("callqa_ingest_purge_failed_total", reason="retention_not_expired")

    assert archive.purge_expired().failed == 1
    assert archive.purge_expired().failed == 1, "retried every run"
    assert metric("callqa_ingest_purge_failed_total", reason="retention_not_expired") == before + 2
    blocked = env_client.get(f"/v1/recordings/{recording_id}", headers=QA).json()
    assert blocked["audio"]["status"] == "stored"
    assert blocked["retention"]["purge_blocked"]["reason"] == "retention_not_expired"
    assert until.isoformat() in blocked["retention"]["purge_blocked"]["detail"]
    assert RFC3339_WITH_OFFSET.match(blocked["retention"]["purge_blocked"]["at"])

    # Once the store's date has passed the purge goes through and the block is cleared.
    time.sleep(max(0.0, (until - datetime.now(UTC)).total_seconds()) + 1)
    assert archive.purge_expired().purged == 1
    purged = env_client.get(f"/v1/recordings/{recording_id}", headers=QA).json()
    assert purged["audio"]["status"] == "purged"
    assert purged["retention"]["purge_blocked"] is None
