"""Server time of the console's call page for a 30-minute call: the floor is < 300 ms.

The page as a user opens it (`GET /calls/{recording}`, signed in as a supervisor): the recording from
recorder-ingest, the call's evaluations, versions, timeline, appeals and assignments from coaching (answered
in-process by an `httpx.MockTransport` with realistic bodies, so the figure is the console's own time: its
session lookup, its index read, its parallel upstream calls, the template), and the transcript from the
console's call index (SQLite). The 30-minute call has ~450 turns with word timings (~9,000 words) and an
evaluation of 12 items with evidence. Side by side, the baseline: the same page for a 1-minute call.

    .venv/bin/python benchmarks/console_call_page.py [--requests 40]
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from console.calls import CallIndex
from console.config import MIGRATIONS_DIR, Settings
from console.main import create_app
from fastapi.testclient import TestClient

from callqa.db import Database

STARTED = datetime(2026, 11, 9, 2, 12, 4, tzinfo=UTC)
WORDS = "thank you for calling billing my name is lin how can I help you today with your account".split()  # noqa: SIM905


def transcript(recording_id: str, minutes: int) -> dict[str, Any]:
    turns: list[dict[str, Any]] = []
    at = 0
    while at < minutes * 60_000:
        n = len(turns)
        words = [WORDS[(n + k) % len(WORDS)] for k in range(20)]
        span = 4000
        turns.append(
            {
                "id": f"t{n}",
                "role": "agent" if n % 2 == 0 else "customer",
                "begin_ms": at,
                "end_ms": at + span,
                "text": " ".join(words),
                "words": [
                    {"text": w, "begin_ms": at + k * 200, "end_ms": at + k * 200 + 180, "probability": 0.9}
                    for k, w in enumerate(words)
                ],
            }
        )
        at += span
    return {
        "recording_id": recording_id,
        "language": "en",
        "model": {"id": "whisper-base", "version": "1"},
        "duration_ms": minutes * 60_000,
        "turns": turns,
    }


def evaluation(recording_id: str, minutes: int) -> dict[str, Any]:
    items = [
        {
            "item_id": f"item_{i}",
            "section": "service_language",
            "result": "fail" if i % 4 == 0 else "pass",
            "points": 0.0 if i % 4 == 0 else 10.0,
            "max_points": 10.0,
            "kind": "requirement",
            "severity": "B",
            "evidence": [
                {"turn_id": f"t{j}", "begin_ms": (j * 4000) % (minutes * 60_000), "end_ms": 0, "text": "thank you"}
                for j in range(i, i + 5)
            ],
        }
        for i in range(12)
    ]
    version = {
        "version": 1,
        "source": "auto",
        "cause": "scored",
        "items": items,
        "total_points": 90.0,
        "max_points": 120.0,
        "percentage": 75.0,
        "passed": False,
        "auto_failed": False,
        "notes": None,
        "author": "scorer",
        "created_at": STARTED.isoformat(),
        "released_at": None,
    }
    return {
        "id": f"ev-{recording_id}",
        "recording_id": recording_id,
        "agent_id": "agent-en-104",
        "group": "billing",
        "queue": "billing-en",
        "started_at": STARTED.isoformat(),
        "scorecard_id": "default-en",
        "scorecard_version": 1,
        "evidence_purged": False,
        "latest_version": 1,
        "acknowledged_version": None,
        "appeal_rounds": 0,
        "auto": version,
        "human": None,
        "released": None,
    }


def upstream(minutes: dict[str, int]) -> httpx.MockTransport:
    def answer(request: httpx.Request) -> httpx.Response:
        path = request.url.path
        page = {"total": 1, "limit": 50, "offset": 0, "next_offset": None}
        if path.startswith("/v1/recordings/"):
            rid = path.rsplit("/", 1)[-1]
            return httpx.Response(
                200,
                json={
                    "id": rid,
                    "call_id": f"call-{rid}",
                    "platform": None,
                    "agent_id": "agent-en-104",
                    "group": "billing",
                    "queue": "billing-en",
                    "direction": "inbound",
                    "started_at": STARTED.isoformat(),
                    "received_at": STARTED.isoformat(),
                    "channel_layout": "agent_left",
                    "language": "en",
                    "tags": [],
                    "has_customer_number": False,
                    "audio": {
                        "status": "stored",
                        "container": "wav",
                        "codec": "pcm_mulaw",
                        "channels": 2,
                        "sample_rate": 8000,
                        "duration_ms": minutes[rid] * 60_000,
                        "size": 1,
                        "sha256": "0",
                    },
                    "consent": {"status": "notified", "method": None, "at": None, "outcome": "stored"},
                    "retention": {
                        "policy": "default",
                        "retain_until": STARTED.isoformat(),
                        "legal_hold": False,
                        "legal_hold_reason": None,
                        "purged_at": None,
                        "purge_reason": None,
                        "purge_blocked": None,
                    },
                },
            )
        if path == "/v1/evaluations":
            items = [evaluation(rid, m) for rid, m in minutes.items()]
            return httpx.Response(200, json=page | {"items": items, "total": len(items)})
        if path.endswith("/versions"):
            rid = path.split("/")[3].removeprefix("ev-")
            return httpx.Response(200, json=page | {"items": [evaluation(rid, minutes[rid])["auto"]]})
        if path.endswith("/timeline"):
            return httpx.Response(
                200,
                json=page
                | {
                    "items": [
                        {
                            "at": STARTED.isoformat(),
                            "actor": "scorer",
                            "action": "scored",
                            "version": 1,
                            "comment": None,
                            "detail": {},
                        }
                    ]
                },
            )
        return httpx.Response(200, json=page | {"items": [], "total": 0})

    return httpx.MockTransport(answer)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--requests", type=int, default=40, help="requests per side")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'console.db'}"
        db = Database(url)
        db.migrate(MIGRATIONS_DIR)
        minutes = {"long": 30, "short": 1}
        index = CallIndex(db)
        for rid, m in minutes.items():
            facts = {"agent_id": "agent-en-104", "group": "billing", "queue": "billing-en", "started_at": STARTED}
            index.transcript_ready(rid, facts, transcript(rid, m))
        app = create_app(Settings(database_url=url, auth={"jwt_secret": "bench-" + "x" * 40}))
        app.state.users.add("supervisor", "bench-password", ["supervisor"])
        app.state.upstream.client = httpx.AsyncClient(transport=upstream(minutes))
        client = TestClient(app)
        pre = client.get("/login").cookies.get("callqa_signin") or ""
        client.post("/login", data={"username": "supervisor", "password": "bench-password", "pre": pre})
        sides: dict[str, list[float]] = {"long": [], "short": []}
        for _ in range(3):  # warm-up: templates compiled, connections open
            for rid in minutes:
                assert client.get(f"/calls/{rid}").status_code == 200
        for _ in range(args.requests):
            for rid in minutes:  # alternating, so load drift on a shared machine hits both sides alike
                began = time.perf_counter()
                answer = client.get(f"/calls/{rid}")
                sides[rid].append((time.perf_counter() - began) * 1000)
                assert answer.status_code == 200
        long_ms, short_ms = statistics.median(sides["long"]), statistics.median(sides["short"])
        turns = len(transcript("long", 30)["turns"])
        print(json.dumps({"bytes_30min_page": len(client.get("/calls/long").content), "turns": turns}))
        print(
            f"call page, 30-minute call ({turns} turns): median {long_ms:.1f} ms, p95 "
            f"{sorted(sides['long'])[int(0.95 * len(sides['long'])) - 1]:.1f} ms  (floor < 300 ms)"
        )
        print(f"baseline, 1-minute call: median {short_ms:.1f} ms   ratio {long_ms / short_ms:.2f}x")
        if long_ms >= 300:
            raise SystemExit("the call page of a 30-minute call took 300 ms or more")


if __name__ == "__main__":
    main()
