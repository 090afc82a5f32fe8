"""The security report: who guesses voucher PINs and who sends what a dishonest counter
would, per terminal and per member account, from the journal of the last days.

Counted from ``transactions`` (bounded by ``at``, its index): wrong PINs (``topup`` 55),
top-ups refused while locked (``topup`` 75), and declines by the limits against a dishonest
counter (a branch maximum, 13; a velocity limit, 61 or 65), known by their message. No PIN
is in the journal; cards are shown masked, as the journal keeps them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, and_, or_, select

from ..rules.limits import MAXIMUM_MESSAGE, VELOCITY_MESSAGE
from ..vocabulary import Code, Kind
from .schema import transactions

SECURITY_COLUMNS = ("scope", "id", "wrong_pins", "locked_top_ups", "limit_declines", "last_utc")


@dataclass(slots=True)
class Suspect:
    """One terminal's or one member account's count of what the report looks for."""

    scope: str  # "terminal" or "card"
    id: str  # the terminal id, or a masked card of the account
    wrong_pins: int = 0
    locked_top_ups: int = 0
    limit_declines: int = 0
    last: datetime | None = None

    def count(self, code: str, at: datetime) -> None:
        if code == Code.INVALID_PIN:
            self.wrong_pins += 1
        elif code == Code.PIN_LOCKED:
            self.locked_top_ups += 1
        else:
            self.limit_declines += 1
        self.last = at if self.last is None else max(self.last, at)


def security(conn: Connection, since: datetime) -> list[Suspect]:
    """Every terminal and account with a wrong PIN, a locked top-up or a limit decline since
    ``since``, the most wrong PINs first."""
    t = transactions.c
    pins = and_(t.kind == Kind.TOPUP, t.code.in_((Code.INVALID_PIN, Code.PIN_LOCKED)))
    limits = or_(and_(t.code == Code.INVALID_AMOUNT, t.message.contains(MAXIMUM_MESSAGE)),
                 and_(t.code.in_((Code.OVER_CAP, Code.OVER_COUNT)), t.message.startswith(VELOCITY_MESSAGE)))
    rows = conn.execute(select(t.at, t.terminal, t.account_id, t.card, t.code).where(t.at >= since, or_(pins, limits)))
    found: dict[tuple[str, str], Suspect] = {}
    for row in rows:
        subjects = [("terminal", row.terminal, row.terminal)]
        if row.account_id is not None:
            subjects.append(("card", row.account_id, row.card))
        for scope, key, shown in subjects:
            found.setdefault((scope, key), Suspect(scope, shown)).count(row.code, row.at)
    return sorted(found.values(), key=lambda s: (-s.wrong_pins, -s.locked_top_ups, -s.limit_declines, s.scope, s.id))
