"""What a counter API request must show before anything is read or waited for: a ``Host``
that names this listener (against DNS rebinding), no foreign ``Origin`` (against a web page in
the counter PC's browser), a JSON body on POST (a cross-site form can send only
``text/plain`` and form types without a preflight), and a station's bearer token.

Pure functions of the request's headers; the driver asks them in this order and answers the
first refusal.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Collection
from dataclasses import dataclass

from .answers import Reply, forbidden, misdirected, unauthorized, unsupported_media

__all__ = ["Listener", "bearer_token", "no_credential", "refusal"]

LOOPBACK_NAMES = ("localhost",)
_TOKEN68 = re.compile(r"[A-Za-z0-9._~+/-]+=*")  # RFC 6750's b64token


@dataclass(frozen=True, slots=True)
class Listener:
    """Where a request arrived (the local address of its connection) and what the configuration
    allows besides: other names for this host, and origins of web pages that may ask."""

    address: str
    port: int
    host_names: Collection[str] = ()
    allowed_origins: Collection[str] = ()

    def names(self) -> set[str]:
        own = {self.address.lower(), f"[{self.address.lower()}]", *self.host_names}
        if _is_loopback(self.address):
            own.update(LOOPBACK_NAMES)
        return own


def refusal(method: str, host: str | None, origin: str | None, content_type: str | None,
            listener: Listener) -> Reply | None:
    """Why the request is refused before its credential is checked, or ``None``."""
    if not host:
        return Reply(400, {"status": "bad request", "message": "the Host header is required"})
    name, port = _split_host(host)
    if name not in listener.names() or (port is not None and port != listener.port):
        return misdirected(f"this is not the counter API of {host!r}: ask {listener.address}:{listener.port} "
                           "or a name in [counter] host_names")
    if origin is not None and origin.lower() not in listener.allowed_origins:
        return forbidden(f"requests from web pages of {origin!r} are not allowed ([counter] allowed_origins)")
    if method == "POST" and _media_type(content_type) != "application/json":
        return unsupported_media(f"the body must be Content-Type: application/json, got {content_type!r}")
    return None


def bearer_token(authorization: str | None) -> str | None:
    """The token of an ``Authorization: Bearer <token>`` header, or ``None``."""
    scheme, _, token = (authorization or "").strip().partition(" ")
    token = token.strip()
    return token if scheme.lower() == "bearer" and _TOKEN68.fullmatch(token) else None


def no_credential(terminal: str | None, why: str) -> Reply:
    station = f"station {terminal}" if terminal else "a station"
    return unauthorized(f"{why}: send Authorization: Bearer <token> with the token of {station} "
                        "('terminal-gateway station token TID'); nothing was done")


def _split_host(host: str) -> tuple[str, int | None]:
    """``Host`` as (lower-case name, port or ``None``); an IPv6 literal keeps its brackets."""
    host = host.strip().lower()
    if host.startswith("["):
        name, _, rest = host.partition("]")
        name, port = name + "]", rest.removeprefix(":")
    else:
        name, _, port = host.partition(":")
    if not port:
        return name, None
    return name, int(port) if port.isdigit() else -1


def _media_type(content_type: str | None) -> str:
    return (content_type or "").partition(";")[0].strip().lower()


def _is_loopback(address: str) -> bool:
    try:
        return ipaddress.ip_address(address.strip("[]")).is_loopback
    except ValueError:
        return False
