"""Sampling and review figures for coaching, each beside a named baseline in the same run.

1. A sampling run over `--calls` (default 1,000,000) generated automatic evaluations of one week: scope
   filter, a targeted pool (auto-failed, limited), a random percentage with a floor and a cap per agent,
   and strata by queue; every pick with its reason, spread over the week (`coaching.sampling.draw`).
   Baseline: `random.Random(seed).sample(calls, k)` for the same number of picks — the least a uniform
   sample can cost (no scope, no strata, no spread, no reasons).
2. Review-API latency under `--reviewers` concurrent reviewers (threads), each opening, saving and submitting
   its own assignments on a real coaching app (uvicorn, SQLite, a Tansu broker): p50/p99 per request.
   Baseline: `GET /healthz` on the same server at the same concurrency (the framework's floor).

    .venv/bin/python benchmarks/sampling.py [--calls 1000000] [--reviewers 8] [--reviews 25]
"""

from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import uvicorn

from callqa.auth import Authenticator, Role
from callqa.db import Database
from callqa.settings import AuthSettings
from callqa_stack import servers
from callqa_stack.factories import evaluation_scored
from coaching import sampling
from coaching.config import MIGRATIONS_DIR, Settings
from coaching.main import create_app
from coaching.sampling import Call, PlanDocument

START = datetime(2026, 11, 2, tzinfo=UTC)
SECRET = "b" * 40


