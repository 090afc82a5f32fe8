"""Registering terminals: ``terminal add`` and ``terminal import`` are one code path."""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, update

from . import changes
from .checks import ans_problem
from .errors import StoreError
from .reads import existing
from .schema import terminals

TID_LENGTH = 8  # DE41, ans 8
BRANCH_LENGTH = 15  # DE42, ans 15


@dataclass(frozen=True, slots=True)
class NewTerminal:
    tid: str
    branch: str
    where: str = ""  # which row a message is about, e.g. "terminals.csv line 3: "
    family: str | None = None  # the only family it may speak as (club8583, smartpos, cr200, station)


def register(conn: Connection, new: Sequence[NewTerminal], now: datetime, families: Collection[str] = ()) -> int:
    """Insert the terminals (all or, raising ``StoreError``, none); how many. A terminal's
    family, where it names one, must be one of ``families``."""
    taken = set(existing(conn, terminals.c.tid, terminals.c.branch, [t.tid for t in new]))
    for terminal in new:
        problem = (ans_problem("terminal id", terminal.tid, TID_LENGTH)
                   or ans_problem("branch", terminal.branch, BRANCH_LENGTH)
                   or (f"terminal {terminal.tid} is already registered" if terminal.tid in taken else None)
                   or (f"family {terminal.family!r}: expected one of {', '.join(families)}"
                       if terminal.family is not None and terminal.family not in families else None))
        if problem:
            raise StoreError(terminal.where + problem)
        taken.add(terminal.tid)
    if new:
        conn.execute(insert(terminals), [{"tid": t.tid, "branch": t.branch, "signed_on": False, "batch_seq": 1,
                                          "created_at": now, "family": t.family} for t in new])
    changes.append(conn, "terminal", [t.tid for t in new], now)
    return len(new)


def revoke_certificates(conn: Connection, tid: str, now: datetime) -> None:
    """Refuse, from ``now`` on, every client certificate issued to ``tid`` so far."""
    if not conn.execute(update(terminals).where(terminals.c.tid == tid).values(certificates_from=now)).rowcount:
        raise StoreError(f"terminal {tid} is not registered")
    changes.append(conn, "terminal", [tid], now)
