"""Bad input: answered 30 or 12 when MTI, DE11 and DE41 can be read, else Undecodable.

Reasons name the element for the vendor's log, and never show a PAN or a voucher PIN.
"""

from __future__ import annotations

import dataclasses

import pytest

from terminal_gateway.protocols.club8583 import (
    Decoded,
    HostCodec,
    Profile,
    TerminalCodec,
    Undecodable,
    de48,
)
from terminal_gateway.protocols.club8583.profile import Spec
from terminal_gateway.vocabulary import Code, Malformed, Outcome, mask_pan

from .messages import (
    ACCRUAL_FIELDS,
    BRANCH,
    PAN,
    REDEEM_FIELDS,
    TOP_UP_FIELDS,
    TOTALS_FIELDS,
    VOUCHER_PIN,
    card_request,
    invoice,
    request,
    without,
)

REDEEM = card_request("0200", "00", **REDEEM_FIELDS)
TOP_UP = card_request("0200", "21", **TOP_UP_FIELDS)
ACCRUAL = card_request("0200", "22", **ACCRUAL_FIELDS)
ACCRUAL_RETURN = card_request("0200", "23", **{"4": "000000009000", "48": invoice()})
GIFT = card_request("0200", "72", **{"4": "000001000000"})


def _decode(host: HostCodec, terminal: TerminalCodec, fields: dict[str, str]) -> Decoded:
    return host.decode(terminal.encode(fields))


def _answer(host: HostCodec, terminal: TerminalCodec, decoded: Decoded) -> dict[str, str]:
    assert decoded.error is not None
    return terminal.decode(host.encode(decoded.context, Outcome(decoded.error)))


BAD_LINES = "DE48 SV: expected CODE:AMOUNT;... (codes up to 32)"


@pytest.mark.parametrize(
    ("fields", "code", "reason"),
    [
        (without(REDEEM, "4"), Code.FORMAT_ERROR, "DE4: missing"),
        ({**REDEEM, "4": "ABC000000000"}, Code.FORMAT_ERROR,
         "DE4: expected 12 digits, got 'ABC000000000'"),
        (without(REDEEM, "49"), Code.FORMAT_ERROR, "DE49: missing"),
        (without(REDEEM, "42"), Code.FORMAT_ERROR, "DE42: missing"),
        ({**REDEEM, "41": "        "}, Code.FORMAT_ERROR, "DE41: blank"),
        ({**REDEEM, "48": "IN008INV-00"}, Code.FORMAT_ERROR,
         "DE48: IN: length 8 runs past the end at offset 0"),
        ({**REDEEM, "48": "IT003100"}, Code.FORMAT_ERROR, "DE48 IN: missing"),
        ({**REDEEM, "48": invoice(IT="45.00")}, Code.FORMAT_ERROR, "DE48 IT: expected digits"),
        ({**REDEEM, "48": invoice(SV="CONS=300")}, Code.FORMAT_ERROR, BAD_LINES),
        ({**REDEEM, "41": "T000\x00001"}, Code.FORMAT_ERROR, "DE41: not printable (a control character)"),
        ({**REDEEM, "42": "CLINIC\x00" + "0000001\n"}, Code.FORMAT_ERROR, "DE42: not printable (a control character)"),
        ({**REDEEM, "48": de48.build({"IN": "INV\x00\x1b[2J"})}, Code.FORMAT_ERROR,
         "DE48 IN: not printable (a control character)"),
        (card_request("0200", "20", **{"4": "000000000100", "37": "00000\x7f000001"}), Code.FORMAT_ERROR,
         "DE37: not printable (a control character)"),
        ({**REDEEM, "48": de48.build({"IN": "I" * 33})}, Code.FORMAT_ERROR,
         "DE48 IN: longer than 32"),
        ({**REDEEM, "3": "990000"}, Code.INVALID_TRANSACTION,
         "DE3: transaction type 99 not handled"),
        (without(REDEEM, "3"), Code.FORMAT_ERROR, "DE3: missing"),
        ({**REDEEM, "t": "0300"}, Code.INVALID_TRANSACTION, "MTI 0300: not a Club-8583 request"),
        ({**REDEEM, "t": "0202"}, Code.INVALID_TRANSACTION, "MTI 0202: not a Club-8583 request"),
        (request("0800", **{"70": "999"}), Code.INVALID_TRANSACTION,
         "DE70: network management code 999 not handled"),
        (without(request("0800", **{"70": "001"}), "7"), Code.FORMAT_ERROR, "DE7: missing"),
        (without(card_request("0400", "00", **{"4": "000000000100"}), "90"),
         Code.FORMAT_ERROR, "DE90: missing"),
        (without(REDEEM, "2"), Code.FORMAT_ERROR, "DE2: missing (and no DE35 or DE48 PH)"),
        (without(TOP_UP, "48"), Code.FORMAT_ERROR, "DE48 VP: missing"),
        ({**TOP_UP, "48": "VP000"}, Code.FORMAT_ERROR, "DE48 VP: missing"),
        ({**TOP_UP, "48": de48.build({"VP": "1234ABCD"})}, Code.FORMAT_ERROR,
         "DE48 VP: expected digits"),
        ({**TOP_UP, "48": de48.build({"VP": " 1234"})}, Code.FORMAT_ERROR, "DE48 VP: expected digits"),
        (without(TOP_UP, "2"), Code.FORMAT_ERROR, "DE2: missing (and no DE35 or DE48 PH)"),
        (without(ACCRUAL, "48"), Code.FORMAT_ERROR, "DE48 IN: missing"),
        ({**ACCRUAL, "48": de48.build({"SV": "CONS:30000"})}, Code.FORMAT_ERROR, "DE48 IN: missing"),
        ({**ACCRUAL, "48": de48.build({"IN": "I" * 33})}, Code.FORMAT_ERROR,
         "DE48 IN: longer than 32"),
        ({**ACCRUAL, "48": invoice(SV="CONS")}, Code.FORMAT_ERROR, BAD_LINES),
        ({**ACCRUAL, "48": invoice(SV="C" * 33 + ":100")}, Code.FORMAT_ERROR, BAD_LINES),
        (without(ACCRUAL, "4"), Code.FORMAT_ERROR, "DE4: missing"),
        ({**ACCRUAL, "49": "97A"}, Code.FORMAT_ERROR, "DE49: expected 3 digits, got '97A'"),
        (without(ACCRUAL_RETURN, "48"), Code.FORMAT_ERROR, "DE48 IN: missing"),
        (without(ACCRUAL_RETURN, "4"), Code.FORMAT_ERROR, "DE4: missing"),
        (without(GIFT, "4"), Code.FORMAT_ERROR, "DE4: missing"),
        ({**GIFT, "4": "00000100000A"}, Code.FORMAT_ERROR,
         "DE4: expected 12 digits, got '00000100000A'"),
        (card_request("0400", "31", **{"4": "000000000000", "90": "0200" + "0" * 38}),
         Code.INVALID_TRANSACTION, "DE3: transaction type 31 not handled"),
    ],
)
def test_answered_with_a_reason(
    host: HostCodec, terminal: TerminalCodec, fields: dict[str, str], code: Code, reason: str
) -> None:
    decoded = _decode(host, terminal, fields)
    assert (decoded.request, decoded.error, decoded.reason) == (None, code, reason)
    response = _answer(host, terminal, decoded)
    assert response["39"] == code.value
    assert (response["11"], response["41"]) == (fields["11"], fields["41"])
    assert response["t"] == fields["t"][:2] + str(int(fields["t"][2]) + 1) + "0"


