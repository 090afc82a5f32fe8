"""How much of a requested redemption may be approved, and which limit said so."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import Group
from ..vocabulary import Code, Limit

DECLINE_CODES = {
    Limit.BALANCE: Code.INSUFFICIENT_BALANCE,
    Limit.EXPIRED: Code.INSUFFICIENT_BALANCE,
    Limit.DAILY_CAP: Code.OVER_CAP,
    Limit.INVOICE_CAP: Code.OVER_CAP,
    Limit.SERVICE_CAP: Code.OVER_CAP,
    Limit.DAILY_COUNT: Code.OVER_COUNT,
    Limit.GROUP: Code.NOT_PERMITTED_CARD,
    Limit.BLOCKED: Code.DO_NOT_HONOUR,
}


@dataclass(frozen=True, slots=True)
class Room:
    """What is left under each limit; ``None`` where no such limit is configured."""

    balance: int
    daily: int | None = None
    invoice: int | None = None
    count: int | None = None


def room_left(
    group: Group,
    balance: int,
    daily_used: tuple[int, int],
    invoice_used: int,
    invoice_total: int | None,
) -> Room:
    """The room a member of ``group`` has, given what today and this invoice already used.

    An invoice cannot be paid beyond its total either, so a known total bounds the invoice
    room even where the group sets no invoice cap.
    """
    daily = None if group.daily_cap is None else max(group.daily_cap - daily_used[0], 0)
    count = None
    if group.max_redemptions_per_day is not None:
        count = max(group.max_redemptions_per_day - daily_used[1], 0)
    invoice_cap = group.invoice_cap
    if group.invoice_cap_percent is not None and invoice_total is not None:
        invoice_cap = invoice_total * group.invoice_cap_percent // 100
    if invoice_total is not None:
        invoice_cap = invoice_total if invoice_cap is None else min(invoice_cap, invoice_total)
    invoice = None if invoice_cap is None else max(invoice_cap - invoice_used, 0)
    return Room(balance=max(balance, 0), daily=daily, invoice=invoice, count=count)


def grant(requested: int, room: Room) -> tuple[int, Limit | None]:
    """H = min(A, every room left). The limit named is the first, in the order balance,
    daily cap, invoice cap, that holds the amount lowest; none when all of A is granted."""
    if room.count is not None and room.count <= 0:
        return 0, Limit.DAILY_COUNT
    approved, limit = requested, None
    for candidate, left in (
        (Limit.BALANCE, room.balance),
        (Limit.DAILY_CAP, room.daily),
        (Limit.INVOICE_CAP, room.invoice),
    ):
        if left is not None and left < approved:
            approved, limit = left, candidate
    return approved, limit
