"""The one piece of glue between a codec and the gateway, for every family and transport.

Bytes go into the link's codec (``protocols.events.HostConnection``); each request it gives
is decided by the gateway and its answer written once the decision is durable; a failure on
the way is logged and answered 96, never lost silently.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.logger import Logger
from twisted.python.failure import Failure

from ..protocols.events import Answer, Decide, HostConnection, Unanswered
from ..vocabulary import Code, Outcome, TerminalFamily
from . import Gateway

__all__ = ["Exchange"]

FAILED = Outcome(Code.MALFUNCTION, message="the gateway failed answering this request")


class Exchange:
    """One link (a connection, a serial line): its codec, its family, where answers go."""

    __slots__ = ("connection", "family", "gateway", "log", "peer", "write")

    def __init__(self, connection: HostConnection, family: TerminalFamily, gateway: Gateway,
                 write: Callable[[bytes], None], peer: Callable[[], str], log: Logger) -> None:
        self.connection, self.family, self.gateway = connection, family, gateway
        self.write, self.peer, self.log = write, peer, log

    def receive(self, data: bytes) -> None:
        """Take ``data``; ``RemoteProtocolError`` when the link must close."""
        connection = self.connection
        connection.receive_data(data)
        while (event := connection.next_event()) is not None:
            if isinstance(event, Decide):
                answer = self.gateway.handle(event.request, self.family)
                answer.addCallback(self._answer, event)
                answer.addErrback(self._failed, event)
            elif isinstance(event, Answer):
                self.write(event.data)
            elif isinstance(event, Unanswered):
                self.log.warn("{peer}: {reason}", peer=self.peer(), reason=event.reason)

    def _answer(self, outcome: Outcome, event: Decide) -> None:
        self.write(self.connection.send(event, outcome))

    def _failed(self, failure: Failure, event: Decide) -> None:
        self.log.failure("{peer}: answering a {kind} from terminal {terminal} failed; answering 96", failure,
                         peer=self.peer(), kind=type(event.request).__name__, terminal=event.request.terminal)
        try:
            self.write(self.connection.send(event, FAILED))
        except Exception:
            self.log.failure("{peer}: not even 96 could be answered", peer=self.peer())
