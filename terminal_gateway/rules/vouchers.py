"""Voucher PINs: the keyed hash that is all the store keeps of them, and the lockout.

The key lives outside the database (a file or an environment variable named in the
configuration), so a stolen database does not reveal a single PIN: without the key, a hash
cannot even be checked against a guess.
"""

from __future__ import annotations

import hmac
from datetime import datetime, timedelta
from hashlib import sha256

from ..program import Vouchers


def pin_hash(key: bytes, pin: str) -> str:
    """HMAC-SHA256 of the PIN's digits under ``key``, as hex."""
    return hmac.new(key, pin.encode("ascii"), sha256).hexdigest()


def locked_until(failures: list[datetime], rules: Vouchers, now: datetime) -> datetime | None:
    """When the lockout of a terminal or card with these wrong-PIN times ends, if it is on.

    ``max_wrong_pins`` failures within ``window_minutes`` lock for ``lockout_minutes`` from
    the last of them.
    """
    window, lockout, count = (timedelta(minutes=rules.window_minutes), timedelta(minutes=rules.lockout_minutes),
                              rules.max_wrong_pins)
    for last in range(len(failures) - 1, count - 2, -1):
        ends = failures[last] + lockout
        if ends <= now:
            break
        if failures[last] - failures[last - count + 1] <= window:
            return ends
    return None
