"""What the schema fuzzer found before issue 13's fixes, one check each, on the fuzzer's instances (PostgreSQL):

- integers beyond the database's columns (offsets, versions) answered 500 (integer out of range), not 422
  naming the field;
- a timestamp without a time zone must be refused (422) or read as UTC, never answer 5xx or fail a job;
- a blank call id passed validation, a NUL one answered 500 (PostgreSQL cannot store it): 422 naming it;
- re-score jobs readable by every reader is a row of the authorisation matrix (test_authz.py).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from callqa.auth import Role
from tests.api.helpers import Instance, key_headers

pytestmark = pytest.mark.timeout(120)

HUGE = 2**63  # one past a PostgreSQL BIGINT


def assert_refused(answer: httpx.Response, field: str) -> None:
    assert answer.status_code == 422, f"{answer.status_code} {answer.text}"
    assert field in {error["field"] for error in answer.json()["errors"]}, answer.text


@pytest.mark.parametrize(
    ("service", "path", "role"),
    [
        ("recorder-ingest", "/v1/recordings", Role.qa_analyst),
        ("recorder-ingest", "/v1/audit", Role.auditor),
        ("scorer", "/v1/scorecards", Role.qa_analyst),
        ("scorer", "/v1/evaluations", Role.qa_analyst),
    ],
)
def test_an_offset_beyond_any_page_is_refused_naming_it(
    instances: Callable[[str], Instance], service: str, path: str, role: Role
) -> None:
    answer = instances(service).http.get(path, params={"offset": HUGE}, headers=key_headers(role))
    assert_refused(answer, "offset")


@pytest.mark.parametrize(
    ("method", "path", "kwargs"),
    [
        ("GET", f"/v1/scorecards/default-zh/versions/{HUGE}", {}),
        ("POST", "/v1/scorecards/default-zh/dry-run", {"params": {"version": HUGE}, "json": {}}),
        ("POST", "/v1/scorecards/default-zh/rescore", {"json": {"version": HUGE}}),
    ],
    ids=["path", "dry-run query", "rescore body"],
)
def test_a_version_beyond_any_version_is_refused_naming_it(
    instances: Callable[[str], Instance], method: str, path: str, kwargs: dict[str, Any]
) -> None:
    answer = instances("scorer").http.request(method, path, headers=key_headers(Role.qa_analyst), **kwargs)
    assert_refused(answer, "version")


NAIVE = "2026-11-02T01:30:00"  # the seeded call started at 2026-11-02T01:30:00Z


@pytest.mark.parametrize(
    ("service", "path", "role", "name"),
    [
        ("recorder-ingest", "/v1/recordings", Role.qa_analyst, "started_from"),
        ("recorder-ingest", "/v1/recordings", Role.qa_analyst, "started_to"),
        ("recorder-ingest", "/v1/audit", Role.auditor, "since"),
        ("scorer", "/v1/evaluations", Role.qa_analyst, "started_from"),
        ("scorer", "/v1/evaluations", Role.qa_analyst, "started_to"),
    ],
)
def test_a_filter_without_a_time_zone_is_refused_or_read_as_utc(
    instances: Callable[[str], Instance], service: str, path: str, role: Role, name: str
) -> None:
    client, headers = instances(service).http, key_headers(role)
    naive = client.get(path, params={name: NAIVE}, headers=headers)
    if naive.status_code == 422:
        assert_refused(naive, name)
        return
    utc = client.get(path, params={name: NAIVE + "Z"}, headers=headers)
    assert naive.status_code == utc.status_code == 200, f"{naive.status_code} {naive.text}"
    assert naive.json()["total"] == utc.json()["total"], "a naive time is read as UTC"


def test_a_rescore_window_without_a_time_zone_is_refused_or_scores(instances: Callable[[str], Instance]) -> None:
    client, headers = instances("scorer").http, key_headers(Role.qa_analyst)
    started = client.post(
        "/v1/scorecards/default-zh/rescore", json={"started_from": "2026-11-01T00:00:00"}, headers=headers
    )
    if started.status_code == 422:
        assert_refused(started, "started_from")
        return
    assert started.status_code == 202, started.text
    deadline = time.monotonic() + 30
    while (job := client.get(f"/v1/rescore-jobs/{started.json()['id']}", headers=headers).json())["status"] not in (
        "done",
        "failed",
    ):
        assert time.monotonic() < deadline, job
        time.sleep(0.1)
    assert job["status"] == "done", job


@pytest.mark.parametrize("call_id", ["   ", "pbx\x00-1", "\t\n"], ids=["blank", "NUL", "whitespace"])
def test_a_blank_or_nul_call_id_is_refused_naming_it(instances: Callable[[str], Instance], call_id: str) -> None:
    metadata = {
        "call_id": call_id,
        "agent_id": "agent-1",
        "started_at": "2026-11-02T09:30:00+08:00",
        "consent": {"status": "notified"},
    }
    answer = instances("recorder-ingest").http.post(
        "/v1/recordings",
        files={"audio": ("call.wav", b"RIFF....WAVE", "audio/wav")},
        data={"metadata": json.dumps(metadata)},
        headers=key_headers(Role.ingest),
    )
    assert_refused(answer, "metadata.call_id")
