"""Local days, Monday–Sunday weeks, months and schedule times in the site's time zone."""

from __future__ import annotations

from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from reporting.periods import Period, PeriodKind, local_day, previous_completed
from reporting.schedule import next_run

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")


def test_a_call_at_23_30_local_on_sunday_belongs_to_that_week() -> None:
    sunday_late = datetime(2026, 11, 8, 15, 30, tzinfo=UTC)  # 23:30 in Shanghai, Sunday 8 November
    day = local_day(sunday_late, SHANGHAI)
    assert day == date(2026, 11, 8)
    week = Period.containing(PeriodKind.weekly, day)
    assert (week.first, week.last) == (date(2026, 11, 2), date(2026, 11, 8))
    monday_early = datetime(2026, 11, 8, 16, 30, tzinfo=UTC)  # 00:30 Monday in Shanghai: the next week
    assert Period.containing(PeriodKind.weekly, local_day(monday_early, SHANGHAI)).first == date(2026, 11, 9)


def test_period_bounds_follow_daylight_saving_time() -> None:
    start, end = Period.containing(PeriodKind.daily, date(2026, 3, 29)).bounds(BERLIN)  # clocks go forward
    assert (end - start).total_seconds() == 23 * 3600
    start, end = Period.containing(PeriodKind.weekly, date(2026, 10, 25)).bounds(BERLIN)  # and back
    assert (end - start).total_seconds() == (7 * 24 + 1) * 3600


def test_months_and_their_previous_and_next() -> None:
    january = Period.containing(PeriodKind.monthly, date(2027, 1, 17))
    assert (january.first, january.last) == (date(2027, 1, 1), date(2027, 1, 31))
    assert january.previous() == Period(PeriodKind.monthly, date(2026, 12, 1), date(2026, 12, 31))
    assert Period.containing(PeriodKind.monthly, date(2028, 2, 3)).last == date(2028, 2, 29)
    assert Period.containing(PeriodKind.monthly, date(2026, 3, 31)).previous().days == 28
    assert january.following().first == date(2027, 2, 1)
    assert [p.first.month for p in january.history(3)] == [10, 11, 12]


def test_scheduled_runs_report_the_period_that_just_ended() -> None:
    assert previous_completed(PeriodKind.daily, date(2026, 11, 10)).first == date(2026, 11, 9)
    weekly = previous_completed(PeriodKind.weekly, date(2026, 11, 9))  # a Monday
    assert (weekly.first, weekly.last) == (date(2026, 11, 2), date(2026, 11, 8))
    monthly = previous_completed(PeriodKind.monthly, date(2026, 12, 1))
    assert (monthly.first, monthly.last) == (date(2026, 11, 1), date(2026, 11, 30))


def test_next_run_times_in_the_site_zone() -> None:
    after = datetime(2026, 11, 10, 0, 0, tzinfo=UTC)  # Tuesday 08:00 in Shanghai
    assert next_run(PeriodKind.daily, time(7), after, SHANGHAI) == datetime(2026, 11, 10, 23, 0, tzinfo=UTC)
    assert next_run(PeriodKind.weekly, time(7), after, SHANGHAI) == datetime(2026, 11, 15, 23, 0, tzinfo=UTC)
    assert next_run(PeriodKind.monthly, time(7), after, SHANGHAI) == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    # 07:00 in Berlin is 06:00 UTC in winter, 05:00 UTC in summer
    assert next_run(PeriodKind.daily, time(7), datetime(2026, 3, 27, 12, tzinfo=UTC), BERLIN).hour == 6
    assert (
        next_run(PeriodKind.daily, time(7), datetime(2026, 3, 28, 12, tzinfo=UTC), BERLIN).hour == 5
    )  # the 29th: summer time
