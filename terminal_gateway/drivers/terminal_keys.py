"""The terminals' keys in the daemon, for Club-8583 listeners of a MAC profile.

``Keyring`` holds every terminal's keys unwrapped in memory, so checking a MAC reads no
database. It reads them from the store at start and again every poll, in a thread: keys an
operator loads while the daemon runs are in force within a poll, and after a KEK rotation
(the rows re-wrapped under a KEK it does not know) it reads the KEK again from where the
configuration says, while the keys it holds keep working. A key change is made durable
(stored wrapped under the KEK) before it is answered, and in force from the next request.

``KeyedGateway`` is the gateway a MAC listener's connections see: key changes go to the
keyring, everything else to the dispatcher.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from twisted.internet.defer import Deferred
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThread
from twisted.logger import Logger
from twisted.python.failure import Failure

from ..config import Config, ConfigError, kek
from ..protocols.club8583 import Profile
from ..protocols.club8583.keychange import KeyChange
from ..protocols.club8583.mac import check_value
from ..store import Store
from ..store import keys as stored
from ..vocabulary import Code, Outcome, Request, TerminalFamily
from . import Gateway

__all__ = ["KeyedGateway", "Keyring", "keyed"]

log = Logger(namespace="terminal_gateway.keys")
NOT_STORED = Outcome(Code.MALFUNCTION, message="the new session key could not be stored")


def keyed(profile: Profile, config: Config, gateway: Gateway, reactor: Any) -> tuple[Gateway, Keyring | None]:
    """The gateway and the keys a Club-8583 listener of ``profile`` needs: under a MAC
    profile the terminals' keys, and a gateway that answers key changes."""
    if not profile.mac:
        return gateway, None
    if not config.keys.configured:
        raise ConfigError(f"{config.path}: a listener of {profile.name}, a MAC profile, needs the terminals' keys: "
                          "[keys] kek_file or kek_env")
    keyring = Keyring(config.store.url, lambda: kek(config), reactor, config.store.poll_seconds)
    return KeyedGateway(gateway, keyring), keyring


class Keyring:
    """Every terminal's master and session key, unwrapped, kept current from the store."""

    def __init__(self, store_url: str, read_kek: Callable[[], bytes], reactor: Any, poll_seconds: float) -> None:
        self._store = Store(store_url)
        self._read_kek = read_kek
        self._kek = stored.Kek(read_kek())
        self._keys: dict[str, stored.TerminalKeys] = {}
        self._seen: dict[str, tuple[bytes, bytes | None, str]] = {}  # the rows as last read, still wrapped
        self._installs = 0  # key changes made durable so far
        self._installed_at: dict[str, int] = {}  # the count when each terminal's last one was
        rows = self._store.terminal_keys(stored.read_all)
        others = sorted({row.kek_check for row in rows} - {self._kek.check})
        if others:
            self._store.close()
            raise stored.KekMismatch(f"[keys]: the stored terminal keys are wrapped under KEK {', '.join(others)}, "
                                     f"the configured KEK is {self._kek.check}")
        self._apply(rows, self._installs)
        log.info("terminal keys: {count} terminals, under KEK {kek}", count=len(self._keys), kek=self._kek.check)
        self._poller = LoopingCall(self._poll)
        self._poller.clock = reactor
        self._poller.start(poll_seconds, now=False)
        reactor.addSystemEventTrigger("before", "shutdown", self._stop)

    def mac_key(self, terminal: str) -> bytes | None:
        keys = self._keys.get(terminal)
        return None if keys is None else keys.session or keys.master

    def master_key(self, terminal: str) -> bytes | None:
        keys = self._keys.get(terminal)
        return None if keys is None else keys.master

    def install(self, terminal: str, session: bytes) -> Deferred[Outcome]:
        """Store ``session`` as ``terminal``'s session key, then hold it: approved once durable."""
        done = deferToThread(self._store_session, terminal, session)
        done.addCallback(self._installed, terminal, session)
        done.addErrback(self._not_installed, terminal)
        return done

    def _store_session(self, terminal: str, session: bytes) -> None:
        now = datetime.now(UTC)
        try:
            self._store.terminal_keys(lambda conn: stored.install_session(conn, terminal, session, self._kek, now),
                                      write=True)
        except stored.KekMismatch:  # the KEK was rotated: read it again, once
            self._kek = stored.Kek(self._read_kek())
            self._store.terminal_keys(lambda conn: stored.install_session(conn, terminal, session, self._kek, now),
                                      write=True)

    def _installed(self, _: None, terminal: str, session: bytes) -> Outcome:
        self._installs += 1
        self._installed_at[terminal] = self._installs
        self._keys[terminal] = replace(self._keys[terminal], session=session)
        log.info("terminal {terminal}: new session key {check} in force", terminal=terminal,
                 check=check_value(session))
        return Outcome(Code.APPROVED)

    def _not_installed(self, failure: Failure, terminal: str) -> Outcome:
        log.error("terminal {terminal}: the new session key could not be stored, answering 96: {error}",
                  terminal=terminal, error=failure.getErrorMessage())
        return NOT_STORED

    def _poll(self) -> Deferred[None]:
        began = self._installs
        done = deferToThread(self._store.terminal_keys, stored.read_all)
        done.addCallback(self._apply, began)
        done.addErrback(lambda failure: log.warn("could not read the terminal keys: {error}",
                                                 error=failure.getErrorMessage()))
        return done

    def _apply(self, rows: Iterable[Any], began: int) -> None:
        """Take the rows that changed since they were last read; a terminal whose key change
        was made durable after this read began keeps the key it holds (the row read may be older)."""
        present, reread = set(), False
        for row in rows:
            present.add(row.tid)
            wrapped = (row.master_key, row.session_key, row.kek_check)
            if self._seen.get(row.tid) == wrapped or self._installed_at.get(row.tid, 0) > began:
                continue
            if row.kek_check != self._kek.check and not reread:
                self._kek, reread = stored.Kek(self._read_kek()), True  # rotated: the configured KEK is the new one
            try:
                self._keys[row.tid] = stored.unwrap(row, {self._kek.check: self._kek})
            except stored.StoreError as error:
                log.warn("terminal keys not taken, those held stay in force: {error}", error=error)
                continue
            self._seen[row.tid] = wrapped
        for gone in self._keys.keys() - present:
            del self._keys[gone]
            self._seen.pop(gone, None)

    def _stop(self) -> None:
        if self._poller.running:
            self._poller.stop()
        self._store.close()


class KeyedGateway:
    """The dispatcher as a MAC listener's connections see it: key changes are the keyring's."""

    def __init__(self, gateway: Gateway, keyring: Keyring) -> None:
        self._gateway, self._keyring = gateway, keyring

    def handle(self, request: Request, family: TerminalFamily) -> Deferred[Outcome]:
        if isinstance(request, KeyChange):
            return self._keyring.install(request.terminal, request.session_key)
        return self._gateway.handle(request, family)

    def remembered(self, terminal: str) -> Iterable[tuple[str, str, Outcome]]:
        return self._gateway.remembered(terminal)

    def business_day(self, branch: str, now: datetime) -> str:
        return self._gateway.business_day(branch, now)

    def certificate_problem(self, terminal: str, issued: datetime) -> str | None:
        return self._gateway.certificate_problem(terminal, issued)

    def source_problem(self, terminal: str, address: str) -> str | None:
        return self._gateway.source_problem(terminal, address)
