"""Balance inquiry (Club-8583 DE3 31): the balance, what is left of the caps, and for a
member its points, group and discount."""

from __future__ import annotations

from ..vocabulary import BalanceInquiry, Code, Kind, Outcome
from .accounts import resolve
from .draft import Draft
from .kinds import KindHandler
from .ledger import Entry


def balance(d: Draft, entry: Entry) -> Outcome:
    assert isinstance(d.request, BalanceInquiry)
    problem = resolve(d, d.request.card)
    if problem:
        return problem
    assert d.account is not None
    return d.room_outcome(entry, Code.APPROVED, **d.terms.member_view(d.account))


HANDLERS = (KindHandler(Kind.BALANCE, BalanceInquiry, balance),)
