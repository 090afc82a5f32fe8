"""Decision records into the journal, in two steps: ``prepare`` and ``write``.

A record is one ``transactions`` row with its replayable effects as JSON, in the journal
format whose version the row keeps (``journal.FORMAT_VERSION``); the effects that are not
replayed become rows of their own: a ``Posting`` a ``postings`` row (lot balances are
summed from those), a ``LotCreated`` a ``lots`` row, an ``AccrualBooked`` an ``accruals``
row, a ``PointsMoved`` an addition to the account's ``points``, an ``Updated`` one column
of an account, accrual or voucher, a ``Session`` the terminal's ``signed_on``, a
``BatchClosed`` a ``batches`` row and the terminal's next ``batch_seq``.

A voucher's ``state`` is updated only where the row still has the state the decision saw;
where it has not (another gateway node or an operator changed it), the whole group commit
fails: the double-spend guard.

``prepare`` is pure Python and runs where the decision is made, on the reactor, so the rows
say what was decided even if later decisions change the ledger before the commit; they are
plain tuples, cheap to pickle through the pipe to the writer process (``daemon/writer.py``).
In the daemon ``write`` runs in that process; it hands whole batches to the database driver
in a few multi-row statements.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from functools import cache
from typing import Any

from sqlalchemy import Connection, Table, Update, bindparam, func, select, text

from ..rules.core import Record
from ..rules.effects import AccrualBooked, BatchClosed, LotCreated, PointsMoved, Posting, Session, Updated
from ..rules.ledger import Accrual
from . import journal
from .errors import StoreError
from .schema import accounts, accruals, batches, lots, postings, terminals, transactions, vouchers

TRANSACTION_COLUMNS = (
    "id", "at", "kind", "terminal", "branch", "key", "repeat", "card", "account_id", "requested", "approved",
    "code", "binding_limit", "rrn", "auth_code", "invoice", "day", "ref", "message", "effects", "format_version",
)
POSTING_COLUMNS = ("transaction_id", "lot_id", "account_id", "delta")
LOT_COLUMNS = ("id", "account_id", "amount", "created_at", "expires_at", "source")
ACCRUAL_COLUMNS = (
    "transaction_id", "id", "account_id", "branch", "invoice", "at", "paid", "points", "credit", "returned", "reversed",
)
UPDATED = {  # what an ``Updated`` may change: kind -> table, its key, the columns
    "account": (accounts, "id", ("group", "gift_state")),
    "accrual": (accruals, "id", ("returned", "reversed")),
    "voucher": (vouchers, "serial", ("state",)),
}
GUARDED = frozenset({"voucher"})  # updated only while the row still has the old value
MAX_PARAMETERS = 999


@dataclass(slots=True)
class Prepared:
    """The rows of some records, short of their journal ids (given when written).

    ``postings``, ``accruals`` and ``closed`` rows start with the index of their record in
    ``rows``; ``points`` sums the points moved per account; ``updates`` lists every
    ``Updated`` as ``(kind, id, field, old, new)``, in record order.
    """

    rows: list[tuple[Any, ...]] = field(default_factory=list)
    postings: list[tuple[Any, ...]] = field(default_factory=list)
    lots: list[tuple[Any, ...]] = field(default_factory=list)
    accruals: list[tuple[Any, ...]] = field(default_factory=list)
    points: dict[str, int] = field(default_factory=dict)
    updates: list[tuple[str, str, str, Any, Any]] = field(default_factory=list)
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
            elif isinstance(effect, LotCreated):
                prepared.lots.append((effect.lot_id, effect.account_id, effect.amount, effect.created_at,
                                      effect.expires_at, effect.source))
            elif isinstance(effect, PointsMoved):
                prepared.points[effect.account_id] = prepared.points.get(effect.account_id, 0) + effect.delta
            elif isinstance(effect, AccrualBooked):
                prepared.accruals.append((index, *_accrual(effect.accrual)))
            elif isinstance(effect, Updated):
                prepared.updates.append((effect.kind, effect.id, effect.field, effect.old, effect.new))
            elif isinstance(effect, Session):
                prepared.signed_on[effect.terminal] = effect.signed_on
            if isinstance(effect, BatchClosed):
                prepared.closed.append((index, _batch(record, effect)))
        prepared.rows.append(_transaction(record, journal.encode(replayed) if replayed else None))
    return prepared


def write(conn: Connection, batch: Sequence[Prepared]) -> None:
    """Insert every prepared record of ``batch`` in the order given, in one transaction.

    Raises ``StoreError`` if a voucher no longer has the state a decision saw.
    """
    count = sum(len(prepared.rows) for prepared in batch)
    if not count:
        return
    ids = iter(_new_ids(conn, count))
    sqlite = conn.dialect.name == "sqlite"
    joined = Prepared()  # the whole batch, journal ids in place of record indexes, times stamped
    for prepared in batch:
        own = [next(ids) for _ in prepared.rows]
        joined.rows.extend((own[i], _stamp(row[0], sqlite), *row[1:]) for i, row in enumerate(prepared.rows))
        joined.postings.extend((own[index], *rest) for index, *rest in prepared.postings)
        joined.lots.extend((*row[:3], _stamp(row[3], sqlite), _stamp(row[4], sqlite), row[5])  # created, expires
                           for row in prepared.lots)
        joined.accruals.extend((own[row[0]], *row[1:5], _stamp(row[5], sqlite), *row[6:])  # at
                               for row in prepared.accruals)
        for account_id, delta in prepared.points.items():
            joined.points[account_id] = joined.points.get(account_id, 0) + delta
        joined.updates.extend(prepared.updates)
        joined.signed_on.update(prepared.signed_on)
        joined.closed.extend((own[index], row) for index, row in prepared.closed)
    _write_joined(conn, joined)


def _write_joined(conn: Connection, joined: Prepared) -> None:
    """The rows in an order the foreign keys accept: journal, lots, their postings, accruals."""
    _insert(conn, transactions, TRANSACTION_COLUMNS, joined.rows)
    _insert(conn, lots, LOT_COLUMNS, joined.lots)
    _insert(conn, postings, POSTING_COLUMNS, joined.postings)
    _insert(conn, accruals, ACCRUAL_COLUMNS, joined.accruals)
    moved = {account_id: delta for account_id, delta in joined.points.items() if delta}
    if moved:
        _update(conn, accounts, "id", "points", moved, add=True)
    _apply_updates(conn, joined.updates)
    if joined.signed_on:
        _update(conn, terminals, "tid", "signed_on", joined.signed_on)
    if joined.closed:
        conn.execute(batches.insert(), [{**row, "transaction_id": own} for own, row in joined.closed])
        _update(conn, terminals, "tid", "batch_seq", {row["terminal"]: row["seq"] + 1 for _, row in joined.closed})


def _apply_updates(conn: Connection, updates: list[tuple[str, str, str, Any, Any]]) -> None:
    """The ``Updated`` effects, folded per column and row: the last value wins and a guarded
    row must still have the first old value (a voucher redeemed and reversed in one batch
    must still be as it was)."""
    newest: dict[tuple[str, str], dict[str, Any]] = {}
    first_old: dict[tuple[str, str], dict[str, Any]] = {}
    for kind, key, name, old, new in updates:
        if name not in UPDATED.get(kind, (None, None, ()))[2]:
            raise StoreError(f"cannot write the journal: {kind} {name!r} is not a field an effect may update")
        newest.setdefault((kind, name), {})[key] = new
        first_old.setdefault((kind, name), {}).setdefault(key, old)
    for (kind, name), values in newest.items():
        table, key, _ = UPDATED[kind]
        if kind not in GUARDED:
            _update(conn, table, key, name, values)
        elif (done := _update(conn, table, key, name, values, olds=first_old[kind, name])) != len(values):
            raise StoreError(f"cannot write the journal: the {name} of {kind} {', '.join(sorted(values))} "
                             f"changed meanwhile ({len(values) - done} of {len(values)} not as decided)")


def _update(conn: Connection, table: Table, key: str, column: str, values: dict[str, Any], *, add: bool = False,
            olds: dict[str, Any] | None = None) -> int:
    """Set (or with ``add`` increase) ``column`` of the rows keyed by ``values``' keys, in one
    ``executemany``, in key order (so that concurrent writers lock rows in one order); with
    ``olds``, only of the rows whose ``column`` still has the old value. How many rows changed."""
    statement = _update_statement(table, key, column, add, olds is not None)
    params = [{"key_": which, "value_": new, **({"old_": olds[which]} if olds is not None else {})}
              for which, new in sorted(values.items())]
    return conn.execute(statement, params).rowcount


@cache
def _update_statement(table: Table, key: str, column: str, add: bool, guarded: bool) -> Update:
    """Built once: the writer updates the same few columns in every group commit."""
    value = bindparam("value_")
    statement = table.update().where(table.c[key] == bindparam("key_"))
    if guarded:
        statement = statement.where(table.c[column] == bindparam("old_"))
    return statement.values({column: table.c[column] + value if add else value})


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

    One statement for many rows, not ``executemany``: the database runs one statement per
    chunk instead of one per row.
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


def _stamp(at: datetime | None, sqlite: bool) -> datetime | str | None:
    """SQLite keeps naive UTC text in SQLAlchemy's format; PostgreSQL takes the aware value."""
    if at is None or not sqlite:
        return at
    return at.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")


