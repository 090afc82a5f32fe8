"""What a paid invoice earns, who else earns from it, and where it takes the member.

Pure functions of the configured program and the member's account as it is before the
accrual; the handlers in ``accruals`` turn their results into effects.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

from ..program import BASIS, ClubRules, Group, IntervalRule, Service
from ..vocabulary import ServiceLine
from .calendar import add_months
from .ledger import Account, Ledger

MAX_REFERRAL_LEVELS = 3


def line_shares(lines: tuple[ServiceLine, ...], paid: int) -> list[tuple[ServiceLine, int]]:
    """Each invoice line with its share of the money paid, in proportion to its amount; the
    last line takes the rounding, so the shares add up to ``paid``."""
    total = sum(line.amount for line in lines)
    if not lines or total <= 0:
        return []
    shares, given = [], 0
    for line in lines[:-1]:
        share = line.amount * paid // total
        shares.append((line, share))
        given += share
    shares.append((lines[-1], paid - given))
    return shares


def credit_earned(rules: ClubRules, group: Group, account: Account, paid: int,
                  lines: tuple[ServiceLine, ...]) -> int:
    """The member's credit for paying ``paid``: the group's earning (cashback, per invoice,
    per step; nothing below its minimum invoice) plus the active interval rules, which
    replace the cashback part when there are any."""
    earning = group.earning
    active = [rule for rule in rules.interval_rules if rule.active]
    credit = sum(_interval_reward(rule, account, paid) for rule in active)
    if paid < earning.min_invoice:
        return credit
    if not active:
        credit += _cashback(rules.services, earning.percent_bp, lines, paid)
    credit += earning.per_invoice
    if earning.step is not None:
        credit += earning.step.of(paid)
    return credit


def _cashback(services: dict[str, Service], percent_bp: int, lines: tuple[ServiceLine, ...], paid: int) -> int:
    shares = line_shares(lines, paid)
    if not shares:
        return paid * percent_bp // BASIS
    total = 0
    for line, share in shares:
        service = services.get(line.code)
        if service is not None and service.cashback is not None:
            total += service.cashback.of(share)
        else:
            total += share * percent_bp // BASIS
    return total


def _interval_reward(rule: IntervalRule, account: Account, paid: int) -> int:
    """The reward of the first range that holds: for this invoice's money (``visit``) or
    the member's lifetime money paid before it (``cumulative``)."""
    if rule.scope == "cumulative":
        measured = account.paid()
    elif rule.first_visit_only and account.visits() > 0:
        return 0
    else:
        measured = paid
    for band in rule.ranges:
        if band.holds(measured):
            return band.reward.of(paid)
    return 0


def points_earned(rules: ClubRules, group: Group, paid: int, lines: tuple[ServiceLine, ...], weekday: int) -> int:
    """Per invoice, per step and per service line, times the weekday's multiplier."""
    points = group.points
    earned = points.per_invoice + (points.step.of(paid) if points.step is not None else 0)
    earned += sum(service.points for line in lines if (service := rules.services.get(line.code)) is not None)
    return earned * points.weekday_multipliers.get(weekday, 1)


def referrers(ledger: Ledger, group: Group, account: Account, paid: int,
              now: datetime) -> Iterator[tuple[Account, int]]:
    """The referrers who earn from this payment, each with its credit, level 1 first.

    The paying member's group says what each level earns, whether the member joined
    recently enough, and how many referred members a referrer may earn from (its first
    ones, by join order)."""
    referral = group.referral
    if referral is None:
        return
    if referral.window_days is not None and (
            account.joined_at is None or now - account.joined_at > timedelta(days=referral.window_days)):
        return
    child = account
    for percent_bp in referral.levels_bp[:MAX_REFERRAL_LEVELS]:
        parent = ledger.accounts.get(child.referrer_id or "")
        if parent is None:
            return
        if referral.max_referred is not None:
            order = ledger.referred.get(parent.id, [])
            if child.id not in order[:referral.max_referred]:
                return
        credit = paid * percent_bp // BASIS
        if credit > 0 and not parent.blocked:
            yield parent, credit
        child = parent


def upgrade_target(rules: ClubRules, account: Account, now: datetime) -> str | None:
    """The group the member's conditions reach from its current one, if any; every
    condition set must hold, points, visits and money paid counted over the window."""
    upgrade = rules.groups[account.group].upgrade
    if upgrade is None or upgrade.to not in rules.groups:
        return None
    since = now - timedelta(days=upgrade.window_days) if upgrade.window_days is not None else None
    points = account.points if since is None else account.points_earned(since)
    checks = (
        (upgrade.min_balance, account.balance(now)),
        (upgrade.min_points, points),
        (upgrade.min_visits, account.visits(since)),
        (upgrade.min_paid, account.paid(since)),
    )
    if all(minimum is None or value >= minimum for minimum, value in checks):
        return upgrade.to
    return None


def discount(rules: ClubRules, account: Account) -> int | None:
    """The percentage of the highest step of the discount scale that the member's lifetime
    money paid reaches; ``None`` where the program has no scale."""
    if not rules.discount_scale:
        return None
    paid = account.paid()
    return max((step.percent for step in rules.discount_scale if paid >= step.from_paid), default=0)


def credit_expiry(group: Group, now: datetime) -> datetime | None:
    """When credit a member of ``group`` earns ``now`` expires."""
    if group.credit_expiry_months is not None:
        return add_months(now, group.credit_expiry_months)
    if group.credit_expiry_days is not None:
        return now + timedelta(days=group.credit_expiry_days)
    return None
