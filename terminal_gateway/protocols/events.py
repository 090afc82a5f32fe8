"""The one shape every host-side codec has, after h11: bytes in, events out; outcomes in,
bytes out. One piece of driver glue (``drivers.exchange``) serves every family through it.

    connection.receive_data(data)        bytes from the terminal (raises RemoteProtocolError)
    event = connection.next_event()      Decide | Answer | Unanswered | None (nothing yet)
    data = connection.send(event, outcome)  the response to a Decide, once it is decided
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..vocabulary import Outcome, Request

__all__ = ["Answer", "Decide", "Event", "HostConnection", "RemoteProtocolError", "StreamConnection", "Unanswered"]


class RemoteProtocolError(Exception):
    """The peer broke the protocol and its byte stream cannot be followed: close the link."""


@dataclass(frozen=True, slots=True)
class Decide:
    """A request for the gateway to decide; hand the event back to ``send`` with its outcome.
    Each codec subclasses it with what its answer must echo."""

    request: Request


@dataclass(frozen=True, slots=True)
class Answer:
    """Bytes to send at once, decided by the protocol alone (a ping, a repeat's stored answer)."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Unanswered:
    """Input the protocol cannot answer at all (not even who sent it); why, for the log."""

    reason: str


Event = Decide | Answer | Unanswered


class HostConnection(Protocol):
    """The gateway's end of one terminal link, whatever its family."""

    def receive_data(self, data: bytes) -> None:
        """Take bytes from the terminal; ``RemoteProtocolError`` when the link must close."""

    def next_event(self) -> Event | None:
        """The next thing to do, or ``None`` until more bytes arrive."""

    def send(self, event: Decide, outcome: Outcome) -> bytes:
        """The bytes answering ``event``."""


class StreamConnection(HostConnection, Protocol):
    """A codec over a byte stream (TCP), which may hold part of a message."""

    @property
    def partial(self) -> bool:
        """Whether received bytes wait for the rest of their message."""
