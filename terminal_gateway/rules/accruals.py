"""Accrual (Club-8583 DE3 22) and accrual return (23): earning on money really paid, and
taking it back in proportion when that money is refunded.

One accrual per branch and invoice. What it earned (the member's credit lot, its referrers'
lots, points) is booked as an ``Accrual``, so that a return takes back the same share of
each and a reversal all of what is left; upgrades are checked after every accrual.
"""

from __future__ import annotations

from datetime import date

from ..vocabulary import AccrualReturn, Accrue, Code, Kind, Outcome
from .accounts import account_or_problem
from .draft import Draft
from .earning import credit_earned, credit_expiry, points_earned, referrers, upgrade_target
from .effects import AccrualBooked, LotCreated, PointsMoved, Posting, Updated
from .kinds import KindHandler
from .ledger import Account, Accrual, Entry, new_id
from .limits import ACCRUAL_RATES, admit, over_maximum
from .lots import take
from .states import AccountKind


def accrue(d: Draft, entry: Entry) -> Outcome:
    request = d.request
    assert isinstance(request, Accrue) and d.terminal is not None
    account = over_maximum(d, "max_accrual", request.amount, "the money paid") or _member(d, entry, request)
    if isinstance(account, Outcome):
        return account
    branch, paid, rules = d.terminal.branch, request.amount, d.terms.rules
    if (branch, request.invoice) in d.ledger.accruals:
        return Outcome(Code.DUPLICATE, message=f"invoice {request.invoice} has earned already at this branch")
    too_fast = admit(d, ACCRUAL_RATES, paid)
    if too_fast:
        return too_fast
    group = rules.groups[account.group]
    credit = credit_earned(rules, group, account, paid, request.lines)
    points = points_earned(rules, group, paid, request.lines, date.fromisoformat(entry.day).weekday())
    earners = [(account, credit, "accrual")]
    earners += [(referrer, amount, "referral") for referrer, amount in referrers(d.ledger, group, account, paid, d.now)]
    shares = []
    for earner, amount, source in earners:
        if amount > 0:
            lot_id = new_id(d.now)
            expires_at = credit_expiry(rules.groups.get(earner.group, group), d.now)
            d.apply(LotCreated(lot_id, earner.id, amount, d.now, expires_at, source))
            shares.append((earner.id, lot_id, amount))
    if points:
        d.apply(PointsMoved(account.id, points))
    accrual = Accrual(new_id(d.now), account.id, branch, request.invoice, d.now, paid, points, tuple(shares))
    d.apply(AccrualBooked(accrual))
    entry.ref = accrual.id
    previous = account.group
    for _ in rules.groups:
        target = upgrade_target(rules, account, d.now)
        if target is None or target == account.group:
            break
        d.apply(Updated("account", account.id, "group", account.group, target))
    if account.group != previous:
        entry.previous_group = previous
    rrn, _ = d.approval()
    return Outcome(Code.APPROVED, amount=paid, balance=account.balance(d.now), rrn=rrn, earned=credit,
                   points_earned=points, **d.terms.member_view(account))


def take_back(d: Draft, entry: Entry) -> Outcome:
    """A return of ``amount`` of the invoice's money takes back that share of what it earned."""
    request = d.request
    assert isinstance(request, AccrualReturn) and d.terminal is not None
    account = _member(d, entry, request)
    if isinstance(account, Outcome):
        return account
    accrual = d.ledger.accruals.get((d.terminal.branch, request.invoice))
    if accrual is None or accrual.account_id != account.id:
        return Outcome(Code.ORIGINAL_NOT_FOUND, message=f"no accrual of this card for invoice {request.invoice}")
    returnable = accrual.paid - accrual.returned
    if request.amount > returnable:
        return Outcome(Code.INVALID_AMOUNT, message=f"return exceeds the money paid and not yet returned {returnable}")
    entry.ref = accrual.id
    outcome = _claw_back(d, entry, accrual, accrual.returned + request.amount)
    d.apply(Updated("accrual", accrual.id, "returned", accrual.returned, accrual.returned + request.amount))
    rrn, _ = d.approval()
    return Outcome(Code.APPROVED, amount=request.amount, balance=account.balance(d.now), rrn=rrn,
                   earned=outcome.earned, points_earned=outcome.points_earned, message=outcome.message,
                   **d.terms.member_view(account))


