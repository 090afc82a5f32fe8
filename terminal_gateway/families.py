"""Every terminal family the gateway speaks, one row each.

Configuration validation, the daemon's service tree and the counter stations all read this
table, so adding a family is one row here, its codec under ``protocols/``, its driver under
``drivers/`` and its firmware profile files. A driver is named as ``"module:callable"`` and
imported only when a listener or station of its family is configured, so a driver's optional
library (pyscard, nfcpy) is needed only where it is used.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from enum import StrEnum
from importlib import import_module
from os import PathLike
from typing import Any

from .protocols import club8583, cr200, smartpos
from .vocabulary import TerminalFamily

__all__ = ["FAMILIES", "STATION", "Family", "Transport", "family", "names", "terminal_family"]

# Counter stations decide as one family whatever their reader: no sign-on, partial approval.
STATION = TerminalFamily("station", partial_approval=True, signon_required=False, protocol="station")


class Transport(StrEnum):
    TCP = "tcp"  # a listener on a Twisted server endpoint (host and port, or an endpoint description)
    SERIAL = "serial"  # one reader on one serial device, acting as one terminal
    CARD_READER = "card reader"  # a counter station's PC/SC or NFC reader, asked through the counter API


ProfileLoader = Callable[[str, Iterable[str | PathLike[str]]], Any]


@dataclass(frozen=True, slots=True)
class Family:
    """``name`` is a listener's ``protocol``, a profile file's ``family`` or a station's
    ``driver``; ``driver`` makes its listener service (``drivers.ListenerMaker``) or, for a
    card reader, its ``drivers.cardreader.CardReader``; ``extra`` is the pip extra that brings
    the ``library`` the driver needs."""

    name: str
    transport: Transport
    driver: str
    load_profile: ProfileLoader | None = None
    extra: str | None = None
    library: str | None = None

    def load_driver(self) -> Any:
        """The driver's callable; ``ImportError`` names the extra to install."""
        if self.library is not None:
            try:
                import_module(self.library)
            except ImportError as error:
                raise ImportError(f"the {self.name} driver needs the Python package of the '{self.extra}' extra "
                                  f"({error}): pip install 'terminal-gateway[{self.extra}]'") from None
        module, _, name = self.driver.partition(":")
        return getattr(import_module(module), name)


FAMILIES: tuple[Family, ...] = (
    Family(club8583.FAMILY, Transport.TCP, "terminal_gateway.drivers.tcp:club8583_listener", club8583.load_profile),
    Family(smartpos.FAMILY, Transport.TCP, "terminal_gateway.drivers.tcp:smartpos_listener", smartpos.load_profile),
    Family(cr200.FAMILY, Transport.SERIAL, "terminal_gateway.drivers.serial:cr200_listener", cr200.load_profile),
    Family("pcsc", Transport.CARD_READER, "terminal_gateway.drivers.pcsc:PcscReader", extra="pcsc",
           library="smartcard"),
    Family("nfc", Transport.CARD_READER, "terminal_gateway.drivers.nfc:NfcReader", extra="nfc", library="nfc"),
)


def family(name: str) -> Family:
    return next(each for each in FAMILIES if each.name == name)


def names(*transports: Transport) -> tuple[str, ...]:
    """The families that travel over one of ``transports``, in the table's order."""
    return tuple(each.name for each in FAMILIES if each.transport in transports)


def terminal_family(protocol: str, profile: Any) -> TerminalFamily:
    """What the rule core must know of a terminal's firmware (every profile says it)."""
    return TerminalFamily(profile.name, profile.partial_approval, profile.signon_required, protocol)


def bindable() -> tuple[str, ...]:
    """The families a terminal can be registered for: those of listeners, and the stations."""
    return (*names(Transport.TCP, Transport.SERIAL), STATION.protocol or "station")
