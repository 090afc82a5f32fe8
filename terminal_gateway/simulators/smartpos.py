"""A simulated SmartPOS terminal (smartpos.proto) over real TCP, for the tests and the demo.

``SmartPOSLink`` is the connection: requests delimited out, responses matched back by
``request_id`` (several may be in flight). ``SmartPOSTerminal`` builds the requests of each
transaction and numbers them; ``repeat`` sends one again under the same id, as a terminal
does when an answer was lost. ``python -m terminal_gateway.simulators.smartpos --port N`` runs
``scripted_day`` against a gateway's SmartPOS listener and prints each answer.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from datetime import datetime

from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol

from terminal_gateway.protocols.smartpos import TerminalConnection
from terminal_gateway.protocols.smartpos import smartpos_pb2 as pb
from terminal_gateway.vocabulary import mask_pan

from .population import card_number, terminal_id

__all__ = ["SmartPOSLink", "SmartPOSTerminal", "connect", "main", "pb", "scripted_day"]

Printer = Callable[[str], None]


class SmartPOSLink(Protocol):
    """One TCP connection to the gateway."""

    def __init__(self) -> None:
        self.codec = TerminalConnection()
        self.waiting: dict[int, list[defer.Deferred[pb.Response]]] = {}

    def dataReceived(self, data: bytes) -> None:
        for response in self.codec.receive_data(data):
            waiters = self.waiting.get(response.request_id)
            if waiters:
                waiters.pop(0).callback(response)
                if not waiters:
                    del self.waiting[response.request_id]

    def connectionLost(self, reason: object = None) -> None:
        waiting, self.waiting = self.waiting, {}
        for waiters in waiting.values():
            for waiter in waiters:
                waiter.errback(ConnectionError("the gateway closed the connection"))

    def request(self, message: pb.Request, timeout: float) -> defer.Deferred[pb.Response]:
        from twisted.internet import reactor

        answer: defer.Deferred[pb.Response] = defer.Deferred()
        self.waiting.setdefault(message.request_id, []).append(answer)
        self.transport.write(self.codec.send(message))
        return answer.addTimeout(timeout, reactor)

    def send_raw(self, data: bytes) -> None:
        self.transport.write(data)


class SmartPOSTerminal:
    """A counter's smart-POS: builds requests and numbers them from ``next_id``."""

    def __init__(self, tid: str, link: SmartPOSLink, timeout: float = 10.0, next_id: int = 1,
                 printer: Printer | None = None):
        self.tid, self.link, self.timeout, self.next_id = tid, link, timeout, next_id
        self.printer = printer

    def build(self, **body: object) -> pb.Request:
        """A new request with the next id: ``build(redeem=pb.Redeem(...))``."""
        message = pb.Request(request_id=self.next_id, terminal_id=self.tid, **body)
        self.next_id += 1
        return message

    async def send(self, message: pb.Request) -> pb.Response:
        response = await self.link.request(message, self.timeout)
        if self.printer is not None:
            self.printer(_line(self.tid, message, response))
        return response

    async def repeat(self, message: pb.Request) -> pb.Response:
        """Send ``message`` again, same id: it must be answered as it was the first time."""
        return await self.send(message)

    @staticmethod
    def card(number: str) -> pb.Card:
        return pb.Card(phone=number) if number.startswith("+") else pb.Card(pan=number)

    async def transact(self, **body: object) -> tuple[pb.Request, pb.Response]:
        message = self.build(**body)
        return message, await self.send(message)

    async def ping(self) -> pb.Response:
        return (await self.transact(ping=pb.Ping()))[1]

    async def balance(self, card: str) -> pb.Response:
        return (await self.transact(balance=pb.Balance(card=self.card(card))))[1]

    async def redeem(self, card: str, amount: int, invoice: str, total: int = 0, hold: bool = False,
                     lines: dict[str, int] | None = None) -> tuple[pb.Request, pb.Response]:
        return await self.transact(redeem=pb.Redeem(
            card=self.card(card), amount=amount, invoice=invoice, invoice_total=total, hold_only=hold,
            lines=[pb.Line(service_code=c, amount=a) for c, a in (lines or {}).items()]))

    async def complete(self, rrn: str, amount: int) -> pb.Response:
        return (await self.transact(complete=pb.Complete(rrn=rrn, amount=amount)))[1]

    async def refund(self, card: str, amount: int, rrn: str) -> pb.Response:
        return (await self.transact(refund=pb.Refund(card=self.card(card), amount=amount, rrn=rrn)))[1]

    async def accrue(self, card: str, paid: int, invoice: str, total: int = 0) -> tuple[pb.Request, pb.Response]:
        return await self.transact(accrue=pb.Accrue(card=self.card(card), paid=paid, invoice=invoice,
                                                    invoice_total=total))

    async def accrual_return(self, card: str, refunded: int, invoice: str) -> pb.Response:
        return (await self.transact(accrual_return=pb.AccrualReturn(
            card=self.card(card), refunded=refunded, invoice=invoice)))[1]

    async def top_up(self, card: str, pin: str) -> pb.Response:
        return (await self.transact(voucher_top_up=pb.VoucherTopUp(card=self.card(card), pin=pin)))[1]

    async def activate_gift(self, card: str, amount: int) -> pb.Response:
        return (await self.transact(activate_gift_card=pb.ActivateGiftCard(card=self.card(card), amount=amount)))[1]

    async def reverse(self, original: pb.Request) -> pb.Response:
        return (await self.transact(reverse=pb.Reverse(original_request_id=original.request_id)))[1]


