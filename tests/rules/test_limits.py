"""Limits against a dishonest counter: branch maxima (13), velocity per terminal and card
(65 for a count, 61 for money), and voucher PIN guessing bounded over every terminal."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from zoneinfo import ZoneInfo

from terminal_gateway.program import Branch, Limits, Vouchers
from terminal_gateway.rules import Account, Card, Ledger, RuleCore, Terminal
from terminal_gateway.rules.effects import Counted
from terminal_gateway.store import journal
from terminal_gateway.vocabulary import Accrue, ActivateGift, Code, Redeem

from .conftest import BRANCH, Club, card_number, club_config
from .test_giftcards_vouchers import KEY, top_up, voucher_club

OTHER = "CLINIC000000002"
NO_VELOCITY = {"terminal_accruals_per_hour": None, "card_accruals_per_day": None}


def limited_club(**limits: int | None) -> Club:
    """The program's limits as given; branch OTHER (terminal T0000002) with its own."""
    program = Limits(**limits)
    config = club_config()
    branches = config.branches | {OTHER: Branch(OTHER, ZoneInfo("Asia/Tehran"), 4,
                                               limits=replace(program, max_accrual=10_000_000_000))}
    club = Club(replace(config, limits=program, branches=branches))
    club.core.ledger.terminals["T0000002"] = Terminal("T0000002", OTHER)
    return club


def accrue(club: Club, card, amount: int, invoice: str, **fields: object):
    return club.send(Accrue, card=card, amount=amount, invoice=invoice, **fields).outcome


def test_the_attack_of_made_up_amounts_is_declined_13_and_moves_nothing() -> None:
    club = limited_club(max_invoice=50_000_000, max_accrual=50_000_000, max_gift_activation=10_000_000)
    card = club.member(1, 1_000)
    pan = card_number(900)
    club.core.ledger.add_account(Account("gift1", "", kind="gift", gift_state="inactive"))
    club.core.ledger.cards[pan] = Card(pan, "gift1")
    for n in range(3):
        outcome = accrue(club, card, 999_999_999_999, f"INV{n}")
        assert outcome.code is Code.INVALID_AMOUNT and "max_accrual 50000000" in outcome.message
    redeem = club.send(Redeem, card=card, amount=900_000_000, invoice="INV9").outcome
    assert redeem.code is Code.INVALID_AMOUNT and "max_invoice" in redeem.message
    total = club.send(Redeem, card=card, amount=500, invoice="INV9", invoice_total=60_000_000).outcome
    assert total.code is Code.INVALID_AMOUNT and "invoice total" in total.message
    gift = club.send(ActivateGift, card=replace(card, pan=pan), amount=999_999_999_999).outcome
    assert gift.code is Code.INVALID_AMOUNT and "max_gift_activation" in gift.message
    ledger = club.core.ledger
    assert club.balance(card) == 1_000 and not ledger.accruals and not ledger.accounts["gift1"].lots
    assert accrue(club, card, 50_000_000, "INV5").code is Code.APPROVED  # at the maximum: allowed


def test_a_branch_overrides_the_programs_maximum() -> None:
    club = limited_club(max_accrual=50_000_000)
    card = club.member(1)
    assert accrue(club, card, 60_000_000, "A1").code is Code.INVALID_AMOUNT
    assert accrue(club, card, 60_000_000, "A1", terminal="T0000002", key="T2:1").code is Code.APPROVED


def test_accruals_of_one_card_a_business_day_are_bounded_65_until_the_next_day() -> None:
    club = limited_club(card_accruals_per_day=2)
    card = club.member(1)
    assert [accrue(club, card, 1_000, f"C{n}").code for n in range(3)] == [Code.APPROVED] * 2 + [Code.OVER_COUNT]
    assert "card_accruals_per_day 2" in accrue(club, card, 1_000, "C3").message
    assert accrue(club, club.member(2), 1_000, "C4").code is Code.APPROVED  # another card
    club.now += timedelta(days=1)
    assert accrue(club, card, 1_000, "C5").code is Code.APPROVED


