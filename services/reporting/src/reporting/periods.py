"""Report periods in the site's time zone: local days, Monday–Sunday weeks, calendar months.

A call belongs to the local day its start falls on in the site's zone (a call at 23:30 on a Sunday in
Shanghai belongs to that Sunday, hence to that week, even though it is 15:30 UTC). Rollups are kept per
local day, so every period here is a whole number of local days: `[first, last]`, both inclusive.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from zoneinfo import ZoneInfo


class PeriodKind(StrEnum):
    daily = "daily"
    weekly = "weekly"
    monthly = "monthly"


def local_day(instant: datetime, zone: ZoneInfo) -> date:
    """The calendar day `instant` falls on in `zone` (a naive instant is taken as UTC)."""
    if instant.tzinfo is None:
        instant = instant.replace(tzinfo=UTC)
    return instant.astimezone(zone).date()


def _month_start(day: date) -> date:
    return day.replace(day=1)


def _next_month(day: date) -> date:
    return date(day.year + day.month // 12, day.month % 12 + 1, 1)


@dataclass(frozen=True, order=True)
class Period:
    """`first` to `last` local days, inclusive."""

    kind: PeriodKind
    first: date
    last: date

    @classmethod
    def containing(cls, kind: PeriodKind, day: date) -> Period:
        if kind is PeriodKind.daily:
            return cls(kind, day, day)
        if kind is PeriodKind.weekly:
            monday = day - timedelta(days=day.weekday())
            return cls(kind, monday, monday + timedelta(days=6))
        first = _month_start(day)
        return cls(kind, first, _next_month(first) - timedelta(days=1))

    def previous(self) -> Period:
        return Period.containing(self.kind, self.first - timedelta(days=1))

    def following(self) -> Period:
        return Period.containing(self.kind, self.last + timedelta(days=1))

    def history(self, count: int) -> list[Period]:
        """The `count` periods before this one, oldest first."""
        periods: list[Period] = []
        current = self
        for _ in range(count):
            current = current.previous()
            periods.append(current)
        return periods[::-1]

    @property
    def days(self) -> int:
        return (self.last - self.first).days + 1

    def each_day(self) -> Iterator[date]:
        for offset in range(self.days):
            yield self.first + timedelta(days=offset)

    def bounds(self, zone: ZoneInfo) -> tuple[datetime, datetime]:
        """The period as UTC instants `[start, end)`: local midnight to local midnight (DST-aware)."""
        start = datetime.combine(self.first, time(0), zone)
        end = datetime.combine(self.last + timedelta(days=1), time(0), zone)
        return start.astimezone(UTC), end.astimezone(UTC)

    @property
    def label(self) -> str:
        if self.kind is PeriodKind.daily:
            return self.first.isoformat()
        if self.kind is PeriodKind.weekly:
            year, week, _ = self.first.isocalendar()
            return f"{year}-W{week:02d} ({self.first.isoformat()} – {self.last.isoformat()})"
        return f"{self.first.year}-{self.first.month:02d}"


def previous_completed(kind: PeriodKind, now_local: date) -> Period:
    """The period a scheduled run on `now_local` reports: yesterday, last Monday–Sunday, last month."""
    return Period.containing(kind, now_local).previous()
