"""The club program's rules (docs/program.md), with the worked examples of the seed documents."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from terminal_gateway.program import (
    Caps,
    DiscountStep,
    Earning,
    Group,
    IntervalRule,
    Points,
    Range,
    Referral,
    Reward,
    Service,
    Step,
    Upgrade,
)
from terminal_gateway.rules import Account, Card
from terminal_gateway.vocabulary import (
    AccrualReturn,
    Accrue,
    BalanceInquiry,
    CardRef,
    Code,
    Limit,
    Redeem,
    Reverse,
    ServiceLine,
)

from .conftest import BRANCH, Club, card_number, club_config

SATURDAY = datetime(2026, 2, 28, 8, 30, tzinfo=UTC)  # 12:00 in Tehran, a Saturday


def program(groups: dict[str, Group] | None = None, **fields: object) -> Club:
    """A club whose silver group (the default) is replaced by ``groups`` entries."""
    config = club_config()
    if groups:
        config = replace(config, groups={**config.groups, **groups})
    return Club(replace(config, **fields))


def silver(**fields: object) -> Group:
    return Group("silver", default=True, **fields)


def accrue(club: Club, card: CardRef, paid: int, invoice: str = "INV-1", **fields: object):
    return club.send(Accrue, card=card, amount=paid, invoice=invoice, **fields).outcome


def give_back(club: Club, card: CardRef, amount: int, invoice: str = "INV-1"):
    return club.send(AccrualReturn, card=card, amount=amount, invoice=invoice).outcome


def account(club: Club, card: CardRef) -> Account:
    return club.core.ledger.accounts[club.core.ledger.cards[card.pan].account_id]


def referred_member(club: Club, n: int, referrer: CardRef | None, joined_days_ago: int = 10) -> CardRef:
    pan = card_number(n)
    parent = account(club, referrer).id if referrer else None
    club.core.ledger.add_account(Account(f"acc{n}", "silver", referrer_id=parent,
                                         joined_at=club.now - timedelta(days=joined_days_ago)))
    club.core.ledger.cards[pan] = Card(pan, f"acc{n}")
    return CardRef(pan=pan)


# -- earning credit --------------------------------------------------------------------------

def test_silver_members_earn_five_percent_of_the_purchase_as_credit() -> None:
    club = program({"silver": silver(earning=Earning(percent_bp=500))})
    card = club.member(1)
    outcome = accrue(club, card, 200_000)
    assert (outcome.code, outcome.amount, outcome.earned, outcome.balance) == (Code.APPROVED, 200_000, 10_000, 10_000)
    assert outcome.group == "silver" and outcome.rrn


def test_fixed_per_invoice_per_step_and_minimum_invoice_add_up() -> None:
    earning = Earning(percent_bp=100, per_invoice=1_000, step=Step(100_000, 5_000), min_invoice=50_000)
    club = program({"silver": silver(earning=earning)})
    card = club.member(1)
    assert accrue(club, card, 250_000, "A").earned == 2_500 + 1_000 + 10_000
    assert accrue(club, card, 49_999, "B").earned == 0


def test_zero_percent_services_earn_nothing_and_others_the_group_percent() -> None:
    club = program({"silver": silver(earning=Earning(percent_bp=500))},
                   services={"CLEAN": Service("CLEAN", cashback=Reward(0)),
                             "IMPLANT": Service("IMPLANT", cashback=Reward(fixed=7_000))})
    card = club.member(1)
    lines = (ServiceLine("CLEAN", 10_000), ServiceLine("FILL", 30_000))
    assert accrue(club, card, 40_000, "A", lines=lines).earned == 1_500
    # Paid half the invoice: each line's share is halved; a fixed cashback is per line.
    lines = (ServiceLine("FILL", 30_000), ServiceLine("IMPLANT", 10_000))
    assert accrue(club, card, 20_000, "B", lines=lines).earned == 750 + 7_000


def test_cashback_500_for_a_first_visit_paid_between_5000_and_10000() -> None:
    rule = IntervalRule("first visit", "visit", (Range(5_000, 10_000, Reward(fixed=500)),), first_visit_only=True)
    club = program({"silver": silver(earning=Earning(percent_bp=500))}, interval_rules=(rule,))
    first, again, over = club.member(1), club.member(2), club.member(3)
    assert accrue(club, first, 7_500, "A").earned == 500  # the rule replaces the 5% cashback
    assert accrue(club, first, 7_500, "B").earned == 0  # a repeat visit in the same range
    assert accrue(club, again, 10_000, "C").earned == 500  # both ends included
    assert accrue(club, over, 10_001, "D").earned == 0


def test_cumulative_rule_counts_without_the_current_payment() -> None:
    rule = IntervalRule("loyal", "cumulative", (Range(150_000, None, Reward(percent_bp=1_000)),))
    club = program(interval_rules=(rule,))
    card = club.member(1)
    assert accrue(club, card, 100_000, "A").earned == 0
    assert accrue(club, card, 100_000, "B").earned == 0  # 100,000 before it: below the range
    assert accrue(club, card, 10_000, "C").earned == 1_000  # 200,000 before it: 10% of this payment


def test_inactive_interval_rules_leave_per_service_cashback_alone() -> None:
    rule = IntervalRule("off", "visit", (Range(0, None, Reward(fixed=999)),), active=False)
    club = program({"silver": silver(earning=Earning(percent_bp=500))}, interval_rules=(rule,))
    assert accrue(club, club.member(1), 10_000).earned == 500


# -- points ----------------------------------------------------------------------------------

def test_double_points_on_saturdays() -> None:
    points = Points(per_invoice=10, step=Step(10_000, 1), weekday_multipliers={5: 2})
    club = program({"silver": silver(points=points)}, services={"XRAY": Service("XRAY", points=3)})
    card = club.member(1)
    lines = (ServiceLine("XRAY", 25_000),)
    assert accrue(club, card, 25_000, "A", lines=lines).points_earned == 10 + 2 + 3  # a Sunday
    club.now = SATURDAY + timedelta(days=7)
    outcome = accrue(club, card, 25_000, "B", lines=lines)
    assert outcome.points_earned == 30 and outcome.points == 45
    assert account(club, card).points == 45


def test_balance_inquiry_reports_points_group_and_discount() -> None:
    scale = (DiscountStep(30_000, 5), DiscountStep(45_000, 10))
    club = program({"silver": silver(points=Points(per_invoice=7))}, discount_scale=scale)
    card = club.member(1, 20_000)
    assert club.send(BalanceInquiry, card=card).outcome.discount == 0
    accrue(club, card, 30_000, "A")
    outcome = club.send(BalanceInquiry, card=card).outcome
    assert (outcome.balance, outcome.points, outcome.group, outcome.discount) == (20_000, 7, "silver", 5)
    accrue(club, card, 15_000, "B")
    assert club.send(BalanceInquiry, card=card).outcome.discount == 10


# -- upgrades ----------------------------------------------------------------------------------

def test_upgrade_from_silver_to_gold_at_ten_million_paid() -> None:
    club = program({"silver": silver(upgrade=Upgrade("gold", min_paid=10_000_000))})
    card = club.member(1)
    assert accrue(club, card, 9_999_999, "A").group == "silver"
    outcome = accrue(club, card, 1, "B")
    assert outcome.group == "gold" and account(club, card).group == "gold"


def test_upgrade_conditions_all_hold_within_the_window() -> None:
    upgrade = Upgrade("gold", min_visits=2, min_paid=100_000, window_days=30)
    club = program({"silver": silver(upgrade=upgrade)})
    card = club.member(1)
    accrue(club, card, 90_000, "A")
    club.now += timedelta(days=31)
    assert accrue(club, card, 20_000, "B").group == "silver"  # the first visit left the window
    club.now += timedelta(days=1)
    assert accrue(club, card, 80_000, "C").group == "gold"


def test_reversing_the_accrual_that_upgraded_undoes_the_upgrade() -> None:
    club = program({"silver": silver(upgrade=Upgrade("gold", min_paid=100))})
    card = club.member(1)
    key = club.key()
    assert club.send(Accrue, card=card, amount=500, invoice="A", key=key).outcome.group == "gold"
    assert club.send(Reverse, original_key=key, card=card, amount=500).outcome.code is Code.APPROVED
    assert account(club, card).group == "silver"


# -- one accrual per invoice, returns and reversals ------------------------------------------

def test_one_invoice_earns_once_per_branch() -> None:
    club = program({"silver": silver(earning=Earning(percent_bp=500))})
    card = club.member(1)
    assert accrue(club, card, 10_000).code is Code.APPROVED
    second = accrue(club, card, 10_000)
    assert second.code is Code.DUPLICATE and account(club, card).balance(club.now) == 500


def test_return_takes_back_in_proportion_including_referrals_and_points() -> None:
    group = silver(earning=Earning(percent_bp=1_000), points=Points(per_invoice=9),
                   referral=Referral((500, 200)))
    club = program({"silver": group})
    grandparent = referred_member(club, 1, None)
    parent = referred_member(club, 2, grandparent)
    card = referred_member(club, 3, parent)
    accrue(club, card, 100_000)
    assert [account(club, c).balance(club.now) for c in (card, parent, grandparent)] == [10_000, 5_000, 2_000]
    outcome = give_back(club, card, 25_000)
    assert (outcome.code, outcome.earned, outcome.points_earned) == (Code.APPROVED, -2_500, -2)
    assert [account(club, c).balance(club.now) for c in (card, parent, grandparent)] == [7_500, 3_750, 1_500]
    give_back(club, card, 75_000)
    assert [account(club, c).balance(club.now) for c in (card, parent, grandparent)] == [0, 0, 0]
    assert account(club, card).points == 0
    assert give_back(club, card, 1).code is Code.INVALID_AMOUNT


def test_a_return_takes_spent_credit_from_other_lots_and_says_what_it_could_not() -> None:
    club = program({"silver": silver(earning=Earning(percent_bp=1_000))})
    card = club.member(1, 3_000)
    accrue(club, card, 100_000)
    club.send(Redeem, card=card, amount=12_000, invoice="INV-2")  # spends the earned 10,000 and 2,000 more
    outcome = give_back(club, card, 100_000)
    assert outcome.earned == -1_000 and "9000 credit" in outcome.message
    assert account(club, card).balance(club.now) == 0


def test_return_of_an_unknown_invoice_or_another_card_is_25() -> None:
    club = program({"silver": silver(earning=Earning(percent_bp=1_000))})
    card, other = club.member(1), club.member(2)
    accrue(club, card, 100_000)
    assert give_back(club, card, 1_000, "NOPE").code is Code.ORIGINAL_NOT_FOUND
    assert give_back(club, other, 1_000).code is Code.ORIGINAL_NOT_FOUND


def test_reversed_accrual_frees_its_invoice_and_returns_can_be_reversed() -> None:
    club = program({"silver": silver(earning=Earning(percent_bp=1_000), points=Points(per_invoice=4))})
    card = club.member(1)
    key = club.key()
    club.send(Accrue, card=card, amount=100_000, invoice="A", key=key)
    assert club.send(Reverse, original_key=key, card=card, amount=100_000).outcome.code is Code.APPROVED
    assert account(club, card).balance(club.now) == 0 and account(club, card).points == 0
    assert accrue(club, card, 50_000, "A").earned == 5_000
    return_key = club.key()
    club.send(AccrualReturn, card=card, amount=10_000, invoice="A", key=return_key)
    assert account(club, card).balance(club.now) == 4_000
    club.send(Reverse, original_key=return_key, card=card, amount=10_000)
    assert account(club, card).balance(club.now) == 5_000 and account(club, card).points == 4


# -- referrals -------------------------------------------------------------------------------

def test_three_referral_levels() -> None:
    club = program({"silver": silver(referral=Referral((500, 200, 100)))})
    first = referred_member(club, 1, None)
    second = referred_member(club, 2, first)
    third = referred_member(club, 3, second)
    fourth = referred_member(club, 4, third)
    payer = referred_member(club, 5, fourth)
    accrue(club, payer, 100_000)
    assert [account(club, c).balance(club.now) for c in (fourth, third, second, first)] == [5_000, 2_000, 1_000, 0]


def test_referral_window_and_limit_per_referrer() -> None:
    club = program({"silver": silver(referral=Referral((500,), window_days=30, max_referred=1))})
    referrer = referred_member(club, 1, None)
    early = referred_member(club, 2, referrer, joined_days_ago=40)
    late = referred_member(club, 3, referrer, joined_days_ago=5)
    accrue(club, early, 100_000, "A")  # joined too long ago
    accrue(club, late, 100_000, "B")  # the referrer's second referred member
    assert account(club, referrer).balance(club.now) == 0
    club2 = program({"silver": silver(referral=Referral((500,), window_days=30, max_referred=1))})
    referrer = referred_member(club2, 1, None)
    accrue(club2, referred_member(club2, 2, referrer), 100_000)
    assert account(club2, referrer).balance(club2.now) == 5_000


# -- expiry ----------------------------------------------------------------------------------

def test_earned_credit_expires_after_six_months_to_the_instant() -> None:
    club = program({"silver": silver(earning=Earning(percent_bp=1_000), credit_expiry_months=6)})
    card = club.member(1)
    accrue(club, card, 100_000)
    (lot,) = account(club, card).lots
    assert lot.expires_at == club.now.replace(month=9)
    club.now = lot.expires_at - timedelta(seconds=1)
    assert club.send(Redeem, card=card, amount=1_000, invoice="B").outcome.code is Code.APPROVED
    club.now = lot.expires_at + timedelta(seconds=1)
    outcome = club.send(Redeem, card=card, amount=1_000, invoice="C").outcome
    assert (outcome.code, outcome.limit) == (Code.INSUFFICIENT_BALANCE, Limit.EXPIRED)


# -- caps by branch and by service -------------------------------------------------------------

def test_a_branch_overrides_the_groups_caps() -> None:
    config = club_config()
    branch = replace(config.branches[BRANCH], caps={"silver": Caps(daily_cap=30_000)})
    club = Club(replace(config, branches={BRANCH: branch}))
    card = club.member(1, 500_000)
    outcome = club.send(Redeem, card=card, amount=50_000, invoice="A").outcome
    assert (outcome.code, outcome.amount, outcome.limit) == (Code.PARTIAL, 30_000, Limit.DAILY_CAP)
    assert club.send(Redeem, card=card, amount=50_000, invoice="B").outcome.code is Code.OVER_CAP


@pytest.mark.parametrize(("services", "expected"), [
    ({"CROWN": Service("CROWN", line_cap=20_000)}, (Code.PARTIAL, 20_000 + 10_000, Limit.SERVICE_CAP)),
    ({"CROWN": Service("CROWN", line_cap_percent=50)}, (Code.PARTIAL, 40_000 + 10_000, Limit.SERVICE_CAP)),
    ({"CROWN": Service("CROWN", groups=frozenset({"gold"}))}, (Code.PARTIAL, 10_000, Limit.SERVICE_CAP)),
])
def test_service_line_caps_and_group_restrictions(services: dict[str, Service], expected: tuple) -> None:
    club = Club(replace(club_config(invoice_cap=None, daily_cap=None), services=services))
    card = club.member(1, 500_000)
    lines = (ServiceLine("CROWN", 80_000), ServiceLine("CHECK", 10_000))
    outcome = club.send(Redeem, card=card, amount=90_000, invoice="A", lines=lines).outcome
    assert (outcome.code, outcome.amount, outcome.limit) == expected


def test_a_service_only_other_groups_may_pay_is_declined_57_group() -> None:
    services = {"LASER": Service("LASER", groups=frozenset({"gold"}))}
    club = Club(replace(club_config(), services=services))
    card = club.member(1, 500_000)
    outcome = club.send(Redeem, card=card, amount=5_000, invoice="A", lines=(ServiceLine("LASER", 50_000),)).outcome
    assert (outcome.code, outcome.limit) == (Code.NOT_PERMITTED_CARD, Limit.GROUP)
