"""Does what the stack holds add up? The checks the fault suite and the load benchmark run after faults.

Every retained recording (audio stored, consent not declined) must have exactly one transcript and one
evaluation per scorecard, every audio object a row, every row with audio its object, and every legal
hold the database records must be set on the object too. Everything is read through the services'
APIs and the object store, as an operator would.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from minio import Minio

from callqa_stack import servers
from callqa_stack.samples import SampleCall
from callqa_stack.stack import StackState

# The services' default buckets (`./run stack up` does not override them).
RECORDINGS_BUCKET = "callqa"
TRANSCRIPTS_BUCKET = "callqa-transcripts"
AUDIO_PREFIX = "recordings/"
PAGE = 100


class StackClient:
    """The local stack's APIs with the development admin and ingest keys."""

    def __init__(self, state: StackState, timeout: float = 30) -> None:
        self.state = state
        ports = state.ports.services
        self.ingest = httpx.Client(base_url=f"http://127.0.0.1:{ports['recorder-ingest']}", timeout=timeout)
        self.scorer = httpx.Client(base_url=f"http://127.0.0.1:{ports['scorer']}", timeout=timeout)
        self.platform = {"X-API-Key": state.secrets["ingest_api_key"]}
        self.admin = {"X-API-Key": state.secrets["admin_api_key"]}
        self.s3 = Minio(
            f"127.0.0.1:{state.ports.s3}",
            servers.S3_ACCESS_KEY,
            servers.S3_SECRET_KEY,
            secure=False,
            region=servers.S3_REGION,
        )

    def close(self) -> None:
        self.ingest.close()
        self.scorer.close()

    def post(self, call: SampleCall, call_id: str) -> httpx.Response:
        metadata = {**call.metadata, "call_id": call_id}
        with Path(call.path).open("rb") as audio:
            return self.ingest.post(
                "/v1/recordings",
                files={"audio": (call.path.name, audio, "audio/wav")},
                data={"metadata": json.dumps(metadata)},
                headers=self.platform,
            )

    def hold(self, recording_id: str, reason: str = "dispute") -> None:
        response = self.ingest.put(
            f"/v1/recordings/{recording_id}/legal-hold", json={"reason": reason}, headers=self.admin
        )
        response.raise_for_status()

    def recordings(self) -> list[dict[str, Any]]:
        return list(self._pages(self.ingest, "/v1/recordings"))

    def evaluations(self) -> list[dict[str, Any]]:
        return list(self._pages(self.scorer, "/v1/evaluations"))

    def _pages(self, client: httpx.Client, path: str) -> Iterator[dict[str, Any]]:
        offset = 0
        while True:
            page = client.get(path, params={"limit": PAGE, "offset": offset}, headers=self.admin)
            page.raise_for_status()
            body = page.json()
            yield from body["items"]
            offset += PAGE
            if offset >= body["total"]:
                return

    def objects(self, bucket: str, prefix: str) -> list[str]:
        return [o.object_name for o in self.s3.list_objects(bucket, prefix=prefix, recursive=True) if o.object_name]

    def object_held(self, key: str) -> bool:
        return bool(self.s3.is_object_legal_hold_enabled(RECORDINGS_BUCKET, key))


@dataclass
class Consistency:
    retained: int = 0
    transcripts_missing: list[str] = field(default_factory=list)
    evaluations_missing: list[str] = field(default_factory=list)
    evaluations_duplicated: list[str] = field(default_factory=list)
    orphan_objects: list[str] = field(default_factory=list)
    rows_without_audio: list[str] = field(default_factory=list)
    holds_lost: list[str] = field(default_factory=list)

    @property
    def problems(self) -> dict[str, list[str]]:
        found = {
            "transcripts missing": self.transcripts_missing,
            "evaluations missing": self.evaluations_missing,
            "evaluations duplicated": self.evaluations_duplicated,
            "orphan objects": self.orphan_objects,
            "rows without audio": self.rows_without_audio,
            "legal holds lost": self.holds_lost,
        }
        return {what: ids for what, ids in found.items() if ids}


def check(client: StackClient, expected: Iterable[str] | None = None) -> Consistency:
    """The state as it stands; `expected` (recording ids accepted by ingest) must all be retained."""
    result = Consistency()
    rows = {r["id"]: r for r in client.recordings()}
    stored = {rid for rid, r in rows.items() if r["audio"]["status"] == "stored"}
    retained = {rid for rid in stored if rows[rid]["consent"]["status"] != "declined"}
    result.retained = len(retained)

    audio_objects = {_recording_id(key): key for key in client.objects(RECORDINGS_BUCKET, AUDIO_PREFIX)}
    result.orphan_objects = sorted(key for rid, key in audio_objects.items() if rid not in stored)
    result.rows_without_audio = sorted(stored - set(audio_objects))
    if expected is not None:
        result.rows_without_audio += sorted(set(expected) - set(rows))  # accepted, then lost altogether

    transcribed = {key.split("/")[1] for key in client.objects(TRANSCRIPTS_BUCKET, "transcripts/")}
    result.transcripts_missing = sorted(retained - transcribed)

    per_card = Counter((e["recording_id"], e["scorecard_id"], e["scorecard_version"]) for e in client.evaluations())
    scored = {rid for rid, _card, _version in per_card}
    result.evaluations_missing = sorted(retained - scored)
    result.evaluations_duplicated = sorted({rid for (rid, _c, _v), n in per_card.items() if n > 1})

    for rid in sorted(stored):
        if rows[rid]["retention"]["legal_hold"] and not client.object_held(audio_objects.get(rid, "")):
            result.holds_lost.append(rid)
    return result


def _recording_id(key: str) -> str:
    return key.rsplit("/", 1)[-1].split(".", 1)[0]
