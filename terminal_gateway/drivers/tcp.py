"""Terminals over TCP (Club-8583, SmartPOS): connections on a Twisted server endpoint, their
bytes through their family's codec (``exchange.Exchange``).

One connection may carry several requests in flight; each answer is written when its
decision is durable, in whatever order that happens (terminals match their own ids).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from typing import Any

from twisted.application.service import Service
from twisted.internet.endpoints import serverFromString
from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger
from twisted.protocols.policies import TimeoutMixin
from twisted.python.failure import Failure

from ..config import Config, LinkLimits, Listener
from ..families import terminal_family
from ..protocols import club8583, smartpos
from ..protocols.events import RemoteProtocolError, StreamConnection
from ..vocabulary import TerminalFamily
from . import Gateway
from .exchange import Exchange
from .guard import LinkGuard
from .terminal_keys import keyed
from .tls import TlsFactory, peer_certificate, server_options

__all__ = ["EndpointListener", "LinkFactory", "TCPListener", "club8583_listener", "codec_listener", "smartpos_listener"]


class TerminalLink(TimeoutMixin, Protocol):
    """A terminal's connection, known to its factory's ``connections`` while it is open, so
    that a stopping gateway can close what is left once every answer went out.

    It is closed when it sends nothing for ``idle_seconds``, leaves part of a frame waiting
    for ``frame_seconds`` (a slow sender holds no connection for long), or sends too much
    that is refused (``guard.LinkGuard``)."""

    factory: LinkFactory
    exchange: Exchange
    _frame_timer: Any = None

    def connectionMade(self) -> None:
        factory = self.factory
        factory.opened(self)
        limits = factory.limits
        guard = LinkGuard(limits.max_bad_frames, self.address(), factory.concentrators.get(self.address()))
        self.codec = factory.new_connection()
        self.exchange = Exchange(self.codec, factory.family, factory.gateway, self.answer, self.peer, factory.log,
                                 guard, self.refuse)
        self.callLater = factory.reactor.callLater
        self.setTimeout(limits.idle_seconds)

    def connectionLost(self, reason: object = None) -> None:
        self.setTimeout(None)
        self._stop_frame_timer()
        self.factory.closed(self)

    def dataReceived(self, data: bytes) -> None:
        self.resetTimeout()
        if self.factory.require_certificate and self.exchange.guard.speaks_for is None and not self._bind():
            return
        try:
            self.exchange.receive(data)
        except RemoteProtocolError as e:
            self.refuse(str(e))
            return
        if not self.codec.partial:
            self._stop_frame_timer()
        elif self._frame_timer is None:
            self._frame_timer = self.callLater(self.factory.limits.frame_seconds, self.refuse,
                                               f"part of a frame waited {self.factory.limits.frame_seconds:g} s "
                                               "for the rest")

    def _bind(self) -> bool:
        """Bind the connection to the terminal its client certificate names (the handshake
        verified it against the CA); whether it may go on."""
        certificate = peer_certificate(self.transport)
        problem = "no client certificate" if certificate is None else self.factory.gateway.certificate_problem(
            certificate.terminal, certificate.issued)
        if problem is not None or certificate is None:
            self.refuse(problem or "no client certificate")
            return False
        self.exchange.guard.bind(certificate.terminal, "this connection's client certificate")
        return True

    def timeoutConnection(self) -> None:
        self.refuse(f"nothing received for {self.factory.limits.idle_seconds:g} s")

    def refuse(self, reason: str) -> None:
        self._stop_frame_timer()
        self.setTimeout(None)
        self.factory.log.warn("closing connection from {peer}: {reason}", peer=self.peer(), reason=reason)
        self.transport.loseConnection()

    def _stop_frame_timer(self) -> None:
        if self._frame_timer is not None and self._frame_timer.active():
            self._frame_timer.cancel()
        self._frame_timer = None

    def answer(self, data: bytes) -> None:
        if self.transport is not None and self.connected:
            self.transport.write(data)

    def address(self) -> str:
        peer = self.transport.getPeer() if self.transport else None
        return str(getattr(peer, "host", ""))

    def peer(self) -> str:
        peer = self.transport.getPeer() if self.transport else None
        return f"{peer.host}:{peer.port}" if peer is not None and hasattr(peer, "port") else str(peer)


class LinkFactory(Factory):
    """One listener's connections: each gets a codec connection from ``new_connection``, and
    an address gets at most ``limits.max_connections_per_address`` of them at once."""

    noisy = False
    protocol = TerminalLink

    def __init__(self, new_connection: Callable[[], StreamConnection], family: TerminalFamily, gateway: Gateway,
                 log: Logger, limits: LinkLimits, concentrators: dict[str, frozenset[str]], reactor: Any,
                 require_certificate: bool = False) -> None:
        self.new_connection, self.family, self.gateway, self.log = new_connection, family, gateway, log
        self.limits, self.concentrators, self.reactor = limits, concentrators, reactor
        self.require_certificate = require_certificate
        self.connections: set[TerminalLink] = set()
        self.per_address: Counter[str] = Counter()

    def buildProtocol(self, addr: Any) -> TerminalLink | None:
        host = str(getattr(addr, "host", ""))
        if self.per_address[host] >= self.limits.max_connections_per_address:
            self.log.warn("refusing a connection from {host}: it has {count} open already "
                          "(max_connections_per_address)", host=host, count=self.per_address[host])
            return None
        return super().buildProtocol(addr)

    def opened(self, link: TerminalLink) -> None:
        self.connections.add(link)
        self.per_address[link.address()] += 1

    def closed(self, link: TerminalLink) -> None:
        if link in self.connections:
            self.connections.discard(link)
            self.per_address[link.address()] -= 1
            if not self.per_address[link.address()]:
                del self.per_address[link.address()]


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
    """A listener of terminals, over TLS where it is configured; its connections are closed
    once every answer went out."""

    def __init__(self, listener: Listener, links: LinkFactory, reactor: Any) -> None:
        tls = listener.tls
        factory = links if tls is None else TlsFactory(server_options(tls), False, links)
        what = f"{listener.protocol} terminals ({listener.profile})" + ("" if tls is None else (
            " over TLS" + (" with client certificates" if tls.client_ca else "")))
        super().__init__(listener.endpoint, factory, reactor, what, links.log)
        self.links = links

    def disconnect(self) -> None:
        for link in list(self.links.connections):
            link.transport.loseConnection()


def codec_listener(listener: Listener, profile: Any, config: Config, gateway: Gateway, reactor: Any,
                   new_connection: Callable[[], StreamConnection]) -> TCPListener:
    """The listener of a TCP family: each connection gets its own codec from ``new_connection``."""
    factory = LinkFactory(new_connection, terminal_family(listener.protocol, profile), gateway,
                          Logger(namespace=f"terminal_gateway.{listener.protocol}"), listener.limits,
                          config.concentrators, reactor, bool(listener.tls and listener.tls.client_ca))
    return TCPListener(listener, factory, reactor)


def club8583_listener(listener: Listener, profile: club8583.Profile, config: Config, gateway: Gateway,
                      reactor: Any) -> TCPListener:
    codec = club8583.HostCodec(profile, config.program.currency)
    gateway, keys = keyed(profile, config, gateway, reactor)
    return codec_listener(listener, profile, config, gateway, reactor, lambda: club8583.HostConnection(codec, keys))


def smartpos_listener(listener: Listener, profile: smartpos.Profile, config: Config, gateway: Gateway,
                      reactor: Any) -> TCPListener:
    return codec_listener(listener, profile, config, gateway, reactor,
                          lambda: smartpos.HostConnection(profile.max_message))
