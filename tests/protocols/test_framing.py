"""Framing: partial delivery, several frames a chunk, keep-alives, oversized frames."""

from __future__ import annotations

import pytest

from terminal_gateway.protocols.framing import (
    BadLengthHeader,
    FrameBuffer,
    FrameHeader,
    FrameTooLarge,
)

BODIES = [b"\x02\x00first", b"0800second", b"x" * 4096]


@pytest.fixture(params=list(FrameHeader))
def buffer(request: pytest.FixtureRequest) -> FrameBuffer:
    return FrameBuffer(request.param)


def test_headers() -> None:
    assert FrameBuffer(FrameHeader.BINARY2).frame(b"abc") == b"\x00\x03abc"
    assert FrameBuffer(FrameHeader.ASCII4).frame(b"abc") == b"0003abc"


def test_byte_by_byte(buffer: FrameBuffer) -> None:
    stream = b"".join(buffer.frame(body) for body in BODIES)
    received = [frame for i in range(len(stream)) for frame in buffer.feed(stream[i : i + 1])]
    assert received == BODIES


def test_several_frames_in_one_chunk_and_a_partial_one(buffer: FrameBuffer) -> None:
    stream = b"".join(buffer.frame(body) for body in BODIES)
    assert buffer.feed(stream + stream[:7]) == BODIES
    assert buffer.feed(stream[7:]) == BODIES


def test_keep_alive_is_dropped(buffer: FrameBuffer) -> None:
    keep_alive = buffer.frame(b"")
    assert buffer.feed(keep_alive) == []
    assert buffer.feed(keep_alive + buffer.frame(b"body") + keep_alive) == [b"body"]


@pytest.mark.parametrize(
    ("header", "announced"), [(FrameHeader.BINARY2, b"\x10\x01"), (FrameHeader.ASCII4, b"4097")]
)
def test_oversized_frame(header: FrameHeader, announced: bytes) -> None:
    """Refused from the header alone: the gateway never buffers the body."""
    buffer = FrameBuffer(header)
    assert buffer.feed(buffer.frame(b"x" * 4096)) == [b"x" * 4096]
    with pytest.raises(FrameTooLarge, match="4097") as raised:
        buffer.feed(announced)
    assert (raised.value.length, raised.value.limit) == (4097, 4096)


def test_oversized_body_is_not_sent(buffer: FrameBuffer) -> None:
    with pytest.raises(FrameTooLarge):
        buffer.frame(b"x" * 4097)


def test_ascii_length_must_be_digits() -> None:
    with pytest.raises(BadLengthHeader):
        FrameBuffer(FrameHeader.ASCII4).feed(b"00-5hello")


def test_limit_must_fit_the_header() -> None:
    with pytest.raises(ValueError):
        FrameBuffer(FrameHeader.ASCII4, max_frame=10_000)


def test_long_streams_compact_the_buffer(buffer: FrameBuffer) -> None:
    """Past the compaction threshold, with a partial frame pending, nothing is lost."""
    frame = buffer.frame(b"y" * 1000)
    stream = frame * 200
    received = []
    for start in range(0, len(stream), 4000):
        received += buffer.feed(stream[start : start + 4000])
    assert received == [b"y" * 1000] * 200
