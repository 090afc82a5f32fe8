"""Limits against a dishonest counter: the largest amount of one request at a branch, and
velocity limits on how many requests (or how much money) one terminal or one card may send
in a window.

A terminal that is registered can still lie: it can claim an invoice of any size was paid.
Caps bound what a member spends; these bound what a terminal can make up. Velocity is
counted in fixed windows (a UTC clock minute or hour, the branch's business day) of approved
requests only, with ``Counted`` effects that the journal replays, so a restart forgets
nothing. A reversal does not give the count back: reversing and sending again is exactly
what a dishonest counter would repeat.
"""

from __future__ import annotations

from dataclasses import dataclass

from ..vocabulary import Code, Outcome
from .draft import Draft
from .effects import Counted


@dataclass(frozen=True, slots=True)
class Rate:
    """A velocity limit: the ``Limits`` field ``key`` bounds the requests (``money``: their
    amounts) of one terminal, or one member account (``per_card``), in one ``window``."""

    key: str
    window: str  # "minute", "hour" or "day" (the branch's business day)
    per_card: bool = False
    money: bool = False


ACCRUAL_RATES = (
    Rate("terminal_accruals_per_hour", "hour"),
    Rate("terminal_accrued_per_day", "day", money=True),
    Rate("card_accruals_per_day", "day", per_card=True),
)
REDEMPTION_RATES = (Rate("terminal_redemptions_per_minute", "minute"),)
WINDOW_FORMATS = {"minute": "%Y-%m-%dT%H:%M", "hour": "%Y-%m-%dT%H"}
VELOCITY_MESSAGE = "velocity limit"  # how the journal's message of each decline begins (the security report)
MAXIMUM_MESSAGE = "above this branch's"  # ... and what it says, after the amount


def over_maximum(d: Draft, key: str, amount: int | None, what: str) -> Outcome | None:
    """13 if ``amount`` is above the ``Limits`` field ``key`` at the terminal's branch."""
    assert d.terminal is not None
    limit = getattr(d.terms.limits(d.terminal.branch), key)
    if amount is None or limit is None or amount <= limit:
        return None
    return Outcome(Code.INVALID_AMOUNT, message=f"{what} {amount} is {MAXIMUM_MESSAGE} {key} {limit}")


def admit(d: Draft, rates: tuple[Rate, ...], amount: int) -> Outcome | None:
    """Count one request of ``amount`` against ``rates``, or the decline of the first it
    would exceed (61 for money, 65 for a number of requests), counting nothing."""
    assert d.terminal is not None
    limits = d.terms.limits(d.terminal.branch)
    counts = []
    for rate in rates:
        limit = getattr(limits, rate.key)
        if limit is None:
            continue
        subject = f"account:{d.account.id}" if rate.per_card and d.account else f"terminal:{d.terminal.tid}"
        window = d.day() if rate.window == "day" else d.now.strftime(WINDOW_FORMATS[rate.window])
        before = d.ledger.velocity.get((rate.key, subject))
        count, money = before[1:] if before is not None and before[0] == window else (0, 0)
        if (money + amount if rate.money else count + 1) > limit:
            return Outcome(Code.OVER_CAP if rate.money else Code.OVER_COUNT,
                           message=f"{VELOCITY_MESSAGE} {rate.key} {limit} reached for this "
                                   f"{'card' if rate.per_card else 'terminal'} ({window})")
        counts.append(Counted(rate.key, subject, window, amount, before))
    for effect in counts:
        d.apply(effect)
    return None
