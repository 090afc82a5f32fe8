"""The club-t2-mac profile: AES-CMAC in DE64/DE128, checked in the codec, and the key change."""

from __future__ import annotations

import pytest
from cryptography.hazmat.primitives.ciphers.algorithms import AES
from cryptography.hazmat.primitives.cmac import CMAC

from terminal_gateway.protocols.club8583 import (
    HostCodec,
    HostConnection,
    ProfileError,
    Received,
    TerminalCodec,
    compile_profile,
    load_profile,
)
from terminal_gateway.protocols.club8583.keychange import KeyChange
from terminal_gateway.protocols.club8583.mac import check_value, cmac, unwrap_key, wrap_key
from terminal_gateway.protocols.framing import FrameBuffer
from terminal_gateway.vocabulary import Code, Malformed, Outcome, Redeem

from ..support import FIRMWARE_PROFILES
from .messages import BRANCH, CURRENCY, TERMINAL, card_request, invoice, request

PROFILE = load_profile("club-t2-mac", [FIRMWARE_PROFILES])
MASTER = bytes.fromhex("000102030405060708090A0B0C0D0E0F")
SESSION = bytes.fromhex("00112233445566778899AABBCCDDEEFF")
OLD_SESSION = bytes(range(16, 32))
REDEEM = card_request("0200", "00", **{"4": "000000009000", "49": "978", "48": invoice(IN="INV-1")})


class Keys:
    """The gateway's keys of one terminal, as the daemon's keyring would give them."""

    def __init__(self, session: bytes | None = SESSION) -> None:
        self.session = session

    def mac_key(self, terminal: str) -> bytes | None:
        return (self.session or MASTER) if terminal == TERMINAL else None

    def master_key(self, terminal: str) -> bytes | None:
        return MASTER if terminal == TERMINAL else None


def received(fields: dict[str, str], key: bytes | None, keys: Keys | None = None,
             tamper=lambda body: body) -> tuple[HostConnection, Received]:
    connection = HostConnection(HostCodec(PROFILE, CURRENCY), keys or Keys())
    frames = FrameBuffer(PROFILE.header, PROFILE.max_frame)
    connection.receive_data(frames.frame(tamper(TerminalCodec(PROFILE).encode(fields, key))))
    event = connection.next_event()
    assert isinstance(event, Received)
    return connection, event


def answer(connection: HostConnection, event: Received, outcome: Outcome) -> tuple[bytes, dict[str, str]]:
    (body,) = FrameBuffer(PROFILE.header, PROFILE.max_frame).feed(connection.send(event, outcome))
    return body, TerminalCodec(PROFILE).decode(body)


def test_aes_cmac_and_key_wrap_known_vectors() -> None:
    # RFC 4493 example 2 and RFC 3394 section 4.1.
    key = bytes.fromhex("2b7e151628aed2a6abf7158809cf4f3c")
    assert cmac(key, bytes.fromhex("6bc1bee22e409f96e93d7e117393172a")).hex() == "070a16b46b4d4144f79bdd9dd04a287c"
    wrapped = wrap_key(MASTER, SESSION)
    assert wrapped.hex().upper() == "1FA68B0A8112B447AEF34BD8FB5A7B829D3E862371D2CFE5"
    assert unwrap_key(MASTER, wrapped) == SESSION
    assert check_value(key) == cmac(key, bytes(16))[:3].hex().upper()


def test_the_mac_covers_the_body_up_to_itself_in_16_hex_characters() -> None:
    body = TerminalCodec(PROFILE).encode(REDEEM, SESSION)
    signer = CMAC(AES(SESSION))
    signer.update(body[:-16])  # no frame header in a body; club-t2 has no TPDU
    assert body[-16:] == signer.finalize()[:8].hex().upper().encode()
    assert TerminalCodec(PROFILE).decode(body)["64"] == body[-16:].decode()


def test_an_authentic_request_is_decided_and_its_answer_mac_d() -> None:
    connection, event = received(REDEEM, SESSION)
    assert isinstance(event.request, Redeem) and event.request.amount == 9000
    body, fields = answer(connection, event, Outcome(Code.APPROVED, amount=9000, rrn="000000000001"))
    assert fields["39"] == "00" and TerminalCodec(PROFILE).problem(body, fields, SESSION) is None


