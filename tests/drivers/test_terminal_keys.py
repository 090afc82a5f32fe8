"""The daemon's keyring: keys held in memory, a key change durable before it is approved, a
stale poll never undoing a newer key, a rotated KEK taken up while the keys keep working."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import pytest_twisted
from twisted.internet.task import Clock

from terminal_gateway.drivers.terminal_keys import Keyring
from terminal_gateway.protocols.club8583.mac import check_value
from terminal_gateway.store import Store
from terminal_gateway.store import keys as stored
from terminal_gateway.vocabulary import Code

TID = "T0000001"
KEK, NEW_KEK = stored.Kek(bytes(range(32))), stored.Kek(bytes(range(32, 64)))
MASTER, SESSION, NEXT = bytes(range(100, 116)), bytes(range(200, 216)), bytes(range(220, 236))


class FakeReactor(Clock):
    def addSystemEventTrigger(self, *args: object) -> None:
        pass


@pytest.fixture
def url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'gateway.db'}"


@pytest.fixture
def store(url: str) -> Iterator[Store]:
    store = Store(url)
    store.init_schema()
    store.add_terminal(TID, "CLINIC000000001")
    store.terminal_keys(lambda c: stored.load_master(c, TID, MASTER, KEK, datetime.now(UTC)),
                        write=True)
    yield store
    store.close()


def keyring(url: str, kek: list[stored.Kek]) -> Keyring:
    """A keyring whose configured KEK is ``kek[0]`` (a test changes it as an operator would)."""
    return Keyring(url, lambda: kek[0].key, FakeReactor(), 60)


def session_check(store: Store) -> str | None:
    return store.terminal_keys(lambda c: stored.show(c, TID, datetime.now(UTC), 1))["keys"][
        "session_check"]


@pytest_twisted.ensureDeferred
async def test_a_key_change_is_stored_then_held_and_a_stale_read_does_not_undo_it(store: Store, url: str) -> None:
    ring = keyring(url, [KEK])
    assert (ring.mac_key(TID), ring.master_key(TID), ring.mac_key("T0000009")) == (MASTER, MASTER, None)
    stale, began = store.terminal_keys(stored.read_all), ring._installs  # a poll that read before the change
    outcome = await ring.install(TID, SESSION)
    assert outcome.code is Code.APPROVED and session_check(store) == check_value(SESSION)
    assert ring.mac_key(TID) == SESSION
    ring._apply(stale, began)
    assert ring.mac_key(TID) == SESSION
    ring._apply(store.terminal_keys(stored.read_all), ring._installs)
    assert (ring.mac_key(TID), ring.master_key(TID)) == (SESSION, MASTER)


@pytest_twisted.ensureDeferred
async def test_a_rotated_kek_is_taken_up_and_a_wrong_one_stores_nothing(store: Store, url: str) -> None:
    configured = [KEK]
    ring = keyring(url, configured)
    store.terminal_keys(lambda c: stored.rotate(c, KEK, NEW_KEK, datetime.now(UTC)), write=True)
    ring._apply(store.terminal_keys(stored.read_all), ring._installs)  # the KEK file not yet replaced
    assert ring.mac_key(TID) == MASTER  # what it holds keeps working
    configured[0] = NEW_KEK
    assert (await ring.install(TID, SESSION)).code is Code.APPROVED  # it reads the KEK again
    assert ring.mac_key(TID) == SESSION and session_check(store) == check_value(SESSION)
    # Rotated again, but the configured KEK is not the new one yet: the key change fails, nothing moves.
    store.terminal_keys(lambda c: stored.rotate(c, NEW_KEK, KEK, datetime.now(UTC)), write=True)
    assert (await ring.install(TID, NEXT)).code is Code.MALFUNCTION
    assert ring.mac_key(TID) == SESSION and session_check(store) == check_value(SESSION)


def test_the_daemon_refuses_a_kek_the_keys_are_not_wrapped_under(store: Store, url: str) -> None:
    with pytest.raises(stored.KekMismatch, match=f"wrapped under KEK {KEK.check}, the configured KEK is "
                                                 f"{NEW_KEK.check}"):
        keyring(url, [NEW_KEK])
