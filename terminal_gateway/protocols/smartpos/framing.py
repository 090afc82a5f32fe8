"""Varint-delimited framing, sans-I/O: each message preceded by its length as a protobuf varint.

The same framing as the protobuf libraries' "delimited" calls (Java's ``writeDelimitedTo``).
A length over the limit, or a varint longer than any 64-bit one, cannot be delimited past:
the caller closes the connection.
"""

from __future__ import annotations

from ..framing import FrameTooLarge, FramingError

__all__ = ["MAX_MESSAGE", "BadVarint", "VarintFramer", "encode_varint"]

# smartpos.proto: "A message longer than 64 KiB ... closes the connection."
MAX_MESSAGE = 64 * 1024
_MAX_VARINT_BYTES = 10  # a 64-bit varint takes at most 10 bytes


class BadVarint(FramingError):
    def __init__(self, size: int) -> None:
        super().__init__(f"length varint runs past {size} bytes")


def encode_varint(value: int) -> bytes:
    out = bytearray()
    while value > 0x7F:
        out.append(value & 0x7F | 0x80)
        value >>= 7
    out.append(value)
    return bytes(out)


class VarintFramer:
    """Splits a byte stream into message bodies (``feed``) and delimits bodies (``frame``).

    A zero length delimits an empty message, which is passed on like any other.
    """

    __slots__ = ("_buf", "max_message")

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        if not 0 < max_message <= MAX_MESSAGE:
            raise ValueError(f"max_message {max_message} must be 1 to {MAX_MESSAGE}")
        self.max_message = max_message
        self._buf = bytearray()

    @property
    def partial(self) -> bool:
        """Whether part of a message is waiting for the rest."""
        return bool(self._buf)

    def feed(self, data: bytes) -> list[bytes]:
        """Take received bytes; return the bodies of the messages they complete, in order."""
        buf = self._buf
        buf += data
        bodies: list[bytes] = []
        pos = 0
        while True:
            header = self._length(buf, pos)
            if header is None:
                break
            length, start = header
            if len(buf) - start < length:
                break
            pos = start + length
            bodies.append(bytes(buf[start:pos]))
        if pos:
            del buf[:pos]
        return bodies

    def frame(self, body: bytes) -> bytes:
        if len(body) > self.max_message:
            raise FrameTooLarge(len(body), self.max_message)
        return encode_varint(len(body)) + body

    def _length(self, buf: bytearray, pos: int) -> tuple[int, int] | None:
        """The length at ``pos`` and where its body starts; None while it is incomplete."""
        value = shift = 0
        for index in range(pos, min(len(buf), pos + _MAX_VARINT_BYTES)):
            byte = buf[index]
            value |= (byte & 0x7F) << shift
            if value > self.max_message:
                raise FrameTooLarge(value, self.max_message)
            if not byte & 0x80:
                return value, index + 1
            shift += 7
        if len(buf) - pos >= _MAX_VARINT_BYTES:
            raise BadVarint(_MAX_VARINT_BYTES)
        return None
