"""The club card read (docs/protocols/counter-stations.md) against an in-process virtual card."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.cmac import CMAC

from terminal_gateway.protocols.clubcard import Counterfeit, Genuine, UidTag, Unreadable, card_key, read_card
from terminal_gateway.protocols.clubcard.apdu import GET_UID, SELECT, Response, internal_authenticate
from terminal_gateway.protocols.clubcard.session import CardRead
from terminal_gateway.simulators.clubcard import VirtualClubCard, VirtualUidTag

MASTER = bytes(range(16))
PAN = "6037990000000001"


def test_card_key_is_aes_cmac_of_the_prefixed_card_number() -> None:
    mac = CMAC(AES(MASTER))
    mac.update(b"CLUBKEY" + PAN.encode())
    assert card_key(MASTER, PAN) == mac.finalize()
    assert card_key(MASTER, PAN) != card_key(MASTER, "6037990000000002")
    assert len(card_key(bytes(32), PAN)) == 16  # AES-256 master keys derive 16-byte card keys too


def test_the_apdus_are_the_specs() -> None:
    assert SELECT.hex().upper() == "00A4040007F0434C5542303100"
    assert internal_authenticate(bytes(16)).hex().upper() == "0088000010" + "00" * 16 + "00"
    with pytest.raises(ValueError):
        internal_authenticate(bytes(8))


def test_a_genuine_card_is_read_with_a_fresh_challenge_each_time() -> None:
    card = VirtualClubCard(PAN, MASTER)
    assert read_card(card.answer, MASTER) == Genuine(PAN)
    assert read_card(card.answer, MASTER) == Genuine(PAN)
    challenges = [c[5:21] for c in card.commands if c[:2] == b"\x00\x88"]
    assert len(challenges) == 2 and challenges[0] != challenges[1]
    assert "0001" in repr(Genuine(PAN)) and PAN not in repr(Genuine(PAN))


def test_a_card_made_with_another_master_key_is_counterfeit() -> None:
    result = read_card(VirtualClubCard(PAN, bytes(16)).answer, MASTER)
    assert isinstance(result, Counterfeit) and result.card_number == PAN
    assert "wrong answer" in result.reason


def test_a_replayed_answer_is_counterfeit() -> None:
    """A copy that recorded a genuine card's answer to one challenge fails the next one."""
    genuine = VirtualClubCard(PAN, MASTER)
    recorded = CardRead(MASTER, challenge=b"A" * 16)
    while (command := recorded.command()) is not None:
        recorded.receive(genuine.answer(command))
    replay = genuine.answer(internal_authenticate(b"A" * 16))

    def copy(command: bytes) -> bytes:
        return replay if command[:2] == b"\x00\x88" else genuine.answer(command)

    assert isinstance(read_card(copy, MASTER), Counterfeit)


def test_a_card_without_the_applet_is_read_as_a_uid_tag() -> None:
    tag = VirtualUidTag(bytes.fromhex("04a1b2c3"))
    assert read_card(tag.answer, MASTER) == UidTag("04A1B2C3")


@pytest.mark.parametrize(("sw", "expected"), [("6D00", "instruction not supported"),
                                              ("6982", "security status not satisfied")])
def test_authentication_refused_is_counterfeit(sw: str, expected: str) -> None:
    card = VirtualClubCard(PAN, MASTER)

    def refusing(command: bytes) -> bytes:
        return bytes.fromhex(sw) if command[:2] == b"\x00\x88" else card.answer(command)

    result = read_card(refusing, MASTER)
    assert isinstance(result, Counterfeit) and expected in result.reason


def test_a_short_mac_is_counterfeit() -> None:
    card = VirtualClubCard(PAN, MASTER)

    def short(command: bytes) -> bytes:
        return card.answer(command)[:8] + b"\x90\x00" if command[:2] == b"\x00\x88" else card.answer(command)

    result = read_card(short, MASTER)
    assert isinstance(result, Counterfeit) and "8 bytes" in result.reason


@pytest.mark.parametrize(("answers", "expected"), [
    ({"select": "6D00"}, "SELECT of the club applet answered 6D00 (instruction not supported)"),
    ({"select": "9000", "number": "6982"}, "GET CARD NUMBER answered 6982"),
    ({"select": "9000", "number": "41424344" + "9000"}, "not 8 to 19 ASCII digits"),
    ({"select": "90"}, "at least the 2 status bytes"),
    ({"select": "6A82", "uid": "6A81"}, "its UID could not be read"),
])
def test_unreadable_cards_say_why(answers: dict[str, str], expected: str) -> None:
    def card(command: bytes) -> bytes:
        if command == SELECT:
            return bytes.fromhex(answers["select"])
        if command == GET_UID:
            return bytes.fromhex(answers["uid"])
        return bytes.fromhex(answers["number"])

    result = read_card(card, MASTER)
    assert isinstance(result, Unreadable) and expected in result.reason


def test_errors_of_the_transport_go_through() -> None:
    def removed(command: bytes) -> bytes:
        raise ConnectionError("card removed")

    with pytest.raises(ConnectionError):
        read_card(removed, MASTER)


def test_a_finished_read_takes_nothing_more() -> None:
    session = CardRead(MASTER)
    session.receive(bytes.fromhex("6D00"))
    assert session.command() is None
    with pytest.raises(RuntimeError):
        session.receive(b"\x90\x00")
    assert Response.parse(b"\x01\x90\x00") == Response(b"\x01", 0x9000)
