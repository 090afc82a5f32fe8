"""The daemon as one Twisted service tree: start-up and clean stop follow one path.

Start: rebuild the ledger from the store, start the writer process, start the children
(every listener, the stations), each listening. Stop: stop the children from listening,
refuse new requests, answer what is in flight once durable, close connections,
flush and close the store.
"""

from __future__ import annotations

from datetime import UTC, datetime

from twisted.application.service import MultiService
from twisted.internet import reactor as default_reactor
from twisted.internet.defer import Deferred, inlineCallbacks
from twisted.internet.task import LoopingCall
from twisted.internet.threads import deferToThread
from twisted.logger import Logger

from .. import config as configuration
from ..config import Config, ConfigError
from ..drivers import ListenerService, make_listener
from ..rules import Ledger, RuleCore
from ..store import ReloadChange, Store, apply_change
from .dispatcher import Dispatcher
from .writer import WriterProcess

log = Logger(namespace="terminal_gateway.daemon")


class GatewayService(MultiService):
    def __init__(self, config: Config, store: Store, reactor: object = default_reactor):
        super().__init__()
        self.config, self.store, self.reactor = config, store, reactor
        ledger = Ledger()
        started = datetime.now(UTC)
        self.cursor = store.load(ledger, started, config.program.replay_days)
        log.info("ledger rebuilt from the store: {accounts} members, {terminals} terminals, {entries} "
                 "remembered requests, {holds} hold deadlines", accounts=len(ledger.accounts),
                 terminals=len(ledger.terminals), entries=len(ledger.by_key), holds=len(ledger.hold_deadlines))
        self.core = RuleCore(config, ledger, _voucher_key(config))
        self.writer = WriterProcess(
            config.store.url,
            config.store.timeouts,
            on_committed=lambda through: self.dispatcher.committed(through),
            on_failed=lambda first, error: self.dispatcher.failed(first, error),
            on_rejected=lambda seq, error: self.dispatcher.rejected(seq, error),
        )
        self.dispatcher = Dispatcher(self.core, self.writer.submit, self.writer.resume, store.prepare)
        self.dispatcher.sources = config.sources
        self.listeners: list[ListenerService] = []
        for listener in config.listeners:
            service = make_listener(listener, config, self.dispatcher, reactor)
            service.setServiceParent(self)
            self.listeners.append(service)
        self._poller = LoopingCall(self._poll_changes)
        if config.stations:  # counter stations and their HTTP interface, a child service
            from ..store.uidtags import tag_card
            from .stations import StationService

            StationService(config, self.dispatcher, lambda uid: deferToThread(tag_card, store, uid),
                           lambda token: deferToThread(store.station_holding, token), reactor).setServiceParent(self)

    def startService(self) -> None:
        self.writer.start(self.reactor)
        super().startService()
        self._poller.start(self.config.store.poll_seconds, now=False)

    @inlineCallbacks
    def stopService(self) -> Deferred[None]:
        log.info("stopping: no new connections or requests; answering what is in flight")
        if self._poller.running:
            self._poller.stop()
        yield super().stopService()  # every listener and station: no new connections or operations
        yield self.dispatcher.drain()
        for listener in self.listeners:
            listener.disconnect()
        yield self.writer.stop()
        self.store.close()
        log.info("stopped cleanly: every approved decision is durable")

    def reload(self) -> bool:
        """Decide under the configuration file as it is now (SIGHUP, ``terminal-gateway
        reload``); one that does not validate changes nothing and is logged with why.
        Connections stay up; listeners and the store are only read at start."""
        try:
            config = configuration.load(self.config.path)
            key = _voucher_key(config)
        except ConfigError as error:
            log.error("reload refused, the program is unchanged: {error}", error=error)
            return False
        if (config.listeners, config.store) != (self.config.listeners, self.config.store):
            log.warn("reload: listeners and [store] take effect at the next start only")
        self.config = config
        self.core.reload(config, key)
        self.dispatcher.sources = config.sources
        log.info("reloaded the program from {path}: {groups} groups, {services} services, {rules} interval rules",
                 path=config.path, groups=len(config.groups), services=len(config.services),
                 rules=len(config.interval_rules))
        return True

    @inlineCallbacks
    def _poll_changes(self) -> Deferred[None]:
        """Operators' changes (new members, credit, terminals, vouchers; a reload) reach the
        running ledger."""
        try:
            self.cursor, changes = yield deferToThread(self.store.changes_since, self.cursor)
        except Exception as error:
            log.warn("could not read operator changes: {error}", error=error)
            return
        for change in changes:
            if isinstance(change, ReloadChange):
                self.reload()
            else:
                apply_change(self.core.ledger, change)
        if changes:
            log.info("applied {count} operator changes", count=len(changes))


def _voucher_key(config: Config) -> bytes | None:
    """The PIN hashing key where the program configures vouchers; without it top-ups answer 12."""
    vouchers = config.vouchers
    return configuration.voucher_key(config) if vouchers.key_file or vouchers.key_env else None
