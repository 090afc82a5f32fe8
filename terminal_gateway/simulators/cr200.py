"""A simulated CR-200 club card reader on a pseudo-terminal, for tests and the demo.

``PtyPair`` runs ``socat`` to make two linked pseudo-terminals (``socat -d -d
pty,raw,echo=0,link=A pty,raw,echo=0,link=B``): the gateway opens one as its serial port, a
``SimulatedReader`` the other. The reader speaks the same link layer (``protocols.cr200``) and
the application layer from the reader's side: it numbers its requests, ACKs responses,
retransmits its own frames, and can repeat a request whose answer it "lost".

    python -m terminal_gateway.simulators.cr200 --device B --card 6037... [--pay 1000]
"""

from __future__ import annotations

import argparse
import os
import select
import shutil
import subprocess
import termios
import time
import tty
from dataclasses import dataclass
from pathlib import Path

from terminal_gateway.protocols.cr200 import Delivered, GaveUp, Link, Received, fields_of, join

__all__ = ["LinkGaveUp", "PtyPair", "Reply", "SimulatedReader", "socat_available"]


def socat_available() -> bool:
    return shutil.which("socat") is not None


class PtyPair:
    """Two linked pseudo-terminals at ``gateway_end`` and ``reader_end`` (symlinks), made by a
    socat process this object owns; ``stop`` and ``start`` again simulate an unplugged reader."""

    def __init__(self, gateway_end: Path, reader_end: Path) -> None:
        self.gateway_end, self.reader_end = gateway_end, reader_end
        self.process: subprocess.Popen | None = None

    def start(self, seconds: float = 10) -> None:
        socat = shutil.which("socat")
        if socat is None:
            raise RuntimeError("socat is not installed (apt-get install socat)")
        self.process = subprocess.Popen(
            [socat, "-d", "-d", f"pty,raw,echo=0,link={self.gateway_end}", f"pty,raw,echo=0,link={self.reader_end}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + seconds
        while not (self.gateway_end.exists() and self.reader_end.exists()):
            if self.process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"socat did not make {self.gateway_end} and {self.reader_end}")
            time.sleep(0.02)

    def stop(self) -> None:
        """Kill socat: both pseudo-terminals and their links go away."""
        if self.process is not None:
            self.process.terminate()
            self.process.wait(10)
            self.process = None
        for end in (self.gateway_end, self.reader_end):
            if end.is_symlink():
                end.unlink()


@dataclass(frozen=True, slots=True)
class Reply:
    """A response's fields: ``R``, seq, rc, amount, balance, line1, line2 (or ``D``/``p``)."""

    fields: tuple[str, ...]

    @property
    def kind(self) -> str:
        return self.fields[0]

    @property
    def seq(self) -> str:
        return self.fields[1]

    @property
    def code(self) -> str:
        return self.fields[2] if self.kind == "R" else ""

    @property
    def amount(self) -> int:
        return int(self.fields[3])

    @property
    def balance(self) -> int:
        return int(self.fields[4])

    @property
    def lines(self) -> tuple[str, str]:
        return (self.fields[-2], self.fields[-1])


class LinkGaveUp(Exception):
    """Our frame was sent three times without an ACK: nobody answers on the line."""


class SimulatedReader:
    """The reader's end of the line: requests out, responses in (blocking, with time-outs)."""

    def __init__(self, device: str | os.PathLike[str], seq: int = 1) -> None:
        self.device = str(device)
        self.seq = seq % 10_000
        self.link = Link()
        self.last: tuple[str, ...] | None = None
        self.fd = -1
        self.open()

    def open(self) -> None:
        self.fd = os.open(self.device, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
        tty.setraw(self.fd, termios.TCSANOW)
        self.link = Link()

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    # -- the application layer ------------------------------------------------------------

    def request(self, command: str, *fields: str, timeout: float = 10) -> Reply:
        """Send ``command`` with the next sequence number; the reply to it."""
        seq = f"{self.seq:04d}"
        self.seq = (self.seq + 1) % 10_000
        self.last = (command, seq, *fields)
        return self.send_fields(self.last, timeout)

    def repeat(self, timeout: float = 10) -> Reply:
        """Send the last request again, same sequence number: as after a lost response."""
        assert self.last is not None
        return self.send_fields(self.last, timeout)

    def ping(self) -> Reply:
        return self.request("P")

    def present(self, card: str) -> Reply:
        return self.request("C", card)

    def balance(self, card: str) -> Reply:
        return self.request("B", card)

    def pay(self, card: str, invoice: str, amount: int, total: int = 0) -> Reply:
        return self.request("S", card, invoice, str(amount), str(total))

    def top_up(self, card: str, pin: str) -> Reply:
        return self.request("V", card, pin)

    def activate(self, card: str, amount: int) -> Reply:
        return self.request("G", card, str(amount))

    def cancel(self, seq: str) -> Reply:
        return self.request("X", seq)

    def without_acks(self, command: str, *fields: str, seconds: float = 2.5) -> list[tuple[float, Reply]]:
        """Send a request, then ACK nothing for ``seconds``: every copy of the response that
        arrives (the gateway sends it again after 500 ms of silence, three sends in all), with
        the monotonic time it came. The next request's sequence number follows as usual."""
        seq = f"{self.seq:04d}"
        self.seq = (self.seq + 1) % 10_000
        self.last = (command, seq, *fields)
        self.link.send(join(self.last), time.monotonic())
        self._write(self.link.data_to_send())
        copies, deadline = [], time.monotonic() + seconds
        while time.monotonic() < deadline:
            self._wait(deadline)
            copies += [(time.monotonic(), Reply(tuple(fields_of(event.data))))
                       for event in self._events() if isinstance(event, Received)]
            self.link.data_to_send()  # the ACKs, withheld
        return copies

    # -- the link layer --------------------------------------------------------------------

    def send_fields(self, fields: tuple[str, ...], timeout: float = 10) -> Reply:
        return self.send_raw(join(fields), fields[1], timeout)

    def send_raw(self, data: bytes, seq: str, timeout: float = 10) -> Reply:
        """Send DATA as a frame; wait for the response that repeats ``seq``."""
        self.link.send(data, time.monotonic())
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._write(self.link.data_to_send())
            for event in self._events():
                if isinstance(event, GaveUp):
                    raise LinkGaveUp(f"no ACK for {event.data!r} after {event.sends} sends")
                if isinstance(event, Received):
                    reply = Reply(tuple(fields_of(event.data)))
                    if len(reply.fields) > 1 and reply.seq == seq:
                        self._write(self.link.data_to_send())  # the ACK
                        return reply
                # Delivered: the gateway has our request; its answer follows
            self._wait(deadline)
        raise TimeoutError(f"no response to sequence number {seq} within {timeout} s")

    def _events(self) -> list[Received | Delivered | GaveUp]:
        found = []
        while (event := self.link.next_event()) is not None:
            found.append(event)
        return found

    def _wait(self, deadline: float) -> None:
        now = time.monotonic()
        wake = min(deadline, self.link.deadline or deadline)
        readable, _, _ = select.select([self.fd], [], [], max(0.0, wake - now))
        if readable:
            try:
                data = os.read(self.fd, 4096)
            except BlockingIOError:
                data = b""
            self.link.receive(data, time.monotonic())
        self.link.poll(time.monotonic())

    def _write(self, data: bytes) -> None:
        while data:
            written = os.write(self.fd, data)
            data = data[written:]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="a simulated CR-200 reader on a serial device or pty")
    parser.add_argument("--device", required=True, help="the reader's end of the line")
    parser.add_argument("--card", required=True, help="a club card number, or T and a phone number")
    parser.add_argument("--pay", type=int, help="then pay this amount (minor units) with club credit")
    parser.add_argument("--invoice", default="SIM-1")
    args = parser.parse_args(argv)
    reader = SimulatedReader(args.device)
    try:
        for reply in (reader.ping(), reader.present(args.card), reader.balance(args.card)):
            print(" | ".join(reply.fields))
        if args.pay:
            print(" | ".join(reader.pay(args.card, args.invoice, args.pay).fields))
    finally:
        reader.close()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
