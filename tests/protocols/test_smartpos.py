"""The SmartPOS codec, sans-I/O: bytes in, vocabulary requests out, outcomes back to bytes."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from terminal_gateway.protocols.smartpos import (
    MAX_MESSAGE,
    HostConnection,
    ProfileError,
    Received,
    RemoteProtocolError,
    TerminalConnection,
    VarintFramer,
    load_profile,
)
from terminal_gateway.protocols.smartpos import smartpos_pb2 as pb
from terminal_gateway.vocabulary import (
    AccrualReturn,
    Accrue,
    ActivateGift,
    BalanceInquiry,
    CardRef,
    Code,
    Complete,
    Echo,
    Limit,
    Malformed,
    Outcome,
    Redeem,
    Refund,
    Reverse,
    ServiceLine,
    TopUp,
)

PAN = "6274120000000017"
PIN = "8415926535"
CARD = pb.Card(pan=PAN)
COMMON = {"terminal": "S0000001", "repeat": True}


def wire(message: pb.Request) -> bytes:
    return TerminalConnection().send(message)


def decode(**body: object) -> Received:
    [received] = requests_in(HostConnection(), wire(pb.Request(request_id=7, terminal_id="S0000001", **body)))
    return received


CASES = [
    ({"ping": pb.Ping()}, Echo(**COMMON, key="S0000001:7")),
    ({"balance": pb.Balance(card=CARD)}, BalanceInquiry(**COMMON, key="S0000001:7", card=CardRef(pan=PAN))),
    ({"balance": pb.Balance(card=pb.Card(phone="+989121234567"))},
     BalanceInquiry(**COMMON, key="S0000001:7", card=CardRef(phone="+989121234567"))),
    ({"redeem": pb.Redeem(card=CARD, amount=150_000, invoice="INV-1", invoice_total=900_000,
                          lines=[pb.Line(service_code="IMPLANT", amount=600_000)])},
     Redeem(**COMMON, key="S0000001:7", card=CardRef(pan=PAN), amount=150_000, invoice="INV-1",
            invoice_total=900_000, lines=(ServiceLine("IMPLANT", 600_000),))),
    ({"redeem": pb.Redeem(card=CARD, amount=30_000, invoice="INV-2", hold_only=True)},
     Redeem(**COMMON, key="S0000001:7", card=CardRef(pan=PAN), amount=30_000, invoice="INV-2", hold=True)),
    ({"complete": pb.Complete(rrn="000000000042", amount=20_000)},
     Complete(**COMMON, key="S0000001:7", card=None, rrn="000000000042", amount=20_000)),
    ({"accrue": pb.Accrue(card=CARD, paid=400_000, invoice="INV-3", invoice_total=500_000)},
     Accrue(**COMMON, key="S0000001:7", card=CardRef(pan=PAN), amount=400_000, invoice="INV-3")),
    ({"accrual_return": pb.AccrualReturn(card=CARD, refunded=100_000, invoice="INV-3")},
     AccrualReturn(**COMMON, key="S0000001:7", card=CardRef(pan=PAN), amount=100_000, invoice="INV-3")),
    ({"refund": pb.Refund(card=CARD, rrn="000000000041", amount=10_000)},
     Refund(**COMMON, key="S0000001:7", card=CardRef(pan=PAN), rrn="000000000041", amount=10_000)),
    ({"voucher_top_up": pb.VoucherTopUp(card=CARD, pin=PIN)},
     TopUp(**COMMON, key="S0000001:7", card=CardRef(pan=PAN), pin=PIN)),
    ({"activate_gift_card": pb.ActivateGiftCard(card=CARD, amount=1_000_000)},
     ActivateGift(**COMMON, key="S0000001:7", card=CardRef(pan=PAN), amount=1_000_000)),
    ({"reverse": pb.Reverse(original_request_id=6)},
     Reverse(**COMMON, key="S0000001:7", original_key="S0000001:6")),
]


@pytest.mark.parametrize(("body", "expected"), CASES, ids=[next(iter(body)) for body, _ in CASES])
def test_every_message_maps_onto_the_vocabulary(body: dict, expected: object) -> None:
    received = decode(**body)
    assert received.request_id == 7
    assert received.request == expected
    assert received.request.branch is None, "the terminal's registration binds the branch"


@pytest.mark.parametrize(("body", "field"), [
    ({}, "body: missing"),
    ({"balance": pb.Balance()}, "balance.card: missing"),
    ({"balance": pb.Balance(card=pb.Card())}, "balance.card: neither pan nor phone"),
    ({"balance": pb.Balance(card=pb.Card(pan="62741200000000A7"))}, "balance.card.pan: expected up to 19 digits"),
    ({"redeem": pb.Redeem(card=CARD, invoice="INV-1")}, "redeem.amount: missing"),
    ({"redeem": pb.Redeem(card=CARD, amount=-5, invoice="INV-1")}, "redeem.amount: negative"),
    ({"redeem": pb.Redeem(card=CARD, amount=5)}, "redeem.invoice: missing"),
    ({"redeem": pb.Redeem(card=CARD, amount=5, invoice="X" * 33)}, "redeem.invoice: longer than 32"),
    ({"redeem": pb.Redeem(card=CARD, amount=5, invoice="I", invoice_total=-1)}, "redeem.invoice_total: negative"),
    ({"redeem": pb.Redeem(card=CARD, amount=5, invoice="I", lines=[pb.Line(amount=5)])},
     "redeem.lines[0].service_code: missing"),
    ({"redeem": pb.Redeem(card=CARD, amount=5, invoice="INV\x00")}, "redeem.invoice: not printable"),
    ({"refund": pb.Refund(card=CARD, amount=5, rrn="00000000\n001")}, "refund.rrn: not printable"),
    ({"refund": pb.Refund(card=CARD, amount=5, rrn="0" * 13)}, "refund.rrn: longer than 12"),
    ({"redeem": pb.Redeem(card=CARD, amount=5, invoice="I", lines=[pb.Line(service_code="S" * 33, amount=5)])},
     "redeem.lines[0].service_code: missing, not printable or longer than 32"),
    ({"redeem": pb.Redeem(card=CARD, amount=5, invoice="I", lines=[pb.Line(service_code="S\x1b", amount=5)])},
     "redeem.lines[0].service_code: missing, not printable"),
    ({"balance": pb.Balance(card=pb.Card(phone="0912\x00"))}, "balance.card.phone: expected up to 20 printable"),
    ({"complete": pb.Complete(amount=5)}, "complete.rrn: missing"),
    ({"accrue": pb.Accrue(card=CARD, invoice="I")}, "accrue.paid: missing"),
    ({"accrual_return": pb.AccrualReturn(card=CARD, refunded=-1, invoice="I")}, "accrual_return.refunded: negative"),
    ({"refund": pb.Refund(card=CARD, amount=5)}, "refund.rrn: missing"),
    ({"voucher_top_up": pb.VoucherTopUp(card=CARD)}, "voucher_top_up.pin: missing"),
    ({"activate_gift_card": pb.ActivateGiftCard(card=CARD)}, "activate_gift_card.amount: missing"),
    ({"reverse": pb.Reverse()}, "reverse.original_request_id: missing"),
])
def test_a_request_that_cannot_be_decided_is_answered_30_naming_the_field(body: dict, field: str) -> None:
    received = decode(**body)
    assert isinstance(received.request, Malformed)
    assert received.request.code is Code.FORMAT_ERROR and received.request.terminal == "S0000001"
    assert received.request.reason.startswith(field)
    assert PAN not in received.request.reason


def test_terminal_and_request_id_are_required() -> None:
    host = HostConnection()
    [no_terminal, no_id] = requests_in(host, wire(pb.Request(request_id=1, ping=pb.Ping()))
                                             + wire(pb.Request(terminal_id="S1", balance=pb.Balance(card=CARD))))
    assert no_terminal.request == Malformed(terminal="", code=Code.FORMAT_ERROR, reason="terminal_id: missing")
    assert no_id.request == Malformed(terminal="S1", code=Code.FORMAT_ERROR, reason="request_id: missing")
    for bad in ("S\x001", "S" * 17):  # not journalled as the terminal: a NUL cannot be stored
        [received] = requests_in(host, wire(pb.Request(request_id=1, terminal_id=bad, ping=pb.Ping())))
        assert received.request == Malformed(terminal="", code=Code.FORMAT_ERROR,
                                             reason="terminal_id: expected up to 16 printable characters")


def test_a_pin_is_never_in_a_repr_or_a_reason() -> None:
    received = decode(voucher_top_up=pb.VoucherTopUp(card=CARD, pin=PIN))
    assert PIN not in repr(received) and PAN not in repr(received)
    bad = decode(voucher_top_up=pb.VoucherTopUp(card=CARD, pin="12AB" + PIN))
    assert isinstance(bad.request, Malformed) and bad.request.reason == "voucher_top_up.pin: expected digits"
    assert PIN not in repr(bad)
    with pytest.raises(RemoteProtocolError) as failure:  # a PIN in a message that does not parse
        body = pb.Request(request_id=1, terminal_id="S1", voucher_top_up=pb.VoucherTopUp(card=CARD, pin=PIN))
        requests_in(HostConnection(), VarintFramer().frame(body.SerializeToString()[:-3]))
    assert PIN not in str(failure.value)


def requests_in(host: HostConnection, data: bytes) -> list[Received]:
    """Every request ``data`` completes, as the driver takes them."""
    host.receive_data(data)
    return list(iter(host.next_event, None))


def responses(data: bytes) -> list[pb.Response]:
    return TerminalConnection().receive_data(data)


def test_an_outcome_becomes_a_response() -> None:
    host = HostConnection()
    [received] = requests_in(host, wire(pb.Request(request_id=9, terminal_id="S1", redeem=pb.Redeem(
        card=CARD, amount=150_000, invoice="INV-1", invoice_total=900_000))))
    outcome = Outcome(Code.PARTIAL, amount=100_000, balance=400_000, daily_remaining=100_000, invoice_remaining=0,
                      limit=Limit.INVOICE_CAP, rrn="000000000001", auth_code="123456", points=12, group="silver",
                      message="partly approved")
    [response] = responses(host.send(received, outcome))
    assert response == pb.Response(request_id=9, code="10", approved=100_000, balance=400_000,
                                   daily_remaining=100_000, invoice_remaining=0, limit="INVOICE_CAP",
                                   rrn="000000000001", auth_code="123456", points=12, group="silver",
                                   message="partly approved")


def test_a_gift_card_expiry_is_a_date_and_an_accrual_answers_what_it_earned() -> None:
    host = HostConnection()
    gift, accrual = requests_in(host, 
        wire(pb.Request(request_id=1, terminal_id="S1", activate_gift_card=pb.ActivateGiftCard(card=CARD, amount=5)))
        + wire(pb.Request(request_id=2, terminal_id="S1", accrue=pb.Accrue(card=CARD, paid=400_000, invoice="I"))))
    [activated] = responses(host.send(gift, Outcome(Code.APPROVED, amount=5, expires_on=date(2027, 11, 25))))
    assert (activated.approved, activated.expires) == (5, "2027-11-25")
    [earned] = responses(host.send(accrual, Outcome(Code.APPROVED, amount=400_000, earned=20_000, points_earned=14)))
    assert earned.approved == 20_000


def test_framing_split_byte_by_byte_and_several_in_one_read() -> None:
    messages = [pb.Request(request_id=n, terminal_id="S1", redeem=pb.Redeem(
        card=CARD, amount=n, invoice="I" * 30, lines=[pb.Line(service_code="X", amount=1)] * 20)) for n in (1, 2, 3)]
    data = b"".join(wire(m) for m in messages)
    assert len(wire(messages[0])) > 128, "the length takes a two-byte varint"
    host = HostConnection()
    got = [r for byte in range(len(data)) for r in requests_in(host, data[byte:byte + 1])]
    assert [r.request_id for r in got] == [1, 2, 3]
    assert [r.request_id for r in requests_in(HostConnection(), data)] == [1, 2, 3]


def test_an_empty_message_is_a_request_without_anything() -> None:
    [received] = requests_in(HostConnection(), b"\x00")
    assert received.request == Malformed(terminal="", code=Code.FORMAT_ERROR, reason="terminal_id: missing")


def test_oversize_closes_the_connection_before_its_body_arrives() -> None:
    framer = VarintFramer()
    assert framer.feed(b"\x80\x80\x04") == [], "exactly 64 KiB announced is allowed"
    with pytest.raises(RemoteProtocolError, match="65537 bytes exceeds the limit of 65536"):
        requests_in(HostConnection(), b"\x81\x80\x04")
    with pytest.raises(RemoteProtocolError, match="exceeds"):
        requests_in(HostConnection(100), b"\x65")
    with pytest.raises(RemoteProtocolError, match="varint"):
        requests_in(HostConnection(), b"\x80" * 10)
    with pytest.raises(ValueError):
        VarintFramer(MAX_MESSAGE + 1)


@pytest.mark.parametrize("garbage", [b"\x03\xff\xff\xff", b"\x02\x0a\x05", b"\x04\x12\x02\xc3\x28"])
def test_garbage_closes_the_connection(garbage: bytes) -> None:
    with pytest.raises(RemoteProtocolError, match="not a Request"):
        requests_in(HostConnection(), garbage)


def test_the_bundled_profile_and_bad_ones(tmp_path: Path) -> None:
    profile = load_profile("smartpos-app")
    assert (profile.max_message, profile.partial_approval, profile.signon_required) == (
        MAX_MESSAGE, True, False)
    for text, problem in [
        ("max_message = 1024\npartial_approval = true\nsignon_required = false\nmax_mesage = 1", "unknown key"),
        ("max_message = 70000\npartial_approval = true\nsignon_required = false", "max_message"),
        ("max_message = 1024\npartial_approval = true\nsignon_required = true", "signon_required"),
        ("max_message = 1024\npartial_approval = 1\nsignon_required = false", "must be a bool"),
        ("max_message = 1024\nsignon_required = false", "missing"),
    ]:
        (tmp_path / "bad.toml").write_text('family = "smartpos"\n' + text)
        with pytest.raises(ProfileError, match=problem):
            load_profile("bad", [tmp_path])
    with pytest.raises(ProfileError, match="a club8583 profile"):
        load_profile("club-t1")
