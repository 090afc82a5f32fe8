"""Requests of every row of the contract's transaction table, and what they must become."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date

from terminal_gateway.protocols.club8583 import HostCodec, TerminalCodec, de48
from terminal_gateway.protocols.framing import FrameBuffer
from terminal_gateway.vocabulary import (
    AccrualReturn,
    Accrue,
    ActivateGift,
    BalanceInquiry,
    BatchTotals,
    CardRef,
    Code,
    Complete,
    Echo,
    Limit,
    Outcome,
    Reconcile,
    Redeem,
    Refund,
    Request,
    Reverse,
    ServiceLine,
    SignOff,
    SignOn,
    TopUp,
)

PAN = "4761739001010119"
ODD_PAN = "378282246310005"  # 15 digits: BCD needs the pad nibble
TERMINAL = "TERM0001"
BRANCH = "CLINIC-042     "  # ans15, right-padded
STAN = "000123"
SENT = "1125165300"
KEY = f"{TERMINAL}:{STAN}:{SENT}"
CURRENCY = 978
RRN = "000000004711"
VOUCHER_PIN = "98765432"
# Elements every response echoes when the request had them (the contract's matching rule).
ECHOED = ("2", "3", "7", "11", "41", "42", "49", "70")


def request(mti: str, **elements: str) -> dict[str, str]:
    """A request with the elements every row needs (DE7, DE11, DE41)."""
    return {"t": mti, "7": SENT, "11": STAN, "41": TERMINAL, **elements}


def without(fields: dict[str, str], de: str) -> dict[str, str]:
    return {key: value for key, value in fields.items() if key != de}


def card_request(mti: str, kind: str, **elements: str) -> dict[str, str]:
    return request(mti, **{"2": PAN, "3": f"{kind}0000", "42": BRANCH, **elements})


def invoice(**tags: str) -> str:
    return de48.build({"IN": "INV-0042", **tags})


def exchange(host: HostCodec, terminal: TerminalCodec, fields: dict[str, str]):
    """Terminal -> frame -> gateway: the ``Decoded`` the gateway sees for ``fields``."""
    buffer = FrameBuffer(host.profile.header, host.profile.max_frame)
    (body,) = buffer.feed(buffer.frame(terminal.encode(fields)))
    return host.decode(body)


def common(**overrides) -> dict:
    return {"terminal": TERMINAL, "key": KEY, "branch": "CLINIC-042", **overrides}


APPROVED = Outcome(Code.APPROVED)


@dataclass
class Case:
    """One request, the request or error it must decode to, and the answer's extra elements."""

    id: str
    fields: dict[str, str]
    expect: Request | Code
    response_mti: str
    outcome: Outcome = APPROVED
    response: dict[str, str] = field(default_factory=dict)


_APPROVED_REDEEM = Outcome(
    Code.PARTIAL,
    amount=1000,
    balance=0,
    daily_remaining=0,
    invoice_remaining=44000,
    limit=Limit.BALANCE,
    rrn=RRN,
    auth_code="A1B2C3",
)
_REDEEM_RESPONSE = {
    "4": "000000001000",
    "37": RRN,
    "38": "A1B2C3",
    "48": "AB0010DL0010IL00544000RS007BALANCE",
    "54": "0002978C000000000000",
}
_REDEEM = dict(
    card=CardRef(pan=PAN),
    amount=1500,
    invoice="INV-0042",
    invoice_total=450000,
    lines=(ServiceLine("CONS", 30000), ServiceLine("XRAY", 15000)),
    currency=CURRENCY,
)
REDEEM_FIELDS = {
    "4": "000000001500",
    "22": "051",
    "48": invoice(IT="450000", SV="CONS:30000;XRAY:15000"),
    "49": "978",
}
_ORIGINAL = "0200" + "000122" + "1125165200" + "0" * 22
_TOTALS = BatchTotals(1, 0, 5, 1, 2000, 0, 90000, 1500)
TOTALS_FIELDS = {
    "74": "0000000001",
    "75": "0000000000",
    "76": "0000000005",
    "77": "0000000001",
    "86": "0000000000002000",
    "87": "0000000000000000",
    "88": "0000000000090000",
    "89": "0000000000001500",
}


