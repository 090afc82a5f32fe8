"""Frames written by hand from the contract, so a wrong encoding choice cannot pass.

Each test takes the bytes a terminal of that family sends, decodes them through the
gateway, and checks the gateway's answer byte for byte.
"""

from __future__ import annotations

from datetime import date

from terminal_gateway.protocols.club8583 import HostCodec, TerminalCodec, de48, load_profile
from terminal_gateway.protocols.framing import FrameBuffer
from terminal_gateway.vocabulary import (
    AccrualReturn,
    ActivateGift,
    CardRef,
    Code,
    Outcome,
    Redeem,
    SignOn,
    TopUp,
)

from .messages import BRANCH, CURRENCY, ODD_PAN, SENT, STAN, TERMINAL, common, request, without


def _hex(*parts: str) -> bytes:
    return bytes.fromhex("".join(parts).replace(" ", ""))


def _codecs(name: str) -> tuple[HostCodec, TerminalCodec, FrameBuffer]:
    profile = load_profile(name)
    return (
        HostCodec(profile, CURRENCY),
        TerminalCodec(profile),
        FrameBuffer(profile.header, profile.max_frame),
    )


GOLDEN_FIELDS = request(
    "0200",
    **{
        "h": "6000120034",
        "2": ODD_PAN,
        "3": "000000",
        "4": "000000002500",
        "42": BRANCH,
        "48": "IN008INV-0042",
        "49": "978",
    },
)
REDEEM = Redeem(
    **common(), card=CardRef(pan=ODD_PAN), amount=2500, invoice="INV-0042", currency=CURRENCY
)
APPROVED = Outcome(
    Code.APPROVED, amount=2500, balance=7500, rrn="000000000001", auth_code="A1B2C3"
)
ASCII_TEXT = (TERMINAL + BRANCH).encode().hex()  # DE41 then DE42, ASCII in every profile

T1_REDEEM = _hex(
    "0051",  # binary2 length: 81 bytes follow
    "60 0012 0034",  # TPDU: 60, destination 0012, source 0034
    "0200",  # MTI, BCD
    "72 20 00 00 00 C1 80 00",  # bitmap, binary: 2 3 4 7 11 41 42 48 49
    "15 0378282246310005",  # DE2: BCD LL counts 15 digits; a 0 nibble pads on the left
    "000000",  # DE3
    "000000002500",  # DE4
    "1125165300",  # DE7
    "000123",  # DE11
    ASCII_TEXT,  # DE41, DE42
    "0013",  # DE48: BCD LLL, 2 bytes
    b"IN008INV-0042".hex(),
    "0978",  # DE49: n3 as BCD, left-padded
)
T1_APPROVAL = _hex(
    "6000340012",  # TPDU with destination and source swapped
    "0210",
    "72 20 00 00 0E C1 84 00",  # + 37 38 39, 54
    "15 0378282246310005",
    "000000 000000002500 1125165300 000123",
    b"000000000001A1B2C300".hex(),  # DE37, DE38, DE39
    ASCII_TEXT,
    "0009",
    b"AB0047500".hex(),
    "0978",
    "0020",
    b"0002978C000000007500".hex(),  # DE54: available balance, credit
)


def test_club_t1_redeem() -> None:
    host, terminal, frames = _codecs("club-t1")
    assert terminal.encode(GOLDEN_FIELDS) == T1_REDEEM[2:]

    (body,) = frames.feed(T1_REDEEM)
    decoded = host.decode(body)
    assert decoded.request == REDEEM

    response = host.encode(decoded.context, APPROVED)
    assert response == T1_APPROVAL
    assert frames.frame(response)[:2] == len(T1_APPROVAL).to_bytes(2, "big")


def test_club_t1_track2_travels_with_the_d_nibble() -> None:
    host, terminal, _ = _codecs("club-t1")
    body = _hex(
        "6000120034 0200",
        "22 20 00 00 20 C0 00 00",  # 3 7 11 35 41 42
        "310000 1125165300 000123",
        "21 0378282246310005D25121",  # DE35: 21 nibbles, "=" as D, left pad
        ASCII_TEXT,
    )
    decoded = host.decode(body)
    assert decoded.request is not None
    assert decoded.request.card == CardRef(pan=ODD_PAN)
    fields = request("0200", **{"h": "6000120034", "3": "310000", "42": BRANCH})
    assert terminal.encode({**fields, "35": f"{ODD_PAN}=25121"}) == body


def test_club_t2_redeem() -> None:
    host, terminal, frames = _codecs("club-t2")
    wire = (
        b"\x00\x71"  # binary2 length: 113
        b"0200"
        b"7220000000C18000"  # bitmap as upper-case hex
        b"15378282246310005"  # DE2: ASCII LL counts digits
        b"000000" b"000000002500" b"1125165300" b"000123"
        + (TERMINAL + BRANCH).encode()
        + b"013IN008INV-0042"  # DE48: ASCII LLL
        b"978"
    )
    assert terminal.encode(without(GOLDEN_FIELDS, "h")) == wire[2:]

    (body,) = frames.feed(wire)
    decoded = host.decode(body)
    assert decoded.request == REDEEM
    assert host.encode(decoded.context, APPROVED) == (
        b"0210"
        b"722000000EC18400"  # no secondary bitmap; 37 38 39 and 54 set
        b"15378282246310005"
        b"000000" b"000000002500" b"1125165300" b"000123"
        b"000000000001" b"A1B2C3" b"00"
        + (TERMINAL + BRANCH).encode()
        + b"009AB0047500"
        b"978"
        b"0200002978C000000007500"
    )


