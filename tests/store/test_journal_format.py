"""The journal's stored format, on SQLite and PostgreSQL: revision 0004 converts a journal
written before it (effects named by their Python class, no format version) into kinds and
back, the ledger rebuilt from it is the one the decisions left, and the loader refuses what
it does not read, naming the row."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import pytest
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, insert, inspect, text, update

from terminal_gateway.rules import Entry, Ledger
from terminal_gateway.rules.effects import (
    BatchClosed,
    BatchItem,
    Changed,
    DailyUsage,
    Effect,
    InvoiceUsage,
    PinFailure,
    Recorded,
    Tombstone,
)
from terminal_gateway.store import Store, StoreError, journal
from terminal_gateway.store.engine import make_engine, writing
from terminal_gateway.store.migrate import alembic_config
from terminal_gateway.store.schema import transactions
from terminal_gateway.vocabulary import BatchTotals, Code, Complete, Outcome, Reconcile, Redeem, Reverse, SignOn

from ..support import BRANCH
from .clinic import REPLAY_DAYS, START, TID, Clinic, ledger_state

HOLD_KEY = f"{TID}:000001:0301083000"
ACCOUNT = "a" * 32
HOLD = Entry(kind="hold", terminal=TID, key=HOLD_KEY, account_id=ACCOUNT, branch=BRANCH, day="2031-03-01",
             invoice="INV-1", taken=(("lot1", 60_000),), hold_state="open", expires_at=START + timedelta(minutes=15),
             outcome=Outcome(Code.APPROVED, amount=60_000, rrn="000000000007", auth_code="000007",
                             totals=BatchTotals(debits=1)))
TOTALS = BatchTotals(debits=1, debits_amount=60_000)
EFFECTS: list[list[Effect]] = [  # a journal row's effects each, every replayed kind among them
    [Recorded(HOLD), DailyUsage(ACCOUNT, "2031-03-01", 60_000, 1), InvoiceUsage(BRANCH, "INV-1", 60_000),
     BatchItem(TID, 1, "debits", 60_000)],
    [Changed(HOLD, "hold_state", "open", "completed"), Tombstone(f"{TID}:000009:0301083000"),
     PinFailure(f"terminal:{TID}", START)],
    [BatchClosed(TID, 1, "001", TOTALS, TOTALS)],
]
FORMAT_1 = [  # those effects as revision 0003's code wrote them, byte for byte
    '[{"type":"Recorded","entry":{"kind":"hold","terminal":"T0000001","outcome":{"code":"00","amount":60000,'
    '"rrn":"000000000007","auth_code":"000007","totals":{"debits":1}},"key":"T0000001:000001:0301083000",'
    '"account_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","branch":"CLINIC000000001","day":"2031-03-01",'
    '"invoice":"INV-1","taken":[["lot1",60000]],"hold_state":"open","expires_at":"2031-03-01T08:45:00+00:00"}},'
    '{"type":"DailyUsage","account_id":"aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa","day":"2031-03-01","amount":60000,'
    '"count":1},{"type":"InvoiceUsage","branch":"CLINIC000000001","invoice":"INV-1","amount":60000},'
    '{"type":"BatchItem","terminal":"T0000001","seq":1,"kind":"debits","amount":60000}]',
    '[{"type":"Changed","entry":"T0000001:000001:0301083000","field":"hold_state","old":"open","new":"completed"},'
    '{"type":"Tombstone","key":"T0000001:000009:0301083000"},'
    '{"type":"PinFailure","scope":"terminal:T0000001","at":"2031-03-01T08:30:00+00:00"}]',
    '[{"type":"BatchClosed","terminal":"T0000001","seq":1,"batch_number":"001",'
    '"gateway":{"debits":1,"debits_amount":60000},"reported":{"debits":1,"debits_amount":60000}}]',
]


@contextmanager
def _database(url: str) -> Iterator[Connection]:
    """One read-write transaction, on an engine of its own."""
    engine = make_engine(url)
    try:
        with writing(engine) as conn:
            yield conn
    finally:
        engine.dispose()


def _migrate(url: str, step: Callable[[Config, str], None], revision: str) -> None:
    """``command.upgrade`` or ``command.downgrade`` to ``revision``, as ``Store.init_schema`` runs them."""
    with _database(url) as conn:
        step(alembic_config(conn), revision)


def _journal(url: str) -> list[str | None]:
    with _database(url) as conn:
        return list(conn.scalars(text("SELECT effects FROM transactions ORDER BY id")))


def _shape(url: str) -> tuple[str | None, list[str]]:
    """The schema's revision and the journal's columns."""
    with _database(url) as conn:
        columns = [column["name"] for column in inspect(conn).get_columns("transactions")]
        return MigrationContext.configure(conn).get_current_revision(), columns


def _at_0003_with_rows(url: str, texts: list[str | None]) -> Store:
    """A store at revision 0003 with terminal ``TID`` and journal rows holding ``texts``, a minute apart."""
    _migrate(url, command.upgrade, "0003")
    rows = [{"at": START + timedelta(minutes=i), "kind": "redeem", "terminal": TID, "repeat": False, "card": "",
             "approved": 0, "code": "00", "message": "", "effects": effects} for i, effects in enumerate(texts)]
    with _database(url) as conn:  # the terminal as revision 0003 has it: today's table has more columns
        conn.execute(text("INSERT INTO terminals (tid, branch, signed_on, batch_seq, created_at) "
                          "VALUES (:tid, :branch, false, 1, :at)"), {"tid": TID, "branch": BRANCH, "at": START})
        conn.execute(insert(transactions), rows)
    return Store(url)


def test_a_format_1_journal_becomes_format_2_and_back_byte_for_byte(store_url: str) -> None:
    store = _at_0003_with_rows(store_url, [*FORMAT_1, None])
    store.init_schema()
    assert _journal(store_url) == [*map(journal.encode, EFFECTS), None]
    with _database(store_url) as conn:
        assert set(conn.scalars(text("SELECT format_version FROM transactions"))) == {journal.FORMAT_VERSION}
    ledger = Ledger()
    store.load(ledger, START, REPLAY_DAYS)
    assert ledger.by_key[HOLD_KEY].hold_state == "completed"
    assert (ledger.daily, ledger.invoices) == ({(ACCOUNT, "2031-03-01"): [60_000, 1]}, {(BRANCH, "INV-1"): 60_000})
    assert ledger.reversed_keys == {f"{TID}:000009:0301083000"}
    assert ledger.pin_failures == {f"terminal:{TID}": [START]}
    _migrate(store_url, command.downgrade, "0003")
    assert _journal(store_url) == [*FORMAT_1, None]
    revision, columns = _shape(store_url)
    assert revision == "0003" and "format_version" not in columns
    store.close()


def test_a_real_journal_migrates_and_rebuilds_the_ledger_its_decisions_left(store: Store, store_url: str) -> None:
    clinic = Clinic(store)
    clinic.terminal()
    card = clinic.member(1, 500_000)
    clinic.send(SignOn)
    clinic.send(Redeem, card=card, amount=40_000, invoice="INV-1")
    hold = clinic.send(Redeem, card=card, amount=60_000, invoice="INV-2", hold=True)
    clinic.send(Complete, card=card, amount=50_000, rrn=hold.rrn)
    clinic.send(Reverse, original_key=f"{TID}:999999:0301120000")
    clinic.send(Reconcile, batch_number="001", totals=clinic.core.ledger.terminals[TID].batch)
    written = _journal(store_url)

    _migrate(store_url, command.downgrade, "0003")
    assert {item["type"] for effects in _journal(store_url) if effects for item in json.loads(effects)} == {
        "Recorded", "Changed", "DailyUsage", "InvoiceUsage", "Tombstone", "BatchItem", "BatchClosed"}
    store.init_schema()
    assert _journal(store_url) == written
    assert ledger_state(clinic.reloaded().ledger, clinic.now) == ledger_state(clinic.core.ledger, clinic.now)


def test_a_format_1_row_that_does_not_convert_fails_the_upgrade_naming_it(store_url: str) -> None:
    teleported = '[{"type":"Tombstone","key":"k"},{"type":"Teleported","to":"Mars"}]'
    store = _at_0003_with_rows(store_url, [FORMAT_1[0], teleported])
    before = _shape(store_url)
    with pytest.raises(StoreError, match=r"^cannot convert journal row 2 to format 2: ValueError: an effect named "
                                         r"'Teleported', which revision 0004 does not know$"):
        store.init_schema()
    assert _shape(store_url) == before  # the new column too is rolled back
    assert _journal(store_url) == [FORMAT_1[0], teleported]
    store.close()


@pytest.mark.parametrize(("change", "message"), [
    ({"format_version": 3}, "it is in format version 3; this gateway reads version 2 only"),
    ({"effects": '[["tombstone",{"key":"k"}],["teleported",{}]]'}, "it holds an effect of unknown kind 'teleported'"),
])
def test_the_loader_refuses_a_row_it_does_not_read_naming_it(store: Store, store_url: str, change: dict[str, object],
                                                            message: str) -> None:
    clinic = Clinic(store)
    clinic.terminal()
    card = clinic.member(1, 100_000)
    clinic.send(Redeem, card=card, amount=10_000, invoice="INV-1")
    clinic.send(Redeem, card=card, amount=10_000, invoice="INV-2")
    with _database(store_url) as conn:
        conn.execute(update(transactions).where(transactions.c.id == 2).values(change))
    with pytest.raises(StoreError, match=f"^journal row 2 cannot be replayed: {message}$"):
        clinic.reloaded()


def test_a_row_written_without_a_version_is_taken_as_format_1_and_refused(store: Store, store_url: str) -> None:
    store.add_terminal(TID, BRANCH)
    with _database(store_url) as conn:
        conn.execute(insert(transactions).values(at=START, kind="redeem", terminal=TID, repeat=False, card="",
                                                 approved=0, code="00", message="", effects=FORMAT_1[1]))
    with pytest.raises(StoreError, match="journal row 1 cannot be replayed: it is in format version 1;"):
        store.load(Ledger(), START, REPLAY_DAYS)
