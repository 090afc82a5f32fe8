"""The Club-8583 data elements, transcribed from the contract's table.

Formats are written as the contract writes them ("n6", "LLVAR n..19") so this table can be
read against it line by line. It says what each element is; a firmware profile only says
how each kind of element goes on the wire, so all families share this one table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

__all__ = ["ELEMENTS", "TOTALS", "Element", "Kind"]

Kind = Literal["n", "an", "ans", "b", "z"]


@dataclass(frozen=True, slots=True)
class Element:
    number: int
    name: str
    kind: Kind
    length: int  # the length of a fixed element, the maximum of a variable one
    prefix: int  # digits of the length prefix: 0 fixed, 2 LLVAR, 3 LLLVAR


_TABLE: dict[int, tuple[str, str]] = {
    2: ("LLVAR n..19", "card number (PAN)"),
    3: ("n6", "processing code"),
    4: ("n12", "amount"),
    7: ("n10", "transmission date and time"),
    11: ("n6", "STAN"),
    12: ("n6", "local time"),
    13: ("n4", "local date"),
    14: ("n4", "expiration date"),
    22: ("n3", "POS entry mode"),
    35: ("LLVAR z..37", "track 2"),
    37: ("an12", "retrieval reference number"),
    38: ("an6", "authorization code"),
    39: ("an2", "response code"),
    41: ("ans8", "terminal id"),
    42: ("ans15", "card acceptor id"),
    48: ("LLLVAR ans..999", "additional data"),
    49: ("n3", "currency code"),
    54: ("LLLVAR an..120", "additional amounts"),
    64: ("b8", "MAC"),
    70: ("n3", "network management code"),
    74: ("n10", "credits, number"),
    75: ("n10", "credits reversal, number"),
    76: ("n10", "debits, number"),
    77: ("n10", "debits reversal, number"),
    86: ("n16", "credits, amount"),
    87: ("n16", "credits reversal, amount"),
    88: ("n16", "debits, amount"),
    89: ("n16", "debits reversal, amount"),
    90: ("n42", "original data elements"),
    128: ("b8", "MAC"),
}

_FORMAT = re.compile(r"(?:(LL|LLL)VAR )?(n|an|ans|b|z)(\.\.)?(\d+)")


def _element(number: int, fmt: str, name: str) -> Element:
    match = _FORMAT.fullmatch(fmt)
    if match is None or (match[1] is None) != (match[3] is None):
        raise ValueError(f"DE{number}: bad format {fmt!r}")
    prefix = len(match[1]) if match[1] else 0
    return Element(number, name, match[2], int(match[4]), prefix)  # type: ignore[arg-type]


ELEMENTS: dict[int, Element] = {n: _element(n, fmt, name) for n, (fmt, name) in _TABLE.items()}

# Reconciliation totals: element and the ``BatchTotals`` attribute it carries.
TOTALS: tuple[tuple[int, str], ...] = (
    (74, "credits"),
    (75, "credits_reversal"),
    (76, "debits"),
    (77, "debits_reversal"),
    (86, "credits_amount"),
    (87, "credits_reversal_amount"),
    (88, "debits_amount"),
    (89, "debits_reversal_amount"),
)
