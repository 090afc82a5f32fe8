"""Rebuilding the ledger from the store when the daemon starts.

The tables are read as they are (accounts in join order, so that each referrer's members are
listed in it; accruals oldest first); lot balances are summed from the postings; everything
else the decisions need (duplicate keys, open holds, today's and each invoice's usage,
tombstones, open batch totals, wrong voucher PINs) comes from replaying the journal's effects
of the last ``replay_days`` days in journal order. Replaying ``BatchClosed`` or ``BatchItem``
of a batch the terminal has since closed changes nothing, because each checks the terminal's
``batch_seq``, already loaded at its latest. A journal row in a format version or with an
effect kind this code does not know stops the load, naming the row: a ledger rebuilt from a
guess would decide wrongly.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import Connection, func, select

from ..rules.ledger import Ledger
from . import journal
from .errors import StoreError
from .reads import read_accounts, read_accruals, read_cards, read_lots, read_terminals, read_vouchers
from .schema import changes, transactions

REPLAY_BATCH = 2000


def load(conn: Connection, ledger: Ledger, now: datetime, replay_days: int) -> int:
    """Fill ``ledger`` within one snapshot ``conn``; the change-feed cursor at that snapshot."""
    cursor = conn.scalar(select(func.coalesce(func.max(changes.c.id), 0)))
    for terminal in read_terminals(conn):
        ledger.terminals[terminal.tid] = terminal
    for account in read_accounts(conn):
        ledger.add_account(account)
    for card in read_cards(conn):
        ledger.cards[card.pan] = card
    for lot in read_lots(conn):
        ledger.add_lot(lot)
    for accrual in read_accruals(conn):
        ledger.add_accrual(accrual)
    for voucher in read_vouchers(conn):
        ledger.add_voucher(voucher)
    last_rrn = conn.scalar(select(func.max(transactions.c.rrn)))
    ledger.last_rrn = max(ledger.last_rrn, int(last_rrn or 0))
    _replay(conn, ledger, now - timedelta(days=replay_days))
    return int(cursor or 0)


def _replay(conn: Connection, ledger: Ledger, since: datetime) -> None:
    query = (
        select(transactions.c.id, transactions.c.format_version, transactions.c.effects)
        .where(transactions.c.at >= since, transactions.c.effects.is_not(None))
        .order_by(transactions.c.id)
        .execution_options(yield_per=REPLAY_BATCH)
    )
    lookup = ledger.by_key.get
    for transaction_id, version, text in conn.execute(query):
        try:
            for effect in journal.decode(text, version, lookup):
                effect.apply(ledger)
        except (KeyError, ValueError, TypeError) as e:
            cause = str(e) if isinstance(e, journal.FormatError) else f"{type(e).__name__}: {e}"
            raise StoreError(f"journal row {transaction_id} cannot be replayed: {cause}") from e
