"""Redemption and what follows it: holds and their completion or expiry, refunds, and the
reversal of each (Club-8583 DE3 00 and 20).

A redemption is granted min(A, every room left); a hold earmarks the credit until it is
completed, reversed or expires; a refund gives credit back to the very lots it came from.
"""

from __future__ import annotations

from datetime import timedelta

from ..program import Caps
from ..vocabulary import Code, Complete, Kind, Limit, Outcome, Redeem, Refund, Request
from .accounts import account_or_problem, resolve
from .caps import DECLINE_CODES, Room, grant, room_left, service_room
from .draft import Draft
from .effects import BatchItem, DailyUsage, InvoiceUsage, Posting
from .kinds import KindHandler
from .ledger import Account, Entry
from .limits import REDEMPTION_RATES, admit, over_maximum
from .lots import give_back, take
from .states import AccountKind, HoldState


def redeem(d: Draft, entry: Entry) -> Outcome:
    request = d.request
    assert isinstance(request, Redeem) and d.terminal is not None
    problem = (over_maximum(d, "max_invoice", request.amount, "the amount")
               or over_maximum(d, "max_invoice", request.invoice_total, "the invoice total"))
    account = problem or account_or_problem(d, request.card, request.amount)
    if isinstance(account, Outcome):
        return account
    caps = d.terms.caps(account, d.terminal.branch)
    if caps.invoice_cap_percent is not None and request.invoice_total is None:
        return Outcome(Code.FORMAT_ERROR,
                       message="DE48 IT (invoice total) is required: the invoice cap is a percentage")
    entry.day, entry.branch, entry.invoice = d.day(), d.terminal.branch, request.invoice
    room = room_for(d, account, caps, entry, request)
    approved, limit = grant(request.amount, room)
    if limit is Limit.BALANCE and approved == 0 and account.expired_credit(d.now) > 0:
        limit = Limit.EXPIRED
    if approved == 0 or (limit is not None and not d.family.partial_approval):
        assert limit is not None
        return Outcome(DECLINE_CODES[limit], balance=room.balance, daily_remaining=room.daily,
                       invoice_remaining=room.invoice, limit=limit,
                       message=f"declined: {limit.value} leaves {approved}")
    too_fast = admit(d, REDEMPTION_RATES, approved)
    if too_fast:
        return too_fast
    entry.taken = take(d, account, approved)
    d.apply(DailyUsage(account.id, entry.day, approved, 1))
    d.apply(InvoiceUsage(entry.branch, request.invoice, approved))
    if request.hold:
        entry.hold_state = HoldState.OPEN
        entry.expires_at = d.now + timedelta(minutes=d.terms.rules.program.hold_minutes)
    else:
        entry.batch_seq = d.terminal.batch_seq
        d.apply(BatchItem(d.terminal.tid, entry.batch_seq, "debits", approved))
    rrn, auth = d.approval()
    return Outcome(Code.APPROVED if limit is None else Code.PARTIAL, approved, room.balance - approved,
                   _less(room.daily, approved), _less(room.invoice, approved), limit, rrn, auth)


def room_for(d: Draft, account: Account, caps: Caps, entry: Entry, request: Redeem) -> Room:
    """The room of a redemption; a member's invoice lines bounded by their services."""
    services = d.terms.rules.services
    lines = service_room(services, account.group, request.lines) if (
        request.lines and services and account.kind == AccountKind.MEMBER) else (None, Limit.SERVICE_CAP)
    return room_left(caps, account.balance(d.now), d.ledger.daily_used(account.id, entry.day or ""),
                     d.ledger.invoices.get((entry.branch or "", request.invoice), 0), request.invoice_total, lines)


def complete(d: Draft, entry: Entry) -> Outcome:
    request = d.request
    assert isinstance(request, Complete) and d.terminal is not None
    hold = d.ledger.by_rrn.get(request.rrn)
    if hold is None or hold.kind != Kind.HOLD or hold.branch != d.terminal.branch:
        return Outcome(Code.ORIGINAL_NOT_FOUND, message=f"no hold with RRN {request.rrn} at this branch")
    if hold.hold_state != HoldState.OPEN:
        return Outcome(Code.ORIGINAL_NOT_FOUND, message=f"hold {request.rrn} is {hold.hold_state}")
    if request.card is None:  # a protocol whose completion names the hold only (SmartPOS)
        d.account = d.ledger.accounts[hold.account_id or ""]
    problem = resolve(d, request.card) if request.card is not None else None
    if problem or d.account is None or d.account.id != hold.account_id:
        return problem or Outcome(Code.ORIGINAL_NOT_FOUND, message=f"hold {request.rrn} is not this card's")
    held = hold.outcome.amount
    problem = d.terms.amount_problem(request, request.amount)
    if problem or request.amount > held:
        return problem or Outcome(Code.INVALID_AMOUNT, message=f"completion exceeds the held amount {held}")
    release = held - request.amount
    if release:
        give_back(d, hold, release)
        unuse(d, hold, release, 0)
    d.change(hold, "hold_state", HoldState.COMPLETED)
    d.change(hold, "captured", request.amount)
    entry.ref, entry.day, entry.invoice = hold.outcome.rrn, hold.day, hold.invoice
    entry.batch_seq = d.terminal.batch_seq
    d.apply(BatchItem(d.terminal.tid, entry.batch_seq, "debits", request.amount))
    return d.room_outcome(entry, Code.APPROVED, request.amount, rrn=hold.outcome.rrn, auth_code=hold.outcome.auth_code)


