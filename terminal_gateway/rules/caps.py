"""How much of a requested redemption may be approved, and which limit said so."""

from __future__ import annotations

from dataclasses import dataclass

from ..program import Caps, ClubRules, Service
from ..vocabulary import Code, Limit, ServiceLine

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
    service: int | None = None
    service_limit: Limit = Limit.SERVICE_CAP


def caps_at(rules: ClubRules, group: str, branch: str | None) -> Caps:
    """The caps of ``group`` at ``branch``: the branch's own keys replace the group's."""
    caps = rules.groups[group].caps
    override = rules.branches[branch].caps.get(group) if branch in rules.branches else None
    if override is None:
        return caps
    return Caps(*(mine if mine is not None else theirs for mine, theirs in zip(
        (override.daily_cap, override.invoice_cap, override.invoice_cap_percent, override.max_redemptions_per_day),
        (caps.daily_cap, caps.invoice_cap, caps.invoice_cap_percent, caps.max_redemptions_per_day),
        strict=True)))


def service_room(services: dict[str, Service], group: str, lines: tuple[ServiceLine, ...]) -> tuple[int | None, Limit]:
    """What credit may pay of the invoice's lines, and the limit that bounds it: each line
    up to its service's cap, nothing of a service restricted to other groups.

    ``None`` where no line has a service with a cap or a restriction. The limit is
    ``GROUP`` when the restrictions alone leave nothing."""
    room, restricted, bounded = 0, 0, False
    for line in lines:
        service = services.get(line.code)
        if service is None:
            room += line.amount
            continue
        if service.groups is not None and group not in service.groups:
            restricted += line.amount
            bounded = True
            continue
        part = line.amount
        if service.line_cap is not None:
            part, bounded = min(part, service.line_cap), True
        if service.line_cap_percent is not None:
            part, bounded = min(part, line.amount * service.line_cap_percent // 100), True
        room += part
    if not bounded:
        return None, Limit.SERVICE_CAP
    return room, (Limit.GROUP if room == 0 and restricted else Limit.SERVICE_CAP)


def room_left(
    caps: Caps,
    balance: int,
    daily_used: tuple[int, int],
    invoice_used: int,
    invoice_total: int | None,
    service: tuple[int | None, Limit] = (None, Limit.SERVICE_CAP),
) -> Room:
    """The room under ``caps``, given what today and this invoice already used, and
    what the invoice's lines allow (``service_room``, less what the invoice already used).

    An invoice cannot be paid beyond its total either, so a known total bounds the invoice
    room even where the group sets no invoice cap.
    """
    daily = None if caps.daily_cap is None else max(caps.daily_cap - daily_used[0], 0)
    count = None
    if caps.max_redemptions_per_day is not None:
        count = max(caps.max_redemptions_per_day - daily_used[1], 0)
    invoice_cap = caps.invoice_cap
    if caps.invoice_cap_percent is not None and invoice_total is not None:
        invoice_cap = invoice_total * caps.invoice_cap_percent // 100
    if invoice_total is not None:
        invoice_cap = invoice_total if invoice_cap is None else min(invoice_cap, invoice_total)
    invoice = None if invoice_cap is None else max(invoice_cap - invoice_used, 0)
    lines = None if service[0] is None else max(service[0] - invoice_used, 0)
    return Room(balance=max(balance, 0), daily=daily, invoice=invoice, count=count, service=lines,
                service_limit=service[1])


def grant(requested: int, room: Room) -> tuple[int, Limit | None]:
    """H = min(A, every room left). The limit named is the first, in the order balance,
    daily cap, invoice cap, service lines, that holds the amount lowest; none when all of
    A is granted."""
    if room.count is not None and room.count <= 0:
        return 0, Limit.DAILY_COUNT
    approved, limit = requested, None
    for candidate, left in (
        (Limit.BALANCE, room.balance),
        (Limit.DAILY_CAP, room.daily),
        (Limit.INVOICE_CAP, room.invoice),
        (room.service_limit, room.service),
    ):
        if left is not None and left < approved:
            approved, limit = left, candidate
    return approved, limit
