"""Business days: the branch's local date, shifted by its cut-off hour."""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo


def business_day(now: datetime, zone: ZoneInfo, cutoff_hour: int) -> str:
    """The ISO date of the business day ``now`` (UTC) falls in at a branch.

    A branch whose day starts at 04:00 counts a payment at 02:30 local time to the day
    before, so a night shift's redemptions share one daily cap.
    """
    local = now.astimezone(zone) - timedelta(hours=cutoff_hour)
    return local.date().isoformat()
