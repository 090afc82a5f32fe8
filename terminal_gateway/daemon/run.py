"""``terminal-gateway run``: the daemon in the foreground, logging to stderr."""

from __future__ import annotations

import signal

from twisted.internet.task import LoopingCall

from ..config import Config
from .logs import FLUSH_SECONDS, begin_logging

EXIT_START_FAILED = 1


def run(config: Config) -> int:
    from twisted.internet import reactor
    from twisted.logger import Logger

    from ..store import Store
    from .service import GatewayService

    lines = begin_logging()
    flusher = LoopingCall(lines.flush)
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
    signal.signal(signal.SIGHUP, lambda *_: reactor.callFromThread(service.reload))
    reactor.callWhenRunning(flusher.start, FLUSH_SECONDS)
    reactor.addSystemEventTrigger("before", "shutdown", lambda: service.stopService() if service.running else None)
    reactor.run()
    lines.flush()
    return status["code"]
