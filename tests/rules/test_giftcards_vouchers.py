"""Gift cards (activation 72, redemption, expiry) and voucher top-ups (21, lockout)."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import pytest

from terminal_gateway.program import GiftCards, Vouchers
from terminal_gateway.rules import Account, Card, RuleCore
from terminal_gateway.rules.ledger import Voucher
from terminal_gateway.rules.vouchers import pin_hash
from terminal_gateway.vocabulary import (
    AccrualReturn,
    Accrue,
    ActivateGift,
    BalanceInquiry,
    CardRef,
    Code,
    Limit,
    Redeem,
    Reverse,
    TopUp,
)

from .conftest import TID, Club, card_number, club_config

KEY = b"k" * 32
PIN = "123456789012"


def gift_club(**gift: object) -> tuple[Club, CardRef]:
    club = Club(replace(club_config(), gift_cards=GiftCards(**gift)))
    pan = card_number(900)
    club.core.ledger.add_account(Account("gift1", "", kind="gift", gift_state="inactive"))
    club.core.ledger.cards[pan] = Card(pan, "gift1")
    return club, CardRef(pan=pan)


def activate(club: Club, card: CardRef, amount: int = 300_000, **fields: object):
    return club.send(ActivateGift, card=card, amount=amount, **fields).outcome


def test_activation_loads_the_card_until_the_programs_validity() -> None:
    club, card = gift_club(validity_days=90)
    outcome = activate(club, card)
    assert (outcome.code, outcome.amount, outcome.balance) == (Code.APPROVED, 300_000, 300_000)
    assert outcome.expires_on == (club.now + timedelta(days=90)).date() and outcome.rrn and outcome.auth_code
    assert club.send(BalanceInquiry, card=card).outcome.balance == 300_000


def test_a_second_activation_and_a_redemption_before_activation_are_57() -> None:
    club, card = gift_club()
    assert club.send(Redeem, card=card, amount=1_000, invoice="A").outcome.code is Code.NOT_PERMITTED_CARD
    assert club.send(BalanceInquiry, card=card).outcome.code is Code.NOT_PERMITTED_CARD
    activate(club, card)
    assert activate(club, card).code is Code.NOT_PERMITTED_CARD
    assert club.core.ledger.accounts["gift1"].balance(club.now) == 300_000


def test_a_member_card_is_not_activated() -> None:
    club, _ = gift_club()
    assert activate(club, club.member(1)).code is Code.INVALID_TRANSACTION


def test_gift_cards_pay_in_parts_beyond_the_club_caps_and_expire_with_54() -> None:
    club, card = gift_club(validity_days=30)
    activate(club, card)
    first = club.send(Redeem, card=card, amount=250_000, invoice="A").outcome  # silver caps: 100,000 an invoice
    assert (first.code, first.amount, first.balance) == (Code.APPROVED, 250_000, 50_000)
    second = club.send(Redeem, card=card, amount=80_000, invoice="B").outcome
    assert (second.code, second.amount, second.limit) == (Code.PARTIAL, 50_000, Limit.BALANCE)
    club2, card2 = gift_club(validity_days=30)
    activate(club2, card2)
    club2.now += timedelta(days=30)
    outcome = club2.send(Redeem, card=card2, amount=1_000, invoice="C").outcome
    assert (outcome.code, outcome.limit) == (Code.EXPIRED, Limit.EXPIRED)
    assert club2.send(BalanceInquiry, card=card2).outcome.code is Code.EXPIRED


def test_gift_cards_can_be_put_under_the_default_groups_caps() -> None:
    club, card = gift_club(caps=True)
    activate(club, card)
    outcome = club.send(Redeem, card=card, amount=250_000, invoice="A").outcome
    assert (outcome.code, outcome.amount, outcome.limit) == (Code.PARTIAL, 100_000, Limit.INVOICE_CAP)


def test_gift_cards_earn_nothing_and_take_no_vouchers() -> None:
    club, card = gift_club()
    club.core.reload(club.core.terms.rules, KEY)
    activate(club, card)
    assert club.send(Accrue, card=card, amount=1_000, invoice="A").outcome.code is Code.INVALID_TRANSACTION
    assert club.send(AccrualReturn, card=card, amount=1_000, invoice="A").outcome.code is Code.INVALID_TRANSACTION
    assert club.send(TopUp, card=card, pin=PIN).outcome.code is Code.INVALID_TRANSACTION


def test_reversing_an_activation_makes_the_card_inactive_unless_spent() -> None:
    club, card = gift_club()
    key = club.key()
    activate(club, card, key=key)
    assert club.send(Reverse, original_key=key, card=card, amount=300_000).outcome.code is Code.APPROVED
    assert club.core.ledger.accounts["gift1"].gift_state == "inactive"
    assert activate(club, card, 100_000).code is Code.APPROVED
    club2, card2 = gift_club()
    key = club2.key()
    activate(club2, card2, key=key)
    club2.send(Redeem, card=card2, amount=1_000, invoice="A")
    assert club2.send(Reverse, original_key=key, card=card2, amount=300_000).outcome.code is Code.INSUFFICIENT_BALANCE


# -- vouchers ----------------------------------------------------------------------------------

def voucher_club(*states: str, max_wrong_pins: int = 5) -> Club:
    """Vouchers V1.. with PINs 1234567890NN (NN = their number), in ``states``."""
    config = replace(club_config(), vouchers=Vouchers(max_wrong_pins=max_wrong_pins, window_minutes=15,
                                                       lockout_minutes=15))
    club = Club(config)
    club.core = RuleCore(config, club.core.ledger, voucher_key=KEY)
    for n, state in enumerate(states, 1):
        club.core.ledger.add_voucher(Voucher(f"V{n}", pin_hash(KEY, f"1234567890{n:02d}"), 50_000,
                                             club.now + timedelta(days=30), state))
    return club


def top_up(club: Club, card: CardRef, n: int, **fields: object):
    return club.send(TopUp, card=card, pin=f"1234567890{n:02d}", **fields).outcome


def test_a_voucher_batch_tops_up_once_each_with_the_vouchers_expiry() -> None:
    club = voucher_club("active", "active", "active")
    card = club.member(1)
    for n in (1, 2, 3):
        outcome = top_up(club, card, n)
        assert (outcome.code, outcome.amount) == (Code.APPROVED, 50_000)
    assert outcome.balance == 150_000
    assert {lot.expires_at for lot in club.core.ledger.accounts["acc1"].lots} == {club.now + timedelta(days=30)}
    assert {v.state for v in club.core.ledger.vouchers.values()} == {"redeemed"}


@pytest.mark.parametrize("state", ["generated", "redeemed", "void"])
def test_every_unusable_pin_answers_the_same_55(state: str) -> None:
    club = voucher_club(state)
    outcome = top_up(club, club.member(1), 1)
    assert outcome.code is Code.INVALID_PIN and "1234567890" not in outcome.message


def test_unknown_short_and_expired_pins_are_55_too() -> None:
    club = voucher_club("active")
    card = club.member(1)
    assert top_up(club, card, 7).code is Code.INVALID_PIN
    assert club.send(TopUp, card=card, pin="12345").outcome.code is Code.INVALID_PIN
    club.now += timedelta(days=30)
    assert top_up(club, card, 1).code is Code.INVALID_PIN


def test_five_wrong_pins_from_a_terminal_lock_it_for_a_while() -> None:
    club = voucher_club("active")
    cards = [club.member(n) for n in range(1, 7)]
    for card in cards[:5]:
        assert top_up(club, card, 9).code is Code.INVALID_PIN
        club.now += timedelta(minutes=2)
    assert top_up(club, cards[5], 1).code is Code.PIN_LOCKED  # even the right PIN
    club.now += timedelta(minutes=14)
    assert top_up(club, cards[5], 1).code is Code.APPROVED


def test_wrong_pins_against_one_card_lock_that_card_at_every_terminal() -> None:
    club = voucher_club("active", max_wrong_pins=3)
    club.core.ledger.terminals["T0000002"] = replace(club.core.ledger.terminals[TID], tid="T0000002")
    card, other = club.member(1), club.member(2)
    for terminal in (TID, "T0000002", TID):
        assert top_up(club, card, 9, terminal=terminal, key=f"{terminal}:{club.key()}").code is Code.INVALID_PIN
    assert top_up(club, card, 1, terminal="T0000002", key="T0000002:x").code is Code.PIN_LOCKED
    assert top_up(club, other, 9, terminal="T0000002", key="T0000002:y").code is Code.INVALID_PIN
    assert top_up(club, other, 1, terminal="T0000002", key="T0000002:z").code is Code.APPROVED


def test_wrong_pins_spread_wider_than_the_window_do_not_lock() -> None:
    club = voucher_club("active", max_wrong_pins=2)
    card = club.member(1)
    top_up(club, card, 9)
    club.now += timedelta(minutes=16)
    top_up(club, card, 9)
    assert top_up(club, card, 1).code is Code.APPROVED


def test_reversing_a_top_up_takes_the_credit_and_reopens_the_voucher() -> None:
    club = voucher_club("active")
    card = club.member(1)
    key = club.key()
    top_up(club, card, 1, key=key)
    assert club.send(Reverse, original_key=key, card=card).outcome.code is Code.APPROVED
    assert club.core.ledger.accounts["acc1"].balance(club.now) == 0
    assert club.core.ledger.vouchers_by_serial["V1"].state == "active"


def test_without_a_key_top_up_is_not_offered() -> None:
    club = Club(club_config())
    assert club.send(TopUp, card=club.member(1), pin=PIN).outcome.code is Code.INVALID_TRANSACTION

