"""Every attempt to reach a recording's audio is audited, refused ones included (issue 13): 401 without
valid credentials, 403 without a reader role or for another agent's call, 404, 422. The audit row says
who (the principal, the claimed subject of an expired or forged token, or "anonymous"; never the
credential), what, the outcome and when. The service is configured from its environment."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta
from pathlib import Path

import jwt
from fastapi.testclient import TestClient
from pydantic import SecretStr

from callqa.auth import Authenticator, Role
from callqa.settings import AuthSettings
from tests.recorder_ingest.helpers import AUDITOR, JWT_SECRET, PLATFORM, bearer, metadata, post


def token(subject: str, roles: list[str], *, secret: str = JWT_SECRET, ttl: timedelta = timedelta(minutes=5)) -> str:
    return Authenticator(AuthSettings(jwt_secret=SecretStr(secret))).issue_token(subject, roles, ttl)


def test_refused_audio_accesses_are_audited_with_who_what_outcome_and_when(
    env_client: TestClient, stereo_wav: Path
) -> None:
    recording_id = post(env_client, stereo_wav, metadata("call-refused", agent_id="agent-9")).json()["id"]
    url = f"/v1/recordings/{recording_id}/audio"
    expired = token("qa-old", ["qa_analyst"], ttl=timedelta(minutes=-5))
    forged = token("sup-wu", ["supervisor"], secret="not-the-secret-" * 3)
    attempts = [
        ({}, {"purpose": "qa_review"}, 401),
        ({"X-API-Key": "k-guessed-secret"}, {"purpose": "qa_review"}, 401),
        ({"Authorization": f"Bearer {expired}"}, {"purpose": "qa_review"}, 401),
        ({"Authorization": f"Bearer {forged}"}, {"purpose": "dispute"}, 401),
        ({"Authorization": "Bearer not-a-jwt"}, {"purpose": "qa_review"}, 401),
        (PLATFORM, {"purpose": "curious", "delivery": "url"}, 403),
        ({"Authorization": f"Bearer {token('nobody', [])}"}, {"purpose": "curious"}, 403),
        (bearer(Role.agent, subject="agent-1"), {"purpose": "curious"}, 403),
        (bearer(Role.qa_analyst, subject="qa-lin"), {}, 422),
        (bearer(Role.qa_analyst, subject="qa-lin"), {"purpose": "qa_review"}, 200),
    ]
    before = datetime.now().astimezone()
    for headers, params, status in attempts:
        response = env_client.get(url, params=params, headers=headers)
        assert response.status_code == status, (headers, response.text)
        if status != 200:
            assert response.headers["content-type"] == "application/problem+json"

    log = env_client.get("/v1/audit", params={"recording_id": recording_id, "limit": 50}, headers=AUDITOR).json()
    entries = list(reversed(log["items"]))
    assert [(e["actor"], e["roles"], e["action"], e["purpose"], e["outcome"]) for e in entries] == [
        ("anonymous", [], "audio.stream", "qa_review", "denied"),
        ("anonymous", [], "audio.stream", "qa_review", "denied"),
        ("qa-old", [], "audio.stream", "qa_review", "denied"),  # the signature holds: an expired session
        ("unverified:sup-wu", [], "audio.stream", "dispute", "denied"),  # anyone can claim a subject
        ("anonymous", [], "audio.stream", "qa_review", "denied"),
        ("pbx-east", ["ingest"], "audio.url", "curious", "denied"),
        ("nobody", [], "audio.stream", "curious", "denied"),
        ("agent-1", ["agent"], "audio.stream", "curious", "denied"),
        ("qa-lin", ["qa_analyst"], "audio.stream", None, "denied"),
        ("qa-lin", ["qa_analyst"], "audio.stream", "qa_review", "allowed"),
    ]
    details = [e["detail"] or "" for e in entries]
    assert details[0].startswith("401") and details[5].startswith("403") and details[8].startswith("422")
    assert "expired" in details[2].lower() and "purpose" in details[8]
    for entry in entries:
        assert before - timedelta(seconds=5) <= datetime.fromisoformat(entry["at"]) <= datetime.now().astimezone()
        assert entry["client"] == "testclient"
    written = json.dumps(log)
    for secret in ("k-guessed-secret", expired, forged, "not-a-jwt", "k-pbx", JWT_SECRET):
        assert secret not in written, "credentials never reach the audit log"


def test_attempts_on_recordings_that_do_not_exist_or_with_odd_ids_are_audited(env_client: TestClient) -> None:
    missing = str(uuid.uuid4())
    qa = bearer(Role.qa_analyst, subject="qa-lin")
    assert env_client.get(f"/v1/recordings/{missing}/audio", params={"purpose": "qa"}, headers=qa).status_code == 404
    assert env_client.get(f"/v1/recordings/{missing}/audio", params={"purpose": "qa"}).status_code == 401
    odd = "/v1/recordings/%00" + "x" * 60 + "/audio"
    assert env_client.get(odd, params={"purpose": "qa\x00"}, headers=qa).status_code == 422
    assert env_client.get(odd, params={"purpose": "qa"}, headers=qa).status_code == 404

    by_id = env_client.get("/v1/audit", params={"recording_id": missing}, headers=AUDITOR).json()["items"]
    assert [(e["actor"], e["outcome"]) for e in reversed(by_id)] == [("qa-lin", "denied"), ("anonymous", "denied")]
    everything = env_client.get("/v1/audit", params={"actor": "qa-lin"}, headers=AUDITOR).json()["items"]
    odd_ones = [e for e in reversed(everything) if e["recording_id"] != missing]
    assert [e["recording_id"] for e in odd_ones] == ["\ufffd" + "x" * 35] * 2, "cut to the column, NUL replaced"
    assert [e["purpose"] for e in odd_ones] == ["qa\ufffd", "qa"]


def test_a_token_whose_subject_carries_control_characters_is_recorded_harmlessly(env_client: TestClient) -> None:
    forged = jwt.encode({"sub": "evil\x00\nname", "roles": ["admin"]}, "x" * 32, algorithm="HS256")
    url = f"/v1/recordings/{uuid.uuid4()}/audio"
    assert env_client.get(url, params={"purpose": "qa"}, headers={"Authorization": f"Bearer {forged}"}).status_code == (
        401
    )
    entries = env_client.get("/v1/audit", headers=AUDITOR).json()["items"]
    assert entries[0]["actor"] == "unverified:evil\ufffd\ufffdname"
