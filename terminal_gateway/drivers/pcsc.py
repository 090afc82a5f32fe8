"""A station's PC/SC reader, through pcscd and pyscard (the ``pcsc`` extra).

The reader is the first whose name contains the configured ``reader``; it is looked for
anew while waiting, so a reader plugged in (or pcscd started) late is found.
"""

from __future__ import annotations

import time
from contextlib import suppress
from threading import Event
from typing import Any

from smartcard.Exceptions import CardConnectionException, NoCardException, SmartcardException
from smartcard.pcsc.PCSCExceptions import BaseSCardException
from smartcard.System import readers

from .cardreader import POLL_SECONDS, CardRemoved

FAILURES = (SmartcardException, BaseSCardException)


class PcscReader:
    def __init__(self, name: str):
        self.name = name
        self.description = f"PC/SC reader matching {name!r}"
        self._connection: Any = None
        self.problem = ""

    def _find(self) -> Any:
        try:
            found = readers()
        except FAILURES as error:
            self.problem = f"pcscd cannot be reached ({error})"
            return None
        for reader in found:
            if self.name in str(reader):
                return reader
        self.problem = f"no PC/SC reader matching {self.name!r} (readers: {', '.join(map(str, found)) or 'none'})"
        return None

    def wait_for_card(self, timeout: float, cancelled: Event) -> bool:
        self.release()
        deadline = time.monotonic() + timeout
        while not cancelled.is_set():
            reader = self._find()
            if reader is not None:
                connection = reader.createConnection()
                try:
                    connection.connect()
                except NoCardException:
                    self.problem = ""
                except FAILURES as error:
                    self.problem = f"the card on {reader} did not answer ({error})"
                else:
                    self._connection, self.problem = connection, ""
                    return True
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                return False
            cancelled.wait(min(POLL_SECONDS, remaining))
        return False

    def transceive(self, command: bytes) -> bytes:
        if self._connection is None:
            raise CardRemoved("no card is connected")
        try:
            data, sw1, sw2 = self._connection.transmit(list(command))
        except (CardConnectionException, *FAILURES) as error:
            self.release()
            raise CardRemoved(f"the card left the reader ({error})") from None
        return bytes(data) + bytes((sw1, sw2))

    def release(self) -> None:
        connection, self._connection = self._connection, None
        if connection is not None:
            with suppress(*FAILURES):
                connection.disconnect()

    def close(self) -> None:
        self.release()