def undo_accrual(d: Draft, original: Entry) -> Outcome:
    """Reverse an accrual: what is left of its earnings goes, its invoice may earn again, and
    an upgrade it caused is undone."""
    accrual = d.ledger.accruals_by_id[original.ref or ""]
    account = d.ledger.accounts[accrual.account_id]
    outcome = _claw_back(d, None, accrual, accrual.paid)
    d.apply(Updated("accrual", accrual.id, "reversed", False, True))
    if original.previous_group is not None and account.group != original.previous_group:
        d.apply(Updated("account", account.id, "group", account.group, original.previous_group))
    return Outcome(Code.APPROVED, amount=accrual.paid - accrual.returned, earned=outcome.earned,
                   points_earned=outcome.points_earned, message=outcome.message)


def undo_take_back(d: Draft, original: Entry) -> Outcome:
    """Reverse a return: what it took goes back to the very lots, and its points.

    Once the accrual itself was reversed, nothing of it is owed any more: the return is
    undone in the books only, and nothing goes back."""
    accrual = d.ledger.accruals_by_id[original.ref or ""]
    if not accrual.reversed:
        for lot_id, part in original.taken:
            d.apply(Posting(lot_id, d.ledger.lots[lot_id].account_id, part))
        if original.outcome.points_earned:
            d.apply(PointsMoved(accrual.account_id, -original.outcome.points_earned))
    amount = original.outcome.amount
    d.apply(Updated("accrual", accrual.id, "returned", accrual.returned, accrual.returned - amount))
    return Outcome(Code.APPROVED, amount=amount)


def _member(d: Draft, entry: Entry, request: Accrue | AccrualReturn) -> Account | Outcome:
    """The paying member's account, the invoice and business day noted on ``entry``."""
    entry.day, entry.invoice = d.day(), request.invoice
    account = account_or_problem(d, request.card, request.amount)
    if isinstance(account, Account) and account.kind != AccountKind.MEMBER:
        return Outcome(Code.INVALID_TRANSACTION, message="gift cards do not earn")
    return account


def _claw_back(d: Draft, entry: Entry | None, accrual: Accrual, returned: int) -> Outcome:
    """Take back what ``accrual`` earned for the money from ``accrual.returned`` up to
    ``returned``: each earner's share from the lot it earned, then from its other lots;
    what was spent already is named in the message, never taken below zero."""
    before, taken, member_taken, short = accrual.returned, [], 0, 0
    for account_id, lot_id, amount in accrual.credit:
        due = amount * returned // accrual.paid - amount * before // accrual.paid
        parts = _take_from(d, d.ledger.accounts[account_id], lot_id, due)
        got = sum(part for _, part in parts)
        taken += parts
        short += due - got
        if account_id == accrual.account_id:
            member_taken += got
    account = d.ledger.accounts[accrual.account_id]
    points_due = accrual.points * returned // accrual.paid - accrual.points * before // accrual.paid
    points = min(points_due, max(account.points, 0))
    if points:
        d.apply(PointsMoved(account.id, -points))
    if entry is not None:
        entry.taken = tuple(taken)
    missing = []
    if short:
        missing.append(f"{short} credit")
    if points < points_due:
        missing.append(f"{points_due - points} points")
    message = f"already spent, not taken back: {', '.join(missing)}" if missing else ""
    return Outcome(Code.APPROVED, earned=-member_taken, points_earned=-points, message=message)


def _take_from(d: Draft, account: Account, lot_id: str, due: int) -> list[tuple[str, int]]:
    """``due`` from the lot ``lot_id`` first, then from the account's usable lots."""
    lot = d.ledger.lots[lot_id]
    first = min(due, max(lot.remaining, 0))
    parts = []
    if first:
        d.apply(Posting(lot_id, account.id, -first))
        parts.append((lot_id, first))
    if due > first:
        parts += take(d, account, due - first)
    return parts


HANDLERS = (
    KindHandler(Kind.ACCRUAL, Accrue, accrue, undo_accrual),
    KindHandler(Kind.ACCRUAL_RETURN, AccrualReturn, take_back, undo_take_back),
)
