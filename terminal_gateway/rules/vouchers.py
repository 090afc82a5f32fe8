"""Voucher PINs: the keyed hash that is all the store keeps of them, and the lockout.

The key lives outside the database (a file or an environment variable named in the
configuration), so a stolen database does not reveal a single PIN: without the key, a hash
cannot even be checked against a guess.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from hashlib import sha256

from ..program import Lockout


def pin_hash(key: bytes, pin: str) -> str:
    """HMAC-SHA256 of the PIN's digits under ``key``, as hex."""
    return hmac.new(key, pin.encode("ascii"), sha256).hexdigest()


def locked_until(failures: list[datetime], rule: Lockout, now: datetime) -> datetime | None:
    """When the lockout of a terminal, a card or every top-up with these wrong-PIN times
    ends, if it is on: ``rule.count`` failures within its window lock for its lockout from
    the last of them.
    """
    window, lockout, count = (timedelta(minutes=rule.window_minutes), timedelta(minutes=rule.lockout_minutes),
                              rule.count)
    for last in range(len(failures) - 1, count - 2, -1):
        ends = failures[last] + lockout
        if ends <= now:
            break
        if failures[last] - failures[last - count + 1] <= window:
            return ends
    return None
