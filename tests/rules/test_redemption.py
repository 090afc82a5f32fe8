"""Redemption decisions: caps, partial approval, binding limits, holds, refunds, reversals."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

from terminal_gateway.vocabulary import (
    BalanceInquiry,
    BatchTotals,
    CardRef,
    Code,
    Complete,
    Echo,
    Limit,
    Malformed,
    Reconcile,
    Redeem,
    Refund,
    Reverse,
    SignOff,
    SignOn,
    TerminalFamily,
)

from .conftest import BRANCH, TID, Club, card_number, club_config


def redeem(club: Club, card: CardRef, amount: int, invoice: str = "INV-1", **fields):
    return club.send(Redeem, card=card, amount=amount, invoice=invoice, **fields)


def test_full_approval_takes_soonest_expiring_lot_first(club: Club) -> None:
    card = club.member(1, 50_000)
    soon = club.core.ledger.lots["lot1-0"]
    club.core.ledger.add_lot(replace(soon, id="soon", remaining=30_000, expires_at=club.now + timedelta(days=1)))
    decision = redeem(club, card, 40_000)
    assert decision.outcome.code is Code.APPROVED
    assert decision.outcome.amount == 40_000
    assert club.core.ledger.lots["soon"].remaining == 0
    assert club.core.ledger.lots["lot1-0"].remaining == 40_000
    assert decision.outcome.balance == 40_000
    assert decision.outcome.rrn and decision.outcome.auth_code == decision.outcome.rrn[-6:]


def test_partial_approval_names_the_binding_limit(club: Club) -> None:
    card = club.member(1, 500_000)
    decision = redeem(club, card, 150_000)
    assert (decision.outcome.code, decision.outcome.amount, decision.outcome.limit) == (
        Code.PARTIAL, 100_000, Limit.INVOICE_CAP)
    assert decision.outcome.invoice_remaining == 0
    assert decision.outcome.daily_remaining == 100_000


def test_daily_cap_counts_every_invoice_of_the_business_day(club: Club) -> None:
    card = club.member(1, 500_000)
    assert redeem(club, card, 100_000, "INV-1").outcome.code is Code.APPROVED
    assert redeem(club, card, 100_000, "INV-2").outcome.code is Code.APPROVED
    third = redeem(club, card, 10_000, "INV-3")
    assert (third.outcome.code, third.outcome.limit) == (Code.OVER_CAP, Limit.DAILY_CAP)
    assert club.balance(card) == 300_000


def test_business_day_follows_the_branch_cutoff_not_utc(club: Club) -> None:
    """The branch's day starts at 04:00 Tehran time: 03:00 local is still yesterday."""
    card = club.member(1, 500_000)
    club.now = club.now.replace(hour=22, minute=0)  # 01:30 next day in Tehran: before cut-off
    assert redeem(club, card, 100_000, "A").outcome.code is Code.APPROVED
    assert redeem(club, card, 100_000, "B").outcome.code is Code.APPROVED
    club.now += timedelta(hours=2)  # 03:30 local: same business day
    assert redeem(club, card, 1, "C").outcome.limit is Limit.DAILY_CAP
    club.now += timedelta(hours=1)  # 04:30 local: a new business day
    assert redeem(club, card, 100_000, "D").outcome.code is Code.APPROVED


def test_invoice_cap_is_shared_by_every_card_paying_the_invoice(club: Club) -> None:
    first, second = club.member(1, 500_000), club.member(2, 500_000)
    assert redeem(club, first, 70_000).outcome.code is Code.APPROVED
    decision = redeem(club, second, 70_000)
    assert (decision.outcome.code, decision.outcome.amount) == (Code.PARTIAL, 30_000)


def test_percentage_invoice_cap_needs_the_invoice_total() -> None:
    club = Club(club_config(invoice_cap=None, invoice_cap_percent=30))
    card = club.member(1, 500_000)
    assert redeem(club, card, 10_000).outcome.code is Code.FORMAT_ERROR
    decision = redeem(club, card, 90_000, invoice_total=200_000)
    assert (decision.outcome.code, decision.outcome.amount, decision.outcome.limit) == (
        Code.PARTIAL, 60_000, Limit.INVOICE_CAP)


