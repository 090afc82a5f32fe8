"""SmartPOS connections, sans-I/O, after h11: bytes in, events out; events in, bytes out.

``HostConnection`` is the gateway's side, in the shape of every codec (``protocols.events``):
``receive_data`` takes bytes, ``next_event`` gives ``Received`` requests (vocabulary requests,
``Malformed`` for one that cannot be decided), and ``send`` turns an outcome into the bytes of
its response. ``TerminalConnection`` is the
terminal's side, for simulators and tests. A message over the size limit, or one that does
not parse, raises ``RemoteProtocolError``: the connection must close (smartpos.proto).
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from ...vocabulary import Outcome
from ..events import Decide, RemoteProtocolError
from ..framing import FramingError
from . import smartpos_pb2 as pb
from .framing import MAX_MESSAGE, VarintFramer
from .requests import to_request
from .responses import to_response

__all__ = ["HostConnection", "Received", "RemoteProtocolError", "TerminalConnection"]


@dataclass(frozen=True, slots=True)
class Received(Decide):
    """One request from the terminal: the vocabulary request to decide (its repr masks the
    card and leaves out any PIN), and the ``request_id`` its response carries back."""

    request_id: int


class _Connection:
    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        self._framer = VarintFramer(max_message)

    @property
    def partial(self) -> bool:
        return self._framer.partial

    def _bodies(self, data: bytes) -> list[bytes]:
        try:
            return self._framer.feed(data)
        except FramingError as e:
            raise RemoteProtocolError(str(e)) from None

    def _frame(self, message: pb.Request | pb.Response) -> bytes:
        return self._framer.frame(message.SerializeToString())


def _parse(kind: type[pb.Request] | type[pb.Response], body: bytes) -> pb.Request | pb.Response:
    message = kind()
    try:
        message.ParseFromString(body)
    except DecodeError:
        # protobuf's message names no value, but say only the size: the body may hold a PIN.
        raise RemoteProtocolError(f"a {len(body)}-byte message that is not a {kind.__name__}") from None
    return message


class HostConnection(_Connection):
    """The gateway's end of one terminal connection."""

    def __init__(self, max_message: int = MAX_MESSAGE) -> None:
        super().__init__(max_message)
        self._received: deque[Received] = deque()

    def receive_data(self, data: bytes) -> None:
        """Take ``data``; the requests it completes come out of ``next_event`` in order."""
        for body in self._bodies(data):
            message = _parse(pb.Request, body)
            self._received.append(Received(to_request(message), message.request_id))

    def next_event(self) -> Received | None:
        return self._received.popleft() if self._received else None

    def send(self, event: Decide, outcome: Outcome) -> bytes:
        """The bytes of the response to ``event``."""
        assert isinstance(event, Received)
        return self._frame(to_response(event.request_id, event.request, outcome))


class TerminalConnection(_Connection):
    """A terminal's end: requests out, responses in."""

    def send(self, request: pb.Request) -> bytes:
        return self._frame(request)

    def receive_data(self, data: bytes) -> list[pb.Response]:
        return [_parse(pb.Response, body) for body in self._bodies(data)]