def test_missing_amount_is_not_answered_with_one(host: HostCodec, terminal: TerminalCodec) -> None:
    assert "4" not in _answer(host, terminal, _decode(host, terminal, without(REDEEM, "4")))


def test_bad_pan_is_masked(host: HostCodec, terminal: TerminalCodec) -> None:
    bad = PAN[:-3] + "A" + PAN[-2:]  # a nibble/char that is not a digit
    decoded = _decode(host, terminal, {**REDEEM, "2": bad})
    assert decoded.reason == f"DE2: expected up to 19 digits, got {mask_pan(bad)!r}"
    track2 = _decode(host, terminal, {**without(REDEEM, "2"), "35": PAN + "2512"})
    assert track2.reason == f"DE35: expected PAN=..., got PAN {mask_pan(PAN + '2512')!r}"


def test_reconciliation_batch_is_echoed_even_when_rejected(
    host: HostCodec, terminal: TerminalCodec
) -> None:
    fields = request("0500", **{"42": BRANCH, "48": "BN006000007", **TOTALS_FIELDS})
    decoded = _decode(host, terminal, without(fields, "88"))
    assert (decoded.error, decoded.reason) == (Code.FORMAT_ERROR, "DE88: missing")
    assert _answer(host, terminal, decoded)["48"] == "BN006000007"


def _with_element_43(profile: Profile) -> TerminalCodec:
    """A terminal whose firmware sends DE43, which Club-8583 does not have."""
    spec = Spec(profile.spec)
    spec["43"] = {"data_enc": "ascii", "len_enc": "ascii", "len_type": 0, "max_len": 4}
    return TerminalCodec(dataclasses.replace(profile, spec=spec))


def test_unknown_element_after_de41_is_answered(host: HostCodec, profile: Profile) -> None:
    terminal = _with_element_43(profile)
    decoded = host.decode(terminal.encode({**REDEEM, "43": "ABCD"}))
    assert decoded.error == Code.FORMAT_ERROR
    assert decoded.reason.startswith("DE43: not a Club-8583 data element at byte ")
    response = _answer(host, TerminalCodec(profile), decoded)
    assert response["42"] == BRANCH  # decoded before DE43, so echoed
    assert "49" not in response  # after it: never read


