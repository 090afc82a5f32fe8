"""Credit moving between a decision and the lots: taken, given back, withdrawn whole."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..vocabulary import Code, Limit, Outcome
from .effects import Posting
from .ledger import Account, Entry

if TYPE_CHECKING:
    from .draft import Draft


def take(d: Draft, account: Account, amount: int) -> tuple[tuple[str, int], ...]:
    """Debit ``amount`` from the usable lots, soonest-expiring first."""
    taken = []
    for lot in account.lots:
        if amount == 0:
            break
        if lot.remaining > 0 and lot.usable(d.now):
            part = min(lot.remaining, amount)
            d.apply(Posting(lot.id, account.id, -part))
            taken.append((lot.id, part))
            amount -= part
    return tuple(taken)


def give_back(d: Draft, entry: Entry, amount: int) -> tuple[tuple[str, int], ...]:
    """Return ``amount`` of what ``entry`` took to the lots it came from, latest first,
    with their own expiry."""
    skip, left, returned = entry.given_back, amount, []
    for lot_id, taken in reversed(entry.taken):
        if left == 0:
            break
        if skip >= taken:
            skip -= taken
            continue
        part = min(taken - skip, left)
        skip = 0
        d.apply(Posting(lot_id, entry.account_id or "", part))
        returned.append((lot_id, part))
        left -= part
    d.change(entry, "given_back", entry.given_back + amount)
    return tuple(returned)


def withdraw_created(d: Draft, original: Entry, what: str) -> Outcome | None:
    """Take back, whole, the lot ``original`` created (a top-up, a gift card's load);
    the answer that says why not if any of it was spent since."""
    (lot_id,) = original.created
    lot = d.ledger.lots[lot_id]
    if lot.remaining != original.outcome.amount:
        return Outcome(Code.INSUFFICIENT_BALANCE, limit=Limit.BALANCE, message=f"{what} was spent since")
    d.apply(Posting(lot_id, lot.account_id, -lot.remaining))
    return None
