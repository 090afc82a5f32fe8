"""One Club-8583 terminal connection, sans-I/O: length-prefixed frames in, events out.

A frame whose MTI, DE11 and DE41 can be read is always answered: a request that cannot be
processed becomes a ``Malformed`` request, decided (and journalled) like any other, and
answered with its code. One where they cannot is ``Unanswered``, for the log only.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from ...vocabulary import Malformed, Outcome
from ..events import Decide, Event, RemoteProtocolError, Unanswered
from ..framing import FrameBuffer, FramingError
from .codec import HostCodec, Undecodable
from .responses import ResponseContext

__all__ = ["HostConnection", "Received"]


@dataclass(frozen=True, slots=True)
class Received(Decide):
    """A request, with what its response must echo."""

    context: ResponseContext


class HostConnection:
    """The gateway's end of one connection; ``codec`` is the listener's, shared."""

    __slots__ = ("_events", "_frames", "codec")

    def __init__(self, codec: HostCodec) -> None:
        self.codec = codec
        self._frames = FrameBuffer(codec.profile.header, codec.profile.max_frame)
        self._events: deque[Event] = deque()

    def receive_data(self, data: bytes) -> None:
        try:
            bodies = self._frames.feed(data)
        except FramingError as e:
            raise RemoteProtocolError(str(e)) from None
        for body in bodies:
            self._events.append(self._event(body))

    @property
    def partial(self) -> bool:
        return self._frames.partial

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def send(self, event: Decide, outcome: Outcome) -> bytes:
        assert isinstance(event, Received)
        return self._frames.frame(self.codec.encode(event.context, outcome))

    def _event(self, body: bytes) -> Event:
        try:
            decoded = self.codec.decode(body)
        except Undecodable as e:
            return Unanswered(f"undecodable frame ({len(body)} bytes): {e}")
        request = decoded.request
        if request is None:
            assert decoded.error is not None
            terminal = decoded.context.echo.get("41", "").rstrip()
            request = Malformed(terminal=terminal, code=decoded.error, reason=decoded.reason)
        return Received(request, decoded.context)
