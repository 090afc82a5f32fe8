"""Reading one card: SELECT the club applet, GET CARD NUMBER, INTERNAL AUTHENTICATE with a
fresh challenge; a card without the applet (6A82) is read as a UID tag instead.

``CardRead`` is the state machine alone: ``command()`` gives the next APDU to send (``None``
once the read is over), ``receive(raw)`` takes the card's answer, ``result`` says what the
card is. ``read_card`` drives it with a driver's ``transceive``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum, auto

from ...vocabulary import mask_pan
from . import apdu
from .apdu import CHALLENGE_SIZE, MAX_CARD_NUMBER, MIN_CARD_NUMBER, ApduError, Response, Status
from .keys import verify


@dataclass(frozen=True, slots=True)
class Genuine:
    """A club smart card that proved it holds the key of its card number."""

    card_number: str

    def __repr__(self) -> str:
        return f"Genuine({mask_pan(self.card_number)})"


@dataclass(frozen=True, slots=True)
class UidTag:
    """A card or tag without the club applet, known only by its UID (hex, upper case)."""

    uid: str


@dataclass(frozen=True, slots=True)
class Counterfeit:
    """A card that claims ``card_number`` but cannot prove it: nothing is approved for it."""

    card_number: str
    reason: str

    def __repr__(self) -> str:
        return f"Counterfeit({mask_pan(self.card_number)}, {self.reason!r})"


@dataclass(frozen=True, slots=True)
class Unreadable:
    """The card answered in a way that is not the club applet's: nothing can be decided."""

    reason: str


ReadResult = Genuine | UidTag | Counterfeit | Unreadable


class _State(Enum):
    SELECT = auto()
    CARD_NUMBER = auto()
    AUTHENTICATE = auto()
    UID = auto()
    DONE = auto()


def _status_text(sw: int) -> str:
    names = {Status.INS_NOT_SUPPORTED: "instruction not supported",
             Status.SECURITY_NOT_SATISFIED: "security status not satisfied",
             Status.NOT_FOUND: "not found"}
    name = names.get(sw)  # type: ignore[call-overload]
    return f"{sw:04X}" + (f" ({name})" if name else "")


class CardRead:
    """One read of one card, under the issuer ``master_key``, with ``challenge`` (16 bytes;
    a fresh random one unless given, which only tests do)."""

    def __init__(self, master_key: bytes, challenge: bytes | None = None):
        self._master_key = master_key
        self.challenge = os.urandom(CHALLENGE_SIZE) if challenge is None else challenge
        if len(self.challenge) != CHALLENGE_SIZE:
            raise ValueError(f"the challenge is {CHALLENGE_SIZE} bytes")
        self._state = _State.SELECT
        self._card_number = ""
        self.result: ReadResult | None = None

    def command(self) -> bytes | None:
        return {
            _State.SELECT: apdu.SELECT,
            _State.CARD_NUMBER: apdu.GET_CARD_NUMBER,
            _State.AUTHENTICATE: apdu.internal_authenticate(self.challenge),
            _State.UID: apdu.GET_UID,
            _State.DONE: None,
        }[self._state]

    def receive(self, raw: bytes) -> None:
        if self._state is _State.DONE:
            raise RuntimeError("the read is over")
        try:
            response = Response.parse(raw)
        except ApduError as error:
            self._finish(Unreadable(str(error)))
            return
        getattr(self, f"_on_{self._state.name.lower()}")(response)

    def _finish(self, result: ReadResult) -> None:
        self.result, self._state = result, _State.DONE

    def _on_select(self, r: Response) -> None:
        if r.sw == Status.NOT_FOUND:
            self._state = _State.UID
        elif r.ok:
            self._state = _State.CARD_NUMBER
        else:
            self._finish(Unreadable(f"SELECT of the club applet answered {_status_text(r.sw)}"))

    def _on_card_number(self, r: Response) -> None:
        if not r.ok:
            self._finish(Unreadable(f"GET CARD NUMBER answered {_status_text(r.sw)}"))
            return
        number = r.data.decode("ascii", "replace")
        if not (number.isascii() and number.isdigit() and MIN_CARD_NUMBER <= len(number) <= MAX_CARD_NUMBER):
            self._finish(Unreadable(f"GET CARD NUMBER gave {len(r.data)} bytes that are not "
                                    f"{MIN_CARD_NUMBER} to {MAX_CARD_NUMBER} ASCII digits"))
            return
        self._card_number, self._state = number, _State.AUTHENTICATE

    def _on_authenticate(self, r: Response) -> None:
        number = self._card_number
        if not r.ok:
            self._finish(Counterfeit(number, f"INTERNAL AUTHENTICATE answered {_status_text(r.sw)}"))
        elif len(r.data) != CHALLENGE_SIZE:
            self._finish(Counterfeit(number, f"INTERNAL AUTHENTICATE gave {len(r.data)} bytes, "
                                             f"not a {CHALLENGE_SIZE}-byte MAC"))
        elif not verify(self._master_key, number, self.challenge, r.data):
            self._finish(Counterfeit(number, "wrong answer to the challenge (not the card's key)"))
        else:
            self._finish(Genuine(number))

    def _on_uid(self, r: Response) -> None:
        if r.ok and 4 <= len(r.data) <= 10:  # ISO 14443-3 UIDs: 4, 7 or 10 bytes
            self._finish(UidTag(r.data.hex().upper()))
        else:
            self._finish(Unreadable(f"not a club smart card, and its UID could not be read "
                                    f"({_status_text(r.sw)}, {len(r.data)} bytes)"))


def read_card(transceive: Callable[[bytes], bytes], master_key: bytes,
              challenge: bytes | None = None) -> ReadResult:
    """Read the card behind ``transceive`` (command APDU in, response APDU out; the driver's
    errors, such as the card being removed, go through)."""
    session = CardRead(master_key, challenge)
    while (command := session.command()) is not None:
        session.receive(transceive(command))
    assert session.result is not None
    return session.result
