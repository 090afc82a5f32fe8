"""A station's NFC reader driven directly by nfcpy (the ``nfc`` extra), such as a PN533 USB
reader: ``reader`` is nfcpy's device path (``usb``, ``usb:054c:06c1``, ``tty:USB0:pn532``).

An ISO-DEP card (ISO 14443-4, nfcpy's ``Type4Tag``) gets the APDUs as they are; any other tag
(a Type 2 sticker) has no applet, so SELECT is answered 6A82 for it and the read goes on as
for a UID tag. ``FF CA 00 00 00`` is answered from the tag's identifier, as a PC/SC reader
would. The reader is opened when first waited on, and again after it failed.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Callable
from threading import Event
from typing import Any

import nfc
import nfc.clf
import nfc.tag
from nfc.tag.tt4 import Type4Tag

from ..protocols.clubcard import apdu
from .cardreader import POLL_SECONDS, CardRemoved

FAILURES = (nfc.clf.CommunicationError, nfc.tag.TagCommandError)
OK = b"\x90\x00"
NOT_FOUND = bytes.fromhex("6A82")
INS_NOT_SUPPORTED = bytes.fromhex("6D00")


class NfcReader:
    def __init__(self, path: str, frontend: Any = None):
        self.path = path
        self.description = f"NFC reader {path!r}"
        self.problem = ""
        self._frontend = frontend
        self._tag: Any = None

    def _open(self) -> Any:
        if self._frontend is None:
            try:
                self._frontend = nfc.ContactlessFrontend(self.path)
            except (OSError, nfc.clf.Error) as error:
                self.problem = f"cannot open NFC reader {self.path!r} ({error})"
                return None
        return self._frontend

    def wait_for_card(self, timeout: float, cancelled: Event) -> bool:
        self.release()
        deadline = time.monotonic() + timeout
        while not cancelled.is_set() and time.monotonic() < deadline:
            frontend = self._open()
            if frontend is None:
                cancelled.wait(min(POLL_SECONDS * 5, max(0.0, deadline - time.monotonic())))
                continue
            self.problem = ""
            try:
                tag = frontend.connect(rdwr={"on-connect": lambda tag: False, "targets": ["106A"],
                                             "iterations": 1},
                                       terminate=self._stop_when(cancelled, deadline))
            except (OSError, nfc.clf.Error) as error:
                tag, failure = False, str(error)
            else:  # nfcpy logs an OSError of the device (unplugged) and returns False
                failure = "nfcpy returned False: see its log"
            if tag:
                self._tag = tag
                return True
            if tag is False:  # opened anew after a pause: no busy loop on a reader that went away
                self.problem = f"NFC reader {self.path!r} failed ({failure})"
                self.close()
                cancelled.wait(min(POLL_SECONDS * 5, max(0.0, deadline - time.monotonic())))
        return False

    @staticmethod
    def _stop_when(cancelled: Event, deadline: float) -> Callable[[], bool]:
        """``connect``'s terminate: asked before every sense. nfcpy looks at it only between
        rounds of ``iterations`` senses, so a round is one sense (a sense of nfcpy's UDP device
        waits 1 s for an answer: five would overrun a short timeout by seconds), and the poll
        interval is waited here, a cancel cutting it short."""
        first = True

        def stop() -> bool:
            nonlocal first
            if not first:
                cancelled.wait(min(POLL_SECONDS, max(0.0, deadline - time.monotonic())))
            first = False
            return cancelled.is_set() or time.monotonic() >= deadline
        return stop

    def transceive(self, command: bytes) -> bytes:
        tag = self._tag
        if tag is None:
            raise CardRemoved("no card is connected")
        if command == apdu.GET_UID:
            return bytes(tag.identifier) + OK
        if not isinstance(tag, Type4Tag):
            return NOT_FOUND if command[:4] == bytes.fromhex("00A40400") else INS_NOT_SUPPORTED
        try:
            answer = tag.transceive(command)
        except FAILURES as error:
            self.release()
            raise CardRemoved(f"the card left the reader ({error})") from None
        if not answer:
            self.release()
            raise CardRemoved("the card did not answer")
        return bytes(answer)

    def release(self) -> None:
        self._tag = None

    def close(self) -> None:
        self.release()
        frontend, self._frontend = self._frontend, None
        if frontend is not None:
            with contextlib.suppress(OSError, nfc.clf.Error):
                frontend.close()