def generate(n: int, seed: int = 1) -> list[Call]:
    rng = random.Random(seed)
    agents = [f"agent-{i:04d}" for i in range(max(1, n // 500))]
    queues = [f"q{i}" for i in range(12)]
    return [
        Call(
            evaluation_id=f"{i:08d}",
            agent_id=rng.choice(agents),
            started_at=START + timedelta(seconds=rng.randrange(7 * 86400)),
            group="billing" if i % 4 else "sales",
            queue=rng.choice(queues),
            duration_ms=rng.randrange(20_000, 900_000),
            percentage=rng.uniform(30, 100),
            auto_failed=rng.random() < 0.03,
        )
        for i in range(n)
    ]


PLAN = PlanDocument.model_validate(
    {
        "name": "bench",
        "period": {"kind": "weekly"},
        "scope": {"min_duration_s": 30},
        "methods": [
            {"type": "targeted", "pool": "auto_failed", "limit": 2000},
            {"type": "random", "percentage": 1, "floor": 2, "cap": 10},
            {"type": "stratified", "by": "queue", "size": 1200},
        ],
    }
)


def bench_draw(n: int) -> None:
    t = time.perf_counter()
    calls = generate(n)
    print(f"generated {n:,} evaluations in {time.perf_counter() - t:.1f} s")
    t = time.perf_counter()
    picks, scoped = sampling.draw(PLAN, calls, seed=42)
    ours = time.perf_counter() - t
    t = time.perf_counter()
    random.Random(42).sample(calls, len(picks))
    base = time.perf_counter() - t
    print(f"sampling run: {len(picks):,} picks from {scoped:,} in scope")
    print(f"  callqa draw      {ours:8.3f} s")
    print(f"  random.sample    {base:8.3f} s   (baseline)   ratio {ours / base:,.1f}x")


def token(subject: str, role: Role) -> dict[str, str]:
    return {"Authorization": "Bearer " + Authenticator(AuthSettings(jwt_secret=SECRET)).issue_token(subject, [role])}  # type: ignore[arg-type]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100)[int(q) - 1] if len(values) > 1 else values[0]


def bench_reviews(reviewers: int, per_reviewer: int) -> None:
    broker = servers.tansu(servers.free_port(), Path(tempfile.mkdtemp()) / "tansu.log")
    broker.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            settings = Settings(
                database_url=f"sqlite:///{tmp}/coaching.db",
                kafka={"bootstrap_servers": f"127.0.0.1:{broker.port}"},  # type: ignore[arg-type]
                auth={"jwt_secret": SECRET},  # type: ignore[arg-type]
                log_level="WARNING",
                consumer_group=f"bench-{uuid.uuid4().hex[:6]}",
            )
            Database(settings.database_url).migrate(MIGRATIONS_DIR)
            app = create_app(settings)
            port = servers.free_port()
            server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_config=None, access_log=False))
            thread = threading.Thread(target=server.run, daemon=True)
            thread.start()
            url = f"http://127.0.0.1:{port}"
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{url}/readyz").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                assert time.monotonic() < deadline, "not ready"
                time.sleep(0.2)

            supervisor = token("sup", Role.supervisor)
            work: dict[str, list[str]] = {}
            with httpx.Client(base_url=url, timeout=60) as client:
                for r in range(reviewers):
                    work[f"qa-{r}"] = []
                    for _ in range(per_reviewer):
                        payload = evaluation_scored()
                        app.state.ledger.on_evaluation_scored(payload)
                        answer = client.post(
                            "/v1/assignments",
                            json={"evaluation_id": payload.evaluation_id, "reviewer_id": f"qa-{r}"},
                            headers=supervisor,
                        )
                        work[f"qa-{r}"].append(answer.json()["id"])

            latencies: list[float] = []
            health: list[float] = []
            lock = threading.Lock()

            def reviewer(name: str) -> None:
                headers = token(name, Role.qa_analyst)
                with httpx.Client(base_url=url, timeout=60) as client:
                    for assignment in work[name]:
                        etag = ""
                        for step in ("open", "save", "submit"):
                            t = time.perf_counter()
                            if step == "open":
                                answer = client.post(f"/v1/assignments/{assignment}/open", headers=headers)
                            elif step == "save":
                                answer = client.put(
                                    f"/v1/assignments/{assignment}/review",
                                    json={
                                        "items": [
                                            {
                                                "item_id": "closing",
                                                "decision": "override",
                                                "result": "pass",
                                                "points": 10,
                                                "reason": "heard",
                                            }
                                        ]
                                    },
                                    headers=headers | {"If-Match": etag},
                                )
                            else:
                                answer = client.post(
                                    f"/v1/assignments/{assignment}/submit",
                                    json={},
                                    headers=headers | {"If-Match": etag},
                                )
                            elapsed = time.perf_counter() - t
                            assert answer.status_code == 200, answer.text
                            etag = answer.headers.get("ETag", "")
                            with lock:
                                latencies.append(elapsed)

            def prober(n: int) -> None:
                with httpx.Client(base_url=url, timeout=60) as client:
                    for _ in range(n):
                        t = time.perf_counter()
                        client.get("/healthz")
                        with lock:
                            health.append(time.perf_counter() - t)

            t = time.perf_counter()
            with ThreadPoolExecutor(reviewers) as pool:
                list(pool.map(reviewer, work))
            wall = time.perf_counter() - t
            with ThreadPoolExecutor(reviewers) as pool:
                list(pool.map(prober, [per_reviewer * 3] * reviewers))
            server.should_exit = True
            thread.join(30)
    finally:
        broker.stop()
    ms = [x * 1000 for x in latencies]
    hs = [x * 1000 for x in health]
    print(
        f"review API, {reviewers} concurrent reviewers, {len(ms)} requests in {wall:.1f} s ({len(ms) / wall:.0f} req/s)"
    )
    print(f"  open/save/submit  p50 {statistics.median(ms):7.1f} ms   p99 {percentile(ms, 99):7.1f} ms")
    print(f"  GET /healthz      p50 {statistics.median(hs):7.1f} ms   p99 {percentile(hs, 99):7.1f} ms   (baseline)")
    print(f"  ratio p50 {statistics.median(ms) / statistics.median(hs):.1f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--reviewers", type=int, default=8)
    parser.add_argument("--reviews", type=int, default=25, help="assignments per reviewer")
    args = parser.parse_args()
    bench_draw(args.calls)
    bench_reviews(args.reviewers, args.reviews)


if __name__ == "__main__":
    main()
