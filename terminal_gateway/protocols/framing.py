"""Length-prefixed framing, sans-I/O: bytes in, frame bodies out, and back.

Like Twisted's ``IntNStringReceiver`` without the transport, so the TCP driver and the
tests share one implementation. It sits on the hot path: the receive buffer is consumed
through an offset and compacted only now and then, never sliced off per frame.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["BadLengthHeader", "FrameBuffer", "FrameHeader", "FrameTooLarge", "FramingError"]

# Compact the receive buffer once this much of it has been consumed (and is not all of it).
_COMPACT_AT = 64 * 1024


class FrameHeader(StrEnum):
    """How a frame announces its length; the length counts the bytes after the header."""

    BINARY2 = "binary2"  # 2-byte big-endian unsigned
    ASCII4 = "ascii4"  # 4 ASCII decimal digits

    @property
    def size(self) -> int:
        return 2 if self is FrameHeader.BINARY2 else 4

    @property
    def capacity(self) -> int:
        """The largest length the header can express at all."""
        return 0xFFFF if self is FrameHeader.BINARY2 else 9999


class FramingError(Exception):
    """The peer's byte stream cannot be split into frames: the connection must close."""


class FrameTooLarge(FramingError):
    def __init__(self, length: int, limit: int) -> None:
        super().__init__(f"frame of {length} bytes exceeds the limit of {limit}")
        self.length = length
        self.limit = limit


class BadLengthHeader(FramingError):
    def __init__(self, header: bytes) -> None:
        super().__init__(f"length header {header!r} is not 4 ASCII digits")
        self.header = header


class FrameBuffer:
    """Splits a byte stream into frame bodies and frames bodies for sending.

    ``feed`` drops zero-length frames (keep-alives) and raises a ``FramingError`` when a
    header is unusable; the caller closes the connection then, since nothing after it
    can be delimited (frames completed earlier in the same call are dropped with it: the
    terminal repeats or reverses what got no answer).
    """

    __slots__ = ("_buf", "_header", "_pos", "_size", "max_frame")

    def __init__(self, header: FrameHeader, max_frame: int = 4096) -> None:
        if not 0 < max_frame <= header.capacity:
            raise ValueError(f"max_frame {max_frame} does not fit a {header} header")
        self._header = header
        self._size = header.size
        self.max_frame = max_frame
        self._buf = bytearray()
        self._pos = 0

    @property
    def partial(self) -> bool:
        """Whether part of a frame is waiting for the rest."""
        return len(self._buf) > self._pos

    def feed(self, data: bytes) -> list[bytes]:
        """Take received bytes; return the bodies of the frames they complete, in order."""
        buf = self._buf
        buf += data
        frames: list[bytes] = []
        pos = self._pos
        size = self._size
        end = len(buf)
        while end - pos >= size:
            length = self._length(buf, pos)
            start = pos + size
            if end - start < length:
                break
            pos = start + length
            if length:
                frames.append(bytes(buf[start:pos]))
        if pos == end:
            buf.clear()
            pos = 0
        elif pos >= _COMPACT_AT:
            del buf[:pos]
            pos = 0
        self._pos = pos
        return frames

    def frame(self, body: bytes) -> bytes:
        """Prefix ``body`` with its length header."""
        length = len(body)
        if length > self.max_frame:
            raise FrameTooLarge(length, self.max_frame)
        if self._header is FrameHeader.BINARY2:
            return length.to_bytes(2, "big") + body
        return b"%04d" % length + body

    def _length(self, buf: bytearray, pos: int) -> int:
        if self._header is FrameHeader.BINARY2:
            length = buf[pos] << 8 | buf[pos + 1]
        else:
            digits = bytes(buf[pos : pos + 4])
            if not digits.isdigit():
                raise BadLengthHeader(digits)
            length = int(digits)
        if length > self.max_frame:
            raise FrameTooLarge(length, self.max_frame)
        return length
