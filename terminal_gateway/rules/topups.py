"""Voucher top-up (Club-8583 DE3 21): a PIN redeemed onto a card as a credit lot.

Every wrong PIN answers 55, whatever was wrong with it, and counts against the terminal, the
card and all top-ups together; too many in a while lock top-ups there (75) before the PIN is
even looked at.
The reason is kept in the record for the operator; the terminal never learns it.
"""

from __future__ import annotations

from ..vocabulary import Code, Kind, Outcome, TopUp
from .accounts import account_or_problem
from .draft import Draft
from .effects import LotCreated, PinFailure, Updated
from .kinds import KindHandler
from .ledger import Entry, Voucher, new_id
from .limits import over_maximum
from .lots import withdraw_created
from .states import AccountKind, VoucherState
from .vouchers import locked_until, pin_hash

WRONG_PIN = "invalid voucher PIN"
EVERYWHERE = "global"  # the scope of wrong PINs counted over every terminal and card


def top_up(d: Draft, entry: Entry) -> Outcome:
    request = d.request
    assert isinstance(request, TopUp) and d.terminal is not None
    key = d.terms.voucher_key
    if key is None:
        return Outcome(Code.INVALID_TRANSACTION, message="voucher top-up is not configured ([vouchers] key)")
    account = account_or_problem(d, request.card)
    if isinstance(account, Outcome):
        return account
    if account.kind != AccountKind.MEMBER:
        return Outcome(Code.INVALID_TRANSACTION, message="vouchers top up club cards, not gift cards")
    rules = d.terms.rules.vouchers
    scopes = ((f"terminal:{d.terminal.tid}", rules.local), (f"account:{account.id}", rules.local),
              (EVERYWHERE, rules.overall))
    for scope, lockout in scopes:
        until = locked_until(d.ledger.pin_failures.get(scope, []), lockout, d.now)
        if until is not None:
            return Outcome(Code.PIN_LOCKED, message=f"voucher top-up locked for {_scope_name(scope)} "
                                                    f"until {until:%H:%M:%S} UTC after repeated wrong PINs")
    pin = request.pin
    voucher = d.ledger.vouchers.get(pin_hash(key, pin)) if pin.isdigit() else None
    reason = _unusable(voucher, d) if len(pin) >= rules.pin_digits else "too short"
    if reason is not None:
        for scope, _ in scopes:
            d.apply(PinFailure(scope, d.now))
        return Outcome(Code.INVALID_PIN, message=f"{WRONG_PIN} ({reason})")
    assert voucher is not None
    problem = over_maximum(d, "max_top_up", voucher.value, "the voucher's value")
    if problem:
        return problem
    lot_id = new_id(d.now)
    d.apply(LotCreated(lot_id, account.id, voucher.value, d.now, voucher.expires_at, "voucher"))
    d.apply(Updated("voucher", voucher.serial, "state", VoucherState.ACTIVE, VoucherState.REDEEMED))
    entry.ref, entry.created = voucher.serial, (lot_id,)
    rrn, auth = d.approval()
    return Outcome(Code.APPROVED, amount=voucher.value, balance=account.balance(d.now), rrn=rrn, auth_code=auth)


def _scope_name(scope: str) -> str:
    """``terminal:T1`` as "this terminal", ``global`` as "every terminal and card"."""
    return "every terminal and card" if scope == EVERYWHERE else "this " + scope.partition(":")[0]


def _unusable(voucher: Voucher | None, d: Draft) -> str | None:
    if voucher is None:
        return "unknown"
    if voucher.state != VoucherState.ACTIVE:
        return "not activated" if voucher.state == VoucherState.GENERATED else voucher.state
    if voucher.expires_at is not None and d.now >= voucher.expires_at:
        return "expired"
    return None


def undo(d: Draft, original: Entry) -> Outcome:
    """Reverse a top-up: the credit leaves the card and the voucher can be redeemed again,
    provided the credit was not spent since."""
    problem = withdraw_created(d, original, "the topped-up credit")
    if problem:
        return problem
    d.apply(Updated("voucher", original.ref or "", "state", VoucherState.REDEEMED, VoucherState.ACTIVE))
    return Outcome(Code.APPROVED, amount=original.outcome.amount)


HANDLERS = (KindHandler(Kind.TOPUP, TopUp, top_up, undo),)
