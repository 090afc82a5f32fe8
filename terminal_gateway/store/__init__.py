"""Where decisions become durable and where the ledger comes from: ``Store``.

The rule core decides in memory; ``Store.write`` makes its records durable, many per database
transaction (group commit); ``Store.load`` rebuilds the ledger when the daemon starts, and
``Store.changes_since`` with ``apply_change`` brings in what operators changed since.

``schema`` the tables, ``migrations``/``migrate`` their versions, ``engine`` connections and
transactions, ``journal`` the effects codec, ``records`` writing, ``reads``/``load`` reading
back, ``changes`` the change feed, ``members``/``terminals``/``imports``/``checks`` the admin side,
``credentials`` the counter stations' tokens, ``audit`` the trail of operators' commands.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection

from ..rules.core import Record
from ..rules.ledger import Ledger, Terminal
from . import audit, changes, conversions, credentials, giftcards, imports, members, migrate, terminals, vouchers
from .audit import Audited, AuditRow
from .changes import (
    AccountChange,
    Change,
    ConversionChange,
    LotChange,
    ReloadChange,
    TerminalChange,
    VoucherChange,
    apply_change,
)
from .engine import WriteTimeouts, make_engine, snapshot, writing
from .errors import CommitTooLate, StoreError, database_errors
from .load import load as load_ledger
from .reads import read_terminals
from .records import Prepared, prepare
from .records import write as write_records

if TYPE_CHECKING:
    from ..program import Group

T = TypeVar("T")

__all__ = ["AccountChange", "AuditRow", "Audited", "Change", "CommitTooLate", "ConversionChange", "LotChange",
           "Prepared", "ReloadChange", "Store", "StoreError", "TerminalChange", "VoucherChange", "WriteTimeouts",
           "apply_change"]


class Store:
    """The gateway's one way to its database: SQLite or PostgreSQL, named by a SQLAlchemy URL.

    Each call is its own database transaction on its own pooled connection, so the daemon's
    threads (the change-feed poller, UID tag look-ups) and the CLI may share a store; the
    writer process opens its own (``daemon/writer.py``). Every failure is a ``StoreError``
    with a one-line message, the database left as it was.

    A store opened for an operator's command (``audited``) writes the command's audit row in
    every write transaction it makes, so a change and its record commit together.
    """

    def __init__(self, url: str, timeouts: WriteTimeouts | None = None, audited: Audited | None = None) -> None:
        self._engine = make_engine(url, timeouts)
        self._audited = audited

    # -- schema ------------------------------------------------------------------------------

    def init_schema(self) -> None:
        """Create or upgrade the schema to the latest revision; at it already, nothing changes."""
        with database_errors("cannot initialise the database schema"):
            migrate.upgrade(self._engine)

    def check_schema(self) -> None:
        """Raise ``StoreError`` unless the schema is at the revision this code expects."""
        with database_errors("cannot read the database schema version"):
            migrate.check(self._engine)

    def close(self) -> None:
        self._engine.dispose()

    # -- the daemon --------------------------------------------------------------------------

    def write(self, records: Sequence[Record]) -> None:
        """Make ``records`` durable in one transaction: all of them or, raising, none."""
        self.write_prepared([prepare(records)])

    @staticmethod
    def prepare(records: Sequence[Record]) -> Prepared:
        """The rows of ``records``, as decided; pure Python, meant for the deciding thread."""
        return prepare(records)

    def write_prepared(self, batch: Sequence[Prepared], commit_by: float | None = None) -> None:
        """Make a batch of prepared decisions durable in one transaction (the group commit);
        rolled back instead, raising ``CommitTooLate``, once ``time.monotonic()`` has passed
        ``commit_by``: its decisions are answered 96 by then, so it must not land."""
        with self._transaction("cannot write the journal", write=True) as conn:
            write_records(conn, batch)
            if commit_by is not None and time.monotonic() > commit_by:
                raise CommitTooLate("cannot write the journal: the batch's commit deadline passed; rolled back")

    def load(self, ledger: Ledger, now: datetime, replay_days: int) -> int:
        """Fill an empty ``ledger`` from one snapshot; the change-feed cursor of that snapshot."""
        with self._transaction("cannot load the ledger", write=False) as conn:
            return load_ledger(conn, ledger, now, replay_days)

    def changes_since(self, cursor: int) -> tuple[int, list[Change]]:
        """What operators changed after ``cursor`` (merge each with ``apply_change``), and the new cursor."""
        with self._transaction("cannot read the change feed", write=False) as conn:
            return changes.since(conn, cursor)

    # -- the operator ------------------------------------------------------------------------

    def add_terminal(self, tid: str, branch: str, family: str | None = None, families: Collection[str] = ()) -> None:
        """Register ``tid`` at ``branch``, bound to ``family`` (one of ``families``) if given."""
        with self._transaction("cannot add the terminal", write=True) as conn:
            terminals.register(conn, [terminals.NewTerminal(tid, branch, family=family)], _now(), families)

    def revoke_certificates(self, tid: str) -> datetime:
        """Refuse every client certificate of ``tid`` issued until now; the instant it took effect."""
        now = _now()
        with self._transaction("cannot revoke the certificates", write=True) as conn:
            terminals.revoke_certificates(conn, tid, now)
        return now

    def terminal(self, tid: str) -> Terminal:
        """The registered terminal ``tid`` (its branch, since when its certificates are
        valid); ``StoreError`` for one that is not registered."""
        with self._transaction("cannot read the terminal", write=False) as conn:
            found = read_terminals(conn, [tid])
        if not found:
            raise StoreError(f"terminal {tid} is not registered")
        return found[0]

    def import_terminals(self, path: str | Path, families: Collection[str] = ()) -> int:
        """Register every terminal of a ``tid,branch[,family]`` CSV file, or none; how many."""
        new = imports.read_terminals(path)
        with self._transaction("cannot import the terminals", write=True) as conn:
            return terminals.register(conn, new, _now(), families)

    def add_member(self, card: str, group: str, groups: Collection[str], phone: str | None = None,
                   referrer: str | None = None) -> str:
        """Enrol a member with ``card`` in ``group`` (one of the configured ``groups``); the account id."""
        with self._transaction("cannot add the member", write=True) as conn:
            (account_id,) = members.enrol(conn, [members.NewMember(card, group, phone, referrer)], groups, _now())
            return account_id

    def import_members(self, path: str | Path, groups: Collection[str], default_group: str) -> int:
        """Enrol every member of a ``card,group,phone,referrer,credit`` CSV file, or none; how many."""
        new = imports.read_members(path, default_group)
        with self._transaction("cannot import the members", write=True) as conn:
            return len(members.enrol(conn, new, groups, _now()))

    def grant_credit(self, card: str, amount: int, expires_at: datetime | None = None, source: str = "grant") -> str:
        """A new credit lot for the card's account; its id."""
        with self._transaction("cannot grant the credit", write=True) as conn:
            return members.grant(conn, card, amount, expires_at, source, _now())

    def grant_group(self, group: str, amount: int, groups: Collection[str], expires_at: datetime | None = None,
                    source: str = "group") -> int:
        """A new credit lot of ``amount`` for every member of ``group`` (one of the configured
        ``groups``), blocked members included, in one transaction; how many members (0: none in it)."""
        with self._transaction("cannot grant the credit to the group", write=True) as conn:
            return members.grant_group(conn, group, amount, groups, expires_at, source, _now())

    def block_member(self, card: str) -> str:
        """Block the account holding ``card``: every card of it is answered 05 (RS BLOCKED); its id."""
        with self._transaction("cannot block the member", write=True) as conn:
            return members.set_blocked(conn, card, True, _now())

    def unblock_member(self, card: str) -> str:
        """Lift the block of the account holding ``card``; its id."""
        with self._transaction("cannot unblock the member", write=True) as conn:
            return members.set_blocked(conn, card, False, _now())

    def replace_card(self, old: str, new: str) -> str:
        """A lost card: ``old`` becomes 'lost' (answered 41), ``new`` joins its account; the account id."""
        with self._transaction("cannot replace the card", write=True) as conn:
            return members.replace(conn, old, new, _now())

    def register_gift_cards(self, first_pan: str, count: int) -> int:
        """Register ``count`` consecutive gift card numbers from ``first_pan``, each an inactive
        gift account with its card, all or none; how many."""
        pans = giftcards.card_range(first_pan, count)
        with self._transaction("cannot register the gift cards", write=True) as conn:
            return giftcards.register(conn, pans, _now())

    def generate_vouchers(self, count: int, value: int, expires_at: datetime, key: bytes, batch: str | None = None,
                          pin_digits: int = 12) -> list[tuple[str, str]]:
        """``count`` new vouchers of ``value`` in ``batch`` (default: a new name from the time),
        their PINs hashed under ``key``; their ``(serial, PIN)``, the only time the PINs are seen."""
        now = _now()
        with self._transaction("cannot generate the vouchers", write=True) as conn:
            return vouchers.generate(conn, count, value, expires_at, key, batch or vouchers.default_batch(now),
                                     pin_digits, now)

    def activate_vouchers(self, batch: str | None = None, first: str | None = None, last: str | None = None) -> int:
        """Activate (sell) the generated, unexpired vouchers of ``batch`` or of the serials
        ``first`` to ``last``; how many."""
        return self._move_vouchers(vouchers.Selection.named(batch, first, last), vouchers.ACTIVATE)

    def void_vouchers(self, batch: str | None = None, first: str | None = None, last: str | None = None) -> int:
        """Void the generated and active vouchers of ``batch`` or of the serials ``first`` to
        ``last`` (``first`` alone: that one); how many. Redeemed ones stay redeemed."""
        return self._move_vouchers(vouchers.Selection.named(batch, first, last), vouchers.VOID)

    def _move_vouchers(self, selection: vouchers.Selection, move: vouchers.Move) -> int:
        with self._transaction(f"cannot change the vouchers {selection}", write=True) as conn:
            return vouchers.move(conn, selection, move, _now())

    def convert_points(self, card: str, points: int, groups: Mapping[str, Group],
                       now: datetime | None = None) -> conversions.Conversion:
        """Turn ``points`` of the member card's account into a credit lot worth its group's
        ``points.value`` each, expiring as the group's credit does."""
        with self._transaction("cannot convert the points", write=True) as conn:
            return conversions.convert(conn, card, points, groups, now or _now())

    def announce_reload(self) -> None:
        """Tell running daemons to reload their configuration (a ``reload`` change)."""
        with self._transaction("cannot announce the reload", write=True) as conn:
            changes.append(conn, "reload", [""], _now())

    def issue_station_token(self, terminal: str) -> str:
        """A new bearer token for the counter station acting as ``terminal`` (replacing its
        old one): the only time it is seen, only its hash is kept."""
        with self._transaction("cannot store the station's token", write=True) as conn:
            return credentials.issue(conn, terminal, _now())

    def revoke_station_token(self, terminal: str) -> bool:
        """Withdraw the station's token; whether it had one."""
        with self._transaction("cannot revoke the station's token", write=True) as conn:
            return credentials.revoke(conn, terminal)

    def station_holding(self, token: str) -> str | None:
        """The terminal of the station whose token ``token`` is, or ``None``."""
        with self._transaction("cannot check the station's token", write=False) as conn:
            return credentials.holder(conn, token)

    def audit_refused(self, reason: str) -> None:
        """Record that the audited command was refused (its change rolled back), and why."""
        if self._audited is not None:
            with self._transaction("cannot write the audit trail", write=True, audited=False) as conn:
                audit.record(conn, self._audited, f"refused: {reason}", _now())

    def audit_trail(self, start: datetime | None = None) -> list[AuditRow]:
        with self._transaction("cannot read the audit trail", write=False) as conn:
            return audit.since(conn, start)

    def member(self, card: str, now: datetime | None = None) -> dict[str, Any]:
        """The member holding ``card``, JSON-able, with the balance usable at ``now``."""
        with self._transaction("cannot read the member", write=False) as conn:
            return members.show(conn, card, now or _now())

    def terminal_keys(self, action: Callable[[Connection], T], *, write: bool = False) -> T:
        """``action(connection)`` on the terminal keys (``store.keys``) in one transaction."""
        with self._transaction("cannot read or write the terminal keys", write=write) as conn:
            return action(conn)

    def report(self, read: Callable[[Connection], T]) -> T:
        """``read(connection)`` in one read-only snapshot: for the reports of ``store.reports``."""
        with self._transaction("cannot read the journal", write=False) as conn:
            return read(conn)

    @contextmanager
    def _transaction(self, doing: str, *, write: bool, audited: bool = True) -> Iterator[Connection]:
        with database_errors(doing), (writing if write else snapshot)(self._engine) as conn:
            yield conn
            if write and audited and self._audited is not None:
                audit.record(conn, self._audited, "done", _now())


def _now() -> datetime:
    return datetime.now(UTC)
