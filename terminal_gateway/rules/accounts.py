"""The account a request acts on, found by card or phone, or the answer that says why not."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING

from ..vocabulary import CardRef, Code, Limit, Outcome, mask_pan
from .cards import luhn_valid
from .ledger import Account
from .states import AccountKind, CardStatus, GiftState

if TYPE_CHECKING:
    from .draft import Draft


def resolve(d: Draft, card: CardRef | None, *, gift_check: bool = True) -> Outcome | None:
    """Find the member's (or gift card's) account, noted as ``d.account``, or the answer that
    says why not; a gift card must be active and unexpired unless ``gift_check`` is off
    (activation)."""
    ledger, rules = d.ledger, d.terms.rules
    if card is None or not (card.pan or card.phone):
        return Outcome(Code.FORMAT_ERROR, message="no card number or phone")
    if card.pan is not None:
        found = ledger.cards.get(card.pan)
        if found is None:  # enrolled cards passed the Luhn check when they were enrolled
            problem = "fails the Luhn check" if not luhn_valid(card.pan) else "is not a club card"
            return Outcome(Code.UNKNOWN_CARD, message=f"card {mask_pan(card.pan)} {problem}")
        if found.status == CardStatus.LOST:
            return Outcome(Code.LOST_CARD, message=f"card {mask_pan(card.pan)} was reported lost")
        account = ledger.accounts[found.account_id]
        d.account = account
        if found.status == CardStatus.BLOCKED:
            return Outcome(Code.DO_NOT_HONOUR, limit=Limit.BLOCKED, message="card blocked by the operator")
    else:
        if not rules.program.phone_lookup:
            return Outcome(Code.INVALID_TRANSACTION, message="phone lookup is not enabled in this program")
        account_id = ledger.phones.get(card.phone or "")
        if account_id is None:
            return Outcome(Code.UNKNOWN_CARD, message="no member with that phone number")
        account = ledger.accounts[account_id]
        d.account = account
    if account.blocked:
        return Outcome(Code.DO_NOT_HONOUR, limit=Limit.BLOCKED, message="member blocked by the operator")
    if account.kind == AccountKind.GIFT:
        return _unusable_gift_card(account, d.now) if gift_check else None
    if account.group not in rules.groups:
        return Outcome(Code.NOT_PERMITTED_CARD, limit=Limit.GROUP,
                       message=f"the member's group {account.group!r} is not configured")
    return None


def account_or_problem(d: Draft, card: CardRef, amount: int | None = None, *,
                       gift_check: bool = True) -> Account | Outcome:
    """The account a request acts on, or the answer that says why it cannot: a bad
    ``amount`` first, then everything ``resolve`` checks."""
    problem = (amount is not None and d.terms.amount_problem(d.request, amount)) or resolve(
        d, card, gift_check=gift_check)
    if problem:
        return problem
    assert d.account is not None
    return d.account


def _unusable_gift_card(account: Account, now: datetime) -> Outcome | None:
    """Why a gift card cannot pay or be asked its balance, if it cannot: not activated
    yet (57), or past its expiry (54)."""
    if account.gift_state != GiftState.ACTIVE:
        return Outcome(Code.NOT_PERMITTED_CARD, message="gift card not activated")
    if account.lots and not any(lot.usable(now) for lot in account.lots):
        return Outcome(Code.EXPIRED, limit=Limit.EXPIRED, message="gift card expired")
    return None
