"""Terminal keys at rest: only wrapped under the KEK, rotated all or nothing, shown by check value."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from terminal_gateway.protocols.club8583.mac import check_value
from terminal_gateway.store import Store, StoreError
from terminal_gateway.store import keys as stored
from terminal_gateway.store.schema import terminal_keys

TID, BRANCH = "T0000001", "CLINIC000000001"
KEK, NEW_KEK = stored.Kek(bytes(range(32))), stored.Kek(bytes(range(32, 64)))
MASTER, SESSION = bytes(range(100, 116)), bytes(range(200, 216))
NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def held(store: Store, kek: stored.Kek) -> dict[str, stored.TerminalKeys]:
    rows = store.terminal_keys(stored.read_all)
    return {row.tid: stored.unwrap(row, {kek.check: kek}) for row in rows}


@pytest.fixture
def keyed(store: Store) -> Store:
    store.add_terminal(TID, BRANCH)
    assert store.terminal_keys(lambda c: stored.load_master(c, TID, MASTER, KEK, NOW), write=True) == \
        check_value(MASTER)
    return store


def test_keys_are_stored_wrapped_and_come_back_unwrapped(keyed: Store) -> None:
    keyed.terminal_keys(lambda c: stored.install_session(c, TID, SESSION, KEK, NOW), write=True)
    row = keyed.terminal_keys(lambda c: c.execute(select(terminal_keys)).one())
    assert MASTER not in row.master_key and SESSION not in row.session_key
    assert (row.master_check, row.session_check, row.kek_check) == (check_value(MASTER), check_value(SESSION),
                                                                   KEK.check)
    keys = held(keyed, KEK)[TID]
    assert keys == stored.TerminalKeys(TID, MASTER, SESSION)
    assert repr(MASTER) not in repr(keys) and repr(SESSION) not in repr(keys) and repr(KEK.key) not in repr(KEK)


def test_a_master_key_needs_a_registered_terminal_and_the_kek_of_the_others(keyed: Store) -> None:
    with pytest.raises(StoreError, match="terminal T0000009 is not registered"):
        keyed.terminal_keys(lambda c: stored.load_master(c, "T0000009", MASTER, KEK, NOW), write=True)
    keyed.add_terminal("T0000002", BRANCH)
    with pytest.raises(stored.KekMismatch, match=f"wrapped under KEK {KEK.check}, the configured KEK is "
                                                 f"{NEW_KEK.check}"):
        keyed.terminal_keys(lambda c: stored.load_master(c, "T0000002", MASTER, NEW_KEK, NOW), write=True)
    with pytest.raises(StoreError, match="16 or 32 bytes, not 5"):
        keyed.terminal_keys(lambda c: stored.load_master(c, "T0000002", b"short", KEK, NOW), write=True)


def test_rotation_rewraps_every_key_and_a_stale_kek_cannot_write(keyed: Store) -> None:
    keyed.terminal_keys(lambda c: stored.install_session(c, TID, SESSION, KEK, NOW), write=True)
    assert keyed.terminal_keys(lambda c: stored.rotate(c, KEK, NEW_KEK, NOW), write=True) == 1
    assert held(keyed, NEW_KEK)[TID] == stored.TerminalKeys(TID, MASTER, SESSION)
    with pytest.raises(stored.KekMismatch):
        held(keyed, KEK)
    with pytest.raises(stored.KekMismatch):  # a daemon still on the old KEK: nothing written
        keyed.terminal_keys(lambda c: stored.install_session(c, TID, MASTER, KEK, NOW), write=True)
    with pytest.raises(stored.KekMismatch):  # rotating again from the old KEK: nothing changes
        keyed.terminal_keys(lambda c: stored.rotate(c, KEK, NEW_KEK, NOW), write=True)
    assert held(keyed, NEW_KEK)[TID].session == SESSION


def test_show_gives_check_values_and_security_events(keyed: Store) -> None:
    keyed.terminal_keys(lambda c: stored.install_session(c, TID, SESSION, KEK, NOW), write=True)
    shown = keyed.terminal_keys(lambda c: stored.show(c, TID, NOW, 7))
    assert shown["keys"] == {"kek_check": KEK.check, "master_check": check_value(MASTER),
                             "master_loaded_at": NOW.isoformat(), "session_check": check_value(SESSION),
                             "last_key_change": NOW.isoformat()}
    assert shown["security_events"] == {"days": 7, "count": 0, "last_at": None, "by_reason": {}}
    assert MASTER.hex() not in str(shown).lower() and SESSION.hex() not in str(shown).lower()
    with pytest.raises(StoreError, match="terminal T0000009 is not registered"):
        keyed.terminal_keys(lambda c: stored.show(c, "T0000009", NOW, 7))
