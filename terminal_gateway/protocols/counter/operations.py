"""What the counter asks a station to do: its JSON body, checked field by field."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from typing import Any

from ...vocabulary import MAX_AMOUNT, AccrualReturn, Accrue, BalanceInquiry, CardRef, Kind, Redeem, Refund, Request

__all__ = ["DEFAULT_TIMEOUT", "KINDS", "MAX_BODY", "MAX_NESTING", "MAX_TIMEOUT", "SPENDING", "BadOperation",
           "Operation", "parse_operation"]

DEFAULT_TIMEOUT = 30.0  # seconds a station waits for a card unless the counter says otherwise
MAX_TIMEOUT = 300.0
MAX_BODY = 64 * 1024
MAX_NESTING = 8  # arrays and objects within each other; an operation is one flat object
_STRING_OR_BRACKET = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{}]')
# The counter's word for each operation, and the kind of decision it becomes.
KINDS = {"balance": Kind.BALANCE, "redeem": Kind.REDEEM, "hold": Kind.HOLD, "accrue": Kind.ACCRUAL,
         "accrual_return": Kind.ACCRUAL_RETURN, "refund": Kind.REFUND}
SPENDING = (Kind.REDEEM, Kind.HOLD)  # what a UID tag may do only where [clubcard] uid_tags_redeem is true
_INVOICED = (*SPENDING, Kind.ACCRUAL, Kind.ACCRUAL_RETURN)
_FIELDS = {"kind", "amount", "invoice", "invoice_total", "rrn", "reference", "timeout"}


class BadOperation(ValueError):
    """The counter's request cannot be an operation; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Operation:
    kind: Kind
    amount: int | None = None
    invoice: str | None = None
    invoice_total: int | None = None
    rrn: str | None = None
    reference: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def request(self, terminal: str, pan: str) -> Request:
        """The request the station at ``terminal`` makes for card ``pan``."""
        card = CardRef(pan=pan)
        key = f"{terminal}/{self.reference}" if self.reference else None
        common: dict[str, Any] = {"terminal": terminal, "key": key, "card": card}
        if self.kind == Kind.BALANCE:
            return BalanceInquiry(**common)
        if self.kind in SPENDING:
            assert self.amount is not None and self.invoice is not None
            return Redeem(**common, amount=self.amount, invoice=self.invoice, invoice_total=self.invoice_total,
                          hold=self.kind == Kind.HOLD)
        if self.kind == Kind.ACCRUAL:
            return Accrue(**common, amount=self.amount or 0, invoice=self.invoice or "")
        if self.kind == Kind.ACCRUAL_RETURN:
            return AccrualReturn(**common, amount=self.amount or 0, invoice=self.invoice or "")
        return Refund(**common, amount=self.amount or 0, rrn=self.rrn or "")


def parse_operation(body: bytes) -> Operation:
    """The counter's JSON body as an ``Operation``; ``BadOperation`` names the field."""
    if len(body) > MAX_BODY:
        raise BadOperation(f"the body is larger than {MAX_BODY // 1024} KiB")
    if _nesting(body) > MAX_NESTING:
        raise BadOperation(f"the body nests arrays or objects more than {MAX_NESTING} deep")
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadOperation(f"the body is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadOperation("the body is not a JSON object")
    unknown = sorted(set(data) - _FIELDS)
    if unknown:
        raise BadOperation(f"{unknown[0]}: unknown field")
    word = data.get("kind")
    if word not in KINDS:
        raise BadOperation(f"kind: expected one of {', '.join(KINDS)}, got {word!r}")
    kind = KINDS[word]

    def whole(name: str, required: bool) -> int | None:
        value = data.get(name)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= MAX_AMOUNT:
            raise BadOperation(f"{name}: expected a whole number of minor units from 1 to {MAX_AMOUNT}, "
                               f"got {value!r}")
        return value

    def text(name: str, required: bool, size: int) -> str | None:
        value = data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not 1 <= len(value) <= size or not value.isprintable():
            raise BadOperation(f"{name}: expected 1 to {size} printable characters, got {value!r}")
        return value

    timeout = data.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
            math.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT):
        raise BadOperation(f"timeout: expected seconds, more than 0 and at most {MAX_TIMEOUT:g}, got {timeout!r}")
    return Operation(
        kind=kind,
        amount=whole("amount", kind != Kind.BALANCE),
        invoice=text("invoice", kind in _INVOICED, 32),
        invoice_total=whole("invoice_total", False),
        rrn=text("rrn", kind == Kind.REFUND, 12),
        reference=text("reference", False, 32),
        timeout=float(timeout),
    )


def _nesting(body: bytes) -> int:
    """How deep arrays and objects nest in ``body``, brackets inside strings not counted:
    measured before parsing, because the parser recurses once per level."""
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(body):
        token = match.group()
        if token in (b"[", b"{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in (b"]", b"}"):
            depth -= 1
    return deepest
