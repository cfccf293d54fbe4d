"""Sampling statistics over many seeded runs (uniform random picks, strata in proportion, targeted pools
holding only matching calls, picks spread over the period, reproducible from the seed), distribution over
reviewers, the quota calculator, and plans and runs through the API."""

from __future__ import annotations

import random
from collections import Counter
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from scipy.stats import chisquare

from coaching import quota, sampling
from coaching.sampling import Call, Firsts, PlanDocument, Reviewer
from tests.coaching.helpers import AGENT, AUDITOR, QA, SUPERVISOR, Feed

pytestmark = pytest.mark.timeout(180)
START = datetime(2026, 11, 2, tzinfo=UTC)


def population(n: int = 400, agents: int = 4, seed: int = 0) -> list[Call]:
    rng = random.Random(seed)
    calls = []
    for i in range(n):
        calls.append(
            Call(
                evaluation_id=f"e{i:05d}",
                agent_id=f"agent-{i % agents}",
                started_at=START + timedelta(seconds=rng.randrange(7 * 86400)),
                group=rng.choice(["billing", "billing", "billing", "sales"]),
                queue=rng.choice(["q1", "q2"]),
                duration_ms=rng.randrange(20_000, 600_000),
                tags=("complaint",) if i % 10 == 0 else (),
                percentage=rng.uniform(40, 100),
                auto_failed=i % 17 == 0,
                failed_items=frozenset({"closing"}) if i % 5 == 0 else frozenset(),
            )
        )
    return calls


def plan(*methods: dict[str, object], **extra: object) -> PlanDocument:
    return PlanDocument.model_validate({"name": "p", "period": {"kind": "weekly"}, "methods": list(methods)} | extra)


def test_random_picks_are_uniform_and_reproducible() -> None:
    calls = population(200, agents=2)
    document = plan({"type": "random", "per_agent": 10})
    counts: Counter[str] = Counter()
    runs = 2000
    for seed in range(runs):
        picks, scoped = sampling.draw(document, calls, seed)
        assert scoped == 200 and len(picks) == 20
        assert Counter(p.agent_id for p in picks) == {"agent-0": 10, "agent-1": 10}
        counts.update(p.evaluation_id for p in picks)
    observed = [counts[c.evaluation_id] for c in calls]
    assert sum(observed) == runs * 20
    assert chisquare(observed).pvalue > 0.001  # every call equally likely (10/100 per run)
    assert sampling.draw(document, calls, 7) == sampling.draw(document, list(reversed(calls)), 7)
    assert sampling.draw(document, calls, 7) != sampling.draw(document, calls, 8)


def test_picks_spread_evenly_over_the_period() -> None:
    calls = [Call(f"e{i:04d}", "agent-0", START + timedelta(minutes=10 * i)) for i in range(1008)]  # 7 days
    picks, _ = sampling.draw(plan({"type": "random", "per_agent": 14}), calls, 3)
    per_day = Counter((p.started_at - START).days for p in picks)
    assert per_day == dict.fromkeys(range(7), 2)


def test_percentage_floor_and_cap() -> None:
    calls = population(400, agents=4)  # 100 per agent
    few = [c for c in calls if c.agent_id != "agent-3"] + [c for c in calls if c.agent_id == "agent-3"][:10]
    picks, _ = sampling.draw(plan({"type": "random", "percentage": 5, "floor": 3, "cap": 4}), few, 1)
    assert Counter(p.agent_id for p in picks) == {"agent-0": 4, "agent-1": 4, "agent-2": 4, "agent-3": 3}


def test_strata_hold_their_proportions_and_equal_allocation() -> None:
    calls = population(1000, seed=2)
    share = Counter(c.group for c in calls)
    for seed in range(50):
        picks, _ = sampling.draw(plan({"type": "stratified", "by": "group", "size": 100}), calls, seed)
        groups = Counter(next(c.group for c in calls if c.evaluation_id == p.evaluation_id) for p in picks)
        for group, n in share.items():
            assert abs(groups[group] - 100 * n / 1000) < 1
    equal, _ = sampling.draw(plan({"type": "stratified", "by": "queue", "size": 50, "allocation": "equal"}), calls, 1)
    queues = Counter(next(c.queue for c in calls if c.evaluation_id == p.evaluation_id) for p in equal)
    assert queues == {"q1": 25, "q2": 25}
    assert sampling.allocate({"a": 3, "b": 100}, 40, "equal") == {"a": 3, "b": 37}


