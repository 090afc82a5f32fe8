"""Converting a member's points to credit (``points convert CARD POINTS``): the ``conversions`` table.

The points leave the account, a credit lot of ``points * points.value`` of the group arrives
(expiring as the group's earned credit does), and a ``conversions`` row ties the two, in
one transaction. The points are taken by a conditional update, so that two conversions at once
can never take more points than the account has.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from sqlalchemy import Connection, insert, select, update

from ..rules.calendar import add_months
from ..vocabulary import MAX_AMOUNT, mask_pan
from . import changes
from .checks import amount_problem, count_problem
from .errors import StoreError
from .members import lot_row
from .schema import accounts, cards, conversions, lots

if TYPE_CHECKING:
    from ..program import Group


@dataclass(frozen=True, slots=True)
class Conversion:
    """What ``points convert`` did: ``points`` became the lot ``lot_id`` of ``credit``;
    ``points_left`` on the account afterwards."""

    lot_id: str
    account_id: str
    points: int
    credit: int
    expires_at: datetime | None
    points_left: int


def credit_expiry(group: Group, now: datetime) -> datetime | None:
    """When credit the group's members earn at ``now`` expires: calendar months or days; ``None``: never."""
    if group.credit_expiry_months:
        return add_months(now, group.credit_expiry_months)
    if group.credit_expiry_days:
        return now + timedelta(days=group.credit_expiry_days)
    return None


def convert(conn: Connection, card: str, points: int, groups: Mapping[str, Group], now: datetime) -> Conversion:
    """Turn ``points`` of the account of the member card ``card`` into a credit lot."""
    if problem := count_problem("points", points, MAX_AMOUNT):
        raise StoreError(problem)
    masked = mask_pan(card)
    member = conn.execute(
        select(cards.c.account_id, cards.c.status, accounts.c.kind, accounts.c.group)
        .join(accounts, accounts.c.id == cards.c.account_id).where(cards.c.pan == card)
    ).one_or_none()
    if member is None:
        raise StoreError(f"card {masked} is not enrolled")
    if member.kind != "member":
        raise StoreError(f"card {masked} is a gift card: gift cards have no points")
    if member.status != "active":
        raise StoreError(f"card {masked} is {member.status}: convert on the member's active card")
    group = groups.get(member.group)
    if group is None:
        raise StoreError(f"the member's group {member.group!r} is not configured")
    if group.points.value <= 0:
        raise StoreError(f"points cannot be converted in group {group.name}: its points.value is 0")
    credit = points * group.points.value
    if problem := amount_problem(credit, "credit"):
        raise StoreError(f"{points} points of group {group.name} are too much at once: {problem}")
    left = conn.scalar(
        update(accounts).where(accounts.c.id == member.account_id, accounts.c.points >= points)
        .values(points=accounts.c.points - points).returning(accounts.c.points)
    )
    if left is None:
        have = conn.scalar(select(accounts.c.points).where(accounts.c.id == member.account_id))
        raise StoreError(f"card {masked} has only {have} points, not {points}")
    lot = lot_row(member.account_id, credit, now, credit_expiry(group, now), "points")
    conn.execute(insert(lots), lot)
    conn.execute(insert(conversions), {"lot_id": lot["id"], "account_id": member.account_id, "points": points,
                                       "at": now})
    changes.append(conn, "conversion", [lot["id"]], now)
    return Conversion(lot["id"], member.account_id, points, credit, lot["expires_at"], left)
