"""CR-200 readers on serial lines: the transport edge, where the port's bytes meet the link
layer and the reader's session (``protocols.cr200``).

One port per reader, opened with the line settings of the listener's firmware profile
(8N1, no flow control; the listener's ``baudrate`` wins over the profile's). A reader that is
unplugged (its device path disappears, or reading it fails) is looked for every
``reopen_seconds`` and reopened when its path is back; its session (last response, history)
lives on across that, only frames in flight on the old port are dropped.
"""

from __future__ import annotations

import os
from datetime import datetime
from typing import Any

import serial
from twisted.application.service import Service
from twisted.internet.protocol import Protocol
from twisted.internet.serialport import SerialPort
from twisted.internet.task import LoopingCall
from twisted.logger import Logger

from ..config import Config, Listener
from ..families import terminal_family
from ..protocols.cr200 import GaveUp, Link, Profile, ReaderSession, Received, Refused
from . import Gateway
from .exchange import Exchange

log = Logger(namespace="terminal_gateway.cr200")

_PARITY = {"N": serial.PARITY_NONE, "E": serial.PARITY_EVEN, "O": serial.PARITY_ODD}


class CR200Line(Protocol):
    """The bytes of one open port, through a fresh ``Link``, to the reader's session."""

    def __init__(self, reader: CR200Reader) -> None:
        self.reader = reader
        profile = reader.profile
        self.link = Link(ack_timeout=profile.ack_timeout, max_sends=profile.max_sends, max_data=profile.max_data)
        self._timer: Any = None
        self.open = False

    def connectionMade(self) -> None:
        self.open = True

    def connectionLost(self, reason: object = None) -> None:
        self.open = False
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self.reader.lost(self, reason)

    def dataReceived(self, data: bytes) -> None:
        self.link.receive(data, self.reader.reactor.seconds())
        self.pump()

    def send(self, data: bytes) -> None:
        self.link.send(data, self.reader.reactor.seconds())
        self.pump()

    def pump(self) -> None:
        """Handle what the link has for us, write what it has for the line, set its timer."""
        while (event := self.link.next_event()) is not None:
            if isinstance(event, Received):
                try:
                    self.reader.exchange.receive(event.data)
                except Exception:  # a bug: the reader gets no answer, the port and the gateway go on
                    log.failure("{terminal}: could not handle a request", terminal=self.reader.terminal)
            elif isinstance(event, Refused):
                log.warn("{terminal}: NAKed a frame from the reader: {reason}", terminal=self.reader.terminal,
                         reason=event.reason)
            elif isinstance(event, GaveUp):
                log.warn("{terminal}: no ACK after {sends} sends; response dropped (the reader may ask again)",
                         terminal=self.reader.terminal, sends=event.sends)
        out = self.link.data_to_send()
        if out and self.open and self.transport is not None:
            self.transport.write(out)
        if self._timer is not None and self._timer.active():
            self._timer.cancel()
        self._timer = None
        deadline = self.link.deadline
        if deadline is not None and self.open:
            reactor = self.reader.reactor
            self._timer = reactor.callLater(max(0.0, deadline - reactor.seconds()), self._expired)

    def _expired(self) -> None:
        self._timer = None
        self.link.poll(self.reader.reactor.seconds())
        self.pump()


class CR200Reader(Service):
    """One listener: one reader on one device, acting as the listener's terminal; its session
    (``ReaderSession``, the codec) outlives the port, which may come and go."""

    def __init__(self, listener: Listener, profile: Profile, session: ReaderSession, gateway: Gateway,
                 reactor: Any):
        assert listener.device is not None and listener.terminal is not None
        self.listener, self.profile, self.reactor = listener, profile, reactor
        self.device, self.terminal = listener.device, listener.terminal
        self.baudrate = listener.baudrate or profile.baudrate
        family = terminal_family(listener.protocol, profile)
        self.exchange = Exchange(session, family, gateway, self._send, lambda: self.terminal, log)
        self.port: Any = None
        self.line: CR200Line | None = None
        self._watch = LoopingCall(self._check)
        self._watch.clock = reactor
        self._closing = False
        self._missing_logged = False

    # -- the service ------------------------------------------------------------------------

    def startService(self) -> None:
        super().startService()
        opened = self._open()
        self._watch.start(self.profile.reopen_seconds, now=False)
        where = (f"CR-200 reader {self.terminal} of branch {self.listener.branch} ({self.profile.name}, "
                 f"{self.baudrate} baud 8{self.profile.parity}{self.profile.stopbits}) on {self.device}")
        log.info("{what}", what=f"serving the {where}" if opened else f"waiting for the {where}: not there yet")

    def stopService(self) -> None:
        """No reopening from now on; an open port stays until ``disconnect``."""
        super().stopService()
        if self._watch.running:
            self._watch.stop()

    def disconnect(self) -> None:
        self._closing = True
        if self.port is not None:
            self.port.loseConnection()

    # -- the port ---------------------------------------------------------------------------

    def _open(self) -> bool:
        line = CR200Line(self)
        try:
            port = SerialPort(line, self.device, self.reactor, baudrate=self.baudrate,
                              bytesize=self.profile.bytesize, parity=_PARITY[self.profile.parity],
                              stopbits=self.profile.stopbits, xonxoff=0, rtscts=0)
        except (OSError, serial.SerialException) as error:
            if not self._missing_logged:
                log.warn("{terminal}: cannot open {device} ({error}); trying again every {every} s",
                         terminal=self.terminal, device=self.device, error=error, every=self.profile.reopen_seconds)
                self._missing_logged = True
            return False
        self.port, self.line, self._missing_logged = port, line, False
        return True

    def _check(self) -> None:
        """Every ``reopen_seconds``: reopen a closed port whose device is there; close an open
        one whose device path went away (some USB-serial drivers report nothing on unplug)."""
        if self.port is None:
            if os.path.exists(self.device) and self._open():
                log.info("{terminal}: reader on {device} is back; port reopened", terminal=self.terminal,
                         device=self.device)
        elif not os.path.exists(self.device):
            log.warn("{terminal}: {device} is gone (unplugged?); closing the port", terminal=self.terminal,
                     device=self.device)
            self.port.loseConnection()

    def lost(self, line: CR200Line, reason: object) -> None:
        if line is not self.line:
            return
        self.port, self.line = None, None
        if not self._closing:
            log.warn("{terminal}: lost {device} ({reason}); looking for it every {every} s",
                     terminal=self.terminal, device=self.device, every=self.profile.reopen_seconds,
                     reason=getattr(reason, "value", reason))

    # -- answers ----------------------------------------------------------------------------

    def _send(self, data: bytes) -> None:
        if self.line is not None and self.line.open:
            self.line.send(data)
        else:
            log.warn("{terminal}: the port closed before the answer; it is kept for the reader's repeat",
                     terminal=self.terminal)


def cr200_listener(listener: Listener, profile: Profile, config: Config, gateway: Gateway,
                   reactor: Any) -> CR200Reader:
    branch = listener.branch or ""

    def day(now: datetime) -> str:
        return gateway.business_day(branch, now)

    session = ReaderSession(listener.terminal or "", day=day, width=profile.display_width,
                            history_size=profile.history)
    found = session.restore(gateway.remembered(session.terminal))
    if found:
        log.info("{terminal}: {count} earlier requests of the reader remembered (repeats, cancels)",
                 terminal=session.terminal, count=found)
    return CR200Reader(listener, profile, session, gateway, reactor)
