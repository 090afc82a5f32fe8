"""Business days: the branch's local date, shifted by its cut-off hour."""

from __future__ import annotations

import calendar
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def business_day(now: datetime, zone: ZoneInfo, cutoff_hour: int) -> str:
    """The ISO date of the business day ``now`` (UTC) falls in at a branch.

    A branch whose day starts at 04:00 counts a payment at 02:30 local time to the day
    before, so a night shift's redemptions share one daily cap.
    """
    local = now.astimezone(zone) - timedelta(hours=cutoff_hour)
    return local.date().isoformat()


def business_day_span(now: datetime, zone: ZoneInfo, cutoff_hour: int) -> tuple[str, datetime, datetime]:
    """The business day of ``now`` and the UTC instants it starts and ends, so that a caller
    can reuse the day for every decision until the end instant."""
    day = date.fromisoformat(business_day(now, zone, cutoff_hour))
    start = datetime.combine(day, time(cutoff_hour), tzinfo=zone).astimezone(UTC)
    end = datetime.combine(day + timedelta(days=1), time(cutoff_hour), tzinfo=zone).astimezone(UTC)
    return day.isoformat(), min(start, now), max(end, now + timedelta(microseconds=1))


def add_months(at: datetime, months: int) -> datetime:
    """``at`` moved by calendar months, the day clamped to the month's last (31 Aug + 6 = 28 Feb)."""
    index = at.month - 1 + months
    year, month = at.year + index // 12, index % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))
