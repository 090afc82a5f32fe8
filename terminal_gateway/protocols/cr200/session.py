"""The CR-200 application layer, sans-I/O: one reader's requests into the vocabulary and the
gateway's outcomes into its responses.

A ``ReaderSession`` belongs to one reader (one configured terminal), not to the port it is
on: a reader unplugged and plugged back keeps its last response and its history.

    session.receive_data(data)              a request frame's DATA (bytes, link-checked)
    event = session.next_event()
      Answer(data)                          send this at once (ping, a repeat's stored answer)
      Pending(request, ...)                 have the core decide ``request``; then
    data = session.send(event, outcome)     the response DATA (also stored for a repeat)
      None                                  nothing to send (a repeat still being decided)

The shape is every codec's (``protocols.events``); the time a request is received comes from
the session's ``clock``.

Keys. The core detects duplicates by ``Request.key`` and answers a known key 94 unless the
request says it is a repeat. A CR-200 repeat is answered here, from the stored response, and
never reaches the core; what reaches the core must therefore have a key no earlier request of
any reader had. The sequence number alone cannot be it: it wraps at 9999 and a reader may
start again from 0000 after a power cut. So the key is ``{tid}:{business day}:{seq}:{counter}``
where ``counter`` is the instant the request was received, in microseconds since the epoch,
kept strictly increasing for the reader: unique per reader and request across wraps and
gateway restarts, and still readable (which reader, which day, which sequence number) in the
journal. A cancel (X) names its original by the key kept in the session's history.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from ...vocabulary import (
    ActivateGift,
    BalanceInquiry,
    CardRef,
    Code,
    Kind,
    Malformed,
    Outcome,
    Redeem,
    Request,
    Reverse,
    TopUp,
)
from ..events import Answer, Decide
from .link import FS

__all__ = ["Pending", "ReaderSession", "fields_of", "join"]

_SEQ_DIGITS = 4
_MAX_AMOUNT_DIGITS = 12  # as Club-8583 DE4
_MAX_CARD_DIGITS = 19
_MAX_INVOICE = 32  # as Club-8583 DE48 IN

# command -> (field count, what the fields are), the contract's table
COMMANDS: dict[str, tuple[int, str]] = {
    "P": (2, "P, seq"),
    "C": (3, "C, seq, card"),
    "B": (3, "B, seq, card"),
    "S": (6, "S, seq, card, invoice, amount, invoice total"),
    "V": (4, "V, seq, card, PIN"),
    "G": (4, "G, seq, card, amount"),
    "X": (3, "X, seq, seq to cancel"),
}
TRANSACTIONS = frozenset("SVGX")  # what a cancel may name (moves value, or is a cancel)
# The kind of decision each of them becomes, for ``restore``.
_COMMAND_OF = {Kind.REDEEM: "S", Kind.TOPUP: "V", Kind.GIFT_ACTIVATION: "G", Kind.REVERSE: "X"}

# What the first display line says for each code; the second shows the balance.
_SHORT = {
    Code.APPROVED: "Approved",
    Code.PARTIAL: "Partial",
    Code.DO_NOT_HONOUR: "Card blocked",
    Code.INVALID_TRANSACTION: "Not allowed",
    Code.INVALID_AMOUNT: "Invalid amount",
    Code.UNKNOWN_CARD: "Unknown card",
    Code.ORIGINAL_NOT_FOUND: "Not found",
    Code.FORMAT_ERROR: "Format error",
    Code.LOST_CARD: "Lost card",
    Code.INSUFFICIENT_BALANCE: "Low balance",
    Code.EXPIRED: "Card expired",
    Code.INVALID_PIN: "Invalid PIN",
    Code.NOT_PERMITTED_CARD: "Not for card",
    Code.NOT_PERMITTED_TERMINAL: "Reader unknown",
    Code.OVER_CAP: "Over cap",
    Code.OVER_COUNT: "Too many today",
    Code.PIN_LOCKED: "PIN locked",
    Code.DUPLICATE: "Duplicate",
    Code.MALFUNCTION: "System error",
}


def fields_of(data: bytes) -> list[str]:
    """A frame's DATA split by FS (the link layer let only printable ASCII and FS in)."""
    return data.decode("ascii").split(chr(FS))


def join(fields: list[str] | tuple[str, ...]) -> bytes:
    return chr(FS).join(fields).encode("ascii")


@dataclass(frozen=True, slots=True)
class Pending(Decide):
    """A request handed to the core; ``send`` turns its outcome into the response."""

    command: str
    seq: str
    reason: str = ""  # a Malformed request's explanation, for the display


@dataclass(frozen=True, slots=True)
class _Done:
    """One of the reader's transactions, for a later cancel."""

    seq: str
    key: str
    day: str
    command: str
    card: CardRef | None


