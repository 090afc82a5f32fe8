"""Counter stations: the counter software asks, over a local HTTP interface, for an operation
at a station; the station waits for the next card on its reader, reads and authenticates it,
and the operation is decided through the dispatcher like any terminal's request.

    POST /stations/CNTR0001/operations
    {"kind": "redeem", "amount": 150000, "invoice": "INV-7", "timeout": 30}

answers the decision as JSON (HTTP 200, ``"status": "decided"``), or why there is none:
no card in time or a card taken away too soon (408, ``"timeout"``), a card that is not a club
card (422, ``"unreadable"``), a station busy with another operation (409), a bad request
(400), an unknown station (404). Only a decision moves anything.

A counterfeit club card (its answer to the challenge is wrong) is declined 63 and journalled
as a ``Malformed`` request (kind ``malformed``, code 63, its masked card number and why in the
message). So is a UID tag nobody was issued (14) and a UID tag asked to redeem where the
program lets UID tags only earn (12).

Each station has a thread of its own for its reader's blocking calls; the reactor only
parses, dispatches and answers.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from threading import Event
from typing import Any

from twisted.application.service import Service
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.threads import deferToThreadPool
from twisted.logger import Logger
from twisted.python.threadpool import ThreadPool
from twisted.web.resource import Resource
from twisted.web.server import NOT_DONE_YET, Site

from .. import config as configuration
from ..config import Config, ConfigError, Station
from ..drivers.cardreader import CardReader, CardRemoved, ReaderError, open_reader
from ..protocols.clubcard import Counterfeit, Genuine, ReadResult, UidTag, Unreadable, read_card
from ..vocabulary import (
    AccrualReturn,
    Accrue,
    BalanceInquiry,
    CardRef,
    Code,
    Malformed,
    Outcome,
    Redeem,
    Refund,
    Request,
    TerminalFamily,
    mask_pan,
)
from .dispatcher import Dispatcher

log = Logger(namespace="terminal_gateway.stations")

FAMILY = TerminalFamily(name="station", partial_approval=True, signon_required=False)
DEFAULT_TIMEOUT = 30.0  # seconds a station waits for a card unless the counter says otherwise
MAX_TIMEOUT = 300.0
MAX_BODY = 64 * 1024
KINDS = ("balance", "redeem", "hold", "accrue", "accrual_return", "refund")
SPENDING = ("redeem", "hold")  # what a UID tag may do only where [clubcard] uid_tags_redeem is true


class BadOperation(ValueError):
    """The counter's request cannot be an operation; the message says which field and why."""


@dataclass(frozen=True, slots=True)
class Operation:
    kind: str
    amount: int | None = None
    invoice: str | None = None
    invoice_total: int | None = None
    rrn: str | None = None
    reference: str | None = None
    timeout: float = DEFAULT_TIMEOUT

    def request(self, terminal: str, pan: str) -> Request:
        card = CardRef(pan=pan)
        key = f"{terminal}/{self.reference}" if self.reference else None
        common: dict[str, Any] = {"terminal": terminal, "key": key, "card": card}
        if self.kind == "balance":
            return BalanceInquiry(**common)
        if self.kind in SPENDING:
            assert self.amount is not None and self.invoice is not None
            return Redeem(**common, amount=self.amount, invoice=self.invoice, invoice_total=self.invoice_total,
                          hold=self.kind == "hold")
        if self.kind == "accrue":
            return Accrue(**common, amount=self.amount or 0, invoice=self.invoice or "")
        if self.kind == "accrual_return":
            return AccrualReturn(**common, amount=self.amount or 0, invoice=self.invoice or "")
        return Refund(**common, amount=self.amount or 0, rrn=self.rrn or "")


