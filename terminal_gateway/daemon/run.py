"""``terminal-gateway run``: the daemon in the foreground, logging to stderr."""

from __future__ import annotations

import sys

from twisted.logger import (
    FilteringLogObserver,
    LogLevel,
    LogLevelFilterPredicate,
    globalLogBeginner,
    textFileLogObserver,
)

from ..config import Config

EXIT_START_FAILED = 1


def begin_logging(level: LogLevel = LogLevel.info) -> None:
    """Structured Twisted log events, rendered as text lines on stderr."""
    predicate = LogLevelFilterPredicate(defaultLogLevel=level)
    observer = FilteringLogObserver(textFileLogObserver(sys.stderr), [predicate])
    globalLogBeginner.beginLoggingTo([observer], redirectStandardIO=False)


def run(config: Config) -> int:
    from twisted.internet import reactor
    from twisted.logger import Logger

    from ..store import Store
    from .service import GatewayService

    begin_logging()
    log = Logger(namespace="terminal_gateway.daemon")
    store = Store(config.store.url)
    store.check_schema()
    service = GatewayService(config, store, reactor)
    status = {"code": 0}

    def start() -> None:
        try:
            service.startService()
        except Exception as error:
            log.critical("cannot start: {error}", error=error)
            status["code"] = EXIT_START_FAILED
            reactor.stop()

    reactor.callWhenRunning(start)
    reactor.addSystemEventTrigger("before", "shutdown", lambda: service.stopService() if service.running else None)
    reactor.run()
    return status["code"]