def test_redemptions_per_day_decline_with_65(club: Club) -> None:
    card = club.member(1, 500_000)
    for n in range(5):
        assert redeem(club, card, 1_000, f"I{n}").outcome.code is Code.APPROVED
    decision = redeem(club, card, 1_000, "I5")
    assert (decision.outcome.code, decision.outcome.limit) == (Code.OVER_COUNT, Limit.DAILY_COUNT)


def test_without_partial_approval_a_short_grant_is_declined(club: Club) -> None:
    club.family = TerminalFamily(partial_approval=False)
    card = club.member(1, 30_000)
    decision = redeem(club, card, 50_000)
    assert (decision.outcome.code, decision.outcome.amount, decision.outcome.limit) == (
        Code.INSUFFICIENT_BALANCE, 0, Limit.BALANCE)
    assert club.balance(card) == 30_000


def test_expired_credit_is_not_spent_and_is_named(club: Club) -> None:
    card = club.member(1, 50_000, expires_in=timedelta(hours=1))
    club.now += timedelta(hours=1)  # expiry instant: no longer usable
    decision = redeem(club, card, 10_000)
    assert (decision.outcome.code, decision.outcome.limit) == (Code.INSUFFICIENT_BALANCE, Limit.EXPIRED)


def test_card_checks(club: Club) -> None:
    card = club.member(1, 50_000)
    bad_luhn = CardRef(pan=card.pan[:-1] + str((int(card.pan[-1]) + 1) % 10))
    assert redeem(club, bad_luhn, 1).outcome.code is Code.UNKNOWN_CARD
    assert redeem(club, CardRef(pan=card_number(99)), 1).outcome.code is Code.UNKNOWN_CARD
    club.core.ledger.cards[card.pan].status = "lost"
    assert redeem(club, card, 1).outcome.code is Code.LOST_CARD
    club.core.ledger.cards[card.pan].status = "blocked"
    assert redeem(club, card, 1).outcome.code is Code.DO_NOT_HONOUR
    assert redeem(club, card, 0).outcome.code is Code.INVALID_AMOUNT


def test_a_terminal_bound_to_its_family_is_refused_through_another(club: Club) -> None:
    card = club.member(1, 50_000)
    club.core.ledger.terminals[TID].family = "club8583"
    club.family = TerminalFamily(protocol="smartpos")
    refused = redeem(club, card, 1_000)
    assert refused.outcome.code is Code.NOT_PERMITTED_TERMINAL
    assert refused.outcome.message == f"terminal {TID} is registered for club8583, not smartpos"
    club.family = TerminalFamily(protocol="club8583")
    assert redeem(club, card, 1_000, invoice="INV-2").outcome.code is Code.APPROVED
    club.core.ledger.terminals[TID].family = None  # registered before families: any family
    club.family = TerminalFamily(protocol="smartpos")
    assert redeem(club, card, 1_000, invoice="INV-3").outcome.code is Code.APPROVED
    assert club.balance(card) == 48_000


def test_wrong_currency_and_foreign_branch_are_refused(club: Club) -> None:
    card = club.member(1, 50_000)
    assert redeem(club, card, 1, currency=978).outcome.code is Code.FORMAT_ERROR
    assert redeem(club, card, 1, branch="OTHER").outcome.code is Code.NOT_PERMITTED_TERMINAL
    assert redeem(club, card, 1, terminal="NOPE").outcome.code is Code.NOT_PERMITTED_TERMINAL
    assert club.balance(card) == 50_000


def test_an_unregistered_terminal_is_answered_but_neither_journalled_nor_remembered(club: Club) -> None:
    """A flood of made-up terminal ids must cost no journal row and no memory."""
    card = club.member(1, 50_000)
    remembered = len(club.core.ledger.by_key)
    decision = redeem(club, card, 1, terminal="NOPE")
    assert decision.outcome.code is Code.NOT_PERMITTED_TERMINAL
    assert "'NOPE' is not registered" in decision.outcome.message
    malformed = club.send(Malformed, terminal="NOPE", code=Code.FORMAT_ERROR, reason="DE4: missing")
    assert malformed.outcome.code is Code.FORMAT_ERROR and malformed.outcome.message == "DE4: missing"
    assert decision.records == malformed.records == ()
    assert len(club.core.ledger.by_key) == remembered
    assert club.send(Malformed, code=Code.FORMAT_ERROR, reason="DE4: missing").records, "a registered one's is"