async def connect(port: int, tid: str, host: str = "127.0.0.1", timeout: float = 10.0,
                  next_id: int = 1, printer: Printer | None = None) -> SmartPOSTerminal:
    """A terminal ``tid`` connected to the gateway's SmartPOS listener at ``host:port``."""
    from twisted.internet import reactor

    link = await connectProtocol(TCP4ClientEndpoint(reactor, host, port), SmartPOSLink())
    return SmartPOSTerminal(tid, link, timeout, next_id, printer)


def _line(tid: str, message: pb.Request, response: pb.Response) -> str:
    """One printed line: what was asked (masked card, never a PIN) and what was answered."""
    kind = message.WhichOneof("body") or "-"
    body = getattr(message, kind, None)
    label = "hold" if kind == "redeem" and message.redeem.hold_only else kind
    has_card = body is not None and "card" in body.DESCRIPTOR.fields_by_name and body.HasField("card")
    card = body.card if has_card else None
    shown = mask_pan(card.pan) if card is not None and card.pan else ("phone" if card is not None else "-")
    asked = next((getattr(body, f) for f in ("amount", "paid", "refunded") if body is not None and hasattr(body, f)), 0)
    extra = "".join(f" {name} {value}" for name, value in (
        ("balance", response.balance), ("limit", response.limit), ("rrn", response.rrn),
        ("expires", response.expires), ("message", response.message)) if value)
    return (f"{datetime.now():%H:%M:%S} {tid} #{message.request_id:<4} {label:<18} {shown:<19} {asked:>9} -> "
            f"{response.code} {response.approved:>9}{extra}")


async def scripted_day(terminal: SmartPOSTerminal, card: str, invoice: str) -> list[pb.Response]:
    """One of each redemption transaction, a repeat and a reversal, an accrual and its
    partial return; every response, in order."""
    answers = [await terminal.ping(), await terminal.balance(card)]
    sale_request, sale = await terminal.redeem(card, 150_000, invoice, total=900_000)
    answers += [sale, await terminal.repeat(sale_request)]
    if sale.code in ("00", "10"):
        answers.append(await terminal.refund(card, min(20_000, sale.approved), sale.rrn))
    _, hold = await terminal.redeem(card, 40_000, invoice + "-H", hold=True)
    answers.append(hold)
    if hold.code == "00":
        answers.append(await terminal.complete(hold.rrn, hold.approved // 2))
    cancel_request, cancel = await terminal.redeem(card, 5_000, invoice + "-R")
    answers += [cancel, await terminal.reverse(cancel_request)]
    _, accrual = await terminal.accrue(card, 400_000, invoice + "-P", total=400_000)
    answers += [accrual, await terminal.accrual_return(card, 100_000, invoice + "-P")]
    return answers


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``scripted_day`` once; 0 when every request got an answer."""
    from twisted.internet import task

    p = argparse.ArgumentParser(prog="python -m terminal_gateway.simulators.smartpos",
                                description="a simulated SmartPOS terminal's day against a gateway")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, required=True, help="the gateway's SmartPOS listener")
    p.add_argument("--terminal", type=int, default=1, metavar="I", help="terminal I of the population (T000000I)")
    p.add_argument("--card", type=int, default=1, metavar="I", help="card I of the population")
    p.add_argument("--first-id", type=int, default=int(datetime.now().timestamp()), metavar="N",
                   help="the first request_id (default: the time, so that runs do not repeat each other)")
    args = p.parse_args(argv)

    async def run(_reactor: object) -> None:
        terminal = await connect(args.port, terminal_id(args.terminal), args.host, next_id=args.first_id,
                                 printer=print)
        try:
            await scripted_day(terminal, card_number(args.card), f"SP-{args.first_id}")
        finally:
            terminal.link.transport.loseConnection()

    try:
        task.react(run)
    except SystemExit as done:
        return int(done.code or 0)
    return 0


if __name__ == "__main__":
    sys.exit(main())
