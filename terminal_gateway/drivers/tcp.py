"""Terminals over TCP (Club-8583, SmartPOS): connections on a Twisted server endpoint, their
bytes through their family's codec (``exchange.Exchange``).

One connection may carry several requests in flight; each answer is written when its
decision is durable, in whatever order that happens (terminals match their own ids).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.endpoints import serverFromString
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.python.failure import Failure

from ..config import Config, Listener
from ..families import terminal_family
from ..protocols import club8583, smartpos
from ..protocols.events import HostConnection, RemoteProtocolError
from ..vocabulary import TerminalFamily
from . import Gateway
from .exchange import Exchange
from .terminal_keys import keyed

__all__ = ["EndpointListener", "LinkFactory", "TCPListener", "club8583_listener", "smartpos_listener"]


class TerminalLink(Protocol):
    """A terminal's connection, known to its factory's ``connections`` while it is open, so
    that a stopping gateway can close what is left once every answer went out."""

    factory: LinkFactory
    exchange: Exchange

    def connectionMade(self) -> None:
        factory = self.factory
        factory.connections.add(self)
        self.exchange = Exchange(factory.new_connection(), factory.family, factory.gateway, self.answer, self.peer,
                                 factory.log)

    def connectionLost(self, reason: object = None) -> None:
        self.factory.connections.discard(self)

    def dataReceived(self, data: bytes) -> None:
        try:
            self.exchange.receive(data)
        except RemoteProtocolError as e:
            self.factory.log.warn("closing connection from {peer}: {reason}", peer=self.peer(), reason=str(e))
            self.transport.loseConnection()

    def answer(self, data: bytes) -> None:
        if self.transport is not None and self.connected:
            self.transport.write(data)

    def peer(self) -> str:
        peer = self.transport.getPeer() if self.transport else None
        return f"{peer.host}:{peer.port}" if peer is not None and hasattr(peer, "port") else str(peer)


class LinkFactory(Factory):
    """One listener's connections: each gets a codec connection from ``new_connection``."""

    noisy = False
    protocol = TerminalLink

    def __init__(self, new_connection: Callable[[], HostConnection], family: TerminalFamily, gateway: Gateway,
                 log: Logger) -> None:
        self.new_connection, self.family, self.gateway, self.log = new_connection, family, gateway, log
        self.connections: set[TerminalLink] = set()


class EndpointListener(Service):
    """A factory on the Twisted server endpoint ``description`` (``tcp:...``, ``ssl:...``);
    one that cannot listen (its port taken) fails the start at once."""

    def __init__(self, description: str, factory: Any, reactor: Any, what: str, log: Logger) -> None:
        self.description, self.factory, self.reactor, self.what, self.log = description, factory, reactor, what, log
        self.port: Any = None

    def startService(self) -> None:
        super().startService()
        listening = serverFromString(self.reactor, self.description).listen(self.factory)
        failed: list[Failure] = []
        listening.addCallbacks(self._listening, failed.append)
        if failed:
            failed[0].raiseException()

    def _listening(self, port: Any) -> None:
        self.port = port
        address = port.getHost()
        self.log.info("listening for {what} on {host}:{port}", what=self.what, host=address.host, port=address.port)

    def stopService(self) -> Any:
        super().stopService()
        return self.port.stopListening() if self.port is not None else None


class TCPListener(EndpointListener):
    """A listener of terminals: its connections are closed once every answer went out."""

    def __init__(self, listener: Listener, factory: LinkFactory, reactor: Any) -> None:
        super().__init__(listener.endpoint, factory, reactor,
                         f"{listener.protocol} terminals ({listener.profile})", factory.log)

    def disconnect(self) -> None:
        for link in list(self.factory.connections):
            link.transport.loseConnection()


def club8583_listener(listener: Listener, profile: club8583.Profile, config: Config, gateway: Gateway,
                      reactor: Any) -> TCPListener:
    codec = club8583.HostCodec(profile, config.program.currency)
    gateway, keys = keyed(profile, config, gateway, reactor)
    factory = LinkFactory(lambda: club8583.HostConnection(codec, keys), terminal_family(profile), gateway,
                          Logger(namespace="terminal_gateway.club8583"))
    return TCPListener(listener, factory, reactor)


def smartpos_listener(listener: Listener, profile: smartpos.Profile, config: Config, gateway: Gateway,
                      reactor: Any) -> TCPListener:
    factory = LinkFactory(lambda: smartpos.HostConnection(profile.max_message), terminal_family(profile), gateway,
                          Logger(namespace="terminal_gateway.smartpos"))
    return TCPListener(listener, factory, reactor)
