"""Properties of earning over any sequence of accruals, returns, redemptions and reversals:
no lot or points balance goes negative, an invoice never returns more than it paid, taking
everything back leaves every account as it began, and reverting the records of a run
restores the ledger exactly."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from terminal_gateway.program import Earning, Group, Points, Referral, Upgrade
from terminal_gateway.rules import Account, Card
from terminal_gateway.vocabulary import AccrualReturn, Accrue, CardRef, Code, Redeem, Reverse

from .conftest import Club, card_number, club_config

MEMBERS = 3
INVOICES = ("INV-1", "INV-2", "INV-3")
SILVER = Group("silver", default=True, earning=Earning(percent_bp=700, per_invoice=300), points=Points(per_invoice=5),
               referral=Referral((500, 250)), upgrade=Upgrade("gold", min_paid=150_000))

operation = st.one_of(
    st.tuples(st.just("accrue"), st.integers(0, MEMBERS - 1), st.integers(0, 120_000), st.sampled_from(INVOICES)),
    st.tuples(st.just("return"), st.integers(0, MEMBERS - 1), st.integers(0, 60_000), st.sampled_from(INVOICES)),
    st.tuples(st.just("redeem"), st.integers(0, MEMBERS - 1), st.integers(1, 20_000)),
    st.tuples(st.just("reverse"), st.integers(0, 40)),
)


class Run:
    """Members 0 <- 1 <- 2, each referred by the one before, with no credit but what they earn."""

    def __init__(self) -> None:
        config = club_config()
        self.club = Club(replace(config, groups={**config.groups, "silver": SILVER}))
        ledger, self.cards = self.club.core.ledger, []
        for n in range(MEMBERS):
            pan = card_number(n)
            ledger.add_account(Account(f"acc{n}", "silver", referrer_id=f"acc{n - 1}" if n else None,
                                       joined_at=self.club.now - timedelta(days=1)))
            ledger.cards[pan] = Card(pan, f"acc{n}")
            self.cards.append(CardRef(pan=pan))
        self.sent: list[tuple[dict, object]] = []
        self.records: list = []

    def play(self, op: tuple) -> None:
        kind = op[0]
        if kind == "accrue":
            self.send(Accrue, card=self.cards[op[1]], amount=op[2], invoice=op[3])
        elif kind == "return":
            self.send(AccrualReturn, card=self.cards[op[1]], amount=op[2], invoice=op[3])
        elif kind == "redeem":
            self.send(Redeem, card=self.cards[op[1]], amount=op[2], invoice="SPEND")
        elif kind == "reverse" and self.sent:
            fields, _ = self.sent[op[1] % len(self.sent)]
            self.send(Reverse, original_key=fields["key"])
        self.check()

    def send(self, request_type: type, **fields: object) -> None:
        fields["key"] = self.club.key()
        self.club.now += timedelta(seconds=1)
        decision = self.club.send(request_type, **fields)
        self.sent.append((fields | {"type": request_type}, decision))
        self.records.extend(decision.records)

    def check(self) -> None:
        ledger = self.club.core.ledger
        assert all(lot.remaining >= 0 for lot in ledger.lots.values()), "a lot went negative"
        assert all(account.points >= 0 for account in ledger.accounts.values()), "points went negative"
        for accrual in ledger.accruals_by_id.values():
            assert 0 <= accrual.returned <= accrual.paid
        for (branch, invoice), accrual in ledger.accruals.items():
            assert (accrual.branch, accrual.invoice) == (branch, invoice) and not accrual.reversed


def state(club: Club) -> tuple:
    ledger = club.core.ledger
    return ({lot.id: lot.remaining for lot in ledger.lots.values()},
            {a.id: (a.points, a.group, len(a.accruals)) for a in ledger.accounts.values()},
            {k: (a.returned, a.reversed) for k, a in ledger.accruals.items()}, set(ledger.by_key),
            {k: tuple(v) for k, v in ledger.daily.items()}, dict(ledger.invoices))


@settings(max_examples=200, deadline=None)
@given(st.lists(operation, max_size=30))
def test_no_sequence_breaks_lots_points_or_returns(ops: list[tuple]) -> None:
    run = Run()
    for op in ops:
        run.play(op)


@settings(max_examples=150, deadline=None)
@given(st.lists(operation.filter(lambda op: op[0] != "redeem"), max_size=25))
def test_reversing_every_accrual_and_return_takes_back_all_that_was_earned(ops: list[tuple]) -> None:
    run = Run()
    for op in ops:
        run.play(op)
    club = run.club
    for fields, decision in reversed(list(run.sent)):
        if fields["type"] is not Reverse and decision.outcome.approved:
            outcome = club.send(Reverse, original_key=fields["key"]).outcome
            assert outcome.code is Code.APPROVED, outcome.message
    ledger = club.core.ledger
    assert sum(lot.remaining for lot in ledger.lots.values()) == 0
    assert all(account.points == 0 and account.group == "silver" for account in ledger.accounts.values())
    assert ledger.accruals == {}


@settings(max_examples=150, deadline=None)
@given(st.lists(operation, max_size=30))
def test_reverting_the_records_restores_the_ledger(ops: list[tuple]) -> None:
    run = Run()
    start = state(run.club)
    for op in ops:
        run.play(op)
    run.club.core.revert(run.records)
    assert state(run.club) == start
