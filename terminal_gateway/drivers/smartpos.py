"""SmartPOS terminals over TCP: the transport edge, where bytes meet the SmartPOS codec.

One connection may carry several requests in flight; each answer is written when its
decision is durable, in whatever order that happens (terminals match ``request_id``).
"""

from __future__ import annotations

from twisted.internet.protocol import Factory
from twisted.logger import Logger

from ..config import Config, Listener
from ..daemon.dispatcher import Dispatcher
from ..protocols.smartpos import HostConnection, Profile, Received, RemoteProtocolError, load_profile
from ..vocabulary import Outcome
from .tcp import TCPEndpoint, TerminalConnection

log = Logger(namespace="terminal_gateway.smartpos")


class SmartPOSProtocol(TerminalConnection):
    log = log

    def __init__(self, factory: SmartPOSFactory):
        self.factory = factory
        self.codec = HostConnection(factory.profile.max_message)

    def dataReceived(self, data: bytes) -> None:
        try:
            requests = self.codec.receive_data(data)
        except RemoteProtocolError as e:
            self.refuse(str(e))
            return
        for received in requests:
            answer = self.factory.dispatcher.handle(received.request, self.factory.family)
            answer.addCallback(self._respond, received)

    def _respond(self, outcome: Outcome, received: Received) -> None:
        self.answer(self.codec.send(received, outcome))


class SmartPOSFactory(Factory):
    """One listener: a SmartPOS firmware profile and the shared dispatcher."""

    noisy = False

    def __init__(self, profile: Profile, dispatcher: Dispatcher):
        self.profile, self.dispatcher = profile, dispatcher
        self.family = profile.family
        self.connections: set[SmartPOSProtocol] = set()

    def buildProtocol(self, addr: object) -> SmartPOSProtocol:
        return SmartPOSProtocol(self)


def smartpos_endpoint(listener: Listener, config: Config, dispatcher: Dispatcher) -> TCPEndpoint:
    return TCPEndpoint(listener, SmartPOSFactory(load_profile(listener.profile, config.profiles_dirs), dispatcher))
