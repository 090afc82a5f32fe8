"""Club-8583 requests into the shared vocabulary: the contract's transaction table.

Input is the decoded element dict (strings, as pyiso8583 gives them). The result is one
vocabulary ``Request``, or ``Rejected`` with the code to answer and a reason that names the
element, for the terminal vendor's log. Reasons mask card numbers and never quote DE48: it
may carry a voucher PIN (VP), which goes nowhere but into ``TopUp.pin``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from functools import partial
from typing import Any

from ...vocabulary import (
    AccrualReturn,
    Accrue,
    ActivateGift,
    BalanceInquiry,
    BatchTotals,
    CardRef,
    Code,
    Complete,
    Echo,
    Reconcile,
    Redeem,
    Refund,
    Request,
    Reverse,
    ServiceLine,
    SignOff,
    SignOn,
    TopUp,
    mask_pan,
)
from . import de48
from .elements import ELEMENTS, TOTALS
from .keychange import KeyChange

__all__ = ["Rejected", "to_request"]

_SECRET = frozenset({"2", "35"})  # shown masked in reasons
_INVOICE_MAX = 32  # DE48 IN is ans..32
_SERVICE_MAX = 32  # a service code of DE48 SV


class Rejected(Exception):
    """The request cannot be processed: answer ``code``; ``reason`` is for the log."""

    def __init__(self, code: Code, reason: str) -> None:
        super().__init__(reason)
        self.code = code
        self.reason = reason


class _Fields:
    """Typed, checked access to the decoded elements; each failure names its element."""

    __slots__ = ("_doc", "_tags")

    def __init__(self, doc: Mapping[str, str]) -> None:
        self._doc = doc
        self._tags: dict[str, str] | None = None

    def text(self, de: str) -> str:
        """An element as sent; one with a control character (a NUL byte ...) is malformed,
        so that nothing the journal keeps of a request carries one."""
        value = self._doc.get(de)
        if value is None:
            raise Rejected(Code.FORMAT_ERROR, f"DE{de}: missing")
        if not value.isprintable():
            raise Rejected(Code.FORMAT_ERROR, f"DE{de}: not printable (a control character)")
        return value

    def digits(self, de: str) -> str:
        value = self.text(de)
        if not (value.isascii() and value.isdigit()):
            element = ELEMENTS[int(de)]
            size = f"up to {element.length}" if element.prefix else str(element.length)
            shown = mask_pan(value) if de in _SECRET else value
            raise Rejected(Code.FORMAT_ERROR, f"DE{de}: expected {size} digits, got {shown!r}")
        return value

    def number(self, de: str) -> int:
        return int(self.digits(de))

    def optional_number(self, de: str) -> int | None:
        return self.number(de) if de in self._doc else None

    def padded(self, de: str) -> str:
        """An ans element without its right padding; blank is malformed."""
        value = self.text(de).rstrip(" ")
        if not value:
            raise Rejected(Code.FORMAT_ERROR, f"DE{de}: blank")
        return value

    def tags(self) -> dict[str, str]:
        if self._tags is None:
            try:
                self._tags = de48.parse(self._doc.get("48", ""))
            except de48.DE48Error as e:
                raise Rejected(Code.FORMAT_ERROR, f"DE48: {e}") from None
            for tag, value in self._tags.items():
                if not value.isprintable():  # the value is never quoted: it may be a voucher PIN
                    raise Rejected(Code.FORMAT_ERROR, f"DE48 {tag}: not printable (a control character)")
        return self._tags

    def tag(self, tag: str) -> str:
        value = self.tags().get(tag)
        if not value:
            raise Rejected(Code.FORMAT_ERROR, f"DE48 {tag}: missing")
        return value

    def tag_digits(self, tag: str) -> str:
        value = self.tag(tag)
        if not (value.isascii() and value.isdigit()):
            raise Rejected(Code.FORMAT_ERROR, f"DE48 {tag}: expected digits")
        return value

    def card(self) -> CardRef:
        """DE2, else the PAN of track 2 (DE35), else the member's phone (DE48 PH)."""
        if "2" in self._doc:
            return CardRef(pan=self.digits("2"))
        if "35" in self._doc:
            pan, separator, _ = self.text("35").partition("=")
            if not (separator and pan.isascii() and pan.isdigit() and len(pan) <= 19):
                raise Rejected(
                    Code.FORMAT_ERROR, f"DE35: expected PAN=..., got PAN {mask_pan(pan)!r}"
                )
            return CardRef(pan=pan)
        phone = self.tags().get("PH")
        if phone:
            return CardRef(phone=phone)
        raise Rejected(Code.FORMAT_ERROR, "DE2: missing (and no DE35 or DE48 PH)")

    def lines(self) -> tuple[ServiceLine, ...]:
        """DE48 SV: ``CODE:AMOUNT`` joined by ``;``."""
        text = self.tags().get("SV")
        if not text:
            return ()
        lines = []
        for item in text.split(";"):
            code, _, amount = item.rpartition(":")
            if not (code and len(code) <= _SERVICE_MAX and amount.isascii() and amount.isdigit()):
                raise Rejected(Code.FORMAT_ERROR, f"DE48 SV: expected CODE:AMOUNT;... (codes up to {_SERVICE_MAX})")
            lines.append(ServiceLine(code, int(amount)))
        return tuple(lines)


Builder = Callable[[_Fields, dict[str, Any]], Request]


def _network(f: _Fields, common: dict[str, Any], *, key_change: bool = False) -> Request:
    code = f.digits("70")
    kind = (_KEYED_NETWORK if key_change else _NETWORK).get(code)
    if kind is None:
        raise Rejected(Code.INVALID_TRANSACTION, f"DE70: network management code {code} not handled")
    return kind(**common)