@pytest.mark.parametrize(
    ("method", "matches"),
    [
        ({"pool": "auto_failed"}, lambda c: c.auto_failed),
        ({"pool": "score_below", "threshold": 60}, lambda c: c.percentage < 60),
        ({"pool": "item_failed", "item_ids": ["closing"]}, lambda c: "closing" in c.failed_items),
        ({"pool": "complaint_tags"}, lambda c: "complaint" in c.tags),
        (
            {"pool": "new_agents", "days": 2},
            lambda c: c.agent_id == "agent-1" and c.started_at < START + timedelta(days=2),
        ),
        ({"pool": "new_queues", "days": 1}, lambda c: c.queue == "q2" and c.started_at < START + timedelta(days=1)),
    ],
)
def test_targeted_pools_hold_only_matching_calls(method: dict[str, object], matches: object) -> None:
    calls = population(500, seed=5)
    firsts = Firsts(agents={"agent-1": START, "agent-0": START - timedelta(days=90)}, queues={"q2": START})
    picks, _ = sampling.draw(plan({"type": "targeted", **method}), calls, 1, firsts=firsts)
    by_id = {c.evaluation_id: c for c in calls}
    expected = {c.evaluation_id for c in calls if matches(c)}  # type: ignore[operator]
    assert {p.evaluation_id for p in picks} == expected and expected
    assert all(p.reason.startswith("targeted: ") for p in picks)
    limited, _ = sampling.draw(plan({"type": "targeted", **method, "limit": 3}), calls, 1, firsts=firsts)
    assert len(limited) == min(3, len(expected)) and all(matches(by_id[p.evaluation_id]) for p in limited)  # type: ignore[operator]


def test_methods_combine_each_call_once_within_size() -> None:
    calls = population(400)
    document = plan({"type": "targeted", "pool": "auto_failed"}, {"type": "random", "per_agent": 50}, size=60)
    picks, _ = sampling.draw(document, calls, 9)
    assert len(picks) == 60 == len({p.evaluation_id for p in picks})
    assert all(p.method == 0 for p in picks if p.reason.startswith("targeted"))
    scoped, _ = sampling.draw(
        plan({"type": "random", "per_agent": 1000}, scope={"groups": ["sales"], "min_duration_s": 60}), calls, 1
    )
    by_id = {c.evaluation_id: c for c in calls}
    assert scoped and all(
        by_id[p.evaluation_id].group == "sales" and by_id[p.evaluation_id].duration_ms >= 60_000 for p in scoped
    )  # type: ignore[operator]


def test_distribution_is_even_with_capacity_and_no_self_review() -> None:
    picks = [sampling.Pick(f"e{i}", "qa-a" if i < 5 else f"agent-{i}", START, 0, "r") for i in range(30)]
    split = sampling.distribute(picks, [Reviewer("qa-a"), Reviewer("qa-b"), Reviewer("qa-c")])
    assert Counter(split.values()) == {"qa-a": 10, "qa-b": 10, "qa-c": 10}
    assert all(split[f"e{i}"] != "qa-a" for i in range(5))
    capped = sampling.distribute(picks, [Reviewer("qa-b", 5), Reviewer("qa-c", 20)])
    assert Counter(capped.values()) == {"qa-b": 5, "qa-c": 20, None: 5}


def test_quota_formula() -> None:
    # 3 staff × 6 h × 3600 ÷ (300 s + 120 s) = 154.28…
    assert quota.daily_capacity(3, 6, 300, 120) == 154
    found = quota.quota(2, 7.5, 60, observed_durations_ms=[200_000, 400_000])
    assert (found.average_handle_time_s, found.observed_calls, found.daily_capacity) == (300, 2, 150)
    with pytest.raises(quota.NoObservedCalls):
        quota.quota(2, 7.5, 60)