def _transaction(record: Record, effects: str | None) -> tuple[Any, ...]:
    """A ``transactions`` row in ``TRANSACTION_COLUMNS`` order, without its id. The texts a
    terminal sent are kept printable whatever a codec let through: a NUL byte is refused by
    PostgreSQL, and a control character has no place in an operator's report."""
    outcome = record.outcome
    return (
        record.at, record.kind, printable(record.terminal), printable(record.branch), printable(record.key),
        record.repeat, printable(record.card), record.account_id, record.requested, outcome.amount,
        outcome.code.value, outcome.limit.value if outcome.limit else None, outcome.rrn, outcome.auth_code,
        printable(record.invoice), record.day, printable(record.ref), printable(outcome.message), effects,
        journal.FORMAT_VERSION,
    )


def printable(text: str | None) -> str | None:
    """``text`` with every character that is not printable written as its escape (``\\x00``)."""
    if text is None or text.isprintable():
        return text
    return "".join(char if char.isprintable() else repr(char)[1:-1] for char in text)


def _accrual(accrual: Accrual) -> tuple[Any, ...]:
    """An ``accruals`` row in ``ACCRUAL_COLUMNS`` order, without its journal id: the accrual as it is now."""
    return (accrual.id, accrual.account_id, accrual.branch, accrual.invoice, accrual.at, accrual.paid,
            accrual.points, json.dumps(accrual.credit, separators=(",", ":")), accrual.returned, accrual.reversed)


def _batch(record: Record, closed: BatchClosed) -> dict[str, Any]:
    return {
        "terminal": closed.terminal, "seq": closed.seq, "batch_number": closed.batch_number,
        "closed_at": record.at, "code": record.outcome.code.value,
        **{f"gateway_{name}": value for name, value in asdict(closed.gateway).items()},
        **{f"reported_{name}": value for name, value in asdict(closed.reported).items()},
    }
