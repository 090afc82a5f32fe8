"""The change feed: what operators changed, for the running daemon to merge into its ledger.

Every admin operation appends rows to ``changes`` in its own transaction. The daemon polls
``since`` in a worker thread, which reads the changed objects as they are now, and merges
them on the reactor thread with ``apply_change``. On PostgreSQL the table is locked while a
transaction appends, so that ids become visible in order and a poller never skips one that
commits late; SQLite has one writer at a time anyway.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, insert, select, text

from ..rules.ledger import Account, Card, Ledger, Lot, Terminal
from .reads import read_accounts, read_cards, read_lots, read_terminals
from .schema import changes


@dataclass(frozen=True, slots=True)
class TerminalChange:
    """A terminal registered or re-registered at a branch."""

    terminal: Terminal


@dataclass(frozen=True, slots=True)
class AccountChange:
    """A member enrolled or changed, with every card of the account."""

    account: Account
    cards: tuple[Card, ...]


@dataclass(frozen=True, slots=True)
class LotChange:
    """A credit lot granted, with what is left of it."""

    lot: Lot


Change = TerminalChange | AccountChange | LotChange


def append(conn: Connection, kind: str, refs: Sequence[str], now: datetime) -> None:
    if not refs:
        return
    if conn.dialect.name == "postgresql":
        conn.execute(text("LOCK TABLE changes IN EXCLUSIVE MODE"))
    conn.execute(insert(changes), [{"at": now, "kind": kind, "ref": ref} for ref in refs])


def since(conn: Connection, cursor: int) -> tuple[int, list[Change]]:
    """The changes after ``cursor``, in order, each object once, and the new cursor."""
    rows = conn.execute(
        select(changes.c.id, changes.c.kind, changes.c.ref).where(changes.c.id > cursor).order_by(changes.c.id)
    ).all()
    if not rows:
        return cursor, []
    wanted = list(dict.fromkeys((row.kind, row.ref) for row in rows))  # first mention: accounts before their lots
    refs: dict[str, list[str]] = defaultdict(list)
    for kind, ref in wanted:
        refs[kind].append(ref)
    found: dict[tuple[str, str], Change] = {}
    for terminal in read_terminals(conn, refs["terminal"]):
        found["terminal", terminal.tid] = TerminalChange(terminal)
    cards: dict[str, list[Card]] = defaultdict(list)
    for card in read_cards(conn, refs["account"]):
        cards[card.account_id].append(card)
    for account in read_accounts(conn, refs["account"]):
        found["account", account.id] = AccountChange(account, tuple(cards[account.id]))
    for lot in read_lots(conn, refs["lot"]):
        found["lot", lot.id] = LotChange(lot)
    return rows[-1].id, [found[key] for key in wanted if key in found]


def apply_change(ledger: Ledger, change: Change) -> None:
    """Merge one change into the ledger (on the reactor thread: the ledger is not locked).

    What the gateway itself keeps is kept: a terminal's session and open batch, an account's
    lots and their balances, a lot already known.
    """
    match change:
        case TerminalChange(terminal=new):
            known = ledger.terminals.get(new.tid)
            if known is None:
                ledger.terminals[new.tid] = new
            else:
                known.branch = new.branch
        case AccountChange(account=new, cards=cards):
            known_account = ledger.accounts.get(new.id)
            if known_account is None:
                ledger.add_account(new)
            else:
                if known_account.phone and ledger.phones.get(known_account.phone) == new.id:
                    del ledger.phones[known_account.phone]
                known_account.group, known_account.phone, known_account.blocked = new.group, new.phone, new.blocked
                ledger.add_account(known_account)
            for card in cards:
                ledger.cards[card.pan] = card
        case LotChange(lot=lot):
            if lot.id not in ledger.lots:
                ledger.add_lot(lot)
