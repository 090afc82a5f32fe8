"""A counter station's reader, driven from a thread of its own: wait for a card and read it.

A reader's calls block (``cardreader.CardReader``), so each station has one thread for them;
the reactor only hears what was presented.
"""

from __future__ import annotations

from dataclasses import dataclass
from threading import Event
from typing import TYPE_CHECKING, Any

from twisted.internet.defer import Deferred
from twisted.internet.threads import deferToThreadPool
from twisted.python.threadpool import ThreadPool

from ..protocols.clubcard import ReadResult, read_card
from .cardreader import CardReader, CardRemoved, ReaderError

if TYPE_CHECKING:
    from ..config import Station

__all__ = ["NoCard", "Presented", "Removed", "StationWorker"]


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
