"""CR-200 serial readers, sans-I/O: the link layer driven with bytes and explicit time,
the application layer with request DATA and outcomes."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from terminal_gateway.protocols.cr200 import (
    Delivered,
    GaveUp,
    Link,
    LinkError,
    Pending,
    ProfileError,
    ReaderSession,
    Received,
    Refused,
    compile_profile,
    fields_of,
    frame,
    join,
    load_profile,
    lrc,
)
from terminal_gateway.protocols.cr200.link import ACK, ETX, NAK, STX
from terminal_gateway.protocols.events import Answer
from terminal_gateway.vocabulary import (
    ActivateGift,
    BalanceInquiry,
    CardRef,
    Code,
    Limit,
    Malformed,
    Outcome,
    Redeem,
    Reverse,
    TopUp,
)

CARD = "6037990000000012"
NOW = datetime(2026, 11, 25, 10, 0, tzinfo=UTC)


def events(link: Link) -> list:
    found = []
    while (event := link.next_event()) is not None:
        found.append(event)
    return found


# -- link layer ------------------------------------------------------------------------------


def test_frame_and_lrc() -> None:
    data = join(("P", "0001"))
    assert frame(data) == bytes((STX, *data, ETX, lrc(data)))
    expected = ETX
    for byte in data:
        expected ^= byte
    assert lrc(data) == expected


def test_a_good_frame_is_acked_and_delivered() -> None:
    link = Link()
    link.receive(frame(b"P\x1c0001"), 0.0)
    assert link.data_to_send() == bytes((ACK,))
    assert events(link) == [Received(b"P\x1c0001")]


def test_corrupted_lrc_is_naked() -> None:
    link = Link()
    bad = bytearray(frame(b"B\x1c0002\x1c" + CARD.encode()))
    bad[-1] ^= 0x01
    link.receive(bytes(bad), 0.0)
    assert link.data_to_send() == bytes((NAK,))
    (refused,) = events(link)
    assert isinstance(refused, Refused) and "LRC" in refused.reason


def test_bytes_outside_frames_are_ignored_and_frames_survive_noise() -> None:
    link = Link()
    noise = b"\x00\xff garbage \x03\x1c"
    good = frame(b"P\x1c0003")
    # split anywhere: the parser keeps its state between reads
    stream = noise + good + b"\x7f" + good[:3]
    for i in range(0, len(stream), 2):
        link.receive(stream[i:i + 2], 0.0)
    link.receive(good[3:], 0.0)
    assert link.data_to_send() == bytes((ACK, ACK))
    assert events(link) == [Received(b"P\x1c0003"), Received(b"P\x1c0003")]
    assert link.ignored == len(noise) + 1


def test_an_stx_inside_a_frame_starts_it_again() -> None:
    link = Link()
    link.receive(b"\x02S\x1c00" + frame(b"P\x1c0004"), 0.0)
    assert events(link) == [Received(b"P\x1c0004")]


def test_unprintable_data_and_oversized_frames_are_naked() -> None:
    link = Link(max_data=8)
    link.receive(frame(b"P\x01"), 0.0)
    link.receive(bytes((STX, *b"x" * 20, ETX, lrc(b"x" * 20))), 0.0)
    assert link.data_to_send() == bytes((NAK, NAK))
    first, second = events(link)
    assert "0x01" in first.reason and "more than 8" in second.reason


def test_sending_bad_data_is_our_error() -> None:
    with pytest.raises(LinkError):
        Link().send(b"\x02", 0.0)
    with pytest.raises(LinkError):
        Link().send(b"x" * 513, 0.0)


def test_ack_delivers_and_the_next_frame_follows() -> None:
    link = Link()
    link.send(b"p\x1c0001", 0.0)
    link.send(b"p\x1c0002", 0.1)
    assert link.data_to_send() == frame(b"p\x1c0001"), "one frame in flight at a time"
    assert link.deadline == 0.5
    link.receive(bytes((ACK,)), 0.2)
    assert events(link) == [Delivered(b"p\x1c0001")]
    assert link.data_to_send() == frame(b"p\x1c0002")
    assert link.deadline == pytest.approx(0.7)
    link.receive(bytes((ACK,)), 0.3)
    assert link.idle and link.deadline is None


def test_lost_ack_retransmits_up_to_three_sends_then_gives_up() -> None:
    link = Link()
    link.send(b"R\x1c0001", 0.0)
    sent = [link.data_to_send()]
    link.poll(0.4)  # too early: nothing
    assert link.data_to_send() == b""
    for now in (0.5, 1.0):
        link.poll(now)
        sent.append(link.data_to_send())
    assert sent == [frame(b"R\x1c0001")] * 3
    assert link.deadline == 1.5
    link.poll(1.5)
    assert link.data_to_send() == b""
    assert events(link) == [GaveUp(b"R\x1c0001", 3)]
    assert link.idle


def test_nak_retransmits_at_once_and_counts() -> None:
    link = Link()
    link.send(b"R\x1c0001", 0.0)
    link.data_to_send()
    link.receive(bytes((NAK,)), 0.1)
    assert link.data_to_send() == frame(b"R\x1c0001")
    link.receive(bytes((NAK,)), 0.2)
    link.receive(bytes((NAK,)), 0.3)
    assert link.data_to_send() == frame(b"R\x1c0001")
    assert events(link) == [GaveUp(b"R\x1c0001", 3)]


def test_a_stray_ack_is_ignored() -> None:
    link = Link()
    link.receive(bytes((ACK, NAK)), 0.0)
    assert events(link) == [] and link.ignored == 2


# -- profiles --------------------------------------------------------------------------------


def test_bundled_profiles() -> None:
    fw2, fw3 = load_profile("cr200-fw2"), load_profile("cr200-fw3")
    assert (fw2.baudrate, fw3.baudrate) == (9600, 115200)
    assert (fw2.bytesize, fw2.parity, fw2.stopbits, fw2.ack_timeout, fw2.max_sends, fw2.max_data) == (
        8, "N", 1, 0.5, 3, 512)


@pytest.mark.parametrize(("doc", "message"), [
    ({"firmware": "2.x", "baud": 9600}, "baud: unknown key"),
    ({"baudrate": 9600}, "firmware: required"),
    ({"firmware": "2.x", "baudrate": "fast"}, "baudrate: expected a whole number"),
    ({"firmware": "2.x", "max_data": 600}, "max_data: expected from 1 to 512"),
    ({"firmware": "2.x", "parity": "X"}, "parity: expected one of N, E, O"),
])
def test_profile_errors_name_the_key(doc: dict, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        compile_profile("site", doc)


def test_a_club8583_profile_is_not_a_cr200_one() -> None:
    with pytest.raises(ProfileError, match="not a cr200 one"):
        load_profile("club-t2")


# -- application layer ------------------------------------------------------------------------


def session() -> ReaderSession:
    return ReaderSession("R0000001")


def receive(s: ReaderSession, data: bytes, now: datetime = NOW) -> Answer | Pending | None:
    s.clock = lambda: now
    s.receive_data(data)
    return s.next_event()


def decide(s: ReaderSession, *fields: str, now: datetime = NOW) -> Pending:
    action = receive(s, join(fields), now)
    assert isinstance(action, Pending), action
    assert action.request.terminal == "R0000001" and action.request.branch is None
    return action


def test_ping_is_answered_at_once() -> None:
    assert receive(session(), join(("P", "0001"))) == Answer(join(("p", "0001")))


def test_card_presented_shows_group_and_balance() -> None:
    s = session()
    action = decide(s, "C", "0001", CARD)
    assert action.request == BalanceInquiry(terminal="R0000001", key=action.request.key, card=CardRef(pan=CARD))
    data = s.send(action, Outcome(Code.APPROVED, balance=400000, group="silver"))
    assert fields_of(data) == ["D", "0001", "silver", "Balance 400000"]
    assert all(len(line) <= 16 for line in fields_of(data)[2:])


def test_balance_inquiry_and_phone_lookup() -> None:
    s = session()
    action = decide(s, "B", "0002", "T09121234567")
    assert action.request.card == CardRef(phone="09121234567")
    data = s.send(action, Outcome(Code.APPROVED, balance=400000))
    assert fields_of(data) == ["R", "0002", "00", "0", "400000", "Approved", "Balance 400000"]


def test_pay_with_partial_approval() -> None:
    s = session()
    action = decide(s, "S", "0003", CARD, "INV-1", "150000", "900000")
    assert action.request == Redeem(terminal="R0000001", key=action.request.key, card=CardRef(pan=CARD),
                                    amount=150000, invoice="INV-1", invoice_total=900000)
    data = s.send(action, Outcome(Code.PARTIAL, amount=100000, balance=400000,
                                             limit=Limit.INVOICE_CAP))
    assert fields_of(data)[:5] == ["R", "0003", "10", "100000", "400000"]
    assert fields_of(data)[5:] == ["Partial 100000", "Balance 400000"]


def test_top_up_keeps_the_pin_out_of_repr_and_errors() -> None:
    s = session()
    action = decide(s, "V", "0004", CARD, "98765432")
    assert isinstance(action.request, TopUp) and action.request.pin == "98765432"
    assert "98765432" not in repr(action.request)
    bad = receive(s, join(("V", "0005", CARD, "98x65432")), NOW)
    assert isinstance(bad, Pending) and "98x65432" not in repr(bad) and "98x65432" not in bad.request.reason
    data = s.send(action, Outcome(Code.APPROVED, amount=50000, balance=450000))
    assert fields_of(data)[:5] == ["R", "0004", "00", "50000", "450000"]


def test_gift_activation() -> None:
    s = session()
    action = decide(s, "G", "0006", CARD, "250000")
    assert action.request == ActivateGift(terminal="R0000001", key=action.request.key, card=CardRef(pan=CARD),
                                          amount=250000)


def test_cancel_names_one_of_the_last_ten_transactions() -> None:
    s = session()
    sale = decide(s, "S", "0007", CARD, "INV-2", "1000", "0")
    assert sale.request.invoice_total is None, "0: no total given"
    s.send(sale, Outcome(Code.APPROVED, amount=1000, balance=399000))
    cancel = decide(s, "X", "0008", "0007")
    assert cancel.request == Reverse(terminal="R0000001", key=cancel.request.key, original_key=sale.request.key,
                                     card=CardRef(pan=CARD))
    data = s.send(cancel, Outcome(Code.APPROVED, amount=1000))
    assert fields_of(data) == ["R", "0008", "00", "1000", "0", "Approved 1000", "Cancelled"]
    again = decide(s, "X", "0009", "0008")
    assert isinstance(again.request, Reverse) and again.request.original_is_reversal
    unknown = decide(s, "X", "0010", "0042")
    assert isinstance(unknown.request, Malformed) and unknown.request.code == Code.ORIGINAL_NOT_FOUND
    data = s.send(unknown, Outcome(Code.ORIGINAL_NOT_FOUND))
    assert fields_of(data)[:5] == ["R", "0010", "25", "0", "0"]


def test_cancel_of_an_older_transaction_or_another_day() -> None:
    s = session()
    decide(s, "S", "0100", CARD, "INV-0", "1000", "0")
    for n in range(10):
        decide(s, "G", f"{101 + n:04d}", CARD, "1000")
    gone = decide(s, "X", "0200", "0100")
    assert isinstance(gone.request, Malformed) and gone.request.code == Code.ORIGINAL_NOT_FOUND
    tomorrow = decide(s, "X", "0201", "0110", now=NOW + timedelta(days=1))
    assert isinstance(tomorrow.request, Malformed) and tomorrow.request.code == Code.INVALID_TRANSACTION


def test_business_day_comes_from_the_branch() -> None:
    s = ReaderSession("R0000001", day=lambda now: "2026-11-24")
    key = decide(s, "B", "0001", CARD).request.key
    assert key.startswith("R0000001:2026-11-24:0001:")


def test_repeated_sequence_number_gets_the_stored_response_and_is_not_decided_again() -> None:
    s = session()
    action = decide(s, "S", "0011", CARD, "INV-3", "5000", "0")
    assert receive(s, join(("S", "0011", CARD, "INV-3", "5000", "0")), NOW) is None, "still being decided"
    data = s.send(action, Outcome(Code.APPROVED, amount=5000, balance=395000))
    assert receive(s, join(("S", "0011", CARD, "INV-3", "5000", "0")), NOW) == Answer(data)
    assert receive(s, join(("S", "0011", CARD, "INV-3", "5000", "0")), NOW) == Answer(data)
    nxt = decide(s, "S", "0012", CARD, "INV-3", "5000", "0")
    assert nxt.request.key != action.request.key


def test_keys_are_unique_per_reader_and_request_even_when_seq_comes_back() -> None:
    s = session()
    keys = {decide(s, "B", seq, CARD).request.key for seq in ("0001", "0002", "0001", "0002", "0001")}
    assert len(keys) == 5, "the same sequence number later in the day is a new request"
    assert all(key.startswith("R0000001:2026-11-25:") for key in keys)


@pytest.mark.parametrize(("fields", "line1"), [
    (("S", "0020", CARD, "INV", "12a", "0"), "Bad amount"),
    (("S", "0020", CARD, "INV", "100"), "Bad field count"),
    (("Q", "0020"), "Unknown command"),
    (("G", "0020", CARD, "-5"), "Bad amount"),
    (("B", "0020", "60379x"), "Bad card number"),
    (("B", "20", CARD), "Bad sequence no."),
    (("S", "0020", CARD, "INV", "100", "1.5"), "Bad total"),
    (("X", "0020", "7"), "Bad cancel seq."),
    (("S", "0020", CARD, "IN\x7fV", "100", "0"), "Bad invoice"),  # the link lets none in: a second line
])
def test_malformed_requests_are_answered_30_with_two_lines(fields: tuple[str, ...], line1: str) -> None:
    s = session()
    action = receive(s, join(fields))
    assert isinstance(action, Pending) and isinstance(action.request, Malformed)
    assert action.request.code == Code.FORMAT_ERROR and action.request.key is None
    answer = fields_of(s.send(action, Outcome(Code.FORMAT_ERROR)))
    seq = fields[1] if len(fields[1]) == 4 else "0000"
    assert answer[:5] == ["R", seq, "30", "0", "0"] and answer[5] == line1
    assert len(answer) == 7 and all(len(line) <= 16 for line in answer[5:])


def test_a_restarted_gateway_remembers_the_readers_last_requests() -> None:
    before = session()
    sale = decide(before, "S", "0030", CARD, "INV-5", "2000", "0")
    answered = before.send(sale, Outcome(Code.APPROVED, amount=2000, balance=398000))
    inquiry = decide(before, "B", "0031", CARD)
    gift = decide(before, "G", "0032", CARD, "5000")
    decided = [(sale.request.key, "redeem", Outcome(Code.APPROVED, amount=2000)),
               (inquiry.request.key, "balance", Outcome(Code.APPROVED)),
               (gift.request.key, "gift_activation", Outcome(Code.APPROVED, amount=5000)),
               ("R0000002:2026-11-25:0033:9", "redeem", Outcome(Code.APPROVED, amount=1)),  # another reader
               ("R0000001:000042:1125101010", "redeem", Outcome(Code.APPROVED, amount=1))]  # a Club-8583 key
    after = session()
    assert after.restore(reversed(decided)) == 3
    repeat = receive(after, join(("G", "0032", CARD, "5000")), NOW)
    assert repeat == Answer(join(("R", "0032", "00", "5000", "0", "Approved 5000", "Code 00")))
    cancel = decide(after, "X", "0033", "0030")
    assert isinstance(cancel.request, Reverse) and cancel.request.original_key == sale.request.key
    assert fields_of(answered)[:4] == ["R", "0030", "00", "2000"]
    assert int(cancel.request.key.rsplit(":", 1)[1]) > int(gift.request.key.rsplit(":", 1)[1])


def test_profile_errors_are_firmware_profile_errors() -> None:
    from terminal_gateway import firmware

    with pytest.raises(firmware.ProfileError):
        compile_profile("site", {})
