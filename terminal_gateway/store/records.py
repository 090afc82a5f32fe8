"""Decision records into the journal: one statement per table per group commit, not per row.

A record is one ``transactions`` row with its replayable effects as JSON; the effects that
are not replayed become rows of their own: a ``Posting`` a ``postings`` row (lot balances are
summed from those), a ``Session`` the terminal's ``signed_on``, a ``BatchClosed`` a
``batches`` row and the terminal's next ``batch_seq``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict
from typing import Any

from sqlalchemy import Connection, bindparam, func, insert, select, text, update

from ..rules.core import Record
from ..rules.effects import BatchClosed, Posting, Session
from . import journal
from .schema import batches, postings, terminals, transactions


def write(conn: Connection, records: Sequence[Record]) -> None:
    if not records:
        return
    ids = _new_ids(conn, len(records))
    conn.execute(insert(transactions), [_transaction(i, record) for i, record in zip(ids, records, strict=True)])
    posted: list[dict[str, Any]] = []
    signed_on: dict[str, bool] = {}
    closed: list[dict[str, Any]] = []
    for transaction_id, record in zip(ids, records, strict=True):
        for effect in record.effects:
            match effect:
                case Posting():
                    posted.append({"transaction_id": transaction_id, "lot_id": effect.lot_id,
                                   "account_id": effect.account_id, "delta": effect.delta})
                case Session():
                    signed_on[effect.terminal] = effect.signed_on
                case BatchClosed():
                    closed.append(_batch(transaction_id, record, effect))
    if posted:
        conn.execute(insert(postings), posted)
    if signed_on:
        _update_terminals(conn, "signed_on", signed_on)
    if closed:
        conn.execute(insert(batches), closed)
        _update_terminals(conn, "batch_seq", {row["terminal"]: row["seq"] + 1 for row in closed})


def _new_ids(conn: Connection, count: int) -> list[int]:
    """Journal ids for ``count`` records, in decision order.

    Allocated before the insert so that it needs no ``RETURNING``, which would make SQLite
    insert row by row; under SQLite's write lock the next ids are simply after the last.
    """
    if conn.dialect.name == "postgresql":
        allocate = text("SELECT nextval(pg_get_serial_sequence('transactions', 'id')) FROM generate_series(1, :n)")
        return sorted(conn.execute(allocate, {"n": count}).scalars())
    last = conn.execute(select(func.max(transactions.c.id))).scalar_one() or 0
    return list(range(last + 1, last + 1 + count))


def _transaction(transaction_id: int, record: Record) -> dict[str, Any]:
    outcome = record.outcome
    replayed = [effect for effect in record.effects if type(effect).replayed]
    return {
        "id": transaction_id, "at": record.at, "kind": record.kind, "terminal": record.terminal,
        "branch": record.branch, "key": record.key, "repeat": record.repeat, "card": record.card,
        "account_id": record.account_id,
        "requested": record.requested, "approved": outcome.amount, "code": outcome.code.value,
        "binding_limit": outcome.limit.value if outcome.limit else None, "rrn": outcome.rrn,
        "auth_code": outcome.auth_code, "invoice": record.invoice, "day": record.day, "ref": record.ref,
        "message": outcome.message, "effects": journal.encode(replayed) if replayed else None,
    }


def _batch(transaction_id: int, record: Record, closed: BatchClosed) -> dict[str, Any]:
    return {
        "terminal": closed.terminal, "seq": closed.seq, "batch_number": closed.batch_number,
        "closed_at": record.at, "transaction_id": transaction_id, "code": record.outcome.code.value,
        **{f"gateway_{name}": value for name, value in asdict(closed.gateway).items()},
        **{f"reported_{name}": value for name, value in asdict(closed.reported).items()},
    }


def _update_terminals(conn: Connection, column: str, values: dict[str, object]) -> None:
    statement = update(terminals).where(terminals.c.tid == bindparam("which")).values({column: bindparam("value")})
    conn.execute(statement, [{"which": tid, "value": value} for tid, value in values.items()])
