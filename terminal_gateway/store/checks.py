"""Checks on what an operator typed, before it reaches the database.

Each returns the problem as one line for the operator, or ``None``; card numbers are masked
(first 6, last 4) in every message, as Club-8583 asks of logs.
"""

from __future__ import annotations

from ..program import MAX_AMOUNT  # a larger lot could never be shown at a terminal
from ..rules.cards import luhn_valid
from ..vocabulary import mask_pan

PHONE_DIGITS = (5, 15)  # E.164 numbers have at most 15 digits


def card_problem(pan: str) -> str | None:
    if not luhn_valid(pan):
        return f"card {mask_pan(pan)} fails the Luhn check"
    return None


def ans_problem(name: str, value: str, longest: int) -> str | None:
    """ISO 8583 ``ans``: printable ASCII; padding spaces at either end would not survive a field."""
    if not (1 <= len(value) <= longest and value.isascii() and value.isprintable() and value == value.strip()):
        return f"{name} {value!r} must be 1 to {longest} printable ASCII characters without surrounding spaces"
    return None


def phone_problem(phone: str) -> str | None:
    digits = phone.removeprefix("+")
    shortest, longest = PHONE_DIGITS
    if not (digits.isascii() and digits.isdigit() and shortest <= len(digits) <= longest):
        return f"phone {phone!r} must be {shortest} to {longest} digits, optionally after a '+'"
    return None


def amount_problem(amount: object, name: str = "amount") -> str | None:
    if isinstance(amount, bool) or not isinstance(amount, int) or not 0 < amount <= MAX_AMOUNT:
        return f"{name} {amount!r} must be a whole number of minor units from 1 to {MAX_AMOUNT}"
    return None


def count_problem(name: str, count: object, most: int) -> str | None:
    """A count of things (cards, vouchers, points) from 1 to ``most``."""
    if isinstance(count, bool) or not isinstance(count, int) or not 0 < count <= most:
        return f"{name} {count!r} must be a whole number from 1 to {most}"
    return None
