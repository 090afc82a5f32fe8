"""The counter's HTTP interface to the stations (``protocols.counter`` over ``twisted.web``):

    GET  /stations                        the stations, and whether each is busy
    POST /stations/<terminal>/operations  an operation at a station; answered once decided

The driver knows the stations only as ``Counter``: whether one exists, the list, and how to
carry out an operation. A counter that hangs up cancels the wait for its card.
"""

from __future__ import annotations

from functools import partial
from threading import Event
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site

from ..protocols import counter
from ..protocols.counter import BadOperation, Operation, Reply
from .tcp import EndpointListener

__all__ = ["Counter", "CounterApi", "counter_listener"]

log = Logger(namespace="terminal_gateway.stations")


class Counter(Protocol):
    def serves(self, terminal: str) -> bool:
        """Whether a station acts as ``terminal``."""

    def listing(self) -> list[dict[str, Any]]:
        """Every station, for ``GET /stations``."""

    def operate(self, terminal: str, operation: Operation, cancel: Event) -> Deferred[Reply]:
        """Carry out ``operation`` at the station of ``terminal``; ``cancel`` set: stop waiting."""


class CounterApi(Resource):
    isLeaf = True

    def __init__(self, stations: Counter):
        super().__init__()
        self.stations = stations

    def render_GET(self, request: Any) -> bytes:
        if request.postpath not in ([b"stations"], [b"stations", b""]):
            return _write(request, counter.not_found("GET /stations"))
        return _write(request, Reply(200, {"stations": self.stations.listing()}))

    def render_POST(self, request: Any) -> Any:
        path = request.postpath
        if len(path) != 3 or path[0] != b"stations" or path[2] != b"operations":
            return _write(request, counter.not_found("POST /stations/<terminal>/operations"))
        terminal = path[1].decode("utf-8", "replace")
        if not self.stations.serves(terminal):
            return _write(request, counter.not_found(f"no station acts as terminal {terminal!r}"))
        try:
            operation = counter.parse_operation(request.content.read(counter.MAX_BODY + 1)[:counter.MAX_BODY])
        except BadOperation as error:
            return _write(request, counter.bad_request(str(error)))
        cancel, gone = Event(), Event()

        def hung_up(_: object) -> None:  # the counter gave up: stop waiting, answer nobody
            gone.set()
            cancel.set()

        request.notifyFinish().addErrback(hung_up)
        done = self.stations.operate(terminal, operation, cancel)
        done.addCallbacks(partial(_answer, request, gone), partial(_failed, request, gone, terminal))
        return NOT_DONE_YET


def _answer(request: Any, gone: Event, reply: Reply) -> None:
    if not gone.is_set():
        request.write(_write(request, reply))
        request.finish()


def _failed(request: Any, gone: Event, terminal: str, failure: Failure) -> None:
    log.failure("station {terminal}: the operation failed", failure, terminal=terminal)
    _answer(request, gone, counter.failed())


def _write(request: Any, reply: Reply) -> bytes:
    request.setResponseCode(reply.status)
    request.setHeader(b"content-type", b"application/json")
    return reply.encode()


def counter_listener(description: str, stations: Counter, reactor: Any) -> EndpointListener:
    """The counter API on the endpoint ``[counter]`` describes."""
    return EndpointListener(description, Site(CounterApi(stations)), reactor, "the counter software (HTTP)", log)
