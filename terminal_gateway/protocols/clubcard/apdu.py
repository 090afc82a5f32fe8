"""The club applet's commands and the status words a card answers with (ISO 7816-4)."""

from __future__ import annotations

from dataclasses import dataclass
from enum import IntEnum

AID = bytes.fromhex("F0434C55423031")  # "\xF0CLUB01"
CHALLENGE_SIZE = 16  # bytes of INTERNAL AUTHENTICATE's challenge, and of its AES-CMAC answer
MAX_CARD_NUMBER = 19  # digits, as a PAN (ISO/IEC 7812)
MIN_CARD_NUMBER = 8

SELECT = bytes.fromhex("00A40400") + bytes([len(AID)]) + AID + b"\x00"
GET_CARD_NUMBER = bytes.fromhex("80CA000100")
# PC/SC part 3 GET DATA: the UID of a contactless card, answered by the reader itself.
GET_UID = bytes.fromhex("FFCA000000")


class Status(IntEnum):
    OK = 0x9000
    NOT_FOUND = 0x6A82  # applet not found: not a club smart card, read it as a UID tag
    INS_NOT_SUPPORTED = 0x6D00
    SECURITY_NOT_SATISFIED = 0x6982


class ApduError(Exception):
    """The card answered with bytes that are not an APDU response."""


@dataclass(frozen=True, slots=True)
class Response:
    data: bytes
    sw: int

    @classmethod
    def parse(cls, raw: bytes) -> Response:
        if len(raw) < 2:
            raise ApduError(f"a response APDU has at least the 2 status bytes, got {len(raw)}")
        return cls(bytes(raw[:-2]), int.from_bytes(raw[-2:], "big"))

    @property
    def ok(self) -> bool:
        return self.sw == Status.OK

    @property
    def status(self) -> str:
        return f"{self.sw:04X}"


def internal_authenticate(challenge: bytes) -> bytes:
    if len(challenge) != CHALLENGE_SIZE:
        raise ValueError(f"the challenge is {CHALLENGE_SIZE} bytes, got {len(challenge)}")
    return bytes.fromhex("00880000") + bytes([CHALLENGE_SIZE]) + challenge + b"\x00"
