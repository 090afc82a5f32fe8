"""``Store.write``: a group of records in one transaction, every row where reports expect it."""

from __future__ import annotations

import dataclasses
import json
import time
from typing import Any

import pytest
from sqlalchemy import Table, create_engine, func, select
from sqlalchemy.exc import OperationalError

from terminal_gateway.daemon.writer import CommitQueue
from terminal_gateway.rules.effects import Posting
from terminal_gateway.store import CommitTooLate, Store, StoreError
from terminal_gateway.store.errors import refused_rows
from terminal_gateway.store.schema import batches, postings, terminals, transactions
from terminal_gateway.vocabulary import BatchTotals, CardRef, Code, Reconcile, Redeem, SignOn

from .clinic import TID, Clinic


def _rows(url: str, table: Table) -> list[Any]:
    engine = create_engine(url)
    with engine.connect() as conn:
        rows = conn.execute(select(table)).all()
    engine.dispose()
    return rows


def test_records_become_journal_rows_postings_sessions_and_batches(store: Store, store_url: str) -> None:
    clinic = Clinic(store)
    clinic.terminal()
    card = clinic.member(1, 100_000, 50_000, group="gold")
    clinic.send(SignOn)
    key = clinic.key()
    outcome = clinic.send(Redeem, card=card, amount=120_000, invoice="INV-1", key=key)
    clinic.send(Reconcile, batch_number="007", totals=BatchTotals(debits=1, debits_amount=100_000))

    journal = {row.kind: row for row in _rows(store_url, transactions)}
    redeem = journal["redeem"]
    assert (redeem.key, redeem.terminal, redeem.card, redeem.requested, redeem.approved, redeem.code,
            redeem.binding_limit, redeem.rrn, redeem.auth_code, redeem.invoice, redeem.day) == (
        key, TID, "627412******" + card.pan[-4:], 120_000, 120_000, "00", None, outcome.rrn, outcome.auth_code,
        "INV-1", "2031-03-01")
    assert redeem.at == clinic.now and redeem.at.tzinfo is not None
    assert {kind for kind, _ in json.loads(redeem.effects)} == {
        "daily_usage", "invoice_usage", "batch_item", "recorded"}  # postings are rows, not replayed
    assert {row.format_version for row in journal.values()} == {2}
    assert sorted((p.transaction_id, p.delta) for p in _rows(store_url, postings)) == [
        (redeem.id, -100_000), (redeem.id, -20_000)]
    (terminal,) = _rows(store_url, terminals)
    assert (terminal.signed_on, terminal.batch_seq) == (True, 2)
    (batch,) = _rows(store_url, batches)
    assert (batch.seq, batch.batch_number, batch.code, batch.transaction_id) == (
        1, "007", Code.TOTALS_MISMATCH.value, journal["reconcile"].id)
    assert (batch.gateway_debits_amount, batch.reported_debits_amount) == (120_000, 100_000)


def test_a_declined_redemption_names_its_binding_limit(store: Store, store_url: str) -> None:
    clinic = Clinic(store)
    clinic.terminal()
    card = clinic.member(1, 500_000)
    clinic.send(Redeem, card=card, amount=150_000, invoice="INV-1")
    (row,) = _rows(store_url, transactions)
    assert (row.code, row.approved, row.binding_limit) == ("10", 100_000, "INVOICE_CAP")


def test_a_failed_write_leaves_nothing_and_says_so_without_card_numbers(store: Store, store_url: str) -> None:
    clinic = Clinic(store)
    clinic.terminal()
    card = clinic.member(1, 500_000)
    clinic.send(Redeem, card=card, amount=1_000, invoice="INV-1")
    before = (len(_rows(store_url, transactions)), len(_rows(store_url, postings)))
    good = clinic.core.decide(Redeem(terminal=TID, key=clinic.key(), card=card, amount=2_000, invoice="INV-2"),
                              clinic.now).records
    broken = dataclasses.replace(good[0], effects=(Posting("no-such-lot", "acc", -1),))
    with pytest.raises(StoreError, match=r"^cannot write the journal: ") as raised:
        store.write([*good, broken])
    assert card.pan not in str(raised.value) and "\n" not in str(raised.value)
    assert (len(_rows(store_url, transactions)), len(_rows(store_url, postings))) == before
    store.write(good)
    assert len(_rows(store_url, transactions)) == before[0] + 1


def test_writing_nothing_is_no_transaction(store: Store, store_url: str) -> None:
    store.write([])
    engine = create_engine(store_url)
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(transactions)) == 0
    engine.dispose()


def test_the_writer_isolates_a_decision_the_database_refuses(store: Store, store_url: str) -> None:
    """One decision's rows break a constraint (a posting to a lot that does not exist): the
    decisions before it are written, it alone is rejected, the database's failure is not."""
    clinic = Clinic(store)
    clinic.terminal()
    card = clinic.member(1, 500_000)
    decide = [clinic.core.decide(Redeem(terminal=TID, key=clinic.key(), card=card, amount=1_000, invoice=f"I{n}"),
                                 clinic.now).records for n in range(5)]
    decide[3] = (dataclasses.replace(decide[3][0], effects=(Posting("no-such-lot", "acc", -1),)),)
    queue = CommitQueue(store.write_prepared, refused_rows)
    queue.receive(("write", [(seq, store.prepare(records), 0.0) for seq, records in enumerate(decide, 1)]))
    (committed, (kind, seq, reason)) = queue.commit()
    assert committed == ("committed", 3) and (kind, seq) == ("rejected", 4) and card.pan not in reason
    assert [row.invoice for row in _rows(store_url, transactions)] == ["I0", "I1", "I2"]
    timeout = StoreError("cannot write the journal: canceling statement due to lock timeout")
    timeout.__cause__ = OperationalError("INSERT", {}, Exception("lock timeout"))
    assert not refused_rows(timeout)


def test_control_characters_reach_the_journal_escaped(store: Store, store_url: str) -> None:
    """Whatever a codec lets through, a NUL byte or an escape sequence is stored as its
    escape: PostgreSQL refuses a NUL in a text, and a report must not carry a control."""
    clinic = Clinic(store)
    clinic.terminal()
    clinic.send(Redeem, card=CardRef(pan="6274120000000001"), amount=1, invoice="I\x00\x1b[2J", key="T\x00:1")
    (row,) = _rows(store_url, transactions)
    assert (row.invoice, row.key) == ("I\\x00\\x1b[2J", "T\\x00:1")
    assert "\x00" not in row.message


def test_a_batch_past_its_commit_deadline_is_rolled_back_and_not_isolated(store: Store, store_url: str) -> None:
    clinic = Clinic(store)
    clinic.terminal()
    card = clinic.member(1, 500_000)
    records = clinic.core.decide(Redeem(terminal=TID, key=clinic.key(), card=card, amount=1_000, invoice="L1"),
                                 clinic.now).records
    with pytest.raises(CommitTooLate) as late:
        store.write_prepared([store.prepare(records)], commit_by=time.monotonic() - 0.001)
    assert _rows(store_url, transactions) == [] and not refused_rows(late.value)
    store.write_prepared([store.prepare(records)], commit_by=time.monotonic() + 60)
    assert len(_rows(store_url, transactions)) == 1
