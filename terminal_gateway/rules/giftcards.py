"""Gift cards: registered inactive, activated once at a terminal with an amount, then spent
like credit (their own balance, their own expiry) until they expire.

A gift card is an account of kind ``GIFT`` whose balance is the one lot its activation
created.
"""

from __future__ import annotations

from datetime import timedelta

from ..vocabulary import ActivateGift, Code, Kind, Outcome
from .accounts import account_or_problem
from .draft import Draft
from .effects import LotCreated, Updated
from .kinds import KindHandler
from .ledger import Entry, new_id
from .limits import over_maximum
from .lots import withdraw_created
from .states import AccountKind, GiftState


def activate(d: Draft, entry: Entry) -> Outcome:
    """Load the amount onto an inactive gift card; it expires after the program's validity."""
    request = d.request
    assert isinstance(request, ActivateGift)
    account = over_maximum(d, "max_gift_activation", request.amount, "the amount") or account_or_problem(
        d, request.card, request.amount, gift_check=False)
    if isinstance(account, Outcome):
        return account
    if account.kind != AccountKind.GIFT:
        return Outcome(Code.INVALID_TRANSACTION, message="not a gift card: only gift cards are activated")
    if account.gift_state == GiftState.ACTIVE:
        return Outcome(Code.NOT_PERMITTED_CARD, message="gift card already activated")
    expires_at = d.now + timedelta(days=d.terms.rules.gift_cards.validity_days)
    lot_id = new_id(d.now)
    d.apply(LotCreated(lot_id, account.id, request.amount, d.now, expires_at, "gift"))
    d.apply(Updated("account", account.id, "gift_state", account.gift_state, GiftState.ACTIVE))
    entry.created = (lot_id,)
    rrn, auth = d.approval()
    return Outcome(Code.APPROVED, amount=request.amount, balance=account.balance(d.now), rrn=rrn, auth_code=auth,
                   expires_on=expires_at.date())


def undo(d: Draft, original: Entry) -> Outcome:
    """Reverse an activation: the card is inactive again, provided nothing of it was spent."""
    problem = withdraw_created(d, original, "the gift card's balance")
    if problem:
        return problem
    d.apply(Updated("account", original.account_id or "", "gift_state", GiftState.ACTIVE, GiftState.INACTIVE))
    return Outcome(Code.APPROVED, amount=original.outcome.amount)


HANDLERS = (KindHandler(Kind.GIFT_ACTIVATION, ActivateGift, activate, undo),)