def parse_operation(body: bytes) -> Operation:
    """The counter's JSON body as an ``Operation``; ``BadOperation`` names the field."""
    try:
        data = json.loads(body or b"{}")
    except (ValueError, UnicodeDecodeError) as error:
        raise BadOperation(f"the body is not JSON: {error}") from None
    if not isinstance(data, dict):
        raise BadOperation("the body is not a JSON object")
    unknown = sorted(set(data) - {"kind", "amount", "invoice", "invoice_total", "rrn", "reference", "timeout"})
    if unknown:
        raise BadOperation(f"{unknown[0]}: unknown field")
    kind = data.get("kind")
    if kind not in KINDS:
        raise BadOperation(f"kind: expected one of {', '.join(KINDS)}, got {kind!r}")

    def whole(name: str, required: bool) -> int | None:
        value = data.get(name)
        if value is None and not required:
            return None
        if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= configuration.MAX_AMOUNT:
            raise BadOperation(f"{name}: expected a whole number of minor units from 1 to "
                               f"{configuration.MAX_AMOUNT}, got {value!r}")
        return value

    def text(name: str, required: bool, size: int) -> str | None:
        value = data.get(name)
        if value is None and not required:
            return None
        if not isinstance(value, str) or not 1 <= len(value) <= size or not value.isprintable():
            raise BadOperation(f"{name}: expected 1 to {size} printable characters, got {value!r}")
        return value

    timeout = data.get("timeout", DEFAULT_TIMEOUT)
    if isinstance(timeout, bool) or not isinstance(timeout, int | float) or not (
            math.isfinite(timeout) and 0 < timeout <= MAX_TIMEOUT):
        raise BadOperation(f"timeout: expected seconds, more than 0 and at most {MAX_TIMEOUT:g}, got {timeout!r}")
    return Operation(
        kind=kind,
        amount=whole("amount", kind != "balance"),
        invoice=text("invoice", kind in (*SPENDING, "accrue", "accrual_return"), 32),
        invoice_total=whole("invoice_total", False),
        rrn=text("rrn", kind == "refund", 12),
        reference=text("reference", False, 32),
        timeout=float(timeout),
    )


@dataclass(frozen=True, slots=True)
class NoCard:
    """No card came within the time (``problem``: what was wrong with the reader, if anything)."""

    problem: str = ""


@dataclass(frozen=True, slots=True)
class Removed:
    reason: str


Presented = ReadResult | NoCard | Removed


class StationWorker:
    """One station: its reader, its thread, one operation at a time."""

    def __init__(self, station: Station, reader: CardReader, master_key: bytes, reactor: Any):
        self.station, self.reader, self.reactor = station, reader, reactor
        self._master_key = master_key
        self.pool = ThreadPool(1, 1, name=f"station-{station.terminal}")
        self.busy = False
        self.cancelled = Event()

    def start(self) -> None:
        self.pool.start()

    def stop(self) -> None:
        self.cancelled.set()
        self.pool.stop()
        self.reader.close()

    def present(self, timeout: float, cancel: Event) -> Deferred[Presented]:
        """Wait up to ``timeout`` seconds for a card and read it, in the station's thread."""
        return deferToThreadPool(self.reactor, self.pool, self._present, timeout, cancel)

    def _present(self, timeout: float, cancel: Event) -> Presented:
        try:
            if not self.reader.wait_for_card(timeout, cancel):
                return NoCard(self.reader.problem)
            try:
                return read_card(self.reader.transceive, self._master_key)
            finally:
                self.reader.release()
        except CardRemoved as error:
            return Removed(str(error))
        except ReaderError as error:
            return NoCard(str(error))