class _Bad(Exception):
    """A field that cannot be read: ``line1``/``line2`` explain it on the reader's display."""

    def __init__(self, line1: str, line2: str) -> None:
        super().__init__(f"{line1}: {line2}")
        self.line1, self.line2 = line1, line2


def utc_date(now: datetime) -> str:
    return now.astimezone(UTC).date().isoformat()


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class ReaderSession:
    """One CR-200 reader acting as ``terminal``; ``day`` gives the business day of an instant
    (the branch's: its time zone and cut-off hour), ``clock`` the instant a request arrives."""

    terminal: str
    day: Callable[[datetime], str] = utc_date
    clock: Callable[[], datetime] = utc_now
    width: int = 16
    history_size: int = 10
    last_seq: str | None = None
    last_response: bytes | None = None  # None while the last request is being decided
    history: deque[_Done] = field(init=False)
    _events: deque[Answer | Pending] = field(init=False)
    _counter: int = 0

    def __post_init__(self) -> None:
        self.history = deque(maxlen=self.history_size)
        self._events = deque()

    # -- requests in --------------------------------------------------------------------

    def receive_data(self, data: bytes) -> None:
        """Take one request frame's DATA; what to do about it comes out of ``next_event``."""
        event = self._receive(data, self.clock())
        if event is not None:
            self._events.append(event)

    def next_event(self) -> Answer | Pending | None:
        return self._events.popleft() if self._events else None

    def _receive(self, data: bytes, now: datetime) -> Answer | Pending | None:
        fields = fields_of(data)
        command, seq = fields[0], fields[1] if len(fields) > 1 else ""
        if len(seq) == _SEQ_DIGITS and seq.isdigit() and seq == self.last_seq:
            # The reader's repeat: its response was lost. Never decided twice.
            return None if self.last_response is None else Answer(self.last_response)
        self.last_seq, self.last_response = seq, None
        key = self._key(seq, now)
        try:
            request = self._request(fields, key, now)
        except _Bad as bad:
            reason = f"{bad.line1}: {bad.line2}"
            malformed = Malformed(terminal=self.terminal, key=None, code=Code.FORMAT_ERROR, reason=reason)
            return Pending(malformed, "?", _shown_seq(seq), reason=f"{bad.line1}\n{bad.line2}")
        if isinstance(request, bytes):
            self.last_response = request
            return Answer(request)
        return Pending(request, command, seq)

    def _key(self, seq: str, now: datetime) -> str:
        micros = int(now.timestamp() * 1_000_000)
        self._counter = max(self._counter + 1, micros)
        return f"{self.terminal}:{self.day(now)}:{seq}:{self._counter}"

    def _request(self, fields: list[str], key: str, now: datetime) -> Request | bytes:
        command = fields[0]
        shape = COMMANDS.get(command)
        if shape is None:
            raise _Bad("Unknown command", repr(command)[:self.width])
        count, _ = shape
        if len(fields) != count:
            raise _Bad("Bad field count", f"{len(fields)}, expected {count}")
        seq = fields[1]
        if not (len(seq) == _SEQ_DIGITS and seq.isdigit()):
            raise _Bad("Bad sequence no.", "need 4 digits")
        if command == "P":
            return join(("p", seq))
        common = {"terminal": self.terminal, "key": key, "branch": None}
        if command == "X":
            return self._cancel(seq, fields[2], common, now)
        card = _card(fields[2])
        request: Request
        if command in "CB":
            request = BalanceInquiry(**common, card=card)
        elif command == "S":
            invoice = fields[3]
            if not (1 <= len(invoice) <= _MAX_INVOICE and invoice.isprintable()):
                raise _Bad("Bad invoice", f"1 to {_MAX_INVOICE} chars")
            total = _amount(fields[5], "total")
            request = Redeem(**common, card=card, amount=_amount(fields[4], "amount"), invoice=invoice,
                             invoice_total=total or None)  # 0: no total given
        elif command == "V":
            pin = fields[3]
            if not (pin.isdigit() and 1 <= len(pin) <= 32):
                raise _Bad("Bad PIN", "digits only")  # the PIN itself is never quoted
            request = TopUp(**common, card=card, pin=pin)
        else:  # G
            request = ActivateGift(**common, card=card, amount=_amount(fields[3], "amount"))
        if command in TRANSACTIONS:
            self.history.append(_Done(fields[1], key, self.day(now), command, card))
        return request

    def _cancel(self, seq: str, named: str, common: dict, now: datetime) -> Request:
        if not (len(named) == _SEQ_DIGITS and named.isdigit()):
            raise _Bad("Bad cancel seq.", "need 4 digits")
        original = next((done for done in reversed(self.history) if done.seq == named), None)
        request: Request
        if original is None:
            request = Malformed(**common, code=Code.ORIGINAL_NOT_FOUND,
                                reason=f"cancel of {named}: not one of the reader's last {self.history_size} "
                                       "transactions")
        elif original.day != self.day(now):
            request = Malformed(**common, code=Code.INVALID_TRANSACTION,
                                reason=f"cancel of {named}: it was on business day {original.day}")
        else:
            request = Reverse(**common, original_key=original.key, original_is_reversal=original.command == "X",
                              card=original.card)
        self.history.append(_Done(seq, common["key"], self.day(now), "X", None))
        return request

    def restore(self, decided: Iterable[tuple[str, str, Outcome]]) -> int:
        """Take back the memory a stopped gateway lost, from the core's remembered requests:
        ``decided`` holds the (key, kind, outcome) of requests, this reader's among them (known
        by their key). The history comes back for cancels, and when the last one moved value
        its response is stored again, so that the reader's repeat of it after a restart is not
        decided twice (the core's remembered outcome carries the balance it answered). Returns
        how many of the reader's requests were found."""
        mine = []
        for key, kind, outcome in decided:
            parts = key.rsplit(":", 3)
            if (len(parts) == 4 and parts[0] == self.terminal and len(parts[1]) == 10
                    and len(parts[2]) == _SEQ_DIGITS and parts[2].isdigit() and parts[3].isdigit()):
                mine.append((int(parts[3]), parts[1], parts[2], key, kind, outcome))
        mine.sort(key=lambda each: each[0])
        for _, day, seq, key, kind, _ in mine:
            if kind in _COMMAND_OF:
                self.history.append(_Done(seq, key, day, _COMMAND_OF[kind], None))
        if mine:
            counter, _, seq, _, kind, outcome = mine[-1]
            self._counter = max(self._counter, counter)
            if kind in _COMMAND_OF:
                self.last_seq = seq
                self.last_response = join(self._fields(_COMMAND_OF[kind], seq, "", outcome))
        return len(mine)

    # -- outcomes out -------------------------------------------------------------------

    def send(self, event: Decide, outcome: Outcome) -> bytes:
        """The response DATA for ``event``'s request, stored for a repeat of it."""
        assert isinstance(event, Pending)
        data = join(self._fields(event.command, event.seq, event.reason, outcome))
        if event.seq == self.last_seq:
            self.last_response = data
        return data

    def _fields(self, command: str, seq: str, reason: str, outcome: Outcome) -> tuple[str, ...]:
        code = outcome.code
        balance = outcome.balance if outcome.balance is not None and outcome.balance >= 0 else 0
        if reason:  # our own format error: the explanation on the display
            line1, _, line2 = reason.partition("\n")
            return ("R", seq, code.value, "0", "0", self._line(line1), self._line(line2))
        if command == "C":
            if code.approved:
                return ("D", seq, self._line(outcome.group or "Gift card"), self._line(f"Balance {balance}"))
            return ("D", seq, self._line(_SHORT.get(code, f"Declined {code.value}")), self._line(f"Code {code.value}"))
        amount = 0 if command == "B" else outcome.amount
        line1 = _SHORT.get(code, f"Declined {code.value}")
        if code == Code.PARTIAL or (code.approved and command in "SVGX" and amount):
            line1 = f"{line1} {amount}" if len(f"{line1} {amount}") <= self.width else line1
        if outcome.balance is not None:
            line2 = f"Balance {balance}"
        elif command == "X" and code.approved:
            line2 = "Cancelled"  # a reversal's outcome carries no balance
        else:
            line2 = outcome.limit or f"Code {code.value}"
        return ("R", seq, code.value, str(amount), str(balance), self._line(line1), self._line(str(line2)))

    def _line(self, text: str) -> str:
        """Printable ASCII, at most the display's width."""
        clean = "".join(c if " " <= c <= "~" else "?" for c in text)
        return clean[:self.width]


def _shown_seq(seq: str) -> str:
    """The sequence number to echo in a format error: as sent when it can be, else 0000."""
    return seq if len(seq) == _SEQ_DIGITS and seq.isdigit() else "0000"


def _card(text: str) -> CardRef:
    if text.startswith("T"):
        phone = text[1:]
        if not (phone.isdigit() and 4 <= len(phone) <= 15):
            raise _Bad("Bad phone", "T then digits")
        return CardRef(phone=phone)
    if not (text.isdigit() and 1 <= len(text) <= _MAX_CARD_DIGITS):
        raise _Bad("Bad card number", f"1-{_MAX_CARD_DIGITS} digits")
    return CardRef(pan=text)


def _amount(text: str, what: str) -> int:
    if not (text.isdigit() and 1 <= len(text) <= _MAX_AMOUNT_DIGITS):
        raise _Bad(f"Bad {what}"[:16], "digits only")
    return int(text)