def _invoice(f: _Fields) -> str:
    """DE48 IN, ans..32."""
    invoice = f.tag("IN")
    if len(invoice) > _INVOICE_MAX:
        raise Rejected(Code.FORMAT_ERROR, f"DE48 IN: longer than {_INVOICE_MAX}")
    return invoice


def _money(f: _Fields) -> dict[str, Any]:
    """The card, DE4 and an optional DE49: what every request that moves an amount names."""
    return {"card": f.card(), "amount": f.number("4"), "currency": f.optional_number("49")}


def _redeem(f: _Fields, common: dict[str, Any], *, hold: bool) -> Request:
    invoice = _invoice(f)
    return Redeem(
        **common,
        card=f.card(),
        amount=f.number("4"),
        invoice=invoice,
        invoice_total=int(f.tag_digits("IT")) if "IT" in f.tags() else None,
        lines=f.lines(),
        currency=f.number("49"),
        hold=hold,
    )


def _by_rrn(kind: type[Complete | Refund], f: _Fields, common: dict[str, Any]) -> Request:
    """Completion and refund: an amount against an earlier transaction named by DE37."""
    return kind(**common, **_money(f), rrn=f.text("37"))


def _accrue(f: _Fields, common: dict[str, Any]) -> Request:
    """Type 22: DE4 is the money paid on the invoice DE48 IN; DE48 SV its lines."""
    return Accrue(**common, **_money(f), invoice=_invoice(f), lines=f.lines())


def _accrual_return(f: _Fields, common: dict[str, Any]) -> Request:
    """Type 23: DE4 is the money refunded on the paid invoice DE48 IN."""
    return AccrualReturn(**common, **_money(f), invoice=_invoice(f))


def _activate_gift(f: _Fields, common: dict[str, Any]) -> Request:
    """Type 72: load DE4 onto the gift card."""
    return ActivateGift(**common, **_money(f))


def _top_up(f: _Fields, common: dict[str, Any]) -> Request:
    """Type 21: the voucher PIN is DE48 VP, digits; no DE4 (the voucher says how much)."""
    return TopUp(**common, card=f.card(), pin=f.tag_digits("VP"))


def _balance(f: _Fields, common: dict[str, Any]) -> Request:
    return BalanceInquiry(**common, card=f.card())


def _reverse(f: _Fields, common: dict[str, Any], *, advice: bool) -> Request:
    """DE90: original MTI n4 + original STAN n6 + original DE7 n10 + zeros."""
    original = f.digits("90")
    mti, stan, sent = original[:4], original[4:10], original[10:20]
    return Reverse(
        **common,
        original_key=f"{common['terminal']}:{stan}:{sent}",
        original_is_reversal=mti.startswith("04"),
        card=f.card(),
        amount=f.number("4"),
        advice=advice,
    )


def _reconcile(f: _Fields, common: dict[str, Any]) -> Request:
    batch = f.tag_digits("BN")
    totals = BatchTotals(**{name: f.number(str(de)) for de, name in TOTALS})
    return Reconcile(**common, batch_number=batch, totals=totals)


_NETWORK: dict[str, type[SignOn | SignOff | Echo | KeyChange]] = {"001": SignOn, "002": SignOff, "301": Echo}
_KEYED_NETWORK = {**_NETWORK, "101": KeyChange}  # a key change needs a MAC profile

# What a reversal (0400, 0420) may undo: the DE3 types of the originals it names.
_REVERSIBLE = ("00", "20", "21", "22", "23", "72")
# MTI without its last digit (which only says "repeat") -> the DE3 transaction types it
# takes (None: DE3 plays no part) -> builder. A type missing here is answered 12.
_TRANSACTIONS: dict[str, dict[str | None, Builder]] = {
    "080": {None: _network},
    "010": {"00": partial(_redeem, hold=True)},
    "020": {
        "00": partial(_redeem, hold=False),
        "20": partial(_by_rrn, Refund),
        "21": _top_up,
        "22": _accrue,
        "23": _accrual_return,
        "31": _balance,
        "72": _activate_gift,
    },
    "022": {"00": partial(_by_rrn, Complete)},
    "040": dict.fromkeys(_REVERSIBLE, partial(_reverse, advice=False)),
    "042": dict.fromkeys(_REVERSIBLE, partial(_reverse, advice=True)),
    "050": {None: _reconcile},
}


def to_request(mti: str, doc: Mapping[str, str], *, key_change: bool = False) -> Request:
    """Map one decoded request; raises ``Rejected`` with the code to answer. ``key_change``:
    0800 DE70 101 is a ``KeyChange`` (under a MAC profile), else it is answered 12."""
    types = _TRANSACTIONS.get(mti[:3])
    if types is None or mti[3] not in "01":
        raise Rejected(Code.INVALID_TRANSACTION, f"MTI {mti}: not a Club-8583 request")
    f = _Fields(doc)
    kind = None if None in types else f.digits("3")[:2]
    build = types.get(kind)
    network = build is _network
    if network and key_change:
        build = partial(_network, key_change=True)
    if build is None:
        raise Rejected(Code.INVALID_TRANSACTION, f"DE3: transaction type {kind} not handled")
    terminal = f.padded("41")
    common = {
        "terminal": terminal,
        "key": f"{terminal}:{f.digits('11')}:{f.digits('7')}",
        "repeat": mti[3] == "1",
        # Network management may omit the branch; everything else names it.
        "branch": f.padded("42") if not network or "42" in doc else None,
    }
    return build(f, common)
