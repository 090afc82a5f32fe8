"""The one vocabulary every protocol maps onto: requests, outcomes, response codes, limits.

A codec turns its bytes into one of the request classes below and turns an ``Outcome`` back
into bytes; the rule core decides requests and knows nothing of bytes. So a cap behaves the
same whether the card came over ISO 8583, a serial line or NFC.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date
from enum import StrEnum

MAX_AMOUNT = 999_999_999_999  # DE4 is n12: the largest amount any terminal can carry or be shown


class Code(StrEnum):
    """Response codes (Club-8583 DE39); every protocol answers with these meanings."""

    APPROVED = "00"
    PARTIAL = "10"
    DO_NOT_HONOUR = "05"
    INVALID_TRANSACTION = "12"
    INVALID_AMOUNT = "13"
    UNKNOWN_CARD = "14"
    ORIGINAL_NOT_FOUND = "25"
    FORMAT_ERROR = "30"
    LOST_CARD = "41"
    INSUFFICIENT_BALANCE = "51"
    EXPIRED = "54"
    INVALID_PIN = "55"
    NOT_PERMITTED_CARD = "57"
    NOT_PERMITTED_TERMINAL = "58"
    OVER_CAP = "61"
    SECURITY_VIOLATION = "63"
    OVER_COUNT = "65"
    PIN_LOCKED = "75"
    DUPLICATE = "94"
    TOTALS_MISMATCH = "95"
    MALFUNCTION = "96"

    @property
    def approved(self) -> bool:
        return self in (Code.APPROVED, Code.PARTIAL)


class Limit(StrEnum):
    """What bound a partial approval or a decline (Club-8583 DE48 RS)."""

    BALANCE = "BALANCE"
    DAILY_CAP = "DAILY_CAP"
    INVOICE_CAP = "INVOICE_CAP"
    SERVICE_CAP = "SERVICE_CAP"
    DAILY_COUNT = "DAILY_COUNT"
    GROUP = "GROUP"
    EXPIRED = "EXPIRED"
    BLOCKED = "BLOCKED"


class Kind(StrEnum):
    """The kind of a decision record, spelt as the journal stores it (``transactions.kind``):
    one per kind of request (a hold is a redemption that only authorizes), and those the rule
    core makes of itself: a malformed message, an expired hold, and a decision that failed
    (reverted, never stored)."""

    SIGN_ON = "sign_on"
    SIGN_OFF = "sign_off"
    BALANCE = "balance"
    REDEEM = "redeem"
    HOLD = "hold"
    COMPLETE = "complete"
    REFUND = "refund"
    REVERSE = "reverse"
    RECONCILE = "reconcile"
    ACCRUAL = "accrual"
    ACCRUAL_RETURN = "accrual_return"
    TOPUP = "topup"
    GIFT_ACTIVATION = "gift_activation"
    MALFORMED = "malformed"
    HOLD_EXPIRY = "hold_expiry"
    FAILED = "failed"


@dataclass(frozen=True, slots=True, repr=False)
class CardRef:
    """How the terminal named the member: a card number, or a phone where allowed. Its
    repr masks both, so that no log of a request shows a whole card number."""

    pan: str | None = None
    phone: str | None = None

    def __repr__(self) -> str:
        return f"CardRef(pan={mask_pan(self.pan)!r}, phone={'***' if self.phone else None})"


@dataclass(frozen=True, slots=True)
class ServiceLine:
    """One line of the invoice (Club-8583 DE48 SV), minor units."""

    code: str
    amount: int


@dataclass(frozen=True, slots=True)
class BatchTotals:
    """Reconciliation totals (Club-8583 DE74-77, DE86-89)."""

    credits: int = 0
    credits_reversal: int = 0
    debits: int = 0
    debits_reversal: int = 0
    credits_amount: int = 0
    credits_reversal_amount: int = 0
    debits_amount: int = 0
    debits_reversal_amount: int = 0


@dataclass(frozen=True, slots=True)
class TerminalFamily:
    """What a firmware family can do, which changes how its requests are decided."""

    name: str = "generic"
    partial_approval: bool = True
    signon_required: bool = False
    protocol: str | None = None  # its family of terminals (club8583, smartpos, cr200, station); None: any


@dataclass(frozen=True, slots=True, kw_only=True)
class Request:
    """What every request carries.

    ``key`` identifies the request for duplicate detection, as the protocol defines it
    (Club-8583: DE41 + DE11 + DE7); ``repeat`` says the terminal sent it again because it
    got no answer. ``branch`` is the branch the terminal claims (DE42), checked against
    the one it is registered to; ``None`` where the transport itself binds the branch.
    """

    terminal: str
    key: str | None = None
    repeat: bool = False
    branch: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class SignOn(Request):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class SignOff(Request):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class Echo(Request):
    pass


@dataclass(frozen=True, slots=True, kw_only=True)
class BalanceInquiry(Request):
    card: CardRef


@dataclass(frozen=True, slots=True, kw_only=True)
class Redeem(Request):
    """Pay part of an invoice with club credit; ``hold`` only authorizes (capture later)."""

    card: CardRef
    amount: int
    invoice: str
    invoice_total: int | None = None
    lines: tuple[ServiceLine, ...] = ()
    currency: int | None = None
    hold: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Complete(Request):
    """Capture an open hold, named by its RRN, for at most the held amount; ``card``, where
    the protocol sends it, must be of the hold's account."""

    amount: int
    rrn: str
    card: CardRef | None = None
    currency: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Refund(Request):
    """Give back credit that a redemption, named by its RRN, took."""

    card: CardRef
    amount: int
    rrn: str
    currency: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reverse(Request):
    """Undo the request whose key is ``original_key``; ``advice`` for 0420-style advices."""

    original_key: str
    original_is_reversal: bool = False
    card: CardRef | None = None
    amount: int | None = None
    advice: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class Accrue(Request):
    """The invoice was paid: earn credit and points on ``amount``, the money really paid
    (not the part paid with club credit). One accrual per branch and invoice."""

    card: CardRef
    amount: int
    invoice: str
    lines: tuple[ServiceLine, ...] = ()
    currency: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class AccrualReturn(Request):
    """The paid invoice was refunded by ``amount``: take back, in proportion, what it earned."""

    card: CardRef
    amount: int
    invoice: str
    currency: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class TopUp(Request):
    """Redeem a voucher PIN onto the card's account. The PIN stays out of every repr."""

    card: CardRef
    pin: str = field(repr=False)