def _reversal(mti: str, original: str = _ORIGINAL, kind: str = "00") -> dict[str, str]:
    return card_request(mti, kind, **{"4": "000000001500", "90": original})


_CARD = CardRef(pan=PAN)
TOP_UP_FIELDS = {"22": "081", "48": de48.build({"VP": VOUCHER_PIN})}
ACCRUAL_FIELDS = {"4": "000000045000", "48": invoice(SV="CONS:30000;XRAY:15000"), "49": "978"}
_ACCRUE = dict(card=_CARD, amount=45000, invoice="INV-0042",
               lines=(ServiceLine("CONS", 30000), ServiceLine("XRAY", 15000)), currency=CURRENCY)
_TOPPED_UP = Outcome(Code.APPROVED, amount=50000, balance=150000, rrn=RRN, auth_code="004711")
_TOP_UP_RESPONSE = {
    "4": "000000050000",
    "37": RRN,
    "38": "004711",
    "48": "AB006150000",
    "54": "0002978C000000150000",
}
_ACCRUED = Outcome(Code.APPROVED, amount=45000, balance=102250, rrn=RRN, earned=2250,
                   points_earned=45, points=1045, group="gold")
_ACCRUAL_RESPONSE = {
    "4": "000000045000",
    "37": RRN,
    "48": "AB006102250CE0042250PE00245PT0041045TR004gold",
    "54": "0002978C000000102250",
}


