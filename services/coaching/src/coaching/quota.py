"""Seed 004's daily review quota: how many calls the QA team can review in a day.

    QA staff × effective hours × 3600 ÷ (average handle time + review overhead per call)

The average handle time is observed from the calls in scope when not given.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass


class NoObservedCalls(ValueError):
    """No call to observe a handle time from, and none was given."""


@dataclass(frozen=True)
class Quota:
    daily_capacity: int
    average_handle_time_s: float
    review_overhead_s: float
    observed_calls: int  # calls the handle time was observed from (0: it was given)


def daily_capacity(qa_staff: int, effective_hours: float, average_handle_time_s: float, overhead_s: float) -> int:
    if qa_staff < 0 or effective_hours < 0 or average_handle_time_s + overhead_s <= 0:
        raise ValueError("staff and hours must not be negative and a review must take some time")
    return math.floor(qa_staff * effective_hours * 3600 / (average_handle_time_s + overhead_s))


def observed_handle_time(durations_ms: Iterable[int]) -> tuple[float, int]:
    total = count = 0
    for duration in durations_ms:
        total += duration
        count += 1
    if not count:
        raise NoObservedCalls("no call in scope has a duration to observe the average handle time from")
    return total / count / 1000, count


def quota(
    qa_staff: int,
    effective_hours: float,
    review_overhead_s: float,
    average_handle_time_s: float | None = None,
    observed_durations_ms: Iterable[int] = (),
) -> Quota:
    observed = 0
    if average_handle_time_s is None:
        average_handle_time_s, observed = observed_handle_time(observed_durations_ms)
    capacity = daily_capacity(qa_staff, effective_hours, average_handle_time_s, review_overhead_s)
    return Quota(capacity, average_handle_time_s, review_overhead_s, observed)
