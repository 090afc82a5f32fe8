"""SmartPOS requests into the shared vocabulary.

Input is a parsed ``smartpos_pb2.Request``. The result is one vocabulary ``Request``: the
mapped one, or ``Malformed`` (code 30) with a reason naming the field, for a request that
parses but cannot be decided (no body, no card, an amount that is missing or negative).

Idempotency (smartpos.proto): ``(terminal_id, request_id)`` identifies a request, and one
already answered is answered again with the stored response. So every request gets the key
``"<terminal_id>:<request_id>"`` and ``repeat=True``: the rule core answers a known key with
its stored outcome and decides an unknown one as new. The branch is the one the terminal is
registered to (``branch=None``). Reasons mask card numbers and never quote a voucher PIN.
Text that reaches the journal (terminal id, invoice, RRN, codes) must be printable: a NUL
cannot be stored in PostgreSQL, and one request must not fail the group commit of others.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...vocabulary import (
    AccrualReturn,
    Accrue,
    ActivateGift,
    BalanceInquiry,
    CardRef,
    Code,
    Complete,
    Echo,
    Malformed,
    Redeem,
    Refund,
    Request,
    Reverse,
    ServiceLine,
    TopUp,
    mask_pan,
)
from . import smartpos_pb2 as pb

__all__ = ["Rejected", "key", "to_request"]

_PAN_MAX = 19  # digits, as Club-8583 DE2
_PHONE_MAX = 20  # as the members' phone column
_INVOICE_MAX = 32  # as Club-8583 DE48 IN
_SERVICE_MAX = 32  # as Club-8583 DE48 SV codes
_RRN_MAX = 12  # as Club-8583 DE37
_TERMINAL_MAX = 16  # Club-8583 DE41 is 8; a longer id can be no registered terminal


class Rejected(Exception):
    """The request parsed but cannot be decided; ``reason`` names the field."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def key(terminal: str, request_id: int) -> str:
    return f"{terminal}:{request_id}"


def to_request(message: pb.Request) -> Request:
    """Map one parsed request; one that cannot be decided becomes ``Malformed`` (30)."""
    terminal = message.terminal_id
    if terminal and not (terminal.isprintable() and len(terminal) <= _TERMINAL_MAX):
        problem = f"terminal_id: expected up to {_TERMINAL_MAX} printable characters"
        return Malformed(terminal="", code=Code.FORMAT_ERROR, reason=problem)
    try:
        if not terminal:
            raise Rejected("terminal_id: missing")
        body = message.WhichOneof("body")
        if body is None:
            raise Rejected("body: missing (none of ping, balance, redeem, ...)")
        if body != "ping" and not message.request_id:
            raise Rejected("request_id: missing")
        common = {"terminal": terminal, "key": key(terminal, message.request_id), "repeat": True}
        return _BUILDERS[body](_Body(body, getattr(message, body)), common)
    except Rejected as e:
        return Malformed(terminal=terminal, code=Code.FORMAT_ERROR, reason=e.reason)


