"""Decisions written to the store and loaded back: the new ledger decides as the old one did."""

from __future__ import annotations

from datetime import timedelta

import pytest

from terminal_gateway.rules import RuleCore
from terminal_gateway.vocabulary import (
    BalanceInquiry,
    BatchTotals,
    Code,
    Complete,
    Limit,
    Reconcile,
    Redeem,
    Refund,
    Reverse,
    SignOn,
)

from .clinic import TID, Clinic, ledger_state


@pytest.fixture
def clinic(store) -> Clinic:
    clinic = Clinic(store)
    clinic.terminal()
    return clinic


def test_a_day_of_decisions_survives_a_restart(clinic: Clinic) -> None:
    soon = clinic.now + timedelta(days=10)
    yesterday = clinic.now - timedelta(days=1)
    silver = clinic.member(1, 500_000)
    clinic.store.grant_credit(silver.pan or "", 50_000, soon)
    gold = clinic.member(2, 300_000, group="gold")
    lapsed = clinic.member(3, 80_000, expires_at=yesterday)
    clinic.store.grant_credit(lapsed.pan or "", 10_000)
    clinic.sync()

    assert clinic.send(SignOn).code is Code.APPROVED
    partial = clinic.send(Redeem, card=silver, amount=120_000, invoice="INV-1")
    assert (partial.code, partial.amount, partial.limit) == (Code.PARTIAL, 100_000, Limit.INVOICE_CAP)
    reversed_key = clinic.key()
    clinic.send(Redeem, card=silver, amount=50_000, invoice="INV-2", key=reversed_key)
    repeated_key = clinic.key()
    capped = clinic.send(Redeem, card=silver, amount=80_000, invoice="INV-3", key=repeated_key)
    assert (capped.amount, capped.limit) == (50_000, Limit.DAILY_CAP)
    assert clinic.send(Redeem, card=silver, amount=80_000, invoice="INV-3", key=repeated_key, repeat=True) == capped
    assert clinic.send(Redeem, card=silver, amount=80_000, invoice="INV-3", key=repeated_key).code is Code.DUPLICATE
    hold = clinic.send(Redeem, card=gold, amount=60_000, invoice="INV-4", hold=True)
    assert clinic.send(Complete, card=gold, amount=40_000, rrn=hold.rrn).code is Code.APPROVED
    refund_key = clinic.key()
    assert clinic.send(Refund, card=silver, amount=20_000, rrn=capped.rrn, key=refund_key).code is Code.APPROVED
    assert clinic.send(Reverse, original_key=reversed_key).amount == 50_000
    never_seen = f"{TID}:999999:0301120000"
    assert clinic.send(Reverse, original_key=never_seen).code is Code.APPROVED
    expiring = clinic.send(Redeem, card=gold, amount=30_000, invoice="INV-5", hold=True)
    assert clinic.send(Redeem, card=lapsed, amount=50_000, invoice="INV-6").amount == 10_000
    assert clinic.send(Redeem, card=lapsed, amount=50_000, invoice="INV-7").limit is Limit.EXPIRED
    assert clinic.send(Reverse, original_key=refund_key).code is Code.APPROVED
    totals = clinic.core.ledger.terminals[TID].batch
    assert clinic.send(Reconcile, batch_number="001", totals=totals).code is Code.APPROVED
    clinic.send(Redeem, card=silver, amount=10_000, invoice="INV-8")

    clinic.later(minutes=20)
    assert clinic.send(BalanceInquiry, card=gold).balance == 300_000 - 40_000
    assert clinic.core.ledger.by_rrn[expiring.rrn or ""].hold_state == "expired"
    clinic.later(days=1)
    tomorrow_key = clinic.key()
    clinic.send(Redeem, card=silver, amount=30_000, invoice="INV-10", key=tomorrow_key)
    open_hold = clinic.send(Redeem, card=gold, amount=25_000, invoice="INV-9", hold=True)
    assert clinic.send(Redeem, card=silver, amount=1, invoice="INV-11", key=never_seen).code is Code.INVALID_TRANSACTION

    restarted = clinic.reloaded()
    assert ledger_state(restarted.ledger, clinic.now) == ledger_state(clinic.core.ledger, clinic.now)
    ledger = restarted.ledger
    assert ledger.by_rrn[open_hold.rrn or ""].hold_state == "open"
    assert ledger.accounts[ledger.cards[gold.pan or ""].account_id].balance(clinic.now) == 300_000 - 40_000 - 25_000
    assert ledger.by_key[repeated_key].outcome == capped
    assert never_seen in ledger.reversed_keys
    assert ledger.terminals[TID].signed_on and ledger.terminals[TID].batch_seq == 2
    assert ledger.terminals[TID].batch == BatchTotals(debits=2, debits_amount=40_000)
    _decide_alike(clinic, restarted, [
        (Redeem, {"card": silver, "amount": 30_000, "invoice": "INV-10", "key": tomorrow_key, "repeat": True}),
        (Complete, {"card": gold, "amount": 25_000, "rrn": open_hold.rrn}),
        (Redeem, {"card": silver, "amount": 500_000, "invoice": "INV-12", "invoice_total": 90_000}),
        (Refund, {"card": silver, "amount": 10_000, "rrn": partial.rrn}),
    ])


def test_an_open_hold_expires_after_a_restart(clinic: Clinic) -> None:
    card = clinic.member(1, 100_000)
    hold = clinic.send(Redeem, card=card, amount=70_000, invoice="INV-1", hold=True)
    restarted = clinic.reloaded()
    account = restarted.ledger.accounts[restarted.ledger.cards[card.pan or ""].account_id]
    assert account.balance(clinic.now) == 30_000  # the hold's credit stays earmarked
    clinic.later(minutes=16)
    _decide_alike(clinic, restarted, [(BalanceInquiry, {"card": card})])
    assert restarted.ledger.by_rrn[hold.rrn or ""].hold_state == "expired"
    assert account.balance(clinic.now) == 100_000


def test_the_replay_window_bounds_what_is_remembered_but_not_balances(clinic: Clinic) -> None:
    card = clinic.member(1, 100_000)
    old_key = clinic.key()
    clinic.send(Redeem, card=card, amount=40_000, invoice="INV-1", key=old_key)
    clinic.later(days=31)
    clinic.send(Redeem, card=card, amount=10_000, invoice="INV-2")
    restarted = clinic.reloaded()
    assert old_key not in restarted.ledger.by_key
    assert len(restarted.ledger.by_key) == 1
    assert restarted.ledger.last_rrn == clinic.core.ledger.last_rrn
    assert clinic.store.member(card.pan or "", clinic.now)["balance"] == 50_000


def _decide_alike(clinic: Clinic, restarted: RuleCore, requests: list[tuple[type, dict]]) -> None:
    """The same requests at the same time get the same answers from both, which stay alike."""
    for request_type, values in requests:
        request = request_type(terminal=TID, key=values.pop("key", None) or clinic.key(), **values)
        before = clinic.core.decide(request, clinic.now, clinic.family)
        after = restarted.decide(request, clinic.now, clinic.family)
        assert after.outcome == before.outcome, request
        assert [r.outcome for r in after.records] == [r.outcome for r in before.records]
    assert ledger_state(restarted.ledger, clinic.now) == ledger_state(clinic.core.ledger, clinic.now)
