"""The audit trail and the stations' tokens in the store, on SQLite and PostgreSQL: a change
and its audit row commit together or not at all; a token is found by its hash only."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text

from terminal_gateway.store import Audited, Store, StoreError

TERMINAL_ADD = Audited("alice", "terminal add", "terminal T0000001 at branch CLINIC000000001")


def test_a_change_and_its_audit_row_commit_together(store: Store, store_url: str) -> None:
    audited = Store(store_url, audited=TERMINAL_ADD)
    try:
        audited.add_terminal("T0000001", "CLINIC000000001")
        with pytest.raises(StoreError, match="already registered"):
            audited.add_terminal("T0000001", "CLINIC000000001")
        audited.audit_refused("terminal T0000001 is already registered")
    finally:
        audited.close()
    assert [(row.os_user, row.command, row.target, row.outcome) for row in store.audit_trail()] == [
        ("alice", "terminal add", TERMINAL_ADD.target, "done"),
        ("alice", "terminal add", TERMINAL_ADD.target, "refused: terminal T0000001 is already registered")]


def test_a_change_whose_audit_row_cannot_be_written_is_rolled_back(store: Store, store_url: str) -> None:
    engine = create_engine(store_url)
    with engine.begin() as conn:
        conn.execute(text("DROP TABLE audit"))
    engine.dispose()
    audited = Store(store_url, audited=TERMINAL_ADD)
    try:
        with pytest.raises(StoreError, match="cannot add the terminal"):
            audited.add_terminal("T0000001", "CLINIC000000001")
    finally:
        audited.close()
    assert store.changes_since(0) == (0, [])  # no terminal, no change for the daemon


def test_a_station_token_is_found_by_its_hash_and_replaced_or_revoked_at_once(store: Store) -> None:
    first = store.issue_station_token("CNTR0001")
    other = store.issue_station_token("CNTR0002")
    assert store.station_holding(first) == "CNTR0001" and store.station_holding(other) == "CNTR0002"
    second = store.issue_station_token("CNTR0001")
    assert store.station_holding(first) is None and store.station_holding(second) == "CNTR0001"
    assert store.revoke_station_token("CNTR0001") is True and store.revoke_station_token("CNTR0001") is False
    assert store.station_holding(second) is None and store.station_holding("") is None
    assert store.audit_trail() == []  # the daemon's store and a test's audit nothing
