"""Terminal keys at rest, and ``terminal show``.

A terminal's master key (loaded by the operator) and its current session key (made by the
gateway at a key change) are stored only wrapped, RFC 3394, under the key-encryption key
(KEK), which is never in the database; each row names its KEK by check value. The session
key is stored, not only kept in memory, so that a terminal's key survives a restart: the
terminal need not sign on and change keys again after every restart, and a restart between
a key change's commit and its answer cannot leave the gateway and the terminal on
different keys without either side knowing (the terminal repeats, and gets a new key).

Writers take the rows in one order and PostgreSQL's table lock where a KEK change could race
another write, so every row is always wrapped under one KEK. No function here logs or
raises with a key in it: only terminal ids and check values.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Row, delete, func, insert, select, update

from ..protocols.club8583.mac import InvalidUnwrap, check_value, unwrap_key, wrap_key
from .errors import StoreError
from .schema import terminal_keys, terminals, transactions

__all__ = ["Kek", "KekMismatch", "TerminalKeys", "install_session", "load_master", "read_all", "rotate", "show",
           "unwrap"]

SECURITY_VIOLATION = "63"
KEY_SIZES = (16, 32)


@dataclass(frozen=True, slots=True)
class Kek:
    """The key-encryption key, known by its check value (which reveals nothing of it)."""

    key: bytes = field(repr=False)

    @property
    def check(self) -> str:
        return check_value(self.key)


@dataclass(frozen=True, slots=True)
class TerminalKeys:
    """One terminal's keys, unwrapped: what the daemon holds in memory."""

    tid: str
    master: bytes = field(repr=False)
    session: bytes | None = field(repr=False)


class KekMismatch(StoreError):
    """The stored keys are wrapped under another KEK than the one given."""


def load_master(conn: Connection, tid: str, master: bytes, kek: Kek, now: datetime) -> str:
    """Store ``master`` as ``tid``'s master key (its session key is forgotten: the terminal
    changes keys again); its check value."""
    if len(master) not in KEY_SIZES:
        raise StoreError(f"a terminal master key is 16 or 32 bytes, not {len(master)}")
    _lock(conn)
    if conn.execute(select(terminals.c.tid).where(terminals.c.tid == tid)).first() is None:
        raise StoreError(f"terminal {tid} is not registered: add it with 'terminal-gateway terminal add'")
    _check_kek(conn, kek)
    conn.execute(delete(terminal_keys).where(terminal_keys.c.tid == tid))
    conn.execute(insert(terminal_keys).values(
        tid=tid, master_key=wrap_key(kek.key, master), master_check=check_value(master), session_key=None,
        session_check=None, kek_check=kek.check, master_loaded_at=now, session_changed_at=None, updated_at=now))
    return check_value(master)


def install_session(conn: Connection, tid: str, session: bytes, kek: Kek, now: datetime) -> None:
    """Make ``session`` ``tid``'s session key; ``KekMismatch`` when the row is wrapped under
    another KEK (it was rotated since ``kek`` was read)."""
    done = conn.execute(
        update(terminal_keys).where(terminal_keys.c.tid == tid, terminal_keys.c.kek_check == kek.check)
        .values(session_key=wrap_key(kek.key, session), session_check=check_value(session),
                session_changed_at=now, updated_at=now))
    if done.rowcount != 1:
        raise KekMismatch(f"the keys of terminal {tid} are not wrapped under KEK {kek.check} (rotated?)")


def read_all(conn: Connection) -> list[Row[Any]]:
    """Every terminal's row, still wrapped: cheap to compare with what was read before."""
    return list(conn.execute(select(terminal_keys.c.tid, terminal_keys.c.master_key, terminal_keys.c.session_key,
                                    terminal_keys.c.kek_check)))


def unwrap(row: Row[Any], keks: Mapping[str, Kek]) -> TerminalKeys:
    """A row of ``read_all`` unwrapped with the KEK of its check value among ``keks``."""
    kek = keks.get(row.kek_check)
    if kek is None:
        raise KekMismatch(f"the keys of terminal {row.tid} are wrapped under KEK {row.kek_check}, "
                          f"not under {', '.join(keks) or 'any KEK given'}")
    try:
        session = None if row.session_key is None else unwrap_key(kek.key, row.session_key)
        return TerminalKeys(row.tid, unwrap_key(kek.key, row.master_key), session)
    except InvalidUnwrap:
        raise StoreError(f"the keys of terminal {row.tid} do not unwrap under KEK {kek.check}: "
                         "the row is damaged") from None


def rotate(conn: Connection, old: Kek, new: Kek, now: datetime) -> int:
    """Re-wrap every stored key from ``old`` to ``new``, all or nothing; how many terminals."""
    _lock(conn)
    rows = conn.execute(select(terminal_keys.c.tid, terminal_keys.c.master_key, terminal_keys.c.session_key,
                               terminal_keys.c.kek_check).order_by(terminal_keys.c.tid).with_for_update()).all()
    for row in rows:
        keys = unwrap(row, {old.check: old})
        conn.execute(update(terminal_keys).where(terminal_keys.c.tid == row.tid).values(
            master_key=wrap_key(new.key, keys.master),
            session_key=None if keys.session is None else wrap_key(new.key, keys.session),
            kek_check=new.check, updated_at=now))
    return len(rows)


def show(conn: Connection, tid: str, now: datetime, days: int) -> dict[str, Any]:
    """``tid`` as JSON-able data for ``terminal show``: its keys' check values (never keys),
    its last key change, and its security events (code 63) of the last ``days`` days."""
    terminal = conn.execute(select(terminals).where(terminals.c.tid == tid)).first()
    if terminal is None:
        raise StoreError(f"terminal {tid} is not registered")
    keys = conn.execute(select(terminal_keys).where(terminal_keys.c.tid == tid)).first()
    since = now - timedelta(days=days)
    events = conn.execute(
        select(transactions.c.message, func.count(), func.max(transactions.c.at))
        .where(transactions.c.at >= since, transactions.c.terminal == tid,
               transactions.c.code == SECURITY_VIOLATION)
        .group_by(transactions.c.message)).all()
    last = max((at for _, _, at in events), default=None)
    return {
        "terminal": tid,
        "branch": terminal.branch,
        "signed_on": terminal.signed_on,
        "keys": None if keys is None else {
            "kek_check": keys.kek_check,
            "master_check": keys.master_check,
            "master_loaded_at": keys.master_loaded_at.isoformat(),
            "session_check": keys.session_check,
            "last_key_change": keys.session_changed_at.isoformat() if keys.session_changed_at else None,
        },
        "security_events": {
            "days": days,
            "count": sum(count for _, count, _ in events),
            "last_at": last.isoformat() if last else None,
            "by_reason": {message: count for message, count, _ in events},
        },
    }


def _check_kek(conn: Connection, kek: Kek) -> None:
    """Refuse a KEK other than the one the stored keys are wrapped under."""
    stored = conn.execute(select(terminal_keys.c.kek_check).limit(1)).scalar()
    if stored is not None and stored != kek.check:
        raise KekMismatch(f"the stored keys are wrapped under KEK {stored}, the configured KEK is {kek.check}")


def _lock(conn: Connection) -> None:
    """On PostgreSQL, one KEK-changing writer at a time (SQLite's write lock does this already)."""
    if conn.dialect.name == "postgresql":
        conn.exec_driver_sql("LOCK TABLE terminal_keys IN SHARE ROW EXCLUSIVE MODE")
