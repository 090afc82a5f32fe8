"""A simulated SmartPOS terminal (smartpos.proto) over real TCP, for the tests and the demo.

``SmartPOSLink`` is the connection: requests delimited out, responses matched back by
``request_id`` (several may be in flight). ``SmartPOSTerminal`` builds the requests of each
transaction and numbers them; ``repeat`` sends one again under the same id, as a terminal
does when an answer was lost.
"""

from __future__ import annotations

from twisted.internet import defer
from twisted.internet.endpoints import TCP4ClientEndpoint, connectProtocol
from twisted.internet.protocol import Protocol

from terminal_gateway.protocols.smartpos import TerminalConnection
from terminal_gateway.protocols.smartpos import smartpos_pb2 as pb

__all__ = ["SmartPOSLink", "SmartPOSTerminal", "connect", "pb"]


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

    def __init__(self, tid: str, link: SmartPOSLink, timeout: float = 10.0, next_id: int = 1):
        self.tid, self.link, self.timeout, self.next_id = tid, link, timeout, next_id

    def build(self, **body: object) -> pb.Request:
        """A new request with the next id: ``build(redeem=pb.Redeem(...))``."""
        message = pb.Request(request_id=self.next_id, terminal_id=self.tid, **body)
        self.next_id += 1
        return message

    async def send(self, message: pb.Request) -> pb.Response:
        return await self.link.request(message, self.timeout)

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
                  next_id: int = 1) -> SmartPOSTerminal:
    """A terminal ``tid`` connected to the gateway's SmartPOS listener at ``host:port``."""
    from twisted.internet import reactor

    link = await connectProtocol(TCP4ClientEndpoint(reactor, host, port), SmartPOSLink())
    return SmartPOSTerminal(tid, link, timeout, next_id)
