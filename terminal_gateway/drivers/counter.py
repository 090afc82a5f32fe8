"""The counter's HTTP interface to the stations (``protocols.counter`` over ``twisted.web``):

    GET  /stations                        the stations, and whether each is busy
    POST /stations/<terminal>/operations  an operation at a station; answered once decided

Every request must name this listener in ``Host``, come from no foreign ``Origin``, send JSON
when it posts, and carry ``Authorization: Bearer <token>``: the token of the station in its
path (for ``GET /stations``, of any station). A refused request is answered at once, logged
without its token, and nothing else happens.

The driver knows the stations only as ``Counter``: whose a token is, whether a station exists,
the list, and how to carry out an operation. A counter that hangs up cancels the wait for its
card.
"""

from __future__ import annotations

from functools import partial
from threading import Event
from typing import Any, Protocol

from twisted.internet.defer import Deferred
from twisted.logger import Logger
from twisted.python.failure import Failure
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Request, Site

from ..config import CounterSettings
from ..protocols import counter
from ..protocols.counter import BadOperation, Operation, Reply
from .tcp import EndpointListener

__all__ = ["Counter", "CounterApi", "counter_listener"]

log = Logger(namespace="terminal_gateway.stations")

_LISTING = "GET /stations"
_OPERATIONS = "POST /stations/<terminal>/operations"


class Counter(Protocol):
    def holder(self, token: str) -> Deferred[str | None]:
        """The terminal of the station whose bearer token ``token`` is, or ``None``."""

    def serves(self, terminal: str) -> bool:
        """Whether a station acts as ``terminal``."""

    def listing(self) -> list[dict[str, Any]]:
        """Every station, for ``GET /stations``."""

    def operate(self, terminal: str, operation: Operation, cancel: Event) -> Deferred[Reply]:
        """Carry out ``operation`` at the station of ``terminal``; ``cancel`` set: stop waiting."""


class CounterApi(Resource):
    isLeaf = True

    def __init__(self, stations: Counter, settings: CounterSettings):
        super().__init__()
        self.stations, self.settings = stations, settings

    def render(self, request: Any) -> Any:
        method = request.method.decode("ascii", "replace")
        route = _route(method, request.postpath)
        if isinstance(route, Reply):
            return _write(request, route)
        refused = counter.refusal(method, _header(request, b"host"), _header(request, b"origin"),
                                  _header(request, b"content-type"), self._listener(request))
        if refused is not None:
            return _refuse(request, refused)
        token = counter.bearer_token(_header(request, b"authorization"))
        if token is None:
            return _refuse(request, counter.no_credential(route, "no bearer token"))
        gone = Event()
        request.notifyFinish().addErrback(lambda _: gone.set())
        found = self.stations.holder(token)
        found.addCallbacks(partial(self._authenticated, request, gone, route),
                           partial(_unchecked, request, gone))
        return NOT_DONE_YET

    def _listener(self, request: Any) -> counter.Listener:
        local = request.getHost()
        return counter.Listener(str(getattr(local, "host", "")), int(getattr(local, "port", 0)),
                                self.settings.host_names, self.settings.allowed_origins)

    def _authenticated(self, request: Any, gone: Event, terminal: str | None, holder: str | None) -> None:
        if gone.is_set():
            return
        if holder is None or (terminal is not None and holder != terminal):
            _answer(request, gone, _refused(request, counter.no_credential(terminal, "the bearer token is wrong")))
        elif terminal is None:
            _answer(request, gone, Reply(200, {"stations": self.stations.listing()}))
        else:
            self._operate(request, gone, terminal)

    def _operate(self, request: Any, gone: Event, terminal: str) -> None:
        if not self.stations.serves(terminal):
            return _answer(request, gone, counter.not_found(f"no station acts as terminal {terminal!r}"))
        try:
            operation = counter.parse_operation(request.content.read(counter.MAX_BODY + 1))
        except BadOperation as error:
            return _answer(request, gone, counter.bad_request(str(error)))
        cancel = Event()
        request.notifyFinish().addErrback(lambda _: cancel.set())  # the counter gave up: stop waiting
        done = self.stations.operate(terminal, operation, cancel)
        done.addCallbacks(partial(_answer, request, gone), partial(_failed, request, gone, terminal))


def _route(method: str, path: list[bytes]) -> str | Reply | None:
    """The station a request is for (``None``: the listing), or the 404/405 it gets."""
    if method == "GET":
        return None if path in ([b"stations"], [b"stations", b""]) else counter.not_found(_LISTING)
    if method == "POST":
        if len(path) != 3 or path[0] != b"stations" or path[2] != b"operations":
            return counter.not_found(_OPERATIONS)
        return path[1].decode("utf-8", "replace")
    return Reply(405, {"status": "method not allowed", "message": f"{_LISTING} or {_OPERATIONS}"})


def _header(request: Any, name: bytes) -> str | None:
    value = request.getHeader(name)
    return None if value is None else value.decode("latin-1")


def _refused(request: Any, reply: Reply) -> Reply:
    """Log a refused request (its method, path, peer and why; never its credential)."""
    peer = request.getClientAddress()
    log.warn("counter API: refused {method} {path} from {peer}: {status} {why}",
             method=request.method.decode("ascii", "replace"), path=request.path[:100].decode("latin-1"),
             peer=getattr(peer, "host", peer), status=reply.status, why=reply.body["message"])
    return reply


def _refuse(request: Any, reply: Reply) -> bytes:
    return _write(request, _refused(request, reply))


def _answer(request: Any, gone: Event, reply: Reply) -> None:
    if not gone.is_set():
        request.write(_write(request, reply))
        request.finish()


def _unchecked(request: Any, gone: Event, failure: Failure) -> None:
    log.failure("counter API: the station's token could not be checked", failure)
    _answer(request, gone, counter.unavailable("the gateway cannot check the station's token now"))


def _failed(request: Any, gone: Event, terminal: str, failure: Failure) -> None:
    log.failure("station {terminal}: the operation failed", failure, terminal=terminal)
    _answer(request, gone, counter.failed())


def _write(request: Any, reply: Reply) -> bytes:
    request.setResponseCode(reply.status)
    request.setHeader(b"content-type", b"application/json")
    if reply.status == 401:
        request.setHeader(b"www-authenticate", b'Bearer realm="counter stations"')
    return reply.encode()


class BoundedRequest(Request):
    """Keeps no more of a body than one byte past the largest operation, so that nobody fills
    the gateway's memory or disk before the request is checked; a longer one is refused 400."""

    def handleContentChunk(self, data: bytes) -> None:
        room = counter.MAX_BODY + 1 - self.content.tell()
        if room > 0:
            self.content.write(data[:room])


def counter_listener(settings: CounterSettings, stations: Counter, reactor: Any) -> EndpointListener:
    """The counter API on the endpoint ``[counter]`` describes."""
    site = Site(CounterApi(stations, settings), requestFactory=BoundedRequest)
    return EndpointListener(settings.endpoint, site, reactor, "the counter software (HTTP)", log)
