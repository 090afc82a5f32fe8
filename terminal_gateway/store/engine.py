"""Engines with the settings the gateway relies on, and its two kinds of transaction.

SQLite: WAL (readers never wait for the writer), ``synchronous=FULL`` (a commit survives a
power cut), a 10 s busy timeout (the CLI and the daemon share the file), foreign keys on.
SQLAlchemy, not the ``sqlite3`` module, emits BEGIN, so that a read transaction is a snapshot
and a write transaction takes the write lock at once (``BEGIN IMMEDIATE``): a deferred one
that upgrades from reading fails at once instead of waiting out the busy timeout.

A new SQLite file is created readable and writable by its owner only (0600): it holds the
members' card numbers and the journal. SQLite gives its WAL and shared-memory files the
database file's mode.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, NoSuchModuleError

from .errors import StoreError

SQLITE_PRAGMAS = ("journal_mode=WAL", "synchronous=FULL", "busy_timeout=10000", "foreign_keys=ON")
_WRITE = "terminal_gateway_write"


@dataclass(frozen=True, slots=True)
class WriteTimeouts:
    """How long the writer's connection waits, in seconds: for a lock, for any statement
    (its commit included), and for a decision to become durable (see ``daemon/writer.py``)."""

    lock: float
    statement: float
    commit: float

    @property
    def commit_window(self) -> float:
        """The latest a commit may begin after its oldest decision was made, so that it
        ends, one way or the other, within ``commit`` of it."""
        return self.commit - self.statement


def make_engine(url: str, timeouts: WriteTimeouts | None = None) -> Engine:
    """An engine for ``url``; ``postgresql://`` means psycopg 3. With ``timeouts`` (the
    writer's), PostgreSQL's ``lock_timeout`` and ``statement_timeout`` are set on every
    connection, and SQLite's busy timeout is the lock timeout."""
    try:
        parsed = make_url(url)
        if parsed.drivername in ("postgres", "postgresql"):
            parsed = parsed.set(drivername="postgresql+psycopg")
        if parsed.get_backend_name() == "sqlite":
            return _sqlite_engine(parsed, timeouts)
        bounded = {} if timeouts is None else {"options": f"-c lock_timeout={_ms(timeouts.lock)} "
                                                          f"-c statement_timeout={_ms(timeouts.statement)}"}
        return create_engine(parsed, hide_parameters=True, pool_pre_ping=True, connect_args=bounded)
    except (ArgumentError, NoSuchModuleError, ImportError) as e:
        raise StoreError(f"the store URL is not usable: {type(e).__name__}: {str(e).splitlines()[0]}") from None


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _sqlite_engine(url: URL, timeouts: WriteTimeouts | None) -> Engine:
    if url.database and url.database != ":memory:" and not url.database.startswith("file:"):
        folder = Path(url.database).parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise StoreError(f"cannot create the database folder {folder}: {e.strerror}") from None
        _create_private(Path(url.database))
    engine = create_engine(url, hide_parameters=True)
    pragmas = SQLITE_PRAGMAS if timeouts is None else (*SQLITE_PRAGMAS, f"busy_timeout={_ms(timeouts.lock)}")
    event.listen(engine, "connect", partial(_sqlite_connect, pragmas))
    event.listen(engine, "begin", _sqlite_begin)
    return engine


def _create_private(path: Path) -> None:
    """Create the database file 0600 unless it exists (an empty file is an empty database)."""
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
    except FileExistsError:
        pass
    except OSError as e:
        raise StoreError(f"cannot create the database file {path}: {e.strerror}") from None


def _sqlite_connect(pragmas: tuple[str, ...], dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the begin event below emits BEGIN
    cursor = dbapi_connection.cursor()
    for pragma in pragmas:
        cursor.execute(f"PRAGMA {pragma}")
    cursor.close()


def _sqlite_begin(connection: Connection) -> None:
    connection.exec_driver_sql("BEGIN IMMEDIATE" if connection.get_execution_options().get(_WRITE) else "BEGIN")


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """One read-write transaction: committed at the end, rolled back on any error."""
    with engine.connect() as connection:
        connection.execution_options(**{_WRITE: True})
        with connection.begin():
            yield connection


@contextmanager
def snapshot(engine: Engine) -> Iterator[Connection]:
    """One read transaction in which every query sees the database as of the first one."""
    with engine.connect() as connection:
        if connection.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ", postgresql_readonly=True)
        with connection.begin():
            yield connection
