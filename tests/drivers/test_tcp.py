"""The TCP driver on a StringTransport, with a fake gateway: bytes through each family's
codec, answers written when decided in whatever order, failures answered 96 and logged."""

from __future__ import annotations

from typing import Any

from twisted.internet.address import IPv4Address
from twisted.internet.task import Clock
from twisted.internet.testing import StringTransport
from twisted.logger import LogLevel, capturedLogs

from terminal_gateway.config import LinkLimits, Listener
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


def connect(factory: LinkFactory, host: str = "10.0.0.1") -> tuple[TerminalLink, StringTransport]:
    address = IPv4Address("TCP", host, 40000)
    link = factory.buildProtocol(address)
    transport = StringTransport(peerAddress=address)
    link.makeConnection(transport)
    return link, transport


def smartpos_link(gateway: FakeGateway, clock: Clock | None = None, limits: LinkLimits | None = None,
                  **config: Any) -> tuple[LinkFactory, TerminalLink, StringTransport]:
    listener = smartpos_listener(Listener("smartpos", "smartpos-app", limits=limits or LinkLimits()),
                                 smartpos.load_profile("smartpos-app"), make_config(**config), gateway,
                                 clock or Clock())
    return listener.links, *connect(listener.links)


def club8583_link(gateway: FakeGateway) -> tuple[club8583.Profile, TerminalLink, StringTransport]:
    profile = club8583.load_profile("club-t2")
    listener = club8583_listener(Listener("club8583", "club-t2"), profile, make_config(), gateway, Clock())
    return profile, *connect(listener.links)


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


def ping(terminal: TerminalConnection, tid: str, request_id: int = 1) -> bytes:
    return terminal.send(pb.Request(request_id=request_id, terminal_id=tid, ping=pb.Ping()))


def test_a_connection_speaks_only_for_the_terminal_it_first_named() -> None:
    gateway = FakeGateway()
    _, link, transport = smartpos_link(gateway)
    terminal = TerminalConnection()
    link.dataReceived(ping(terminal, "S1", 1) + ping(terminal, "S2", 2) + ping(terminal, "S1", 3))
    (first, _, _), (spoofed, _, refused), (third, _, _) = gateway.pending
    assert isinstance(first, Echo) and isinstance(third, Echo)
    assert isinstance(spoofed, Malformed) and spoofed.code is Code.SECURITY_VIOLATION
    assert spoofed.terminal == "S1", "journalled against the terminal the connection belongs to"
    assert "speaks for terminal S1, not 'S2'" in spoofed.reason and "10.0.0.1" in spoofed.reason
    refused.callback(Outcome(Code.SECURITY_VIOLATION, message=spoofed.reason))
    [response] = terminal.receive_data(transport.value())
    assert (response.request_id, response.code) == (2, "63")


def test_a_concentrator_speaks_for_the_terminals_it_names_and_no_other() -> None:
    gateway = FakeGateway()
    _, link, _ = smartpos_link(gateway, concentrators={"10.0.0.1": frozenset({"S1", "S2"})})
    terminal = TerminalConnection()
    link.dataReceived(ping(terminal, "S1", 1) + ping(terminal, "S2", 2) + ping(terminal, "S3", 3))
    requests = [request for request, _, _ in gateway.pending]
    assert [type(r).__name__ for r in requests] == ["Echo", "Echo", "Malformed"]
    assert "not one this concentrator speaks for" in requests[2].reason


def test_a_flood_of_junk_reaches_the_gateway_a_few_times_then_the_link_closes() -> None:
    gateway = FakeGateway()
    _, link, transport = smartpos_link(gateway, limits=LinkLimits(max_bad_frames=5))
    link.dataReceived(bytes(100 * 1024))  # 102,400 empty messages, each one malformed
    assert len(gateway.pending) == 5 and transport.disconnecting
    assert all(isinstance(request, Malformed) for request, _, _ in gateway.pending)


def test_requests_refused_by_the_gateway_count_too() -> None:
    gateway = FakeGateway()
    _, link, transport = smartpos_link(gateway, limits=LinkLimits(max_bad_frames=3))
    terminal = TerminalConnection()
    link.dataReceived(b"".join(ping(terminal, "NOBODY", n) for n in range(1, 5)))
    for _, _, answer in gateway.pending[:2]:
        answer.callback(Outcome(Code.NOT_PERMITTED_TERMINAL))
    assert not transport.disconnecting
    gateway.pending[2][2].callback(Outcome(Code.NOT_PERMITTED_TERMINAL))
    assert transport.disconnecting


def test_an_idle_connection_and_a_slow_frame_are_closed() -> None:
    clock = Clock()
    _, idle, idle_transport = smartpos_link(FakeGateway(), clock, LinkLimits(idle_seconds=60, frame_seconds=5))
    clock.advance(59)
    assert not idle_transport.disconnecting
    idle.dataReceived(ping(TerminalConnection(), "S1"))  # any byte starts the minute again
    clock.advance(59)
    assert not idle_transport.disconnecting
    clock.advance(2)
    assert idle_transport.disconnecting

    clock = Clock()
    gateway = FakeGateway()
    _, slow, slow_transport = smartpos_link(gateway, clock, LinkLimits(idle_seconds=60, frame_seconds=5))
    frame = ping(TerminalConnection(), "S1")
    slow.dataReceived(frame[:2])
    clock.advance(4)
    slow.dataReceived(frame[2:])  # the rest in time: decided, the timer gone
    clock.advance(4)
    assert gateway.pending and not slow_transport.disconnecting
    slow.dataReceived(frame[:1])
    clock.advance(5)
    assert slow_transport.disconnecting


def test_an_address_gets_a_bounded_number_of_connections() -> None:
    listener = smartpos_listener(Listener("smartpos", "smartpos-app", limits=LinkLimits(max_connections_per_address=2)),
                                 smartpos.load_profile("smartpos-app"), make_config(), FakeGateway(), Clock())
    factory = listener.links
    first, _ = connect(factory)
    connect(factory)
    assert factory.buildProtocol(IPv4Address("TCP", "10.0.0.1", 1)) is None
    assert factory.buildProtocol(IPv4Address("TCP", "10.0.0.2", 1)) is not None, "another address is not held up"
    first.connectionLost()
    assert factory.buildProtocol(IPv4Address("TCP", "10.0.0.1", 1)) is not None


def test_a_terminal_speaking_from_where_its_branch_does_not_allow_is_refused_63() -> None:
    gateway = FakeGateway()
    gateway.misplaced["S2"] = "terminal S2 of branch B may not speak from 10.0.0.1"
    _, link, _ = smartpos_link(gateway)
    link.dataReceived(ping(TerminalConnection(), "S2"))
    [(request, _, _)] = gateway.pending
    assert isinstance(request, Malformed) and request.code is Code.SECURITY_VIOLATION
    assert "may not speak from 10.0.0.1" in request.reason
