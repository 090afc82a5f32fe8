"""Counter stations: the counter software asks, over the counter API (``drivers.counter``),
for an operation at a station; the station waits for the next card on its reader
(``drivers.station``), reads and authenticates it (``protocols.clubcard``), and the operation
is decided through the dispatcher like any terminal's request (``protocols.counter``).

A station's bearer token is looked up in the store for each request (``token_holder``, in a
worker thread): counter requests come at a person's pace, and a token issued or revoked by
the operator counts from the next request, without waiting for the change feed.

A counterfeit club card (its answer to the challenge is wrong) is declined 63 and journalled
as a ``Malformed`` request (kind ``malformed``, code 63, its masked card number and why in the
message). So is a UID tag nobody was issued (14) and a UID tag asked to redeem where the
program lets UID tags only earn (12).
"""

from __future__ import annotations

from collections.abc import Callable
from threading import Event
from typing import Any

from twisted.application.service import MultiService
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.logger import Logger

from .. import config as configuration
from ..config import Config, ConfigError
from ..drivers import Gateway
from ..drivers.cardreader import CardReader, ReaderError, open_reader
from ..drivers.counter import counter_listener
from ..drivers.station import NoCard, Presented, Removed, StationWorker
from ..families import STATION
from ..protocols import counter
from ..protocols.clubcard import Counterfeit, Genuine, UidTag, Unreadable
from ..protocols.counter import Operation, Reply
from ..vocabulary import Code, Malformed, Outcome, mask_pan

log = Logger(namespace="terminal_gateway.stations")


class StationService(MultiService):
    """The stations and the counter's HTTP interface, started and stopped with the daemon."""

    name = "stations"

    def __init__(self, config: Config, gateway: Gateway, resolve_uid: Callable[[str], Deferred[str | None]],
                 token_holder: Callable[[str], Deferred[str | None]], reactor: Any,
                 readers: dict[str, CardReader] | None = None):
        super().__init__()
        self.config, self.gateway, self.resolve_uid, self.holder = config, gateway, resolve_uid, token_holder
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
        self.pending: set[Event] = set()
        counter_listener(config.counter, self, reactor).setServiceParent(self)

    def startService(self) -> None:
        for worker in self.workers.values():
            worker.start()
        super().startService()
        log.info("stations: {stations}",
                 stations=", ".join(f"{w.station.terminal} ({w.reader.description})" for w in self.workers.values()))

    @inlineCallbacks
    def stopService(self) -> Deferred[None]:
        for cancel in list(self.pending):
            cancel.set()
        yield super().stopService()
        for worker in self.workers.values():
            worker.stop()

    # -- drivers.counter.Counter --------------------------------------------------------------

    def serves(self, terminal: str) -> bool:
        return terminal in self.workers

    def listing(self) -> list[dict[str, Any]]:
        return [{"terminal": w.station.terminal, "branch": w.station.branch, "driver": w.station.driver,
                 "reader": w.station.reader, "busy": w.busy} for w in self.workers.values()]

    @inlineCallbacks
    def operate(self, terminal: str, operation: Operation, cancel: Event) -> Deferred[Reply]:
        """Carry out ``operation`` at the station acting as ``terminal``."""
        worker = self.workers[terminal]
        if worker.busy:
            return counter.busy(terminal)
        worker.busy = True
        self.pending.add(cancel)
        try:
            presented = yield worker.present(operation.timeout, cancel)
            reply = yield self._decide(terminal, operation, presented, cancel)
        finally:
            worker.busy = False
            self.pending.discard(cancel)
        return reply

    @inlineCallbacks
    def _decide(self, terminal: str, operation: Operation, presented: Presented,
                cancel: Event) -> Deferred[Reply]:
        if isinstance(presented, NoCard):
            why = "the operation was cancelled" if cancel.is_set() else (
                f"no card was presented at station {terminal} within {operation.timeout:g} s")
            detail = f" ({presented.problem})" if presented.problem else ""
            log.info("{terminal} {kind}: {why}{detail}", terminal=terminal, kind=operation.kind, why=why,
                     detail=detail)
            return counter.no_card(f"{why}{detail}")
        if isinstance(presented, Removed):
            log.info("{terminal} {kind}: card removed while it was read: {reason}", terminal=terminal,
                     kind=operation.kind, reason=presented.reason)
            return counter.removed(terminal)
        if isinstance(presented, Unreadable):
            log.info("{terminal} {kind}: unreadable card: {reason}", terminal=terminal, kind=operation.kind,
                     reason=presented.reason)
            return counter.unreadable(presented.reason)
        if isinstance(presented, Counterfeit):
            reason = (f"counterfeit club card {mask_pan(presented.card_number)} at station {terminal}: "
                      f"{presented.reason}; nothing approved")
            log.warn("{reason}", reason=reason)
            outcome = yield self._record(terminal, Code.SECURITY_VIOLATION, reason)
            return counter.decided(outcome, "smart card", mask_pan(presented.card_number))
        if isinstance(presented, UidTag):
            pan = yield self.resolve_uid(presented.uid)
            if pan is None:
                outcome = yield self._record(terminal, Code.UNKNOWN_CARD,
                                             f"UID tag {presented.uid} was not issued to any member")
                return counter.decided(outcome, "uid tag", None)
            if operation.kind in counter.SPENDING and not self.config.clubcard.uid_tags_redeem:
                outcome = yield self._record(terminal, Code.INVALID_TRANSACTION,
                                             f"UID tag of card {mask_pan(pan)} may earn but not redeem credit "
                                             "([clubcard] uid_tags_redeem = false)")
                return counter.decided(outcome, "uid tag", mask_pan(pan))
            kind, number = "uid tag", pan
        else:
            assert isinstance(presented, Genuine)
            kind, number = "smart card", presented.card_number
        outcome = yield self.gateway.handle(operation.request(terminal, number), STATION)
        return counter.decided(outcome, kind, mask_pan(number))

    def _record(self, terminal: str, code: Code, reason: str) -> Deferred[Outcome]:
        return self.gateway.handle(Malformed(terminal=terminal, code=code, reason=reason), STATION)
