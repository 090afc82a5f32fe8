"""The CR-200 link layer, sans-I/O: ``STX DATA ETX LRC`` frames, ACK/NAK, retransmission.

Both ends of the line run the same ``Link`` (the gateway, and the simulated reader). Time
is explicit: every call takes ``now`` (seconds, any monotonic clock) and ``deadline`` says
when the caller must call ``poll`` again; nothing here sleeps or owns a timer.

    link.receive(data, now)      bytes from the line
    link.send(payload, now)      a frame's DATA to deliver (queued behind one awaiting ACK)
    link.poll(now)               a timer the caller set from ``deadline`` fired
    link.next_event()            Received / Delivered / GaveUp / Refused, or None
    link.data_to_send()          bytes for the line (frames, ACK, NAK)
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field

__all__ = [
    "ACK",
    "ETX",
    "FS",
    "MAX_DATA",
    "NAK",
    "STX",
    "Delivered",
    "GaveUp",
    "Link",
    "LinkError",
    "Received",
    "Refused",
    "frame",
    "lrc",
]

STX, ETX, ACK, NAK, FS = 0x02, 0x03, 0x06, 0x15, 0x1C
# The contract's limits (docs/protocols/cr200.md, "Link layer"); a profile may narrow them.
MAX_DATA = 512  # bytes of DATA in one frame
ACK_TIMEOUT = 0.5  # seconds to wait for ACK or NAK before sending again
MAX_SENDS = 3  # sends of one frame in all, the first included


class LinkError(ValueError):
    """Our own side tried to send what the link cannot carry (a local protocol error)."""


def lrc(data: bytes) -> int:
    """XOR of every byte of DATA and of the ETX."""
    value = ETX
    for byte in data:
        value ^= byte
    return value


def valid_data(data: bytes, max_data: int = MAX_DATA) -> str | None:
    """Why ``data`` cannot be a frame's DATA, or None: printable ASCII and FS, at most ``max_data``."""
    if len(data) > max_data:
        return f"{len(data)} bytes of DATA, more than {max_data}"
    for position, byte in enumerate(data):
        if not (0x20 <= byte <= 0x7E or byte == FS):
            return f"byte 0x{byte:02X} at DATA position {position} is not printable ASCII or FS"
    return None


def frame(data: bytes) -> bytes:
    """``STX DATA ETX LRC``."""
    return bytes((STX, *data, ETX, lrc(data)))


@dataclass(frozen=True, slots=True)
class Received:
    """A frame from the other side with a right LRC; it has been ACKed."""

    data: bytes


@dataclass(frozen=True, slots=True)
class Refused:
    """A frame from the other side that was NAKed; ``reason`` is for the log."""

    reason: str


@dataclass(frozen=True, slots=True)
class Delivered:
    """The other side ACKed our frame."""

    data: bytes


@dataclass(frozen=True, slots=True)
class GaveUp:
    """Our frame got no ACK after ``sends`` sends; it is dropped."""

    data: bytes
    sends: int


Event = Received | Refused | Delivered | GaveUp


@dataclass(slots=True)
class _Outgoing:
    data: bytes
    sends: int = 0
    deadline: float = 0.0


@dataclass(slots=True)
class _Incoming:
    """The frame being read: DATA so far, and the first reason it is no good."""

    data: bytearray = field(default_factory=bytearray)
    problem: str | None = None
    awaiting_lrc: bool = False


class Link:
    """One end of a CR-200 line."""

    def __init__(self, *, ack_timeout: float = ACK_TIMEOUT, max_sends: int = MAX_SENDS,
                 max_data: int = MAX_DATA) -> None:
        if ack_timeout <= 0 or max_sends < 1 or not 1 <= max_data <= MAX_DATA:
            raise ValueError("ack_timeout > 0, max_sends >= 1 and 1 <= max_data <= 512")
        self.ack_timeout, self.max_sends, self.max_data = ack_timeout, max_sends, max_data
        self._incoming: _Incoming | None = None  # None: between frames, ignoring bytes
        self._queue: deque[_Outgoing] = deque()  # [0] is the frame awaiting ACK, once sent
        self._events: deque[Event] = deque()
        self._out = bytearray()
        self.ignored = 0  # bytes outside frames (noise, a stray ACK), for diagnostics

    # -- the caller's side -------------------------------------------------------------------

    def receive(self, data: bytes, now: float) -> None:
        for byte in data:
            self._byte(byte, now)

    def send(self, payload: bytes, now: float) -> None:
        problem = valid_data(payload, self.max_data)
        if problem:
            raise LinkError(problem)
        self._queue.append(_Outgoing(bytes(payload)))
        if len(self._queue) == 1:
            self._transmit(now)

    def poll(self, now: float) -> None:
        head = self._queue[0] if self._queue else None
        if head is not None and head.sends and now >= head.deadline:
            self._again(now)

    @property
    def deadline(self) -> float | None:
        """When ``poll`` must be called next; None: nothing awaits an ACK."""
        return self._queue[0].deadline if self._queue and self._queue[0].sends else None

    @property
    def idle(self) -> bool:
        """Nothing queued or awaiting an ACK."""
        return not self._queue

    def next_event(self) -> Event | None:
        return self._events.popleft() if self._events else None

    def data_to_send(self) -> bytes:
        out, self._out = bytes(self._out), bytearray()
        return out

    # -- inside --------------------------------------------------------------------------

    def _byte(self, byte: int, now: float) -> None:
        current = self._incoming
        if current is None:
            if byte == STX:
                self._incoming = _Incoming()
            elif byte == ACK and self._queue and self._queue[0].sends:
                self._events.append(Delivered(self._queue.popleft().data))
                if self._queue:
                    self._transmit(now)
            elif byte == NAK and self._queue and self._queue[0].sends:
                self._again(now)
            else:
                self.ignored += 1
            return
        if current.awaiting_lrc:
            self._incoming = None
            expected = lrc(bytes(current.data))
            problem = current.problem or (None if byte == expected else
                                          f"LRC 0x{byte:02X}, expected 0x{expected:02X}")
            self._out.append(NAK if problem else ACK)
            self._events.append(Refused(problem) if problem else Received(bytes(current.data)))
        elif byte == ETX:
            current.awaiting_lrc = True
        elif byte == STX:  # DATA never holds STX: the frame before was cut; start again
            self.ignored += len(current.data) + 1
            self._incoming = _Incoming()
        elif len(current.data) >= self.max_data:
            current.problem = current.problem or f"more than {self.max_data} bytes of DATA"
        else:
            if current.problem is None and not (0x20 <= byte <= 0x7E or byte == FS):
                current.problem = f"byte 0x{byte:02X} at DATA position {len(current.data)} is not printable"
            current.data.append(byte)

    def _transmit(self, now: float) -> None:
        head = self._queue[0]
        head.sends += 1
        head.deadline = now + self.ack_timeout
        self._out += frame(head.data)

    def _again(self, now: float) -> None:
        """A NAK or silence: send the frame again, or give up on it after ``max_sends``."""
        head = self._queue[0]
        if head.sends < self.max_sends:
            self._transmit(now)
            return
        self._queue.popleft()
        self._events.append(GaveUp(head.data, head.sends))
        if self._queue:
            self._transmit(now)