class _Body:
    """Checked access to one request body's fields; each failure names its field."""

    __slots__ = ("message", "name")

    def __init__(self, name: str, message: Any) -> None:
        self.name, self.message = name, message

    def fail(self, field: str, problem: str) -> Rejected:
        return Rejected(f"{self.name}.{field}: {problem}")

    def amount(self, field: str = "amount") -> int:
        value = getattr(self.message, field)
        if value <= 0:
            raise self.fail(field, "missing" if value == 0 else f"negative ({value})")
        return value

    def text(self, field: str, limit: int | None = None) -> str:
        value = getattr(self.message, field)
        if not value:
            raise self.fail(field, "missing")
        if limit is not None and len(value) > limit:
            raise self.fail(field, f"longer than {limit}")
        if not value.isprintable():
            raise self.fail(field, "not printable")
        return value

    def card(self) -> CardRef:
        if not self.message.HasField("card"):
            raise self.fail("card", "missing")
        card = self.message.card
        which = card.WhichOneof("id")
        if which == "pan":
            pan = card.pan
            if not (pan.isascii() and pan.isdigit() and len(pan) <= _PAN_MAX):
                raise self.fail("card.pan", f"expected up to {_PAN_MAX} digits, got {mask_pan(pan)!r}")
            return CardRef(pan=pan)
        if which == "phone" and card.phone:
            if not (card.phone.isprintable() and len(card.phone) <= _PHONE_MAX):
                raise self.fail("card.phone", f"expected up to {_PHONE_MAX} printable characters")
            return CardRef(phone=card.phone)
        raise self.fail("card", "neither pan nor phone")

    def invoice_total(self) -> int | None:
        total = self.message.invoice_total
        if total < 0:
            raise self.fail("invoice_total", f"negative ({total})")
        return total or None

    def lines(self) -> tuple[ServiceLine, ...]:
        lines = []
        for n, line in enumerate(self.message.lines):
            code = line.service_code
            if not (code and code.isprintable() and len(code) <= _SERVICE_MAX):
                raise self.fail(f"lines[{n}].service_code", f"missing, not printable or longer than {_SERVICE_MAX}")
            if line.amount < 0:
                raise self.fail(f"lines[{n}].amount", f"negative ({line.amount})")
            lines.append(ServiceLine(line.service_code, line.amount))
        return tuple(lines)


Builder = Callable[[_Body, dict[str, Any]], Request]


def _ping(b: _Body, common: dict[str, Any]) -> Request:
    return Echo(**common)


def _balance(b: _Body, common: dict[str, Any]) -> Request:
    return BalanceInquiry(**common, card=b.card())


def _redeem(b: _Body, common: dict[str, Any]) -> Request:
    return Redeem(**common, card=b.card(), amount=b.amount(), invoice=b.text("invoice", _INVOICE_MAX),
                  invoice_total=b.invoice_total(), lines=b.lines(), hold=b.message.hold_only)


def _complete(b: _Body, common: dict[str, Any]) -> Request:
    """The hold is named by its RRN only: the rule core finds its card."""
    return Complete(**common, card=None, rrn=b.text("rrn", _RRN_MAX), amount=b.amount())


def _accrue(b: _Body, common: dict[str, Any]) -> Request:
    """``paid``: the money really paid on the invoice. ``invoice_total`` plays no part in
    earning (the vocabulary's accrual has none); it is checked like any amount."""
    b.invoice_total()
    return Accrue(**common, card=b.card(), amount=b.amount("paid"), invoice=b.text("invoice", _INVOICE_MAX),
                  lines=b.lines())


def _accrual_return(b: _Body, common: dict[str, Any]) -> Request:
    return AccrualReturn(**common, card=b.card(), amount=b.amount("refunded"),
                         invoice=b.text("invoice", _INVOICE_MAX))


def _refund(b: _Body, common: dict[str, Any]) -> Request:
    return Refund(**common, card=b.card(), rrn=b.text("rrn", _RRN_MAX), amount=b.amount())


def _top_up(b: _Body, common: dict[str, Any]) -> Request:
    pin = b.message.pin
    if not pin:
        raise b.fail("pin", "missing")
    if not (pin.isascii() and pin.isdigit()):
        raise b.fail("pin", "expected digits")  # never the PIN itself
    return TopUp(**common, card=b.card(), pin=pin)


def _activate_gift(b: _Body, common: dict[str, Any]) -> Request:
    return ActivateGift(**common, card=b.card(), amount=b.amount())


def _reverse(b: _Body, common: dict[str, Any]) -> Request:
    original = b.message.original_request_id
    if not original:
        raise b.fail("original_request_id", "missing")
    return Reverse(**common, original_key=key(common["terminal"], original))


_BUILDERS: dict[str, Builder] = {
    "ping": _ping,
    "balance": _balance,
    "redeem": _redeem,
    "complete": _complete,
    "accrue": _accrue,
    "accrual_return": _accrual_return,
    "refund": _refund,
    "voucher_top_up": _top_up,
    "activate_gift_card": _activate_gift,
    "reverse": _reverse,
}
