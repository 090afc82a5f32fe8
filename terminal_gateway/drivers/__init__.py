"""Transports: TCP, serial, PC/SC and NFC readers. They move bytes, nothing else.

A driver sees the gateway only as ``Gateway``: decide a request for a family, what a
terminal last asked, the business day of a branch. So a driver is tested with a fake, and
the dispatcher changes without touching drivers. Each configured listener becomes a service
made by its family's driver (``families.FAMILIES``).
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from twisted.internet.defer import Deferred

from .. import families
from ..vocabulary import Outcome, Request, TerminalFamily

if TYPE_CHECKING:
    from ..config import Config, Listener

__all__ = ["Gateway", "ListenerService", "make_listener"]


class Gateway(Protocol):
    """What a driver may ask of the gateway."""

    def handle(self, request: Request, family: TerminalFamily) -> Deferred[Outcome]:
        """Decide ``request``; the Deferred fires with the outcome once it is durable."""

    def remembered(self, terminal: str) -> Iterable[tuple[str, str, Outcome]]:
        """(key, kind, outcome) of the requests of ``terminal`` the gateway still remembers."""

    def business_day(self, branch: str, now: datetime) -> str:
        """The business day at ``branch`` that ``now`` (UTC) falls in."""

    def certificate_problem(self, terminal: str, issued: datetime) -> str | None:
        """Why a client certificate of ``terminal`` issued at ``issued`` is refused, if it is."""

    def source_problem(self, terminal: str, address: str) -> str | None:
        """Why ``terminal`` may not speak from ``address``, if its branch says where it may."""


class ListenerService(Protocol):
    """One listener, a Twisted service in the daemon's tree; stopping it only stops taking new
    connections, so that what is in flight can still be answered."""

    def setServiceParent(self, parent: Any) -> Any:
        """Join the daemon's service tree (started and stopped with it)."""

    def disconnect(self) -> None:
        """Close what is still open, once every answer has gone out."""


def make_listener(listener: Listener, config: Config, gateway: Gateway, reactor: Any) -> ListenerService:
    """The service of ``listener``, made by its family's driver with its firmware profile."""
    family = families.family(listener.protocol)
    assert family.load_profile is not None, f"{family.name} has no listeners"
    profile = family.load_profile(listener.profile, config.profiles_dirs)
    service: ListenerService = family.load_driver()(listener, profile, config, gateway, reactor)
    return service
