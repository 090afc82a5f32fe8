"""The one piece of glue between a codec and the gateway, for every family and transport.

Bytes go into the link's codec (``protocols.events.HostConnection``); each request it gives
is decided by the gateway and its answer written once the decision is durable; a failure on
the way is logged and answered 96, never lost silently. Where the link has a ``LinkGuard``
(TCP), a request for a terminal the link may not speak for is refused 63, and a link that
sends too much that is refused is closed.
"""

from __future__ import annotations

from collections.abc import Callable

from twisted.logger import Logger
from twisted.python.failure import Failure

from ..protocols.events import Answer, Decide, HostConnection, Unanswered
from ..vocabulary import Code, Malformed, Outcome, Request, TerminalFamily
from . import Gateway
from .guard import LinkGuard

__all__ = ["Exchange"]

FAILED = Outcome(Code.MALFUNCTION, message="the gateway failed answering this request")


def _never(reason: str) -> None:
    raise AssertionError(f"a link without a guard was asked to close: {reason}")


class Exchange:
    """One link (a connection, a serial line): its codec, its family, where answers go."""

    __slots__ = ("close", "closed", "connection", "family", "gateway", "guard", "log", "peer", "write")

    def __init__(self, connection: HostConnection, family: TerminalFamily, gateway: Gateway,
                 write: Callable[[bytes], None], peer: Callable[[], str], log: Logger,
                 guard: LinkGuard | None = None, close: Callable[[str], None] = _never) -> None:
        self.connection, self.family, self.gateway = connection, family, gateway
        self.write, self.peer, self.log = write, peer, log
        self.guard, self.close, self.closed = guard, close, False

    def receive(self, data: bytes) -> None:
        """Take ``data``; ``RemoteProtocolError`` when the link must close."""
        connection = self.connection
        connection.receive_data(data)
        while not self.closed and (event := connection.next_event()) is not None:
            if isinstance(event, Decide):
                self._decide(event)
            elif isinstance(event, Answer):
                self.write(event.data)
            elif isinstance(event, Unanswered):
                self.log.warn("{peer}: {reason}", peer=self.peer(), reason=event.reason)

    def _decide(self, event: Decide) -> None:
        request: Request = event.request
        guard = self.guard
        if guard is not None:
            # A request the codec already refused moves nothing whoever it names: its own reason stands.
            trespass = None if isinstance(request, Malformed) else (
                guard.trespass(request.terminal) or self._misplaced(guard, request.terminal))
            if trespass is not None:
                self.log.warn("{peer}: {reason}; refused 63", peer=self.peer(), reason=trespass)
                request = Malformed(terminal=guard.terminal or request.terminal, code=Code.SECURITY_VIOLATION,
                                    reason=f"{trespass} (from {self.peer()})")
            if isinstance(request, Malformed) and guard.count(request.code):
                self._close()  # this one is the last the gateway hears of the link
        answer = self.gateway.handle(request, self.family)
        answer.addCallback(self._answer, event, isinstance(request, Malformed))
        answer.addErrback(self._failed, event)

    def _misplaced(self, guard: LinkGuard, terminal: str) -> str | None:
        """Why ``terminal`` may not speak from where the link comes from (its branch's
        ``allowed_sources``); asked once per terminal and link."""
        if terminal in guard.placed:
            return None
        problem = self.gateway.source_problem(terminal, guard.source)
        if problem is None:
            guard.placed.add(terminal)
        return problem

    def _answer(self, outcome: Outcome, event: Decide, counted: bool) -> None:
        self.write(self.connection.send(event, outcome))
        if self.guard is not None and not counted and self.guard.count(outcome.code):
            self._close()

    def _close(self) -> None:
        if self.closed:
            return
        self.closed = True
        guard = self.guard
        assert guard is not None
        codes = ", ".join(f"{count} x {code}" for code, count in sorted(guard.by_code.items()))
        self.close(f"{guard.refused} requests refused ({codes}) of {guard.answered} answered")

    def _failed(self, failure: Failure, event: Decide) -> None:
        self.log.failure("{peer}: answering a {kind} from terminal {terminal} failed; answering 96", failure,
                         peer=self.peer(), kind=type(event.request).__name__, terminal=event.request.terminal)
        try:
            self.write(self.connection.send(event, FAILED))
        except Exception:
            self.log.failure("{peer}: not even 96 could be answered", peer=self.peer())
