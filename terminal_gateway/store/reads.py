"""The admin tables read back as ledger objects: for the start-up load and the change feed.

Each function reads every row (``keys=None``) or the rows of ``keys``, in chunks: SQLite and
PostgreSQL bound the number of parameters one statement may carry.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from typing import Any, TypeVar

from sqlalchemy import ColumnElement, Connection, Row, Select, func, select

from ..rules.ledger import Account, Accrual, Card, Lot, Terminal, Voucher
from .schema import accounts, accruals, cards, conversions, lots, postings, terminals, vouchers

CHUNK = 5000
T = TypeVar("T")


def chunks(values: Sequence[T], size: int = CHUNK) -> Iterator[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start:start + size]


def read_terminals(conn: Connection, keys: Sequence[str] | None = None) -> list[Terminal]:
    query = select(terminals.c.tid, terminals.c.branch, terminals.c.signed_on, terminals.c.batch_seq,
                   terminals.c.certificates_from, terminals.c.family)
    return [Terminal(r.tid, r.branch, r.signed_on, r.batch_seq, certificates_from=r.certificates_from, family=r.family)
            for r in _rows(conn, query, terminals.c.tid, keys)]


def read_accounts(conn: Connection, keys: Sequence[str] | None = None) -> list[Account]:
    """Accounts in the order they joined, so that adding them lists referred members in join
    order; without their lots and accruals (read on their own)."""
    query = select(accounts.c.id, accounts.c.group, accounts.c.phone, accounts.c.blocked, accounts.c.kind,
                   accounts.c.points, accounts.c.referrer_id, accounts.c.created_at,
                   accounts.c.gift_state).order_by(accounts.c.created_at, accounts.c.id)
    return [Account(r.id, r.group, r.phone, r.blocked, kind=r.kind, points=int(r.points), referrer_id=r.referrer_id,
                    joined_at=r.created_at, gift_state=r.gift_state)
            for r in _rows(conn, query, accounts.c.id, keys)]


def read_accruals(conn: Connection) -> list[Accrual]:
    """Every accrual, oldest first; ``credit`` is JSON ``[[account_id, lot_id, amount], ...]``."""
    query = select(accruals.c.id, accruals.c.account_id, accruals.c.branch, accruals.c.invoice, accruals.c.at,
                   accruals.c.paid, accruals.c.points, accruals.c.credit, accruals.c.returned,
                   accruals.c.reversed).order_by(accruals.c.at, accruals.c.transaction_id, accruals.c.id)
    return [Accrual(r.id, r.account_id, r.branch, r.invoice, r.at, int(r.paid), int(r.points),
                    tuple((account_id, lot_id, int(amount)) for account_id, lot_id, amount in json.loads(r.credit)),
                    int(r.returned), r.reversed)
            for r in conn.execute(query)]


def read_vouchers(conn: Connection, keys: Sequence[str] | None = None) -> list[Voucher]:
    query = select(vouchers.c.serial, vouchers.c.pin_hash, vouchers.c.value, vouchers.c.expires_at, vouchers.c.state)
    return [Voucher(r.serial, r.pin_hash, int(r.value), r.expires_at, r.state)
            for r in _rows(conn, query, vouchers.c.serial, keys)]


def read_conversions(conn: Connection, lot_ids: Sequence[str]) -> dict[str, int]:
    """The points each points-conversion lot of ``lot_ids`` used, by lot id."""
    return {lot_id: int(points) for lot_id, points in _rows(
        conn, select(conversions.c.lot_id, conversions.c.points), conversions.c.lot_id, lot_ids)}


def read_cards(conn: Connection, account_ids: Sequence[str] | None = None) -> list[Card]:
    query = select(cards.c.pan, cards.c.account_id, cards.c.status).order_by(cards.c.created_at, cards.c.pan)
    return [Card(r.pan, r.account_id, r.status) for r in _rows(conn, query, cards.c.account_id, account_ids)]


def read_lots(conn: Connection, keys: Sequence[str] | None = None, *, by_account: bool = False) -> list[Lot]:
    """Lots with what is left of them: their amount plus their postings, summed in one grouped
    query; ``keys`` are lot ids, or account ids with ``by_account``."""
    lot_key, posting_key = (lots.c.account_id, postings.c.account_id) if by_account else (lots.c.id, postings.c.lot_id)
    if keys is None:
        return [_lot(r) for r in conn.execute(_lots_query())]
    return [_lot(r) for part in chunks(keys)
            for r in conn.execute(_lots_query(lot_key.in_(part), posting_key.in_(part)))]


def _lots_query(lot_filter: ColumnElement[bool] | None = None,
                posting_filter: ColumnElement[bool] | None = None) -> Select[Any]:
    """The filters go into both halves, so that PostgreSQL sums only the postings it needs."""
    spent = select(postings.c.lot_id, func.sum(postings.c.delta).label("delta")).group_by(postings.c.lot_id)
    if posting_filter is not None:
        spent = spent.where(posting_filter)
    sums = spent.subquery()
    query = (
        select(lots.c.id, lots.c.account_id, (lots.c.amount + func.coalesce(sums.c.delta, 0)).label("remaining"),
               lots.c.created_at, lots.c.expires_at)
        .outerjoin(sums, sums.c.lot_id == lots.c.id)
    )
    return query if lot_filter is None else query.where(lot_filter)


def _lot(row: Row[Any]) -> Lot:
    return Lot(row.id, row.account_id, int(row.remaining), row.created_at, row.expires_at)


def _rows(conn: Connection, query: Select[Any], key: ColumnElement[Any],
          keys: Sequence[str] | None) -> Iterator[Row[Any]]:
    if keys is None:
        yield from conn.execute(query)
        return
    for part in chunks(keys):
        yield from conn.execute(query.where(key.in_(part)))


def existing(conn: Connection, key: ColumnElement[Any], value: ColumnElement[Any],
             keys: Sequence[str]) -> dict[Any, Any]:
    """``value`` by ``key`` for the rows whose ``key`` is among ``keys``."""
    unique = list(dict.fromkeys(keys))
    return {row[0]: row[1] for part in chunks(unique) for row in conn.execute(select(key, value).where(key.in_(part)))}
