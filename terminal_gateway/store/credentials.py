"""Counter stations' credentials: ``station token TID`` issues a bearer token, ``station revoke
TID`` withdraws it, and the counter API checks each request's token here.

Only the token's SHA-256 is stored. A token is 256 random bits (``secrets.token_urlsafe(32)``),
so no dictionary or brute force reaches it through its hash: a slow, salted password hash
would add nothing but cost to every request, and an HMAC would need a key to keep beside it.
The daemon looks a token up per request (in a worker thread), so a new or revoked token
counts at once, without waiting for the change feed.
"""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime

from sqlalchemy import Connection, delete, insert, select

from .schema import station_tokens

TOKEN_BYTES = 32


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogateescape")).hexdigest()


def issue(conn: Connection, terminal: str, now: datetime) -> str:
    """A new token for the station acting as ``terminal``, replacing any it had; shown once."""
    token = secrets.token_urlsafe(TOKEN_BYTES)
    conn.execute(delete(station_tokens).where(station_tokens.c.terminal == terminal))
    conn.execute(insert(station_tokens).values(terminal=terminal, digest=digest(token), created_at=now))
    return token


def revoke(conn: Connection, terminal: str) -> bool:
    """Withdraw the station's token; whether it had one."""
    return conn.execute(delete(station_tokens).where(station_tokens.c.terminal == terminal)).rowcount > 0


def holder(conn: Connection, token: str) -> str | None:
    """The terminal whose station holds ``token``, or ``None``."""
    return conn.execute(select(station_tokens.c.terminal).where(station_tokens.c.digest == digest(token))).scalar()