def test_club_t3_sign_on() -> None:
    host, terminal, frames = _codecs("club-t3")
    wire = (
        b"0063"  # ascii4 length
        b"0800"
        b"8220000000800000"  # 1 (secondary bitmap) 7 11 41
        b"0400000000000000"  # 70
        + SENT.encode() + STAN.encode() + TERMINAL.encode()
        + b"001"
    )
    assert frames.frame(terminal.encode(request("0800", **{"70": "001"}))) == wire

    (body,) = frames.feed(wire)
    decoded = host.decode(body)
    assert decoded.request == SignOn(**common(branch=None))
    response = frames.frame(host.encode(decoded.context, Outcome(Code.APPROVED)))
    assert response == (
        b"0065"
        b"0810"
        b"8220000002800000"  # + 39
        b"0400000000000000"
        + SENT.encode() + STAN.encode() + b"00" + TERMINAL.encode()
        + b"001"
    )


def test_club_t1_top_up() -> None:
    """No DE4 asked; the voucher's value answered in DE4, the PIN never echoed."""
    host, terminal, frames = _codecs("club-t1")
    wire = _hex(
        "0049",  # 73 bytes follow
        "60 0012 0034 0200",
        "62 20 00 00 00 C1 00 00",  # 2 3 7 11 41 42 48
        "15 0378282246310005",
        "210000",  # DE3: type 21, voucher top-up
        "1125165300 000123",
        ASCII_TEXT,
        "0013",
        b"VP00898765432".hex(),  # DE48 VP: the PIN
    )
    fields = request("0200", **{"h": "6000120034", "2": ODD_PAN, "3": "210000", "42": BRANCH,
                                "48": "VP00898765432"})
    assert frames.frame(terminal.encode(fields)) == wire

    (body,) = frames.feed(wire)
    decoded = host.decode(body)
    assert decoded.request == TopUp(**common(), card=CardRef(pan=ODD_PAN), pin="98765432")
    outcome = Outcome(Code.APPROVED, amount=50000, balance=150000, rrn="000000000001",
                      auth_code="A1B2C3")
    assert host.encode(decoded.context, outcome) == _hex(
        "6000340012 0210",
        "72 20 00 00 0E C1 04 00",  # + 4, 37 38 39, 54; no 48 VP, no 49
        "15 0378282246310005",
        "210000 000000050000 1125165300 000123",
        b"000000000001A1B2C300".hex(),
        ASCII_TEXT,
        "0011",
        b"AB006150000".hex(),
        "0020",
        b"0002978C000000150000".hex(),
    )


def test_club_t1_gift_activation_answers_the_expiry_in_bcd() -> None:
    host, terminal, _ = _codecs("club-t1")
    fields = request("0200", **{"h": "6000120034", "2": ODD_PAN, "3": "720000",
                                "4": "000001000000", "42": BRANCH, "49": "978"})
    decoded = host.decode(terminal.encode(fields))
    assert decoded.request == ActivateGift(**common(), card=CardRef(pan=ODD_PAN), amount=1000000,
                                           currency=CURRENCY)
    outcome = Outcome(Code.APPROVED, amount=1000000, balance=1000000, rrn="000000000001",
                      auth_code="A1B2C3", expires_on=date(2026, 11, 30))
    assert host.encode(decoded.context, outcome) == _hex(
        "6000340012 0210",
        "72 24 00 00 0E C1 84 00",  # 2 3 4 7, 11 14, 37 38 39, 41 42 48, 49 54
        "15 0378282246310005",
        "720000 000001000000 1125165300 000123",
        "2611",  # DE14: YYMM, n4 as two BCD bytes
        b"000000000001A1B2C300".hex(),
        ASCII_TEXT,
        "0012",
        b"AB0071000000".hex(),
        "0978",
        "0020",
        b"0002978C000001000000".hex(),
    )


def test_club_t2_accrual_return_answers_negative_earnings() -> None:
    host, terminal, frames = _codecs("club-t2")
    wire = (
        b"\x00\x6e"  # 110
        b"0200"
        b"7220000000C10000"  # 2 3 4 7 11 41 42 48
        b"15378282246310005"
        b"230000" b"000000009000" b"1125165300" b"000123"
        + (TERMINAL + BRANCH).encode()
        + b"013IN008INV-0042"
    )
    fields = request("0200", **{"2": ODD_PAN, "3": "230000", "4": "000000009000", "42": BRANCH,
                                "48": "IN008INV-0042"})
    assert frames.frame(terminal.encode(fields)) == wire

    (body,) = frames.feed(wire)
    decoded = host.decode(body)
    assert decoded.request == AccrualReturn(**common(), card=CardRef(pan=ODD_PAN), amount=9000,
                                            invoice="INV-0042")
    outcome = Outcome(Code.APPROVED, amount=9000, balance=101800, rrn="000000000002",
                      earned=-450, points_earned=-9, points=1036)
    assert host.encode(decoded.context, outcome) == (
        b"0210"
        b"722000000AC10400"  # + 37 39, 54
        b"15378282246310005"
        b"230000" b"000000009000" b"1125165300" b"000123"
        b"000000000002" b"00"
        + (TERMINAL + BRANCH).encode()
        + b"036AB006101800CE004-450PE002-9PT0041036"
        b"0200002978C000000101800"
    )


def test_de48_example_from_the_contract() -> None:
    assert de48.parse("IN008INV-0042IT006450000") == {"IN": "INV-0042", "IT": "450000"}
