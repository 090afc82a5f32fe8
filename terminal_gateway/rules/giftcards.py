"""Gift cards: registered inactive, activated once at a terminal with an amount, then spent
like credit (their own balance, their own expiry) until they expire.

A gift card is an account of kind ``GIFT`` whose balance is the one lot its activation
created.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from ..vocabulary import ActivateGift, Code, Limit, Outcome
from .effects import LotCreated, Updated
from .ledger import Account, Entry, new_id
from .states import AccountKind, GiftState

if TYPE_CHECKING:
    from .core import Draft, RuleCore


def usable(account: Account, now: datetime) -> Outcome | None:
    """Why a gift card cannot pay or be asked its balance, if it cannot: not activated
    yet (57), or past its expiry (54)."""
    if account.gift_state != GiftState.ACTIVE:
        return Outcome(Code.NOT_PERMITTED_CARD, message="gift card not activated")
    if account.lots and not any(lot.usable(now) for lot in account.lots):
        return Outcome(Code.EXPIRED, limit=Limit.EXPIRED, message="gift card expired")
    return None


def activate(core: RuleCore, d: Draft, entry: Entry) -> Outcome:
    """Load the amount onto an inactive gift card; it expires after the program's validity."""
    request = d.request
    assert isinstance(request, ActivateGift)
    account = core.account_or_problem(d, request.card, request.amount, gift_check=False)
    if isinstance(account, Outcome):
        return account
    if account.kind != AccountKind.GIFT:
        return Outcome(Code.INVALID_TRANSACTION, message="not a gift card: only gift cards are activated")
    if account.gift_state == GiftState.ACTIVE:
        return Outcome(Code.NOT_PERMITTED_CARD, message="gift card already activated")
    expires_at = d.now + timedelta(days=core.config.gift_cards.validity_days)
    lot_id = new_id(d.now)
    d.apply(LotCreated(lot_id, account.id, request.amount, d.now, expires_at, "gift"))
    d.apply(Updated("account", account.id, "gift_state", account.gift_state, GiftState.ACTIVE))
    entry.created = (lot_id,)
    rrn, auth = core.approval()
    return Outcome(Code.APPROVED, amount=request.amount, balance=account.balance(d.now), rrn=rrn, auth_code=auth,
                   expires_on=expires_at.date())


def undo(core: RuleCore, d: Draft, original: Entry) -> Outcome:
    """Reverse an activation: the card is inactive again, provided nothing of it was spent."""
    problem = core.withdraw_created(d, original, "the gift card's balance")
    if problem:
        return problem
    d.apply(Updated("account", original.account_id or "", "gift_state", GiftState.ACTIVE, GiftState.INACTIVE))
    return Outcome(Code.APPROVED, amount=original.outcome.amount)
