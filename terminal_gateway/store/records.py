"""Decision records into the journal, in two steps: ``prepare`` and ``write``.

A record is one ``transactions`` row with its replayable effects as JSON; the effects that
are not replayed become rows of their own: a ``Posting`` a ``postings`` row (lot balances are
summed from those), a ``Session`` the terminal's ``signed_on``, a ``BatchClosed`` a
``batches`` row and the terminal's next ``batch_seq``.

``prepare`` is pure Python and runs where the decision is made, so the rows say what was
decided even if later decisions change the ledger before the commit. ``write`` hands whole
batches of plain tuples to the database driver in a few multi-row statements, so that the
writer thread hardly competes with the reactor for the GIL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table, bindparam, func, select, text

from ..rules.core import Record
from ..rules.effects import BatchClosed, Posting, Session
from . import journal
from .schema import batches, postings, terminals, transactions

TRANSACTION_COLUMNS = (
    "id", "at", "kind", "terminal", "branch", "key", "repeat", "card", "account_id", "requested", "approved",
    "code", "binding_limit", "rrn", "auth_code", "invoice", "day", "ref", "message", "effects",
)
POSTING_COLUMNS = ("transaction_id", "lot_id", "account_id", "delta")
MAX_PARAMETERS = 999


@dataclass(slots=True)
class Prepared:
    """The rows of some records, short of their journal ids (given when written).

    ``postings`` and ``closed`` rows start with the index of their record in ``rows``.
    """

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    postings: list[tuple[Any, ...]] = field(default_factory=list)
    signed_on: dict[str, bool] = field(default_factory=dict)
    closed: list[tuple[int, dict[str, Any]]] = field(default_factory=list)


def prepare(records: Sequence[Record]) -> Prepared:
    prepared = Prepared()
    for index, record in enumerate(records):
        replayed = []
        for effect in record.effects:
            if type(effect).replayed:
                replayed.append(effect)
            elif isinstance(effect, Posting):
                prepared.postings.append((index, effect.lot_id, effect.account_id, effect.delta))
            elif isinstance(effect, Session):
                prepared.signed_on[effect.terminal] = effect.signed_on
            if isinstance(effect, BatchClosed):
                prepared.closed.append((index, _batch(record, effect)))
        prepared.rows.append(_transaction(record, journal.encode(replayed) if replayed else None))
    return prepared


def write(conn: Connection, batch: Sequence[Prepared]) -> None:
    """Insert every prepared record of ``batch`` in the order given, in one transaction."""
    count = sum(len(prepared.rows) for prepared in batch)
    if not count:
        return
    ids = iter(_new_ids(conn, count))
    sqlite = conn.dialect.name == "sqlite"
    rows, posted, signed_on, closed = [], [], {}, []
    for prepared in batch:
        own = [next(ids) for _ in prepared.rows]
        rows.extend((own[i], _stamp(row[0], sqlite), *row[1:]) for i, row in enumerate(prepared.rows))
        posted.extend((own[index], *rest) for index, *rest in prepared.postings)
        signed_on.update(prepared.signed_on)
        closed.extend({**row, "transaction_id": own[index]} for index, row in prepared.closed)
    _insert(conn, transactions, TRANSACTION_COLUMNS, rows)
    _insert(conn, postings, POSTING_COLUMNS, posted)
    if signed_on:
        _update_terminals(conn, "signed_on", signed_on)
    if closed:
        conn.execute(batches.insert(), closed)
        _update_terminals(conn, "batch_seq", {row["terminal"]: row["seq"] + 1 for row in closed})


def _new_ids(conn: Connection, count: int) -> list[int]:
    """Journal ids for ``count`` records, in decision order.

    Allocated before the insert so that it needs no ``RETURNING``; under SQLite's write lock
    the next ids are simply after the last.
    """
    if conn.dialect.name == "postgresql":
        allocate = text("SELECT nextval(pg_get_serial_sequence('transactions', 'id')) FROM generate_series(1, :n)")
        return sorted(conn.execute(allocate, {"n": count}).scalars())
    last = conn.execute(select(func.max(transactions.c.id))).scalar_one() or 0
    return list(range(last + 1, last + 1 + count))


def _insert(conn: Connection, table: Table, columns: tuple[str, ...], rows: list[tuple[Any, ...]]) -> None:
    """Multi-row INSERT statements, each under SQLite's oldest limit of 999 parameters.

    One statement for many rows, not ``executemany``: SQLite's driver gives up the GIL and
    takes it back around every row it steps, and each taking back may wait for the busy
    reactor thread; one statement waits once.
    """
    per_statement = MAX_PARAMETERS // len(columns)
    for start in range(0, len(rows), per_statement):
        chunk = rows[start:start + per_statement]
        conn.exec_driver_sql(_values_sql(conn.dialect.paramstyle, table.name, columns, len(chunk)),
                             tuple(value for row in chunk for value in row))


@cache
def _values_sql(paramstyle: str, table: str, columns: tuple[str, ...], count: int) -> str:
    marker = "?" if paramstyle == "qmark" else "%s"
    row = f"({', '.join([marker] * len(columns))})"
    return f"INSERT INTO {table} ({', '.join(columns)}) VALUES {', '.join([row] * count)}"


def _stamp(at: datetime, sqlite: bool) -> datetime | str:
    """SQLite keeps naive UTC text in SQLAlchemy's format; PostgreSQL takes the aware value."""
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else at


def _transaction(record: Record, effects: str | None) -> tuple[Any, ...]:
    """A ``transactions`` row in ``TRANSACTION_COLUMNS`` order, without its id."""
    outcome = record.outcome
    return (
        record.at, record.kind, record.terminal, record.branch, record.key, record.repeat, record.card,
        record.account_id, record.requested, outcome.amount, outcome.code.value,
        outcome.limit.value if outcome.limit else None, outcome.rrn, outcome.auth_code, record.invoice,
        record.day, record.ref, outcome.message, effects,
    )


def _batch(record: Record, closed: BatchClosed) -> dict[str, Any]:
    return {
        "terminal": closed.terminal, "seq": closed.seq, "batch_number": closed.batch_number,
        "closed_at": record.at, "code": record.outcome.code.value,
        **{f"gateway_{name}": value for name, value in asdict(closed.gateway).items()},
        **{f"reported_{name}": value for name, value in asdict(closed.reported).items()},
    }


def _update_terminals(conn: Connection, column: str, values: dict[str, object]) -> None:
    statement = terminals.update().where(terminals.c.tid == bindparam("which")).values({column: bindparam("value")})
    conn.execute(statement, [{"which": tid, "value": value} for tid, value in values.items()])

