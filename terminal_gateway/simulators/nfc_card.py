"""A virtual card in the field of nfcpy's UDP reader (``udp:HOST:PORT``), for the nfc driver.

nfcpy's ``udp`` device (``nfc/clf/udp.py``) is a reader whose radio is UDP: every frame it
sends is one datagram ``b"106A " + hex(frame)`` to HOST:PORT, from a socket of its own whose
port changes each time it senses anew, and the card answers the sender the same way.
``b"RFOFF"`` is the field going off (the reader muted or closed). ``NfcCard`` binds HOST:PORT
and plays the card's side from a thread:

- ISO 14443-3A: SENS_REQ (26) / ALL_REQ (52), anticollision and select for each cascade level
  of a 4, 7 or 10-byte UID, HLTA;
- a ``VirtualClubCard``: an ISO-DEP card (SAK 20, nfcpy's ``Type4ATag``), RATS answered with an
  ATS, command APDUs in I-blocks (chained or not), R(NAK) presence checks, DESELECT;
- a ``VirtualUidTag``: a Type 2 sticker (SAK 00), READ (30) answered from a blank memory;
  any other command mutes it until the next SENS_REQ, as a real one does.

Closing (``remove()``), or the card's ``answer`` raising, takes the card out of the field: the
reader's frames then go unanswered.

    python -m terminal_gateway.simulators.nfc_card --key master.key --port 54321 6037990000000001
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import threading
from binascii import hexlify, unhexlify
from collections import deque
from functools import reduce
from operator import xor

from .clubcard import VirtualClubCard, VirtualUidTag

NFCPY_PORT = 54321  # nfcpy's default for a device path of plain ``udp``
BRTY = b"106A"
RFOFF = b"RFOFF"
SAK_ISO_DEP, SAK_TYPE2, SAK_CASCADE = 0x20, 0x00, 0x04
# ATS: TL, T0 (TA TB TC follow, FSCI 8: 256 bytes), TA (same bit rate both ways), TB (FWI 10:
# a frame waiting time of about 0.3 s, SFGI 0), TC (no NAD, no CID).
ATS = bytes.fromhex("05 78 80 A0 00")


def free_udp_port(host: str = "127.0.0.1") -> int:
    """A UDP port on ``host`` nobody is bound to now."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as probe:
        probe.bind((host, 0))
        return int(probe.getsockname()[1])


def cascade_levels(uid: bytes) -> list[bytes]:
    """The UID as ISO 14443-3 sends it in anticollision: 4 bytes per level (88 the cascade
    tag where more follow), each with its BCC."""
    if len(uid) not in (4, 7, 10):
        raise ValueError(f"a UID has 4, 7 or 10 bytes, not {len(uid)}")
    parts = {4: [uid], 7: [b"\x88" + uid[:3], uid[3:]], 10: [b"\x88" + uid[:3], b"\x88" + uid[3:6], uid[6:]]}[len(uid)]
    return [part + bytes([reduce(xor, part)]) for part in parts]


