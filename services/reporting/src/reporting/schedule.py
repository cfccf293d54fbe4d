"""When scheduled reports run: daily at a local time, weekly on Monday, monthly on the 1st, each in the
site's time zone, reporting the period that just ended (`periods.previous_completed`)."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from reporting.periods import PeriodKind


def parse_time(text: str) -> time:
    hours, _, minutes = text.partition(":")
    if not (hours.isdigit() and minutes.isdigit() and len(minutes) == 2):
        raise ValueError("at_time looks like HH:MM")
    return time(int(hours), int(minutes))


def _is_run_day(kind: PeriodKind, day: date) -> bool:
    if kind is PeriodKind.weekly:
        return day.weekday() == 0
    if kind is PeriodKind.monthly:
        return day.day == 1
    return True


def next_run(kind: PeriodKind, at: time, after: datetime, zone: ZoneInfo) -> datetime:
    """The first run time strictly after `after` (UTC), in `zone`'s wall-clock time (DST-aware)."""
    day = after.astimezone(zone).date()
    for _ in range(400):
        if _is_run_day(kind, day):
            candidate = datetime.combine(day, at, zone).astimezone(UTC)
            if candidate > after:
                return candidate
        day += timedelta(days=1)
    raise AssertionError("no run day within 400 days")  # pragma: no cover - every kind has one
