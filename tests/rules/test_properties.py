"""Properties over any sequence of requests: money is conserved and never goes negative,
caps are never exceeded, reversing everything restores every balance, and reverting the
records of a run restores the ledger exactly."""

from __future__ import annotations

from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from terminal_gateway.vocabulary import BalanceInquiry, Code, Complete, Reconcile, Redeem, Refund, Reverse

from .conftest import Club, club_config
from .test_redemption import snapshot

MEMBERS = 3
INVOICES = ("INV-1", "INV-2", "INV-3")

amounts = st.integers(min_value=0, max_value=120_000)
operation = st.one_of(
    st.tuples(st.just("redeem"), st.integers(0, MEMBERS - 1), amounts, st.sampled_from(INVOICES), st.booleans()),
    st.tuples(st.just("complete"), st.integers(0, 40), amounts),
    st.tuples(st.just("refund"), st.integers(0, 40), amounts),
    st.tuples(st.just("reverse"), st.integers(0, 40)),
    st.tuples(st.just("repeat"), st.integers(0, 40)),
    st.tuples(st.just("balance"), st.integers(0, MEMBERS - 1)),
    st.tuples(st.just("wait"), st.sampled_from([1, 10, 20, 60 * 24])),
)


class Run:
    """Plays operations against a club and checks the invariants after every one."""

    def __init__(self, reconcile: bool = False):
        self.club = Club(club_config())
        self.cards = [self.club.member(n, 90_000, 70_000, expires_in=timedelta(days=1 + n)) for n in range(MEMBERS)]
        self.initial = sum(lot.remaining for lot in self.club.core.ledger.lots.values())
        self.sent: list[tuple[object, object]] = []  # (request fields, decision)
        self.records: list = []

    def play(self, op: tuple) -> None:
        club, kind = self.club, op[0]
        approved = [(f, d) for f, d in self.sent if d.outcome.approved and d.outcome.rrn]
        if kind == "redeem":
            _, who, amount, invoice, hold = op
            self.send(Redeem, card=self.cards[who], amount=amount, invoice=invoice, hold=hold,
                      invoice_total=150_000)
        elif kind in ("complete", "refund") and approved:
            fields, decision = approved[op[1] % len(approved)]
            request = Complete if kind == "complete" else Refund
            self.send(request, card=fields["card"], amount=op[2], rrn=decision.outcome.rrn)
        elif kind == "reverse" and self.sent:
            fields, _ = self.sent[op[1] % len(self.sent)]
            self.send(Reverse, original_key=fields["key"])
        elif kind == "repeat" and self.sent:
            fields, decision = self.sent[op[1] % len(self.sent)]
            again = club.send(fields["type"], **{k: v for k, v in fields.items() if k != "type"} | {"repeat": True})
            self.records.extend(again.records)
            if decision.outcome.code is not Code.DUPLICATE:
                assert again.outcome == decision.outcome
        elif kind == "balance":
            self.send(BalanceInquiry, card=self.cards[op[1]])
        elif kind == "wait":
            club.now += timedelta(minutes=op[1])
        self.check()

    def send(self, request_type: type, **fields: object) -> None:
        fields["key"] = self.club.key()
        decision = self.club.send(request_type, **fields)
        self.sent.append((fields | {"type": request_type}, decision))
        self.records.extend(decision.records)

    def check(self) -> None:
        ledger, rules = self.club.core.ledger, self.club.core.terms.rules
        assert all(lot.remaining >= 0 for lot in ledger.lots.values()), "a lot went negative"
        outstanding = sum(e.outcome.amount - e.given_back for e in ledger.by_key.values()
                          if e.kind in ("redeem", "hold") and e.outcome.approved)
        assert sum(lot.remaining for lot in ledger.lots.values()) + outstanding == self.initial, "money moved"
        silver = rules.groups["silver"]
        for (_, _), (used, count) in ledger.daily.items():
            assert 0 <= used <= silver.daily_cap and 0 <= count <= silver.max_redemptions_per_day
        for used in ledger.invoices.values():
            assert 0 <= used <= silver.invoice_cap


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(operation, max_size=40))
def test_no_sequence_breaks_balances_or_caps(ops: list[tuple]) -> None:
    run = Run()
    for op in ops:
        run.play(op)


@settings(max_examples=200, deadline=None)
@given(st.lists(operation, max_size=30))
def test_reversing_everything_restores_every_balance(ops: list[tuple]) -> None:
    run = Run()
    for op in ops:
        if op[0] != "wait":  # holds must not expire, nor credit: everything stays reversible
            run.play(op)
    club = run.club
    before = {lot.id: lot.remaining for lot in club.core.ledger.lots.values()}
    assert sum(before.values()) <= run.initial
    for fields, decision in reversed(list(run.sent)):
        if fields["type"] is not Reverse and decision.outcome.approved:
            outcome = club.send(Reverse, original_key=fields["key"]).outcome
            assert outcome.code is Code.APPROVED, outcome.message
    assert sum(lot.remaining for lot in club.core.ledger.lots.values()) == run.initial
    assert club.core.ledger.daily == {} and club.core.ledger.invoices == {}


@settings(max_examples=200, deadline=None)
@given(st.lists(operation, max_size=30))
def test_reverting_the_records_restores_the_ledger(ops: list[tuple]) -> None:
    run = Run()
    start = snapshot(run.club)
    for op in ops:
        run.play(op)
    run.club.core.revert(run.records)
    assert snapshot(run.club) == start


def test_reconciliation_totals_match_what_was_approved() -> None:
    run = Run()
    for op in [("redeem", 0, 50_000, "INV-1", False), ("redeem", 1, 10_000, "INV-2", False),
               ("refund", 0, 20_000), ("reverse", 1)]:
        run.play(op)
    totals = run.club.core.ledger.terminals["T0000001"].batch
    closing = run.club.send(Reconcile, batch_number="1", totals=totals)
    assert closing.outcome.code is Code.APPROVED
    assert totals.debits_amount == 60_000 and totals.credits_amount == 20_000
    assert totals.debits_reversal_amount == 10_000