class StationService(Service):
    """The stations and the counter's HTTP interface, started and stopped with the daemon."""

    name = "stations"

    def __init__(self, config: Config, dispatcher: Dispatcher, resolve_uid: Callable[[str], Deferred[str | None]],
                 reactor: Any, readers: dict[str, CardReader] | None = None):
        self.config, self.dispatcher, self.resolve_uid, self.reactor = config, dispatcher, resolve_uid, reactor
        key = configuration.master_key(config)
        self.workers: dict[str, StationWorker] = {}
        for index, station in enumerate(config.stations):
            reader = (readers or {}).get(station.terminal)
            if reader is None:
                try:
                    reader = open_reader(station)
                except ReaderError as error:
                    raise ConfigError(f"{config.path}: stations[{index}].driver: {error}") from None
            self.workers[station.terminal] = StationWorker(station, reader, key, reactor)
        self.port: Any = None
        self.pending: set[Event] = set()

    def startService(self) -> None:
        super().startService()
        for worker in self.workers.values():
            worker.start()
        counter = self.config.counter
        self.port = self.reactor.listenTCP(counter.port, Site(CounterApi(self)), interface=counter.host)
        log.info("counter API on http://{host}:{port}/stations: {stations}", host=counter.host,
                 port=self.port.getHost().port,
                 stations=", ".join(f"{w.station.terminal} ({w.reader.description})" for w in self.workers.values()))

    @inlineCallbacks
    def stopService(self) -> Deferred[None]:
        super().stopService()
        for cancel in list(self.pending):
            cancel.set()
        if self.port is not None:
            yield self.port.stopListening()
        for worker in self.workers.values():
            worker.stop()

    @inlineCallbacks
    def operate(self, terminal: str, operation: Operation, cancel: Event) -> Deferred[tuple[int, dict[str, Any]]]:
        """Carry out ``operation`` at the station acting as ``terminal``: (HTTP status, JSON)."""
        worker = self.workers[terminal]
        if worker.busy:
            return 409, {"status": "busy", "message": f"station {terminal} is waiting for a card for another "
                                                        "operation; try again when it is done"}
        worker.busy = True
        self.pending.add(cancel)
        try:
            presented = yield worker.present(operation.timeout, cancel)
            answer = yield self._decide(worker, operation, presented, cancel)
        finally:
            worker.busy = False
            self.pending.discard(cancel)
        return answer

    @inlineCallbacks
    def _decide(self, worker: StationWorker, operation: Operation, presented: Presented,
                cancel: Event) -> Deferred[tuple[int, dict[str, Any]]]:
        terminal = worker.station.terminal
        if isinstance(presented, NoCard):
            why = "the operation was cancelled" if cancel.is_set() else (
                f"no card was presented at station {terminal} within {operation.timeout:g} s")
            detail = f" ({presented.problem})" if presented.problem else ""
            log.info("{terminal} {kind}: {why}{detail}", terminal=terminal, kind=operation.kind, why=why,
                     detail=detail)
            return 408, {"status": "timeout", "message": f"{why}{detail}; nothing moved"}
        if isinstance(presented, Removed):
            log.info("{terminal} {kind}: card removed while it was read: {reason}", terminal=terminal,
                     kind=operation.kind, reason=presented.reason)
            return 408, {"status": "timeout", "message": f"the card was taken away at station {terminal} before "
                                                         "it could be read; nothing moved: present it again"}
        if isinstance(presented, Unreadable):
            log.info("{terminal} {kind}: unreadable card: {reason}", terminal=terminal, kind=operation.kind,
                     reason=presented.reason)
            return 422, {"status": "unreadable", "message": f"not a club card ({presented.reason}); nothing moved"}
        if isinstance(presented, Counterfeit):
            reason = (f"counterfeit club card {mask_pan(presented.card_number)} at station {terminal}: "
                      f"{presented.reason}; nothing approved")
            log.warn("{reason}", reason=reason)
            outcome = yield self._record(terminal, Code.SECURITY_VIOLATION, reason)
            return 200, _decided(outcome, "smart card", mask_pan(presented.card_number))
        if isinstance(presented, UidTag):
            pan = yield self.resolve_uid(presented.uid)
            if pan is None:
                outcome = yield self._record(terminal, Code.UNKNOWN_CARD,
                                             f"UID tag {presented.uid} was not issued to any member")
                return 200, _decided(outcome, "uid tag", None)
            if operation.kind in SPENDING and not self.config.clubcard.uid_tags_redeem:
                outcome = yield self._record(terminal, Code.INVALID_TRANSACTION,
                                             f"UID tag of card {mask_pan(pan)} may earn but not redeem credit "
                                             "([clubcard] uid_tags_redeem = false)")
                return 200, _decided(outcome, "uid tag", mask_pan(pan))
            kind, number = "uid tag", pan
        else:
            assert isinstance(presented, Genuine)
            kind, number = "smart card", presented.card_number
        outcome = yield self.dispatcher.handle(operation.request(terminal, number), FAMILY)
        return 200, _decided(outcome, kind, mask_pan(number))

    def _record(self, terminal: str, code: Code, reason: str) -> Deferred[Outcome]:
        return self.dispatcher.handle(Malformed(terminal=terminal, code=code, reason=reason), FAMILY)


