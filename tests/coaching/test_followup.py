"""Verified follow-up on generated outcome streams (the domain alone; the plan's API runs it on the databases in
tests/coaching/test_improvement.py): each verdict is right on "coaching worked", "did not work", "group-wide
shift" and "too little data" streams, over many seeds, and the share of right verdicts is printed."""

from __future__ import annotations

import random

import pytest

from coaching.followup import FollowUpParams, Window, recurrence, verify
from tests.coaching.helpers import outcomes

SCENARIOS = {  # name: (agent before, agent after, group before, group after pass rates; agent calls after)
    "worked": ((0.45, 0.92, 0.85, 0.85, 25), "improved"),
    "did_not_work": ((0.45, 0.45, 0.85, 0.85, 25), "not_improved"),
    "group_wide_shift": ((0.45, 0.9, 0.45, 0.9, 25), "not_improved"),
    "too_little_data": ((0.45, 0.95, 0.85, 0.85, 6), "insufficient_data"),
}


def run(seed: int, rates: tuple[float, float, float, float, int]) -> dict[str, object]:
    rng = random.Random(seed)
    agent_before, agent_after, group_before, group_after, calls_after = rates
    return verify(
        Window.of(outcomes(rng, 25, agent_before)),
        Window.of(outcomes(rng, calls_after, agent_after)),
        Window.of(outcomes(rng, 150, group_before)),
        Window.of(outcomes(rng, 150, group_after)),
        FollowUpParams(),
    )


@pytest.mark.parametrize("name", SCENARIOS)
def test_verdicts_on_generated_streams(name: str) -> None:
    rates, expected = SCENARIOS[name]
    seeds = 200
    right = sum(run(seed, rates)["verdict"] == expected for seed in range(seeds))
    print(f"\n{name}: {right} of {seeds} verdicts {expected}")
    assert right / seeds >= 0.9  # a one-sided 5 % test: about 95 % right when nothing changed


def test_the_evidence_of_a_verdict() -> None:
    result = run(7, SCENARIOS["worked"][0])
    assert result["verdict"] == "improved"
    assert result["before"]["calls"] == 25 and result["after"]["calls"] == 25  # type: ignore[index]
    low, high = result["effect_ci"]  # type: ignore[misc]
    assert low < result["effect"] < high and low > 0  # type: ignore[operator]
    assert result["difference_in_differences"] > 0.2 and result["did_p_value"] < 0.05  # type: ignore[operator]
    shift = run(7, SCENARIOS["group_wide_shift"][0])
    assert shift["p_value"] < 0.05 < shift["did_p_value"]  # type: ignore[operator]  # the agent rose, but so did all
    assert any("beyond the group" in r for r in shift["reasons"])  # type: ignore[attr-defined]


def test_no_control_group_is_insufficient_data_unless_allowed() -> None:
    rng = random.Random(1)
    before, after = Window.of(outcomes(rng, 30, 0.4)), Window.of(outcomes(rng, 30, 0.95))
    none = Window.of([])
    assert verify(before, after, none, none, FollowUpParams())["verdict"] == "insufficient_data"
    assert verify(before, after, none, none, FollowUpParams(require_control=False))["verdict"] == "improved"


def test_recurrence() -> None:
    rng = random.Random(2)
    after = Window.of(outcomes(rng, 30, 0.95))
    assert recurrence(after, Window.of(outcomes(rng, 30, 0.4)), FollowUpParams())["recurred"] is True
    assert recurrence(after, Window.of(outcomes(rng, 30, 0.95)), FollowUpParams())["recurred"] is False
    assert recurrence(after, Window.of([1, 1]), FollowUpParams())["recurred"] is None
