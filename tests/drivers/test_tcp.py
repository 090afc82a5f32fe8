"""The TCP driver on a StringTransport, with a fake gateway: bytes through each family's
codec, answers written when decided in whatever order, failures answered 96 and logged."""

from __future__ import annotations

from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, capturedLogs

from terminal_gateway.config import Listener
from terminal_gateway.drivers.tcp import LinkFactory, TerminalLink, club8583_listener, smartpos_listener
from terminal_gateway.protocols import club8583, smartpos
from terminal_gateway.protocols.framing import FrameBuffer
from terminal_gateway.protocols.smartpos import TerminalConnection
from terminal_gateway.protocols.smartpos import smartpos_pb2 as pb
from terminal_gateway.vocabulary import BalanceInquiry, Code, Echo, Malformed, Outcome

from ..protocols.messages import REDEEM_FIELDS, card_request
from ..support import make_config
from .fakes import FakeGateway

CARD = "6037990000000001"
BALANCE = pb.Balance(card=pb.Card(pan=CARD))


def connect(factory: LinkFactory) -> tuple[TerminalLink, StringTransport]:
    link = factory.buildProtocol(None)
    transport = StringTransport()
    link.makeConnection(transport)
    return link, transport


def smartpos_link(gateway: FakeGateway) -> tuple[LinkFactory, TerminalLink, StringTransport]:
    listener = smartpos_listener(Listener("smartpos", "smartpos-app"), smartpos.load_profile("smartpos-app"),
                                 make_config(), gateway, None)
    return listener.factory, *connect(listener.factory)


def club8583_link(gateway: FakeGateway) -> tuple[club8583.Profile, TerminalLink, StringTransport]:
    profile = club8583.load_profile("club-t2")
    listener = club8583_listener(Listener("club8583", "club-t2"), profile, make_config(), gateway, None)
    return profile, *connect(listener.factory)


def test_answers_go_out_in_the_order_decisions_become_durable() -> None:
    gateway = FakeGateway()
    factory, link, transport = smartpos_link(gateway)
    assert factory.connections == {link}
    terminal = TerminalConnection()
    link.dataReceived(terminal.send(pb.Request(request_id=1, terminal_id="S1", ping=pb.Ping()))
                      + terminal.send(pb.Request(request_id=2, terminal_id="S1", balance=BALANCE)))
    (first, family, first_answer), (second, _, second_answer) = gateway.pending
    assert isinstance(first, Echo) and isinstance(second, BalanceInquiry)
    assert family.name == "smartpos-app" and not family.signon_required
    second_answer.callback(Outcome(Code.APPROVED, balance=7))
    first_answer.callback(Outcome(Code.APPROVED))
    assert [(r.request_id, r.balance) for r in terminal.receive_data(transport.value())] == [(2, 7), (1, 0)]
    link.dataReceived(b"\x03\xff\xff\xff")
    assert transport.disconnecting
    link.connectionLost()
    assert factory.connections == set()


def test_a_club8583_frame_is_decided_and_a_bad_one_answered_with_its_code() -> None:
    gateway = FakeGateway()
    profile, link, transport = club8583_link(gateway)
    terminal, frames = club8583.TerminalCodec(profile), FrameBuffer(profile.header, profile.max_frame)
    echo = {"t": "0800", "7": "1201101010", "11": "000001", "41": "TERM0001", "70": "301"}
    bad = {"t": "0100", "7": "1201101010", "11": "000002", "41": "TERM0001", "2": CARD}  # no DE3, DE4
    link.dataReceived(frames.frame(terminal.encode(echo)) + frames.frame(terminal.encode(bad)))
    (request, family, answer), (malformed, _, refused) = gateway.pending
    assert isinstance(request, Echo) and family.signon_required == profile.signon_required
    assert isinstance(malformed, Malformed) and malformed.terminal == "TERM0001"
    refused.callback(Outcome(malformed.code, message=malformed.reason))
    answer.callback(Outcome(Code.APPROVED))
    responses = [terminal.decode(body) for body in frames.feed(transport.value())]
    assert [(r["11"], r["39"]) for r in responses] == [("000002", malformed.code.value), ("000001", "00")]


def test_an_undecodable_frame_is_logged_and_the_connection_stays() -> None:
    gateway = FakeGateway()
    profile, link, transport = club8583_link(gateway)
    frames = FrameBuffer(profile.header, profile.max_frame)
    with capturedLogs() as events:
        link.dataReceived(frames.frame(b"\x00\x01garbage"))
    assert gateway.pending == [] and not transport.disconnecting
    assert any("undecodable frame" in str(event.get("reason")) for event in events)


def test_a_gateway_failure_is_logged_and_answered_96() -> None:
    gateway = FakeGateway()
    _, link, transport = smartpos_link(gateway)
    terminal = TerminalConnection()
    link.dataReceived(terminal.send(pb.Request(request_id=5, terminal_id="S1", balance=BALANCE)))
    [(_, _, answer)] = gateway.pending
    with capturedLogs() as events:
        answer.errback(RuntimeError("a bug in the dispatcher"))
    [response] = terminal.receive_data(transport.value())
    assert (response.request_id, response.code) == (5, Code.MALFUNCTION.value)
    assert any(event["log_level"] is LogLevel.critical and "answering 96" in event["log_format"] for event in events)


def test_an_answer_that_cannot_be_encoded_is_logged_and_answered_96() -> None:
    gateway = FakeGateway()
    profile, link, transport = club8583_link(gateway)
    terminal, frames = club8583.TerminalCodec(profile), FrameBuffer(profile.header, profile.max_frame)
    link.dataReceived(frames.frame(terminal.encode(card_request("0200", "00", **REDEEM_FIELDS))))
    [(_, _, answer)] = gateway.pending
    with capturedLogs() as events:
        answer.callback(Outcome(Code.APPROVED, amount=10**13))  # DE4 has 12 digits: a bug upstream
    [response] = [terminal.decode(body) for body in frames.feed(transport.value())]
    assert response["39"] == Code.MALFUNCTION.value
    assert any(event["log_level"] is LogLevel.critical and "answering 96" in event["log_format"] for event in events)