def _decided(outcome: Outcome, card_kind: str, card: str | None) -> dict[str, Any]:
    answer: dict[str, Any] = {
        "status": "decided",
        "approved": outcome.approved,
        "code": outcome.code.value,
        "amount": outcome.amount,
        "card": card,
        "card_kind": card_kind,
        "message": outcome.message,
    }
    for name in ("balance", "daily_remaining", "invoice_remaining", "rrn", "auth_code", "earned",
                 "points_earned", "points", "group", "discount"):
        value = getattr(outcome, name)
        if value is not None:
            answer[name] = value
    if outcome.limit is not None:
        answer["limit"] = outcome.limit.value
    return answer


class CounterApi(Resource):
    """``GET /stations``; ``POST /stations/<terminal>/operations``."""

    isLeaf = True

    def __init__(self, service: StationService):
        super().__init__()
        self.service = service

    def render_GET(self, request: Any) -> bytes:
        if request.postpath not in ([b"stations"], [b"stations", b""]):
            return _json(request, 404, {"status": "not found", "message": "GET /stations"})
        stations = [{"terminal": w.station.terminal, "branch": w.station.branch, "driver": w.station.driver,
                     "reader": w.station.reader, "busy": w.busy} for w in self.service.workers.values()]
        return _json(request, 200, {"stations": stations})

    def render_POST(self, request: Any) -> Any:
        path = request.postpath
        if len(path) != 3 or path[0] != b"stations" or path[2] != b"operations":
            return _json(request, 404, {"status": "not found", "message": "POST /stations/<terminal>/operations"})
        terminal = path[1].decode("utf-8", "replace")
        if terminal not in self.service.workers:
            return _json(request, 404, {"status": "not found", "message": f"no station acts as terminal {terminal!r}"})
        try:
            operation = parse_operation(request.content.read(MAX_BODY + 1)[:MAX_BODY])
        except BadOperation as error:
            return _json(request, 400, {"status": "bad request", "message": str(error)})
        cancel = Event()
        gone = {"yes": False}

        def disconnected(_: object) -> None:  # the counter gave up: stop waiting, answer nobody
            gone["yes"] = True
            cancel.set()

        request.notifyFinish().addErrback(disconnected)
        done = self.service.operate(terminal, operation, cancel)

        def answer(result: tuple[int, dict[str, Any]]) -> None:
            if not gone["yes"]:
                request.write(_json(request, *result))
                request.finish()

        def failed(failure: Any) -> None:
            log.failure("station {terminal}: the operation failed", failure, terminal=terminal)
            if not gone["yes"]:
                request.write(_json(request, 500, {"status": "error", "message": "the gateway failed; nothing moved"}))
                request.finish()

        done.addCallbacks(answer, failed)
        return NOT_DONE_YET


def _json(request: Any, status: int, body: dict[str, Any]) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"content-type", b"application/json")
    return json.dumps(body).encode() + b"\n"