class NfcCard:
    """``card`` in the field of nfcpy's UDP reader at ``host``:``port`` until ``remove()``."""

    def __init__(self, card: VirtualClubCard | VirtualUidTag, port: int = NFCPY_PORT, host: str = "127.0.0.1"):
        self.card = card
        self.uid = card.uid
        self.iso_dep = isinstance(card, VirtualClubCard)
        self._levels = cascade_levels(self.uid)
        self._sens_res = bytes([(0x00, 0x40, 0x80)[len(self._levels) - 1] | 0x04, 0x00])
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._sock.bind((host, port))
        self.frames: deque[bytes] = deque(maxlen=10_000)  # the frames the reader sent, latest last
        self._reset()
        self._thread = threading.Thread(target=self._serve, name="nfc-card", daemon=True)
        self._thread.start()

    def _reset(self) -> None:
        """The field went off or the reader starts over: idle, the applet deselected."""
        self._state = "idle"  # idle -> ready (anticollision) -> active (selected) -> iso-dep
        self._chained = b""
        self._last: bytes | None = None
        if isinstance(self.card, VirtualClubCard):
            self.card.selected = False

    def _serve(self) -> None:
        try:
            while True:
                datagram, peer = self._sock.recvfrom(2048)
                if datagram.startswith(RFOFF):
                    self._reset()
                    continue
                brty, _, payload = datagram.partition(b" ")
                if brty != BRTY:
                    continue
                frame = unhexlify(payload.strip())
                self.frames.append(frame)
                answer = self._answer(frame)
                if answer is not None:
                    self._sock.sendto(BRTY + b" " + hexlify(answer), peer)
        except (OSError, ValueError):  # removed, or the card's ``answer`` pulled the card out (raised)
            with contextlib.suppress(OSError):
                self._sock.close()

    def _answer(self, frame: bytes) -> bytes | None:
        """The card's answer to one frame, ``None`` for silence."""
        if frame in (b"\x26", b"\x52"):
            self._reset()
            self._state = "ready"
            return self._sens_res
        if frame == b"\x50\x00":  # HLTA
            self._reset()
            return None
        if self._state == "ready" and len(frame) >= 2 and frame[0] in (0x93, 0x95, 0x97):
            level = (0x93, 0x95, 0x97).index(frame[0])
            if level >= len(self._levels):
                return None
            if frame[1] == 0x20:  # SDD_REQ: this level's UID bytes and BCC
                return self._levels[level]
            if frame[1] == 0x70 and frame[2:7] == self._levels[level]:  # SEL_REQ: SAK
                if level < len(self._levels) - 1:
                    return bytes([SAK_CASCADE])
                self._state = "active"
                return bytes([SAK_ISO_DEP if self.iso_dep else SAK_TYPE2])
            return None
        if self._state == "active" and self.iso_dep and frame[:1] == b"\xE0":  # RATS
            self._state = "iso-dep"
            return ATS
        if self._state == "active" and not self.iso_dep:
            if frame[:1] == b"\x30" and len(frame) == 2:  # READ: 4 pages from frame[1]
                return self._type2_memory(frame[1])
            self._reset()  # a Type 2 tag goes mute on a command it does not know
            return None
        if self._state == "iso-dep":
            return self._block(frame)
        return None

    def _type2_memory(self, page: int) -> bytes:
        memory = bytearray(64)
        memory[0:min(len(self.uid), 9)] = self.uid[:9]  # pages 0-2: the UID (simplified)
        memory[12:16] = b"\xE1\x10\x06\x00"  # capability container: NDEF 1.0, 48 bytes
        memory[16:19] = b"\x03\x00\xFE"  # an empty NDEF message, then the terminator
        start = (page * 4) % len(memory)
        return bytes((memory + memory)[start:start + 16])

    def _block(self, frame: bytes) -> bytes | None:
        """ISO 14443-4 (ISO-DEP) blocks, without CID or NAD."""
        pcb = frame[0]
        if pcb & 0xE2 == 0x02:  # I-block
            number = pcb & 0x01
            self._chained += frame[1:]
            if pcb & 0x10:  # more follows: acknowledge
                return bytes([0xA2 | number])
            command, self._chained = self._chained, b""
            self._last = bytes([0x02 | number]) + self.card.answer(command)
            return self._last
        if pcb & 0xF6 == 0xB2:  # R(NAK): the reader missed our answer, or checks we are here
            number = pcb & 0x01
            if self._last is not None and self._last[0] & 0x01 == number:
                return self._last
            return bytes([0xA2 | (number ^ 1)])
        if pcb & 0xF7 == 0xC2:  # S(DESELECT)
            self._reset()
            return frame[:1]
        return None

    def remove(self) -> None:
        """Take the card out of the field."""
        with contextlib.suppress(OSError):
            self._sock.shutdown(socket.SHUT_RDWR)
        self._sock.close()
        self._thread.join(5)

    def __enter__(self) -> NfcCard:
        return self

    def __exit__(self, *exc: object) -> None:
        self.remove()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Hold a virtual club card to nfcpy's UDP reader until Ctrl-C.")
    parser.add_argument("card", help="the card number, or a UID in hex with --uid-tag")
    parser.add_argument("--key", help="the issuer master key file (hex or raw, 16 or 32 bytes)")
    parser.add_argument("--uid-tag", action="store_true", help="a UID tag (Type 2), not a club smart card")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=NFCPY_PORT, help="PORT of the reader's device path udp:HOST:PORT")
    args = parser.parse_args(argv)
    if args.uid_tag:
        card: VirtualClubCard | VirtualUidTag = VirtualUidTag(bytes.fromhex(args.card))
    else:
        from terminal_gateway.config import read_master_key
        if not args.key:
            parser.error("--key is needed for a club smart card")
        card = VirtualClubCard(args.card, read_master_key(args.key))
    with NfcCard(card, port=args.port, host=args.host), contextlib.suppress(KeyboardInterrupt):
        threading.Event().wait()


if __name__ == "__main__":
    main()