def test_sign_on_required_by_the_family(club: Club) -> None:
    club.family = TerminalFamily(signon_required=True)
    card = club.member(1, 50_000)
    assert redeem(club, card, 1).outcome.code is Code.NOT_PERMITTED_TERMINAL
    assert club.send(Echo).outcome.code is Code.APPROVED
    assert club.send(SignOff).outcome.code is Code.APPROVED, "an 0800 is allowed before sign-on"
    assert club.send(SignOn).outcome.code is Code.APPROVED
    assert redeem(club, card, 1).outcome.code is Code.APPROVED


def test_repeat_replays_the_stored_answer_and_duplicate_is_94(club: Club) -> None:
    card = club.member(1, 50_000)
    key = club.key()
    first = redeem(club, card, 10_000, key=key)
    repeat = redeem(club, card, 10_000, key=key, repeat=True)
    assert repeat.outcome == first.outcome and repeat.records == ()
    duplicate = redeem(club, card, 10_000, key=key)
    assert duplicate.outcome.code is Code.DUPLICATE
    assert club.balance(card) == 40_000


def test_hold_counts_until_completed_and_the_rest_is_released(club: Club) -> None:
    card = club.member(1, 500_000)
    hold = redeem(club, card, 80_000, hold=True)
    assert hold.outcome.code is Code.APPROVED
    assert club.balance(card) == 420_000
    assert redeem(club, card, 50_000).outcome.amount == 20_000  # invoice cap counts the hold
    done = club.send(Complete, card=card, amount=60_000, rrn=hold.outcome.rrn)
    assert done.outcome.code is Code.APPROVED and done.outcome.rrn == hold.outcome.rrn
    assert club.balance(card) == 420_000  # 60,000 captured + 20,000 redeemed
    again = club.send(Complete, card=card, amount=1, rrn=hold.outcome.rrn)
    assert again.outcome.code is Code.ORIGINAL_NOT_FOUND


def test_hold_expires_exactly_at_its_lifetime(club: Club) -> None:
    card = club.member(1, 500_000)
    hold = redeem(club, card, 80_000, hold=True)
    club.now += timedelta(minutes=15)
    inquiry = club.send(BalanceInquiry, card=card)
    assert [r.kind for r in inquiry.records] == ["hold_expiry", "balance"]
    assert inquiry.outcome.balance == 500_000
    late = club.send(Complete, card=card, amount=80_000, rrn=hold.outcome.rrn)
    assert late.outcome.code is Code.ORIGINAL_NOT_FOUND


def test_completion_above_the_hold_is_13(club: Club) -> None:
    card = club.member(1, 500_000)
    hold = redeem(club, card, 80_000, hold=True)
    assert club.send(Complete, card=card, amount=80_001, rrn=hold.outcome.rrn).outcome.code is Code.INVALID_AMOUNT


def test_refund_returns_credit_to_its_lots_up_to_what_was_taken(club: Club) -> None:
    card = club.member(1, 30_000, 30_000)
    sale = redeem(club, card, 50_000)
    assert club.send(Refund, card=card, amount=15_000, rrn=sale.outcome.rrn).outcome.code is Code.APPROVED
    assert club.core.ledger.lots["lot1-1"].remaining == 25_000  # the later lot is refilled first
    too_much = club.send(Refund, card=card, amount=35_001, rrn=sale.outcome.rrn)
    assert too_much.outcome.code is Code.INVALID_AMOUNT
    assert club.send(Refund, card=card, amount=35_000, rrn=sale.outcome.rrn).outcome.code is Code.APPROVED
    assert club.balance(card) == 60_000
    unknown = club.send(Refund, card=card, amount=1, rrn="999999999999")
    assert unknown.outcome.code is Code.ORIGINAL_NOT_FOUND


def test_reversal_restores_balance_and_caps(club: Club) -> None:
    card = club.member(1, 500_000)
    key = club.key()
    redeem(club, card, 100_000, key=key)
    reversal = club.send(Reverse, original_key=key, amount=100_000)
    assert reversal.outcome.code is Code.APPROVED
    assert club.balance(card) == 500_000
    assert redeem(club, card, 100_000).outcome.code is Code.APPROVED  # invoice room is back
    assert club.send(Reverse, original_key=reversal.records[-1].key, original_is_reversal=True).outcome.code is (
        Code.INVALID_TRANSACTION)


