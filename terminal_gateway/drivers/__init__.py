"""Transports: TCP, serial, PC/SC and NFC readers. They move bytes, nothing else.

Each configured listener becomes an ``Endpoint``, made by the maker registered for its
protocol in ``MAKERS`` (imported only when a listener of that protocol is configured, so
a driver's optional dependency is needed only where it is used).
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from ..config import Config, Listener
    from ..daemon.dispatcher import Dispatcher

# protocol -> "module:function" making its Endpoint from (listener, config, dispatcher)
MAKERS = {
    "club8583": "terminal_gateway.drivers.tcp:club8583_endpoint",
    "smartpos": "terminal_gateway.drivers.smartpos:smartpos_endpoint",
    "cr200": "terminal_gateway.drivers.serial:cr200_endpoint",
}


class Endpoint(Protocol):
    """One listener as the daemon starts and stops it."""

    def start(self, reactor: Any) -> str:
        """Begin taking requests; a line for the log saying where."""

    def stop_listening(self) -> Any:
        """Take no new connections (a Deferred, or None); those open stay until ``disconnect``."""

    def disconnect(self) -> None:
        """Close what is still open, once every answer has gone out."""


def make_endpoint(listener: Listener, config: Config, dispatcher: Dispatcher) -> Endpoint:
    module, _, function = MAKERS[listener.protocol].partition(":")
    return getattr(import_module(module), function)(listener, config, dispatcher)
