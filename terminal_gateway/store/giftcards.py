"""Registering gift cards: ``giftcard register FROM_CARD COUNT``.

Physical gift cards come in ranges of consecutive numbers: each is the one before without its
check digit, plus one, with its own Luhn digit. Each card becomes an account of its own
(``kind`` ``gift``, no group, ``gift_state`` ``inactive``) until a terminal activates it.
The whole range is registered in one transaction with one insert a table, or not at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from uuid import uuid4

from sqlalchemy import Connection

from ..rules.cards import with_check_digit
from ..vocabulary import mask_pan
from . import changes
from .checks import card_problem, count_problem
from .errors import StoreError
from .members import insert_rows
from .reads import existing
from .schema import accounts, cards

DIGITS = (13, 19)  # gift card numbers: ISO/IEC 7812 lengths the cards table holds
MAX_COUNT = 1_000_000


def card_range(first: str, count: int) -> list[str]:
    """``count`` consecutive Luhn-valid numbers from ``first``, or ``StoreError`` saying why not."""
    shortest, longest = DIGITS
    if not (first.isascii() and first.isdigit() and shortest <= len(first) <= longest):
        raise StoreError(f"gift card number {mask_pan(first)!r} must be {shortest} to {longest} digits")
    if problem := card_problem(first):
        raise StoreError(problem)
    if problem := count_problem("count", count, MAX_COUNT):
        raise StoreError(problem)
    width = len(first) - 1
    body = int(first[:-1])
    if len(str(body + count - 1)) > width:
        raise StoreError(f"{count} cards from {mask_pan(first)} run past the last {len(first)}-digit number")
    return [with_check_digit(f"{n:0{width}d}") for n in range(body, body + count)]


def register(conn: Connection, pans: Sequence[str], now: datetime) -> int:
    """An inactive gift account and its card for every number of ``pans``, all or none; how many."""
    taken = existing(conn, cards.c.pan, cards.c.account_id, pans)
    if taken:
        first = next(pan for pan in pans if pan in taken)
        more = f" (and {len(taken) - 1} more of the range)" if len(taken) > 1 else ""
        raise StoreError(f"card {mask_pan(first)} is already registered{more}: nothing registered")
    account_rows = [{"id": uuid4().hex, "group": "", "phone": None, "blocked": False, "referrer_id": None,
                     "created_at": now, "kind": "gift", "points": 0, "gift_state": "inactive"} for _ in pans]
    card_rows = [{"pan": pan, "account_id": row["id"], "status": "active", "created_at": now}
                 for pan, row in zip(pans, account_rows, strict=True)]
    insert_rows(conn, accounts, account_rows)
    insert_rows(conn, cards, card_rows)
    changes.append(conn, "account", [row["id"] for row in account_rows], now)
    return len(account_rows)
