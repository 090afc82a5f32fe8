"""What a counter station needs of its card reader, whatever drives it (PC/SC, nfcpy).

Every call blocks: the station service makes them from a thread of the station's own, never
from the reactor. ``open_reader`` imports a driver only when a station of its kind is
configured, so pyscard and nfcpy are needed only where they are used (the ``pcsc`` and
``nfc`` extras).
"""

from __future__ import annotations

from threading import Event
from typing import TYPE_CHECKING, Protocol

from .. import families

if TYPE_CHECKING:
    from ..config import Station

POLL_SECONDS = 0.2  # how often a wait looks for a card (and whether it was cancelled)


class ReaderError(Exception):
    """The reader cannot be used (absent, unplugged, its service down); the message says why."""


class CardRemoved(ReaderError):
    """The card left the reader, or stopped answering, in the middle of a read."""


class DriverMissing(ReaderError):
    """The driver's Python library is not installed."""


class CardReader(Protocol):
    """One reader, with at most one card on it at a time."""

    description: str
    problem: str  # why the last wait found no card, where there was more to it than no card

    def wait_for_card(self, timeout: float, cancelled: Event) -> bool:
        """Block until a card is on the reader and connected (``True``), ``timeout`` seconds
        pass or ``cancelled`` is set (``False``). A reader that cannot be found is waited for
        too; ``ReaderError`` only where waiting cannot help."""

    def transceive(self, command: bytes) -> bytes:
        """Send a command APDU to the connected card, return its response APDU (with SW1 SW2).
        ``CardRemoved`` when the card is gone. ``FF CA 00 00 00`` answers the card's UID."""

    def release(self) -> None:
        """Let go of the card (it may stay on the reader)."""

    def close(self) -> None:
        """Let go of the reader."""


def open_reader(station: Station) -> CardReader:
    """The reader of ``station``; ``DriverMissing`` names the extra to install."""
    try:
        driver = families.family(station.driver).load_driver()
    except ImportError as error:
        raise DriverMissing(f"station {station.terminal}: {error}") from None
    reader: CardReader = driver(station.reader)
    return reader
