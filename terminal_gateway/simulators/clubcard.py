"""A virtual club smart card (and a UID tag) for tests and the demo.

``VirtualClubCard`` and ``VirtualUidTag`` answer command APDUs as the real ones do
(docs/protocols/counter-stations.md), in process. ``VpcdCard`` puts one of them into a reader that pcscd
sees, through vsmartcard's vpcd driver (Debian package ``vsmartcard-vpcd``): the card side
connects to vpcd on 127.0.0.1:35963 and speaks its socket protocol, every message a 2-byte
big-endian length and the payload; a 1-byte payload is a control message (0x00 power off,
0x01 power on, 0x02 reset, 0x04 get ATR), anything else an APDU to answer. Closing the
connection removes the card from the reader.

    python -m terminal_gateway.simulators.clubcard --key master.key 6037990000000001
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import struct
import threading
from typing import Protocol

from terminal_gateway.protocols.clubcard import apdu
from terminal_gateway.protocols.clubcard.keys import card_key, card_mac

VPCD_PORT = 35963
# ATR of a T=1 card without historical bytes (TS 3B, T0 80, TD1 80, TD2 01, TCK 01).
ATR = bytes.fromhex("3B80800101")
OK = b"\x90\x00"
NOT_FOUND = bytes.fromhex("6A82")
INS_NOT_SUPPORTED = bytes.fromhex("6D00")
SECURITY_NOT_SATISFIED = bytes.fromhex("6982")
WRONG_LENGTH = bytes.fromhex("6700")


class Card(Protocol):
    def answer(self, command: bytes) -> bytes: ...


class VirtualClubCard:
    """The club applet on a card numbered ``card_number`` whose key derives from
    ``master_key`` (a counterfeit: any other key)."""

    def __init__(self, card_number: str, master_key: bytes, uid: bytes = bytes.fromhex("04A1B2C3D4E5F6")):
        self.card_number, self.uid = card_number, uid
        self._key = card_key(master_key, card_number)
        self.selected = False
        self.commands: list[bytes] = []

    def answer(self, command: bytes) -> bytes:
        self.commands.append(command)
        if command == apdu.SELECT:
            self.selected = True
            return OK
        if command[:4] == bytes.fromhex("00A40400"):
            self.selected = False
            return NOT_FOUND
        if command == apdu.GET_UID:
            return self.uid + OK
        if not self.selected:
            return SECURITY_NOT_SATISFIED
        if command == apdu.GET_CARD_NUMBER:
            return self.card_number.encode("ascii") + OK
        if command[:4] == bytes.fromhex("00880000"):
            if len(command) != 4 + 1 + apdu.CHALLENGE_SIZE + 1 or command[4] != apdu.CHALLENGE_SIZE:
                return WRONG_LENGTH
            return card_mac(self._key, command[5:5 + apdu.CHALLENGE_SIZE]) + OK
        return INS_NOT_SUPPORTED


class VirtualUidTag:
    """An NFC sticker: no applet, only its UID (which a PC/SC reader gives for FF CA 00 00)."""

    def __init__(self, uid: bytes):
        self.uid = uid

    def answer(self, command: bytes) -> bytes:
        if command == apdu.GET_UID:
            return self.uid + OK
        if command[:4] == bytes.fromhex("00A40400"):
            return NOT_FOUND
        return INS_NOT_SUPPORTED


class VpcdCard:
    """``card`` inserted into vpcd's reader until ``remove()``; answers in a thread of its own."""

    def __init__(self, card: Card, host: str = "127.0.0.1", port: int = VPCD_PORT, timeout: float = 10):
        self.card = card
        self._sock = socket.create_connection((host, port), timeout=timeout)
        self._sock.settimeout(None)
        self._thread = threading.Thread(target=self._serve, name="vpcd-card", daemon=True)
        self._thread.start()

    def _receive(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self._sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("vpcd closed the connection")
            data += chunk
        return data

    def _send(self, payload: bytes) -> None:
        self._sock.sendall(struct.pack(">H", len(payload)) + payload)

    def _serve(self) -> None:
        try:
            while True:
                (size,) = struct.unpack(">H", self._receive(2))
                message = self._receive(size)
                if len(message) == 1:
                    if message[0] == 0x04:
                        self._send(ATR)
                    elif message[0] in (0x00, 0x02) and isinstance(self.card, VirtualClubCard):
                        self.card.selected = False  # power off or reset: the applet is deselected
                else:
                    self._send(self.card.answer(message))
        except OSError:  # vpcd went away, or the card's ``answer`` pulled the card out (raised)
            with contextlib.suppress(OSError):
                self._sock.close()

    def remove(self) -> None:
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(5)

    def __enter__(self) -> VpcdCard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


VPCD_READER = "Virtual PCD 00 00"  # vpcd's first slot, the one a card on VPCD_PORT is in


def vpcd_problem() -> str | None:
    """Why a virtual card cannot be put into vpcd's reader through pcscd here, if it cannot."""
    try:
        from smartcard.System import readers
    except ImportError as error:
        return f"pyscard is not installed ({error}): pip install -e '.[pcsc]'"
    try:
        found = [str(r) for r in readers()]
    except Exception as error:  # pyscard raises its own types when pcscd is not running
        return f"pcscd cannot be reached ({type(error).__name__}: {error}); scripts/bootstrap starts it"
    if VPCD_READER not in found:
        return f"no vpcd reader {VPCD_READER!r} in pcscd (readers: {found}); apt-get install vsmartcard-vpcd"
    return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Insert a virtual club card into vpcd's reader until Ctrl-C.")
    parser.add_argument("card", help="the card number, or a UID in hex with --uid-tag")
    parser.add_argument("--key", help="the issuer master key file (hex or raw, 16 or 32 bytes)")
    parser.add_argument("--uid-tag", action="store_true", help="a UID tag, not a club smart card")
    parser.add_argument("--port", type=int, default=VPCD_PORT)
    args = parser.parse_args(argv)
    if args.uid_tag:
        card: Card = VirtualUidTag(bytes.fromhex(args.card))
    else:
        from terminal_gateway.config import read_master_key
        if not args.key:
            parser.error("--key is needed for a club smart card")
        card = VirtualClubCard(args.card, read_master_key(args.key))
    with VpcdCard(card, port=args.port), contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


if __name__ == "__main__":
    main()