def refund(d: Draft, entry: Entry) -> Outcome:
    request = d.request
    assert isinstance(request, Refund) and d.terminal is not None
    original = d.ledger.by_rrn.get(request.rrn)
    if original is None or original.kind not in (Kind.REDEEM, Kind.HOLD) or original.branch != d.terminal.branch:
        return Outcome(Code.ORIGINAL_NOT_FOUND, message=f"no redemption with RRN {request.rrn} at this branch")
    problem = resolve(d, request.card)
    if problem or d.account is None or d.account.id != original.account_id:
        return problem or Outcome(Code.ORIGINAL_NOT_FOUND, message=f"redemption {request.rrn} is not this card's")
    if original.kind == Kind.HOLD:
        spent = original.captured if original.hold_state == HoldState.COMPLETED else 0
    else:
        spent = 0 if original.reversed or not original.outcome.approved else original.outcome.amount
    refundable = spent - original.refunded
    problem = d.terms.amount_problem(request, request.amount)
    if problem or request.amount > refundable:
        return problem or Outcome(Code.INVALID_AMOUNT, message=f"refund exceeds the refundable {refundable}")
    entry.taken = give_back(d, original, request.amount)
    d.change(original, "refunded", original.refunded + request.amount)
    entry.ref, entry.day = request.rrn, original.day
    entry.batch_seq = d.terminal.batch_seq
    d.apply(BatchItem(d.terminal.tid, entry.batch_seq, "credits", request.amount))
    rrn, auth = d.approval()
    return d.room_outcome(entry, Code.APPROVED, request.amount, rrn=rrn, auth_code=auth)


def undo_redeem(d: Draft, original: Entry) -> Outcome:
    amount = original.outcome.amount
    give_back(d, original, amount - original.given_back)
    unuse(d, original, amount, 1)
    batch_reversal(d, "debits_reversal", amount)
    return Outcome(Code.APPROVED, amount=amount)


def undo_hold(d: Draft, original: Entry) -> Outcome:
    if original.hold_state == HoldState.COMPLETED:
        return Outcome(Code.INVALID_TRANSACTION, message="the hold was completed: reverse the completion")
    if original.hold_state == HoldState.OPEN:
        held = original.outcome.amount
        give_back(d, original, held - original.given_back)
        unuse(d, original, held, 1)
        d.change(original, "hold_state", HoldState.REVERSED)
        return Outcome(Code.APPROVED, amount=held)
    return Outcome(Code.APPROVED, message=f"the hold had {original.hold_state}")


def undo_completion(d: Draft, original: Entry) -> Outcome:
    hold = d.ledger.by_rrn[original.ref or ""]
    captured = hold.captured
    give_back(d, hold, hold.outcome.amount - hold.given_back)
    unuse(d, hold, captured, 1)
    d.change(hold, "hold_state", HoldState.REVERSED)
    batch_reversal(d, "debits_reversal", captured)
    return Outcome(Code.APPROVED, amount=captured)


def undo_refund(d: Draft, original: Entry) -> Outcome:
    """Take refunded credit back from the very lots it went to, if it is still there.

    Once the redemption itself was reversed, all its credit is back already: the refund
    is undone in the books only, and no lot moves."""
    amount = original.outcome.amount
    redemption = d.ledger.by_rrn[original.ref or ""]
    if not (redemption.reversed or redemption.hold_state == HoldState.REVERSED):
        for lot_id, part in original.taken:
            if d.ledger.lots[lot_id].remaining < part:
                return Outcome(Code.INSUFFICIENT_BALANCE, limit=Limit.BALANCE,
                               message="the refunded credit was spent since")
        for lot_id, part in original.taken:
            d.apply(Posting(lot_id, original.account_id or "", -part))
        d.change(redemption, "given_back", redemption.given_back - amount)
    d.change(redemption, "refunded", redemption.refunded - amount)
    batch_reversal(d, "credits_reversal", amount)
    return Outcome(Code.APPROVED, amount=amount)


def batch_reversal(d: Draft, kind: str, amount: int) -> None:
    """A reversal counts in the open batch, beside the debit or credit it reverses."""
    assert d.terminal is not None
    d.apply(BatchItem(d.terminal.tid, d.terminal.batch_seq, kind, amount))


def _less(room: int | None, used: int) -> int | None:
    return None if room is None else room - used


def unuse(d: Draft, entry: Entry, amount: int, count: int) -> None:
    """Give cap room back: the redemption, or part of it, did not happen."""
    d.apply(DailyUsage(entry.account_id or "", entry.day or "", -amount, -count))
    if entry.invoice is not None:
        d.apply(InvoiceUsage(entry.branch or "", entry.invoice, -amount))


def _only_authorizes(request: Request) -> bool:
    return isinstance(request, Redeem) and request.hold


HANDLERS = (
    KindHandler(Kind.REDEEM, Redeem, redeem, undo_redeem),
    KindHandler(Kind.HOLD, Redeem, redeem, undo_hold, when=_only_authorizes),
    KindHandler(Kind.COMPLETE, Complete, complete, undo_completion),
    KindHandler(Kind.REFUND, Refund, refund, undo_refund),
)
