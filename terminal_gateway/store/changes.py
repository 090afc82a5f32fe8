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

from ..rules.ledger import Account, Card, Ledger, Lot, Terminal, Voucher
from .reads import read_accounts, read_cards, read_conversions, read_lots, read_terminals, read_vouchers
from .schema import changes


@dataclass(frozen=True, slots=True)
class TerminalChange:
    """A terminal registered or re-registered at a branch."""

    terminal: Terminal


@dataclass(frozen=True, slots=True)
class AccountChange:
    """A member enrolled or changed, or a gift card registered, with every card of the account."""

    account: Account
    cards: tuple[Card, ...]


@dataclass(frozen=True, slots=True)
class LotChange:
    """A credit lot granted, with what is left of it."""

    lot: Lot


@dataclass(frozen=True, slots=True)
class ConversionChange:
    """Points converted to credit: the new lot, with what is left of it, and the points it took."""

    lot: Lot
    points: int


@dataclass(frozen=True, slots=True)
class VoucherChange:
    """A voucher generated, sold or voided."""

    voucher: Voucher


@dataclass(frozen=True, slots=True)
class ReloadChange:
    """An operator asked the daemon to reload its configuration; nothing for the ledger."""


Change = TerminalChange | AccountChange | LotChange | ConversionChange | VoucherChange | ReloadChange


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
    converted = read_conversions(conn, refs["conversion"])
    for lot in read_lots(conn, list(converted)):
        found["conversion", lot.id] = ConversionChange(lot, converted[lot.id])
    for voucher in read_vouchers(conn, refs["voucher"]):
        found["voucher", voucher.serial] = VoucherChange(voucher)
    if refs["reload"]:
        found["reload", ""] = ReloadChange()
    return rows[-1].id, [found[key] for key in wanted if key in found]


def apply_change(ledger: Ledger, change: Change) -> None:
    """Merge one change into the ledger (on the reactor thread: the ledger is not locked).

    What the gateway itself keeps is kept: a terminal's session and open batch, an account's
    points, lots and accruals, a gift card's activation, a lot already known, a voucher's
    redemption.
    """
    match change:
        case TerminalChange(terminal=new):
            known = ledger.terminals.get(new.tid)
            if known is None:
                ledger.terminals[new.tid] = new
            else:
                known.branch, known.certificates_from, known.family = new.branch, new.certificates_from, new.family
        case AccountChange(account=new, cards=cards):
            _merge_account(ledger, new)
            for card in cards:
                ledger.cards[card.pan] = card
        case LotChange(lot=lot):
            if lot.id not in ledger.lots:
                ledger.add_lot(lot)
        case ConversionChange(lot=lot, points=points):
            if lot.id not in ledger.lots:
                ledger.add_lot(lot)
                ledger.accounts[lot.account_id].points -= points
        case VoucherChange(voucher=new):
            known_voucher = ledger.vouchers_by_serial.get(new.serial)
            if known_voucher is None:
                ledger.add_voucher(new)
            elif known_voucher.state != "redeemed":
                known_voucher.state = new.state
        case ReloadChange():
            pass  # the daemon reloads its configuration


def _merge_account(ledger: Ledger, new: Account) -> None:
    known = ledger.accounts.get(new.id)
    if known is None:
        ledger.add_account(new)
        return
    if known.phone and ledger.phones.get(known.phone) == new.id:
        del ledger.phones[known.phone]
    known.group, known.phone, known.blocked, known.kind = new.group, new.phone, new.blocked, new.kind
    if known.gift_state != "active":
        known.gift_state = new.gift_state
    if new.phone:
        ledger.phones[new.phone] = new.id