def test_reversal_of_an_unseen_original_declines_it_when_it_arrives_late(club: Club) -> None:
    card = club.member(1, 500_000)
    key = club.key()
    assert club.send(Reverse, original_key=key, amount=10_000).outcome.code is Code.APPROVED
    late = redeem(club, card, 10_000, key=key)
    assert late.outcome.code is Code.INVALID_TRANSACTION
    assert club.balance(card) == 500_000


def test_reconciliation_compares_totals_and_closes_the_batch(club: Club) -> None:
    card = club.member(1, 500_000)
    key = club.key()
    sale = redeem(club, card, 40_000, key=key)
    redeem(club, card, 10_000, "INV-2")
    club.send(Refund, card=card, amount=5_000, rrn=sale.outcome.rrn)
    club.send(Reverse, original_key=key)
    expected = BatchTotals(credits=1, debits=2, debits_reversal=1, credits_amount=5_000,
                           debits_amount=50_000, debits_reversal_amount=40_000)
    agreed = club.send(Reconcile, batch_number="000001", totals=expected)
    assert (agreed.outcome.code, agreed.outcome.totals) == (Code.APPROVED, expected)
    after = redeem(club, card, 1_000, "INV-3", key=(late_key := club.key()))
    differ = club.send(Reconcile, batch_number="000002", totals=BatchTotals())
    assert differ.outcome.code is Code.TOTALS_MISMATCH
    assert differ.outcome.totals == BatchTotals(debits=1, debits_amount=after.outcome.amount)
    assert club.send(Reverse, original_key=late_key).outcome.code is Code.INVALID_TRANSACTION


def snapshot(club: Club) -> tuple:
    ledger = club.core.ledger
    return ({lot.id: lot.remaining for lot in ledger.lots.values()}, {k: tuple(v) for k, v in ledger.daily.items()},
            dict(ledger.invoices), set(ledger.by_key), ledger.terminals[TID].batch)


def test_revert_restores_the_ledger_exactly(club: Club) -> None:
    card = club.member(1, 500_000)
    hold = redeem(club, card, 50_000, hold=True)
    before = snapshot(club)
    decisions = [
        club.send(Complete, card=card, amount=20_000, rrn=hold.outcome.rrn),
        redeem(club, card, 30_000, "INV-9"),
    ]
    club.core.revert([r for d in decisions for r in d.records])
    assert snapshot(club) == before
    assert club.core.ledger.by_rrn[hold.outcome.rrn].hold_state == "open"


def test_branch_of_the_terminal_is_the_invoice_scope(club: Club) -> None:
    assert club.core.ledger.terminals[TID].branch == BRANCH


def test_phone_lookup_only_where_the_program_allows_it() -> None:
    """DE48 PH names the member in place of a card only when the program enables it."""
    closed = Club(club_config())
    closed.member(1, 50_000)
    closed.core.ledger.accounts["acc1"].phone = "09120000001"
    closed.core.ledger.phones["09120000001"] = "acc1"
    refused = closed.send(BalanceInquiry, card=CardRef(phone="09120000001"))
    assert (refused.outcome.code, refused.outcome.message) == (
        Code.INVALID_TRANSACTION, "phone lookup is not enabled in this program")

    config = club_config()
    opened = Club(replace(config, program=replace(config.program, phone_lookup=True)))
    opened.member(1, 50_000)
    opened.core.ledger.phones["09120000001"] = "acc1"
    found = opened.send(BalanceInquiry, card=CardRef(phone="09120000001"))
    assert (found.outcome.code, found.outcome.balance) == (Code.APPROVED, 50_000)
    unknown = opened.send(BalanceInquiry, card=CardRef(phone="09999999999"))
    assert unknown.outcome.code is Code.UNKNOWN_CARD


def test_a_completion_without_a_card_captures_the_hold_it_names(club: Club) -> None:
    card = club.member(1, 100_000)
    hold = redeem(club, card, 40_000, hold=True)
    done = club.send(Complete, amount=30_000, rrn=hold.outcome.rrn)
    assert (done.outcome.code, done.outcome.amount, done.outcome.balance) == (Code.APPROVED, 30_000, 70_000)