def test_invalid_plans_name_the_path(sqlite_client: TestClient) -> None:
    cases = {
        "methods.0.random": {"methods": [{"type": "random"}]},
        "methods.0.targeted": {"methods": [{"type": "targeted", "pool": "score_below"}]},
        "period": {"period": {"kind": "range", "start": "2026-11-10", "end": "2026-11-01"}},
        "scope": {"scope": {"min_duration_s": 60, "max_duration_s": 10}},
        "methods": {"methods": []},
        "methods.0.random.percentage": {"methods": [{"type": "random", "percentage": 150}]},
    }
    base = {"plan_id": "bad", "name": "n", "period": {"kind": "daily"}, "methods": [{"type": "random", "per_agent": 1}]}
    for path, change in cases.items():
        answer = sqlite_client.post("/v1/sampling-plans", json=base | change, headers=QA)
        assert answer.status_code == 422, (path, answer.text)
        assert any(e["field"].startswith(path) for e in answer.json()["errors"]), (path, answer.json()["errors"])
    assert sqlite_client.get("/v1/sampling-plans", headers=QA).json()["total"] == 0


def test_a_run_through_the_api(client: TestClient, feed: Feed) -> None:
    day = date(2026, 11, 4)
    for n in range(12):
        feed(
            agent_id=f"agent-{n % 3}",
            started_at=datetime(2026, 11, 4, 8 + n % 10, n, tzinfo=UTC),
            failed=() if n % 4 else ("insult",),
        )
    feed(agent_id="agent-0", started_at=datetime(2026, 11, 5, 9, tzinfo=UTC))  # another day
    document = {
        "plan_id": "daily-billing",
        "name": "daily billing",
        "period": {"kind": "daily"},
        "scope": {"groups": ["billing"]},
        "methods": [{"type": "targeted", "pool": "auto_failed"}, {"type": "random", "per_agent": 1}],
        "quota": {"qa_staff": 1, "effective_hours": 0.5, "review_overhead_s": 120},
    }
    created = client.post("/v1/sampling-plans", json=document, headers=QA)
    assert created.status_code == 201 and created.json()["version"] == 1
    assert client.post("/v1/sampling-plans", json=document, headers=QA).status_code == 409
    assert (
        client.put("/v1/sampling-plans/daily-billing", json=document | {"plan_id": None}, headers=QA).status_code == 422
    )
    del document["plan_id"]
    assert client.put("/v1/sampling-plans/daily-billing", json=document, headers=QA).json()["version"] == 2
    body = {"on": day.isoformat(), "seed": 42, "reviewers": [{"id": "qa-lin"}, {"id": "qa-wu"}]}
    run = client.post("/v1/sampling-plans/daily-billing/runs", json=body, headers=QA)
    assert run.status_code == 201, run.text
    out = run.json()
    # quota: 1 × 0.5 h × 3600 ÷ (180 s + 120 s) = 6 per day
    assert (out["plan_version"], out["seed"], out["population_size"], out["size_cap"]) == (2, 42, 12, 6)
    assert out["quota"]["daily_capacity"] == 6 and out["picks"] == 6 and out["unassigned"] == 0
    picks = client.get(f"/v1/sampling-runs/{out['id']}/picks", params={"limit": 2}, headers=AUDITOR).json()
    assert picks["total"] == 6 and picks["next_offset"] == 2
    every = client.get(f"/v1/sampling-runs/{out['id']}/picks", headers=AUDITOR).json()["items"]
    assert sum(p["reason"].startswith("targeted: auto_failed") for p in every) == 3
    assert Counter(p["reviewer_id"] for p in every) == {"qa-lin": 3, "qa-wu": 3}
    mine = client.get("/v1/assignments", params={"reviewer_id": "qa-lin", "status": "pending"}, headers=QA).json()
    assert mine["total"] == 3 and all(a["due_at"] for a in mine["items"])
    # picked calls are not drawn again; an agent may not see runs
    again = client.post("/v1/sampling-plans/daily-billing/runs", json=body, headers=QA).json()
    assert again["population_size"] == 6
    assert client.get("/v1/sampling-runs", headers=AGENT).status_code == 403
    assert (
        client.post(
            "/v1/quota", json={"qa_staff": 2, "effective_hours": 6, "average_handle_time_s": 300}, headers=SUPERVISOR
        ).json()["daily_capacity"]
        == 144
    )