CASES = [
    Case("sign-on", request("0800", **{"70": "001"}), SignOn(**common(branch=None)), "0810"),
    Case("sign-off", request("0800", **{"70": "002"}), SignOff(**common(branch=None)), "0810"),
    Case("echo", request("0800", **{"70": "301"}), Echo(**common(branch=None)), "0810"),
    Case(
        "echo-with-branch",
        request("0800", **{"70": "301", "42": BRANCH}),
        Echo(**common()),
        "0810",
    ),
    Case("key-change", request("0800", **{"70": "101"}), Code.INVALID_TRANSACTION, "0810",
         Outcome(Code.INVALID_TRANSACTION)),
    Case(
        "hold",
        card_request("0100", "00", **REDEEM_FIELDS),
        Redeem(**common(), **_REDEEM, hold=True),
        "0110",
        _APPROVED_REDEEM,
        _REDEEM_RESPONSE,
    ),
    Case(
        "hold-repeat",
        card_request("0101", "00", **REDEEM_FIELDS),
        Redeem(**common(repeat=True), **_REDEEM, hold=True),
        "0110",
        _APPROVED_REDEEM,
        _REDEEM_RESPONSE,
    ),
    Case(
        "redeem",
        card_request("0200", "00", **REDEEM_FIELDS),
        Redeem(**common(), **_REDEEM),
        "0210",
        _APPROVED_REDEEM,
        _REDEEM_RESPONSE,
    ),
    Case(
        "redeem-repeat-track2",
        {
            **without(card_request("0201", "00", **REDEEM_FIELDS), "2"),
            "35": f"{ODD_PAN}=25121",
        },
        Redeem(**common(repeat=True), **{**_REDEEM, "card": CardRef(pan=ODD_PAN)}),
        "0210",
        Outcome(Code.INSUFFICIENT_BALANCE, balance=-200, limit=Limit.BALANCE),
        {"4": "000000000000", "48": "AB004-200RS007BALANCE", "54": "0002978D000000000200"},
    ),
    Case(
        "redeem-by-phone",
        {
            **without(card_request("0200", "00", **REDEEM_FIELDS), "2"),
            "48": invoice(PH="+989121234567"),
        },
        Redeem(
            **common(),
            card=CardRef(phone="+989121234567"),
            amount=1500,
            invoice="INV-0042",
            currency=CURRENCY,
        ),
        "0210",
        APPROVED,
        {"4": "000000000000"},
    ),
    Case(
        "completion",
        card_request("0220", "00", **{"4": "000000001200", "37": RRN}),
        Complete(**common(), card=CardRef(pan=PAN), amount=1200, rrn=RRN),
        "0230",
        Outcome(Code.APPROVED, amount=1200, rrn=RRN),
        {"4": "000000001200", "37": RRN},
    ),
    Case(
        "completion-repeat",
        card_request("0221", "00", **{"4": "000000001200", "37": RRN, "49": "978"}),
        Complete(**common(repeat=True), card=CardRef(pan=PAN), amount=1200, rrn=RRN,
                 currency=CURRENCY),
        "0230",
        Outcome(Code.ORIGINAL_NOT_FOUND),
        {"4": "000000000000"},
    ),
    Case(
        "refund",
        card_request("0200", "20", **{"4": "000000000700", "37": RRN}),
        Refund(**common(), card=CardRef(pan=PAN), amount=700, rrn=RRN),
        "0210",
        Outcome(Code.APPROVED, amount=700, balance=900, rrn="000000004712", auth_code="B00001"),
        {
            "4": "000000000700",
            "37": "000000004712",
            "38": "B00001",
            "48": "AB003900",
            "54": "0002978C000000000900",
        },
    ),
    Case(
        "balance",
        card_request("0200", "31"),
        BalanceInquiry(**common(), card=CardRef(pan=PAN)),
        "0210",
        Outcome(Code.APPROVED, balance=123456, daily_remaining=5000),
        {"48": "AB006123456DL0045000", "54": "0002978C000000123456"},
    ),
    Case(
        "balance-with-points-and-tier",
        card_request("0200", "31"),
        BalanceInquiry(**common(), card=_CARD),
        "0210",
        Outcome(Code.APPROVED, balance=0, daily_remaining=0, points=1200, group="silver",
                discount=10),
        {"48": "AB0010DL0010PT0041200TR006silverDP00210", "54": "0002978C000000000000"},
    ),
    Case(
        "top-up",
        card_request("0200", "21", **TOP_UP_FIELDS),
        TopUp(**common(), card=_CARD, pin=VOUCHER_PIN),
        "0210",
        _TOPPED_UP,
        _TOP_UP_RESPONSE,
    ),
    Case(
        "top-up-repeat",
        card_request("0201", "21", **TOP_UP_FIELDS),
        TopUp(**common(repeat=True), card=_CARD, pin=VOUCHER_PIN),
        "0210",
        _TOPPED_UP,
        _TOP_UP_RESPONSE,
    ),
    Case(
        "top-up-wrong-pin",  # no DE4 asked, none approved: none answered
        card_request("0200", "21", **TOP_UP_FIELDS),
        TopUp(**common(), card=_CARD, pin=VOUCHER_PIN),
        "0210",
        Outcome(Code.INVALID_PIN),
    ),
    Case(
        "accrual",
        card_request("0200", "22", **ACCRUAL_FIELDS),
        Accrue(**common(), **_ACCRUE),
        "0210",
        _ACCRUED,
        _ACCRUAL_RESPONSE,
    ),
    Case(
        "accrual-repeat-without-currency",
        without(card_request("0201", "22", **ACCRUAL_FIELDS), "49"),
        Accrue(**common(repeat=True), **{**_ACCRUE, "currency": None}),
        "0210",
        _ACCRUED,
        _ACCRUAL_RESPONSE,
    ),
    Case(
        "accrual-return",
        card_request("0200", "23", **{"4": "000000009000", "48": invoice(), "49": "978"}),
        AccrualReturn(**common(), card=_CARD, amount=9000, invoice="INV-0042", currency=CURRENCY),
        "0210",
        Outcome(Code.APPROVED, amount=9000, balance=101800, rrn=RRN, earned=-450,
                points_earned=-9, points=1036),
        {
            "4": "000000009000",
            "37": RRN,
            "48": "AB006101800CE004-450PE002-9PT0041036",
            "54": "0002978C000000101800",
        },
    ),
    Case(
        "accrual-return-without-currency",
        card_request("0200", "23", **{"4": "000000009000", "48": invoice()}),
        AccrualReturn(**common(), card=_CARD, amount=9000, invoice="INV-0042"),
        "0210",
        Outcome(Code.ORIGINAL_NOT_FOUND),
        {"4": "000000000000"},
    ),
    Case(
        "gift-activation",
        card_request("0200", "72", **{"4": "000001000000", "49": "978"}),
        ActivateGift(**common(), card=_CARD, amount=1000000, currency=CURRENCY),
        "0210",
        Outcome(Code.APPROVED, amount=1000000, balance=1000000, rrn=RRN, auth_code="004711",
                expires_on=date(2026, 11, 30)),
        {
            "4": "000001000000",
            "14": "2611",
            "37": RRN,
            "38": "004711",
            "48": "AB0071000000",
            "54": "0002978C000001000000",
        },
    ),
    Case(
        "gift-activation-of-an-active-card",
        card_request("0200", "72", **{"4": "000001000000"}),
        ActivateGift(**common(), card=_CARD, amount=1000000),
        "0210",
        Outcome(Code.NOT_PERMITTED_CARD),
        {"4": "000000000000"},
    ),
    *(
        Case(
            f"reversal-of-type-{kind}",
            _reversal(mti, kind=kind),
            Reverse(**common(), original_key=f"{TERMINAL}:000122:1125165200", card=_CARD,
                    amount=1500, advice=mti == "0420"),
            {"0400": "0410", "0420": "0430"}[mti],
            APPROVED,
            {"4": "000000000000"},
        )
        for kind, mti in (("21", "0400"), ("22", "0420"), ("23", "0400"), ("72", "0420"))
    ),
    Case(
        "reversal",
        _reversal("0400"),
        Reverse(**common(), original_key=f"{TERMINAL}:000122:1125165200",
                card=CardRef(pan=PAN), amount=1500),
        "0410",
        APPROVED,
        {"4": "000000000000"},
    ),
    Case(
        "reversal-repeat",
        _reversal("0401"),
        Reverse(**common(repeat=True), original_key=f"{TERMINAL}:000122:1125165200",
                card=CardRef(pan=PAN), amount=1500),
        "0410",
        Outcome(Code.APPROVED, amount=1500),
        {"4": "000000001500"},
    ),
    Case(
        "reversal-advice",
        _reversal("0420"),
        Reverse(**common(), original_key=f"{TERMINAL}:000122:1125165200",
                card=CardRef(pan=PAN), amount=1500, advice=True),
        "0430",
        Outcome(Code.APPROVED, amount=1500),
        {"4": "000000001500"},
    ),
    Case(
        "reversal-advice-repeat-of-a-reversal",
        _reversal("0421", "0400" + "000122" + "1125165200" + "0" * 22),
        Reverse(**common(repeat=True), original_key=f"{TERMINAL}:000122:1125165200",
                original_is_reversal=True, card=CardRef(pan=PAN), amount=1500, advice=True),
        "0430",
        Outcome(Code.INVALID_TRANSACTION),
        {"4": "000000000000"},
    ),
    Case(
        "reconciliation",
        request("0500", **{"42": BRANCH, "48": de48.build({"BN": "000007"}), **TOTALS_FIELDS}),
        Reconcile(**common(), batch_number="000007", totals=_TOTALS),
        "0510",
        Outcome(Code.TOTALS_MISMATCH, totals=BatchTotals(1, 0, 4, 1, 2000, 0, 80000, 1500)),
        {
            "48": "BN006000007",
            "74": "0000000001",
            "75": "0000000000",
            "76": "0000000004",
            "77": "0000000001",
            "86": "0000000000002000",
            "87": "0000000000000000",
            "88": "0000000000080000",
            "89": "0000000000001500",
        },
    ),
]


def case(case_id: str) -> Case:
    return next(case for case in CASES if case.id == case_id)