@pytest.mark.parametrize(("key", "tamper", "reason"), [
    (None, lambda body: body, "MAC missing (DE64)"),
    (OLD_SESSION, lambda body: body, "MAC (DE64) wrong"),
    (SESSION, lambda body: body[:-1] + (b"0" if body[-1:] != b"0" else b"1"), "MAC (DE64) wrong"),
    # The same MAC over another amount: 9000 became 9900.
    (SESSION, lambda body: body.replace(b"000000009000", b"000000009900"), "MAC (DE64) wrong"),
])
def test_a_request_that_is_not_authentic_is_a_security_violation(key, tamper, reason) -> None:
    connection, event = received(REDEEM, key, tamper=tamper)
    assert event.request == Malformed(terminal=TERMINAL, code=Code.SECURITY_VIOLATION, reason=reason)
    assert SESSION.hex() not in repr(event) and SESSION.hex().upper() not in repr(event)
    body, fields = answer(connection, event, Outcome(Code.SECURITY_VIOLATION))
    assert fields["39"] == "63" and TerminalCodec(PROFILE).problem(body, fields, SESSION) is None


def test_a_terminal_without_keys_gets_63_and_an_answer_without_mac() -> None:
    connection, event = received({**REDEEM, "41": "STRANGER"}, SESSION)
    assert event.request == Malformed(terminal="STRANGER", code=Code.SECURITY_VIOLATION,
                                      reason="no key for this terminal")
    _, fields = answer(connection, event, Outcome(Code.SECURITY_VIOLATION))
    assert fields["39"] == "63" and "64" not in fields


def test_a_mac_in_de64_before_secondary_elements_is_refused() -> None:
    fields = {**request("0800", **{"70": "301", "42": BRANCH}), "64": "0" * 16}
    _, event = received(fields, None)
    assert event.request == Malformed(terminal=TERMINAL, code=Code.SECURITY_VIOLATION,
                                      reason="MAC in DE64 of a message with a secondary bitmap")


def test_key_change_wraps_a_new_session_key_and_the_answer_keeps_the_old_mac() -> None:
    keys = Keys(session=None)  # before the first key change the terminal MACs with its master key
    connection, event = received(request("0800", **{"70": "101"}), MASTER, keys)
    assert isinstance(event.request, KeyChange) and len(event.request.session_key) == 16
    assert event.request.session_key.hex() not in repr(event)
    keys.session = event.request.session_key  # what the gateway installs, durably, before answering
    body, fields = answer(connection, event, Outcome(Code.APPROVED))
    assert fields["39"] == "00" and "128" in fields and "64" not in fields  # DE70: secondary bitmap
    assert TerminalCodec(PROFILE).problem(body, fields, MASTER) is None
    tags = dict((fields["48"][i:i + 2], fields["48"][i + 5:i + 5 + int(fields["48"][i + 2:i + 5])])
                for i in (0, 5 + int(fields["48"][2:5])))
    new = unwrap_key(MASTER, bytes.fromhex(tags["SK"]))
    assert new == event.request.session_key and tags["KC"] == check_value(new)
    # From the next request on, the new key and only it.
    assert isinstance(received(REDEEM, new, keys)[1].request, Redeem)
    assert received(REDEEM, MASTER, keys)[1].request.code is Code.SECURITY_VIOLATION


def test_a_key_change_mac_d_with_the_master_key_is_the_way_back_to_a_session() -> None:
    # The terminal lost the answer to a key change: only the gateway has the new key.
    connection, event = received(request("0800", **{"70": "101"}), MASTER)
    assert isinstance(event.request, KeyChange)
    body, fields = answer(connection, event, Outcome(Code.APPROVED))
    assert TerminalCodec(PROFILE).problem(body, fields, MASTER) is None
    # Anything else MAC'd with the master key once a session key exists is refused.
    assert received(REDEEM, MASTER)[1].request.code is Code.SECURITY_VIOLATION
    assert received(request("0800", **{"70": "101"}), OLD_SESSION)[1].request.code is Code.SECURITY_VIOLATION


def test_a_failed_key_change_carries_no_key() -> None:
    connection, event = received(request("0800", **{"70": "101"}), SESSION)
    _, fields = answer(connection, event, Outcome(Code.MALFUNCTION))
    assert fields["39"] == "96" and "48" not in fields


def test_key_change_without_a_mac_profile_is_still_12() -> None:
    decoded = HostCodec(load_profile("club-t2"), CURRENCY).decode(
        TerminalCodec(load_profile("club-t2")).encode(request("0800", **{"70": "101"})))
    assert decoded.error is Code.INVALID_TRANSACTION


def test_a_mac_profile_needs_keys_and_a_known_mac() -> None:
    with pytest.raises(ValueError, match="needs the terminals' keys"):
        HostConnection(HostCodec(PROFILE, CURRENCY))
    doc = {"frame_header": "binary2", "tpdu": False, "max_frame": 4096, "signon_required": True,
           "partial_approval": True, "mac": "hmac",
           "encoding": {"mti": "ascii", "bitmap": "hex", "numeric": "ascii", "lengths": "ascii", "binary": "hex"}}
    with pytest.raises(ProfileError, match="mac must be one of"):
        compile_profile("club-x", doc)
