"""The audit trail: who changed value or keys from the command line, what, on what, and how it
ended. A change's row is written in the change's own transaction, so the two commit or roll
back together; a refused command gets a row of its own saying why."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select

from .schema import audit


@dataclass(frozen=True, slots=True)
class Audited:
    """The command being run: the operating-system user, the command's words, its target (card
    numbers masked, never a key, PIN or token)."""

    os_user: str
    command: str
    target: str


@dataclass(frozen=True, slots=True)
class AuditRow:
    at: datetime
    os_user: str
    command: str
    target: str
    outcome: str


def record(conn: Connection, command: Audited, outcome: str, now: datetime) -> None:
    conn.execute(insert(audit).values(at=now, os_user=command.os_user, command=command.command,
                                      target=command.target, outcome=outcome))


def since(conn: Connection, start: datetime | None) -> list[AuditRow]:
    """The trail from ``start`` (everything when ``None``), oldest first."""
    query = select(audit.c.at, audit.c.os_user, audit.c.command, audit.c.target, audit.c.outcome).order_by(audit.c.id)
    if start is not None:
        query = query.where(audit.c.at >= start)
    return [AuditRow(*row) for row in conn.execute(query)]
