"""``Terms``: the program a rule core decides under, and what it computes of it once."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from ..program import Caps, ClubRules, Limits
from ..vocabulary import Code, Outcome, Request
from .calendar import business_day_span
from .caps import caps_at
from .earning import discount
from .ledger import Account
from .states import AccountKind

NO_CAPS = Caps()


class Terms:
    """The configured program and the voucher PIN key, with each branch's business day and
    each group's caps at a branch cached. A reloaded program gets new terms, so that nothing
    cached outlives the program it was computed from."""

    def __init__(self, rules: ClubRules, voucher_key: bytes | None = None):
        self.rules, self.voucher_key = rules, voucher_key
        self._days: dict[str, tuple[str, datetime, datetime]] = {}
        self._caps: dict[tuple[str, str], Caps] = {}

    def day(self, branch: str, now: datetime) -> str:
        """The business day at ``branch``, computed once per branch and day."""
        cached = self._days.get(branch)
        if cached is not None and cached[1] <= now < cached[2]:
            return cached[0]
        configured = self.rules.branches.get(branch)
        if configured is None:
            span = business_day_span(now, self.rules.program.default_timezone, 0)
        else:
            span = business_day_span(now, configured.timezone, configured.day_cutoff_hour)
        self._days[branch] = span
        return span[0]

    def caps(self, account: Account, branch: str | None) -> Caps:
        """The caps on the account's credit at ``branch``. A gift card has none, unless the
        program puts the default group's on gift cards too."""
        group = account.group
        if account.kind == AccountKind.GIFT:
            if not self.rules.gift_cards.caps:
                return NO_CAPS
            group = self.rules.default_group.name
        key = (group, branch or "")
        caps = self._caps.get(key)
        if caps is None:
            caps = self._caps[key] = caps_at(self.rules, group, branch)
        return caps

    def limits(self, branch: str) -> Limits:
        """The maxima and velocity limits at ``branch``: its own, else the program's."""
        configured = self.rules.branches.get(branch)
        return configured.limits if configured is not None and configured.limits is not None else self.rules.limits

    def member_view(self, account: Account) -> dict[str, Any]:
        """What a member's answers say of it beyond the balance: points, group, discount."""
        if account.kind == AccountKind.GIFT:
            return {}
        return {"points": account.points, "group": account.group, "discount": discount(self.rules, account)}

    def amount_problem(self, request: Request, amount: int) -> Outcome | None:
        """Why ``amount`` of ``request`` cannot be acted on, if it cannot: not above zero,
        above the program's maximum, or in another currency."""
        if amount <= 0:
            return Outcome(Code.INVALID_AMOUNT, message="amount must be more than zero")
        program = self.rules.program
        if amount > program.max_amount:
            return Outcome(Code.INVALID_AMOUNT, message=f"amount exceeds the program maximum {program.max_amount}")
        currency = getattr(request, "currency", None)
        if currency is not None and currency != program.currency:
            return Outcome(Code.FORMAT_ERROR,
                           message=f"DE49: currency {currency:03d} is not the program currency {program.currency:03d}")
        return None
