"""Club-8583 terminals over TCP: the transport edge, where bytes meet the codec.

One connection may carry several requests in flight; each answer is written when its
decision is durable, in whatever order that happens (terminals match DE41 + DE11).
"""

from __future__ import annotations

from typing import Any

from twisted.internet.protocol import Factory, Protocol
from twisted.logger import Logger

from ..config import Config, Listener
from ..daemon.dispatcher import Dispatcher
from ..protocols.club8583 import HostCodec, Profile, ResponseContext, Undecodable, load_profile
from ..protocols.framing import FrameBuffer, FramingError
from ..vocabulary import Malformed, Outcome, TerminalFamily

log = Logger(namespace="terminal_gateway.club8583")


class TerminalConnection(Protocol):
    """A terminal's connection, known to its factory's ``connections`` while it is open, so
    that a stopping gateway can close what is left once every answer went out."""

    factory: Any
    log: Logger = log

    def connectionMade(self) -> None:
        self.factory.connections.add(self)

    def connectionLost(self, reason: object = None) -> None:
        self.factory.connections.discard(self)

    def refuse(self, reason: str) -> None:
        """The byte stream cannot be followed any more: say why, and close."""
        self.log.warn("closing connection from {peer}: {reason}", peer=self.peer(), reason=reason)
        self.transport.loseConnection()

    def answer(self, data: bytes) -> None:
        if self.transport is not None and self.connected:
            self.transport.write(data)

    def peer(self) -> str:
        peer = self.transport.getPeer() if self.transport else None
        return f"{peer.host}:{peer.port}" if peer is not None and hasattr(peer, "port") else str(peer)


class Club8583Protocol(TerminalConnection):
    def __init__(self, factory: Club8583Factory):
        self.factory = factory
        self.frames = FrameBuffer(factory.profile.header, factory.profile.max_frame)

    def dataReceived(self, data: bytes) -> None:
        try:
            bodies = self.frames.feed(data)
        except FramingError as e:
            self.refuse(str(e))
            return
        for body in bodies:
            self._receive(body)

    def _receive(self, body: bytes) -> None:
        codec = self.factory.codec
        try:
            decoded = codec.decode(body)
        except Undecodable as e:
            log.warn("undecodable frame from {peer} ({size} bytes): {reason}", peer=self.peer(),
                     size=len(body), reason=str(e))
            return
        request = decoded.request
        if request is None:
            doc = decoded.context.echo
            request = Malformed(terminal=doc.get("41", "").rstrip(), code=decoded.error, reason=decoded.reason)
        answer = self.factory.dispatcher.handle(request, self.factory.family)
        answer.addCallback(self._respond, decoded.context)

    def _respond(self, outcome: Outcome, context: ResponseContext) -> None:
        self.answer(self.frames.frame(self.factory.codec.encode(context, outcome)))


class Club8583Factory(Factory):
    """One listener: a firmware profile, its codec, and the shared dispatcher."""

    noisy = False

    def __init__(self, profile: Profile, codec: HostCodec, dispatcher: Dispatcher):
        self.profile, self.codec, self.dispatcher = profile, codec, dispatcher
        self.family = TerminalFamily(profile.name, profile.partial_approval, profile.signon_required)
        self.connections: set[Club8583Protocol] = set()

    def buildProtocol(self, addr: object) -> Club8583Protocol:
        return Club8583Protocol(self)


class TCPEndpoint:
    """A TCP listener for a factory that keeps its open ``connections``; any protocol's."""

    def __init__(self, listener: Listener, factory: Any):
        self.listener, self.factory = listener, factory
        self.port: Any = None

    def start(self, reactor: Any) -> str:
        self.port = reactor.listenTCP(self.listener.port, self.factory, interface=self.listener.host)
        address = self.port.getHost()
        return (f"listening for {self.listener.protocol} terminals ({self.listener.profile}) "
                f"on {address.host}:{address.port}")

    def stop_listening(self) -> Any:
        return self.port.stopListening() if self.port is not None else None

    def disconnect(self) -> None:
        for connection in list(self.factory.connections):
            connection.transport.loseConnection()


def club8583_endpoint(listener: Listener, config: Config, dispatcher: Dispatcher) -> TCPEndpoint:
    profile = load_profile(listener.profile, config.profiles_dirs)
    return TCPEndpoint(listener, Club8583Factory(profile, HostCodec(profile, config.program.currency), dispatcher))
