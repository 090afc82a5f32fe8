"""Card number checks that need no state."""

from __future__ import annotations


def luhn_valid(pan: str) -> bool:
    """The ISO/IEC 7812 check digit; club and gift card numbers carry one."""
    if not pan.isdigit() or not 8 <= len(pan) <= 19:
        return False
    total = 0
    for index, char in enumerate(reversed(pan)):
        digit = ord(char) - 48
        if index % 2:
            digit = digit * 2 - 9 if digit > 4 else digit * 2
        total += digit
    return total % 10 == 0


def with_check_digit(body: str) -> str:
    """Append the Luhn digit to ``body`` (used to issue card numbers and in tests)."""
    for digit in "0123456789":
        if luhn_valid(body + digit):
            return body + digit
    raise ValueError(f"cannot complete {len(body)}-digit card number")