def test_money_accrued_at_one_terminal_a_day_is_bounded_61() -> None:
    club = limited_club(terminal_accrued_per_day=100_000, **NO_VELOCITY)
    cards = [club.member(n) for n in range(1, 4)]
    assert accrue(club, cards[0], 60_000, "M1").code is Code.APPROVED
    assert accrue(club, cards[1], 40_000, "M2").code is Code.APPROVED
    declined = accrue(club, cards[2], 1, "M3")
    assert declined.code is Code.OVER_CAP and "terminal_accrued_per_day" in declined.message
    assert not club.core.ledger.accruals.get((BRANCH, "M3"))


def test_accruals_of_one_terminal_an_hour_and_redemptions_a_minute_are_bounded() -> None:
    club = limited_club(terminal_accruals_per_hour=2, terminal_redemptions_per_minute=2, card_accruals_per_day=None)
    card = club.member(1, 100_000)
    assert [accrue(club, card, 1_000, f"H{n}").code for n in range(3)][-1] is Code.OVER_COUNT
    club.now += timedelta(hours=1)
    assert accrue(club, card, 1_000, "H9").code is Code.APPROVED
    codes = [club.send(Redeem, card=card, amount=10, invoice=f"R{n}").outcome.code for n in range(3)]
    assert codes == [Code.APPROVED, Code.APPROVED, Code.OVER_COUNT]
    club.now += timedelta(minutes=1)
    assert club.send(Redeem, card=card, amount=10, invoice="R9").outcome.code is Code.APPROVED


def test_velocity_counts_are_reverted_exactly_and_replayed_from_the_journal() -> None:
    club = limited_club(card_accruals_per_day=5, terminal_accruals_per_hour=5)
    card = club.member(1)
    decisions = [club.send(Accrue, card=card, amount=1_000, invoice=f"J{n}") for n in range(3)]
    counts = dict(club.core.ledger.velocity)
    rebuilt = Ledger()
    for decision in decisions:
        effects = [e for r in decision.records for e in r.effects if isinstance(e, Counted)]
        for effect in journal.decode(journal.encode(effects), journal.FORMAT_VERSION, rebuilt.by_key.get):
            effect.apply(rebuilt)
    assert rebuilt.velocity == counts and counts[("card_accruals_per_day", "account:acc1")][1:] == (3, 3_000)
    for decision in reversed(decisions):
        club.core.revert(decision.records)
    assert club.core.ledger.velocity == {}


def test_a_pin_guesser_rotating_terminals_and_cards_meets_the_global_lockout() -> None:
    club = voucher_club("active")
    vouchers = Vouchers(max_wrong_pins=5, global_max_wrong_pins=4, global_window_minutes=60, global_lockout_minutes=30)
    club.core = RuleCore(replace(club_config(), vouchers=vouchers), club.core.ledger, voucher_key=KEY)
    for n in range(2, 7):
        club.core.ledger.terminals[f"T000000{n}"] = Terminal(f"T000000{n}", BRANCH)
    for n in range(2, 6):  # one wrong PIN per terminal and card: no local lockout is reached
        outcome = top_up(club, club.member(n), 99, terminal=f"T000000{n}", key=f"T{n}:1")
        assert outcome.code is Code.INVALID_PIN
    locked = top_up(club, club.member(9), 1, terminal="T0000006", key="T6:1")  # even the right PIN
    assert locked.code is Code.PIN_LOCKED and "every terminal and card" in locked.message
    club.now += timedelta(minutes=30)
    assert top_up(club, club.member(9), 1, terminal="T0000006", key="T6:2").code is Code.APPROVED


def test_a_voucher_above_the_branchs_top_up_maximum_is_13_and_stays_unspent() -> None:
    club = voucher_club("active")
    club.core = RuleCore(replace(club_config(), limits=Limits(max_top_up=10_000)), club.core.ledger, voucher_key=KEY)
    outcome = top_up(club, club.member(1), 1)
    assert outcome.code is Code.INVALID_AMOUNT and "max_top_up" in outcome.message
    assert club.core.ledger.vouchers_by_serial["V1"].state == "active"