@dataclass(frozen=True, slots=True, kw_only=True)
class ActivateGift(Request):
    """Load ``amount`` onto a registered, inactive gift card."""

    card: CardRef
    amount: int
    currency: int | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class Reconcile(Request):
    """Close the terminal's batch and compare its totals with the gateway's."""

    batch_number: str
    totals: BatchTotals


@dataclass(frozen=True, slots=True, kw_only=True)
class Malformed(Request):
    """A message the codec could read enough of to answer, but not to decide; journalled
    like any other decline so that the operator sees what the terminal sent wrong."""

    code: Code
    reason: str


@dataclass(frozen=True, slots=True)
class Outcome:
    """The gateway's answer to one request, whatever protocol carries it back.

    ``earned`` and ``points_earned``: what an accrual earned (negative: what a return took
    back); ``points``, ``group`` and ``discount`` (a percentage) describe the member after the
    request; ``expires_on``: the expiry of an activated gift card.
    """

    code: Code
    amount: int = 0
    balance: int | None = None
    daily_remaining: int | None = None
    invoice_remaining: int | None = None
    limit: Limit | None = None
    rrn: str | None = None
    auth_code: str | None = None
    totals: BatchTotals | None = None
    earned: int | None = None
    points_earned: int | None = None
    points: int | None = None
    group: str | None = None
    discount: int | None = None
    expires_on: date | None = None
    message: str = field(default="", compare=False)

    @property
    def approved(self) -> bool:
        return self.code.approved


def mask_pan(pan: str | None) -> str:
    """First 6 and last 4 digits, as Club-8583 asks for logs and records."""
    if not pan:
        return ""
    if len(pan) <= 10:
        return "*" * len(pan)
    return pan[:6] + "*" * (len(pan) - 10) + pan[-4:]
