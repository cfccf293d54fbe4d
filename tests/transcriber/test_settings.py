"""The transcriber's settings as operators give them: from environment variables, the way the local stack and
docker-compose set them. Setting any `CALLQA_TRANSCRIBER_S3__*` variable must not lose the transcript bucket
(it once fell back to the recordings' bucket, so the scorer found no transcripts to re-score)."""

from __future__ import annotations

import os

import pytest

from callqa_stack import stack
from transcriber.config import Settings


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for key in list(os.environ):
        if key.startswith("CALLQA_TRANSCRIBER_"):
            monkeypatch.delenv(key)


def test_one_s3_variable_keeps_the_transcript_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLQA_TRANSCRIBER_S3__ENDPOINT", "minio:9000")
    settings = Settings()
    assert settings.s3.endpoint == "minio:9000"
    assert (settings.s3.bucket, settings.s3.object_lock) == ("callqa-transcripts", False)


def test_the_local_stacks_environment_gives_the_transcript_bucket(monkeypatch: pytest.MonkeyPatch) -> None:
    spec = next(s for s in stack.SERVICES if s.package == "transcriber")
    secrets = {"jwt_secret": "s" * 40, "ingest_api_key": "k1", "admin_api_key": "k2"}
    for key, value in stack.service_env(spec, stack.Ports(), secrets).items():
        monkeypatch.setenv(key, value)
    assert Settings().s3.bucket == "callqa-transcripts"


def test_a_bucket_given_is_taken(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CALLQA_TRANSCRIBER_S3__BUCKET", "site-transcripts")
    assert Settings().s3.bucket == "site-transcripts"
