"""Problem analysis on generated evaluation streams (the domain alone; tests/coaching/test_improvement.py runs it
through the broker and the databases): a planted common problem (most agents of one group) and a planted
individual one (one agent) are told apart, and a stream with no problem beyond chance raises nothing: the
false-alarm rate over many seeded streams is measured and printed."""

from __future__ import annotations

from datetime import timedelta

from coaching.problems import AnalysisParams, analyse
from tests.coaching.helpers import STREAM_START, agents_of, observations, stream

PLANTED = {("g1", None, "verify_identity"): 0.45, ("g0", "agent-g0-3", "closing"): 0.6}


def found(payload_seed: int, rates: dict[tuple[str | None, str | None, str], float] | None) -> list[tuple[str, ...]]:
    result = analyse(observations(stream(payload_seed, rates=rates)), AnalysisParams())
    return [(p["kind"], p["group"], p["agent_id"] or "*", p["item_id"]) for p in result["problems"]]


def test_a_planted_common_and_a_planted_individual_problem_are_told_apart() -> None:
    for seed in range(10):
        assert sorted(found(seed, PLANTED)) == [
            ("common", "g1", "*", "verify_identity"),
            ("individual", "g0", "agent-g0-3", "closing"),
        ], seed


def test_problems_carry_statistics_severity_trend_and_examples() -> None:
    payloads = stream(1, rates=PLANTED)
    previous = stream(2, start=STREAM_START - timedelta(days=7))
    result = analyse(observations(payloads), AnalysisParams(), observations(previous))
    common = next(p for p in result["problems"] if p["kind"] == "common")
    assert common["criteria"] == ["share_of_agents", "above_organisation"]
    assert common["calls"] == 8 * 20 and 0.3 < common["rate"] < 0.6
    assert common["comparison"]["of"] == "rest of organisation" and common["comparison"]["rate"] < 0.15
    assert common["q_value"] < 0.05 and common["severity"] == "B"
    assert len(common["agents_affected"]) >= 4 and common["share"] >= 0.5
    assert common["trend"]["direction"] == "rising"  # the previous period had no problem
    assert len(common["examples"]) == 3 and all(e["link"].startswith("/v1/evaluations/") for e in common["examples"])
    individual = next(p for p in result["problems"] if p["kind"] == "individual")
    assert individual["comparison"]["of"] == "rest of group" and individual["agent_id"] == "agent-g0-3"
    assert [p["rank"] for p in result["problems"]] == [1, 2]
    assert result["problems"][0]["impact"] >= result["problems"][1]["impact"]
    item = next(i for i in result["items"] if i["item_id"] == "verify_identity")
    assert len(item["groups"]) == 3 and len(item["agents"]) == 24


def test_the_false_alarm_rate_on_streams_without_a_problem() -> None:
    streams = 200
    alarms = sum(bool(found(1000 + seed, None)) for seed in range(streams))
    rate = alarms / streams
    print(f"\nfalse alarms: {alarms} of {streams} streams without a planted problem ({rate:.1%}); alpha = 5 %")
    assert rate <= 0.05


def test_too_few_calls_is_no_problem() -> None:
    payloads = stream(3, agents=agents_of(1, 4), calls=5, rates={("g0", "agent-g0-0", "closing"): 1.0})
    assert analyse(observations(payloads), AnalysisParams())["problems"] == []
