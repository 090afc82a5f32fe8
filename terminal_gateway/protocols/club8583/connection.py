"""One Club-8583 terminal connection, sans-I/O: length-prefixed frames in, events out.

A frame whose MTI, DE11 and DE41 can be read is always answered: a request that cannot be
processed becomes a ``Malformed`` request, decided (and journalled) like any other, and
answered with its code. One where they cannot is ``Unanswered``, for the log only.

Under a MAC profile the MAC is checked first, with the terminal's key from ``TerminalKeys``:
a request that is not authentic becomes a ``Malformed`` request with code 63 and a reason
that names what was wrong (journalled as a security event), whatever else it says. Each
answer is MAC'd with the key its request was checked with, so the answer to a key change
still carries the old key's MAC; where the terminal has no key, the answer has no MAC.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field, replace

from ...vocabulary import Code, Malformed, Outcome, Request
from ..events import Decide, Event, RemoteProtocolError, Unanswered
from ..framing import FrameBuffer, FramingError
from .codec import Decoded, HostCodec, Undecodable
from .keychange import KeyChange
from .mac import TerminalKeys, check_value, new_session_key, wrap_key
from .responses import ResponseContext

__all__ = ["HostConnection", "Received"]


@dataclass(frozen=True, slots=True)
class Received(Decide):
    """A request, with what its response must echo and the key its answer is MAC'd with."""

    context: ResponseContext
    mac_key: bytes | None = field(default=None, repr=False)


class HostConnection:
    """The gateway's end of one connection; ``codec`` is the listener's, shared; ``keys``
    the terminals' keys, needed under a MAC profile."""

    __slots__ = ("_events", "_frames", "codec", "keys")

    def __init__(self, codec: HostCodec, keys: TerminalKeys | None = None) -> None:
        if codec.profile.mac and keys is None:
            raise ValueError(f"profile {codec.profile.name} needs the terminals' keys")
        self.codec, self.keys = codec, keys
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
        return self._frames.frame(self.codec.encode(event.context, outcome, event.mac_key))

    def _event(self, body: bytes) -> Event:
        try:
            decoded = self.codec.decode(body)
        except Undecodable as e:
            return Unanswered(f"undecodable frame ({len(body)} bytes): {e}")
        terminal = decoded.context.echo.get("41", "").rstrip()
        if self.keys is not None:
            return self._authenticated(body, decoded, terminal, self.keys)
        return Received(_request(decoded, terminal), decoded.context)

    def _authenticated(self, body: bytes, decoded: Decoded, terminal: str, keys: TerminalKeys) -> Received:
        assert self.codec.authenticator is not None
        key = keys.mac_key(terminal)
        problem = self.codec.authenticator.problem(body, decoded.fields, key)
        if problem is not None and isinstance(decoded.request, KeyChange):
            # A terminal that lost a key change's answer knows only its old session key,
            # which is refused; its master key is its way back to a session.
            master = keys.master_key(terminal)
            if self.codec.authenticator.problem(body, decoded.fields, master) is None:
                key, problem = master, None
        if problem is not None:
            request = Malformed(terminal=terminal, code=Code.SECURITY_VIOLATION, reason=problem)
            return Received(request, decoded.context, key)
        request, context = _request(decoded, terminal), decoded.context
        if isinstance(request, KeyChange):
            master = keys.master_key(terminal)
            assert master is not None  # a terminal with a key has a master key
            session = new_session_key()
            request = replace(request, session_key=session)
            context = replace(context, approved_tags=(("SK", wrap_key(master, session).hex().upper()),
                                                      ("KC", check_value(session))))
        return Received(request, context, key)


def _request(decoded: Decoded, terminal: str) -> Request:
    """The decoded request, or the ``Malformed`` one its error and reason make."""
    if decoded.request is not None:
        return decoded.request
    assert decoded.error is not None
    return Malformed(terminal=terminal, code=decoded.error, reason=decoded.reason)