def test_truncated_after_de41_is_answered(host: HostCodec, terminal: TerminalCodec) -> None:
    decoded = host.decode(terminal.encode(REDEEM)[:-1])
    assert decoded.error == Code.FORMAT_ERROR
    assert decoded.reason.startswith("DE49: Field data is")


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        (without(REDEEM, "41"), "DE41: missing"),
        (without(REDEEM, "11"), "DE11: missing"),
        ({**REDEEM, "t": "0210"}, "MTI '0210': not a request"),
    ],
)
def test_unanswerable(
    host: HostCodec, terminal: TerminalCodec, fields: dict[str, str], reason: str
) -> None:
    with pytest.raises(Undecodable) as raised:
        _decode(host, terminal, fields)
    assert (raised.value.reason, raised.value.position) == (reason, None)


def test_garbage_is_undecodable_with_a_position(host: HostCodec) -> None:
    with pytest.raises(Undecodable) as raised:
        host.decode(b"\x02")
    assert raised.value.position == 0
    assert "at byte 0" in str(raised.value)


def _journalled(decoded: Decoded) -> Malformed:
    """The ``Malformed`` request the TCP driver makes of an error, to be journalled."""
    assert decoded.error is not None
    return Malformed(terminal=decoded.context.echo.get("41", "").rstrip(), code=decoded.error,
                     reason=decoded.reason)


@pytest.mark.parametrize(
    "fields",
    [{**REDEEM, "48": invoice(VP=VOUCHER_PIN, SV="CONS:30000")}, TOP_UP],
    ids=["redeem", "top-up"],
)
def test_pan_and_pin_never_appear_in_reasons(
    host: HostCodec, terminal: TerminalCodec, fields: dict[str, str]
) -> None:
    """Every truncation and every one-byte corruption of a request holding both."""
    body = terminal.encode(fields)
    variants = [body[:n] for n in range(len(body))]
    variants += [body[:i] + bytes([b]) + body[i + 1 :] for i in range(len(body)) for b in (0x3A, 0xFF)]
    reasons, shown = [], []  # shown: may hold the PAN (a request's repr), never the PIN
    for variant in variants:
        try:
            decoded = host.decode(variant)
        except Undecodable as e:
            reasons.append(str(e))
        else:
            reasons.append(decoded.reason)
            reasons.append(repr(decoded.context))
            if decoded.error is not None:
                reasons.append(repr(_journalled(decoded)))
            shown.append(repr(decoded))
    assert len(reasons) > len(body)
    leaks = [reason for reason in reasons if PAN in reason or VOUCHER_PIN in reason]
    assert leaks == []
    assert [text for text in shown if VOUCHER_PIN in text] == []


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({**TOP_UP, "2": PAN[:-1] + "A"}, f"DE2: expected up to 19 digits, got {mask_pan(PAN[:-1] + 'A')!r}"),
        ({**TOP_UP, "3": "21000A"}, "DE3: expected 6 digits, got '21000A'"),
        ({**TOP_UP, "7": "11251653AB"}, "DE7: expected 10 digits, got '11251653AB'"),
        ({**TOP_UP, "42": " " * 15}, "DE42: blank"),
        ({**TOP_UP, "48": TOP_UP["48"] + "SV0x3"}, "DE48: SV: length is not 3 digits at offset 13"),
        ({**TOP_UP, "48": TOP_UP["48"] * 2}, "DE48: VP: repeated at offset 13"),
        ({**TOP_UP, "48": TOP_UP["48"] + "IN099ABC"}, "DE48: IN: length 99 runs past the end at offset 13"),
        ({**TOP_UP, "48": de48.build({"VP": VOUCHER_PIN + "A"})}, "DE48 VP: expected digits"),
    ],
)
def test_a_malformed_top_up_never_shows_its_pin(
    host: HostCodec, terminal: TerminalCodec, fields: dict[str, str], reason: str
) -> None:
    """The PIN (DE48 VP) is in the frame; whatever else is wrong, it is in no reason, no repr,
    no journalled request and no answer."""
    decoded = _decode(host, terminal, fields)
    assert (decoded.request, decoded.error, decoded.reason) == (None, Code.FORMAT_ERROR, reason)
    malformed = _journalled(decoded)
    answer = host.encode(decoded.context, Outcome(malformed.code, message=malformed.reason))
    for text in (decoded.reason, repr(decoded), repr(malformed), str(malformed), answer.hex()):
        assert VOUCHER_PIN not in text
    assert VOUCHER_PIN.encode() not in answer


def test_a_top_up_keeps_its_pin_out_of_every_repr(host: HostCodec, terminal: TerminalCodec) -> None:
    decoded = _decode(host, terminal, TOP_UP)
    assert decoded.request is not None
    assert decoded.request.pin == VOUCHER_PIN  # type: ignore[attr-defined]
    assert VOUCHER_PIN not in repr(decoded)
    assert VOUCHER_PIN.encode() not in host.encode(decoded.context, Outcome(Code.INVALID_PIN))
